package statemachine

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/internal/transitions"
)

// The default budget of this package's machines: rapid's 100 checks of
// about defaultSteps actions each (-rapid.checks and -rapid.steps
// override them). localChecks is the local backend's share.
const (
	defaultSteps = 150
	localChecks  = 15
)

// commandLine holds the names of the flags given on the command line.
// (flag.Visit alone cannot tell: it also reports the flags withFlag and
// TestMain set, so a second withFlag of the same flag in one process
// would take the first one's value for the command line's, and keep the
// default budget where the test asked for a smaller one.)
var commandLine = map[string]bool{}

// transitionsOut names the file the machines' exercised transitions go
// to (-transitions FILE, written after every test ran; the release gate
// reads it).
var transitionsOut = flag.String("transitions", "", "write the cross-version transitions the machines exercised to this JSON file")

// testCells collects the transitions of every machine of this package.
var testCells = transitions.New()

func TestMain(m *testing.M) {
	flag.Parse()
	flag.Visit(func(f *flag.Flag) { commandLine[f.Name] = true })
	if !flagGiven("rapid.steps") && os.Getenv("RAPID_STEPS") == "" {
		_ = flag.Set("rapid.steps", strconv.Itoa(defaultSteps))
	}
	// Minimize (run on every failure) shrinks far better than rapid can
	// in the same time; rapid's own shrinking gets a shorter leash.
	if !flagGiven("rapid.shrinktime") && os.Getenv("RAPID_SHRINKTIME") == "" {
		_ = flag.Set("rapid.shrinktime", "10s")
	}
	code := m.Run()
	if *transitionsOut != "" {
		if err := testCells.WriteFile(*transitionsOut); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// flagGiven reports whether a flag was set on the command line.
func flagGiven(name string) bool { return commandLine[name] }

// withFlag sets a rapid flag for the rest of the test, unless the command
// line (or environment) gave it.
func withFlag(t testing.TB, name, value string, force bool) {
	t.Helper()
	f := flag.Lookup(name)
	if f == nil {
		t.Fatalf("no flag -%s", name)
	}
	if !force && flagGiven(name) {
		return
	}
	old := f.Value.String()
	if err := flag.Set(name, value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flag.Set(name, old) })
}

func registered(t *testing.T, names ...string) []actors.Actor {
	t.Helper()
	var out []actors.Actor
	for _, n := range names {
		a, err := actors.Lookup(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// fullBudget reports whether the run has at least the default budget (so
// every action must have run).
func fullBudget() bool {
	checks, _ := strconv.Atoi(flag.Lookup("rapid.checks").Value.String())
	steps, _ := strconv.Atoi(flag.Lookup("rapid.steps").Value.String())
	return !testing.Short() && checks >= 100 && steps >= defaultSteps
}

func requireFullCoverage(t *testing.T, cov *Coverage) {
	t.Helper()
	if !fullBudget() {
		return
	}
	if missing := cov.NeverRan(); len(missing) > 0 {
		t.Errorf("actions that never ran in the default budget: %v\n%s", missing, cov.Table())
	}
}

// singleVersion runs the machine with one actor on the memory backend and
// on the local backend (modification times from the virtual clock).
func singleVersion(t *testing.T, name string) {
	t.Run("memory", func(t *testing.T) {
		cov := Run(t, Config{Actors: registered(t, name), Transitions: testCells})
		requireFullCoverage(t, cov)
		// The machine reaches the states that matter.
		for _, c := range []struct{ action, outcome string }{
			{ActCommit, "ok"}, {ActCommit, KindConflict}, {ActCommit, KindNoChanges},
			{ActWrite, "ok"}, {ActExpire, "ok, edited"}, {ActGC, "ok, deleted"},
			{ActCreateTag, KindTagExists}, {ActCheckout, KindRefNotFound},
		} {
			if fullBudget() && cov.Outcome(c.action, c.outcome) == 0 {
				t.Errorf("%s never ended %q\n%s", c.action, c.outcome, cov.Table())
			}
		}
	})
	t.Run("local", func(t *testing.T) {
		withFlag(t, "rapid.checks", strconv.Itoa(localChecks), false)
		Run(t, Config{Actors: registered(t, name), Backend: BackendLocal, Transitions: testCells})
	})
}

// TestSingleVersionV1 drives formatv1 alone. (A library version added to
// the actors registry gets its own one-line TestSingleVersionVn.)
func TestSingleVersionV1(t *testing.T) { singleVersion(t, "v1") }

// TestSingleVersionV2 drives formatv2 alone, at spec 1 and spec 2.
func TestSingleVersionV2(t *testing.T) { singleVersion(t, "v2") }

// TestCrossVersion drives a spec-1 repository with every built-in actor,
// switching between them; the invariant checks each after every step.
func TestCrossVersion(t *testing.T) {
	all := crossActors(t)
	cov := Run(t, Config{Actors: all, Specs: []int{1}, Transitions: testCells})
	requireFullCoverage(t, cov)
	if fullBudget() && cov.Outcome(ActSwitch, "ok") == 0 {
		t.Errorf("no successful switch\n%s", cov.Table())
	}
}

// TestCrossVersionUpgrade drives spec-1 repositories with every built-in
// actor, upgrading them with those that can (afterwards an actor that
// cannot read spec 2 must refuse the repository). Without such an actor
// every upgrade must fail with ErrUnsupportedOperation.
func TestCrossVersionUpgrade(t *testing.T) {
	all := crossActors(t)
	canUpgrade := false
	for _, a := range all {
		canUpgrade = canUpgrade || a.Capabilities().Upgrade
	}
	cov := Run(t, Config{Actors: all, Specs: []int{1}, Weights: map[string]int{ActUpgrade: 4, ActSwitch: 2}, Transitions: testCells})
	if !fullBudget() {
		return
	}
	if canUpgrade && cov.Outcome(ActUpgrade, "ok") == 0 {
		t.Errorf("no upgrade succeeded\n%s", cov.Table())
	}
	if !canUpgrade && (cov.Outcome(ActUpgrade, KindUnsupportedOp) == 0 || cov.Outcome(ActUpgrade, "ok") != 0) {
		t.Errorf("without an actor that migrates, every upgrade must be refused\n%s", cov.Table())
	}
}

// twin is V1 under another name: two actors the machine must switch
// between, as it will between v1 and v2.
type twin struct{ actors.V1 }

func (twin) Name() string { return "v1-twin" }

// TestCrossVersionMechanics runs the cross-version machine with two actors
// (V1 and its twin), so switching, per-actor invariants and traces naming
// several actors are exercised before a second library exists.
func TestCrossVersionMechanics(t *testing.T) {
	withFlag(t, "rapid.checks", "25", false)
	cov := Run(t, Config{Actors: []actors.Actor{actors.V1{}, twin{}}, Specs: []int{1}, Weights: map[string]int{ActSwitch: 3}})
	if cov.Outcome(ActSwitch, "ok") == 0 || cov.Outcome(ActCommit, "ok") == 0 {
		t.Errorf("the two actors never took turns committing\n%s", cov.Table())
	}
}
