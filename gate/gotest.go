package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// maxCaseOutput bounds the output kept per test case (its tail).
const maxCaseOutput = 64 << 10

// failureLines is how many output lines of a failed test its failure
// message keeps.
const failureLines = 30

// testEvent is one line of `go test -json` (test2json), including the
// build events of Go 1.24 and later.
type testEvent struct {
	Time        time.Time `json:"Time"`
	Action      string    `json:"Action"`
	Package     string    `json:"Package"`
	Test        string    `json:"Test"`
	Elapsed     float64   `json:"Elapsed"`
	Output      string    `json:"Output"`
	ImportPath  string    `json:"ImportPath"`
	FailedBuild string    `json:"FailedBuild"`
}

// goTestCase accumulates one test (or one package when test is empty).
type goTestCase struct {
	pkg, test string
	action    string // pass, fail, skip; "" while running
	elapsed   float64
	out       strings.Builder
}

func (c *goTestCase) write(s string) {
	c.out.WriteString(s)
	if c.out.Len() > 2*maxCaseOutput {
		tail := c.out.String()[c.out.Len()-maxCaseOutput:]
		c.out.Reset()
		c.out.WriteString(tail)
	}
}

func (c *goTestCase) output() string {
	s := c.out.String()
	if len(s) > maxCaseOutput {
		s = "[...]\n" + s[len(s)-maxCaseOutput:]
	}
	return s
}

// GoTestOutcome is what one `go test -json` stream reported.
type GoTestOutcome struct {
	// Cases are the tests, in the order they started, and, for a package
	// that failed without a failing test (a build failure, a panic in
	// TestMain, a timeout), one case named "package" for it.
	Cases []TestCase
	// Stray is the stdout that was not test2json events.
	Stray string
}

// ParseGoTestJSON reads the stdout of `go test -json`. A test that
// started but never reported a result (the run was killed, or another
// test panicked) is a failure saying so.
func ParseGoTestJSON(stdout []byte) GoTestOutcome {
	var (
		order  []*goTestCase
		byKey  = map[string]*goTestCase{}
		pkgs   = map[string]*goTestCase{}
		pkgOrd []string
		builds = map[string]*strings.Builder{}
		used   = map[string]bool{} // builds a package's failure reported
		stray  strings.Builder
	)
	get := func(pkg, test string) *goTestCase {
		if test == "" {
			c, ok := pkgs[pkg]
			if !ok {
				c = &goTestCase{pkg: pkg}
				pkgs[pkg] = c
				pkgOrd = append(pkgOrd, pkg)
			}
			return c
		}
		k := pkg + "\x00" + test
		c, ok := byKey[k]
		if !ok {
			c = &goTestCase{pkg: pkg, test: test}
			byKey[k] = c
			order = append(order, c)
		}
		return c
	}
	for _, line := range bytes.Split(stdout, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var ev testEvent
		if line[0] != '{' || json.Unmarshal(line, &ev) != nil || ev.Action == "" {
			stray.Write(line)
			stray.WriteByte('\n')
			continue
		}
		switch ev.Action {
		case "build-output":
			b := builds[ev.ImportPath]
			if b == nil {
				b = &strings.Builder{}
				builds[ev.ImportPath] = b
			}
			b.WriteString(ev.Output)
		case "build-fail":
			if builds[ev.ImportPath] == nil {
				builds[ev.ImportPath] = &strings.Builder{}
			}
		case "start", "run", "pause", "cont":
			get(ev.Package, ev.Test)
		case "output":
			get(ev.Package, ev.Test).write(ev.Output)
		case "pass", "fail", "skip":
			c := get(ev.Package, ev.Test)
			c.action, c.elapsed = ev.Action, ev.Elapsed
			if ev.Test == "" && ev.FailedBuild != "" {
				used[ev.FailedBuild] = true
				if b := builds[ev.FailedBuild]; b != nil {
					c.write(b.String())
				}
			}
		}
	}

	var out GoTestOutcome
	failedIn := map[string]bool{}
	for _, c := range order {
		tc := TestCase{Name: c.test, Class: c.pkg, Duration: seconds(c.elapsed), Output: c.output()}
		switch c.action {
		case "pass":
			tc.Status = StatusPass
		case "skip":
			tc.Status = StatusSkipped
			tc.Message = lastLine(c.out.String())
		case "fail":
			tc.Status = StatusFail
			tc.Message = failureMessage(c.out.String())
			failedIn[c.pkg] = true
		default:
			tc.Status = StatusFail
			tc.Message = "no result: the test did not finish (the run was killed at its timeout, or the test binary crashed)\n" +
				failureMessage(c.out.String())
			failedIn[c.pkg] = true
		}
		out.Cases = append(out.Cases, tc)
	}
	for _, pkg := range pkgOrd {
		c := pkgs[pkg]
		if c.action == "fail" && !failedIn[pkg] || c.action == "" && !failedIn[pkg] && c.out.Len() > 0 {
			msg := failureMessage(c.out.String())
			if c.action == "" {
				msg = "no result for the package (the run was killed or crashed)\n" + msg
			}
			out.Cases = append(out.Cases, TestCase{Name: "package", Class: pkg, Status: StatusFail,
				Duration: seconds(c.elapsed), Message: msg, Output: c.output()})
		}
	}
	// A build failure go test reports only as build events.
	for path, b := range builds {
		if _, ok := pkgs[path]; ok || used[path] {
			continue
		}
		out.Cases = append(out.Cases, TestCase{Name: "build", Class: path, Status: StatusFail,
			Message: "build failed\n" + tailLines(b.String(), failureLines), Output: b.String()})
	}
	out.Stray = stray.String()
	return out
}

// failureMessage is the end of a failed test's output without the
// framing lines (=== RUN, PASS, FAIL, "FAIL\tpkg").
func failureMessage(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || t == "PASS" || t == "FAIL" || strings.HasPrefix(l, "FAIL\t") || strings.HasPrefix(l, "ok  \t") ||
			strings.HasPrefix(t, "=== RUN") || strings.HasPrefix(t, "=== PAUSE") ||
			strings.HasPrefix(t, "=== CONT") || strings.HasPrefix(t, "=== NAME") {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) > failureLines {
		keep = append([]string{"[...]"}, keep[len(keep)-failureLines:]...)
	}
	if len(keep) == 0 {
		return "failed without output"
	}
	return strings.Join(keep, "\n")
}

func lastLine(s string) string { return tailLines(s, 1) }

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// GoTestStep is a step that runs a `go test -json` command, records every
// Go test as a test case, and fails on a failed test, a failed or killed
// command, or a run in which no test passed (a -run pattern that matches
// nothing would otherwise pass silently). When cellsFile is not empty the
// command is expected to write the transition cells it exercised there
// (internal/transitions format); the file is removed before the run, and
// its absence afterwards is a failure.
func GoTestStep(name string, cmd Command, cellsFile string) Step {
	return Step{Name: name, Timeout: stepTimeout(cmd.Timeout), Run: func(ctx context.Context, r *StepRun) {
		if cellsFile != "" {
			if err := os.MkdirAll(filepath.Dir(cellsFile), 0o755); err != nil {
				r.Fail("", "cells directory: %v", err)
				return
			}
			if err := os.Remove(cellsFile); err != nil && !os.IsNotExist(err) {
				r.Fail("", "cannot remove the stale cells file: %v", err)
				return
			}
		}
		res := r.Exec(ctx, cmd)
		o := ParseGoTestJSON(res.Stdout)
		failed, passed := 0, 0
		for _, c := range o.Cases {
			r.AddCase(c)
			switch c.Status {
			case StatusFail:
				failed++
			case StatusPass:
				passed++
			}
		}
		if !res.OK() && failed == 0 {
			msg := res.Describe()
			if o.Stray != "" {
				msg += "\n" + tailLines(o.Stray, 15)
			}
			r.Fail(res.Command, "%s", msg)
		} else if res.OK() && failed > 0 {
			r.Fail(res.Command, "go test exited 0 but reported %d failed test(s)", failed)
		}
		if passed == 0 && failed == 0 {
			r.Fail(res.Command, "no test ran (does the -run pattern match a test?)")
		}
		if cellsFile != "" {
			if err := r.AddCellsFile(cellsFile); err != nil {
				r.Fail(res.Command, "no transition cells from the run: %v", err)
			}
		}
	}}
}

// stepTimeout is a step's bound around one command's: a little more, so
// the command's own timeout (and its report) comes first.
func stepTimeout(cmd time.Duration) time.Duration {
	if cmd == 0 {
		return 0
	}
	return cmd + killGrace + 5*time.Second
}

// String renders the counts as "12 passed, 1 failed, 2 skipped".
func (t TestCounts) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", t.Passed, t.Failed, t.Skipped)
}
