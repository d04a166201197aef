package streamer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/streamer/source"
	"github.com/icerig/icerig/zarr"
)

// ErrUnknownVariable: Read was asked for a variable the instrument does not
// have or no repository holds.
var ErrUnknownVariable = errors.New("unknown variable")

// RepoSummary describes one discovered repository.
type RepoSummary struct {
	Name  string    `json:"name"`
	Path  string    `json:"path"`
	Start time.Time `json:"start"`
	// SpecVersion is the repository's on-disk spec (0 when it could not
	// be opened).
	SpecVersion int `json:"spec_version"`
	// Last is the newest window committed on main; nil when none.
	Last *WindowSummary `json:"last_window"`
	// Error says why the repository could not be read ("" when it could).
	Error string `json:"error,omitempty"`
}

// WindowSummary is the part of WindowMeta that `icestream ls` shows.
type WindowSummary struct {
	From             time.Time `json:"from"`
	Until            time.Time `json:"until"`
	TotalRows        int       `json:"total_rows"`
	TotalHighResRows int       `json:"total_high_res_rows"`
	Fingerprint      string    `json:"settings_fingerprint"`
	Data             DataMode  `json:"data"`
	Snapshot         string    `json:"snapshot"`
	CommittedAt      time.Time `json:"committed_at"`
}

// List discovers the repositories of the instrument and project and
// summarizes each, oldest first. A repository that cannot be read gets an
// Error instead of failing the listing; an authorization failure fails it.
func (s *Streamer) List(ctx context.Context) ([]RepoSummary, error) {
	refs, err := Discover(ctx, s.root, s.src.Instrument(), s.src.Project())
	if err != nil {
		return nil, err
	}
	out := make([]RepoSummary, 0, len(refs))
	for _, ref := range refs {
		sum := RepoSummary{Name: ref.Name, Path: ref.Path, Start: ref.Start}
		repo, _, err := s.openRepo(ctx, ref)
		if err == nil {
			sum.SpecVersion = repo.SpecVersion()
			var last *WindowMeta
			if last, err = LastWindow(ctx, repo); err == nil && last != nil {
				sum.Last = &WindowSummary{
					From: last.From, Until: last.Until, TotalRows: last.TotalRows, TotalHighResRows: last.TotalHighResRows,
					Fingerprint: last.Fingerprint, Data: last.Data, Snapshot: last.SnapshotID.String(), CommittedAt: last.FlushedAt,
				}
			}
		}
		if err != nil {
			if IsNoAccess(err) {
				return nil, classify(err)
			}
			sum.Error = err.Error()
		}
		out = append(out, sum)
	}
	return out, nil
}

// ReadRequest selects the data Read returns: the Last rows, or the rows
// with timestamps in [From, To].
type ReadRequest struct {
	Variable string
	Last     int
	From, To time.Time
}

// Series is a variable's data across repositories, oldest row first.
type Series struct {
	Variable string `json:"variable"`
	// Dimension is the variable's time dimension.
	Dimension string `json:"dimension"`
	// Width is the number of values per row (740 for waveforms, else 1).
	Width int `json:"width"`
	// Timestamps are the rows' times, nanoseconds since the epoch.
	Timestamps []int64 `json:"-"`
	// Values holds len(Timestamps)*Width values, row-major (integers
	// converted exactly).
	Values []float64 `json:"-"`
	// Repositories names the repositories read, oldest first.
	Repositories []string `json:"repositories"`
}

// Read returns the rows of a variable: the last req.Last rows, or those
// with timestamps in [req.From, req.To], reading the repositories that can
// hold them (newest first) on main. Repositories without the variable are
// passed over.
func (s *Streamer) Read(ctx context.Context, req ReadRequest) (*Series, error) {
	dim, width, ok := s.variableDim(req.Variable)
	if !ok {
		return nil, fmt.Errorf("%w: %q (not a variable or coordinate of instrument %s)", ErrUnknownVariable, req.Variable, s.src.Instrument())
	}
	if req.Last < 0 || (req.Last == 0 && (req.From.IsZero() || req.To.IsZero() || req.To.Before(req.From))) {
		return nil, fmt.Errorf("read %s: want a positive last-row count or a range with from <= to", req.Variable)
	}
	refs, err := Discover(ctx, s.root, s.src.Instrument(), s.src.Project())
	if err != nil {
		return nil, err
	}
	out := &Series{Variable: req.Variable, Dimension: dim, Width: width, Timestamps: []int64{}, Values: []float64{}, Repositories: []string{}}
	found := false
	need := req.Last
	fromNs, toNs := req.From.UnixNano(), req.To.UnixNano()
	for i := len(refs) - 1; i >= 0; i-- {
		ref := refs[i]
		if req.Last == 0 && ref.Start.After(req.To) {
			continue
		}
		repo, store, err := s.openRepo(ctx, ref)
		if isMissingRepo(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		rs, err := repo.ReadonlySession(ctx, formatv2.BranchRef("main"))
		if err != nil {
			return nil, classify(err)
		}
		n, err := arrayRows(ctx, rs, dim)
		if errors.Is(err, formatv2.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, classify(err)
		}
		if _, err := arrayRows(ctx, rs, req.Variable); errors.Is(err, formatv2.ErrKeyNotFound) {
			continue
		} else if err != nil {
			return nil, classify(err)
		}
		found = true
		cr := newChunkReader(rs, store)
		var lo, hi int
		stop := false
		if req.Last > 0 {
			take := min(n, need)
			lo, hi = n-take, n
			need -= take
			stop = need == 0
		} else {
			fromUs, toUs := ceilMicros(fromNs), floorMicros(toNs)
			if lo, err = searchRows(ctx, cr, dim, n, func(us int64) bool { return us >= fromUs }); err != nil {
				return nil, classify(err)
			}
			if hi, err = searchRows(ctx, cr, dim, n, func(us int64) bool { return us > toUs }); err != nil {
				return nil, classify(err)
			}
			// Older repositories hold earlier data only: stop once this
			// one starts at or before the range.
			stop = lo > 0
			if lo == 0 && n > 0 {
				first, err := readRows[int64](ctx, cr, dim, 0, 1)
				if err != nil {
					return nil, classify(err)
				}
				stop = first[0] <= fromUs
			}
		}
		if hi > lo {
			// Timestamps and values are independent reads: run them together.
			var us []int64
			var tsErr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				us, tsErr = readRows[int64](ctx, cr, dim, lo, hi)
			}()
			vals, err := readValues(ctx, cr, req.Variable, lo, hi)
			<-done
			if err = errors.Join(err, tsErr); err != nil {
				return nil, classify(err)
			}
			out.Timestamps = append(nanos(us), out.Timestamps...)
			out.Values = append(vals, out.Values...)
			out.Repositories = append([]string{ref.Name}, out.Repositories...)
		}
		if stop {
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: no repository of %s/%s holds %q", ErrUnknownVariable, s.src.Instrument(), s.src.Project(), req.Variable)
	}
	return out, nil
}

// variableDim returns the time dimension and row width of a variable or
// time coordinate.
func (s *Streamer) variableDim(name string) (dim string, width int, ok bool) {
	switch name {
	case ArrayTimestamp, ArrayHighResTimestamp:
		return name, 1, true
	}
	for _, v := range s.src.Variables() {
		if v.Name == name {
			if len(v.Dimensions) == 2 {
				return v.Dimensions[0], source.WaveformSamples, true
			}
			return v.Dimensions[0], 1, true
		}
	}
	return "", 0, false
}

// readValues reads rows [lo, hi) of a variable as float64s.
func readValues(ctx context.Context, cr *chunkReader, name string, lo, hi int) ([]float64, error) {
	meta, err := cr.meta(ctx, name)
	if err != nil {
		return nil, err
	}
	switch meta.DataType {
	case zarr.Float64:
		return readRows[float64](ctx, cr, name, lo, hi)
	case zarr.Float32:
		return convert(readRows[float32](ctx, cr, name, lo, hi))
	case zarr.Int32:
		return convert(readRows[int32](ctx, cr, name, lo, hi))
	case zarr.Int64:
		return convert(readRows[int64](ctx, cr, name, lo, hi))
	}
	return nil, fmt.Errorf("array %s: unsupported type %s", name, meta.DataType)
}

func convert[T element](vals []T, err error) ([]float64, error) {
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(vals))
	for i, v := range vals {
		out[i] = float64(v)
	}
	return out, nil
}

// ceilMicros and floorMicros round nanoseconds to the stored microseconds.
func ceilMicros(ns int64) int64 {
	us := ns / 1000
	if ns%1000 > 0 {
		us++
	}
	return us
}

func floorMicros(ns int64) int64 {
	us := ns / 1000
	if ns%1000 < 0 {
		us--
	}
	return us
}
