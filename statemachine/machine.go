package statemachine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/internal/transitions"
)

// Config describes one state-machine test.
type Config struct {
	// Actors are the actors of the run: init and switch draw from them and
	// the invariant checks all of them.
	Actors []actors.Actor
	// Backend is the object store (default memory; the local backend runs
	// in a temporary directory, with modification times from the virtual
	// clock).
	Backend Backend
	// Specs are the spec versions init draws, the first most often
	// (default: 1, then every other spec an actor writes).
	Specs []int
	// Coverage collects action counts across runs (nil: a new one).
	Coverage *Coverage
	// Weights makes actions more frequent than the defaults (rapid picks
	// among weight copies of an action).
	Weights map[string]int
	// Transitions, when set, counts the cross-version transitions the
	// runs exercised.
	Transitions *transitions.Set
}

func (cfg *Config) normalize() error {
	if len(cfg.Actors) == 0 {
		return errors.New("statemachine: config without actors")
	}
	if cfg.Backend == "" {
		cfg.Backend = BackendMemory
	}
	if len(cfg.Specs) == 0 {
		cfg.Specs = []int{1}
		seen := map[int]bool{1: true}
		for _, a := range cfg.Actors {
			for _, s := range a.Capabilities().Specs {
				if !seen[s] {
					seen[s] = true
					cfg.Specs = append(cfg.Specs, s)
				}
			}
		}
		if len(cfg.Specs) == 1 {
			// No actor writes spec 2: init still tries it now and then and
			// must be refused.
			cfg.Specs = append(cfg.Specs, 2)
		}
	}
	if cfg.Coverage == nil {
		cfg.Coverage = NewCoverage()
	}
	return nil
}

// actorNames lists the names of actors.
func actorNames(list []actors.Actor) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Name()
	}
	return out
}

// machine is one run of the rapid state machine.
type machine struct {
	cfg   *Config
	env   *Env
	trace *Trace
	rec   *Recorder
}

// skip counts a skipped action and skips it (before anything was drawn,
// so rapid picks another action). This is rapid's precondition mechanism
// for an action that does not apply to the current state (issue #5 asks
// for it), reported in the coverage table; it never skips a test for a
// missing dependency.
func (mc *machine) skip(t *rapid.T, action string) {
	mc.cfg.Coverage.skipped(action)
	t.SkipNow()
}

// fail records the failing trace and fails the rapid run.
func (mc *machine) fail(t *rapid.T, err error) {
	mc.trace.Spec = mc.env.model.Spec
	mc.rec.failed(mc.trace, err)
	t.Fatalf("%v", err)
}

// exec runs ops, appending them to the trace.
func (mc *machine) exec(t *rapid.T, ops []Op) {
	for _, op := range ops {
		line := mc.trace.NextLine()
		out, err := mc.env.Run(op, line)
		mc.trace.Append(op, out)
		if err != nil {
			mc.trace.Steps[len(mc.trace.Steps)-1].Outcome = "DIVERGED: " + err.Error()
			mc.fail(t, err)
		}
		class := mc.env.lastFail
		if class == "" {
			class = mc.env.note
		}
		mc.cfg.Coverage.ran(op.Action(), class)
	}
}

// property is the rapid property of the config: draw the id seed, then
// repeat actions with the invariant after each. rec learns every run's
// digest and the last failing trace.
func (cfg *Config) property(rec *Recorder) func(*rapid.T) {
	return func(t *rapid.T) {
		seed := rapid.Uint64().Draw(t, "id seed")
		opts := EnvOptions{Actors: cfg.Actors, Seed: seed, Backend: cfg.Backend, Transitions: cfg.Transitions}
		if cfg.Backend == BackendLocal {
			dir, err := os.MkdirTemp("", "icerig-statemachine-")
			if err != nil {
				t.Fatalf("temporary directory: %v", err)
			}
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			opts.Dir = dir
		}
		env, err := NewEnv(context.Background(), opts)
		if err != nil {
			t.Fatalf("%v", err)
		}
		mc := &machine{cfg: cfg, env: env, trace: &Trace{Seed: seed, Actors: actorNames(cfg.Actors)}, rec: rec}
		defer func() {
			if r := recover(); r != nil {
				// A panic in an actor (or the rig) is a failure too: keep
				// the trace that led to it.
				if !isRapidControl(r) {
					mc.trace.Spec = env.model.Spec
					rec.failed(mc.trace, fmt.Errorf("panic: %v", r))
				}
				panic(r)
			}
		}()
		actions := map[string]func(*rapid.T){
			"": func(t *rapid.T) {
				if err := env.Check(); err != nil {
					mc.fail(t, err)
				}
			},
		}
		for _, name := range Actions {
			gen := generators[name]
			act := func(t *rapid.T) { mc.exec(t, gen(mc, t)) }
			actions[name] = act
			// rapid picks actions uniformly: heavier ones get more keys.
			weight := actionWeights[name]
			if w, ok := cfg.Weights[name]; ok {
				weight = w
			}
			for i := 2; i <= weight; i++ {
				actions[fmt.Sprintf("%s #%d", name, i)] = act
			}
		}
		t.Repeat(actions)
		mc.trace.Spec = env.model.Spec
		digest, err := runDigest(env, mc.trace)
		if err != nil {
			t.Fatalf("digest: %v", err)
		}
		rec.completed(digest, mc.trace)
	}
}

// isRapidControl reports whether a recovered value is one of rapid's own
// control-flow panics (skip, fail), which are not failures of the run.
func isRapidControl(r any) bool {
	t := fmt.Sprintf("%T", r)
	return strings.HasPrefix(t, "rapid.") || strings.HasPrefix(t, "*rapid.")
}

// runDigest hashes a run: its trace and everything in the store (keys,
// bytes and modification times). Equal seeds must give equal digests.
func runDigest(env *Env, tr *Trace) (string, error) {
	h := sha256.New()
	h.Write(tr.Format())
	objs, err := env.store.List(env.ctx, "")
	if err != nil {
		return "", err
	}
	for _, o := range objs {
		data, _, err := env.store.Get(env.ctx, o.Key)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(h, "%s %d %s %x\n", o.Key, o.Size, o.ModTime.UTC().Format(time.RFC3339Nano), sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Recorder keeps what the runs of one test produced: the digest of every
// completed run and the trace of the last failing one (after shrinking,
// rapid runs the minimal failing case last).
type Recorder struct {
	mu      sync.Mutex
	digests []string
	lastRun *Trace
	last    *Trace
	lastErr error
}

func (r *Recorder) completed(digest string, tr *Trace) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.digests = append(r.digests, digest)
	r.lastRun = tr
}

// LastRun returns the trace of the last completed run.
func (r *Recorder) LastRun() *Trace {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastRun
}

func (r *Recorder) failed(tr *Trace, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cp := *tr
	cp.Steps = append([]Step(nil), tr.Steps...)
	r.last, r.lastErr = &cp, err
}

// Failure returns the last failing trace and its error (nil if none).
func (r *Recorder) Failure() (*Trace, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.lastErr
}

// Digests returns the digests of the completed runs, in order.
func (r *Recorder) Digests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.digests...)
}

// MinimizeBudget is how long a failing test spends minimizing rapid's
// shrunk trace further (see Minimize); the environment variable
// ICERIG_MINIMIZE (a duration, 0 to skip) overrides it.
const MinimizeBudget = 20 * time.Second

func minimizeBudget() time.Duration {
	if v := os.Getenv("ICERIG_MINIMIZE"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return MinimizeBudget
}

// Run runs the state machine of cfg under rapid.Check as test t. On
// failure rapid's shrunk run is minimized further (Minimize), written as
// testdata/traces/<Test>-<time>.trace (beside rapid's failfile under
// testdata/rapid/), and both replay commands are logged. With -v the
// action coverage is logged.
func Run(t *testing.T, cfg Config) *Coverage {
	t.Helper()
	if err := cfg.normalize(); err != nil {
		t.Fatal(err)
	}
	rec := &Recorder{}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		tr, err := rec.Failure()
		if tr == nil {
			return
		}
		reportFailure(t, tr, err, cfg.Actors)
	})
	rapid.Check(t, cfg.property(rec))
	if testing.Verbose() {
		t.Logf("action coverage of %s:\n%s", t.Name(), cfg.Coverage.Table())
	}
	return cfg.Coverage
}

// safeName turns a test name into a file name part, as rapid does.
func safeName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	return b.String()
}

// reportFailure minimizes the failing trace, writes it and logs how to
// replay it.
func reportFailure(t *testing.T, tr *Trace, err error, acts []actors.Actor) {
	name := safeName(t.Name())
	rapidOps := len(tr.Steps)
	if budget := minimizeBudget(); budget > 0 {
		if min, merr := Minimize(context.Background(), tr, acts, budget); merr != nil {
			tr, err = min, merr
		}
	}
	dir := filepath.Join("testdata", "traces")
	path := filepath.Join(dir, fmt.Sprintf("%s-%s.trace", name, time.Now().UTC().Format("20060102T150405")))
	if abs, aerr := filepath.Abs(path); aerr == nil {
		path = abs
	}
	werr := os.MkdirAll(dir, 0o755)
	if werr == nil {
		werr = os.WriteFile(path, tr.Format(), 0o644)
	}
	var msg strings.Builder
	fmt.Fprintf(&msg, "failing run, shrunk by rapid to %d ops and minimized to %d: %v\n", rapidOps, len(tr.Steps), err)
	if werr != nil {
		fmt.Fprintf(&msg, "could not write the trace: %v\n", werr)
	}
	msg.Write(tr.Format())
	msg.WriteString("\nreplay it with rapid (from this package's directory):\n")
	failfile := newestFailfile(name)
	if failfile != "" {
		fmt.Fprintf(&msg, "  go test -run '^%s$' -rapid.failfile=%s\n", t.Name(), failfile)
	} else {
		fmt.Fprintf(&msg, "  go test -run '^%s$' (rapid's failfile is under testdata/rapid/%s/)\n", t.Name(), name)
	}
	builtIn := true
	for _, name := range tr.Actors {
		if _, err := actors.Lookup(name); err != nil {
			builtIn = false
		}
	}
	if builtIn {
		fmt.Fprintf(&msg, "or without rapid (from the module root):\n  go run ./cmd/icerig replay --actors %s %s\n", strings.Join(tr.Actors, ","), path)
	} else {
		fmt.Fprintf(&msg, "(the trace names actors that are not built into icerig, such as planted bugs: replay it with rapid)\n")
	}
	t.Log(msg.String())
}

// newestFailfile finds rapid's newest failfile of a test.
func newestFailfile(name string) string {
	matches, _ := filepath.Glob(filepath.Join("testdata", "rapid", name, name+"-*.fail"))
	sort.Strings(matches)
	if len(matches) == 0 {
		return ""
	}
	p := matches[len(matches)-1]
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// ---------------------------------------------------------------------------
// Coverage.

// Coverage counts, per action, how often it ran and was skipped, and the
// outcomes of the runs (ok, or the failure kind the model expected).
type Coverage struct {
	mu       sync.Mutex
	ranN     map[string]int
	skippedN map[string]int
	outcomes map[string]map[string]int
}

// NewCoverage returns empty counts.
func NewCoverage() *Coverage {
	return &Coverage{ranN: map[string]int{}, skippedN: map[string]int{}, outcomes: map[string]map[string]int{}}
}

func (c *Coverage) ran(action, failKind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ranN[action]++
	if failKind == "" {
		failKind = "ok"
	}
	if c.outcomes[action] == nil {
		c.outcomes[action] = map[string]int{}
	}
	c.outcomes[action][failKind]++
}

func (c *Coverage) skipped(action string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skippedN[action]++
}

// Ran returns how often an action ran.
func (c *Coverage) Ran(action string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ranN[action]
}

// Outcome returns how often an action ran with an outcome ("ok" or a
// failure kind).
func (c *Coverage) Outcome(action, outcome string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.outcomes[action][outcome]
}

// NeverRan lists the actions that never ran.
func (c *Coverage) NeverRan() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, a := range Actions {
		if c.ranN[a] == 0 {
			out = append(out, a)
		}
	}
	return out
}

// Table renders the counts, one action per line.
func (c *Coverage) Table() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%-14s %6s %8s  %s\n", "action", "ran", "skipped", "outcomes")
	for _, a := range Actions {
		var outs []string
		for _, k := range SortedNames(c.outcomes[a]) {
			outs = append(outs, fmt.Sprintf("%s:%d", k, c.outcomes[a][k]))
		}
		fmt.Fprintf(&b, "%-14s %6d %8d  %s\n", a, c.ranN[a], c.skippedN[a], strings.Join(outs, " "))
	}
	return b.String()
}
