package gccompare

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/memory"
	"github.com/icerig/icerig/zarr"
)

// tagOnlyArgs make the tags the only refs that keep history alive on
// test-repo-v1: every branch but main expires and is deleted, the tags
// stay, and GC then collects everything no ref reaches.
var tagOnlyArgs = Args{
	Expire: &ExpireArgs{OlderThan: future, DeleteExpiredBranches: true},
	GC:     &GCArgs{OlderThan: future},
}

// TestPlantedGCIgnoresTagsIsCaught plants a GC that does not see tags on
// either side and checks that the oracle names the objects it lost.
func TestPlantedGCIgnoresTagsIsCaught(t *testing.T) {
	for _, side := range []string{"replica", "original"} {
		t.Run(side, func(t *testing.T) {
			o, r, clock := memoryPair(t, testfixtures.TestRepoV1)
			opts := Options{Clock: clock}
			if side == "replica" {
				opts.Replica = gcIgnoresTags
			} else {
				opts.Original = gcIgnoresTags
			}
			rep, err := Compare(context.Background(), o, r, tagOnlyArgs, opts)
			require.NoError(t, err)
			require.False(t, rep.OK(), rep.Text())

			// The planted side deleted the snapshot only the tags reach.
			const tagOnly = "snapshots/XDZ162T1TYBEJMK99NPG"
			m := requireField(t, rep.Mismatches, "keys[snapshots/]")
			honest := m.Original
			if side == "original" {
				honest = m.Replica
			}
			assert.Contains(t, honest, "only here: ", m)
			assert.Contains(t, honest, tagOnly, m)
			g := requireField(t, rep.Mismatches, "gc.snapshots_deleted")
			assert.NotEqual(t, g.Original, g.Replica)
			// The tags now point at snapshots that are gone.
			requireField(t, rep.Mismatches, "after.ancestry[tag:it also works!]")
			// And v1 reading the original disagrees with v1's own copy.
			requireField(t, rep.Mismatches, "cross.ancestry[tag:it also works!]")
			assert.Contains(t, rep.Text(), "result: MISMATCH")
		})
	}
}

// TestPlantedGCIgnoresTagsLosesChunks builds a repository where a tag is
// the only ref that reaches a chunk, and checks that the planted GC's
// loss of that chunk is named.
func TestPlantedGCIgnoresTagsLosesChunks(t *testing.T) {
	ctx := context.Background()
	src, cutoff := tagKeepsChunkRepo(t)
	o, r, clock := memoryPairFrom(t, src)
	args := Args{Expire: &ExpireArgs{OlderThan: cutoff}, GC: &GCArgs{OlderThan: future}}

	// Control: the real v1 agrees with v2 and keeps the tagged chunk.
	rep, err := Compare(ctx, o, r, args, Options{Clock: clock})
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.Text())
	assert.Equal(t, 0, rep.Original.GC.ChunksDeleted)

	o, r, clock = memoryPairFrom(t, src)
	rep, err = Compare(ctx, o, r, args, Options{Clock: clock, Replica: gcIgnoresTags})
	require.NoError(t, err)
	require.False(t, rep.OK(), rep.Text())
	g := requireField(t, rep.Mismatches, "gc.chunks_deleted")
	assert.Equal(t, Mismatch{Field: "gc.chunks_deleted", Original: "0", Replica: "1"}, g)
	k := requireField(t, rep.Mismatches, "keys[chunks/]")
	assert.Contains(t, k.Original, "only here: chunks/")
	assert.Equal(t, "1 key(s)", k.Replica)
	assert.Equal(t, 1, rep.Replica.KeyCounts["chunks/"])
	assert.Equal(t, 2, rep.Original.KeyCounts["chunks/"])
}

// tagKeepsChunkRepo writes a spec-1 repository (v1) in memory: commit 1
// writes chunk a/c/0, tag "keep" points at it, commit 2 overwrites the
// chunk. Expiring at the returned cutoff (commit 2's flush time) detaches
// commit 1 from main, so only the tag keeps its chunk alive.
func tagKeepsChunkRepo(t *testing.T) (objstore.Store, time.Time) {
	t.Helper()
	ctx := context.Background()
	clock := objstore.NewVirtualClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Second)
	st := memory.New(clock)
	h, err := actors.V1{}.Create(ctx, st, actors.Options{Clock: clock, InlineThreshold: 8})
	require.NoError(t, err)
	s, err := h.WritableSession(ctx, "main")
	require.NoError(t, err)
	group, err := zarr.NewGroup(nil)
	require.NoError(t, err)
	array, err := zarr.NewArray(&zarr.ArrayMetadata{Shape: []uint64{4}, ChunkShape: []uint64{2}, DataType: zarr.Uint8, FillValue: zarr.IntFill(0)})
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "zarr.json", group))
	require.NoError(t, s.Set(ctx, "a/zarr.json", array))
	require.NoError(t, s.Set(ctx, "a/c/0", []byte(strings.Repeat("x", 32))))
	first, err := s.Commit(ctx, "first", nil)
	require.NoError(t, err)
	require.NoError(t, h.CreateTag(ctx, "keep", first))
	require.NoError(t, s.Set(ctx, "a/c/0", []byte(strings.Repeat("y", 32))))
	_, err = s.Commit(ctx, "second", nil)
	require.NoError(t, err)
	anc, err := h.Ancestry(ctx, actors.MainBranch)
	require.NoError(t, err)
	require.Len(t, anc, 3)
	return st, anc[0].FlushedAt
}

// TestPlantedGCWithoutTagsAgreesWithoutTags is the control for the planted
// bug: where the tags reach nothing the branches do not, the buggy GC
// does what the real one does (so the mismatch above is the tags' doing).
func TestPlantedGCWithoutTagsAgreesWithoutTags(t *testing.T) {
	o, r, clock := memoryPair(t, testfixtures.TestRepoV1)
	rep, err := Compare(context.Background(), o, r, Args{GC: &GCArgs{OlderThan: future}}, Options{Clock: clock, Replica: gcIgnoresTags})
	require.NoError(t, err)
	assert.True(t, rep.OK(), rep.Text())
}

// TestPlantedExpireOffByOneIsCaught plants an expiration whose cutoff is
// inclusive and runs it exactly at a flush time.
func TestPlantedExpireOffByOneIsCaught(t *testing.T) {
	inclusive := &plantedActor{name: "v1-expire-inclusive", expire: func(h actors.Handle, ctx context.Context, olderThan time.Time, b, t bool) (actors.ExpireResult, error) {
		return h.ExpireSnapshots(ctx, olderThan.Add(time.Microsecond), b, t)
	}}
	o, r, clock := memoryPair(t, testfixtures.TestRepoV1)
	fillData := time.Date(2025, 2, 19, 21, 11, 56, 12_709_000, time.UTC) // flush time of "fill data"
	rep, err := Compare(context.Background(), o, r, Args{Expire: &ExpireArgs{OlderThan: fillData}}, Options{Clock: clock, Replica: inclusive})
	require.NoError(t, err)
	require.False(t, rep.OK(), rep.Text())
	m := requireField(t, rep.Mismatches, "expire.released_snapshots")
	assert.Contains(t, m.Replica, "7XAF0Q905SH4938DN9CG", "the replica released \"fill data\" too")
	requireField(t, rep.Mismatches, "after.ancestry[branch:main]")
	requireField(t, rep.Mismatches, "content[snapshots/]")
}

// TestPlantedErrorIsCaught: one side failing where the other does not is
// a mismatch of field "error" naming the step and kind.
func TestPlantedErrorIsCaught(t *testing.T) {
	conflicting := &plantedActor{name: "v1-gc-conflicts", gc: func(actors.Handle, context.Context, time.Time, bool) (actors.GCResult, error) {
		return actors.GCResult{}, fmt.Errorf("planted: %w", actors.ErrConflict)
	}}
	o, r, clock := memoryPair(t, testfixtures.TestRepoV1)
	rep, err := Compare(context.Background(), o, r, Args{GC: &GCArgs{OlderThan: future, DryRun: true}}, Options{Clock: clock, Replica: conflicting})
	require.NoError(t, err)
	require.Len(t, rep.Mismatches, 1, rep.Text())
	assert.Equal(t, Mismatch{Field: "error", Original: "ok", Replica: "gc: conflict"}, rep.Mismatches[0])
	assert.Nil(t, rep.Replica.GC)
	assert.True(t, strings.Contains(rep.Text(), "error at gc: conflict: planted: conflict"), rep.Text())
}
