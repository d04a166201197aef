package actors_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/formatv1"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/memory"
	"github.com/icerig/icerig/zarr"
)

// newHandle creates a v1 repository on a memory store with a virtual clock
// that only moves when told to.
func newHandle(t *testing.T, inline int) (actors.Handle, *objstore.VirtualClock) {
	t.Helper()
	clock := objstore.NewVirtualClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	h, err := actors.V1{}.Create(context.Background(), memory.New(clock), actors.Options{
		Clock: clock, Rand: rand.NewChaCha8([32]byte{3}), InlineThreshold: inline,
	})
	require.NoError(t, err)
	return h, clock
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

func TestV1SessionWriteAndCommit(t *testing.T) {
	ctx := context.Background()
	h, clock := newHandle(t, 8)
	s, err := h.WritableSession(ctx, "main")
	require.NoError(t, err)
	assert.Equal(t, "v1", s.Actor())
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
	group, err := zarr.NewGroup(nil)
	require.NoError(t, err)
	err = s.Set(ctx, "a/zarr.json", group)
	assert.Equal(t, actors.ErrNodeExists, actors.KindOf(err), "group over array: %v", err)
	assert.ErrorIs(t, err, formatv1.ErrNodeExists, "the library sentinel survives")
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

	// Amend and Upgrade do not exist in the 1.x line.
	require.NoError(t, s.Set(ctx, "a/c/0", []byte("more")))
	_, err = s.Amend(ctx, "amended", nil)
	assert.Equal(t, actors.ErrUnsupportedOperation, actors.KindOf(err), "%v", err)
	assert.True(t, s.HasChanges(), "a refused amend changes nothing")
	_, err = h.Upgrade(ctx, true, false)
	assert.Equal(t, actors.ErrUnsupportedOperation, actors.KindOf(err), "%v", err)
	var ae *actors.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "v1", ae.Actor)
}

func TestV1ReadOnlySession(t *testing.T) {
	ctx := context.Background()
	h, _ := newHandle(t, 0)
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
}

func TestV1RefUpdates(t *testing.T) {
	ctx := context.Background()
	h, clock := newHandle(t, 0)
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
	assert.True(t, errors.Is(err, formatv1.ErrConflict))
}

func mustGroup(t *testing.T) []byte {
	t.Helper()
	doc, err := zarr.NewGroup(nil)
	require.NoError(t, err)
	return doc
}

func TestRegistry(t *testing.T) {
	reg := actors.Registry()
	require.Contains(t, reg, "v1")
	for name, a := range reg {
		assert.Equal(t, name, a.Name())
		caps := a.Capabilities()
		assert.NotEmpty(t, caps.Specs, name)
		assert.True(t, caps.Reads(caps.DefaultSpec), "%s writes its default spec", name)
	}
	delete(reg, "v1")
	assert.Contains(t, actors.Registry(), "v1", "Registry returns a copy")
	assert.Equal(t, actors.Names(), func() []string {
		var out []string
		for _, a := range actors.Registered() {
			out = append(out, a.Name())
		}
		return out
	}())

	a, err := actors.Lookup("v1")
	require.NoError(t, err)
	assert.Equal(t, "v1", a.Name())
	_, err = actors.Lookup("v0")
	assert.ErrorContains(t, err, `actor "v0" is not built in (built in: v1`)
	list, err := actors.LookupList("v1")
	require.NoError(t, err)
	assert.Len(t, list, 1)
	for _, bad := range []string{"", "v1,", "v1,v1", "v1,v0"} {
		_, err := actors.LookupList(bad)
		assert.Error(t, err, "%q", bad)
	}
	caps := actors.V1{}.Capabilities()
	assert.Equal(t, []int{1}, caps.Specs)
	assert.False(t, caps.Reads(2))
	assert.False(t, caps.Upgrade)
	assert.False(t, caps.Amend)
}

func TestKindNames(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range actors.Kinds() {
		name := actors.KindName(k)
		assert.False(t, seen[name], "kind names are unique: %s", name)
		seen[name] = true
		back, ok := actors.ParseKindName(name)
		require.True(t, ok, name)
		assert.Equal(t, k, back)
	}
	k, ok := actors.ParseKindName("ok")
	assert.True(t, ok)
	assert.Nil(t, k)
	_, ok = actors.ParseKindName("nonsense")
	assert.False(t, ok)
}
