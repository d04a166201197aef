package streamer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/icerig/icerig/formatv2"
)

// Commit metadata keys written by the streamer on every window commit.
// Resuming needs only the tip's metadata: no scan of the data.
const (
	// MetaWriter is "icestream": marks a commit of the streamer.
	MetaWriter = "writer"
	// MetaWindowFrom and MetaWindowUntil are the window bounds (RFC 3339
	// with nanoseconds, UTC); the window is (from, until].
	MetaWindowFrom  = "window_from"
	MetaWindowUntil = "window_until"
	// MetaWindowUntilNanos is the window's end in nanoseconds since the
	// epoch: where the next window starts.
	MetaWindowUntilNanos = "window_until_ns"
	// MetaLastTimestamp and MetaLastHighResTimestamp are the last committed
	// timestamps (nanoseconds since the epoch) of the two time dimensions,
	// absent while the dimension has no row.
	MetaLastTimestamp        = "last_timestamp_ns"
	MetaLastHighResTimestamp = "last_high_res_timestamp_ns"
	// MetaRows and MetaHighResRows are the rows the window added;
	// MetaTotalRows and MetaTotalHighResRows the dimensions' lengths after it.
	MetaRows             = "rows"
	MetaHighResRows      = "high_res_rows"
	MetaTotalRows        = "total_rows"
	MetaTotalHighResRows = "total_high_res_rows"
	// MetaFingerprint is the settings fingerprint of the window's data.
	MetaFingerprint = "settings_fingerprint"
	// MetaLayout identifies the set of arrays written (see the data and
	// variables configuration).
	MetaLayout = "layout"
	// MetaData is the data mode ("minimal" or "all").
	MetaData = "data"
)

// writerName is the MetaWriter value.
const writerName = "icestream"

// WindowMeta is the streamer's record of one committed window, as kept in
// the commit metadata.
type WindowMeta struct {
	// From and Until are the window bounds: it holds the samples in (From, Until].
	From, Until time.Time
	// LastTimestamp and LastHighResTime are the last committed timestamps
	// (nanoseconds since the epoch) of the two time dimensions, valid when
	// HasLast / HasLastHighRes.
	LastTimestamp, LastHighResTime int64
	HasLast, HasLastHighRes        bool
	// Rows and HighResRows are the rows the window added; TotalRows and
	// TotalHighResRows the dimensions' lengths after it.
	Rows, HighResRows           int
	TotalRows, TotalHighResRows int
	// Fingerprint is the settings fingerprint, Layout the layout id and
	// Data the data mode of the window.
	Fingerprint, Layout string
	Data                DataMode
	// SnapshotID, FlushedAt and SpecVersion describe the commit (filled in
	// when read back).
	SnapshotID  formatv2.ObjectID
	FlushedAt   time.Time
	SpecVersion int
}

// encode returns the commit metadata map.
func (w *WindowMeta) encode() map[string]any {
	m := map[string]any{
		MetaWriter:           writerName,
		MetaWindowFrom:       w.From.UTC().Format(time.RFC3339Nano),
		MetaWindowUntil:      w.Until.UTC().Format(time.RFC3339Nano),
		MetaWindowUntilNanos: w.Until.UnixNano(),
		MetaRows:             int64(w.Rows),
		MetaHighResRows:      int64(w.HighResRows),
		MetaTotalRows:        int64(w.TotalRows),
		MetaTotalHighResRows: int64(w.TotalHighResRows),
		MetaFingerprint:      w.Fingerprint,
		MetaLayout:           w.Layout,
		MetaData:             string(w.Data),
	}
	if w.HasLast {
		m[MetaLastTimestamp] = w.LastTimestamp
	}
	if w.HasLastHighRes {
		m[MetaLastHighResTimestamp] = w.LastHighResTime
	}
	return m
}

// DecodeWindowMeta reads the streamer's record from a snapshot; ok is false
// when the snapshot was not written by the streamer.
func DecodeWindowMeta(snap *formatv2.Snapshot) (w WindowMeta, ok bool, err error) {
	vals := map[string]any{}
	for _, it := range snap.Metadata {
		v, err := formatv2.DecodeCommitMetadataValue(snap.SpecVersion, it.Value)
		if err != nil {
			return w, false, fmt.Errorf("snapshot %s: metadata %q: %w", snap.ID, it.Name, err)
		}
		vals[it.Name] = v
	}
	if vals[MetaWriter] != writerName {
		return w, false, nil
	}
	bad := func(key string) error {
		return fmt.Errorf("%w: snapshot %s: commit metadata %q is missing or malformed (%v)", ErrRepositoryState, snap.ID, key, vals[key])
	}
	str := func(key string) (string, error) {
		s, ok := vals[key].(string)
		if !ok {
			return "", bad(key)
		}
		return s, nil
	}
	num := func(key string, required bool) (int64, bool, error) {
		switch v := vals[key].(type) {
		case int64:
			return v, true, nil
		case uint64:
			if v <= 1<<63-1 {
				return int64(v), true, nil
			}
		case nil:
			if !required {
				return 0, false, nil
			}
		}
		return 0, false, bad(key)
	}
	var s string
	if s, err = str(MetaWindowFrom); err != nil {
		return w, false, err
	}
	if w.From, err = time.Parse(time.RFC3339Nano, s); err != nil {
		return w, false, bad(MetaWindowFrom)
	}
	untilNs, _, err := num(MetaWindowUntilNanos, true)
	if err != nil {
		return w, false, err
	}
	w.Until = time.Unix(0, untilNs).UTC()
	if w.LastTimestamp, w.HasLast, err = num(MetaLastTimestamp, false); err != nil {
		return w, false, err
	}
	if w.LastHighResTime, w.HasLastHighRes, err = num(MetaLastHighResTimestamp, false); err != nil {
		return w, false, err
	}
	for key, dst := range map[string]*int{MetaRows: &w.Rows, MetaHighResRows: &w.HighResRows, MetaTotalRows: &w.TotalRows, MetaTotalHighResRows: &w.TotalHighResRows} {
		v, _, err := num(key, true)
		if err != nil {
			return w, false, err
		}
		*dst = int(v)
	}
	if w.Fingerprint, err = str(MetaFingerprint); err != nil {
		return w, false, err
	}
	if w.Layout, err = str(MetaLayout); err != nil {
		return w, false, err
	}
	if s, err = str(MetaData); err != nil {
		return w, false, err
	}
	w.Data = DataMode(s)
	w.SnapshotID = snap.ID
	w.FlushedAt = time.UnixMicro(int64(snap.FlushedAt)).UTC()
	w.SpecVersion = int(snap.SpecVersion)
	return w, true, nil
}

// repoState is one repository as the streamer sees it.
type repoState struct {
	ref  RepoRef
	repo *formatv2.Repository
	// last is the newest window committed on main; nil when the streamer
	// has not committed to the repository yet (a fresh repository, or one
	// whose first commit crashed).
	last *WindowMeta
	// base is main's tip when last was read (or written): a window is
	// committed only on top of it, so a window planned from last never
	// lands on data another writer added since.
	base formatv2.ObjectID
	// tagChecked is set once the settings start tag is known to exist.
	tagChecked bool
	// store is the retrying store the repository is read and written
	// through, counting its bytes and retries; nil means the streamer's
	// target root (the repositories of Run).
	store *retryStore
}

// counter is the retrying store whose counters a window of cur moves.
func (s *Streamer) counter(cur *repoState) *retryStore {
	if cur.store != nil {
		return cur.store
	}
	return s.root
}

// LastWindow finds the newest streamer commit on main: the tip's metadata,
// or (when someone else committed on top) the newest streamer commit in its
// ancestry. nil when there is none.
func LastWindow(ctx context.Context, repo *formatv2.Repository) (*WindowMeta, error) {
	_, w, err := mainState(ctx, repo)
	return w, err
}

// mainState returns main's tip and the newest streamer window in its
// history (nil when none).
func mainState(ctx context.Context, repo *formatv2.Repository) (formatv2.ObjectID, *WindowMeta, error) {
	tip, err := repo.LookupBranch(ctx, "main")
	if err != nil {
		return tip, nil, err
	}
	snap, err := repo.ReadSnapshot(ctx, tip)
	if err != nil {
		return tip, nil, err
	}
	w, ok, err := DecodeWindowMeta(snap)
	if err != nil {
		return tip, nil, err
	}
	if ok {
		return tip, &w, nil
	}
	anc, err := repo.Ancestry(ctx, tip)
	if err != nil {
		return tip, nil, err
	}
	for _, s := range anc {
		w, ok, err := DecodeWindowMeta(s)
		if err != nil {
			return tip, nil, err
		}
		if ok {
			return tip, &w, nil
		}
	}
	return tip, nil, nil
}

// firstWindowSnapshot returns the oldest streamer commit in the ancestry of
// main (the one the settings start tag marks).
func firstWindowSnapshot(ctx context.Context, repo *formatv2.Repository) (formatv2.ObjectID, bool, error) {
	tip, err := repo.LookupBranch(ctx, "main")
	if err != nil {
		return formatv2.ObjectID{}, false, err
	}
	anc, err := repo.Ancestry(ctx, tip)
	if err != nil {
		return formatv2.ObjectID{}, false, err
	}
	for i := len(anc) - 1; i >= 0; i-- {
		if _, ok, err := DecodeWindowMeta(anc[i]); err != nil {
			return formatv2.ObjectID{}, false, err
		} else if ok {
			return anc[i].ID, true, nil
		}
	}
	return formatv2.ObjectID{}, false, nil
}

// isMissingRepo reports whether err says the store holds no repository.
func isMissingRepo(err error) bool {
	return errors.Is(err, formatv2.ErrNotARepository)
}
