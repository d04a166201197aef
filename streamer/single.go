package streamer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/streamer/source"
)

// ErrMissingHint: RunRepo was called without a hint it needs (an until-hint
// always, a since-hint when the repository holds no streamer window yet).
var ErrMissingHint = errors.New("missing run hint")

// RunRepo appends the instrument's data to one existing repository, the one
// store holds (spec 1 or 2, opened with formatv2.Open), instead of the
// discovered repositories of the target root: there is no discovery, no
// repository naming, and a repository is never created. A store without a
// repository is an error wrapping both ErrRepositoryState and
// formatv2.ErrNotARepository. The Streamer's target root is not used.
//
// The run covers (start, h.Until], h.Until being required. start is the end
// of the newest streamer window in the history of main (other writers'
// commits on top of it are passed over); only when there is none is it
// h.Since, which is then required. h.Since is otherwise ignored, so the
// repository's windows stay contiguous. Errors for missing hints wrap
// ErrMissingHint. When main has no streamer window in its history but the
// timestamp coordinate holds rows (the windows' snapshots were expired),
// h.Since must not be before the last stored timestamp (ErrRepositoryState
// otherwise), so no sample is written twice.
//
// Windows are cut exactly as Run cuts them, at max_window and at the
// source's settings changes (days_per_file does not apply), and each is
// committed exactly as Run commits it: the same arrays, commit metadata,
// runtime invariants after the commit, and the settings start tag
// settings-<fingerprint>-start on the repository's first streamer window.
// A window whose settings fingerprint or layout differs from the last
// window's in the repository (it would need a new repository) fails with
// ErrRepositoryState; the windows before it stay committed and are in the
// report returned with the error. When another writer moves main between
// reading it and committing a window, the window is planned again on top
// of the new tip, as Run does.
//
// Other writers may keep arrays and groups in the same repository at paths
// the streamer does not write (see the package documentation for the
// streamer's paths: every one at the root of the hierarchy). The root
// group's zarr.json is rewritten by every window: its attributes become the
// source's attributes, the time coverage and the streamer's layout, and
// attributes other writers set there are lost. time_coverage_start is kept
// from the root's existing attributes when they have one (as a string), and
// is the window's start otherwise.
//
// Storage operations go through the streamer's retry policy; the report's
// Repository fields name store (its String), and NewRepository marks the
// first streamer window found in main's history (the tagged one).
func (s *Streamer) RunRepo(ctx context.Context, store objstore.Store, h Hints) (*RunReport, error) {
	if store == nil {
		return nil, fmt.Errorf("run on a single repository: %w: nil store", ErrRepositoryState)
	}
	name := store.String()
	if h.Until.IsZero() {
		return nil, fmt.Errorf("repository %s: %w: an until-hint is required", name, ErrMissingHint)
	}
	until := h.Until.UTC()
	rs := newRetryStore(store, s.root.policy, s.root.sleep, s.log)
	rep := &RunReport{Until: until, Windows: []WindowReport{}}
	defer func() { rep.Retries = rs.retries.Load() }()

	repo, err := formatv2.Open(ctx, rs, s.repoOptions())
	if err != nil {
		err = classify(err)
		if isMissingRepo(err) {
			return nil, fmt.Errorf("repository %s: %w: %w", name, ErrRepositoryState, err)
		}
		return nil, fmt.Errorf("repository %s: %w", name, err)
	}
	base, last, err := mainState(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", name, classify(err))
	}
	cur := &repoState{ref: RepoRef{Name: name, Path: name}, repo: repo, base: base, last: last, store: rs}
	var from time.Time
	if last != nil {
		from = last.Until
		// Repair a settings start tag lost to a crash right after the
		// repository's first window, even when there is nothing to append.
		if err := s.ensureTag(ctx, cur); err != nil {
			return nil, fmt.Errorf("repository %s: settings start tag: %w", name, classify(err))
		}
	} else {
		if h.Since.IsZero() {
			return nil, fmt.Errorf("repository %s: %w: it holds no streamer window, so a since-hint is required", name, ErrMissingHint)
		}
		from = h.Since.UTC()
		if err := s.checkUnrecorded(ctx, cur, from); err != nil {
			return nil, fmt.Errorf("repository %s: %w", name, err)
		}
	}
	rep.From = from
	if !from.Before(until) {
		rep.UpToDate = true
		s.log.Info("up to date", "repository", name, "last_committed", from, "until", until)
		return rep, nil
	}
	s.log.Info("run on one repository", "repository", name, "from", from, "until", until)
	conflicts := 0
	for from.Before(until) {
		end, fp := s.windowEnd(from, until)
		if l := cur.last; l != nil && (l.Fingerprint != fp || l.Layout != s.lay.id) {
			return rep, fmt.Errorf("%w: repository %s: window (%s, %s] has settings %s and layout %s, but the repository's last window (up to %s) has settings %s and layout %s: it needs a new repository",
				ErrRepositoryState, name, from.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano), fp, s.lay.id,
				l.Until.Format(time.RFC3339Nano), l.Fingerprint, l.Layout)
		}
		var err error
		from, err = s.commitNext(ctx, cur, from, end, fp, &conflicts, rep, func(err error) error {
			return fmt.Errorf("repository %s: %w", name, err)
		})
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// checkUnrecorded guards a repository whose main has no streamer window in
// its history but whose timestamp coordinate has rows (the windows were
// expired, or another writer wrote there): appending from from must not
// write a sample twice, so from must not be before the last stored
// timestamp.
func (s *Streamer) checkUnrecorded(ctx context.Context, cur *repoState, from time.Time) error {
	rs, err := cur.repo.ReadonlySession(ctx, formatv2.SnapshotRef(cur.base))
	if err != nil {
		return classify(err)
	}
	n, err := arrayRows(ctx, rs, ArrayTimestamp)
	if errors.Is(err, formatv2.ErrKeyNotFound) || (err == nil && n == 0) {
		return nil
	}
	if err != nil {
		return classify(err)
	}
	last, err := readRows[int64](ctx, newChunkReader(rs, cur.repo.Store()), ArrayTimestamp, n-1, n)
	if err != nil {
		return classify(err)
	}
	if lastNs := source.MicrosToNanos(last[0]); from.UnixNano() < lastNs {
		return fmt.Errorf("%w: main has no streamer window in its history, but %s holds %d rows up to %s: a since-hint of %s would write samples twice",
			ErrRepositoryState, ArrayTimestamp, n, time.Unix(0, lastNs).UTC().Format(time.RFC3339Nano), from.Format(time.RFC3339Nano))
	}
	return nil
}
