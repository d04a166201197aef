package streamer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/faults"
	"github.com/icerig/icerig/objstore/memory"
	"github.com/icerig/icerig/streamer/source"
)

// copyStore copies every object of src into dst.
func copyStore(t testing.TB, src, dst objstore.Store) {
	t.Helper()
	ctx := context.Background()
	infos, err := src.List(ctx, "")
	require.NoError(t, err)
	for _, in := range infos {
		data, _, err := src.Get(ctx, in.Key)
		require.NoError(t, err)
		_, err = dst.Put(ctx, in.Key, data)
		require.NoError(t, err)
	}
}

// checkIntact asserts what must hold after a crash: every repository
// either is one (fsck clean, main's ancestry readable) or holds no
// repository at all (a creation that crashed before its commit point), and
// the data on main is exactly the source's data up to the last committed
// window. It returns that window's end (zero when none).
func checkIntact(t testing.TB, st objstore.Store, cfg *Config, since time.Time) time.Time {
	t.Helper()
	ctx := context.Background()
	refs, err := Discover(ctx, st, testInstrument, testProject)
	require.NoError(t, err)
	var until time.Time
	for _, ref := range refs {
		repo, err := formatv2.Open(ctx, mustSub(t, st, ref), formatv2.Options{})
		if errors.Is(err, formatv2.ErrNotARepository) {
			continue
		}
		require.NoError(t, err, ref.Path)
		findings, err := repo.Fsck(ctx)
		require.NoError(t, err)
		require.Empty(t, findings, ref.Path)
		tip, err := repo.LookupBranch(ctx, "main")
		require.NoError(t, err)
		_, err = repo.Ancestry(ctx, tip)
		require.NoError(t, err)
		last, err := LastWindow(ctx, repo)
		require.NoError(t, err)
		if last != nil && last.Until.After(until) {
			until = last.Until
		}
	}
	c := readContents(t, st)
	if until.IsZero() {
		require.Empty(t, c.ts)
		return until
	}
	assertMatchesSource(t, c, cfg, since, until)
	return until
}

// TestCrashAtEveryStorageOperation crashes the streamer at each storage
// operation of a run in turn — a run that creates the repository and
// commits its first window, and a run that appends a window rewriting
// partial chunks of every array — before and just after the operation
// lands, and checks that main stays intact after
// the crash, that the next run resumes, and that the result is exactly the
// source's data, as after an uninterrupted run.
func TestCrashAtEveryStorageOperation(t *testing.T) {
	cfg := testConfig(t, "chunk_timestamps: 100\ndata: all\nvariables: [ch4, retro_index, speed, waveform_signal]\n")
	ctx := context.Background()
	clock := testClock()
	first, second := day0.Add(4*time.Minute), day0.Add(9*time.Minute)

	base := memory.New(clock)
	_, err := newTestStreamer(t, cfg, base, clock, nil).Run(ctx, Hints{Since: day0, Until: first})
	require.NoError(t, err)

	for _, phase := range []struct {
		name  string
		start objstore.Store // copied before each run
		until time.Time
	}{
		{"create", memory.New(clock), first},
		{"append", base, second},
	} {
		t.Run(phase.name, func(t *testing.T) {
			probeInner := memory.New(clock)
			copyStore(t, phase.start, probeInner)
			probe := faults.New(probeInner)
			_, err := newTestStreamer(t, cfg, probe, clock, nil).Run(ctx, Hints{Since: day0, Until: phase.until})
			require.NoError(t, err)
			ops := probe.Ops()
			require.Greater(t, ops, 20)
			t.Logf("%s: %d storage operations", phase.name, ops)
			before := checkIntact(t, phase.start, cfg, day0)
			committed := 0
			for n := 1; n <= 2*ops; n++ {
				// Crash before operation i lands, then (second pass) just
				// after it landed.
				i, landed := (n-1)%ops+1, n > ops
				inner := memory.New(clock)
				copyStore(t, phase.start, inner)
				fst := faults.New(inner)
				require.NoError(t, fst.AddRule(faults.Rule{Nth: i, Crash: true, AfterApply: landed}))
				_, err := newTestStreamer(t, cfg, fst, clock, nil).Run(ctx, Hints{Since: day0, Until: phase.until})
				require.ErrorIs(t, err, faults.ErrCrashed, "operation %d (landed %v)", i, landed)

				got := checkIntact(t, inner, cfg, day0)
				if got.Equal(phase.until) {
					committed++
				} else {
					assert.Equal(t, before, got, "operation %d (landed %v): main is either before or after the window", i, landed)
				}
				_, err = newTestStreamer(t, cfg, inner, clock, nil).Run(ctx, Hints{Since: day0, Until: phase.until})
				require.NoError(t, err, "resume after a crash at operation %d (landed %v)", i, landed)
				require.Equal(t, phase.until, checkIntact(t, inner, cfg, day0), "operation %d (landed %v)", i, landed)

				// Exactly one streamer repository, tagged on its first commit.
				refs, err := Discover(ctx, inner, testInstrument, testProject)
				require.NoError(t, err)
				require.Len(t, refs, 1)
				repo, last := openMain(t, inner, refs[0])
				hist := mainHistory(t, repo)
				wantWindows := 1
				if phase.name == "append" {
					wantWindows = 2
				}
				require.Len(t, hist, wantWindows, "operation %d (landed %v): one commit per window", i, landed)
				tags, err := repo.ListTags(ctx)
				require.NoError(t, err)
				require.Equal(t, map[string]formatv2.ObjectID{source.StartTagName(last.Fingerprint): hist[0].SnapshotID}, tags, "operation %d (landed %v)", i, landed)
			}
			// Only crashes at the last few operations (after the commit
			// point: verification reads, the tag) leave the window committed.
			assert.Positive(t, committed)
			assert.Less(t, committed, ops/2)
		})
	}
}
