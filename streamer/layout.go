package streamer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/icerig/icerig/streamer/source"
	"github.com/icerig/icerig/zarr"
)

// Names of the coordinate and retro arrays of a repository. Every array
// lives at the root of the repository's Zarr hierarchy, next to the data
// variables (named as in source.Variables).
const (
	// ArrayTimestamp is the DimTimestamp coordinate: int64 microseconds
	// since the Unix epoch.
	ArrayTimestamp = source.DimTimestamp
	// ArrayHighResTimestamp is the DimHighRes coordinate, like ArrayTimestamp.
	ArrayHighResTimestamp = source.DimHighRes
	// ArrayRetro is the DimRetro coordinate: int32 indices 0..n-1, with the
	// retro names in its "names" attribute.
	ArrayRetro = source.DimRetro
	// ArrayRetroLatitude, ArrayRetroLongitude and ArrayRetroAltitude hold
	// the retro table.
	ArrayRetroLatitude  = "retro_latitude"
	ArrayRetroLongitude = "retro_longitude"
	ArrayRetroAltitude  = "retro_altitude"
)

// TimestampUnits is the "units" attribute of the timestamp coordinates.
const TimestampUnits = "microseconds since 1970-01-01T00:00:00Z"

// arraySpec describes one array the streamer writes.
type arraySpec struct {
	name  string
	dims  []string
	dtype zarr.DataType
	// width is the number of elements per row along the first dimension
	// (source.WaveformSamples for waveforms, 1 otherwise).
	width int
	attrs map[string]any
}

// layout is the set of arrays a configuration writes, grouped in the order
// they are written: retro table, per-timestamp, high-rate, waveforms.
type layout struct {
	retro     []arraySpec
	timestamp []arraySpec // the coordinate first
	highRes   []arraySpec // the coordinate first; empty when none
	waveforms []arraySpec
	// id is a short hash of every array's name, dimensions and type:
	// repositories of another layout are not appended to.
	id string
}

func newLayout(src Source, cfg *Config) layout {
	var l layout
	l.retro = []arraySpec{
		{name: ArrayRetro, dims: []string{source.DimRetro}, dtype: zarr.Int32, width: 1,
			attrs: map[string]any{"long_name": "retro-reflector index", "units": "1"}},
		{name: ArrayRetroLatitude, dims: []string{source.DimRetro}, dtype: zarr.Float64, width: 1,
			attrs: map[string]any{"long_name": "retro-reflector latitude", "units": "degree_north"}},
		{name: ArrayRetroLongitude, dims: []string{source.DimRetro}, dtype: zarr.Float64, width: 1,
			attrs: map[string]any{"long_name": "retro-reflector longitude", "units": "degree_east"}},
		{name: ArrayRetroAltitude, dims: []string{source.DimRetro}, dtype: zarr.Float64, width: 1,
			attrs: map[string]any{"long_name": "retro-reflector altitude", "units": "m"}},
	}
	coord := func(name, long string) arraySpec {
		return arraySpec{name: name, dims: []string{name}, dtype: zarr.Int64, width: 1,
			attrs: map[string]any{"long_name": long, "standard_name": "time", "units": TimestampUnits, "calendar": "proleptic_gregorian"}}
	}
	l.timestamp = []arraySpec{coord(ArrayTimestamp, "measurement time")}
	for _, v := range selectVariables(src.Variables(), cfg.Data, cfg.Variables) {
		attrs := map[string]any{"units": v.Units}
		for k, a := range v.Attributes {
			attrs[k] = a
		}
		spec := arraySpec{name: v.Name, dims: v.Dimensions, dtype: v.DType, width: 1, attrs: attrs}
		switch {
		case len(v.Dimensions) == 2:
			spec.width = source.WaveformSamples
			l.waveforms = append(l.waveforms, spec)
		case v.Dimensions[0] == source.DimHighRes:
			if len(l.highRes) == 0 {
				l.highRes = append(l.highRes, coord(ArrayHighResTimestamp, "anemometer sample time"))
			}
			l.highRes = append(l.highRes, spec)
		default:
			l.timestamp = append(l.timestamp, spec)
		}
	}
	var parts []string
	for _, a := range l.all() {
		parts = append(parts, a.name+":"+strings.Join(a.dims, ",")+":"+string(a.dtype))
	}
	sort.Strings(parts)
	sum := sha256.Sum256([]byte(strings.Join(parts, ";")))
	l.id = hex.EncodeToString(sum[:])[:12]
	return l
}

func (l layout) all() []arraySpec {
	var out []arraySpec
	out = append(out, l.retro...)
	out = append(out, l.timestamp...)
	out = append(out, l.highRes...)
	return append(out, l.waveforms...)
}

// find returns the spec of the named array.
func (l layout) find(name string) (arraySpec, bool) {
	for _, a := range l.all() {
		if a.name == name {
			return a, true
		}
	}
	return arraySpec{}, false
}

// fillValue is the fill value of an array of type dt: NaN for floats, -1
// for integers (no valid timestamp, index or flag is -1).
func fillValue(dt zarr.DataType) zarr.FillValue {
	switch dt {
	case zarr.Float32, zarr.Float64:
		return zarr.FloatFill(math.NaN())
	default:
		return zarr.IntFill(-1)
	}
}

// newArrayDoc writes the zarr.json of a new, empty array with chunks of
// chunkRows rows (retro arrays: one chunk of rows rows).
func newArrayDoc(spec arraySpec, rows, chunkRows uint64) ([]byte, error) {
	attrs, err := json.Marshal(spec.attrs)
	if err != nil {
		return nil, fmt.Errorf("attributes of %s: %w", spec.name, err)
	}
	names := make([]*string, len(spec.dims))
	for i := range spec.dims {
		names[i] = &spec.dims[i]
	}
	meta := &zarr.ArrayMetadata{
		Shape:          []uint64{rows},
		ChunkShape:     []uint64{chunkRows},
		DataType:       spec.dtype,
		FillValue:      fillValue(spec.dtype),
		Attributes:     attrs,
		DimensionNames: names,
	}
	if spec.width > 1 {
		meta.Shape = append(meta.Shape, uint64(spec.width))
		meta.ChunkShape = append(meta.ChunkShape, uint64(spec.width))
	}
	doc, err := zarr.NewArray(meta)
	if err != nil {
		return nil, fmt.Errorf("zarr.json of %s: %w", spec.name, err)
	}
	return doc, nil
}
