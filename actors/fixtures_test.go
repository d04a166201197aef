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
	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/memory"
	"github.com/icerig/icerig/zarr"
)

// Every built-in actor must satisfy the interface at compile time.
var (
	_ actors.Actor = actors.V1{}
	_ actors.Actor = actors.V2{}
)

// library is what the tests know about one actor's library: its own
// sentinels (which survive normalization next to the kinds) and a way to
// commit what the actor interface cannot write (a virtual chunk).
type library struct {
	refNotFound, nodeExists, conflict, unsupportedSpec error
	// virtualLocation returns the location a library's virtual-chunk
	// error carries.
	virtualLocation func(error) (string, bool)
	// writeData commits, through the library itself, an array a with one
	// inline, one native and one virtual chunk ("first"), then rewrites
	// the native chunk ("second", metadata {"n": 2}).
	writeData func(t *testing.T, st objstore.Store, clock objstore.Clock)
}

var libraries = map[string]library{
	"v1": {
		refNotFound: formatv1.ErrRefNotFound, nodeExists: formatv1.ErrNodeExists,
		conflict: formatv1.ErrConflict, unsupportedSpec: formatv1.ErrUnsupportedSpec,
		virtualLocation: func(err error) (string, bool) {
			var e *formatv1.VirtualChunkError
			if errors.As(err, &e) {
				return e.Location, true
			}
			return "", false
		},
		writeData: writeDataV1,
	},
	"v2": {
		refNotFound: formatv2.ErrRefNotFound, nodeExists: formatv2.ErrNodeExists,
		conflict: formatv2.ErrConflict, unsupportedSpec: formatv2.ErrUnsupportedSpec,
		virtualLocation: func(err error) (string, bool) {
			var e *formatv2.VirtualChunkError
			if errors.As(err, &e) {
				return e.Location, true
			}
			return "", false
		},
		writeData: writeDataV2,
	},
}

// libraryOf returns what the tests know about an actor's library; a
// registered actor without an entry fails the test (add one above).
func libraryOf(t *testing.T, a actors.Actor) library {
	t.Helper()
	l, ok := libraries[a.Name()]
	if !ok {
		t.Fatalf("actor %s is registered but the actors tests know nothing of its library: add it to libraries", a.Name())
	}
	return l
}

// testRepo describes one of the upstream test-repo-* fixtures (all three
// hold the same history, see the fixtures README).
type testRepo struct {
	name string
	spec int
	// rootID is the initial snapshot's id (the README states them).
	rootID string
	// rootMeta is the initial snapshot's metadata as the file stores it.
	rootMeta map[string]any
}

var testRepos = []testRepo{
	{testfixtures.TestRepoV1, 1, "P874YS3J196959RDHX7G", map[string]any{"__root": true}},
	{testfixtures.TestRepoV2, 2, "1CECHNKREP0F1RSTCMT0", map[string]any{"__icechunk": map[string]any{"is_root": true}}},
	// Migrated: the snapshot files stay spec 1.
	{testfixtures.TestRepoV2Migrated, 2, "P874YS3J196959RDHX7G", map[string]any{"__root": true}},
}

// openFixture opens a copy of a fixture with an actor.
func openFixture(t *testing.T, a actors.Actor, name string) (actors.Handle, objstore.Store) {
	t.Helper()
	st, _ := actortest.OpenFixtureCopy(t, name)
	h, err := a.Open(context.Background(), st, actors.Options{})
	require.NoError(t, err, "%s opens %s", a.Name(), name)
	return h, st
}

// eachReadable runs f as a subtest for every registered actor and every
// test-repo-* fixture whose spec the actor reads (TestActorsRefuseSpecs
// covers the others).
func eachReadable(t *testing.T, f func(t *testing.T, a actors.Actor, fx testRepo)) {
	for _, a := range actors.Registered() {
		for _, fx := range testRepos {
			if !a.Capabilities().Reads(fx.spec) {
				continue
			}
			t.Run(a.Name()+"/"+fx.name, func(t *testing.T) { f(t, a, fx) })
		}
	}
}

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

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

var mainHistory = []string{"set virtual chunk", "fill data", "empty structure", "Repository initialized"}

func TestActorsReadTestRepos(t *testing.T) {
	eachReadable(t, func(t *testing.T, a actors.Actor, fx testRepo) {
		ctx := context.Background()
		r, _ := openFixture(t, a, fx.name)
		assert.Equal(t, a.Name(), r.Actor())
		assert.Equal(t, fx.spec, r.SpecVersion())

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

		// Ancestry links: each snapshot's parent is the next one; the
		// initial snapshot has none.
		anc, err := r.Ancestry(ctx, actors.MainBranch)
		require.NoError(t, err)
		for i, s := range anc[:len(anc)-1] {
			assert.Equal(t, anc[i+1].ID, s.ParentID)
			assert.True(t, s.FlushedAt.After(anc[i+1].FlushedAt), "flush times increase")
			assert.Equal(t, time.UTC, s.FlushedAt.Location())
			assert.Nil(t, s.Metadata, "%s has no commit metadata", s.Message)
		}
		root := anc[len(anc)-1]
		assert.Empty(t, root.ParentID)
		assert.Equal(t, fx.rootID, root.ID)
		assert.Equal(t, fx.rootMeta, root.Metadata)
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
		assert.Equal(t, branches["my-branch"], tags["it also works!"])

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
		assert.Equal(t, []uint64{5, 5}, meta.Array.ChunkShape)

		mainNodes, err := r.Nodes(ctx, actors.MainBranch)
		require.NoError(t, err)
		require.Len(t, mainNodes, 4)
		assert.Equal(t, actors.ChunkCounts{Inline: 5}, mainNodes[3].Chunks)

		findings, err := r.Fsck(ctx)
		require.NoError(t, err)
		assert.Empty(t, findings)
	})
}

func TestActorsGetChunks(t *testing.T) {
	eachReadable(t, func(t *testing.T, a actors.Actor, fx testRepo) {
		ctx := context.Background()
		lib := libraryOf(t, a)
		r, _ := openFixture(t, a, fx.name)
		mb := actors.Branch("my-branch")

		// A native chunk decodes to 42.0 everywhere.
		doc, err := r.Get(ctx, mb, "group1/big_chunks/zarr.json")
		require.NoError(t, err)
		meta, err := zarr.ParseMetadata("big_chunks", doc)
		require.NoError(t, err)
		for _, key := range []string{"group1/big_chunks/c/0/1", "group1/big_chunks/c/1/0", "group1/big_chunks/c/1/1"} {
			data, err := r.Get(ctx, mb, key)
			require.NoError(t, err, key)
			vals, err := zarr.DecodeChunk(meta.Array, data)
			require.NoError(t, err, key)
			assert.Equal(t, slices.Repeat([]float32{42}, 25), vals, key)
		}

		// The virtual chunk is reported, never fetched; the library's
		// error (with its location) survives the normalization.
		_, err = r.Get(ctx, mb, "group1/big_chunks/c/0/0")
		require.Error(t, err)
		assert.ErrorIs(t, err, actors.ErrVirtualChunk)
		loc, ok := lib.virtualLocation(err)
		require.True(t, ok, "the library's virtual-chunk error survives: %v", err)
		assert.Equal(t, "s3://testbucket/can_read_old/chunk-1", loc)
		assert.Equal(t, actors.ErrVirtualChunk, actors.KindOf(err))
		var ae *actors.Error
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, a.Name(), ae.Actor)
		assert.Contains(t, err.Error(), "s3://testbucket/can_read_old/chunk-1")
		assert.True(t, strings.HasPrefix(err.Error(), a.Name()+": get "), err.Error())

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
	})
}

func TestActorsRefErrors(t *testing.T) {
	eachReadable(t, func(t *testing.T, a actors.Actor, fx testRepo) {
		ctx := context.Background()
		lib := libraryOf(t, a)
		r, _ := openFixture(t, a, fx.name)
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
			_, err = r.Session(ctx, c.ref)
			assert.ErrorIs(t, err, c.kind, "session on %s", c.ref)
		}
		// The library's sentinel survives next to the kind.
		_, err := r.Resolve(ctx, actors.Tag("deleted"))
		assert.ErrorIs(t, err, lib.refNotFound)
		assert.Contains(t, err.Error(), `tag "deleted"`)
	})
}

func TestActorsReadSplitRepo(t *testing.T) {
	for _, a := range actors.Registered() {
		t.Run(a.Name(), func(t *testing.T) {
			ctx := context.Background()
			r, _ := openFixture(t, a, testfixtures.SplitRepoV1)
			assert.Equal(t, 1, r.SpecVersion())
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
		})
	}
}

// TestActorsRefuseSpecs: an actor opening a repository of a spec it
// cannot read fails with ErrUnsupportedSpec (naming the spec); Create
// never overwrites a repository; an empty store is not a repository.
func TestActorsRefuseSpecs(t *testing.T) {
	ctx := context.Background()
	for _, a := range actors.Registered() {
		t.Run(a.Name(), func(t *testing.T) {
			lib := libraryOf(t, a)
			for _, fx := range append(testRepos, testRepo{name: testfixtures.SplitRepoV1, spec: 1}) {
				st, _ := actortest.OpenFixtureCopy(t, fx.name)
				_, err := a.Create(ctx, st, actors.Options{})
				assert.ErrorIs(t, err, actors.ErrRepositoryExists, fx.name)
				if a.Capabilities().Reads(fx.spec) {
					assert.Equal(t, actors.ErrRepositoryExists, actors.KindOf(err), "%s: %v", fx.name, err)
					assert.NotErrorIs(t, err, actors.ErrUnsupportedSpec, "%s reads %s", a.Name(), fx.name)
					continue
				}
				assert.ErrorIs(t, err, actors.ErrUnsupportedSpec, "%s: both kinds survive", fx.name)
				_, err = a.Open(ctx, st, actors.Options{})
				assert.ErrorIs(t, err, actors.ErrUnsupportedSpec, fx.name)
				assert.ErrorIs(t, err, lib.unsupportedSpec, fx.name)
				assert.Contains(t, err.Error(), "spec 2", fx.name)
			}
			_, err := a.Open(ctx, memory.New(nil), actors.Options{})
			assert.ErrorIs(t, err, actors.ErrNotARepository)
			assert.Equal(t, actors.ErrNotARepository, actors.KindOf(err))
		})
	}
}

// cutoffBetween returns a time between the flush times of the snapshots of
// my-branch named after and before (messages).
func cutoffBetween(t *testing.T, r actors.Repo, after, before string) (time.Time, map[string]string) {
	t.Helper()
	anc, err := r.Ancestry(context.Background(), actors.Branch("my-branch"))
	require.NoError(t, err)
	byMsg := map[string]actors.SnapshotInfo{}
	ids := map[string]string{}
	for _, s := range anc {
		byMsg[s.Message] = s
		ids[s.Message] = s.ID
	}
	lo, hi := byMsg[after].FlushedAt, byMsg[before].FlushedAt
	require.True(t, lo.Before(hi))
	return lo.Add(hi.Sub(lo) / 2), ids
}

// TestActorsExpireAndGCOnFixtures expires and collects copies of the
// fixtures with every actor that reads them, with the cutoff between
// "delete a chunk" and "some more structure": every tag and branch tip but
// my-branch's expires.
func TestActorsExpireAndGCOnFixtures(t *testing.T) {
	eachReadable(t, func(t *testing.T, a actors.Actor, fx testRepo) {
		ctx := context.Background()
		r, st := openFixture(t, a, fx.name)
		cutoff, byMsg := cutoffBetween(t, r, "delete a chunk", "some more structure")
		exp, err := r.ExpireSnapshots(ctx, cutoff, true, true)
		require.NoError(t, err)
		assert.Equal(t, []string{"it works!"}, exp.DeletedTags)
		assert.Equal(t, []string{}, exp.DeletedBranches, "main is never deleted, my-branch did not expire")
		if fx.spec == 1 {
			// Spec 1 rewrites the oldest survivor of each ref onto the
			// initial snapshot; "delete a chunk" (tag "it works!") was
			// rewritten before its tag was deleted.
			assert.ElementsMatch(t, []string{byMsg["delete a chunk"], byMsg["set virtual chunk"], byMsg["some more structure"]}, exp.EditedSnapshots)
			assert.ElementsMatch(t, []string{byMsg["delete a chunk"], byMsg["set virtual chunk"], byMsg["fill data"], byMsg["empty structure"]}, exp.ReleasedSnapshots)
		}

		deleted, err := r.DeletedTags(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"deleted", "it works!"}, deleted)
		assert.Equal(t, []string{"set virtual chunk", "Repository initialized"}, messages(t, r, actors.MainBranch))
		assert.Equal(t, []string{"some more structure", "Repository initialized"}, messages(t, r, actors.Branch("my-branch")))

		// Every object of the copy is older than the cutoff: GC deletes
		// what no ref reaches any more: the snapshots "fill data", "empty
		// structure" and "delete a chunk" (its tag is gone) with (at spec
		// 1) their transaction logs, the first big_chunks manifest and the
		// chunk only it referenced. At spec 2 the survivors list the
		// released snapshots as pruned ancestors, whose transaction logs
		// GC keeps (as upstream does).
		snapsBefore := len(actortest.Keys(t, st, "snapshots/"))
		gc, err := r.GarbageCollect(ctx, time.Now().Add(time.Hour), false)
		require.NoError(t, err)
		assert.Equal(t, 3, gc.SnapshotsDeleted)
		assert.Equal(t, map[int]int{1: 3, 2: 0}[fx.spec], gc.TransactionLogsDeleted)
		assert.Equal(t, 1, gc.ManifestsDeleted)
		assert.Equal(t, 1, gc.ChunksDeleted)
		assert.Len(t, actortest.Keys(t, st, "snapshots/"), snapsBefore-3)
		findings, err := r.Fsck(ctx)
		require.NoError(t, err)
		assert.Empty(t, findings)
		_, err = r.Get(ctx, actors.Branch("my-branch"), "group1/small_chunks/c/3")
		assert.NoError(t, err)
		_, err = r.Get(ctx, actors.MainBranch, "group1/big_chunks/c/1/1")
		assert.NoError(t, err)
	})
}

func TestActorsFsckFindsDamage(t *testing.T) {
	eachReadable(t, func(t *testing.T, a actors.Actor, fx testRepo) {
		ctx := context.Background()
		r, st := openFixture(t, a, fx.name)
		chunks := actortest.Keys(t, st, "chunks/")
		require.NotEmpty(t, chunks)
		require.NoError(t, st.Delete(ctx, chunks[0]))
		findings, err := r.Fsck(ctx)
		require.NoError(t, err)
		require.NotEmpty(t, findings)
		assert.Equal(t, chunks[0], findings[0].Object)
		assert.Contains(t, findings[0].String(), chunks[0]+": missing")
	})
}

func TestActorsCancelledContext(t *testing.T) {
	eachReadable(t, func(t *testing.T, a actors.Actor, fx testRepo) {
		r, _ := openFixture(t, a, fx.name)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := r.Branches(ctx)
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.Canceled), "%v", err)
		assert.Nil(t, actors.KindOf(err), "a cancelled context has no kind")
	})
}

// writeDataV1 is library.writeData through formatv1.
func writeDataV1(t *testing.T, st objstore.Store, clock objstore.Clock) {
	t.Helper()
	ctx := context.Background()
	lib, err := formatv1.Open(ctx, st, formatv1.Options{Clock: clock, Rand: rand.NewChaCha8([32]byte{2})})
	require.NoError(t, err)
	s, err := lib.WritableSession(ctx, "main")
	require.NoError(t, err)
	setData(t, s)
	require.NoError(t, s.SetVirtualRef(ctx, "a/c/2/0", "s3://bucket/key", 0, 16))
	_, err = s.Commit(ctx, "first", nil)
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "a/c/1/0", []byte(strings.Repeat("y", 40))))
	_, err = s.Commit(ctx, "second", map[string]any{"n": 2})
	require.NoError(t, err)
}

// writeDataV2 is library.writeData through formatv2.
func writeDataV2(t *testing.T, st objstore.Store, clock objstore.Clock) {
	t.Helper()
	ctx := context.Background()
	lib, err := formatv2.Open(ctx, st, formatv2.Options{Clock: clock, Rand: rand.NewChaCha8([32]byte{2})})
	require.NoError(t, err)
	s, err := lib.WritableSession(ctx, "main")
	require.NoError(t, err)
	setData(t, s)
	require.NoError(t, s.SetVirtualRef(ctx, "a/c/2/0", "s3://bucket/key", 0, 16))
	_, err = s.Commit(ctx, "first", nil)
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "a/c/1/0", []byte(strings.Repeat("y", 40))))
	_, err = s.Commit(ctx, "second", map[string]any{"n": 2})
	require.NoError(t, err)
}

// setData writes the root group and array a with an inline and a native
// chunk through any library session.
func setData(t *testing.T, s interface {
	Set(ctx context.Context, key string, value []byte) error
}) {
	t.Helper()
	ctx := context.Background()
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
}
