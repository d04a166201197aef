package gate

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	cp "github.com/otiai10/copy"

	"github.com/icerig/icerig/fixtures"
	"github.com/icerig/icerig/internal/transitions"
)

// MachineChecksPerBudget is the rapid checks of the machines step at
// budget 1 (the statemachine package's own default is 100).
const MachineChecksPerBudget = 300

// Step timeouts at budget 1. The machines' timeout grows with budgets
// above 1; the others are fixed. They bound a hung step; a healthy gate
// takes far less (see the package tests' notes and the README).
const (
	// BuildTimeout bounds building icerig.
	BuildTimeout = 5 * time.Minute
	// VetTimeout bounds go vet, and gofmt.
	VetTimeout = 5 * time.Minute
	// UnitTimeout bounds the whole unit test run.
	UnitTimeout = 10 * time.Minute
	// MachinesTimeout bounds the machines at budget 1.
	MachinesTimeout = 6 * time.Minute
	// FixturesTimeout bounds fixtures verify.
	FixturesTimeout = 4 * time.Minute
	// OracleTimeout bounds each gc-compare (or inspect) run.
	OracleTimeout = 2 * time.Minute
	// OracleStepLimit bounds the whole oracle step.
	OracleStepLimit = 8 * time.Minute
	// TracesTimeout bounds the trace corpus replay.
	TracesTimeout = 4 * time.Minute
)

// Oracle cutoffs that bracket every history.
var (
	// FarPast is older than every snapshot and object: nothing expires,
	// nothing is collected.
	FarPast = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	// FarFuture is newer than everything: every snapshot but the tips
	// expires, every unreachable object is collected.
	FarFuture = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Names of the default steps, in order.
const (
	// StepBuild builds icerig into the output directory.
	StepBuild = "build"
	// StepVet runs go vet and the gofmt check.
	StepVet = "vet"
	// StepUnit runs every test of the module.
	StepUnit = "unit"
	// StepMachines runs the cross-version machines with the gate's budget.
	StepMachines = "machines"
	// StepFixtures verifies every golden fixture with every actor.
	StepFixtures = "fixtures"
	// StepOracle runs the GC oracle on every fixture repository.
	StepOracle = "oracle"
	// StepTraces replays the regression trace corpus.
	StepTraces = "traces"
)

// MachineChecks is the -rapid.checks of the machines step for a budget:
// round(MachineChecksPerBudget × budget), at least 1.
func MachineChecks(budget float64) int {
	return max(1, int(math.Round(MachineChecksPerBudget*budget)))
}

// DefaultSteps builds the release gate's steps for cfg (its ModuleDir,
// OutDir, Budget, Icerig, FixturesDir and UpstreamDir):
//
//	build     go build -o OUT/bin/icerig ./cmd/icerig (only when cfg.Icerig is empty)
//	vet       go vet ./...; gofmt -l over the module's Go files
//	unit      go test -count=1 -json ./...
//	machines  go test -count=1 -json -run ^TestCrossVersion ./statemachine -rapid.checks=N -transitions=OUT/cells/machines.json
//	fixtures  icerig fixtures verify --json --transitions OUT/cells/fixtures.json --dir FIXTURES --upstream UPSTREAM
//	oracle    icerig gc-compare --json on a copy of every fixture repository, at several cutoffs
//	traces    go test -count=1 -json -run ^TestCorpus$ ./statemachine
//
// Every go test gets -timeout just under its step's timeout, so a hung
// test is reported by name.
func DefaultSteps(cfg Config) []Step {
	cfg = cfg.withDefaults()
	budget := cfg.Budget
	if budget <= 0 {
		budget = 1
	}
	cells := filepath.Join(cfg.OutDir, "cells")
	icerig := cfg.Icerig
	var steps []Step
	if icerig == "" {
		icerig = filepath.Join(cfg.OutDir, "bin", "icerig")
		steps = append(steps, CommandStep(StepBuild, Command{
			Argv: []string{"go", "build", "-o", icerig, "./cmd/icerig"}, Timeout: BuildTimeout}))
	}
	machinesTimeout := time.Duration(float64(MachinesTimeout) * max(1, budget))
	steps = append(steps,
		VetStep(VetTimeout),
		GoTestStep(StepUnit, goTest(UnitTimeout, "./..."), ""),
		GoTestStep(StepMachines, goTest(machinesTimeout, "-run", "^TestCrossVersion", "./statemachine",
			"-rapid.checks="+strconv.Itoa(MachineChecks(budget)),
			"-transitions="+filepath.Join(cells, "machines.json")), filepath.Join(cells, "machines.json")),
		FixturesStep(icerig, []string{"--dir", cfg.FixturesDir, "--upstream", cfg.UpstreamDir},
			filepath.Join(cells, "fixtures.json"), FixturesTimeout),
		OracleStep(OracleConfig{Icerig: icerig, FixturesDir: cfg.FixturesDir, UpstreamDir: cfg.UpstreamDir,
			Timeout: OracleTimeout, StepTimeout: OracleStepLimit}),
		GoTestStep(StepTraces, goTest(TracesTimeout, "-run", "^TestCorpus$", "./statemachine"), ""),
	)
	return steps
}

// goTest is `go test -count=1 -json -timeout T ARGS...`, with go test's
// own timeout a little inside the command's.
func goTest(timeout time.Duration, args ...string) Command {
	inner := timeout - 20*time.Second
	argv := append([]string{"go", "test", "-count=1", "-json", "-timeout=" + inner.String()}, args...)
	return Command{Argv: argv, Timeout: timeout}
}

// CommandStep is a step that runs commands in order (stopping at the
// first failure), each a test case; a command that fails or does not exit
// 0 fails the step.
func CommandStep(name string, cmds ...Command) Step {
	var total time.Duration
	for _, c := range cmds {
		total += stepTimeout(c.Timeout)
	}
	return Step{Name: name, Timeout: total, Run: func(ctx context.Context, r *StepRun) {
		for _, c := range cmds {
			res := r.Exec(ctx, c)
			tc := TestCase{Name: res.Command, Class: name, Duration: seconds(res.DurationSeconds), Status: StatusPass}
			if !res.OK() {
				tc.Status, tc.Message, tc.Output = StatusFail, res.Describe(), string(res.Stdout)+string(res.Stderr)
			}
			r.AddCase(tc)
			if !res.OK() {
				return
			}
		}
	}}
}

// VetStep runs `go vet ./...` and checks that gofmt would change none of
// the module's Go files: those git lists, tracked or untracked but not
// ignored (`git ls-files --cached --others --exclude-standard`, so new
// files count before they are committed), or, outside a git work tree,
// every .go file under the module root but node_modules and hidden
// directories.
func VetStep(timeout time.Duration) Step {
	return Step{Name: StepVet, Timeout: 2 * stepTimeout(timeout), Run: func(ctx context.Context, r *StepRun) {
		res := r.Exec(ctx, Command{Argv: []string{"go", "vet", "./..."}, Timeout: timeout})
		tc := TestCase{Name: "go vet ./...", Class: StepVet, Duration: seconds(res.DurationSeconds), Status: StatusPass}
		if !res.OK() {
			tc.Status, tc.Message, tc.Output = StatusFail, res.Describe(), string(res.Stderr)
		}
		r.AddCase(tc)

		files, err := goFiles(ctx, r)
		if err != nil {
			r.AddCase(TestCase{Name: "gofmt -l", Class: StepVet, Status: StatusFail, Message: err.Error()})
			return
		}
		gofmt, err := gofmtPath(ctx, r)
		if err != nil {
			r.AddCase(TestCase{Name: "gofmt -l", Class: StepVet, Status: StatusFail, Message: err.Error()})
			return
		}
		res = r.Exec(ctx, Command{Argv: append([]string{gofmt, "-l"}, files...), Timeout: timeout,
			Label: fmt.Sprintf("%s -l <%d files from git ls-files>", gofmt, len(files))})
		tc = TestCase{Name: "gofmt -l", Class: StepVet, Duration: seconds(res.DurationSeconds), Status: StatusPass}
		bad := strings.Fields(string(res.Stdout))
		switch {
		case !res.OK():
			tc.Status, tc.Message = StatusFail, res.Describe()
		case len(bad) > 0:
			tc.Status, tc.Message = StatusFail, "gofmt would change: "+strings.Join(bad, ", ")
		}
		r.AddCase(tc)
	}}
}

// goFiles lists the module's Go files, relative to the module root.
func goFiles(ctx context.Context, r *StepRun) ([]string, error) {
	res := r.Exec(ctx, Command{Argv: []string{"git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.go"},
		Timeout: time.Minute})
	var files []string
	if res.OK() {
		for _, f := range bytes.Split(res.Stdout, []byte{0}) {
			name := string(f)
			if name == "" || !strings.HasSuffix(name, ".go") {
				continue
			}
			// Deleted but still tracked files are not there to format.
			if fi, err := os.Stat(filepath.Join(r.ModuleDir(), name)); err == nil && fi.Mode().IsRegular() {
				files = append(files, name)
			}
		}
	} else {
		r.Logger().Info("gate: git ls-files failed; walking the module for Go files", "err", res.Error, "exit", res.ExitCode)
		err := filepath.WalkDir(r.ModuleDir(), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != r.ModuleDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".go") {
				rel, err := filepath.Rel(r.ModuleDir(), p)
				if err != nil {
					return err
				}
				files = append(files, rel)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing Go files under %s: %w", r.ModuleDir(), err)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files found under %s", r.ModuleDir())
	}
	return files, nil
}

// gofmtPath finds gofmt: on PATH, else in the go command's GOROOT.
func gofmtPath(ctx context.Context, r *StepRun) (string, error) {
	if p, err := exec.LookPath("gofmt"); err == nil {
		return p, nil
	}
	res := r.Exec(ctx, Command{Argv: []string{"go", "env", "GOROOT"}, Timeout: time.Minute})
	if !res.OK() {
		return "", fmt.Errorf("gofmt is not on PATH and the go command names no GOROOT: %s", res.Describe())
	}
	p := filepath.Join(strings.TrimSpace(string(res.Stdout)), "bin", "gofmt")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("gofmt is not on PATH nor in GOROOT: %w", err)
	}
	return p, nil
}

// FixturesStep runs `ICERIG fixtures verify --json --transitions
// CELLSFILE [EXTRA...]`: one test case per fixture × actor result it
// reports (passing when the actor read the fixture or refused it
// cleanly), a failure per problem of the fixture sets (a missing or
// unlisted folder, missing upstream fixtures), and the cells it writes.
// The step fails when the command does not exit 0, a result or the set
// has a problem, or the cells file is not written.
func FixturesStep(icerig string, extra []string, cellsFile string, timeout time.Duration) Step {
	return Step{Name: StepFixtures, Timeout: stepTimeout(timeout), Run: func(ctx context.Context, r *StepRun) {
		if err := os.MkdirAll(filepath.Dir(cellsFile), 0o755); err != nil {
			r.Fail("", "cells directory: %v", err)
			return
		}
		if err := os.Remove(cellsFile); err != nil && !os.IsNotExist(err) {
			r.Fail("", "cannot remove the stale cells file: %v", err)
			return
		}
		argv := append([]string{icerig, "fixtures", "verify", "--json", "--transitions", cellsFile}, extra...)
		res := r.Exec(ctx, Command{Argv: argv, Timeout: timeout})
		rep, perr := parseFixturesVerify(res.Stdout)
		failed := 0
		if rep != nil {
			for _, c := range rep.Results {
				tc := TestCase{Name: c.Fixture, Class: "fixtures." + c.Actor, Status: StatusPass,
					Message: fmt.Sprintf("%s (writer %s, spec %d)", c.Outcome, c.Writer, c.Spec)}
				if c.Outcome != fixtures.OutcomeRead && c.Outcome != fixtures.OutcomeRefused {
					failed++
					tc.Status = StatusFail
					tc.Message = fmt.Sprintf("%s: %s reading %s (writer %s, spec %d): %s", c.Outcome, c.Actor, c.Fixture,
						c.Writer, c.Spec, strings.Join(c.Problems, "; "))
				}
				r.AddCase(tc)
			}
			for _, p := range rep.Problems {
				failed++
				r.Fail("fixture sets", "%s", p)
			}
		}
		switch {
		case perr != nil:
			r.Fail(res.Command, "%v\n%s", perr, res.Describe())
		case !res.OK() && failed == 0:
			r.Fail(res.Command, "%s", res.Describe())
		case res.OK() && failed > 0:
			r.Fail(res.Command, "exit 0 although %d check(s) failed", failed)
		}
		if err := r.AddCellsFile(cellsFile); err != nil {
			r.Fail(res.Command, "no transition cells from fixtures verify: %v", err)
		}
	}}
}

// OracleConfig configures OracleStep.
type OracleConfig struct {
	// Icerig is the icerig binary.
	Icerig string
	// FixturesDir holds our fixture sets (<version>/<name>/repo with
	// expected.json beside repo/).
	FixturesDir string
	// UpstreamDir holds the upstream Icechunk repositories.
	UpstreamDir string
	// Timeout bounds each command.
	Timeout time.Duration
	// StepTimeout bounds the whole step (0: none).
	StepTimeout time.Duration
}

// oracleRepo is one repository the oracle runs on.
type oracleRepo struct {
	label string // "ours/0.1.0/data", "upstream/test-repo-v1"
	class string
	dir   string
	meta  repoMeta // Writer empty until known
	// expected is the expected.json path (ours) or "" (upstream: inspect).
	expected string
}

// OracleStep runs the GC oracle on every fixture repository: for each of
// ours (FixturesDir/<version>/<name>/repo, writer and spec from
// expected.json) and each upstream one (every repository directory of
// UpstreamDir; writer upstream-1.x or upstream-2.x by its spec, as
// fixture verification names them; flush times from `icerig inspect
// --json`),
// it copies the repository into a temporary directory (modification times
// preserved) — the fixture itself is never touched — and runs `ICERIG
// gc-compare --json --expire-older-than T --gc-older-than T COPY` on a
// fresh copy for each cutoff T: FarPast, the middle of the repository's
// history (its median flush time, when it has at least two), FarFuture,
// and FarFuture again with --delete-expired-branches
// --delete-expired-tags. Each run is a test case (exit 0 passes; 1 is a mismatch; 2
// could not run); each side's completed expiration and GC count one
// (writer, side's actor, expire|gc, spec) cell. No repository at all
// fails the step.
func OracleStep(oc OracleConfig) Step {
	return Step{Name: StepOracle, Timeout: oc.StepTimeout, Run: func(ctx context.Context, r *StepRun) {
		repos, err := oracleRepos(oc)
		if err != nil {
			r.Fail("", "%v", err)
		}
		if len(repos) == 0 {
			r.Fail("", "no fixture repository to run the oracle on (ours in %s, upstream in %s)", oc.FixturesDir, oc.UpstreamDir)
			return
		}
		tmp, err := r.TempDir()
		if err != nil {
			r.Fail("", "%v", err)
			return
		}
		defer os.RemoveAll(tmp)
		for i, repo := range repos {
			if ctx.Err() != nil {
				return
			}
			oracleOne(ctx, r, oc, repo, filepath.Join(tmp, strconv.Itoa(i)))
		}
	}}
}

// oracleRepos lists the repositories of ours and upstream.
func oracleRepos(oc OracleConfig) ([]oracleRepo, error) {
	var out []oracleRepo
	var errs []string
	if oc.FixturesDir != "" {
		fx, err := OurFixtures(oc.FixturesDir)
		if err != nil {
			errs = append(errs, err.Error())
		}
		for _, f := range fx {
			out = append(out, oracleRepo{label: "ours/" + f.Version + "/" + f.Name, class: "oracle.ours." + f.Version,
				dir: f.Repo(), expected: f.Expected()})
		}
	}
	if oc.UpstreamDir != "" {
		entries, err := os.ReadDir(oc.UpstreamDir)
		if err != nil {
			errs = append(errs, fmt.Sprintf("upstream fixtures: %v", err))
		}
		for _, e := range entries {
			dir := filepath.Join(oc.UpstreamDir, e.Name())
			if !e.IsDir() || !looksLikeRepo(dir) {
				continue
			}
			out = append(out, oracleRepo{label: "upstream/" + e.Name(), class: "oracle.upstream", dir: dir})
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

// looksLikeRepo: a spec-1 repository has refs/, a spec-2 one a repo file.
func looksLikeRepo(dir string) bool {
	for _, n := range []string{"refs", "repo"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

// cutoff is one oracle run's arguments.
type cutoff struct {
	name string
	t    time.Time
	// deleteExpired adds --delete-expired-branches and
	// --delete-expired-tags.
	deleteExpired bool
}

// oracleCutoffs are FarPast, the middle of the history when there is one,
// FarFuture, and FarFuture deleting the branches and tags that expired.
func oracleCutoffs(flushes []time.Time) []cutoff {
	out := []cutoff{{name: "far-past", t: FarPast}}
	if len(flushes) >= 2 {
		out = append(out, cutoff{name: "middle", t: flushes[len(flushes)/2]})
	}
	return append(out, cutoff{name: "far-future", t: FarFuture},
		cutoff{name: "far-future-delete-refs", t: FarFuture, deleteExpired: true})
}

// oracleOne runs the oracle on one repository at every cutoff.
func oracleOne(ctx context.Context, r *StepRun, oc OracleConfig, repo oracleRepo, scratch string) {
	copyRepo := func(name string) (string, error) {
		dst := filepath.Join(scratch, name, "repo")
		if err := cp.Copy(repo.dir, dst, cp.Options{PreserveTimes: true}); err != nil {
			return "", fmt.Errorf("copy %s: %w", repo.dir, err)
		}
		return dst, nil
	}
	meta := repo.meta
	if repo.expected != "" {
		m, err := readExpected(repo.expected)
		if err != nil {
			r.AddCase(TestCase{Name: repo.label + " facts", Class: repo.class, Status: StatusFail, Message: err.Error()})
		} else {
			meta = m
		}
	} else {
		start := time.Now()
		dst, err := copyRepo("inspect")
		tc := TestCase{Name: repo.label + " inspect", Class: repo.class, Status: StatusPass}
		if err != nil {
			tc.Status, tc.Message = StatusFail, err.Error()
		} else {
			res := r.Exec(ctx, Command{Argv: []string{oc.Icerig, "inspect", "--json", "--lib", "v2", dst}, Timeout: oc.Timeout})
			if m, perr := parseInspect(repo.label, res.Stdout); !res.OK() || perr != nil {
				tc.Status, tc.Message = StatusFail, res.Describe()
				if perr != nil {
					tc.Message = perr.Error() + "\n" + tc.Message
				}
			} else {
				meta = m
			}
		}
		tc.Duration = time.Since(start)
		r.AddCase(tc)
	}
	for _, c := range oracleCutoffs(meta.Flushes) {
		if ctx.Err() != nil {
			return
		}
		ts := c.t.Format(time.RFC3339Nano)
		tc := TestCase{Name: fmt.Sprintf("%s @ %s (%s)", repo.label, c.name, ts), Class: repo.class, Status: StatusPass}
		start := time.Now()
		dst, err := copyRepo(c.name)
		if err != nil {
			tc.Status, tc.Message = StatusFail, err.Error()
			r.AddCase(tc)
			continue
		}
		argv := []string{oc.Icerig, "gc-compare", "--json", "--expire-older-than", ts, "--gc-older-than", ts}
		if c.deleteExpired {
			argv = append(argv, "--delete-expired-branches", "--delete-expired-tags")
		}
		res := r.Exec(ctx, Command{Argv: append(argv, dst), Timeout: oc.Timeout})
		tc.Duration = time.Since(start)
		o, perr := parseGCCompare(repo.label, res.Stdout)
		if perr == nil && (res.ExitCode == 0 || res.ExitCode == 1) {
			spec := o.Spec
			if spec == 0 {
				spec = meta.Spec
			}
			writer := meta.Writer
			if repo.expected == "" && spec != 0 {
				writer = upstreamWriter(spec)
			}
			if writer != "" && spec != 0 {
				for _, d := range o.Done {
					r.AddCell(transitions.Cell{Writer: writer, Reader: d.Reader, Op: d.Op, Spec: spec})
				}
			}
		}
		switch {
		case res.OK() && perr == nil:
		case res.OK():
			tc.Status, tc.Message = StatusFail, perr.Error()
		case res.ExitCode == 1 && perr == nil:
			tc.Status, tc.Message = StatusFail, "mismatch: "+strings.Join(o.Problems, "; ")+"\n(full output: "+res.Log+")"
		default:
			tc.Status, tc.Message = StatusFail, res.Describe()
		}
		tc.Output = string(res.Stdout)
		r.AddCase(tc)
		if err := os.RemoveAll(filepath.Dir(dst)); err != nil {
			r.Logger().Warn("gate: cannot remove an oracle copy", "path", dst, "err", err)
		}
	}
}
