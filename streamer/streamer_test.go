package streamer

import (
	"context"
	"encoding/json"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/formatv1"
	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/faults"
	"github.com/icerig/icerig/objstore/local"
	"github.com/icerig/icerig/objstore/memory"
	"github.com/icerig/icerig/streamer/source"
)

// small is the configuration most tests use: three per-timestamp variables,
// 100-row chunks so windows cross chunk boundaries.
const small = "chunk_timestamps: 100\nvariables: [ch4, h2o, measurement_validity]\n"

// openMain opens the repository at ref and returns it with the streamer's
// record of main's newest window.
func openMain(t testing.TB, target objstore.Store, ref RepoRef) (*formatv2.Repository, *WindowMeta) {
	t.Helper()
	ctx := context.Background()
	sub, err := SubStore(target, ref.Path)
	require.NoError(t, err)
	repo, err := formatv2.Open(ctx, sub, formatv2.Options{})
	require.NoError(t, err, ref.Path)
	last, err := LastWindow(ctx, repo)
	require.NoError(t, err)
	return repo, last
}

// mainHistory returns the streamer windows on main, oldest first.
func mainHistory(t testing.TB, repo *formatv2.Repository) []WindowMeta {
	t.Helper()
	ctx := context.Background()
	tip, err := repo.LookupBranch(ctx, "main")
	require.NoError(t, err)
	anc, err := repo.Ancestry(ctx, tip)
	require.NoError(t, err)
	var out []WindowMeta
	for i := len(anc) - 1; i >= 0; i-- {
		w, ok, err := DecodeWindowMeta(anc[i])
		require.NoError(t, err)
		if ok {
			out = append(out, w)
		}
	}
	return out
}

func TestRunAppendsWindowsAndResumesFromMetadata(t *testing.T) {
	cfg := testConfig(t, small)
	st := memory.New(nil)
	s := newTestStreamer(t, cfg, st, testClock(), nil)
	ctx := context.Background()

	// A first run without hints starts streaming_minutes before until.
	rep, err := s.Run(ctx, Hints{Until: day0.Add(15 * time.Minute)})
	require.NoError(t, err)
	require.Len(t, rep.Windows, 1)
	assert.Equal(t, day0, rep.Windows[0].From)
	assert.True(t, rep.Windows[0].NewRepository)
	assert.Equal(t, 630, rep.Windows[0].Rows)
	assert.Positive(t, rep.Windows[0].BytesWritten)

	// A catch-up of 9 h is cut into max_window (4 h) windows.
	rep, err = s.Run(ctx, Hints{Until: day0.Add(15*time.Minute + 9*time.Hour)})
	require.NoError(t, err)
	require.Len(t, rep.Windows, 3)
	for i, want := range []time.Duration{4 * time.Hour, 4 * time.Hour, time.Hour} {
		w := rep.Windows[i]
		assert.Equal(t, want, w.Until.Sub(w.From), "window %d", i)
		assert.False(t, w.NewRepository)
	}
	assert.Equal(t, day0.Add(15*time.Minute), rep.Windows[0].From)

	// Nothing to do when until is not after the last commit.
	rep, err = s.Run(ctx, Hints{Until: day0.Add(time.Hour)})
	require.NoError(t, err)
	assert.True(t, rep.UpToDate)
	assert.Empty(t, rep.Windows)

	c := readContents(t, st)
	require.Len(t, c.repos, 1)
	assertMatchesSource(t, c, cfg, day0, day0.Add(15*time.Minute+9*time.Hour))

	// One commit per window, each recording its bounds, the last
	// timestamp and the totals: resume needs nothing else.
	repo, last := openMain(t, st, c.repos[0])
	hist := mainHistory(t, repo)
	require.Len(t, hist, 4)
	for i := 1; i < len(hist); i++ {
		assert.Equal(t, hist[i-1].Until, hist[i].From, "windows are contiguous")
	}
	assert.Equal(t, day0.Add(15*time.Minute+9*time.Hour), last.Until)
	assert.Equal(t, c.ts[len(c.ts)-1], last.LastTimestamp)
	assert.True(t, last.HasLast)
	assert.Equal(t, len(c.ts), last.TotalRows)
	assert.Equal(t, source.Fingerprint(source.DefaultSettings()), last.Fingerprint)
	assert.Equal(t, formatv2.SpecVersion2, repo.SpecVersion())
	tags, err := repo.ListTags(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]formatv2.ObjectID{source.StartTagName(last.Fingerprint): hist[0].SnapshotID}, tags)
}

func TestSinceHint(t *testing.T) {
	cfg := testConfig(t, small)
	st := memory.New(nil)
	s := newTestStreamer(t, cfg, st, testClock(), nil)
	ctx := context.Background()
	_, err := s.Run(ctx, Hints{Since: day0, Until: day0.Add(30 * time.Minute)})
	require.NoError(t, err)

	// A since-hint before the last commit is ignored: nothing twice.
	rep, err := s.Run(ctx, Hints{Since: day0.Add(10 * time.Minute), Until: day0.Add(45 * time.Minute)})
	require.NoError(t, err)
	require.Len(t, rep.Windows, 1)
	assert.Equal(t, day0.Add(30*time.Minute), rep.Windows[0].From)
	assertMatchesSource(t, readContents(t, st), cfg, day0, day0.Add(45*time.Minute))

	// A later since-hint is honoured: the run starts there (a deliberate gap).
	rep, err = s.Run(ctx, Hints{Since: day0.Add(2 * time.Hour), Until: day0.Add(2*time.Hour + 15*time.Minute)})
	require.NoError(t, err)
	require.Len(t, rep.Windows, 1)
	assert.Equal(t, day0.Add(2*time.Hour), rep.Windows[0].From)

	c := readContents(t, st)
	src, err := source.New(cfg.SourceConfig())
	require.NoError(t, err)
	a, err := src.ReadParts(day0, day0.Add(45*time.Minute), source.PartTimestamp)
	require.NoError(t, err)
	b, err := src.ReadParts(day0.Add(2*time.Hour), day0.Add(2*time.Hour+15*time.Minute), source.PartTimestamp)
	require.NoError(t, err)
	assert.Equal(t, append(a.Timestamps, b.Timestamps...), c.ts)
}

func TestSettingsChangeStartsNewRepositoryWithTag(t *testing.T) {
	// The change lands mid-window and off the second: the window is cut
	// there and the new repository is named after the change's second.
	change := day0.Add(12*time.Hour + 7*time.Minute + 500*time.Millisecond)
	cfg := testConfig(t, small+`source:
  instrument: gm01
  project: ch4-flux
  gas_id: 1
  seed: 7
  settings_changes:
    - at: `+change.Format(time.RFC3339Nano)+`
      settings: {fit_model: gauss, calibration_id: cal-2024-06}
`)
	st := memory.New(nil)
	s := newTestStreamer(t, cfg, st, testClock(), nil)
	ctx := context.Background()
	_, err := s.Run(ctx, Hints{Since: day0.Add(11 * time.Hour), Until: day0.Add(12 * time.Hour)})
	require.NoError(t, err)
	rep, err := s.Run(ctx, Hints{Until: day0.Add(12*time.Hour + 15*time.Minute)})
	require.NoError(t, err)
	require.Len(t, rep.Windows, 2, "cut at the settings change")
	assert.Equal(t, change, rep.Windows[0].Until)
	assert.False(t, rep.Windows[0].NewRepository)
	assert.True(t, rep.Windows[1].NewRepository)
	assert.Equal(t, change, rep.Windows[1].From)
	assert.NotEqual(t, rep.Windows[0].Fingerprint, rep.Windows[1].Fingerprint)
	assert.Equal(t, RepoName(testInstrument, testProject, change), rep.Windows[1].Repository)
	assert.Equal(t, "inst-gm01-prj-ch4-flux-2024-06-01t12-07-00zl1b", rep.Windows[1].Repository)

	c := readContents(t, st)
	require.Len(t, c.repos, 2)
	assertMatchesSource(t, c, cfg, day0.Add(11*time.Hour), day0.Add(12*time.Hour+15*time.Minute))
	src, err := source.New(cfg.SourceConfig())
	require.NoError(t, err)
	for i, ref := range c.repos {
		repo, last := openMain(t, st, ref)
		hist := mainHistory(t, repo)
		tags, err := repo.ListTags(ctx)
		require.NoError(t, err)
		assert.Equal(t, map[string]formatv2.ObjectID{source.StartTagName(last.Fingerprint): hist[0].SnapshotID}, tags, "repository %d", i)
		for _, w := range hist {
			assert.Equal(t, source.Fingerprint(src.SettingsAt(w.Until)), w.Fingerprint)
		}
	}
	_, last0 := openMain(t, st, c.repos[0])
	assert.Equal(t, change, last0.Until, "the old repository ends at the change")
}

func TestDaysPerFileRollover(t *testing.T) {
	cfg := testConfig(t, small+"days_per_file: 1\n")
	st := memory.New(nil)
	s := newTestStreamer(t, cfg, st, testClock(), nil)
	start := day0.Add(18 * time.Hour)
	rep, err := s.Run(context.Background(), Hints{Since: start, Until: start.Add(36 * time.Hour)})
	require.NoError(t, err)
	c := readContents(t, st)
	require.Len(t, c.repos, 2)
	assert.Equal(t, start, c.repos[0].Start)
	assert.Equal(t, start.Add(24*time.Hour), c.repos[1].Start, "the second repository starts where the first one's day ends")
	_, last0 := openMain(t, st, c.repos[0])
	assert.Equal(t, start.Add(24*time.Hour), last0.Until)
	var newRepos int
	for _, w := range rep.Windows {
		assert.LessOrEqual(t, w.Until.Sub(w.From), 4*time.Hour)
		if w.NewRepository {
			newRepos++
		}
	}
	assert.Equal(t, 2, newRepos)
	assertMatchesSource(t, c, cfg, start, start.Add(36*time.Hour))
}

func TestEmptyWindowsAdvance(t *testing.T) {
	cfg := testConfig(t, small+`source:
  instrument: gm01
  project: ch4-flux
  seed: 7
  outages: [{from: 2024-06-01T00:15:00Z, until: 2024-06-01T01:00:00Z}]
`)
	st := memory.New(nil)
	s := newTestStreamer(t, cfg, st, testClock(), nil)
	reps := runs(t, s, day0, day0.Add(90*time.Minute), 15*time.Minute)
	assert.Equal(t, 0, reps[1].Windows[0].Rows, "a window inside the outage")
	assert.Equal(t, day0.Add(30*time.Minute), reps[1].Windows[0].Until)
	assert.Equal(t, day0.Add(30*time.Minute), reps[2].Windows[0].From, "an empty window is committed and moves the resume point")
	assertMatchesSource(t, readContents(t, st), cfg, day0, day0.Add(90*time.Minute))
}

func TestNoAccessIsNotMissing(t *testing.T) {
	cfg := testConfig(t, small)
	ctx := context.Background()

	// A missing repository is created.
	st := memory.New(nil)
	_, err := newTestStreamer(t, cfg, st, testClock(), nil).Run(ctx, Hints{Since: day0, Until: day0.Add(time.Minute)})
	require.NoError(t, err)

	// Refused access is never retried and never taken for "missing".
	for _, denial := range []error{fs.ErrPermission} {
		inner := memory.New(nil)
		fst := faults.New(inner)
		require.NoError(t, fst.AddRule(faults.Rule{Err: denial}))
		sl := &fakeSleep{}
		_, err := newTestStreamer(t, cfg, fst, testClock(), sl).Run(ctx, Hints{Since: day0, Until: day0.Add(time.Minute)})
		require.ErrorIs(t, err, ErrNoAccess)
		assert.Equal(t, 0, sl.count(), "no retries")
		assert.Equal(t, 1, fst.Ops(), "stopped at the first refusal")
		infos, err := inner.List(ctx, "")
		require.NoError(t, err)
		assert.Empty(t, infos, "nothing created")
	}
	assert.True(t, IsNoAccess(fs.ErrPermission))
	assert.False(t, IsTransient(fs.ErrPermission))
	assert.False(t, IsTransient(objstore.ErrNotFound))
	assert.True(t, IsTransient(faults.ErrInjected))
}

func TestTransientErrorsRetried(t *testing.T) {
	cfg := testConfig(t, small)
	inner := memory.New(nil)
	fst := faults.New(inner)
	// Fail the 2nd chunk write twice in a row, the first branch update and
	// the 5th read once each.
	require.NoError(t, fst.AddRule(faults.Rule{Op: objstore.OpPutIfAbsent, KeyRegexp: mustRegexp(`/chunks/`), Nth: 2}))
	require.NoError(t, fst.AddRule(faults.Rule{Op: objstore.OpPutIfAbsent, KeyRegexp: mustRegexp(`/chunks/`), Nth: 3}))
	require.NoError(t, fst.AddRule(faults.Rule{Op: objstore.OpPutIfVersionMatches, Nth: 1}))
	require.NoError(t, fst.AddRule(faults.Rule{Op: objstore.OpGet, Nth: 5}))
	sl := &fakeSleep{}
	s := newTestStreamer(t, cfg, fst, testClock(), sl)
	reps := runs(t, s, day0, day0.Add(45*time.Minute), 15*time.Minute)
	assert.Equal(t, 4, fst.Fired())
	var retries int64
	for _, r := range reps {
		retries += r.Retries
	}
	assert.Equal(t, int64(4), retries)
	// The 5th read, then the 2nd chunk write (twice: the backoff doubles),
	// then the branch update.
	assert.Equal(t, []time.Duration{time.Second, time.Second, 2 * time.Second, time.Second}, sl.waits)
	c := readContents(t, inner)
	assertMatchesSource(t, c, cfg, day0, day0.Add(45*time.Minute))
	repo, _ := openMain(t, inner, c.repos[0])
	assert.Len(t, mainHistory(t, repo), 3)
}

func TestRetriesExhaustedCommitsNothingTwice(t *testing.T) {
	cfg := testConfig(t, small+"retry: {attempts: 3, initial_backoff: 2s, max_backoff: 3s}\n")
	ctx := context.Background()
	inner := memory.New(nil)
	fst := faults.New(inner)
	clock := testClock()
	s := newTestStreamer(t, cfg, fst, clock, nil)
	runs(t, s, day0, day0.Add(30*time.Minute), 15*time.Minute)

	// Every update of the repo object fails: the window cannot commit.
	require.NoError(t, fst.AddRule(faults.Rule{Op: objstore.OpPutIfVersionMatches, KeyRegexp: mustRegexp(`/repo$`)}))
	sl := &fakeSleep{}
	s = newTestStreamer(t, cfg, fst, clock, sl)
	_, err := s.Run(ctx, Hints{Until: day0.Add(45 * time.Minute)})
	require.ErrorIs(t, err, ErrRetriesExhausted)
	assert.Contains(t, err.Error(), "failed 3 times")
	assert.Equal(t, []time.Duration{2 * time.Second, 3 * time.Second}, sl.waits, "backoff capped at max_backoff")
	c := readContents(t, inner)
	assertMatchesSource(t, c, cfg, day0, day0.Add(30*time.Minute))

	// The next run (storage healthy again) commits the window once.
	fst.ClearRules()
	_, err = s.Run(ctx, Hints{Until: day0.Add(45 * time.Minute)})
	require.NoError(t, err)
	c = readContents(t, inner)
	assertMatchesSource(t, c, cfg, day0, day0.Add(45*time.Minute))
	repo, _ := openMain(t, inner, c.repos[0])
	hist := mainHistory(t, repo)
	require.Len(t, hist, 3)
	assert.Equal(t, day0.Add(30*time.Minute), hist[2].From)
}

func TestAmbiguousWriteThatLandedIsNotRepeated(t *testing.T) {
	for _, spec := range []int{1, 2} {
		t.Run(map[int]string{1: "spec1", 2: "spec2"}[spec], func(t *testing.T) {
			cfg := testConfig(t, small+"spec_version: "+string(rune('0'+spec))+"\n")
			inner := memory.New(nil)
			fst := faults.New(inner)
			// The branch update lands, but its caller sees an error.
			require.NoError(t, fst.AddRule(faults.Rule{Op: objstore.OpPutIfVersionMatches, Nth: 2, AfterApply: true}))
			sl := &fakeSleep{}
			s := newTestStreamer(t, cfg, fst, testClock(), sl)
			runs(t, s, day0, day0.Add(45*time.Minute), 15*time.Minute)
			assert.Equal(t, 1, fst.Fired())
			c := readContents(t, inner)
			assertMatchesSource(t, c, cfg, day0, day0.Add(45*time.Minute))
			repo, _ := openMain(t, inner, c.repos[0])
			assert.Len(t, mainHistory(t, repo), 3)
			assert.Equal(t, spec, repo.SpecVersion())
		})
	}
}

func TestSpec1RepositoryStaysSpec1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := local.Open(dir, nil)
	require.NoError(t, err)
	clock := testClock()
	// Created at spec 1 ...
	s1 := newTestStreamer(t, testConfig(t, small+"spec_version: 1\n"), st, clock, nil)
	runs(t, s1, day0, day0.Add(30*time.Minute), 15*time.Minute)
	// ... and appended to by a streamer configured for spec 2.
	cfg := testConfig(t, small)
	s2 := newTestStreamer(t, cfg, st, clock, nil)
	_, err = s2.Run(ctx, Hints{Until: day0.Add(time.Hour)})
	require.NoError(t, err)

	c := readContents(t, st)
	require.Len(t, c.repos, 1)
	assertMatchesSource(t, c, cfg, day0, day0.Add(time.Hour))
	repo, _ := openMain(t, st, c.repos[0])
	assert.Equal(t, formatv2.SpecVersion1, repo.SpecVersion())
	_, _, err = mustSub(t, st, c.repos[0]).Get(ctx, "repo")
	require.ErrorIs(t, err, objstore.ErrNotFound, "no spec-2 repo object")

	// The 1.x library reads it: fsck clean, same history, same timestamps.
	v1, err := formatv1.Open(ctx, mustSub(t, st, c.repos[0]), formatv1.Options{})
	require.NoError(t, err)
	findings, err := v1.Fsck(ctx)
	require.NoError(t, err)
	assert.Empty(t, findings)
	tags, err := v1.ListTags(ctx)
	require.NoError(t, err)
	assert.Len(t, tags, 1)
	sess, err := v1.ReadonlySession(ctx, formatv1.BranchRef("main"))
	require.NoError(t, err)
	doc, err := sess.Get(ctx, "timestamp/zarr.json")
	require.NoError(t, err)
	var meta struct{ Shape []int }
	require.NoError(t, json.Unmarshal(doc, &meta))
	assert.Equal(t, []int{len(c.ts)}, meta.Shape)
}

func TestRead(t *testing.T) {
	change := day0.Add(time.Hour)
	cfg := testConfig(t, small+`source:
  instrument: gm01
  project: ch4-flux
  seed: 7
  settings_changes: [{at: `+change.Format(time.RFC3339)+`, settings: {fit_model: gauss}}]
`)
	st := memory.New(nil)
	s := newTestStreamer(t, cfg, st, testClock(), nil)
	runs(t, s, day0, day0.Add(2*time.Hour), 30*time.Minute)
	c := readContents(t, st)
	require.Len(t, c.repos, 2)
	ctx := context.Background()
	n := len(c.ts)

	// The last rows, across the repository boundary.
	second := 0
	for _, ts := range c.ts {
		if ts > change.UnixNano() {
			second++
		}
	}
	got, err := s.Read(ctx, ReadRequest{Variable: "ch4", Last: second + 10})
	require.NoError(t, err)
	assert.Equal(t, c.ts[n-second-10:], got.Timestamps)
	requireSameFloats(t, "ch4", c.f64["ch4"][n-second-10:], got.Values)
	assert.Equal(t, []string{c.repos[0].Name, c.repos[1].Name}, got.Repositories)

	got, err = s.Read(ctx, ReadRequest{Variable: "measurement_validity", Last: 5})
	require.NoError(t, err)
	for i, v := range c.i32["measurement_validity"][n-5:] {
		assert.Equal(t, float64(v), got.Values[i])
	}

	// A range, inclusive at both ends.
	from, to := c.ts[100], c.ts[n-50]
	got, err = s.Read(ctx, ReadRequest{Variable: "h2o", From: time.Unix(0, from), To: time.Unix(0, to)})
	require.NoError(t, err)
	assert.Equal(t, c.ts[100:n-49], got.Timestamps)
	requireSameFloats(t, "h2o", c.f64["h2o"][100:n-49], got.Values)

	_, err = s.Read(ctx, ReadRequest{Variable: "nope", Last: 1})
	require.ErrorIs(t, err, ErrUnknownVariable)
	_, err = s.Read(ctx, ReadRequest{Variable: "speed", Last: 1})
	require.ErrorIs(t, err, ErrUnknownVariable, "minimal data has no wind")
}

func TestMaintainExpiresAndCollects(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, small)
	clock := objstore.NewVirtualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Millisecond)
	inner := memory.New(clock)
	fst := faults.New(inner)
	s := newTestStreamer(t, cfg, fst, clock, nil)
	for i := 1; i <= 6; i++ {
		_, err := s.Run(ctx, Hints{Since: day0, Until: day0.Add(time.Duration(i) * 15 * time.Minute)})
		require.NoError(t, err)
		clock.Advance(time.Hour)
	}
	before, err := inner.List(ctx, "")
	require.NoError(t, err)

	rep, err := s.Maintain(ctx, MaintainOptions{ExpireOlderThan: 150 * time.Minute, GC: true})
	require.NoError(t, err)
	require.False(t, rep.Failed)
	require.Len(t, rep.Repositories, 1)
	steps := rep.Repositories[0].Steps
	require.Len(t, steps, 3)
	assert.Equal(t, OutcomeOK, steps[1].Outcome)
	assert.Equal(t, 3, steps[1].Details["released_snapshots"], "windows 1-3 were flushed before the cutoff")
	assert.Equal(t, OutcomeOK, steps[2].Outcome)
	assert.Positive(t, steps[2].Details["chunks_deleted"], "rewritten partial chunks are garbage")
	after, err := inner.List(ctx, "")
	require.NoError(t, err)
	assert.Less(t, len(after), len(before))
	c := readContents(t, inner)
	assertMatchesSource(t, c, cfg, day0, day0.Add(90*time.Minute))
	repo, _ := openMain(t, inner, c.repos[0])
	findings, err := repo.Fsck(ctx)
	require.NoError(t, err)
	assert.Empty(t, findings)

	// A failing step is reported as failed, never as skipped, and the next
	// step still reports its own outcome.
	_, err = s.Run(ctx, Hints{Until: day0.Add(2 * time.Hour)})
	require.NoError(t, err)
	clock.Advance(5 * time.Hour)
	require.NoError(t, fst.AddRule(faults.Rule{Op: objstore.OpPutIfVersionMatches, Err: objstore.ErrInvalidKey}))
	require.NoError(t, fst.AddRule(faults.Rule{Op: objstore.OpDelete, Err: objstore.ErrInvalidKey}))
	rep, err = s.Maintain(ctx, MaintainOptions{ExpireOlderThan: time.Hour, GC: true})
	require.NoError(t, err)
	assert.True(t, rep.Failed)
	steps = rep.Repositories[0].Steps
	assert.Equal(t, OutcomeFailed, steps[1].Outcome)
	assert.Contains(t, steps[1].Error, "invalid object key")
	assert.Equal(t, OutcomeFailed, steps[2].Outcome)

	rep, err = s.Maintain(ctx, MaintainOptions{ExpireOlderThan: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, OutcomeSkipped, rep.Repositories[0].Steps[2].Outcome, "gc not asked for")
	_, err = s.Maintain(ctx, MaintainOptions{})
	require.Error(t, err)
}

func TestDiscoverIgnoresOtherNames(t *testing.T) {
	ctx := context.Background()
	st := memory.New(nil)
	put := func(key string) {
		_, err := st.Put(ctx, key, []byte("x"))
		require.NoError(t, err)
	}
	a := NewRepoRef(testInstrument, testProject, day0.Add(36*time.Hour))
	b := NewRepoRef(testInstrument, testProject, day0.Add(90*time.Second+700*time.Millisecond))
	put(a.Path + "/repo")
	put(b.Path + "/snapshots/X")
	for _, junk := range []string{
		"gm01/ch4-flux/notes.txt",
		"gm01/ch4-flux/inst-gm01-prj-ch4-flux-2024-13-01t00-00-00zl1b/repo", // month 13
		"gm01/ch4-flux/inst-gm01-prj-ch4-flux-2024-06-01t00-00-00z/repo",    // no l1b
		"gm01/ch4-flux/inst-gm02-prj-ch4-flux-2024-06-01t00-00-00zl1b/repo", // other instrument
		"gm01/ch4-flux/inst-gm01-prj-ch4-flux-2024-06-01T00-00-00Zl1b/repo", // upper case
		"gm01/other/inst-gm01-prj-other-2024-06-01t00-00-00zl1b/repo",       // other project
	} {
		put(junk)
	}
	refs, err := Discover(ctx, st, testInstrument, testProject)
	require.NoError(t, err)
	require.Equal(t, []RepoRef{b, a}, refs)
	assert.Equal(t, "inst-gm01-prj-ch4-flux-2024-06-01t00-01-30zl1b", b.Name)
	assert.Equal(t, day0.Add(90*time.Second), b.Start)

	// The delimiter listing of the local target finds the same.
	dir := t.TempDir()
	tgt, err := OpenTarget(ctx, dir, nil)
	require.NoError(t, err)
	require.Implements(t, (*DirLister)(nil), tgt)
	infos, err := st.List(ctx, "")
	require.NoError(t, err)
	for _, in := range infos {
		_, err := tgt.Put(ctx, in.Key, []byte("x"))
		require.NoError(t, err)
	}
	refs, err = Discover(ctx, tgt, testInstrument, testProject)
	require.NoError(t, err)
	require.Equal(t, []RepoRef{b, a}, refs)

	start, ok := ParseRepoName(testInstrument, testProject, a.Name)
	assert.True(t, ok)
	assert.Equal(t, a.Start, start)
	_, ok = ParseRepoName("gm.01", testProject, "inst-gmx01-prj-ch4-flux-2024-06-01t00-00-00zl1b")
	assert.False(t, ok, "instrument names are matched literally")
}

func TestSubStore(t *testing.T) {
	ctx := context.Background()
	st := memory.New(nil)
	sub, err := SubStore(st, "/a/b/")
	require.NoError(t, err)
	_, err = sub.Put(ctx, "x/y", []byte("1"))
	require.NoError(t, err)
	_, err = st.Put(ctx, "a/bc", []byte("2"))
	require.NoError(t, err)
	data, _, err := st.Get(ctx, "a/b/x/y")
	require.NoError(t, err)
	assert.Equal(t, "1", string(data))
	infos, err := sub.List(ctx, "")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.Equal(t, "x/y", infos[0].Key)
	_, err = sub.Put(ctx, "../z", nil)
	require.ErrorIs(t, err, objstore.ErrInvalidKey)
	_, err = SubStore(st, "a/../b")
	require.ErrorIs(t, err, objstore.ErrInvalidKey)
	assert.True(t, strings.HasSuffix(sub.String(), "/a/b"), sub.String())
}

func TestConfig(t *testing.T) {
	cfg := testConfig(t, "")
	assert.Equal(t, 15, cfg.StreamingMinutes)
	assert.Equal(t, 4*time.Hour, cfg.MaxWindow)
	assert.Equal(t, 1, cfg.DaysPerFile)
	assert.Equal(t, DataMinimal, cfg.Data)
	assert.Equal(t, 1000, cfg.ChunkTimestamps)
	assert.Equal(t, 2, cfg.SpecVersion)
	assert.Equal(t, DefaultRetry, cfg.Retry)

	cfg = testConfig(t, "max_window: 90m\ndays_per_file: 7\ndata: all\nchunk_timestamps: 250\nstreaming_minutes: 5\n")
	assert.Equal(t, 90*time.Minute, cfg.MaxWindow)
	assert.Equal(t, 7, cfg.DaysPerFile)
	assert.Equal(t, DataAll, cfg.Data)

	for doc, field := range map[string]string{
		"source: {instrument: gm01, project: p}\nmax_windw: 4h\n":                          "max_windw",
		"source: {instrument: gm01, project: p}\ndata: some\n":                             "data",
		"source: {instrument: gm01, project: p}\ndays_per_file: -1\n":                      "days_per_file",
		"source: {instrument: gm01, project: p}\nmax_window: 48h\n":                        "max_window",
		"source: {instrument: gm01, project: p}\nvariables: [ch5]\n":                       "ch5",
		"source: {instrument: gm01, project: p}\nvariables: [speed]\n":                     "variables",
		"source: {instrument: gm/01, project: p}\n":                                        "instrument",
		"source: {instrument: gm01, project: p}\nspec_version: 3\n":                        "spec_version",
		"source: {instrument: gm01, project: p}\nretry: {attempts: 0, max_backoff: -1s}\n": "retry",
		"source: [1, 2]\n": "line 1",
	} {
		_, err := ParseConfig("cfg.yaml", []byte(doc))
		require.ErrorIs(t, err, ErrConfig, doc)
		assert.Contains(t, strings.ToLower(err.Error()), field, doc)
		assert.Contains(t, err.Error(), "cfg.yaml", doc)
	}
	_, err := LoadConfig(t.TempDir() + "/missing.yaml")
	require.ErrorIs(t, err, ErrConfig)
}

func mustRegexp(s string) *regexp.Regexp { return regexp.MustCompile(s) }

func mustSub(t testing.TB, st objstore.Store, ref RepoRef) objstore.Store {
	t.Helper()
	sub, err := SubStore(st, ref.Path)
	require.NoError(t, err)
	return sub
}

// TestConcurrentRuns runs two streamers on one target at once, as two
// overlapping cron runs would: every window is committed once, whichever
// run wins each compare-and-swap.
func TestConcurrentRuns(t *testing.T) {
	cfg := testConfig(t, small+`max_window: 20m
source:
  instrument: gm01
  project: ch4-flux
  seed: 7
  settings_changes: [{at: 2024-06-01T01:30:00Z, settings: {fit_model: gauss}}]
`)
	st := memory.New(nil)
	clock := testClock()
	ctx := context.Background()
	_, err := newTestStreamer(t, cfg, st, clock, nil).Run(ctx, Hints{Since: day0, Until: day0.Add(15 * time.Minute)})
	require.NoError(t, err)
	errs := make(chan error, 2)
	for range 2 {
		s := newTestStreamer(t, cfg, st, clock, nil)
		go func() {
			_, err := s.Run(ctx, Hints{Until: day0.Add(3 * time.Hour)})
			errs <- err
		}()
	}
	for range 2 {
		require.NoError(t, <-errs)
	}
	c := readContents(t, st)
	require.Len(t, c.repos, 2, "the settings change starts one repository, whoever gets there first")
	assertMatchesSource(t, c, cfg, day0, day0.Add(3*time.Hour))
	for _, ref := range c.repos {
		repo, last := openMain(t, st, ref)
		hist := mainHistory(t, repo)
		for i := 1; i < len(hist); i++ {
			require.Equal(t, hist[i-1].Until, hist[i].From, "windows are contiguous")
		}
		tags, err := repo.ListTags(ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]formatv2.ObjectID{source.StartTagName(last.Fingerprint): hist[0].SnapshotID}, tags)
	}
}
