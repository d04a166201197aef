package zarr

import (
	"math/rand/v2"
	"testing"
)

func benchMeta() *ArrayMetadata {
	return &ArrayMetadata{Shape: []uint64{1000}, ChunkShape: []uint64{1000}, DataType: Float64, FillValue: FloatFill(0), Codecs: DefaultCodecs()}
}

// benchValues is a smooth instrument-like series (compressible, not constant).
func benchValues() []float64 {
	r := rand.New(rand.NewPCG(9, 10))
	v := make([]float64, 1000)
	x := 1.9
	for i := range v {
		x += r.NormFloat64() * 0.001
		v[i] = x
	}
	return v
}

func BenchmarkEncodeChunkFloat64Zstd(b *testing.B) {
	meta, values := benchMeta(), benchValues()
	b.SetBytes(8000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeChunk(meta, values); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeChunkFloat64Zstd(b *testing.B) {
	meta := benchMeta()
	data, err := EncodeChunk(meta, benchValues())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(8000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeChunk(meta, data); err != nil {
			b.Fatal(err)
		}
	}
}
