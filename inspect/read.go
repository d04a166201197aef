package inspect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/zarr"
)

// VirtualMode says how Read treats a virtual chunk.
type VirtualMode string

// The virtual chunk modes.
const (
	// VirtualError fails the read (the default).
	VirtualError VirtualMode = "error"
	// VirtualNull reads the chunk's elements as null.
	VirtualNull VirtualMode = "null"
)

// ParseVirtualMode reads "error" or "null".
func ParseVirtualMode(s string) (VirtualMode, error) {
	switch m := VirtualMode(s); m {
	case VirtualError, VirtualNull:
		return m, nil
	}
	return "", fmt.Errorf("virtual chunk mode %q: want %q or %q", s, VirtualError, VirtualNull)
}

// MaxReadElements bounds the arrays Read materializes.
const MaxReadElements = 1 << 24

// ReadResult is the JSON object `icerig read` prints.
type ReadResult struct {
	// Path is the array's absolute node path.
	Path string `json:"path"`
	// DataType is the Zarr data type.
	DataType string   `json:"dtype"`
	Shape    []uint64 `json:"shape"`
	// Values is the whole array, flat in C order: JSON numbers (as
	// json.Number), booleans, the strings "NaN", "Infinity" and
	// "-Infinity", and nil for elements of virtual chunks read with
	// VirtualNull.
	Values []any `json:"values"`
}

// Read reads the whole array at arrayPath ("group1/big_chunks" or
// "/group1/big_chunks") of the version ref names. Chunks without value read
// as the fill value. A virtual chunk fails the read (an error matching
// actors.ErrVirtualChunk) unless virtual is VirtualNull, which reads its
// elements as nil.
func Read(ctx context.Context, repo actors.Repo, ref actors.Ref, arrayPath string, virtual VirtualMode) (*ReadResult, error) {
	if virtual == "" {
		virtual = VirtualError
	}
	if _, err := ParseVirtualMode(string(virtual)); err != nil {
		return nil, err
	}
	path := zarr.NodePathFromPrefix(arrayPath)
	if err := zarr.ValidateNodePath(path); err != nil {
		return nil, fmt.Errorf("read %q: %w: %w", arrayPath, actors.ErrInvalidKey, err)
	}
	// Pin the version, so every chunk comes from the same snapshot.
	id, err := repo.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	pinned := actors.Snapshot(id)
	doc, err := repo.Get(ctx, pinned, zarr.MetadataKey(path))
	if errors.Is(err, actors.ErrKeyNotFound) {
		return nil, fmt.Errorf("read %s: no array at %s in %s: %w", path, path, ref, actors.ErrKeyNotFound)
	}
	if err != nil {
		return nil, err
	}
	meta, err := zarr.ParseMetadata(path, doc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w: %w", path, actors.ErrCorrupt, err)
	}
	if !meta.IsArray() {
		return nil, fmt.Errorf("read %s: a group, not an array: %w", path, actors.ErrKeyNotFound)
	}
	a := meta.Array
	if n, ok := elements(a.Shape); !ok || n > MaxReadElements {
		return nil, fmt.Errorf("read %s: shape %v is more than the %d elements read handles", path, a.Shape, MaxReadElements)
	}
	var virtualChunks [][]uint32
	values, err := zarr.ReadArray(a, func(coords []uint32) ([]byte, bool, error) {
		key := zarr.ChunkKey(path, coords, a.ChunkKeyEncoding)
		data, err := repo.Get(ctx, pinned, key)
		switch {
		case err == nil:
			return data, true, nil
		case errors.Is(err, actors.ErrKeyNotFound):
			return nil, false, nil
		case errors.Is(err, actors.ErrVirtualChunk) && virtual == VirtualNull:
			virtualChunks = append(virtualChunks, slices.Clone(coords))
			return nil, false, nil
		}
		return nil, false, err // the actor's error names the key
	})
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", path, ref, err)
	}
	out, err := jsonValues(values)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	for _, coords := range virtualChunks {
		idx, err := zarr.ChunkElementIndices(a, coords)
		if err != nil {
			return nil, fmt.Errorf("read %s: virtual chunk %v: %w", path, coords, err)
		}
		for _, i := range idx {
			out[i] = nil
		}
	}
	return &ReadResult{Path: path, DataType: string(a.DataType), Shape: append([]uint64{}, a.Shape...), Values: out}, nil
}

// elements is the product of shape; ok is false on overflow.
func elements(shape []uint64) (uint64, bool) {
	n := uint64(1)
	for _, d := range shape {
		if d != 0 && n > math.MaxUint64/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// jsonValues converts a typed slice from zarr.ReadArray to JSON values.
func jsonValues(values any) ([]any, error) {
	switch v := values.(type) {
	case []bool:
		return convert(v, func(b bool) any { return b }), nil
	case []int8:
		return convert(v, intNumber), nil
	case []int16:
		return convert(v, intNumber), nil
	case []int32:
		return convert(v, intNumber), nil
	case []int64:
		return convert(v, intNumber), nil
	case []uint8:
		return convert(v, uintNumber), nil
	case []uint16:
		return convert(v, uintNumber), nil
	case []uint32:
		return convert(v, uintNumber), nil
	case []uint64:
		return convert(v, uintNumber), nil
	case []float32:
		return convert(v, func(f float32) any { return floatValue(float64(f), 32) }), nil
	case []float64:
		return convert(v, func(f float64) any { return floatValue(f, 64) }), nil
	}
	return nil, fmt.Errorf("values of unexpected Go type %T", values)
}

func convert[T any](in []T, f func(T) any) []any {
	out := make([]any, len(in))
	for i, x := range in {
		out[i] = f(x)
	}
	return out
}

func intNumber[T int8 | int16 | int32 | int64](x T) any {
	return json.Number(strconv.FormatInt(int64(x), 10))
}

func uintNumber[T uint8 | uint16 | uint32 | uint64](x T) any {
	return json.Number(strconv.FormatUint(uint64(x), 10))
}

// floatValue renders a float the way Zarr writes fill values: the shortest
// decimal that reads back as the same value of its width, ".0" appended to
// integral values, and the strings "NaN", "Infinity", "-Infinity".
func floatValue(f float64, bits int) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	s := strconv.FormatFloat(f, 'g', -1, bits)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return json.Number(s)
}
