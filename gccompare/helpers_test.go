package gccompare

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/faults"
	"github.com/icerig/icerig/objstore/local"
	"github.com/icerig/icerig/objstore/memory"
)

// Times of the upstream fixtures.
var (
	// past is before every snapshot and object of every fixture.
	past = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	// future is after every snapshot and object of every fixture.
	future = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	// v1Cutoff lies between "delete a chunk" and "some more structure"
	// of test-repo-v1.
	v1Cutoff = time.Date(2025, 2, 19, 21, 11, 56, 30_000_000, time.UTC)
	// clockStart is where the tests' virtual clocks start (after the
	// fixtures' modification times).
	clockStart = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
)

// fixtureStore opens a fixture read-only (never write through it).
func fixtureStore(t *testing.T, name string) objstore.Store {
	t.Helper()
	st, err := local.Open(testfixtures.Path(t, name), nil)
	require.NoError(t, err)
	return st
}

// memoryFixture copies a fixture into memory once (the local fixture is
// slow to read again and again), keeping modification times.
func memoryFixture(t *testing.T, name string) objstore.Store {
	t.Helper()
	clock := objstore.NewVirtualClock(clockStart, 0)
	st := memory.New(clock)
	require.NoError(t, CopyStore(context.Background(), st, fixtureStore(t, name), clock))
	return st
}

// memoryPair copies a fixture into two memory stores stamping times from
// one virtual clock: an original and its replica.
func memoryPair(t *testing.T, name string) (original, replica objstore.Store, clock *objstore.VirtualClock) {
	t.Helper()
	return memoryPairFrom(t, fixtureStore(t, name))
}

func memoryPairFrom(t *testing.T, src objstore.Store) (original, replica objstore.Store, clock *objstore.VirtualClock) {
	t.Helper()
	clock = objstore.NewVirtualClock(clockStart, time.Millisecond)
	o, r := memory.New(clock), memory.New(clock)
	require.NoError(t, CopyStore(context.Background(), o, src, clock))
	require.NoError(t, CopyStore(context.Background(), r, src, clock))
	return o, r, clock
}

// fixtureDir copies a fixture into a temporary directory with CopyDir.
func fixtureDir(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	require.NoError(t, CopyDir(testfixtures.Path(t, name), dst))
	return dst
}

// requireField finds the mismatch of a field.
func requireField(t *testing.T, list []Mismatch, field string) Mismatch {
	t.Helper()
	var fields []string
	for _, m := range list {
		if m.Field == field {
			return m
		}
		fields = append(fields, m.Field)
	}
	t.Fatalf("no mismatch %q among %v", field, fields)
	return Mismatch{}
}

// plantedActor is V1 with a planted bug: a store wrapper the library sees
// and optional replacements of GC and expiration.
type plantedActor struct {
	name string
	// wrap gives the store the library sees; inGC says whether the handle
	// is collecting garbage.
	wrap func(st objstore.Store, inGC *atomic.Bool) objstore.Store
	// gc and expire, when set, replace the handle's methods.
	gc     func(h actors.Handle, ctx context.Context, olderThan time.Time, dryRun bool) (actors.GCResult, error)
	expire func(h actors.Handle, ctx context.Context, olderThan time.Time, b, t bool) (actors.ExpireResult, error)
}

func (a *plantedActor) Name() string                      { return a.name }
func (a *plantedActor) Capabilities() actors.Capabilities { return actors.V1{}.Capabilities() }

func (a *plantedActor) Create(ctx context.Context, st objstore.Store, opts actors.Options) (actors.Handle, error) {
	return nil, fmt.Errorf("%s: create: %w", a.name, actors.ErrUnsupportedOperation)
}

func (a *plantedActor) Open(ctx context.Context, st objstore.Store, opts actors.Options) (actors.Handle, error) {
	p := &plantedHandle{actor: a, inGC: &atomic.Bool{}}
	if a.wrap != nil {
		st = a.wrap(st, p.inGC)
	}
	h, err := actors.V1{}.Open(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	p.Handle = h
	return p, nil
}

type plantedHandle struct {
	actors.Handle
	actor *plantedActor
	inGC  *atomic.Bool
}

func (h *plantedHandle) GarbageCollect(ctx context.Context, olderThan time.Time, dryRun bool) (actors.GCResult, error) {
	h.inGC.Store(true)
	defer h.inGC.Store(false)
	if h.actor.gc != nil {
		return h.actor.gc(h.Handle, ctx, olderThan, dryRun)
	}
	return h.Handle.GarbageCollect(ctx, olderThan, dryRun)
}

func (h *plantedHandle) ExpireSnapshots(ctx context.Context, olderThan time.Time, b, t bool) (actors.ExpireResult, error) {
	if h.actor.expire != nil {
		return h.actor.expire(h.Handle, ctx, olderThan, b, t)
	}
	return h.Handle.ExpireSnapshots(ctx, olderThan, b, t)
}

// gcIgnoresTags collects garbage as if tags did not exist.
var gcIgnoresTags = &plantedActor{name: "v1-gc-ignores-tags", wrap: func(st objstore.Store, inGC *atomic.Bool) objstore.Store {
	return faults.Hide(st, func(k string) bool { return inGC.Load() && strings.HasPrefix(k, "refs/tag.") })
}}

// gcMiscounts reports one byte more than it deleted (and changes nothing
// else): a difference of exactly one field, gc.bytes_deleted.
var gcMiscounts = &plantedActor{name: "v1-miscounts", gc: func(h actors.Handle, ctx context.Context, olderThan time.Time, dryRun bool) (actors.GCResult, error) {
	res, err := h.GarbageCollect(ctx, olderThan, dryRun)
	res.BytesDeleted++
	return res, err
}}
