package zarr

import (
	"fmt"
	"reflect"
)

// MaxArrayElements bounds the number of elements ReadArray and WriteArray
// handle at once, so hostile metadata cannot exhaust memory.
const MaxArrayElements = 1 << 28

// GridShape is the number of chunks along each dimension (empty for a 0-d
// array, whose single chunk has coordinates []).
func (a *ArrayMetadata) GridShape() []uint64 {
	out := make([]uint64, len(a.Shape))
	for i, s := range a.Shape {
		if i < len(a.ChunkShape) && a.ChunkShape[i] > 0 {
			out[i] = s / a.ChunkShape[i]
			if s%a.ChunkShape[i] != 0 {
				out[i]++
			}
		}
	}
	return out
}

// CheckChunkCoords reports an error unless coords name a chunk of the grid:
// one coordinate per dimension, each below the number of chunks along it.
func (a *ArrayMetadata) CheckChunkCoords(coords []uint32) error {
	if len(coords) != len(a.Shape) {
		return fmt.Errorf("zarr: chunk %v has %d coordinates, array has %d dimensions: %w", coords, len(coords), len(a.Shape), ErrInvalidKey)
	}
	grid := a.GridShape()
	for i, c := range coords {
		if uint64(c) >= grid[i] {
			return fmt.Errorf("zarr: chunk %v is outside the chunk grid %v: %w", coords, grid, ErrInvalidKey)
		}
	}
	return nil
}

// layout holds what the whole-array helpers need, checked once.
type layout struct {
	meta    *ArrayMetadata
	total   int   // elements in the array
	chunkN  int   // elements in a chunk
	grid    []int // chunks per dimension
	strides []int // C-order strides of the array, in elements
	cstride []int // C-order strides of a chunk, in elements
}

func newLayout(meta *ArrayMetadata) (*layout, error) {
	if meta == nil {
		return nil, fmt.Errorf("zarr: nil array metadata: %w", ErrInvalidMetadata)
	}
	n, err := meta.ChunkElements()
	if err != nil {
		return nil, err
	}
	l := &layout{meta: meta, chunkN: n, total: 1}
	nd := len(meta.Shape)
	for _, s := range meta.Shape {
		if s == 0 {
			l.total = 0
			return l, nil // no chunks to visit
		}
	}
	for _, s := range meta.Shape {
		if s > MaxArrayElements || uint64(l.total)*s > MaxArrayElements {
			return nil, fmt.Errorf("zarr: array of shape %v exceeds %d elements: %w", meta.Shape, MaxArrayElements, ErrUnsupported)
		}
		l.total *= int(s)
	}
	l.grid = make([]int, nd)
	for i, g := range meta.GridShape() {
		l.grid[i] = int(g) // g <= shape <= MaxArrayElements
	}
	l.strides = make([]int, nd)
	l.cstride = make([]int, nd)
	as, cs := 1, 1
	for i := nd - 1; i >= 0; i-- {
		l.strides[i], l.cstride[i] = as, cs
		as *= int(meta.Shape[i])
		cs *= int(meta.ChunkShape[i])
	}
	return l, nil
}

// forEachChunk calls fn with the coordinates of every chunk, in C order.
func (l *layout) forEachChunk(fn func(coords []uint32) error) error {
	if l.total == 0 {
		return nil
	}
	coords := make([]uint32, len(l.grid))
	for {
		if err := fn(coords); err != nil {
			return err
		}
		d := len(coords) - 1
		for ; d >= 0; d-- {
			coords[d]++
			if int(coords[d]) < l.grid[d] {
				break
			}
			coords[d] = 0
		}
		if d < 0 {
			return nil
		}
	}
}

// forEachRun calls fn(arrayOffset, chunkOffset, n) for every run of n
// elements contiguous in both the array and the chunk at coords, clipped to
// the array's shape.
func (l *layout) forEachRun(coords []uint32, fn func(arrayOff, chunkOff, n int)) {
	nd := len(l.grid)
	if nd == 0 {
		fn(0, 0, 1)
		return
	}
	origin := make([]int, nd)
	extent := make([]int, nd)
	for d := range nd {
		c := int(l.meta.ChunkShape[d])
		origin[d] = int(coords[d]) * c
		extent[d] = min(c, int(l.meta.Shape[d])-origin[d])
	}
	idx := make([]int, nd-1) // position inside the chunk, all but the last dimension
	for {
		aoff := origin[nd-1]
		coff := 0
		for d, i := range idx {
			aoff += (origin[d] + i) * l.strides[d]
			coff += i * l.cstride[d]
		}
		fn(aoff, coff, extent[nd-1])
		d := nd - 2
		for ; d >= 0; d-- {
			idx[d]++
			if idx[d] < extent[d] {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

// ReadArray reads a whole array into a typed slice of prod(Shape) elements
// in C order. get returns a chunk's encoded bytes, or ok=false for a chunk
// never written (read as the fill value); edge chunks are clipped to the
// array's shape. Errors name the chunk coordinates.
func ReadArray(meta *ArrayMetadata, get func(coords []uint32) (data []byte, ok bool, err error)) (any, error) {
	l, err := newLayout(meta)
	if err != nil {
		return nil, fmt.Errorf("zarr: read array: %w", err)
	}
	if err := meta.Decodable(); err != nil {
		return nil, fmt.Errorf("zarr: read array: %w", err)
	}
	out := makeSlice(meta.DataType, l.total)
	fill, err := filled(meta, l.chunkN)
	if err != nil {
		return nil, fmt.Errorf("zarr: read array: %w", err)
	}
	dst := reflect.ValueOf(out)
	err = l.forEachChunk(func(coords []uint32) error {
		data, ok, err := get(coords)
		if err != nil {
			return fmt.Errorf("zarr: read array: chunk %v: %w", coords, err)
		}
		chunk := fill
		if ok {
			if chunk, err = DecodeChunk(meta, data); err != nil {
				return fmt.Errorf("zarr: read array: chunk %v: %w", coords, err)
			}
		}
		src := reflect.ValueOf(chunk)
		l.forEachRun(coords, func(aoff, coff, n int) {
			reflect.Copy(dst.Slice(aoff, aoff+n), src.Slice(coff, coff+n))
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// WriteArray splits values (a typed slice of prod(Shape) elements in C order)
// into chunks, encodes each (edge chunks padded with the fill value) and
// hands it to put, in C order of chunk coordinates.
func WriteArray(meta *ArrayMetadata, values any, put func(coords []uint32, chunk []byte) error) error {
	l, err := newLayout(meta)
	if err != nil {
		return fmt.Errorf("zarr: write array: %w", err)
	}
	n, err := sliceLen(meta.DataType, values)
	if err != nil {
		return fmt.Errorf("zarr: write array: %w", err)
	}
	if n != l.total {
		return fmt.Errorf("zarr: write array: %d values for an array of shape %v (%d elements): %w", n, meta.Shape, l.total, ErrInvalidValues)
	}
	src := reflect.ValueOf(values)
	return l.forEachChunk(func(coords []uint32) error {
		chunk, err := filled(meta, l.chunkN)
		if err != nil {
			return fmt.Errorf("zarr: write array: %w", err)
		}
		dst := reflect.ValueOf(chunk)
		l.forEachRun(coords, func(aoff, coff, n int) {
			reflect.Copy(dst.Slice(coff, coff+n), src.Slice(aoff, aoff+n))
		})
		data, err := EncodeChunk(meta, chunk)
		if err != nil {
			return fmt.Errorf("zarr: write array: chunk %v: %w", coords, err)
		}
		return put(coords, data)
	})
}

// ChunkElementIndices lists the C-order indices, in the whole array, of the
// elements the chunk at coords covers (clipped to the array's shape), in
// the chunk's own C order. The CLI uses it to blank out virtual chunks.
func ChunkElementIndices(meta *ArrayMetadata, coords []uint32) ([]int, error) {
	l, err := newLayout(meta)
	if err != nil {
		return nil, err
	}
	if err := meta.CheckChunkCoords(coords); err != nil {
		return nil, err
	}
	var out []int
	if l.total == 0 {
		return out, nil
	}
	l.forEachRun(coords, func(aoff, _, n int) {
		for i := range n {
			out = append(out, aoff+i)
		}
	})
	return out, nil
}
