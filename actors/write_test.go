package actors_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/actors/actortest"
	"github.com/icerig/icerig/formatv1"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/memory"
	"github.com/icerig/icerig/zarr"
)

// eachWritable runs f as a subtest for every registered actor and every
// spec version it writes.
func eachWritable(t *testing.T, f func(t *testing.T, a actors.Actor, spec int)) {
	for _, a := range actors.Registered() {
		for _, spec := range a.Capabilities().Specs {
			t.Run(fmt.Sprintf("%s/spec%d", a.Name(), spec), func(t *testing.T) { f(t, a, spec) })
		}
	}
}

// newRepo creates a repository of spec with an actor on a memory store
// whose virtual clock moves tick per reading, with a seeded id source.
func newRepo(t *testing.T, a actors.Actor, opts actors.Options, tick time.Duration) (actors.Handle, *memory.Store, *objstore.VirtualClock) {
	t.Helper()
	clock := objstore.NewVirtualClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), tick)
	st := memory.New(clock)
	opts.Clock = clock
	opts.Rand = rand.NewChaCha8([32]byte{1})
	h, err := a.Create(context.Background(), st, opts)
	require.NoError(t, err)
	return h, st, clock
}

func TestActorsCreate(t *testing.T) {
	eachWritable(t, func(t *testing.T, a actors.Actor, spec int) {
		ctx := context.Background()
		r, st, _ := newRepo(t, a, actors.Options{SpecVersion: spec}, time.Millisecond)
		assert.Equal(t, spec, r.SpecVersion())
		branches, err := r.Branches(ctx)
		require.NoError(t, err)
		require.Len(t, branches, 1)
		anc, err := r.Ancestry(ctx, actors.MainBranch)
		require.NoError(t, err)
		require.Len(t, anc, 1)
		assert.Equal(t, "Repository initialized", anc[0].Message)
		assert.Equal(t, branches["main"], anc[0].ID)
		assert.Equal(t, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), anc[0].FlushedAt)
		nodes, err := r.Nodes(ctx, actors.MainBranch)
		require.NoError(t, err)
		assert.Empty(t, nodes)
		tags, err := r.Tags(ctx)
		require.NoError(t, err)
		assert.Empty(t, tags)
		deleted, err := r.DeletedTags(ctx)
		require.NoError(t, err)
		assert.NotNil(t, deleted)
		assert.Empty(t, deleted)
		_, _, err = st.Get(ctx, formatv1.ConfigKey)
		assert.ErrorIs(t, err, objstore.ErrNotFound, "no config.yaml without options")
		findings, err := r.Fsck(ctx)
		require.NoError(t, err)
		assert.Empty(t, findings)

		_, err = a.Create(ctx, st, actors.Options{})
		assert.Equal(t, actors.ErrRepositoryExists, actors.KindOf(err), "%v", err)
		_, err = a.Create(ctx, st, actors.Options{SpecVersion: spec})
		assert.Equal(t, actors.ErrRepositoryExists, actors.KindOf(err), "%v", err)

		// Same seed, same clock: same repository.
		r2, _, _ := newRepo(t, a, actors.Options{SpecVersion: spec}, time.Millisecond)
		b2, err := r2.Branches(ctx)
		require.NoError(t, err)
		assert.Equal(t, branches, b2)
	})
	for _, a := range actors.Registered() {
		caps := a.Capabilities()
		// The default spec, and a spec the actor cannot write, refused
		// before the store is touched.
		r, _, _ := newRepo(t, a, actors.Options{}, 0)
		assert.Equal(t, caps.DefaultSpec, r.SpecVersion(), a.Name())
		st := memory.New(nil)
		_, err := a.Create(context.Background(), st, actors.Options{SpecVersion: caps.Specs[len(caps.Specs)-1] + 1})
		assert.ErrorIs(t, err, actors.ErrUnsupportedSpec, a.Name())
		assert.Contains(t, err.Error(), fmt.Sprintf("spec %d", caps.Specs[len(caps.Specs)-1]+1))
		assert.Empty(t, actortest.Keys(t, st, ""), "%s: nothing written", a.Name())
	}
}

func arrayDoc(t *testing.T, shape ...uint64) []byte {
	t.Helper()
	chunks := make([]uint64, len(shape))
	for i := range chunks {
		chunks[i] = 2
	}
	doc, err := zarr.NewArray(&zarr.ArrayMetadata{Shape: shape, ChunkShape: chunks, DataType: zarr.Uint8, FillValue: zarr.IntFill(0)})
	require.NoError(t, err)
	return doc
}

func mustGroup(t *testing.T) []byte {
	t.Helper()
	doc, err := zarr.NewGroup(nil)
	require.NoError(t, err)
	return doc
}

func TestActorsSessionWriteAndCommit(t *testing.T) {
	eachWritable(t, func(t *testing.T, a actors.Actor, spec int) {
		ctx := context.Background()
		lib := libraryOf(t, a)
		caps := a.Capabilities()
		h, _, clock := newRepo(t, a, actors.Options{SpecVersion: spec, InlineThreshold: 8}, 0)
		s, err := h.WritableSession(ctx, "main")
		require.NoError(t, err)
		assert.Equal(t, a.Name(), s.Actor())
		assert.Equal(t, "main", s.Branch())
		assert.False(t, s.ReadOnly())
		root, err := h.Resolve(ctx, actors.MainBranch)
		require.NoError(t, err)
		assert.Equal(t, root, s.Base())
		assert.False(t, s.HasChanges())

		require.NoError(t, s.Set(ctx, "a/zarr.json", arrayDoc(t, 4)))
		require.NoError(t, s.Set(ctx, "a/c/0", []byte("tiny")))
		require.NoError(t, s.Set(ctx, "a/c/1", []byte(strings.Repeat("n", 20))))
		assert.True(t, s.HasChanges())
		keys, err := s.List(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"a/c/0", "a/c/1", "a/zarr.json"}, keys)

		// Error kinds of the session's writes.
		err = s.Set(ctx, "a/c/2", []byte("x"))
		assert.Equal(t, actors.ErrInvalidKey, actors.KindOf(err), "outside the grid: %v", err)
		err = s.Set(ctx, "b/c/0", []byte("x"))
		assert.Equal(t, actors.ErrKeyNotFound, actors.KindOf(err), "no array: %v", err)
		err = s.Set(ctx, "a/zarr.json", mustGroup(t))
		assert.Equal(t, actors.ErrNodeExists, actors.KindOf(err), "group over array: %v", err)
		assert.ErrorIs(t, err, lib.nodeExists, "the library sentinel survives")
		err = s.Delete(ctx, "a/c/7")
		assert.Equal(t, actors.ErrInvalidKey, actors.KindOf(err), "%v", err)

		// The clock has not moved since the initial snapshot.
		_, err = s.Commit(ctx, "too early", nil)
		assert.Equal(t, actors.ErrFlushTimeNotIncreasing, actors.KindOf(err), "%v", err)
		clock.Advance(time.Second)
		id, err := s.Commit(ctx, "first", map[string]any{"by": "test"})
		require.NoError(t, err)
		assert.Equal(t, id, s.Base(), "the session goes on from its commit")
		assert.False(t, s.HasChanges())
		_, err = s.Commit(ctx, "empty", nil)
		assert.Equal(t, actors.ErrNoChanges, actors.KindOf(err), "%v", err)

		anc, err := h.Ancestry(ctx, actors.MainBranch)
		require.NoError(t, err)
		require.Len(t, anc, 2)
		assert.Equal(t, "first", anc[0].Message)
		assert.Equal(t, root, anc[0].ParentID)
		assert.Equal(t, map[string]any{"by": "test"}, anc[0].Metadata)
		assert.Equal(t, 1, anc[0].ManifestFiles)
		got, err := h.Get(ctx, actors.MainBranch, "a/c/1")
		require.NoError(t, err)
		assert.Equal(t, strings.Repeat("n", 20), string(got))

		// Deleting the zarr.json deletes the node and its chunks; Discard
		// brings them back.
		require.NoError(t, s.Delete(ctx, "a/zarr.json"))
		_, err = s.Get(ctx, "a/c/0")
		assert.Equal(t, actors.ErrKeyNotFound, actors.KindOf(err))
		require.NoError(t, s.Discard(ctx))
		got, err = s.Get(ctx, "a/c/0")
		require.NoError(t, err)
		assert.Equal(t, "tiny", string(got))

		// Amend: missing from the version, spec 2 only, or it works.
		require.NoError(t, s.Set(ctx, "a/c/0", []byte("more")))
		clock.Advance(time.Second)
		amended, err := s.Amend(ctx, "amended", nil)
		switch {
		case !caps.Amend:
			assert.Equal(t, actors.ErrUnsupportedOperation, actors.KindOf(err), "%v", err)
			assert.True(t, s.HasChanges(), "a refused amend changes nothing")
		case spec < 2:
			assert.Equal(t, actors.ErrSpec2Only, actors.KindOf(err), "%v", err)
			assert.True(t, s.HasChanges(), "a refused amend changes nothing")
		default:
			require.NoError(t, err)
			assert.Equal(t, amended, s.Base())
			assert.Equal(t, []string{"amended", "Repository initialized"}, messages(t, h, actors.MainBranch))
			got, err = h.Get(ctx, actors.MainBranch, "a/c/0")
			require.NoError(t, err)
			assert.Equal(t, "more", string(got))
			_, err = h.Resolve(ctx, actors.Snapshot(id))
			assert.NoError(t, err, "the amended snapshot stays in the repository")
		}

		// Upgrade: missing, a dry run of a migration, or nothing to do.
		res, err := h.Upgrade(ctx, true, false)
		switch {
		case !caps.Upgrade:
			assert.Equal(t, actors.ErrUnsupportedOperation, actors.KindOf(err), "%v", err)
		case spec == 1:
			require.NoError(t, err)
			assert.True(t, res.DryRun)
			assert.Equal(t, map[string]string{"main": id}, res.Branches)
			assert.Equal(t, 1, h.SpecVersion(), "a dry run changes nothing")
		default:
			assert.Equal(t, actors.ErrAlreadyUpgraded, actors.KindOf(err), "%v", err)
		}
		var ae *actors.Error
		if err != nil {
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, a.Name(), ae.Actor)
		}
	})
}

func TestActorsReadOnlySession(t *testing.T) {
	eachWritable(t, func(t *testing.T, a actors.Actor, spec int) {
		ctx := context.Background()
		h, _, _ := newRepo(t, a, actors.Options{SpecVersion: spec}, 0)
		root, err := h.Resolve(ctx, actors.MainBranch)
		require.NoError(t, err)
		require.NoError(t, h.CreateTag(ctx, "t", root))
		for _, ref := range []actors.Ref{actors.Tag("t"), actors.Snapshot(root), actors.MainBranch} {
			s, err := h.Session(ctx, ref)
			require.NoError(t, err, "%s", ref)
			assert.True(t, s.ReadOnly())
			assert.Empty(t, s.Branch())
			assert.Equal(t, root, s.Base())
			err = s.Set(ctx, "zarr.json", []byte("{}"))
			assert.Equal(t, actors.ErrReadOnly, actors.KindOf(err), "%s: %v", ref, err)
			err = s.Delete(ctx, "zarr.json")
			assert.Equal(t, actors.ErrReadOnly, actors.KindOf(err), "%s: %v", ref, err)
			_, err = s.Commit(ctx, "x", nil)
			assert.Equal(t, actors.ErrReadOnly, actors.KindOf(err), "%s: %v", ref, err)
			keys, err := s.List(ctx)
			require.NoError(t, err)
			assert.NotNil(t, keys)
			assert.Empty(t, keys)
		}
		_, err = h.Session(ctx, actors.Tag("nope"))
		assert.Equal(t, actors.ErrRefNotFound, actors.KindOf(err))
		_, err = h.WritableSession(ctx, "nope")
		assert.Equal(t, actors.ErrRefNotFound, actors.KindOf(err))
	})
}

func TestActorsRefUpdates(t *testing.T) {
	eachWritable(t, func(t *testing.T, a actors.Actor, spec int) {
		ctx := context.Background()
		lib := libraryOf(t, a)
		h, _, clock := newRepo(t, a, actors.Options{SpecVersion: spec}, 0)
		root, err := h.Resolve(ctx, actors.MainBranch)
		require.NoError(t, err)
		s, err := h.WritableSession(ctx, "main")
		require.NoError(t, err)
		require.NoError(t, s.Set(ctx, "zarr.json", mustGroup(t)))
		clock.Advance(time.Second)
		tip, err := s.Commit(ctx, "one", nil)
		require.NoError(t, err)
		const missing = "00000000000000000000"

		kind := func(err error) error { return actors.KindOf(err) }
		assert.NoError(t, h.CreateBranch(ctx, "dev", root))
		assert.Equal(t, actors.ErrBranchExists, kind(h.CreateBranch(ctx, "dev", tip)))
		assert.Equal(t, actors.ErrRefNotFound, kind(h.CreateBranch(ctx, "x", missing)))
		assert.Equal(t, actors.ErrRefNotFound, kind(h.CreateBranch(ctx, "dev", missing)), "the snapshot is checked before the name")
		assert.Equal(t, actors.ErrInvalidRefName, kind(h.CreateBranch(ctx, "x", "not-an-id")))
		assert.Equal(t, actors.ErrInvalidRefName, kind(h.CreateBranch(ctx, "a/b", tip)))
		assert.NoError(t, h.ResetBranch(ctx, "dev", tip))
		assert.Equal(t, actors.ErrRefNotFound, kind(h.ResetBranch(ctx, "nope", tip)))
		assert.Equal(t, actors.ErrRefNotFound, kind(h.ResetBranch(ctx, "dev", missing)))
		assert.Equal(t, actors.ErrCannotDeleteMain, kind(h.DeleteBranch(ctx, "main")))
		assert.NoError(t, h.DeleteBranch(ctx, "dev"))
		assert.Equal(t, actors.ErrRefNotFound, kind(h.DeleteBranch(ctx, "dev")))

		assert.NoError(t, h.CreateTag(ctx, "t", tip))
		assert.Equal(t, actors.ErrTagExists, kind(h.CreateTag(ctx, "t", root)))
		assert.Equal(t, actors.ErrRefNotFound, kind(h.CreateTag(ctx, "u", missing)))
		assert.Equal(t, actors.ErrRefNotFound, kind(h.CreateTag(ctx, "t", missing)), "the snapshot is checked before the name")
		assert.NoError(t, h.DeleteTag(ctx, "t"))
		assert.Equal(t, actors.ErrRefNotFound, kind(h.DeleteTag(ctx, "t")))
		assert.Equal(t, actors.ErrTagExists, kind(h.CreateTag(ctx, "t", root)), "a deleted tag name is never reused")
		deleted, err := h.DeletedTags(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"t"}, deleted)

		// A session whose branch moved conflicts.
		require.NoError(t, s.Set(ctx, "g/zarr.json", mustGroup(t)))
		require.NoError(t, h.ResetBranch(ctx, "main", root))
		clock.Advance(time.Second)
		_, err = s.Commit(ctx, "late", nil)
		assert.Equal(t, actors.ErrConflict, kind(err), "%v", err)
		assert.True(t, errors.Is(err, lib.conflict))
	})
}

// TestActorsCreatedRepository writes data (with a virtual chunk, through
// the library) into a repository an actor created, then expires and
// collects it.
func TestActorsCreatedRepository(t *testing.T) {
	eachWritable(t, func(t *testing.T, a actors.Actor, spec int) {
		ctx := context.Background()
		lib := libraryOf(t, a)
		r, st, clock := newRepo(t, a, actors.Options{SpecVersion: spec, InlineThreshold: 12}, time.Millisecond)
		if spec == 1 {
			cfg, _, err := st.Get(ctx, formatv1.ConfigKey)
			require.NoError(t, err)
			assert.Contains(t, string(cfg), "inline_chunk_threshold_bytes: 12")
		}

		lib.writeData(t, st, clock)
		assert.Equal(t, []string{"second", "first", "Repository initialized"}, messages(t, r, actors.MainBranch))
		anc, err := r.Ancestry(ctx, actors.MainBranch)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"n": int64(2)}, anc[0].Metadata)

		nodes, err := r.Nodes(ctx, actors.MainBranch)
		require.NoError(t, err)
		require.Len(t, nodes, 2)
		assert.Equal(t, "/a", nodes[1].Path)
		assert.Equal(t, actors.ChunkCounts{Inline: 1, Native: 1, Virtual: 1}, nodes[1].Chunks, "the configured inline threshold holds")

		got, err := r.Get(ctx, actors.MainBranch, "a/c/1/0")
		require.NoError(t, err)
		assert.Equal(t, strings.Repeat("y", 40), string(got))
		got, err = r.Get(ctx, actors.Snapshot(anc[1].ID), "a/c/1/0")
		require.NoError(t, err)
		assert.Equal(t, strings.Repeat("x", 40), string(got), "the first commit still reads its chunk")
		got, err = r.Get(ctx, actors.MainBranch, "a/c/0/0")
		require.NoError(t, err)
		assert.Equal(t, "tiny", string(got))
		_, err = r.Get(ctx, actors.MainBranch, "a/c/2/0")
		assert.ErrorIs(t, err, actors.ErrVirtualChunk)

		findings, err := r.Fsck(ctx)
		require.NoError(t, err)
		assert.Empty(t, findings)

		// Expire everything before "second": "first" is released,
		// "second" takes the initial snapshot as parent; GC then removes
		// "first", its manifest, the chunk only it referenced and, at spec
		// 1, its transaction log (at spec 2 "second" lists "first" as a
		// pruned ancestor, whose transaction log GC keeps).
		clock.Advance(time.Hour)
		exp, err := r.ExpireSnapshots(ctx, anc[0].FlushedAt, false, false)
		require.NoError(t, err)
		assert.Equal(t, actors.ExpireResult{
			ReleasedSnapshots: []string{anc[1].ID}, EditedSnapshots: []string{anc[0].ID},
			DeletedBranches: []string{}, DeletedTags: []string{},
		}, exp)
		assert.Equal(t, []string{"second", "Repository initialized"}, messages(t, r, actors.MainBranch))

		dry, err := r.GarbageCollect(ctx, clock.Peek(), true)
		require.NoError(t, err)
		before := actortest.Keys(t, st, "")
		gc, err := r.GarbageCollect(ctx, clock.Peek(), false)
		require.NoError(t, err)
		assert.Equal(t, dry, gc, "a dry run counts what the real run deletes")
		txDeleted := map[int]int{1: 1, 2: 0}[spec]
		assert.Equal(t, actors.GCResult{SnapshotsDeleted: 1, TransactionLogsDeleted: txDeleted, ManifestsDeleted: 1,
			ChunksDeleted: 1, BytesDeleted: gc.BytesDeleted}, gc)
		assert.Positive(t, gc.BytesDeleted)
		after := actortest.Keys(t, st, "")
		assert.NotContains(t, after, "snapshots/"+anc[1].ID)
		if spec == 1 {
			assert.Len(t, after, len(before)-4)
			assert.NotContains(t, after, "transactions/"+anc[1].ID)
		} else {
			assert.Contains(t, after, "transactions/"+anc[1].ID)
		}
		findings, err = r.Fsck(ctx)
		require.NoError(t, err)
		assert.Empty(t, findings)
		_, err = r.Resolve(ctx, actors.Snapshot(anc[1].ID))
		assert.ErrorIs(t, err, actors.ErrRefNotFound, "the released snapshot is gone")
		got, err = r.Get(ctx, actors.MainBranch, "a/c/1/0")
		require.NoError(t, err)
		assert.Equal(t, strings.Repeat("y", 40), string(got))
	})
}
