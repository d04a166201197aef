package actors_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/actors/actortest"
	"github.com/icerig/icerig/formatv1"
	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/memory"
	"github.com/icerig/icerig/zarr"
)

// The V1 actor must satisfy the interfaces at compile time.
var _ actors.Actor = actors.V1{}

func messages(t *testing.T, r actors.Repo, ref actors.Ref) []string {
	t.Helper()
	anc, err := r.Ancestry(context.Background(), ref)
	require.NoError(t, err, "ancestry of %s", ref)
	var out []string
	for _, s := range anc {
		out = append(out, s.Message)
	}
	return out
}

func openV1Fixture(t *testing.T, name string) (actors.Repo, objstore.Store) {
	t.Helper()
	st, _ := actortest.OpenFixtureCopy(t, name)
	r, err := actors.V1{}.Open(context.Background(), st, actors.Options{})
	require.NoError(t, err, "open %s", name)
	return r, st
}

var mainHistory = []string{"set virtual chunk", "fill data", "empty structure", "Repository initialized"}

func TestV1ReadsTestRepoV1(t *testing.T) {
	ctx := context.Background()
	r, _ := openV1Fixture(t, testfixtures.TestRepoV1)
	assert.Equal(t, "v1", r.Actor())
	assert.Equal(t, 1, r.SpecVersion())

	branches, err := r.Branches(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"main", "my-branch"}, keys(branches))
	tags, err := r.Tags(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"it works!", "it also works!"}, keys(tags))
	deleted, err := r.DeletedTags(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"deleted"}, deleted)

	assert.Equal(t, mainHistory, messages(t, r, actors.MainBranch))
	more := append([]string{"some more structure", "delete a chunk"}, mainHistory...)
	assert.Equal(t, more, messages(t, r, actors.Branch("my-branch")))
	assert.Equal(t, more, messages(t, r, actors.Tag("it also works!")))
	assert.Equal(t, append([]string{"delete a chunk"}, mainHistory...), messages(t, r, actors.Tag("it works!")))

	// Ancestry links: each snapshot's parent is the next one; the initial
	// snapshot (whatever its id) has none and carries {"__root": true}.
	anc, err := r.Ancestry(ctx, actors.MainBranch)
	require.NoError(t, err)
	for i, s := range anc[:len(anc)-1] {
		assert.Equal(t, anc[i+1].ID, s.ParentID)
		assert.True(t, s.FlushedAt.After(anc[i+1].FlushedAt), "flush times increase")
		assert.Equal(t, time.UTC, s.FlushedAt.Location())
	}
	root := anc[len(anc)-1]
	assert.Empty(t, root.ParentID)
	assert.Equal(t, map[string]any{"__root": true}, root.Metadata)
	assert.Equal(t, branches["main"], anc[0].ID)
	assert.Equal(t, 2, anc[0].ManifestFiles)
	assert.Equal(t, 0, root.ManifestFiles)

	// The tip resolves to the same id by branch and by snapshot id.
	id, err := r.Resolve(ctx, actors.MainBranch)
	require.NoError(t, err)
	assert.Equal(t, branches["main"], id)
	again, err := r.Resolve(ctx, actors.Snapshot(id))
	require.NoError(t, err)
	assert.Equal(t, id, again)

	// Nodes on my-branch.
	nodes, err := r.Nodes(ctx, actors.Branch("my-branch"))
	require.NoError(t, err)
	var paths []string
	byPath := map[string]actors.NodeInfo{}
	for _, n := range nodes {
		paths = append(paths, n.Path)
		byPath[n.Path] = n
	}
	assert.Equal(t, []string{"/", "/group1", "/group1/big_chunks", "/group1/small_chunks", "/group2",
		"/group2/group3", "/group2/group3/group4", "/group2/group3/group4/group5",
		"/group2/group3/group4/group5/inner"}, paths)
	assert.Equal(t, zarr.NodeGroup, byPath["/group2/group3"].Type)
	assert.Equal(t, zarr.NodeArray, byPath["/group1/big_chunks"].Type)
	assert.Equal(t, actors.ChunkCounts{Native: 3, Virtual: 1}, byPath["/group1/big_chunks"].Chunks)
	assert.Equal(t, actors.ChunkCounts{Inline: 4}, byPath["/group1/small_chunks"].Chunks, "c/4 was deleted")
	assert.Equal(t, actors.ChunkCounts{}, byPath["/group2/group3/group4/group5/inner"].Chunks)
	meta, err := zarr.ParseMetadata("big_chunks", byPath["/group1/big_chunks"].ZarrJSON)
	require.NoError(t, err)
	assert.Equal(t, []uint64{10, 10}, meta.Array.Shape)

	mainNodes, err := r.Nodes(ctx, actors.MainBranch)
	require.NoError(t, err)
	require.Len(t, mainNodes, 4)
	assert.Equal(t, actors.ChunkCounts{Inline: 5}, mainNodes[3].Chunks)
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestV1GetChunks(t *testing.T) {
	ctx := context.Background()
	r, _ := openV1Fixture(t, testfixtures.TestRepoV1)
	mb := actors.Branch("my-branch")

	// A native chunk decodes to 42.0 everywhere.
	doc, err := r.Get(ctx, mb, "group1/big_chunks/zarr.json")
	require.NoError(t, err)
	meta, err := zarr.ParseMetadata("big_chunks", doc)
	require.NoError(t, err)
	data, err := r.Get(ctx, mb, "group1/big_chunks/c/0/1")
	require.NoError(t, err)
	vals, err := zarr.DecodeChunk(meta.Array, data)
	require.NoError(t, err)
	assert.Equal(t, slices.Repeat([]float32{42}, 25), vals)

	// The virtual chunk is reported, never fetched; the library's error
	// (with its location) survives the normalization.
	_, err = r.Get(ctx, mb, "group1/big_chunks/c/0/0")
	require.Error(t, err)
	assert.ErrorIs(t, err, actors.ErrVirtualChunk)
	assert.ErrorIs(t, err, formatv1.ErrVirtualChunk)
	var vce *formatv1.VirtualChunkError
	require.ErrorAs(t, err, &vce)
	assert.Equal(t, "s3://testbucket/can_read_old/chunk-1", vce.Location)
	assert.Equal(t, actors.ErrVirtualChunk, actors.KindOf(err))
	var ae *actors.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "v1", ae.Actor)
	assert.Contains(t, err.Error(), "s3://testbucket/can_read_old/chunk-1")
	assert.True(t, strings.HasPrefix(err.Error(), "v1: get "), err.Error())

	// A deleted chunk has no value on my-branch but has one on main.
	_, err = r.Get(ctx, mb, "group1/small_chunks/c/4")
	assert.ErrorIs(t, err, actors.ErrKeyNotFound)
	b, err := r.Get(ctx, actors.MainBranch, "group1/small_chunks/c/4")
	require.NoError(t, err)
	assert.NotEmpty(t, b)

	_, err = r.Get(ctx, mb, "nope/zarr.json")
	assert.ErrorIs(t, err, actors.ErrKeyNotFound)
	_, err = r.Get(ctx, mb, "group1/big_chunks/c/9/9")
	assert.ErrorIs(t, err, actors.ErrKeyNotFound, "outside the grid")
	_, err = r.Get(ctx, mb, "/bad//key")
	assert.ErrorIs(t, err, actors.ErrInvalidKey)
}

func TestV1RefErrors(t *testing.T) {
	ctx := context.Background()
	r, _ := openV1Fixture(t, testfixtures.TestRepoV1)
	cases := []struct {
		ref  actors.Ref
		kind error
	}{
		{actors.Tag("deleted"), actors.ErrRefNotFound},
		{actors.Branch("nope"), actors.ErrRefNotFound},
		{actors.Tag("never"), actors.ErrRefNotFound},
		{actors.Snapshot("00000000000000000000"), actors.ErrRefNotFound},
		{actors.Snapshot("not-an-id"), actors.ErrInvalidRefName},
		{actors.Branch("a/b"), actors.ErrInvalidRefName},
		{actors.Ref{}, actors.ErrInvalidRefName},
	}
	for _, c := range cases {
		_, err := r.Ancestry(ctx, c.ref)
		assert.ErrorIs(t, err, c.kind, "ancestry of %s", c.ref)
		assert.Equal(t, c.kind, actors.KindOf(err), "ancestry of %s: %v", c.ref, err)
		_, err = r.Nodes(ctx, c.ref)
		assert.ErrorIs(t, err, c.kind, "nodes of %s", c.ref)
		_, err = r.Get(ctx, c.ref, "zarr.json")
		assert.ErrorIs(t, err, c.kind, "get at %s", c.ref)
		_, err = r.Resolve(ctx, c.ref)
		assert.ErrorIs(t, err, c.kind, "resolve %s", c.ref)
	}
	// The library's sentinel survives next to the kind.
	_, err := r.Resolve(ctx, actors.Tag("deleted"))
	assert.ErrorIs(t, err, formatv1.ErrRefNotFound)
	assert.Contains(t, err.Error(), `tag "deleted"`)
}

func TestV1ReadsSplitRepo(t *testing.T) {
	ctx := context.Background()
	r, _ := openV1Fixture(t, testfixtures.SplitRepoV1)
	anc, err := r.Ancestry(ctx, actors.MainBranch)
	require.NoError(t, err)
	var msgs []string
	var mfs []int
	for _, s := range anc {
		msgs = append(msgs, s.Message)
		mfs = append(mfs, s.ManifestFiles)
	}
	assert.Equal(t, []string{"write data again with more splits", "write data again", "write data",
		"empty structure", "Repository initialized"}, msgs)
	assert.Equal(t, []int{17, 9, 9, 0, 0}, mfs)

	nodes, err := r.Nodes(ctx, actors.MainBranch)
	require.NoError(t, err)
	counts := map[string]actors.ChunkCounts{}
	for _, n := range nodes {
		counts[n.Path] = n.Chunks
	}
	// (10,10) in (3,3) chunks is a 4x4 grid, every chunk written.
	assert.Equal(t, actors.ChunkCounts{Native: 16}, counts["/group1/split"])
	assert.Equal(t, actors.ChunkCounts{Inline: 5}, counts["/group1/small_chunks"])

	findings, err := r.Fsck(ctx)
	require.NoError(t, err)
	assert.Empty(t, findings)
}

func TestV1RefusesOtherRepositories(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{testfixtures.TestRepoV2, testfixtures.TestRepoV2Migrated} {
		st, _ := actortest.OpenFixtureCopy(t, name)
		_, err := actors.V1{}.Open(ctx, st, actors.Options{})
		assert.ErrorIs(t, err, actors.ErrUnsupportedSpec, name)
		assert.ErrorIs(t, err, formatv1.ErrUnsupportedSpec, name)
		assert.Contains(t, err.Error(), "spec 2", name)

		_, err = actors.V1{}.Create(ctx, st, actors.Options{})
		assert.ErrorIs(t, err, actors.ErrRepositoryExists, name)
		assert.ErrorIs(t, err, actors.ErrUnsupportedSpec, "%s: both kinds survive", name)
	}
	_, err := actors.V1{}.Open(ctx, memory.New(nil), actors.Options{})
	assert.ErrorIs(t, err, actors.ErrNotARepository)
	assert.Equal(t, actors.ErrNotARepository, actors.KindOf(err))
}

// newCreated creates a v1 repository on a memory store with a virtual
// clock and a seeded id source.
func newCreated(t *testing.T, opts actors.Options) (actors.Repo, *memory.Store, *objstore.VirtualClock) {
	t.Helper()
	clock := objstore.NewVirtualClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Millisecond)
	st := memory.New(clock)
	opts.Clock = clock
	opts.Rand = rand.NewChaCha8([32]byte{1})
	r, err := actors.V1{}.Create(context.Background(), st, opts)
	require.NoError(t, err)
	return r, st, clock
}

func TestV1Create(t *testing.T) {
	ctx := context.Background()
	r, st, _ := newCreated(t, actors.Options{})
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

	_, err = actors.V1{}.Create(ctx, st, actors.Options{})
	assert.ErrorIs(t, err, actors.ErrRepositoryExists)
	_, err = actors.V1{}.Create(ctx, memory.New(nil), actors.Options{SpecVersion: 2})
	assert.ErrorIs(t, err, actors.ErrUnsupportedSpec)
	assert.Contains(t, err.Error(), "spec 2")

	// Same seed, same clock: same repository.
	r2, _, _ := newCreated(t, actors.Options{})
	b2, err := r2.Branches(ctx)
	require.NoError(t, err)
	assert.Equal(t, branches, b2)
}

// writeData commits through formatv1 directly (the actor subset here has
// no writes yet): an array with one inline, one native and one virtual
// chunk, then a second commit rewriting the native chunk.
func writeData(t *testing.T, st objstore.Store, clock objstore.Clock) {
	t.Helper()
	ctx := context.Background()
	lib, err := formatv1.Open(ctx, st, formatv1.Options{Clock: clock, Rand: rand.NewChaCha8([32]byte{2})})
	require.NoError(t, err)
	s, err := lib.WritableSession(ctx, "main")
	require.NoError(t, err)
	group, err := zarr.NewGroup(nil)
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "zarr.json", group))
	arr, err := zarr.NewArray(&zarr.ArrayMetadata{
		Shape: []uint64{3, 4}, ChunkShape: []uint64{1, 4}, DataType: zarr.Int32, FillValue: zarr.IntFill(-1),
	})
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "a/zarr.json", arr))
	require.NoError(t, s.Set(ctx, "a/c/0/0", []byte("tiny")))
	require.NoError(t, s.Set(ctx, "a/c/1/0", []byte(strings.Repeat("x", 40))))
	require.NoError(t, s.SetVirtualRef(ctx, "a/c/2/0", "s3://bucket/key", 0, 16))
	_, err = s.Commit(ctx, "first", nil)
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "a/c/1/0", []byte(strings.Repeat("y", 40))))
	_, err = s.Commit(ctx, "second", map[string]any{"n": 2})
	require.NoError(t, err)
}

func TestV1CreatedRepository(t *testing.T) {
	ctx := context.Background()
	r, st, clock := newCreated(t, actors.Options{InlineThreshold: 12})
	cfg, _, err := st.Get(ctx, formatv1.ConfigKey)
	require.NoError(t, err)
	assert.Contains(t, string(cfg), "inline_chunk_threshold_bytes: 12")

	writeData(t, st, clock)
	assert.Equal(t, []string{"second", "first", "Repository initialized"}, messages(t, r, actors.MainBranch))
	anc, err := r.Ancestry(ctx, actors.MainBranch)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"n": int64(2)}, anc[0].Metadata)

	nodes, err := r.Nodes(ctx, actors.MainBranch)
	require.NoError(t, err)
	require.Len(t, nodes, 2)
	assert.Equal(t, "/a", nodes[1].Path)
	assert.Equal(t, actors.ChunkCounts{Inline: 1, Native: 1, Virtual: 1}, nodes[1].Chunks)

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

	// Expire everything before "second": "first" is released, "second"
	// rewritten onto the initial snapshot; GC then removes "first", its
	// transaction log, its manifest and the chunk only it referenced.
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
	assert.Equal(t, actors.GCResult{SnapshotsDeleted: 1, TransactionLogsDeleted: 1, ManifestsDeleted: 1,
		ChunksDeleted: 1, BytesDeleted: gc.BytesDeleted}, gc)
	assert.Positive(t, gc.BytesDeleted)
	assert.Len(t, actortest.Keys(t, st, ""), len(before)-4)
	findings, err = r.Fsck(ctx)
	require.NoError(t, err)
	assert.Empty(t, findings)
	_, err = r.Resolve(ctx, actors.Snapshot(anc[1].ID))
	assert.ErrorIs(t, err, actors.ErrRefNotFound, "the released snapshot is gone")
}

func TestV1ExpireAndGCOnFixtureCopy(t *testing.T) {
	ctx := context.Background()
	r, st := openV1Fixture(t, testfixtures.TestRepoV1)
	byMsg := map[string]string{}
	anc, err := r.Ancestry(ctx, actors.Branch("my-branch"))
	require.NoError(t, err)
	for _, s := range anc {
		byMsg[s.Message] = s.ID
	}
	// Between "delete a chunk" (21:11:56.023456) and "some more structure"
	// (21:11:56.037746): every tag and branch tip but my-branch's expires.
	cutoff := time.Date(2025, 2, 19, 21, 11, 56, 30_000_000, time.UTC)
	exp, err := r.ExpireSnapshots(ctx, cutoff, true, true)
	require.NoError(t, err)
	assert.Equal(t, []string{"it works!"}, exp.DeletedTags)
	assert.Equal(t, []string{}, exp.DeletedBranches, "main is never deleted, my-branch did not expire")
	assert.ElementsMatch(t, []string{byMsg["delete a chunk"], byMsg["set virtual chunk"], byMsg["some more structure"]}, exp.EditedSnapshots)
	assert.ElementsMatch(t, []string{byMsg["delete a chunk"], byMsg["set virtual chunk"], byMsg["fill data"], byMsg["empty structure"]}, exp.ReleasedSnapshots)

	deleted, err := r.DeletedTags(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"deleted", "it works!"}, deleted)
	assert.Equal(t, []string{"set virtual chunk", "Repository initialized"}, messages(t, r, actors.MainBranch))
	assert.Equal(t, []string{"some more structure", "Repository initialized"}, messages(t, r, actors.Branch("my-branch")))

	// Every object of the copy is older than now: GC deletes what no ref
	// reaches any more: 2 snapshots and their transaction logs ("fill
	// data", "empty structure"; "delete a chunk" too, its tag is gone), the
	// first big_chunks manifest and the chunk only it referenced.
	gc, err := r.GarbageCollect(ctx, time.Now().Add(time.Hour), false)
	require.NoError(t, err)
	assert.Equal(t, 3, gc.SnapshotsDeleted)
	assert.Equal(t, 3, gc.TransactionLogsDeleted)
	assert.Equal(t, 1, gc.ManifestsDeleted)
	assert.Equal(t, 1, gc.ChunksDeleted)
	assert.Len(t, actortest.Keys(t, st, "snapshots/"), 3)
	findings, err := r.Fsck(ctx)
	require.NoError(t, err)
	assert.Empty(t, findings)
	_, err = r.Get(ctx, actors.Branch("my-branch"), "group1/small_chunks/c/3")
	assert.NoError(t, err)
}

func TestV1FsckFindsDamage(t *testing.T) {
	ctx := context.Background()
	r, st := openV1Fixture(t, testfixtures.TestRepoV1)
	chunks := actortest.Keys(t, st, "chunks/")
	require.NotEmpty(t, chunks)
	require.NoError(t, st.Delete(ctx, chunks[0]))
	findings, err := r.Fsck(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, findings)
	assert.Equal(t, chunks[0], findings[0].Object)
	assert.Contains(t, findings[0].String(), chunks[0]+": missing")
}

func TestV1CancelledContext(t *testing.T) {
	r, _ := openV1Fixture(t, testfixtures.TestRepoV1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Branches(ctx)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
	assert.Nil(t, actors.KindOf(err), "a cancelled context has no kind")
}
