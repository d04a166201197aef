package gate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/icerig/icerig/internal/testfixtures"
)

// killGrace is how long a command may take to exit after its context
// ends and its process group was killed, before its pipes are closed.
const killGrace = 10 * time.Second

// Command is one subprocess of a step.
type Command struct {
	// Argv is the program and its arguments. A program "go" is replaced
	// by Config.Go.
	Argv []string
	// Dir is the working directory; empty means the module root.
	Dir string
	// Env is added to the environment (after Config.Env).
	Env []string
	// Timeout bounds the command; 0 means only the step's timeout.
	Timeout time.Duration
	// Label, when set, stands for the command line in reports (for a
	// command with a long argument list).
	Label string
}

// String renders the command line, shell-quoted, or the Label.
func (c Command) String() string {
	if c.Label != "" {
		return c.Label
	}
	return shellJoin(c.Argv)
}

// Exec runs a command, capturing its output into a log file of the
// output directory (named after the step) and into the result. The
// command and its children run in their own process group, killed as a
// whole at the timeout. Its environment is the gate's, plus
// $ICECHUNK_FIXTURES set to Config.UpstreamDir (so every test uses the
// upstream fixtures the gate checked), Config.Env and Command.Env. Exec records the command in the step's report
// but no failure: the step judges the result.
func (r *StepRun) Exec(ctx context.Context, c Command) CommandResult {
	r.seq++
	res := CommandResult{Command: c.String(), Dir: c.Dir, ExitCode: -1}
	if res.Dir == "" {
		res.Dir = r.cfg.ModuleDir
	}
	res.Log = filepath.Join(r.cfg.OutDir, LogDir, fmt.Sprintf("%s-%02d.log", r.res.Name, r.seq))
	defer func() {
		r.writeLog(res)
		r.res.Commands = append(r.res.Commands, res)
	}()
	if len(c.Argv) == 0 {
		res.Error = "empty command"
		return res
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	prog := c.Argv[0]
	if prog == "go" {
		prog = r.cfg.Go
	}
	cmd := exec.CommandContext(ctx, prog, c.Argv[1:]...)
	cmd.Dir = res.Dir
	cmd.Env = os.Environ()
	if r.cfg.UpstreamDir != "" {
		cmd.Env = append(cmd.Env, testfixtures.Env+"="+r.cfg.UpstreamDir)
	}
	cmd.Env = append(append(cmd.Env, r.cfg.Env...), c.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = killGrace
	ownProcessGroup(cmd)
	r.cfg.Logger.Debug("gate exec", "step", r.res.Name, "command", res.Command)
	start := time.Now()
	err := cmd.Run()
	res.DurationSeconds = time.Since(start).Seconds()
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		res.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
		res.ExitCode = -1
		res.Error = fmt.Sprintf("killed after %.0fs: %v", res.DurationSeconds, ctx.Err())
		return res
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		res.Error = err.Error()
	}
	return res
}

// writeLog writes a command's output to its log file; a write error is
// logged, not fatal.
func (r *StepRun) writeLog(res CommandResult) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "$ %s\n# dir %s\n", res.Command, res.Dir)
	b.Write(res.Stdout)
	if len(res.Stderr) > 0 {
		b.WriteString("\n# stderr\n")
		b.Write(res.Stderr)
	}
	fmt.Fprintf(&b, "\n# exit %d after %.1fs", res.ExitCode, res.DurationSeconds)
	if res.Error != "" {
		fmt.Fprintf(&b, " (%s)", res.Error)
	}
	b.WriteString("\n")
	if err := os.WriteFile(res.Log, b.Bytes(), 0o644); err != nil {
		r.cfg.Logger.Warn("gate: cannot write a command log", "path", res.Log, "err", err)
	}
}

// Describe says in one line how a command ended, with the tail of its
// standard error: for failure messages.
func (c CommandResult) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", c.Command)
	switch {
	case c.Error != "":
		b.WriteString(c.Error)
	default:
		fmt.Fprintf(&b, "exit status %d", c.ExitCode)
	}
	if t := tailLines(string(c.Stderr), 15); t != "" {
		b.WriteString("\n")
		b.WriteString(t)
	}
	fmt.Fprintf(&b, "\n(full output: %s)", c.Log)
	return b.String()
}

// tailLines returns the last n non-empty lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	var keep []string
	for i := len(lines) - 1; i >= 0 && len(keep) < n; i-- {
		if strings.TrimSpace(lines[i]) != "" {
			keep = append(keep, lines[i])
		}
	}
	for i, j := 0, len(keep)-1; i < j; i, j = i+1, j-1 {
		keep[i], keep[j] = keep[j], keep[i]
	}
	return strings.Join(keep, "\n")
}

// shellJoin quotes arguments for a POSIX shell where needed.
func shellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
