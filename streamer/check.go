package streamer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/icerig/icerig/streamer/invariants"
	"github.com/icerig/icerig/streamer/source"
	"github.com/icerig/icerig/zarr"
)

// ErrSourceMismatch is wrapped by the errors of CheckAgainstSource when the
// repository's arrays are missing, malformed or hold values other than the
// source's.
var ErrSourceMismatch = errors.New("repository does not hold the source's data")

// KeyReader reads Zarr keys ("zarr.json", "timestamp/zarr.json",
// "ch4/c/0") of one version of a repository: a session of any library.
type KeyReader interface {
	// Get returns the value at key, or an error (which the caller's
	// isNotFound predicate recognises when the key has no value).
	Get(ctx context.Context, key string) ([]byte, error)
}

// SourceCheck is the outcome of CheckAgainstSource.
type SourceCheck struct {
	// From and Until are the checked range: (From, Until].
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
	// Rows is the number of rows of each time dimension ("timestamp", and
	// "high_res_timestamp" with data: all).
	Rows map[string]int `json:"rows"`
	// Arrays names the arrays checked, in the order they were checked.
	Arrays []string `json:"arrays"`
	// Values counts the values compared with the source.
	Values int64 `json:"values"`
	// MissingChunks counts chunks inside an array's shape that have no
	// value; they read as the fill value (NaN for floats, -1 for integers)
	// and were compared as such.
	MissingChunks int `json:"missing_chunks"`
}

// maxCheckedElements bounds the elements of one array CheckAgainstSource
// reads, against absurd shapes.
const maxCheckedElements = 1 << 28

// CheckAgainstSource checks that a repository version written by the
// streamer (alone, over (from, until]: the first window starting at from
// and the last ending at until) holds exactly the data src produces for
// (from, until], reading it through r with the zarr package only, so any
// library's session can serve the keys.
//
// Every array of the layout cfg configures for src is checked (src nil
// means the mock instrument of cfg): the retro table, the timestamp
// coordinate and its variables, and with data: all the high_res_timestamp
// coordinate, the wind variables and the waveforms. On each time
// coordinate (converted to nanoseconds) it applies the streamer's runtime
// invariants: invariants.StrictlyIncreasing, NoDuplicates, WithinWindow
// (from, until] and RowsMatch against the source's row count; a failure
// wraps invariants.ErrViolation. Every array must exist with the layout's
// type and dimensions and the coordinate's row count (RowsMatch), and hold
// the source's values one for one: floats compare bit for bit, except that
// any NaN equals any NaN. Any other difference is an error wrapping
// ErrSourceMismatch that names the array, the index (row, and sample for
// waveforms) and the expected and the stored value.
//
// isNotFound tells a missing key from a failed read (for example
// errors.Is(err, actors.ErrKeyNotFound)); nil means no key may be missing.
// A missing zarr.json is a mismatch; a missing chunk reads as the array's
// fill value, as Zarr defines, and is counted in MissingChunks. Any other
// read error is returned as is, wrapped with the key.
//
// Arrays of other writers (at other paths) and the root group's attributes
// are not looked at.
func CheckAgainstSource(ctx context.Context, r KeyReader, isNotFound func(error) bool, src Source, cfg *Config, from, until time.Time) (*SourceCheck, error) {
	if r == nil {
		return nil, fmt.Errorf("check against source: nil key reader")
	}
	if cfg == nil {
		return nil, fmt.Errorf("check against source: %w: nil configuration", ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if src == nil {
		s, err := source.New(cfg.SourceConfig())
		if err != nil {
			return nil, fmt.Errorf("%w: source: %w", ErrConfig, err)
		}
		src = s
	}
	if isNotFound == nil {
		isNotFound = func(error) bool { return false }
	}
	from, until = from.UTC(), until.UTC()
	if until.Before(from) {
		return nil, fmt.Errorf("check against source: range (%s, %s] is reversed", from.Format(time.RFC3339Nano), until.Format(time.RFC3339Nano))
	}
	lay := newLayout(src, cfg)
	parts := source.PartTimestamp
	if len(lay.highRes) > 0 {
		parts |= source.PartHighRes
	}
	if len(lay.waveforms) > 0 {
		parts |= source.PartWaveforms
	}
	want, err := readSource(src, from, until, parts)
	if err != nil {
		return nil, err
	}
	c := &checker{ctx: ctx, r: r, isNotFound: isNotFound, chunkRows: cfg.ChunkTimestamps,
		rep: &SourceCheck{From: from, Until: until, Rows: map[string]int{}, Arrays: []string{}}}

	// Retro table.
	table := src.Retro()
	idx := make([]int32, table.Len())
	for i := range idx {
		idx[i] = int32(i)
	}
	retroCols := map[string][]float64{ArrayRetroLatitude: table.Latitude, ArrayRetroLongitude: table.Longitude, ArrayRetroAltitude: table.Altitude}
	for _, spec := range lay.retro {
		var err error
		if spec.name == ArrayRetro {
			err = checkArray(c, spec, table.Len(), idx)
		} else {
			err = checkArray(c, spec, table.Len(), retroCols[spec.name])
		}
		if err != nil {
			return c.rep, err
		}
	}

	// Per-timestamp coordinate and variables, then waveforms.
	rows, err := c.coordinate(lay.timestamp[0].name, want.Timestamps, from, until)
	if err != nil {
		return c.rep, err
	}
	if err := c.columns(lay.timestamp[1:], rows, want.Float64, want.Int32, nil); err != nil {
		return c.rep, err
	}
	if len(lay.highRes) > 0 {
		hr, err := c.coordinate(lay.highRes[0].name, want.HighResTimestamps, from, until)
		if err != nil {
			return c.rep, err
		}
		if err := c.columns(lay.highRes[1:], hr, want.HighRes, nil, nil); err != nil {
			return c.rep, err
		}
	}
	if err := c.columns(lay.waveforms, rows, nil, nil, want.Waveforms); err != nil {
		return c.rep, err
	}
	return c.rep, nil
}

// readSource reads (from, until] from src in pieces the source accepts.
func readSource(src Source, from, until time.Time, parts source.Part) (*source.Batch, error) {
	span := source.MaxReadSpan
	if parts&source.PartWaveforms != 0 {
		span = source.MaxWaveformReadSpan
	}
	var out *source.Batch
	for lo := from; out == nil || lo.Before(until); {
		hi := until
		if m := lo.Add(span); m.Before(hi) {
			hi = m
		}
		b, err := src.ReadParts(lo, hi, parts)
		if err != nil {
			return nil, fmt.Errorf("check against source: read source (%s, %s]: %w", lo.Format(time.RFC3339Nano), hi.Format(time.RFC3339Nano), err)
		}
		if out == nil {
			out = b
		} else if err := out.Append(b); err != nil {
			return nil, fmt.Errorf("check against source: %w", err)
		}
		lo = hi
	}
	return out, nil
}

// checker reads the arrays of one repository version for
// CheckAgainstSource.
type checker struct {
	ctx        context.Context
	r          KeyReader
	isNotFound func(error) bool
	chunkRows  int // the configured chunk_timestamps
	rep        *SourceCheck
}

// meta reads and checks the zarr.json of the array of spec: its type and
// dimensions must be the layout's.
func (c *checker) meta(spec arraySpec) (*zarr.ArrayMetadata, error) {
	key := zarr.MetadataKey("/" + spec.name)
	data, err := c.r.Get(c.ctx, key)
	if err != nil {
		if c.isNotFound(err) {
			return nil, fmt.Errorf("%w: array %s: %s is missing: %w", ErrSourceMismatch, spec.name, key, err)
		}
		return nil, fmt.Errorf("array %s: read %s: %w", spec.name, key, err)
	}
	doc, err := zarr.ParseMetadata(key, data)
	if err != nil {
		return nil, fmt.Errorf("%w: array %s: %w", ErrSourceMismatch, spec.name, err)
	}
	if !doc.IsArray() {
		return nil, fmt.Errorf("%w: %s is a group, want an array", ErrSourceMismatch, spec.name)
	}
	a := doc.Array
	wantDims := 1
	if spec.width > 1 {
		wantDims = 2
	}
	if a.DataType != spec.dtype || len(a.Shape) != wantDims || (wantDims == 2 && a.Shape[1] != uint64(spec.width)) {
		return nil, fmt.Errorf("%w: array %s is %s of shape %v, want %s with %d dimensions", ErrSourceMismatch, spec.name, a.DataType, a.Shape, spec.dtype, wantDims)
	}
	if err := a.Decodable(); err != nil {
		return nil, fmt.Errorf("%w: array %s: %w", ErrSourceMismatch, spec.name, err)
	}
	return a, nil
}

// read reads the whole array of spec, whose metadata is meta, through the
// key reader.
func read[T element](c *checker, spec arraySpec, meta *zarr.ArrayMetadata) ([]T, error) {
	n := uint64(1)
	for _, d := range meta.Shape {
		if d != 0 && n > maxCheckedElements/d {
			return nil, fmt.Errorf("%w: array %s: shape %v is too large to check", ErrSourceMismatch, spec.name, meta.Shape)
		}
		n *= d
	}
	// Chunks may be larger than the array (a new array's first chunk), but
	// not absurdly: reading allocates one chunk of fill values.
	chunkN, err := meta.ChunkElements()
	if err != nil {
		return nil, fmt.Errorf("%w: array %s: %w", ErrSourceMismatch, spec.name, err)
	}
	if limit := max(n, uint64(c.chunkRows*spec.width), 1<<20); uint64(chunkN) > limit {
		return nil, fmt.Errorf("%w: array %s: chunks of %v elements are too large to check", ErrSourceMismatch, spec.name, meta.ChunkShape)
	}
	vals, err := zarr.ReadArray(meta, func(coords []uint32) ([]byte, bool, error) {
		key := zarr.ChunkKey("/"+spec.name, coords, meta.ChunkKeyEncoding)
		data, err := c.r.Get(c.ctx, key)
		if err != nil {
			if c.isNotFound(err) {
				c.rep.MissingChunks++
				return nil, false, nil
			}
			return nil, false, fmt.Errorf("read %s: %w", key, err)
		}
		return data, true, nil
	})
	if err != nil {
		if errors.Is(err, zarr.ErrInvalidChunk) {
			err = fmt.Errorf("%w: %w", ErrSourceMismatch, err)
		}
		return nil, fmt.Errorf("array %s: %w", spec.name, err)
	}
	out, ok := vals.([]T)
	if !ok {
		return nil, fmt.Errorf("%w: array %s reads as %T", ErrSourceMismatch, spec.name, vals)
	}
	return out, nil
}

// coordinate checks a time coordinate against the source's timestamps
// (nanoseconds) and returns its row count.
func (c *checker) coordinate(name string, want []int64, from, until time.Time) (int, error) {
	spec := arraySpec{name: name, dims: []string{name}, dtype: zarr.Int64, width: 1}
	meta, err := c.meta(spec)
	if err != nil {
		return 0, err
	}
	rows := int(meta.Shape[0])
	c.rep.Arrays = append(c.rep.Arrays, name)
	// Read the coordinate unless its length is absurd, so that repeated or
	// misplaced rows are reported as such before the row count.
	if uint64(rows) <= 2*uint64(len(want))+1_000_000 {
		us, err := read[int64](c, spec, meta)
		if err != nil {
			return 0, err
		}
		ts := nanos(us)
		if err := invariants.StrictlyIncreasing(name, ts); err != nil {
			return 0, err
		}
		if err := invariants.NoDuplicates(name, ts); err != nil {
			return 0, err
		}
		if err := invariants.WithinWindow(name, ts, from.UnixNano(), until.UnixNano()); err != nil {
			return 0, err
		}
		if err := invariants.RowsMatch(name, rows, len(want)); err != nil {
			return 0, err
		}
		for i := range ts {
			c.rep.Values++
			if ts[i] != want[i] {
				return 0, fmt.Errorf("%w: array %s: row %d is %d µs, the source has %d µs", ErrSourceMismatch, name, i, us[i], source.NanosToMicros(want[i]))
			}
		}
	} else if err := invariants.RowsMatch(name, rows, len(want)); err != nil {
		return 0, err
	}
	c.rep.Rows[name] = rows
	return rows, nil
}

// columns checks the variables of one dimension of rows rows, looking the
// source's values up by name in f64, i32 and f32.
func (c *checker) columns(specs []arraySpec, rows int, f64 map[string][]float64, i32 map[string][]int32, f32 map[string][]float32) error {
	for _, spec := range specs {
		var err error
		switch spec.dtype {
		case zarr.Float64:
			v, ok := f64[spec.name]
			if !ok {
				return fmt.Errorf("check against source: the source produced no float64 column %s", spec.name)
			}
			err = checkArray(c, spec, rows, v)
		case zarr.Int32:
			v, ok := i32[spec.name]
			if !ok {
				return fmt.Errorf("check against source: the source produced no int32 column %s", spec.name)
			}
			err = checkArray(c, spec, rows, v)
		case zarr.Float32:
			v, ok := f32[spec.name]
			if !ok {
				return fmt.Errorf("check against source: the source produced no float32 column %s", spec.name)
			}
			err = checkArray(c, spec, rows, v)
		default:
			return fmt.Errorf("check against source: array %s: unexpected type %s", spec.name, spec.dtype)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkArray checks that the array of spec has rows rows and holds want
// (rows*width values, row-major).
func checkArray[T element](c *checker, spec arraySpec, rows int, want []T) error {
	meta, err := c.meta(spec)
	if err != nil {
		return err
	}
	if err := invariants.RowsMatch(spec.name, int(meta.Shape[0]), rows); err != nil {
		return fmt.Errorf("array length: %w", err)
	}
	got, err := read[T](c, spec, meta)
	if err != nil {
		return err
	}
	c.rep.Arrays = append(c.rep.Arrays, spec.name)
	if len(got) != len(want) {
		return fmt.Errorf("%w: array %s holds %d values, the source produced %d", ErrSourceMismatch, spec.name, len(got), len(want))
	}
	for i := range want {
		c.rep.Values++
		if !sameValue(got[i], want[i]) {
			at := fmt.Sprintf("row %d", i)
			if spec.width > 1 {
				at = fmt.Sprintf("row %d sample %d (index %d)", i/spec.width, i%spec.width, i)
			}
			return fmt.Errorf("%w: array %s: %s is %v, the source has %v", ErrSourceMismatch, spec.name, at, got[i], want[i])
		}
	}
	return nil
}

// sameValue compares two stored values: integers exactly, floats bit for
// bit except that every NaN equals every NaN.
func sameValue[T element](a, b T) bool {
	switch x := any(a).(type) {
	case float64:
		y := any(b).(float64)
		return math.Float64bits(x) == math.Float64bits(y) || (math.IsNaN(x) && math.IsNaN(y))
	case float32:
		y := any(b).(float32)
		return math.Float32bits(x) == math.Float32bits(y) || (x != x && y != y)
	}
	return a == b
}
