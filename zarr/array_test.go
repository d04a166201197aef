package zarr

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// memChunks is a chunk store keyed by the default chunk key.
type memChunks map[string][]byte

func (m memChunks) put(path string, meta *ArrayMetadata) func([]uint32, []byte) error {
	return func(c []uint32, b []byte) error {
		m[ChunkKey(path, c, meta.ChunkKeyEncoding)] = b
		return nil
	}
}

func (m memChunks) get(path string, meta *ArrayMetadata) func([]uint32) ([]byte, bool, error) {
	return func(c []uint32) ([]byte, bool, error) {
		b, ok := m[ChunkKey(path, c, meta.ChunkKeyEncoding)]
		return b, ok, nil
	}
}

func TestWriteReadArrayWithEdgeChunks(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct{ shape, chunks []uint64 }{
		{[]uint64{7, 5}, []uint64{3, 2}},
		{[]uint64{10, 10}, []uint64{5, 5}},
		{[]uint64{5}, []uint64{1}},
		{[]uint64{4, 3, 5}, []uint64{3, 3, 2}},
		{[]uint64{2, 3}, []uint64{8, 8}},
		{[]uint64{}, []uint64{}},
	} {
		for _, dt := range []DataType{Float64, Int16, Bool} {
			meta := &ArrayMetadata{Shape: c.shape, ChunkShape: c.chunks, DataType: dt, FillValue: IntFill(0), Codecs: DefaultCodecs()}
			total := 1
			for _, s := range c.shape {
				total *= int(s)
			}
			values := randomValues(r, dt, total)
			store := memChunks{}
			require.NoError(t, WriteArray(meta, values, store.put("/g/a", meta)))
			grid := meta.GridShape()
			nchunks := 1
			for _, g := range grid {
				nchunks *= int(g)
			}
			require.Len(t, store, nchunks, "one chunk per grid cell")
			got, err := ReadArray(meta, store.get("/g/a", meta))
			require.NoError(t, err)
			require.Equal(t, bitsOf(t, values), bitsOf(t, got), "%v %v %s", c.shape, c.chunks, dt)
		}
	}
}

func TestReadArrayElementPlacement(t *testing.T) {
	// Each chunk holds its own index; check every element lands where the
	// regular grid says, with edge chunks clipped.
	meta := &ArrayMetadata{Shape: []uint64{5, 4}, ChunkShape: []uint64{2, 3}, DataType: Int32, FillValue: IntFill(-1), Codecs: DefaultCodecs()}
	got, err := ReadArray(meta, func(c []uint32) ([]byte, bool, error) {
		if c[0] == 1 && c[1] == 1 {
			return nil, false, nil // never written: fill
		}
		vals := make([]int32, 6)
		for i := range vals {
			vals[i] = int32(c[0])*1000 + int32(c[1])*100 + int32(i)
		}
		b, err := EncodeChunk(meta, vals)
		return b, true, err
	})
	require.NoError(t, err)
	want := []int32{
		0, 1, 2, 100,
		3, 4, 5, 103,
		1000, 1001, 1002, -1,
		1003, 1004, 1005, -1,
		2000, 2001, 2002, 2100,
	}
	require.Equal(t, want, got)

	idx, err := ChunkElementIndices(meta, []uint32{0, 1})
	require.NoError(t, err)
	require.Equal(t, []int{3, 7}, idx)
	idx, err = ChunkElementIndices(meta, []uint32{2, 0})
	require.NoError(t, err)
	require.Equal(t, []int{16, 17, 18}, idx)
	_, err = ChunkElementIndices(meta, []uint32{3, 0})
	require.ErrorIs(t, err, ErrInvalidKey)
	scalar := &ArrayMetadata{Shape: []uint64{}, ChunkShape: []uint64{}, DataType: Int8, FillValue: IntFill(0), Codecs: DefaultCodecs()}
	idx, err = ChunkElementIndices(scalar, []uint32{})
	require.NoError(t, err)
	require.Equal(t, []int{0}, idx)
}

func TestReadArraySmallChunksFacts(t *testing.T) {
	// group1/small_chunks on my-branch: chunk c/4 deleted, reads as fill 8.
	meta := &ArrayMetadata{Shape: []uint64{5}, ChunkShape: []uint64{1}, DataType: Int8, FillValue: IntFill(8), Codecs: DefaultCodecs()}
	store := memChunks{}
	require.NoError(t, WriteArray(meta, []int8{84, 84, 84, 84, 84}, store.put("/group1/small_chunks", meta)))
	require.Contains(t, store, "group1/small_chunks/c/4")
	delete(store, "group1/small_chunks/c/4")
	got, err := ReadArray(meta, store.get("/group1/small_chunks", meta))
	require.NoError(t, err)
	require.Equal(t, []int8{84, 84, 84, 84, 8}, got)

	// An array with no chunks at all reads as the fill value.
	inner := bigChunksMeta()
	got, err = ReadArray(inner, func([]uint32) ([]byte, bool, error) { return nil, false, nil })
	require.NoError(t, err)
	require.Len(t, got, 100)
	for _, v := range got.([]float32) {
		require.True(t, math.IsNaN(float64(v)))
	}
}

func TestReadArrayErrors(t *testing.T) {
	meta := bigChunksMeta()
	boom := errors.New("storage down")
	_, err := ReadArray(meta, func(c []uint32) ([]byte, bool, error) {
		if c[0] == 1 {
			return nil, false, boom
		}
		return nil, false, nil
	})
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "chunk [1 0]")

	_, err = ReadArray(meta, func(c []uint32) ([]byte, bool, error) { return []byte("junk"), true, nil })
	require.ErrorIs(t, err, ErrInvalidChunk)
	require.ErrorContains(t, err, "chunk [0 0]")

	huge := bigChunksMeta()
	huge.Shape = []uint64{1 << 20, 1 << 20}
	_, err = ReadArray(huge, nil)
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorContains(t, err, "exceeds")

	bad := bigChunksMeta()
	bad.Codecs = []Codec{{Name: "sharding_indexed"}}
	_, err = ReadArray(bad, nil)
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = ReadArray(nil, nil)
	require.ErrorIs(t, err, ErrInvalidMetadata)

	empty := &ArrayMetadata{Shape: []uint64{0, 1 << 40}, ChunkShape: []uint64{3, 3}, DataType: Uint8, FillValue: IntFill(0), Codecs: DefaultCodecs()}
	calls := 0
	got, err := ReadArray(empty, func([]uint32) ([]byte, bool, error) { calls++; return nil, false, nil })
	require.NoError(t, err)
	require.Equal(t, []uint8{}, got)
	require.Zero(t, calls)
}

func TestWriteArrayErrors(t *testing.T) {
	meta := bigChunksMeta()
	require.ErrorIs(t, WriteArray(meta, make([]float32, 99), nil), ErrInvalidValues)
	require.ErrorIs(t, WriteArray(meta, make([]int32, 100), nil), ErrInvalidValues)
	boom := errors.New("full")
	err := WriteArray(meta, make([]float32, 100), func(c []uint32, _ []byte) error {
		return fmt.Errorf("put %v: %w", c, boom)
	})
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "[0 0]")
	bad := bigChunksMeta()
	bad.FillValue = FillValue{}
	require.ErrorIs(t, WriteArray(bad, make([]float32, 100), func([]uint32, []byte) error { return nil }), ErrInvalidMetadata)

	// Edge chunks are padded with the fill value.
	pad := &ArrayMetadata{Shape: []uint64{3}, ChunkShape: []uint64{2}, DataType: Int8, FillValue: IntFill(9), Codecs: []Codec{BytesCodec("")}}
	chunks := map[string][]byte{}
	require.NoError(t, WriteArray(pad, []int8{1, 2, 3}, func(c []uint32, b []byte) error {
		chunks[fmt.Sprint(c)] = slices.Clone(b)
		return nil
	}))
	require.Equal(t, map[string][]byte{"[0]": {1, 2}, "[1]": {3, 9}}, chunks)
}
