package gccompare

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/local"
)

// TestFixturesAgree runs the oracle through CompareURL over copies of
// every upstream fixture: v1 against v2 at spec 1, v2 against v2 at spec 2
// (the default replica falls back, and the report says so).
func TestFixturesAgree(t *testing.T) {
	ctx := context.Background()
	all := Args{
		Expire: &ExpireArgs{OlderThan: v1Cutoff, DeleteExpiredBranches: true, DeleteExpiredTags: true},
		GC:     &GCArgs{OlderThan: future},
	}
	for _, tc := range []struct {
		name    string
		spec    int
		replica string
	}{
		{testfixtures.TestRepoV1, 1, "v1"},
		{testfixtures.SplitRepoV1, 1, "v1"},
		{testfixtures.TestRepoV2, 2, "v2"},
		{testfixtures.TestRepoV2Migrated, 2, "v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, args := range []Args{
				{GC: &GCArgs{OlderThan: future, DryRun: true}},
				{Expire: &ExpireArgs{OlderThan: future}},
				all,
			} {
				dir := fixtureDir(t, tc.name)
				rep, err := CompareURL(ctx, dir, args, Options{})
				require.NoError(t, err)
				require.True(t, rep.Passed(), rep.Text())
				assert.Equal(t, tc.spec, rep.SpecVersion)
				assert.Equal(t, "v2", rep.Original.Actor)
				assert.Equal(t, tc.replica, rep.Replica.Actor)
				assert.Nil(t, rep.Original.Error, rep.Text())
				assert.Equal(t, rep.Original.KeyCounts, rep.Replica.KeyCounts)
				assert.Empty(t, rep.Original.After.Fsck)
				if tc.spec == 2 {
					require.Len(t, rep.Notes, 1)
					assert.Contains(t, rep.Notes[0], "the default replica actor v1 cannot read spec-2 repositories; the replica side ran v2 instead")
					assert.Nil(t, rep.Cross)
				} else {
					assert.Empty(t, rep.Notes)
					require.NotNil(t, rep.Cross, "v1 reads what v2 left")
					assert.Nil(t, rep.Cross.Error)
				}
				// The original side ran on the directory itself; the
				// replica's copy is gone.
				assert.Equal(t, dir, rep.Original.Store)
				assert.Equal(t, rep.Original.Keys, keysOf(t, dir))
				assert.NotEqual(t, dir, rep.Replica.Store)
				assert.NoDirExists(t, rep.Replica.Store)
			}
		})
	}
}

// TestFixtureV1Results pins what both sides did on test-repo-v1, so that
// agreement cannot come from two sides doing nothing.
func TestFixtureV1Results(t *testing.T) {
	dir := fixtureDir(t, testfixtures.TestRepoV1)
	rep, err := CompareURL(context.Background(), dir, Args{
		Expire: &ExpireArgs{OlderThan: v1Cutoff, DeleteExpiredBranches: true, DeleteExpiredTags: true},
		GC:     &GCArgs{OlderThan: future},
	}, Options{})
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.Text())
	for _, s := range []Side{rep.Original, rep.Replica} {
		require.NotNil(t, s.Expire)
		require.NotNil(t, s.GC)
		assert.Len(t, s.Expire.ReleasedSnapshots, 4)
		assert.Len(t, s.Expire.EditedSnapshots, 3)
		assert.Equal(t, []string{"it works!"}, s.Expire.DeletedTags)
		assert.Equal(t, actors.GCResult{SnapshotsDeleted: 3, TransactionLogsDeleted: 3, ManifestsDeleted: 1, ChunksDeleted: 1,
			BytesDeleted: s.GC.BytesDeleted}, *s.GC)
		assert.Positive(t, s.GC.BytesDeleted)
		assert.Equal(t, 3, s.KeyCounts["snapshots/"])
		assert.Equal(t, 1, s.KeyCounts["config.yaml"])
		assert.Equal(t, []string{"deleted", "it works!"}, s.After.DeletedTags)
	}
	assert.Equal(t, rep.Original.Keys, rep.Replica.Keys)
}

// TestSpec1Grid is the investigation of whether v1 and v2 differ on
// spec-1 repositories, kept as a regression test: every expiration cutoff
// around every snapshot's flush time (exactly at it, and a microsecond to
// either side), with and without deleting expired branches and tags,
// without GC and followed by GC (dry run or not, at cutoffs before, among
// and after the objects' modification times). Every comparison must
// agree, and the grid must have exercised each kind of change.
func TestSpec1Grid(t *testing.T) {
	ctx := context.Background()
	var runs, released, deletedRefs, deletedChunks, partialGC int
	tally := NewTally(nil)
	for _, name := range []string{testfixtures.TestRepoV1, testfixtures.SplitRepoV1} {
		src := memoryFixture(t, name)
		expireCuts := []time.Time{past, future}
		for _, ft := range flushTimes(t, src) {
			expireCuts = append(expireCuts, ft, ft.Add(-time.Microsecond), ft.Add(time.Microsecond))
		}
		mt := modTimes(t, src)
		gcs := []*GCArgs{nil,
			{OlderThan: future, DryRun: true},
			{OlderThan: future},
			{OlderThan: mt[len(mt)/2]},
			{OlderThan: mt[len(mt)/4], DryRun: true},
			{OlderThan: past},
		}
		for _, gc := range gcs {
			var argsList []Args
			if gc != nil {
				argsList = append(argsList, Args{GC: gc})
			}
			for _, cut := range expireCuts {
				for _, b := range []bool{false, true} {
					for _, tg := range []bool{false, true} {
						argsList = append(argsList, Args{Expire: &ExpireArgs{OlderThan: cut, DeleteExpiredBranches: b, DeleteExpiredTags: tg}, GC: gc})
					}
				}
			}
			for _, args := range argsList {
				o, r, clock := memoryPairFrom(t, src)
				rep, err := Compare(ctx, o, r, args, Options{Clock: clock})
				require.NoError(t, err)
				tally.Add(rep)
				runs++
				if !rep.Passed() || rep.Original.Error != nil || len(rep.Notes) > 0 {
					t.Fatalf("%s: v1 and v2 differ:\n%s", name, rep.Text())
				}
				if e := rep.Original.Expire; e != nil {
					if len(e.ReleasedSnapshots) > 0 {
						released++
					}
					if len(e.DeletedBranches)+len(e.DeletedTags) > 0 {
						deletedRefs++
					}
				}
				if g := rep.Original.GC; g != nil && g.ChunksDeleted > 0 {
					deletedChunks++
					if gc.OlderThan.Before(future) {
						partialGC++
					}
				}
			}
		}
	}
	t.Logf("%d comparisons: %d released snapshots, %d deleted refs, %d deleted chunks (%d with a cutoff among the objects' times)",
		runs, released, deletedRefs, deletedChunks, partialGC)
	assert.Positive(t, released)
	assert.Positive(t, deletedRefs)
	assert.Positive(t, deletedChunks)
	assert.Positive(t, partialGC)
	// Every default accepted entry must have been needed somewhere.
	assert.NoError(t, tally.Check())
}

// TestSpec2GridV2AgainstItself checks that v2 is deterministic on spec-2
// repositories under the oracle (same clock, same id seed): two runs on
// two copies do the same.
func TestSpec2GridV2AgainstItself(t *testing.T) {
	ctx := context.Background()
	v2, err := actors.Lookup("v2")
	require.NoError(t, err)
	for _, name := range []string{testfixtures.TestRepoV2, testfixtures.TestRepoV2Migrated} {
		src := memoryFixture(t, name)
		cuts := []time.Time{past, future}
		for _, ft := range flushTimes(t, src) {
			cuts = append(cuts, ft)
		}
		for _, cut := range cuts {
			for _, gc := range []*GCArgs{nil, {OlderThan: future}} {
				o, r, clock := memoryPairFrom(t, src)
				args := Args{Expire: &ExpireArgs{OlderThan: cut, DeleteExpiredBranches: true, DeleteExpiredTags: true}, GC: gc}
				rep, err := Compare(ctx, o, r, args, Options{Clock: clock, Original: v2, Replica: v2})
				require.NoError(t, err)
				require.True(t, rep.Passed(), rep.Text())
				assert.Empty(t, rep.Notes, "an explicit replica never falls back")
				assert.Equal(t, 2, rep.SpecVersion)
			}
		}
	}
}

// TestExplicitReplicaCannotReadSpec2 checks that an explicitly chosen v1
// replica on a spec-2 repository is a mismatch of kind "error", with a
// note that says why.
func TestExplicitReplicaCannotReadSpec2(t *testing.T) {
	o, r, clock := memoryPair(t, testfixtures.TestRepoV2)
	v1, err := actors.Lookup("v1")
	require.NoError(t, err)
	rep, err := Compare(context.Background(), o, r, Args{GC: &GCArgs{OlderThan: future}}, Options{Clock: clock, Replica: v1})
	require.NoError(t, err)
	assert.False(t, rep.OK())
	m := requireField(t, rep.Mismatches, "error")
	assert.Equal(t, "ok", m.Original)
	assert.Equal(t, "open: unsupported spec version", m.Replica)
	require.NotEmpty(t, rep.Notes)
	assert.Contains(t, rep.Notes[0], "the replica actor v1 cannot read spec-2 repositories")
	assert.Contains(t, rep.Text(), "result: MISMATCH")
	assert.Nil(t, rep.Cross)
}

// TestBothSidesFailAlike: two sides failing with the same kind agree.
func TestBothSidesFailAlike(t *testing.T) {
	clock := objstore.NewVirtualClock(clockStart, 0)
	o, r, _ := memoryPair(t, testfixtures.TestRepoV1)
	// Break both copies the same way: main's tip snapshot is gone.
	ctx := context.Background()
	for _, st := range []objstore.Store{o, r} {
		require.NoError(t, st.Delete(ctx, "snapshots/NXH3M0HJ7EEJ0699DPP0"))
	}
	rep, err := Compare(ctx, o, r, Args{GC: &GCArgs{OlderThan: future}}, Options{Clock: clock})
	require.NoError(t, err)
	require.NotNil(t, rep.Original.Error)
	require.NotNil(t, rep.Replica.Error)
	assert.Equal(t, "gc", rep.Original.Error.Step)
	assert.Equal(t, rep.Original.Error.Kind, rep.Replica.Error.Kind)
	assert.True(t, rep.OK(), rep.Text())
	assert.Nil(t, rep.Original.GC)
	require.NotNil(t, rep.Original.After.Error, "main's ancestry cannot be read")
	assert.Equal(t, "ancestry of branch:main", rep.Original.After.Error.Step)
	assert.Contains(t, rep.Text(), "error at gc")
}

func TestCompareRefusesBadArguments(t *testing.T) {
	o, r, _ := memoryPair(t, testfixtures.TestRepoV1)
	ctx := context.Background()
	_, err := Compare(ctx, o, r, Args{}, Options{})
	assert.ErrorIs(t, err, ErrNoOperation)
	_, err = CompareURL(ctx, t.TempDir(), Args{}, Options{})
	assert.ErrorIs(t, err, ErrNoOperation)
	_, err = Compare(ctx, o, nil, Args{GC: &GCArgs{OlderThan: future}}, Options{})
	assert.Error(t, err)
	_, err = CompareURL(ctx, filepath.Join(t.TempDir(), "missing"), Args{GC: &GCArgs{OlderThan: future}}, Options{})
	assert.ErrorContains(t, err, "no such directory")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Compare(cancelled, o, r, Args{GC: &GCArgs{OlderThan: future}}, Options{})
	assert.ErrorIs(t, err, context.Canceled)
}

// flushTimes lists the distinct flush times of every snapshot the refs of
// a fixture reach.
func flushTimes(t *testing.T, st objstore.Store) []time.Time {
	t.Helper()
	ctx := context.Background()
	h, err := actors.V2{}.Open(ctx, st, actors.Options{})
	require.NoError(t, err)
	branches, err := h.Branches(ctx)
	require.NoError(t, err)
	tags, err := h.Tags(ctx)
	require.NoError(t, err)
	seen := map[time.Time]bool{}
	for _, refs := range []map[string]string{branches, tags} {
		for _, id := range refs {
			anc, err := h.Ancestry(ctx, actors.Snapshot(id))
			require.NoError(t, err)
			for _, s := range anc {
				seen[s.FlushedAt] = true
			}
		}
	}
	var out []time.Time
	for ft := range seen {
		out = append(out, ft)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// modTimes lists the modification times of every object, ascending.
func modTimes(t *testing.T, st objstore.Store) []time.Time {
	t.Helper()
	objs, err := st.List(context.Background(), "")
	require.NoError(t, err)
	out := make([]time.Time, len(objs))
	for i, o := range objs {
		out[i] = o.ModTime
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// keysOf lists a local repository's keys by top-level prefix.
func keysOf(t *testing.T, dir string) map[string][]string {
	t.Helper()
	st, err := local.Open(dir, nil)
	require.NoError(t, err)
	keys, err := listKeys(context.Background(), st)
	require.NoError(t, err)
	return keys
}
