package streamer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"time"

	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/streamer/invariants"
	"github.com/icerig/icerig/streamer/source"
	"github.com/icerig/icerig/zarr"
)

// Source is the instrument the streamer reads; *source.Source implements it.
// Reads cover (from, until]: reading a range in one call or as consecutive
// sub-ranges must give identical data.
type Source interface {
	Instrument() string
	Project() string
	ReadParts(from, until time.Time, parts source.Part) (*source.Batch, error)
	SettingsAt(t time.Time) source.Settings
	NextSettingsChange(after time.Time) (time.Time, bool)
	Retro() source.RetroTable
	Attributes(t time.Time) map[string]any
	Variables() []source.Variable
}

// Options are the streamer's collaborators. The zero value is the
// production setting.
type Options struct {
	// Clock gives commit flush times and the default until-hint ("now");
	// nil means the wall clock.
	Clock objstore.Clock
	// Rand is the source of snapshot, manifest and chunk ids; nil means
	// crypto/rand.
	Rand io.Reader
	// Logger receives progress and retry logs; nil discards them.
	Logger *slog.Logger
	// Sleep waits between retries; nil means RealSleep.
	Sleep Sleeper
	// Source is the instrument; nil means the mock instrument the
	// configuration describes (Config.SourceConfig).
	Source Source
	// Progress, when set, is called after every committed window.
	Progress func(WindowReport)
}

// Streamer appends instrument data to the repositories of one instrument
// and project in a target store. A Streamer is meant for one run at a time;
// concurrent runs (in one process or several) are safe, since every commit is
// a compare-and-swap on the branch, but they only slow each other down.
type Streamer struct {
	cfg      *Config
	root     *retryStore
	src      Source
	lay      layout
	clock    objstore.Clock
	rand     io.Reader
	log      *slog.Logger
	progress func(WindowReport)
}

// New returns a streamer of the configured instrument into target (the
// root of the repositories, see OpenTarget).
func New(cfg *Config, target objstore.Store, opts Options) (*Streamer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	src := opts.Source
	if src == nil {
		s, err := source.New(cfg.SourceConfig())
		if err != nil {
			return nil, fmt.Errorf("%w: source: %w", ErrConfig, err)
		}
		src = s
	}
	if opts.Clock == nil {
		opts.Clock = objstore.RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Sleep == nil {
		opts.Sleep = RealSleep
	}
	return &Streamer{
		cfg:      cfg,
		root:     newRetryStore(target, cfg.Retry, opts.Sleep, opts.Logger),
		src:      src,
		lay:      newLayout(src, cfg),
		clock:    opts.Clock,
		rand:     opts.Rand,
		log:      opts.Logger,
		progress: opts.Progress,
	}, nil
}

// Hints bound a run. Zero times are unset.
type Hints struct {
	// Since is the earliest start of the first window. It is honoured only
	// when it is later than the last committed time (or when nothing was
	// committed yet), so data is never written twice.
	Since time.Time
	// Until is the end of the last window; unset means the clock's now.
	Until time.Time
}

// WindowReport describes one committed window.
type WindowReport struct {
	// Repository is the name of the repository the window went to.
	Repository string `json:"repository"`
	// NewRepository is set on the first window of a repository.
	NewRepository bool `json:"new_repository"`
	// From and Until are the window bounds: (From, Until].
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
	// Rows and HighResRows are the rows committed on the two time
	// dimensions.
	Rows        int `json:"rows"`
	HighResRows int `json:"high_res_rows"`
	// BytesWritten counts the bytes of the objects written for the window.
	BytesWritten int64 `json:"bytes"`
	// Seconds is the wall time the window took.
	Seconds float64 `json:"seconds"`
	// Snapshot is the id of the commit.
	Snapshot string `json:"snapshot"`
	// Fingerprint is the settings fingerprint of the window's data.
	Fingerprint string `json:"settings_fingerprint"`
}

// RunReport describes a run.
type RunReport struct {
	// From and Until are the range the run covered: (From, Until].
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
	// UpToDate is set when there was nothing to do.
	UpToDate bool `json:"up_to_date"`
	// Windows lists the committed windows in order.
	Windows []WindowReport `json:"windows"`
	// Retries counts storage operations retried after transient errors.
	Retries int64 `json:"retries"`
}

// maxConflictRetries bounds how often a window is retried after another
// writer moved the branch without committing that window.
const maxConflictRetries = 3

// Run appends the data of (last committed time, until] to the latest
// repository, one commit per window, creating repositories as settings
// change and days pass. See the package documentation for the rules.
func (s *Streamer) Run(ctx context.Context, h Hints) (*RunReport, error) {
	until := h.Until
	if until.IsZero() {
		until = s.clock.Now()
	}
	until = until.UTC()
	retries0 := s.root.retries.Load()
	refs, err := Discover(ctx, s.root, s.src.Instrument(), s.src.Project())
	if err != nil {
		return nil, err
	}
	cur, err := s.latest(ctx, refs)
	if err != nil {
		return nil, err
	}
	var from time.Time
	if cur != nil {
		from = cur.last.Until
		// Repair a settings start tag lost to a crash right after the
		// repository's first commit, even when there is nothing to append.
		if err := s.ensureTag(ctx, cur); err != nil {
			return nil, fmt.Errorf("repository %s: settings start tag: %w", cur.ref.Path, classify(err))
		}
	}
	if !h.Since.IsZero() && (cur == nil || h.Since.After(from)) {
		from = h.Since.UTC()
	}
	if from.IsZero() {
		from = until.Add(-time.Duration(s.cfg.StreamingMinutes) * time.Minute)
	}
	rep := &RunReport{From: from, Until: until, Windows: []WindowReport{}}
	defer func() { rep.Retries = s.root.retries.Load() - retries0 }()
	if !from.Before(until) {
		rep.UpToDate = true
		s.log.Info("up to date", "last_committed", from, "until", until)
		return rep, nil
	}
	s.log.Info("run", "from", from, "until", until, "repositories", len(refs))
	conflicts := 0
	for from.Before(until) {
		end, fp := s.windowEnd(from, until)
		if cur == nil || !s.appendable(cur, fp, from) {
			if cur, err = s.openOrCreate(ctx, from, fp); err != nil {
				return rep, err
			}
			if cur.last != nil && cur.last.Until.After(from) {
				from = cur.last.Until // another writer got there first
				continue
			}
		}
		if b := cur.ref.Start.Add(s.days()); b.Before(end) {
			end = b
		}
		if from, err = s.commitNext(ctx, cur, from, end, fp, &conflicts, rep, nil); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// windowEnd cuts the window that starts at from: at until, at max_window
// and at the source's next settings change. fp is the settings
// fingerprint of the window's data.
func (s *Streamer) windowEnd(from, until time.Time) (end time.Time, fp string) {
	end = until
	if m := from.Add(s.cfg.MaxWindow); m.Before(end) {
		end = m
	}
	if c, ok := s.src.NextSettingsChange(from); ok && c.Before(end) {
		end = c
	}
	return end, source.Fingerprint(s.src.SettingsAt(end))
}

// commitNext commits the window (from, end] to cur and records it in rep.
// It returns where the next window starts: end, or, when another writer
// moved main, where that writer left off (afterConflict decides; a
// failure to reload main is passed through wrapReload when set).
func (s *Streamer) commitNext(ctx context.Context, cur *repoState, from, end time.Time, fp string, conflicts *int, rep *RunReport, wrapReload func(error) error) (time.Time, error) {
	w, err := s.commitWindow(ctx, cur, from, end, fp)
	if errors.Is(err, formatv2.ErrConflict) {
		next, retry, lerr := s.afterConflict(ctx, cur, from, conflicts, err)
		if lerr != nil {
			if wrapReload != nil {
				lerr = wrapReload(lerr)
			}
			return from, lerr
		}
		if retry {
			return next, nil
		}
	}
	if err != nil {
		return from, err
	}
	rep.Windows = append(rep.Windows, w)
	if s.progress != nil {
		s.progress(w)
	}
	return end, nil
}

// afterConflict handles a window whose commit lost the race for main
// (ErrConflict, err): it reloads main's tip and newest window into cur and
// says whether to plan the window again, from next. Another writer moved
// main: the run continues from what it committed. A writer that committed
// windows made progress, so only conflicts that moved nothing forward count
// (in *conflicts) against maxConflictRetries.
func (s *Streamer) afterConflict(ctx context.Context, cur *repoState, from time.Time, conflicts *int, err error) (next time.Time, retry bool, lerr error) {
	s.log.Warn("branch moved by another writer; reloading", "repository", cur.ref.Name, "err", err)
	base, last, lerr := mainState(ctx, cur.repo)
	if lerr != nil {
		return from, false, classify(lerr)
	}
	cur.base, cur.last = base, last
	if last != nil && last.Until.After(from) {
		*conflicts = 0
		return last.Until, true, nil
	}
	if *conflicts++; *conflicts <= maxConflictRetries {
		return from, true, nil
	}
	return from, false, nil
}

func (s *Streamer) days() time.Duration {
	return time.Duration(s.cfg.DaysPerFile) * 24 * time.Hour
}

func (s *Streamer) repoOptions() formatv2.Options {
	return formatv2.Options{Clock: s.clock, Rand: s.rand, Logger: s.log}
}

// openRepo opens the repository at ref (through the retrying root store).
func (s *Streamer) openRepo(ctx context.Context, ref RepoRef) (*formatv2.Repository, objstore.Store, error) {
	store, err := SubStore(s.root, ref.Path)
	if err != nil {
		return nil, nil, err
	}
	repo, err := formatv2.Open(ctx, store, s.repoOptions())
	if err != nil {
		return nil, store, classify(err)
	}
	return repo, store, nil
}

// latest returns the newest repository holding a streamer commit, or nil.
// Newer repositories without one (whose first commit crashed) and
// directories without a repository are passed over.
func (s *Streamer) latest(ctx context.Context, refs []RepoRef) (*repoState, error) {
	for i := len(refs) - 1; i >= 0; i-- {
		repo, _, err := s.openRepo(ctx, refs[i])
		if isMissingRepo(err) {
			s.log.Info("directory holds no repository; passing over it", "repository", refs[i].Name)
			continue
		}
		if err != nil {
			return nil, err
		}
		base, last, err := mainState(ctx, repo)
		if err != nil {
			return nil, classify(err)
		}
		if last == nil {
			s.log.Info("repository has no window yet; passing over it", "repository", refs[i].Name)
			continue
		}
		return &repoState{ref: refs[i], repo: repo, last: last, base: base}, nil
	}
	return nil, nil
}

// appendable reports whether the window starting at from, of settings fp,
// goes to cur.
func (s *Streamer) appendable(cur *repoState, fp string, from time.Time) bool {
	if from.Before(cur.ref.Start) || !from.Before(cur.ref.Start.Add(s.days())) {
		return false
	}
	if cur.last == nil {
		return cur.ref.Start.Equal(from.Truncate(time.Second))
	}
	return cur.last.Fingerprint == fp && cur.last.Layout == s.lay.id
}

// openOrCreate returns the repository that starts at from: created, or an
// existing one the streamer has not committed to yet (left by a crash).
//
// When another writer created it first and committed windows of the same
// settings and layout, the state returned has them (the caller then
// continues after them).
func (s *Streamer) openOrCreate(ctx context.Context, from time.Time, fp string) (*repoState, error) {
	ref := NewRepoRef(s.src.Instrument(), s.src.Project(), from)
	repo, store, err := s.openRepo(ctx, ref)
	switch {
	case err == nil:
	case isMissingRepo(err):
		repo, err = formatv2.Create(ctx, store, formatv2.CreateOptions{SpecVersion: s.cfg.SpecVersion}, s.repoOptions())
		if errors.Is(err, formatv2.ErrRepositoryExists) {
			repo, _, err = s.openRepo(ctx, ref)
		}
		if err != nil {
			return nil, fmt.Errorf("create repository %s: %w", ref.Path, classify(err))
		}
		s.log.Info("created repository", "repository", ref.Name, "spec", repo.SpecVersion())
	default:
		return nil, err
	}
	base, last, err := mainState(ctx, repo)
	if err != nil {
		return nil, classify(err)
	}
	st := &repoState{ref: ref, repo: repo, base: base, last: last}
	if last != nil && (last.Fingerprint != fp || last.Layout != s.lay.id) {
		return nil, fmt.Errorf("%w: a new repository must start at %s, but %s already holds data up to %s (settings %s, layout %s)",
			ErrRepositoryState, from.Format(time.RFC3339Nano), ref.Path, last.Until.Format(time.RFC3339Nano), last.Fingerprint, last.Layout)
	}
	return st, nil
}

// ensureTag creates the settings start tag of a repository whose first
// commit's tag was lost (a crash between commit and tag).
func (s *Streamer) ensureTag(ctx context.Context, cur *repoState) error {
	if cur.tagChecked || cur.last == nil {
		return nil
	}
	name := source.StartTagName(cur.last.Fingerprint)
	_, err := cur.repo.LookupTag(ctx, name)
	if errors.Is(err, formatv2.ErrRefNotFound) {
		id, ok, ferr := firstWindowSnapshot(ctx, cur.repo)
		if ferr != nil {
			return ferr
		}
		if ok {
			err = s.createTag(ctx, cur, name, id)
		} else {
			err = nil
		}
	}
	if err != nil {
		return err
	}
	cur.tagChecked = true
	return nil
}

func (s *Streamer) createTag(ctx context.Context, cur *repoState, name string, id formatv2.ObjectID) error {
	err := cur.repo.CreateTag(ctx, name, id)
	if errors.Is(err, formatv2.ErrTagExists) {
		s.log.Warn("settings start tag exists already (or was deleted); leaving it", "repository", cur.ref.Name, "tag", name)
		return nil
	}
	if err == nil {
		s.log.Info("tagged", "repository", cur.ref.Name, "tag", name, "snapshot", id.String())
	}
	return err
}

// commitWindow reads (from, until] from the source and commits it to cur.
func (s *Streamer) commitWindow(ctx context.Context, cur *repoState, from, until time.Time, fp string) (WindowReport, error) {
	started := time.Now()
	counter := s.counter(cur)
	written0 := counter.written.Load()
	if err := s.ensureTag(ctx, cur); err != nil {
		return WindowReport{}, fmt.Errorf("repository %s: settings start tag: %w", cur.ref.Path, err)
	}
	parts := source.PartTimestamp
	if len(s.lay.highRes) > 0 {
		parts |= source.PartHighRes
	}
	if len(s.lay.waveforms) > 0 {
		parts |= source.PartWaveforms
	}
	batch, err := s.src.ReadParts(from, until, parts)
	if err != nil {
		return WindowReport{}, fmt.Errorf("read source (%s, %s]: %w", from.Format(time.RFC3339Nano), until.Format(time.RFC3339Nano), err)
	}
	sess, err := cur.repo.WritableSession(ctx, "main")
	if err != nil {
		return WindowReport{}, fmt.Errorf("repository %s: %w", cur.ref.Path, classify(err))
	}
	if got := sess.BaseSnapshot(); got != cur.base {
		return WindowReport{}, fmt.Errorf("repository %s: window (%s, %s]: %w: main moved from %s to %s since its last window was read",
			cur.ref.Path, from.Format(time.RFC3339Nano), until.Format(time.RFC3339Nano), formatv2.ErrConflict, cur.base, got)
	}
	w := WindowMeta{From: from, Until: until, Fingerprint: fp, Layout: s.lay.id, Data: s.cfg.Data}
	dims, err := s.writeWindow(ctx, sess, cur, batch, &w)
	if err != nil {
		sess.Discard()
		return WindowReport{}, fmt.Errorf("repository %s: window (%s, %s]: %w", cur.ref.Path,
			from.Format(time.RFC3339Nano), until.Format(time.RFC3339Nano), classify(err))
	}
	msg := fmt.Sprintf("icestream: window (%s, %s]: %d rows, %d high-rate rows",
		from.Format(time.RFC3339Nano), until.Format(time.RFC3339Nano), w.Rows, w.HighResRows)
	id, err := sess.Commit(ctx, msg, w.encode())
	if err != nil {
		return WindowReport{}, fmt.Errorf("repository %s: commit window (%s, %s]: %w", cur.ref.Path,
			from.Format(time.RFC3339Nano), until.Format(time.RFC3339Nano), classify(err))
	}
	w.SnapshotID = id
	cur.base = id
	if err := s.verify(ctx, cur, id, dims); err != nil {
		return WindowReport{}, fmt.Errorf("repository %s: after commit %s: %w", cur.ref.Path, id, err)
	}
	first := cur.last == nil
	cur.last = &w
	if first {
		if err := s.createTag(ctx, cur, source.StartTagName(fp), id); err != nil {
			return WindowReport{}, fmt.Errorf("repository %s: settings start tag: %w", cur.ref.Path, classify(err))
		}
		cur.tagChecked = true
	}
	rep := WindowReport{
		Repository:    cur.ref.Name,
		NewRepository: first,
		From:          from,
		Until:         until,
		Rows:          w.Rows,
		HighResRows:   w.HighResRows,
		BytesWritten:  counter.written.Load() - written0,
		Seconds:       time.Since(started).Seconds(),
		Snapshot:      id.String(),
		Fingerprint:   fp,
	}
	s.log.Info("window committed", "repository", rep.Repository, "from", from, "until", until,
		"rows", rep.Rows, "high_res_rows", rep.HighResRows, "bytes", rep.BytesWritten, "seconds", rep.Seconds, "snapshot", rep.Snapshot)
	return rep, nil
}

// dimCommit is what a window did to one time dimension, for verification.
type dimCommit struct {
	coord      string
	arrays     []string // every array of the dimension, coordinate first
	from, to   int64    // window bounds, nanoseconds
	produced   int
	rowsBefore int
}

// writeWindow stages the window's data in sess: root group, retro table,
// per-timestamp, high-rate and waveform arrays, in that order, and fills in
// the row counts of w.
func (s *Streamer) writeWindow(ctx context.Context, sess *formatv2.Session, cur *repoState, b *source.Batch, w *WindowMeta) ([]dimCommit, error) {
	if err := s.writeRoot(ctx, sess, w); err != nil {
		return nil, err
	}
	if err := s.writeRetro(ctx, sess); err != nil {
		return nil, err
	}
	chunk := s.cfg.ChunkTimestamps
	var dims []dimCommit

	// Load every array first, and fetch the partial last chunks (with the
	// manifests pointing at them) in parallel.
	ts, err := s.loadDim(ctx, sess, s.lay.timestamp)
	if err != nil {
		return nil, err
	}
	rowsBefore := ts[0].rows
	var hr, wf []arrayState
	if len(s.lay.highRes) > 0 {
		if hr, err = s.loadDim(ctx, sess, s.lay.highRes); err != nil {
			return nil, err
		}
	}
	for _, spec := range s.lay.waveforms {
		st, err := loadArray(ctx, sess, spec)
		if err != nil {
			return nil, err
		}
		if st.rows != rowsBefore {
			return nil, fmt.Errorf("%w: array %s has %d rows, %s has %d", ErrRepositoryState, spec.name, st.rows, ArrayTimestamp, rowsBefore)
		}
		wf = append(wf, st)
	}
	var all []*arrayState
	for _, group := range [][]arrayState{ts, hr, wf} {
		for i := range group {
			all = append(all, &group[i])
		}
	}
	if err := prefetchPartials(ctx, cur.repo, sess, all); err != nil {
		return nil, err
	}

	// Per-timestamp coordinate and variables.
	if err := appendColumns(ctx, sess, ts, chunk, micros(b.Timestamps), b.Float64, b.Int32, nil); err != nil {
		return nil, err
	}
	dims = append(dims, dimCommit{coord: ArrayTimestamp, arrays: names(s.lay.timestamp), from: w.From.UnixNano(), to: w.Until.UnixNano(), produced: b.Len(), rowsBefore: rowsBefore})
	w.Rows, w.TotalRows = b.Len(), rowsBefore+b.Len()
	if n := len(b.Timestamps); n > 0 {
		w.LastTimestamp, w.HasLast = b.Timestamps[n-1], true
	} else if cur.last != nil && cur.last.HasLast {
		w.LastTimestamp, w.HasLast = cur.last.LastTimestamp, true
	}

	// High-rate coordinate and variables.
	if len(hr) > 0 {
		before := hr[0].rows
		if err := appendColumns(ctx, sess, hr, chunk, micros(b.HighResTimestamps), b.HighRes, nil, nil); err != nil {
			return nil, err
		}
		dims = append(dims, dimCommit{coord: ArrayHighResTimestamp, arrays: names(s.lay.highRes), from: w.From.UnixNano(), to: w.Until.UnixNano(), produced: b.HighResLen(), rowsBefore: before})
		w.HighResRows, w.TotalHighResRows = b.HighResLen(), before+b.HighResLen()
		if n := len(b.HighResTimestamps); n > 0 {
			w.LastHighResTime, w.HasLastHighRes = b.HighResTimestamps[n-1], true
		} else if cur.last != nil && cur.last.HasLastHighRes {
			w.LastHighResTime, w.HasLastHighRes = cur.last.LastHighResTime, true
		}
	}

	// Waveforms, on the timestamp dimension.
	if len(wf) > 0 {
		if err := appendColumns(ctx, sess, wf, chunk, nil, nil, nil, b.Waveforms); err != nil {
			return nil, err
		}
		dims[0].arrays = append(dims[0].arrays, names(s.lay.waveforms)...)
	}
	return dims, nil
}

// writeRoot writes the root group's attributes: the source's attributes
// for the window, its coverage and the streamer's layout.
func (s *Streamer) writeRoot(ctx context.Context, sess *formatv2.Session, w *WindowMeta) error {
	attrs := maps.Clone(s.src.Attributes(w.Until))
	start := w.From.UTC().Format(time.RFC3339Nano)
	if data, err := sess.Get(ctx, zarr.MetadataFile); err == nil {
		if doc, err := zarr.ParseMetadata(zarr.MetadataFile, data); err == nil && len(doc.Attributes) > 0 {
			var old map[string]any
			if json.Unmarshal(doc.Attributes, &old) == nil {
				if v, ok := old["time_coverage_start"].(string); ok {
					start = v
				}
			}
		}
	} else if !errors.Is(err, formatv2.ErrKeyNotFound) {
		return err
	}
	attrs["time_coverage_start"] = start
	attrs["time_coverage_end"] = w.Until.UTC().Format(time.RFC3339Nano)
	attrs["icestream_data"] = string(s.cfg.Data)
	attrs["icestream_layout"] = s.lay.id
	raw, err := json.Marshal(attrs)
	if err != nil {
		return fmt.Errorf("root attributes: %w", err)
	}
	doc, err := zarr.NewGroup(raw)
	if err != nil {
		return err
	}
	return sess.Set(ctx, zarr.MetadataFile, doc)
}

// writeRetro writes the retro table unless the repository has it.
func (s *Streamer) writeRetro(ctx context.Context, sess *formatv2.Session) error {
	st, err := loadArray(ctx, sess, s.lay.retro[0])
	if err != nil || st.doc != nil {
		return err
	}
	table := s.src.Retro()
	n := table.Len()
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	cols := map[string][]float64{ArrayRetroLatitude: table.Latitude, ArrayRetroLongitude: table.Longitude, ArrayRetroAltitude: table.Altitude}
	for _, spec := range s.lay.retro {
		if spec.name == ArrayRetro {
			spec.attrs = maps.Clone(spec.attrs)
			spec.attrs["names"] = table.Name
			if _, err := appendRows(ctx, sess, arrayState{spec: spec}, n, idx); err != nil {
				return err
			}
			continue
		}
		if _, err := appendRows(ctx, sess, arrayState{spec: spec}, n, cols[spec.name]); err != nil {
			return err
		}
	}
	return nil
}

// loadDim loads the arrays of one dimension and checks that they all have
// the coordinate's (the first array's) length.
func (s *Streamer) loadDim(ctx context.Context, sess *formatv2.Session, specs []arraySpec) ([]arrayState, error) {
	out := make([]arrayState, 0, len(specs))
	for _, spec := range specs {
		st, err := loadArray(ctx, sess, spec)
		if err != nil {
			return nil, err
		}
		if len(out) > 0 && st.rows != out[0].rows {
			return nil, fmt.Errorf("%w: array %s has %d rows, %s has %d", ErrRepositoryState, spec.name, st.rows, out[0].spec.name, out[0].rows)
		}
		out = append(out, st)
	}
	return out, nil
}

// appendColumns appends one window's columns to the arrays of a dimension:
// the coordinate (coord, when the first state is a coordinate) and the
// variables found by name in f64, i32 and f32.
func appendColumns(ctx context.Context, sess *formatv2.Session, states []arrayState, chunk int, coord []int64, f64 map[string][]float64, i32 map[string][]int32, f32 map[string][]float32) error {
	for i, st := range states {
		var err error
		switch {
		case i == 0 && coord != nil:
			_, err = appendRows(ctx, sess, st, chunk, coord)
		case st.spec.dtype == zarr.Float64:
			v, ok := f64[st.spec.name]
			if !ok {
				return fmt.Errorf("source batch has no float64 column %s", st.spec.name)
			}
			_, err = appendRows(ctx, sess, st, chunk, v)
		case st.spec.dtype == zarr.Int32:
			v, ok := i32[st.spec.name]
			if !ok {
				return fmt.Errorf("source batch has no int32 column %s", st.spec.name)
			}
			_, err = appendRows(ctx, sess, st, chunk, v)
		case st.spec.dtype == zarr.Float32:
			v, ok := f32[st.spec.name]
			if !ok {
				return fmt.Errorf("source batch has no float32 column %s", st.spec.name)
			}
			_, err = appendRows(ctx, sess, st, chunk, v)
		default:
			return fmt.Errorf("array %s: unexpected type %s", st.spec.name, st.spec.dtype)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// verify checks the runtime invariants on the committed snapshot: every
// array of a dimension has the coordinate's length, the coordinate grew by
// exactly the rows produced, and the committed timestamps continue
// strictly increasing inside the window.
func (s *Streamer) verify(ctx context.Context, cur *repoState, id formatv2.ObjectID, dims []dimCommit) error {
	rs, err := cur.repo.ReadonlySession(ctx, formatv2.SnapshotRef(id))
	if err != nil {
		return classify(err)
	}
	cr := newChunkReader(rs, cur.repo.Store())
	for _, d := range dims {
		after, err := arrayRows(ctx, rs, d.coord)
		if err != nil {
			return err
		}
		for _, name := range d.arrays[1:] {
			n, err := arrayRows(ctx, rs, name)
			if err != nil {
				return err
			}
			if err := invariants.RowsMatch(name, n, after); err != nil {
				return fmt.Errorf("array length: %w", err)
			}
		}
		tail, err := readRows[int64](ctx, cr, d.coord, max(d.rowsBefore-1, 0), after)
		if err != nil {
			return classify(err)
		}
		if err := invariants.CheckCommit(invariants.Commit{
			Dim: d.coord, From: d.from, Until: d.to, Produced: d.produced,
			RowsBefore: d.rowsBefore, RowsAfter: after, Tail: nanos(tail),
		}); err != nil {
			return err
		}
	}
	return nil
}

// arrayRows is the length of the named array along its first dimension.
func arrayRows(ctx context.Context, sess *formatv2.Session, name string) (int, error) {
	data, err := sess.Get(ctx, zarr.MetadataKey("/"+name))
	if err != nil {
		return 0, fmt.Errorf("array %s: %w", name, err)
	}
	doc, err := zarr.ParseMetadata(name+"/zarr.json", data)
	if err != nil {
		return 0, err
	}
	if !doc.IsArray() || len(doc.Array.Shape) == 0 {
		return 0, fmt.Errorf("%w: %s is not an array with rows", ErrRepositoryState, name)
	}
	return int(doc.Array.Shape[0]), nil
}

func names(specs []arraySpec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.name
	}
	return out
}

// micros converts source timestamps (nanoseconds) to the stored unit.
func micros(ns []int64) []int64 {
	out := make([]int64, len(ns))
	for i, t := range ns {
		out[i] = source.NanosToMicros(t)
	}
	return out
}

// nanos converts stored timestamps (microseconds) to nanoseconds.
func nanos(us []int64) []int64 {
	out := make([]int64, len(us))
	for i, t := range us {
		out[i] = source.MicrosToNanos(t)
	}
	return out
}

// SetProgress sets the function called after every committed window (nil:
// none), replacing Options.Progress.
func (s *Streamer) SetProgress(f func(WindowReport)) { s.progress = f }
