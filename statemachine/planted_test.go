package statemachine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/faults"
)

// Planted bugs prove the rig catches what it is for. Each is a test-only
// actor wrapping V1 that misbehaves in one way a library version could;
// nothing here is registered, so normal runs never meet them.

// buggyActor is a library version (base; nil means V1) with a planted
// bug: a store wrapper the library sees, and optional overrides of handle
// methods.
type buggyActor struct {
	name string
	base actors.Actor
	// wrap gives the store the library sees (nil: the real one); inGC
	// tells whether the handle is collecting garbage.
	wrap func(st objstore.Store, inGC *atomic.Bool) objstore.Store
	// expire, when set, replaces ExpireSnapshots.
	expire func(h actors.Handle, ctx context.Context, olderThan time.Time, b, t bool) (actors.ExpireResult, error)
}

func (a *buggyActor) baseActor() actors.Actor {
	if a.base == nil {
		return actors.V1{}
	}
	return a.base
}

func (a *buggyActor) Name() string                      { return a.name }
func (a *buggyActor) Capabilities() actors.Capabilities { return a.baseActor().Capabilities() }

func (a *buggyActor) handle(open func(objstore.Store) (actors.Handle, error), st objstore.Store) (actors.Handle, error) {
	b := &buggyHandle{actor: a, inGC: &atomic.Bool{}}
	if a.wrap != nil {
		st = a.wrap(st, b.inGC)
	}
	h, err := open(st)
	if err != nil {
		return nil, err
	}
	b.Handle = h
	return b, nil
}

func (a *buggyActor) Create(ctx context.Context, st objstore.Store, opts actors.Options) (actors.Handle, error) {
	return a.handle(func(st objstore.Store) (actors.Handle, error) { return a.baseActor().Create(ctx, st, opts) }, st)
}

func (a *buggyActor) Open(ctx context.Context, st objstore.Store, opts actors.Options) (actors.Handle, error) {
	return a.handle(func(st objstore.Store) (actors.Handle, error) { return a.baseActor().Open(ctx, st, opts) }, st)
}

type buggyHandle struct {
	actors.Handle
	actor *buggyActor
	inGC  *atomic.Bool
}

func (h *buggyHandle) GarbageCollect(ctx context.Context, olderThan time.Time, dryRun bool) (actors.GCResult, error) {
	h.inGC.Store(true)
	defer h.inGC.Store(false)
	return h.Handle.GarbageCollect(ctx, olderThan, dryRun)
}

func (h *buggyHandle) ExpireSnapshots(ctx context.Context, olderThan time.Time, b, t bool) (actors.ExpireResult, error) {
	if h.actor.expire != nil {
		return h.actor.expire(h.Handle, ctx, olderThan, b, t)
	}
	return h.Handle.ExpireSnapshots(ctx, olderThan, b, t)
}

// plantedBug is a buggy actor and what catching it must look like.
type plantedBug struct {
	actor *buggyActor
	// maxOps bounds the length of the shrunk trace.
	maxOps int
	// what the divergence must mention.
	mentions string
	// blames is the actor the divergence must name ("": the buggy one).
	// A cross-version bug may show as the other version failing to read
	// what the buggy one wrote.
	blames string
}

// The planted bugs of one library version, run alone.
var planted = []plantedBug{
	{
		// GC forgets tags: objects only a tag reaches are collected.
		actor: &buggyActor{name: "v1-gc-ignores-tags", wrap: func(st objstore.Store, inGC *atomic.Bool) objstore.Store {
			return faults.Hide(st, func(k string) bool { return inGC.Load() && strings.HasPrefix(k, "refs/tag.") })
		}},
		maxOps: 12, mentions: "gc",
	},
	{
		// Tag tombstones are ignored: a deleted tag comes back to life.
		actor: &buggyActor{name: "v1-ignores-tombstones", wrap: func(st objstore.Store, _ *atomic.Bool) objstore.Store {
			return faults.Hide(st, func(k string) bool { return strings.HasSuffix(k, "/ref.json.deleted") })
		}},
		maxOps: 4, mentions: "tags",
	},
	{
		// Expiration's cutoff is off by one: a snapshot flushed exactly
		// at the cutoff expires too.
		actor: &buggyActor{name: "v1-expire-inclusive", expire: func(h actors.Handle, ctx context.Context, olderThan time.Time, b, t bool) (actors.ExpireResult, error) {
			return h.ExpireSnapshots(ctx, olderThan.Add(time.Microsecond), b, t)
		}},
		maxOps: 8, mentions: "expire",
	},
	{
		// A commit writes its ref before its snapshot file: harmless
		// unless the writer dies in between, when the branch names a
		// snapshot that was never stored.
		actor: &buggyActor{name: "v2-ref-before-snapshot", base: actors.V2{}, wrap: func(st objstore.Store, _ *atomic.Bool) objstore.Store {
			return &refFirstStore{Store: st, held: map[string][]byte{}}
		}},
		// The crash must hit the one operation between the ref and the
		// snapshot file, so the commit keeps the writes that put it
		// there (6 ops seen; 5 is the least).
		maxOps: 8, mentions: "crash",
	},
}

// refFirstStore holds back the snapshot files a library writes until its
// next ref update (a spec-1 ref file or the spec-2 repo object) has been
// written.
type refFirstStore struct {
	objstore.Store
	mu   sync.Mutex
	held map[string][]byte
}

func isRefUpdate(key string) bool { return key == "repo" || strings.HasPrefix(key, "refs/") }

func (s *refFirstStore) Get(ctx context.Context, key string) ([]byte, objstore.Version, error) {
	s.mu.Lock()
	data, ok := s.held[key]
	s.mu.Unlock()
	if ok {
		return data, "held", nil
	}
	return s.Store.Get(ctx, key)
}

func (s *refFirstStore) PutIfAbsent(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	if strings.HasPrefix(key, "snapshots/") {
		s.mu.Lock()
		s.held[key] = data
		s.mu.Unlock()
		return "held", nil
	}
	return s.afterRef(ctx, key, func() (objstore.Version, error) { return s.Store.PutIfAbsent(ctx, key, data) })
}

func (s *refFirstStore) Put(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	return s.afterRef(ctx, key, func() (objstore.Version, error) { return s.Store.Put(ctx, key, data) })
}

func (s *refFirstStore) PutIfVersionMatches(ctx context.Context, key string, data []byte, v objstore.Version) (objstore.Version, error) {
	return s.afterRef(ctx, key, func() (objstore.Version, error) { return s.Store.PutIfVersionMatches(ctx, key, data, v) })
}

// afterRef runs a write and, when it updated a ref, writes the held
// snapshot files after it.
func (s *refFirstStore) afterRef(ctx context.Context, key string, write func() (objstore.Version, error)) (objstore.Version, error) {
	v, err := write()
	if !isRefUpdate(key) {
		return v, err
	}
	s.mu.Lock()
	held := s.held
	s.held = map[string][]byte{}
	s.mu.Unlock()
	for k, data := range held {
		if _, perr := s.Store.PutIfAbsent(ctx, k, data); perr != nil && err == nil {
			err = perr
		}
	}
	return v, err
}

// captureTB runs rapid.Check without failing the calling test: it records
// the failure instead.
type captureTB struct {
	name   string
	mu     sync.Mutex
	failed bool
	log    strings.Builder
}

type failNow struct{}

func (c *captureTB) Helper()      {}
func (c *captureTB) Name() string { return c.name }
func (c *captureTB) Logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(&c.log, format+"\n", args...)
}
func (c *captureTB) Log(args ...any)                  { c.Logf("%s", fmt.Sprint(args...)) }
func (c *captureTB) Skipf(format string, args ...any) { panic("captureTB: skip") }
func (c *captureTB) Skip(args ...any)                 { panic("captureTB: skip") }
func (c *captureTB) SkipNow()                         { panic("captureTB: skip") }
func (c *captureTB) Errorf(format string, args ...any) {
	c.Logf(format, args...)
	c.Fail()
}
func (c *captureTB) Error(args ...any) { c.Errorf("%s", fmt.Sprint(args...)) }
func (c *captureTB) Fatalf(format string, args ...any) {
	c.Errorf(format, args...)
	c.FailNow()
}
func (c *captureTB) Fatal(args ...any) { c.Fatalf("%s", fmt.Sprint(args...)) }
func (c *captureTB) FailNow() {
	c.Fail()
	panic(failNow{})
}
func (c *captureTB) Fail() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failed = true
}
func (c *captureTB) Failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// checkCaptured runs rapid.Check on tb and reports whether it failed.
func checkCaptured(tb *captureTB, prop func(*rapid.T)) (failed bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(failNow); !ok {
				panic(r)
			}
			failed = true
		}
	}()
	rapid.Check(tb, prop)
	return tb.Failed()
}

// TestPlantedBugsAreCaught runs the machine against each planted bug of a
// single library version and requires a failure whose shrunk trace is
// short, names the buggy actor, replays to the same divergence, and
// replays cleanly with the real v1.
func TestPlantedBugsAreCaught(t *testing.T) {
	// A fixed budget and seed (rapid cuts checks by 5 and steps by 2 with
	// -short), so the test does not depend on the command line.
	checks, steps := "100", "100"
	if testing.Short() {
		checks, steps = "500", "200"
	}
	plantedFlags(t, checks, steps)
	for _, p := range planted {
		t.Run(p.actor.name, func(t *testing.T) {
			requireCaught(t, p, Config{Actors: []actors.Actor{p.actor}})
		})
	}
}

// plantedFlags fixes rapid's budget and seed for a planted-bug test.
func plantedFlags(t *testing.T, checks, steps string) {
	withFlag(t, "rapid.checks", checks, true)
	withFlag(t, "rapid.steps", steps, true)
	withFlag(t, "rapid.seed", "1", true)
	withFlag(t, "rapid.nofailfile", "true", true)
	withFlag(t, "rapid.shrinktime", "1s", true)
}

// requireCaught runs the machine of cfg (whose actors include p.actor)
// under rapid and requires that it fails, that the minimized trace has at
// most p.maxOps ops, names the buggy actor and mentions p.mentions, that
// it replays to the same divergence, and that the real library (the
// buggy actor's base under the same trace) passes it. It returns the
// minimized trace.
func requireCaught(t *testing.T, p plantedBug, cfg Config) *Trace {
	t.Helper()
	if err := cfg.normalize(); err != nil {
		t.Fatal(err)
	}
	rec := &Recorder{}
	tb := &captureTB{name: "planted/" + p.actor.name}
	if !checkCaptured(tb, cfg.property(rec)) {
		t.Fatalf("the machine did not catch %s:\n%s", p.actor.name, tb.log.String())
	}
	shrunk, _ := rec.Failure()
	if shrunk == nil {
		t.Fatalf("no failing trace recorded:\n%s", tb.log.String())
	}
	tr, err := Minimize(context.Background(), shrunk, cfg.Actors, 10*time.Second)
	var d *Divergence
	if !errors.As(err, &d) {
		t.Fatalf("the minimized failure is not a divergence: %v", err)
	}
	t.Logf("caught %s: rapid shrank the run to %d ops, minimized to %d: %v\n%s",
		p.actor.name, len(shrunk.Steps), len(tr.Steps), err, tr.Format())
	if len(tr.Steps) > p.maxOps {
		t.Errorf("shrunk trace has %d ops, want at most %d", len(tr.Steps), p.maxOps)
	}
	blamed := p.actor.name
	if p.blames != "" {
		blamed = p.blames
	}
	if !slices.Contains(strings.Fields(d.Actor), blamed) {
		t.Errorf("divergence names actor %q, want %s", d.Actor, blamed)
	}
	if !strings.Contains(d.What, p.mentions) {
		t.Errorf("divergence %q does not mention %q", d.What, p.mentions)
	}

	// The trace replays to the same divergence without rapid...
	parsed, perr := ParseTrace(tr.Format())
	if perr != nil {
		t.Fatal(perr)
	}
	err = Replay(context.Background(), parsed, cfg.Actors, ReplayOptions{})
	var rd *Divergence
	if !errors.As(err, &rd) || rd.Line != d.Line || rd.What != d.What {
		t.Errorf("replay: %v, want the divergence %v", err, d)
	}
	// ...and the real library passes it (the actor renamed).
	base := p.actor.baseActor()
	fixed := strings.ReplaceAll(string(tr.Format()), p.actor.name, base.Name())
	parsed, perr = ParseTrace([]byte(fixed))
	if perr != nil {
		t.Fatal(perr)
	}
	var real []actors.Actor
	for _, a := range cfg.Actors {
		if a == actors.Actor(p.actor) {
			a = base
		}
		real = append(real, a)
	}
	if err := Replay(context.Background(), parsed, real, ReplayOptions{IgnoreOutcomes: true}); err != nil {
		t.Errorf("the real %s fails the trace: %v", base.Name(), err)
	}
	return tr
}
