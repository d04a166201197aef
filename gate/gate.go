// Package gate is the release gate: it runs every check of the project as
// subprocesses (vet and gofmt, the unit tests, the cross-version machines
// with a larger budget, the golden fixtures with every actor, the GC
// oracle on every fixture repository, the regression traces), merges the
// transition cells they exercised, and writes a machine-readable report
// (gate-report.json), a JUnit file (junit.xml) and a Markdown summary with
// the transition-coverage table (summary.md).
//
// The gate passes only when every step passed, every required transition
// cell (see [RequiredCells]) was exercised, every required actor is built
// in and every required fixture is present. Missing things fail the gate;
// they never skip. A step left out on purpose ([Config.Skip]) is recorded
// as skipped, and a skipped step fails the gate too.
//
// The runner takes its steps from [Config.Steps], so tests drive it with
// small fake steps; [DefaultSteps] builds the real ones.
package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/internal/transitions"
)

// Output file names, in Config.OutDir.
const (
	// ReportFile is the machine-readable report.
	ReportFile = "gate-report.json"
	// JUnitFile holds one testsuite per step.
	JUnitFile = "junit.xml"
	// SummaryFile is the Markdown summary with the coverage table.
	SummaryFile = "summary.md"
	// LogDir is the directory, in OutDir, holding the output of every
	// command the gate ran.
	LogDir = "logs"
)

// DefaultOutDir is the output directory, relative to the module root, when
// Config.OutDir is empty.
const DefaultOutDir = "gate-out"

// RequiredActors are the library versions the gate requires to be built
// in (actors.Registered); a missing one fails the gate, naming it.
var RequiredActors = []string{"v1", "v2"}

// ErrConfig is wrapped by the errors Run returns for a configuration it
// cannot run with (no module directory, no steps, unknown step to skip).
var ErrConfig = errors.New("gate configuration")

// Status is the outcome of a step or of one test case.
type Status string

// Statuses.
const (
	// StatusPass: the step or test passed.
	StatusPass Status = "pass"
	// StatusFail: the step or test failed.
	StatusFail Status = "fail"
	// StatusSkipped: the step was not run (Config.Skip) or the test
	// skipped itself. A skipped step fails the gate.
	StatusSkipped Status = "skipped"
)

// Config is one gate run.
type Config struct {
	// ModuleDir is the module root; commands run there. Required.
	ModuleDir string
	// OutDir receives the reports and logs; empty means
	// ModuleDir/gate-out. It is created if needed; earlier reports in it
	// are overwritten.
	OutDir string
	// Budget scales the work of the steps DefaultSteps builds (1.0 is the
	// release budget). Run only records it in the report.
	Budget float64
	// Steps run in order.
	Steps []Step
	// Skip names steps not to run. Each is recorded as skipped, and a
	// skipped step fails the gate: the report is then incomplete.
	Skip []string
	// Actors are the built-in actors the required cells are computed
	// from; nil means actors.Registered().
	Actors []actors.Actor
	// RequiredActors are the actor names that must be among Actors; nil
	// means the package's RequiredActors.
	RequiredActors []string
	// UpstreamDir holds the upstream Icechunk fixture repositories
	// (../shared/icechunk-fixtures or $ICECHUNK_FIXTURES); every name of
	// UpstreamRepos must be a directory in it.
	UpstreamDir string
	// UpstreamRepos are the upstream repositories that must be present;
	// nil means the package's UpstreamRepos.
	UpstreamRepos []string
	// FixturesDir holds our golden fixture sets
	// (<FixturesDir>/<version>/<name>/repo); at least one must be
	// present.
	FixturesDir string
	// Go is the go command DefaultSteps uses; empty means "go".
	Go string
	// Icerig is the icerig binary the fixture and oracle steps run; empty
	// means DefaultSteps builds one from ModuleDir into OutDir/bin (its
	// "build" step), so the binary under test is always the source under
	// test.
	Icerig string
	// Env is added to the environment of every command.
	Env []string
	// Progress, when set, gets one line per step as the gate runs.
	Progress io.Writer
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// withDefaults fills in the defaults of the empty fields.
func (c Config) withDefaults() Config {
	if c.OutDir == "" && c.ModuleDir != "" {
		c.OutDir = filepath.Join(c.ModuleDir, DefaultOutDir)
	}
	if c.Actors == nil {
		c.Actors = actors.Registered()
	}
	if c.RequiredActors == nil {
		c.RequiredActors = RequiredActors
	}
	if c.UpstreamRepos == nil {
		c.UpstreamRepos = UpstreamRepos
	}
	if c.Go == "" {
		c.Go = "go"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// Step is one stage of the gate.
type Step struct {
	// Name identifies the step in reports and in Config.Skip.
	Name string
	// Timeout bounds the whole step; 0 means no bound beyond the
	// context's.
	Timeout time.Duration
	// Run performs the step, recording commands, test cases, failures
	// and cells through r. The step fails when it records a failure (a
	// failing test case records one) or runs past its Timeout.
	Run func(ctx context.Context, r *StepRun)
}

// Run executes the gate: the required-actor and fixture checks, then
// every step in order; it computes the coverage, writes ReportFile,
// JUnitFile and SummaryFile into the output directory and returns the
// report. The error is for a gate that could not run or write its
// reports (wrapping ErrConfig for a bad configuration); the verdict is
// Report.Pass.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if cfg.ModuleDir == "" {
		return nil, fmt.Errorf("%w: no module directory", ErrConfig)
	}
	if len(cfg.Steps) == 0 {
		return nil, fmt.Errorf("%w: no steps", ErrConfig)
	}
	names := map[string]bool{}
	for _, s := range cfg.Steps {
		if s.Name == "" || s.Run == nil {
			return nil, fmt.Errorf("%w: a step without name or Run (%q)", ErrConfig, s.Name)
		}
		if names[s.Name] {
			return nil, fmt.Errorf("%w: step %q named twice", ErrConfig, s.Name)
		}
		names[s.Name] = true
	}
	for _, s := range cfg.Skip {
		if !names[s] {
			return nil, fmt.Errorf("%w: cannot skip unknown step %q (steps: %s)", ErrConfig, s, strings.Join(StepNames(cfg.Steps), ", "))
		}
	}
	if err := os.MkdirAll(filepath.Join(cfg.OutDir, LogDir), 0o755); err != nil {
		return nil, fmt.Errorf("gate output directory: %w", err)
	}

	rep := &Report{
		Started:   time.Now().UTC(),
		Budget:    cfg.Budget,
		ModuleDir: cfg.ModuleDir,
		OutDir:    cfg.OutDir,
	}
	for _, a := range cfg.Actors {
		rep.Actors = append(rep.Actors, a.Name())
	}
	rep.MissingActors = missingActors(cfg.Actors, cfg.RequiredActors)
	rep.MissingFixtures = append(missingUpstream(cfg.UpstreamDir, cfg.UpstreamRepos), missingOurs(cfg.FixturesDir)...)

	cells := transitions.New()
	for _, step := range cfg.Steps {
		var res *StepResult
		if slices.Contains(cfg.Skip, step.Name) {
			res = &StepResult{Name: step.Name, Status: StatusSkipped, Failures: []Failure{{
				Message: "not run (skipped on request): the gate is incomplete and cannot pass",
			}}}
		} else {
			fmt.Fprintf(cfg.Progress, "gate: %s ...\n", step.Name)
			res = runStep(ctx, &cfg, step, cells)
		}
		fmt.Fprintf(cfg.Progress, "gate: %s %s (%s)\n", step.Name, res.Status, formatDuration(res.DurationSeconds))
		rep.Steps = append(rep.Steps, res)
	}

	rep.Cells = cells.Entries()
	required := RequiredCells(cfg.Actors)
	rep.RequiredCells = required
	rep.MissingCells = MissingCells(required, cells)
	rep.finish(time.Now())

	if err := rep.writeFiles(); err != nil {
		return rep, err
	}
	return rep, nil
}

// StepNames lists the names of steps, in order.
func StepNames(steps []Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Name
	}
	return out
}

// runStep runs one step with its timeout and turns a panic into a
// failure.
func runStep(ctx context.Context, cfg *Config, step Step, cells *transitions.Set) *StepResult {
	res := &StepResult{Name: step.Name}
	r := &StepRun{cfg: cfg, res: res, cells: transitions.New()}
	start := time.Now()
	sctx, cancel := ctx, context.CancelFunc(func() {})
	if step.Timeout > 0 {
		sctx, cancel = context.WithTimeout(ctx, step.Timeout)
	}
	func() {
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				r.Fail("", "step panicked: %v\n%s", p, debug.Stack())
			}
		}()
		step.Run(sctx, r)
		if errors.Is(sctx.Err(), context.DeadlineExceeded) {
			r.Fail("", "step timed out after %s", step.Timeout)
		} else if ctx.Err() != nil {
			r.Fail("", "gate interrupted: %v", ctx.Err())
		}
	}()
	res.DurationSeconds = time.Since(start).Seconds()
	res.Status = StatusPass
	if len(res.Failures) > 0 {
		res.Status = StatusFail
	}
	for _, e := range r.cells.Entries() {
		res.Cells += e.Count
	}
	cells.Merge(r.cells)
	cfg.Logger.Debug("gate step done", "step", step.Name, "status", res.Status, "seconds", res.DurationSeconds)
	return res
}

// StepRun is what a running step records into: the commands it ran, its
// test cases, failures and transition cells.
type StepRun struct {
	cfg   *Config
	res   *StepResult
	cells *transitions.Set
	seq   int
}

// Name is the step's name.
func (r *StepRun) Name() string { return r.res.Name }

// ModuleDir is the module root commands run in.
func (r *StepRun) ModuleDir() string { return r.cfg.ModuleDir }

// OutDir is the gate's output directory.
func (r *StepRun) OutDir() string { return r.cfg.OutDir }

// Logger is the gate's logger.
func (r *StepRun) Logger() *slog.Logger { return r.cfg.Logger }

// Fail records a failure of the step; test names what failed (a test,
// fixture or command), or is empty for the step as a whole.
func (r *StepRun) Fail(test, format string, args ...any) {
	r.res.Failures = append(r.res.Failures, Failure{Test: test, Message: fmt.Sprintf(format, args...)})
}

// AddCase records one test case for the JUnit file; a failing case also
// records a failure.
func (r *StepRun) AddCase(c TestCase) {
	r.res.cases = append(r.res.cases, c)
	switch c.Status {
	case StatusPass:
		r.res.Tests.Passed++
	case StatusFail:
		r.res.Tests.Failed++
		msg := c.Message
		if msg == "" {
			msg = "failed"
		}
		r.res.Failures = append(r.res.Failures, Failure{Test: c.Name, Package: c.Class, Message: msg})
	case StatusSkipped:
		r.res.Tests.Skipped++
	}
	r.res.Tests.Total++
}

// AddCell counts one exercised transition cell.
func (r *StepRun) AddCell(c transitions.Cell) { r.cells.Add(c) }

// AddCells merges a set of exercised cells.
func (r *StepRun) AddCells(s *transitions.Set) { r.cells.Merge(s) }

// AddCellsFile merges the cells of a transitions file (internal/transitions
// format).
func (r *StepRun) AddCellsFile(path string) error {
	s, err := transitions.ReadFile(path)
	if err != nil {
		return err
	}
	r.cells.Merge(s)
	return nil
}

// TempDir returns a fresh directory for the step's scratch files, outside
// the module so that no go command sees them. The caller removes it.
func (r *StepRun) TempDir() (string, error) {
	dir, err := os.MkdirTemp("", "icerig-gate-"+r.res.Name+"-")
	if err != nil {
		return "", fmt.Errorf("gate step %s: temp dir: %w", r.res.Name, err)
	}
	return dir, nil
}
