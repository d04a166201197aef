package streamer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/formatv1"
	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/memory"
	"github.com/icerig/icerig/streamer/invariants"
	"github.com/icerig/icerig/streamer/source"
	"github.com/icerig/icerig/zarr"
)

// Paths of the other writer's data in the shared repositories of these
// tests.
const otherGroup, otherArray = "rig", "rig/data"

// otherWrite is another writer of a shared repository: it (re)writes the
// float64 array rig/data with vals, and, when rootAttrs is set, the root
// group with those attributes, and commits on main.
func otherWrite(t testing.TB, st objstore.Store, clock objstore.Clock, vals []float64, rootAttrs string) formatv2.ObjectID {
	t.Helper()
	ctx := context.Background()
	repo, err := formatv2.Open(ctx, st, formatv2.Options{Clock: clock})
	require.NoError(t, err)
	sess, err := repo.WritableSession(ctx, "main")
	require.NoError(t, err)
	if rootAttrs != "" {
		doc, err := zarr.NewGroup(json.RawMessage(rootAttrs))
		require.NoError(t, err)
		require.NoError(t, sess.Set(ctx, zarr.MetadataFile, doc))
	}
	group, err := zarr.NewGroup(nil)
	require.NoError(t, err)
	require.NoError(t, sess.Set(ctx, zarr.MetadataKey("/"+otherGroup), group))
	doc, err := zarr.NewArray(&zarr.ArrayMetadata{
		Shape: []uint64{uint64(len(vals))}, ChunkShape: []uint64{4}, DataType: zarr.Float64, FillValue: zarr.FloatFill(0),
	})
	require.NoError(t, err)
	require.NoError(t, sess.Set(ctx, zarr.MetadataKey("/"+otherArray), doc))
	meta, err := zarr.ParseMetadata(otherArray, doc)
	require.NoError(t, err)
	require.NoError(t, zarr.WriteArray(meta.Array, vals, func(coords []uint32, chunk []byte) error {
		return sess.Set(ctx, zarr.ChunkKey("/"+otherArray, coords, meta.Array.ChunkKeyEncoding), chunk)
	}))
	id, err := sess.Commit(ctx, "the rig's own array", nil)
	require.NoError(t, err)
	return id
}

// v1Reader opens a read-only formatv1 session on main of the spec-1
// repository in st.
func v1Reader(t testing.TB, st objstore.Store) *formatv1.Session {
	t.Helper()
	ctx := context.Background()
	repo, err := formatv1.Open(ctx, st, formatv1.Options{})
	require.NoError(t, err)
	sess, err := repo.ReadonlySession(ctx, formatv1.BranchRef("main"))
	require.NoError(t, err)
	return sess
}

func v1NotFound(err error) bool { return errors.Is(err, formatv1.ErrKeyNotFound) }
func v2NotFound(err error) bool { return errors.Is(err, formatv2.ErrKeyNotFound) }

// tamper rewrites a row of a chunk of an array (1-D, or 2-D with one chunk
// per row block) through a formatv2
// session and commits.
func tamper[T element](t testing.TB, st objstore.Store, clock objstore.Clock, array string, row int, f func(vals []T, i int)) {
	t.Helper()
	ctx := context.Background()
	repo, err := formatv2.Open(ctx, st, formatv2.Options{Clock: clock})
	require.NoError(t, err)
	sess, err := repo.WritableSession(ctx, "main")
	require.NoError(t, err)
	doc, err := sess.Get(ctx, zarr.MetadataKey("/"+array))
	require.NoError(t, err)
	meta, err := zarr.ParseMetadata(array, doc)
	require.NoError(t, err)
	c := int(meta.Array.ChunkShape[0])
	coords := make([]uint32, len(meta.Array.Shape))
	coords[0] = uint32(row / c)
	key := zarr.ChunkKey("/"+array, coords, meta.Array.ChunkKeyEncoding)
	data, err := sess.Get(ctx, key)
	require.NoError(t, err)
	dec, err := zarr.DecodeChunk(meta.Array, data)
	require.NoError(t, err)
	vals := dec.([]T)
	f(vals, row%c)
	enc, err := zarr.EncodeChunk(meta.Array, vals)
	require.NoError(t, err)
	require.NoError(t, sess.Set(ctx, key, enc))
	_, err = sess.Commit(ctx, "tamper with "+key, nil)
	require.NoError(t, err)
}

// deleteKey deletes a key through a formatv2 session and commits.
func deleteKey(t testing.TB, st objstore.Store, clock objstore.Clock, key string) {
	t.Helper()
	ctx := context.Background()
	repo, err := formatv2.Open(ctx, st, formatv2.Options{Clock: clock})
	require.NoError(t, err)
	sess, err := repo.WritableSession(ctx, "main")
	require.NoError(t, err)
	require.NoError(t, sess.Delete(ctx, key))
	_, err = sess.Commit(ctx, "delete "+key, nil)
	require.NoError(t, err)
}

func rootAttributes(t testing.TB, sess KeyReader) map[string]any {
	t.Helper()
	doc, err := sess.Get(context.Background(), zarr.MetadataFile)
	require.NoError(t, err)
	var g struct {
		Attributes map[string]any `json:"attributes"`
	}
	require.NoError(t, json.Unmarshal(doc, &g))
	return g.Attributes
}

func TestRunRepoSpec1SharedWithAnotherWriter(t *testing.T) {
	ctx := context.Background()
	clock := testClock()
	st := memory.New(clock)
	_, err := formatv2.Create(ctx, st, formatv2.CreateOptions{SpecVersion: formatv2.SpecVersion1}, formatv2.Options{Clock: clock})
	require.NoError(t, err)
	rigVals := []float64{1, 2, 3, 4, 5, 6, 7}
	otherWrite(t, st, clock, rigVals, `{"owner": "rig"}`)

	cfg := testConfig(t, small+"max_window: 1h\n")
	var logs bytes.Buffer
	s, err := New(cfg, memory.New(nil), Options{Clock: clock, Sleep: (&fakeSleep{}).sleep, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)

	// First run: three windows from the since-hint.
	rep, err := s.RunRepo(ctx, st, Hints{Since: day0, Until: day0.Add(150 * time.Minute)})
	require.NoError(t, err)
	require.Len(t, rep.Windows, 3)
	assert.Equal(t, day0, rep.From)
	assert.True(t, rep.Windows[0].NewRepository, "first streamer window of the repository")
	assert.False(t, rep.Windows[1].NewRepository)
	assert.Equal(t, st.String(), rep.Windows[0].Repository)
	assert.Positive(t, rep.Windows[0].BytesWritten)
	assert.Equal(t, 30*time.Minute, rep.Windows[2].Until.Sub(rep.Windows[2].From))

	// The other writer commits on top; the next run resumes from the
	// streamer's last window found in main's history, ignoring a later
	// since-hint (no gap).
	rigVals = []float64{10, 20, 30}
	otherWrite(t, st, clock, rigVals, "")
	rep, err = s.RunRepo(ctx, st, Hints{Since: day0.Add(5 * time.Hour), Until: day0.Add(4 * time.Hour)})
	require.NoError(t, err)
	require.Len(t, rep.Windows, 2)
	assert.Equal(t, day0.Add(150*time.Minute), rep.From)
	assert.Equal(t, day0.Add(150*time.Minute), rep.Windows[0].From)

	// Nothing to do up to an earlier until.
	rep, err = s.RunRepo(ctx, st, Hints{Until: day0.Add(3 * time.Hour)})
	require.NoError(t, err)
	assert.True(t, rep.UpToDate)
	assert.Empty(t, rep.Windows)

	// Another writer commits while the streamer is between windows: the
	// streamer's window conflicts, is planned again on the new tip and
	// commits.
	moved := false
	s.SetProgress(func(WindowReport) {
		if !moved {
			moved = true
			otherWrite(t, st, clock, rigVals, "")
		}
	})
	rep, err = s.RunRepo(ctx, st, Hints{Until: day0.Add(6 * time.Hour)})
	require.NoError(t, err)
	require.True(t, moved)
	require.Len(t, rep.Windows, 2)
	assert.Contains(t, logs.String(), "branch moved by another writer", "the second window conflicted")
	s.SetProgress(nil)
	end := day0.Add(6 * time.Hour)

	// History: contiguous windows, one tag on the first, spec 1 kept.
	repo, err := formatv2.Open(ctx, st, formatv2.Options{})
	require.NoError(t, err)
	assert.Equal(t, formatv2.SpecVersion1, repo.SpecVersion())
	hist := mainHistory(t, repo)
	require.Len(t, hist, 7)
	assert.Equal(t, day0, hist[0].From)
	for i := 1; i < len(hist); i++ {
		assert.Equal(t, hist[i-1].Until, hist[i].From, "windows are contiguous")
	}
	assert.Equal(t, end, hist[len(hist)-1].Until)
	tags, err := repo.ListTags(ctx)
	require.NoError(t, err)
	fp := source.Fingerprint(source.DefaultSettings())
	assert.Equal(t, map[string]formatv2.ObjectID{source.StartTagName(fp): hist[0].SnapshotID}, tags)

	// The 1.x library reads exactly the source's data, and the other
	// writer's array as it last wrote it.
	sess := v1Reader(t, st)
	chk, err := CheckAgainstSource(ctx, sess, v1NotFound, nil, cfg, day0, end)
	require.NoError(t, err)
	src, err := source.New(cfg.SourceConfig())
	require.NoError(t, err)
	want, err := src.ReadParts(day0, end, source.PartTimestamp)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{ArrayTimestamp: want.Len()}, chk.Rows)
	assert.Equal(t, []string{ArrayRetro, ArrayRetroLatitude, ArrayRetroLongitude, ArrayRetroAltitude, ArrayTimestamp, "ch4", "h2o", "measurement_validity"}, chk.Arrays)
	assert.Equal(t, int64(4*src.Retro().Len()+4*want.Len()), chk.Values)
	assert.Zero(t, chk.MissingChunks)

	doc, err := sess.Get(ctx, zarr.MetadataKey("/"+otherArray))
	require.NoError(t, err)
	meta, err := zarr.ParseMetadata(otherArray, doc)
	require.NoError(t, err)
	got, err := zarr.ReadArray(meta.Array, func(coords []uint32) ([]byte, bool, error) {
		b, err := sess.Get(ctx, zarr.ChunkKey("/"+otherArray, coords, meta.Array.ChunkKeyEncoding))
		return b, err == nil, err
	})
	require.NoError(t, err)
	assert.Equal(t, rigVals, got)

	// The streamer replaced the root attributes; the coverage starts at
	// the first window.
	attrs := rootAttributes(t, sess)
	assert.NotContains(t, attrs, "owner")
	assert.Equal(t, day0.Format(time.RFC3339Nano), attrs["time_coverage_start"])
	assert.Equal(t, end.Format(time.RFC3339Nano), attrs["time_coverage_end"])
	assert.Equal(t, newLayout(src, cfg).id, attrs["icestream_layout"])

	// A range the repository does not hold exactly is a violation.
	_, err = CheckAgainstSource(ctx, sess, v1NotFound, nil, cfg, day0, end.Add(-time.Hour))
	require.ErrorIs(t, err, invariants.ErrViolation)
	_, err = CheckAgainstSource(ctx, sess, v1NotFound, nil, cfg, day0.Add(time.Minute), end)
	require.ErrorIs(t, err, invariants.ErrViolation)

	// A missing chunk reads as the fill value (NaN), which the source
	// does not have.
	deleteKey(t, st, clock, "h2o/c/1")
	_, err = CheckAgainstSource(ctx, v1Reader(t, st), v1NotFound, nil, cfg, day0, end)
	require.ErrorIs(t, err, ErrSourceMismatch)
	assert.Contains(t, err.Error(), "array h2o: row 100 is NaN")
	// Without a not-found predicate a missing chunk is a read error.
	_, err = CheckAgainstSource(ctx, v1Reader(t, st), nil, nil, cfg, day0, end)
	require.ErrorIs(t, err, formatv1.ErrKeyNotFound)
	assert.Contains(t, err.Error(), "h2o/c/1")

	// A tampered value is found and named.
	tamper(t, st, clock, "ch4", 307, func(v []float64, i int) { v[i] += 1 })
	_, err = CheckAgainstSource(ctx, v1Reader(t, st), v1NotFound, nil, cfg, day0, end)
	require.ErrorIs(t, err, ErrSourceMismatch)
	assert.Contains(t, err.Error(), "array ch4: row 307 is")

	// A repeated timestamp breaks the invariants.
	tamper(t, st, clock, ArrayTimestamp, 42, func(v []int64, i int) { v[i] = v[i-1] })
	_, err = CheckAgainstSource(ctx, v1Reader(t, st), v1NotFound, nil, cfg, day0, end)
	require.ErrorIs(t, err, invariants.ErrViolation)
	assert.Contains(t, err.Error(), "timestamp: timestamps not strictly increasing at row 42")

	// The streamer keeps appending on top of the foreign commits.
	rep, err = s.RunRepo(ctx, st, Hints{Until: end.Add(30 * time.Minute)})
	require.NoError(t, err)
	require.Len(t, rep.Windows, 1)
}

func TestRunRepoSpec2AllData(t *testing.T) {
	ctx := context.Background()
	clock := testClock()
	st := memory.New(clock)
	_, err := formatv2.Create(ctx, st, formatv2.CreateOptions{SpecVersion: formatv2.SpecVersion2}, formatv2.Options{Clock: clock})
	require.NoError(t, err)
	otherWrite(t, st, clock, []float64{1, 2}, `{"owner": "rig"}`)
	cfg := testConfig(t, "data: all\nchunk_timestamps: 500\nmax_window: 10m\n")
	s := newTestStreamer(t, cfg, memory.New(nil), clock, nil)
	rep, err := s.RunRepo(ctx, st, Hints{Since: day0, Until: day0.Add(20 * time.Minute)})
	require.NoError(t, err)
	require.Len(t, rep.Windows, 2)
	rep, err = s.RunRepo(ctx, st, Hints{Until: day0.Add(25 * time.Minute)})
	require.NoError(t, err)
	require.Len(t, rep.Windows, 1)
	end := day0.Add(25 * time.Minute)

	repo, err := formatv2.Open(ctx, st, formatv2.Options{})
	require.NoError(t, err)
	assert.Equal(t, formatv2.SpecVersion2, repo.SpecVersion())
	sess, err := repo.ReadonlySession(ctx, formatv2.BranchRef("main"))
	require.NoError(t, err)
	chk, err := CheckAgainstSource(ctx, sess, v2NotFound, nil, cfg, day0, end)
	require.NoError(t, err)
	assert.Positive(t, chk.Rows[ArrayTimestamp])
	assert.Positive(t, chk.Rows[ArrayHighResTimestamp])
	assert.Len(t, chk.Arrays, 4+1+72+1+6+2, "retro table, per-timestamp, high-rate and waveform arrays")
	assert.Contains(t, chk.Arrays, "windx")

	// A tampered waveform sample is found.
	wf := newLayout(mustSource(t, cfg), cfg).waveforms[0].name
	tamper(t, st, clock, wf, 3, func(v []float32, i int) { v[i*source.WaveformSamples+5] += 1 })
	sess, err = repo.ReadonlySession(ctx, formatv2.BranchRef("main"))
	require.NoError(t, err)
	_, err = CheckAgainstSource(ctx, sess, v2NotFound, nil, cfg, day0, end)
	require.ErrorIs(t, err, ErrSourceMismatch)
	assert.Contains(t, err.Error(), "array "+wf+": row 3 sample 5")
}

func mustSource(t testing.TB, cfg *Config) *source.Source {
	t.Helper()
	src, err := source.New(cfg.SourceConfig())
	require.NoError(t, err)
	return src
}

func TestRunRepoHintsAndMissingRepository(t *testing.T) {
	ctx := context.Background()
	clock := testClock()
	cfg := testConfig(t, small)
	s := newTestStreamer(t, cfg, memory.New(nil), clock, nil)

	empty := memory.New(clock)
	_, err := s.RunRepo(ctx, empty, Hints{Since: day0, Until: day0.Add(time.Hour)})
	require.ErrorIs(t, err, ErrRepositoryState)
	require.ErrorIs(t, err, formatv2.ErrNotARepository)
	keys, err := empty.List(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, keys, "no repository is created")

	st := memory.New(clock)
	_, err = formatv2.Create(ctx, st, formatv2.CreateOptions{}, formatv2.Options{Clock: clock})
	require.NoError(t, err)
	_, err = s.RunRepo(ctx, st, Hints{Until: day0.Add(time.Hour)})
	require.ErrorIs(t, err, ErrMissingHint, "no since-hint and no window")
	_, err = s.RunRepo(ctx, st, Hints{Since: day0})
	require.ErrorIs(t, err, ErrMissingHint, "no until-hint")
	repo, err := formatv2.Open(ctx, st, formatv2.Options{})
	require.NoError(t, err)
	last, err := LastWindow(ctx, repo)
	require.NoError(t, err)
	assert.Nil(t, last, "nothing committed")

	// Once a window is committed, the since-hint is no longer needed.
	_, err = s.RunRepo(ctx, st, Hints{Since: day0, Until: day0.Add(10 * time.Minute)})
	require.NoError(t, err)
	rep, err := s.RunRepo(ctx, st, Hints{Until: day0.Add(20 * time.Minute)})
	require.NoError(t, err)
	require.Len(t, rep.Windows, 1)
	assert.Equal(t, day0.Add(10*time.Minute), rep.Windows[0].From)
}

func TestRunRepoRefusesOtherSettingsOrLayout(t *testing.T) {
	ctx := context.Background()
	clock := testClock()
	change := day0.Add(90 * time.Minute)
	cfg := testConfig(t, small+"max_window: 1h\n"+`source:
  instrument: gm01
  project: ch4-flux
  seed: 7
  settings_changes: [{at: `+change.Format(time.RFC3339)+`, settings: {fit_model: gauss}}]
`)
	st := memory.New(clock)
	_, err := formatv2.Create(ctx, st, formatv2.CreateOptions{SpecVersion: formatv2.SpecVersion1}, formatv2.Options{Clock: clock})
	require.NoError(t, err)
	s := newTestStreamer(t, cfg, memory.New(nil), clock, nil)

	// The windows stop at the settings change; the next one has another
	// fingerprint and would need a new repository.
	rep, err := s.RunRepo(ctx, st, Hints{Since: day0, Until: day0.Add(3 * time.Hour)})
	require.ErrorIs(t, err, ErrRepositoryState)
	assert.Contains(t, err.Error(), "needs a new repository")
	require.Len(t, rep.Windows, 2)
	assert.Equal(t, change, rep.Windows[1].Until)
	repo, err := formatv2.Open(ctx, st, formatv2.Options{})
	require.NoError(t, err)
	last, err := LastWindow(ctx, repo)
	require.NoError(t, err)
	assert.Equal(t, change, last.Until, "nothing after the change is committed")
	_, err = s.RunRepo(ctx, st, Hints{Until: day0.Add(3 * time.Hour)})
	require.ErrorIs(t, err, ErrRepositoryState, "a later run refuses too")

	// Up to the change, the data is exactly the source's.
	_, err = CheckAgainstSource(ctx, v1Reader(t, st), v1NotFound, nil, cfg, day0, change)
	require.NoError(t, err)

	// Another layout (other variables) is refused as well, before writing.
	otherCfg := testConfig(t, "chunk_timestamps: 100\nvariables: [ch4]\n")
	st2 := memory.New(clock)
	_, err = formatv2.Create(ctx, st2, formatv2.CreateOptions{}, formatv2.Options{Clock: clock})
	require.NoError(t, err)
	_, err = newTestStreamer(t, cfg, memory.New(nil), clock, nil).RunRepo(ctx, st2, Hints{Since: day0, Until: day0.Add(10 * time.Minute)})
	require.NoError(t, err)
	_, err = newTestStreamer(t, otherCfg, memory.New(nil), clock, nil).RunRepo(ctx, st2, Hints{Until: day0.Add(20 * time.Minute)})
	require.ErrorIs(t, err, ErrRepositoryState)
	assert.Contains(t, err.Error(), "layout")
}

func TestRunRepoAfterWindowsExpired(t *testing.T) {
	ctx := context.Background()
	clock := testClock()
	st := memory.New(clock)
	_, err := formatv2.Create(ctx, st, formatv2.CreateOptions{SpecVersion: formatv2.SpecVersion1}, formatv2.Options{Clock: clock})
	require.NoError(t, err)
	cfg := testConfig(t, small+"max_window: 10m\n")
	s := newTestStreamer(t, cfg, memory.New(nil), clock, nil)
	mid := day0.Add(20 * time.Minute)
	rep, err := s.RunRepo(ctx, st, Hints{Since: day0, Until: mid})
	require.NoError(t, err)
	require.Len(t, rep.Windows, 2)

	// Another writer commits an hour later, and everything older is
	// expired: main's history no longer holds a streamer window, though
	// the arrays hold its rows.
	clock.Advance(time.Hour)
	otherWrite(t, st, clock, []float64{1}, "")
	repo, err := formatv2.Open(ctx, st, formatv2.Options{Clock: clock})
	require.NoError(t, err)
	_, err = repo.ExpireSnapshots(ctx, clock.Peek().Add(-time.Minute), false, false)
	require.NoError(t, err)
	last, err := LastWindow(ctx, repo)
	require.NoError(t, err)
	require.Nil(t, last, "the windows left main's history")

	_, err = s.RunRepo(ctx, st, Hints{Until: mid.Add(10 * time.Minute)})
	require.ErrorIs(t, err, ErrMissingHint)
	_, err = s.RunRepo(ctx, st, Hints{Since: day0.Add(10 * time.Minute), Until: mid.Add(10 * time.Minute)})
	require.ErrorIs(t, err, ErrRepositoryState, "a since-hint inside the stored rows would write them twice")
	assert.Contains(t, err.Error(), "would write samples twice")

	// From where the data ends, the streamer goes on, and the repository
	// still holds exactly the source's data.
	rep, err = s.RunRepo(ctx, st, Hints{Since: mid, Until: mid.Add(10 * time.Minute)})
	require.NoError(t, err)
	require.Len(t, rep.Windows, 1)
	_, err = CheckAgainstSource(ctx, v1Reader(t, st), v1NotFound, nil, cfg, day0, mid.Add(10*time.Minute))
	require.NoError(t, err)
}
