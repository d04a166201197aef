package zarr

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

// randomValues returns n pseudo-random values of dt as a typed slice,
// including the extremes of the type (and NaN, ±Inf for floats).
func randomValues(r *rand.Rand, dt DataType, n int) any {
	v := makeSlice(dt, n)
	for i := range n {
		u := r.Uint64()
		switch s := v.(type) {
		case []bool:
			s[i] = u&1 == 1
		case []int8:
			s[i] = int8(u)
		case []int16:
			s[i] = int16(u)
		case []int32:
			s[i] = int32(u)
		case []int64:
			s[i] = int64(u)
		case []uint8:
			s[i] = uint8(u)
		case []uint16:
			s[i] = uint16(u)
		case []uint32:
			s[i] = uint32(u)
		case []uint64:
			s[i] = u
		case []float32:
			s[i] = []float32{float32(r.NormFloat64()), float32(math.NaN()), float32(math.Inf(-1)), math.MaxFloat32, 42}[u%5]
		case []float64:
			s[i] = []float64{r.NormFloat64(), math.NaN(), math.Inf(1), -math.SmallestNonzeroFloat64, 42}[u%5]
		}
	}
	return v
}

// bitsOf gives the little-endian bytes of a typed slice, so slices holding
// NaNs compare by bit pattern.
func bitsOf(t testing.TB, v any) []byte {
	t.Helper()
	b, err := binary.Append(nil, binary.LittleEndian, v)
	require.NoError(t, err)
	return b
}

var codecChains = map[string][]Codec{
	"none":         nil,
	"zstd":         {ZstdCodec(0, false)},
	"zstd-19-crc":  {ZstdCodec(19, true)},
	"zstd-neg":     {ZstdCodec(-3, false)},
	"gzip-1":       {GzipCodec(1)},
	"gzip-9":       {GzipCodec(9)},
	"gzip-default": {{Name: "gzip"}},
	"crc32c":       {Crc32cCodec()},
	"zstd+crc32c":  {ZstdCodec(3, false), Crc32cCodec()},
	"gzip+zstd":    {GzipCodec(6), ZstdCodec(1, true)},
}

func TestChunkRoundTripEveryDtypeEndianCompressor(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, dt := range SupportedDataTypes {
		for _, endian := range []string{"little", "big"} {
			for name, chain := range codecChains {
				for _, shape := range [][]uint64{{4, 5}, {}, {3, 1, 2}} {
					meta := &ArrayMetadata{
						Shape:      slices.Clone(shape),
						ChunkShape: shape,
						DataType:   dt,
						FillValue:  IntFill(0),
						Codecs:     append([]Codec{BytesCodec(endian)}, chain...),
					}
					n, err := meta.ChunkElements()
					require.NoError(t, err)
					values := randomValues(r, dt, n)
					enc, err := EncodeChunk(meta, values)
					require.NoError(t, err, "%s %s %s", dt, endian, name)
					dec, err := DecodeChunk(meta, enc)
					require.NoError(t, err, "%s %s %s", dt, endian, name)
					require.IsType(t, values, dec)
					require.Equal(t, bitsOf(t, values), bitsOf(t, dec), "%s %s %s", dt, endian, name)
				}
			}
		}
	}
}

func TestBytesCodecEndianness(t *testing.T) {
	meta := func(dt DataType, endian string) *ArrayMetadata {
		return &ArrayMetadata{Shape: []uint64{2}, ChunkShape: []uint64{2}, DataType: dt, FillValue: IntFill(0), Codecs: []Codec{BytesCodec(endian)}}
	}
	b, err := EncodeChunk(meta(Int16, "little"), []int16{0x0102, -2})
	require.NoError(t, err)
	require.Equal(t, []byte{0x02, 0x01, 0xfe, 0xff}, b)
	b, err = EncodeChunk(meta(Int16, "big"), []int16{0x0102, -2})
	require.NoError(t, err)
	require.Equal(t, []byte{0x01, 0x02, 0xff, 0xfe}, b)
	b, err = EncodeChunk(meta(Float32, "big"), []float32{1, 0})
	require.NoError(t, err)
	require.Equal(t, []byte{0x3f, 0x80, 0, 0, 0, 0, 0, 0}, b)

	// Endian does not matter for one-byte types, and may be left out.
	for _, endian := range []string{"little", "big", ""} {
		b, err = EncodeChunk(meta(Int8, endian), []int8{-1, 5})
		require.NoError(t, err)
		require.Equal(t, []byte{0xff, 5}, b)
		v, err := DecodeChunk(meta(Bool, endian), []byte{0, 7})
		require.NoError(t, err)
		require.Equal(t, []bool{false, true}, v, "any non-zero byte is true")
		b, err = EncodeChunk(meta(Bool, endian), []bool{true, false})
		require.NoError(t, err)
		require.Equal(t, []byte{1, 0}, b)
	}
	_, err = EncodeChunk(meta(Int16, ""), []int16{1, 2})
	require.ErrorIs(t, err, ErrInvalidMetadata, "a two-byte type needs an endian")
	require.ErrorContains(t, err, "endian")
}

func TestZstdConfigurationHonoured(t *testing.T) {
	meta := func(level int, checksum bool) *ArrayMetadata {
		return &ArrayMetadata{Shape: []uint64{4096}, ChunkShape: []uint64{4096}, DataType: Uint16, FillValue: IntFill(0),
			Codecs: []Codec{BytesCodec("little"), ZstdCodec(level, checksum)}}
	}
	r := rand.New(rand.NewPCG(3, 4))
	values := make([]uint16, 4096)
	// Runs copied from earlier positions at varying distances: matches a
	// better compression level finds and the fastest one misses.
	for i := range values {
		if i > 300 && r.IntN(10) > 0 {
			values[i] = values[i-1-r.IntN(3)*97]
		} else {
			values[i] = uint16(r.IntN(1 << 12))
		}
	}
	frameHasChecksum := func(b []byte) bool {
		require.GreaterOrEqual(t, len(b), 5)
		require.Equal(t, []byte{0x28, 0xb5, 0x2f, 0xfd}, b[:4], "zstd magic")
		return b[4]&0x04 != 0 // Content_Checksum_flag of the frame header descriptor
	}
	with, err := EncodeChunk(meta(0, true), values)
	require.NoError(t, err)
	require.True(t, frameHasChecksum(with))
	without, err := EncodeChunk(meta(0, false), values)
	require.NoError(t, err)
	require.False(t, frameHasChecksum(without))

	fast, err := EncodeChunk(meta(1, false), values)
	require.NoError(t, err)
	best, err := EncodeChunk(meta(19, false), values)
	require.NoError(t, err)
	require.NotEqual(t, fast, best, "levels pick different encoders")
	require.Less(t, len(best), len(fast), "a higher level compresses this data better")

	// A checksum mismatch is detected on decode.
	corrupt := bytes.Clone(with)
	corrupt[len(corrupt)-1] ^= 0xff
	_, err = DecodeChunk(meta(0, true), corrupt)
	require.ErrorIs(t, err, ErrInvalidChunk)
}

func TestDecodeAnyZstdFrame(t *testing.T) {
	// Frames from another encoder configuration (here: the streaming
	// encoder with checksum, no content size) decode under any level setting.
	raw, err := binary.Append(nil, binary.LittleEndian, slices.Repeat([]float64{1.5}, 100))
	require.NoError(t, err)
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf, zstd.WithEncoderCRC(true), zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	require.NoError(t, err)
	_, err = w.Write(raw)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	meta := &ArrayMetadata{Shape: []uint64{100}, ChunkShape: []uint64{100}, DataType: Float64, FillValue: FloatFill(0),
		Codecs: []Codec{BytesCodec("little"), ZstdCodec(7, false)}}
	v, err := DecodeChunk(meta, buf.Bytes())
	require.NoError(t, err)
	require.Equal(t, slices.Repeat([]float64{1.5}, 100), v)
}

func zstdBytes(t testing.TB, b []byte) []byte {
	e, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	return e.EncodeAll(b, nil)
}

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func TestDecodeChunkErrors(t *testing.T) {
	meta := bigChunksMeta() // 25 float32 = 100 bytes, bytes + zstd
	good, err := EncodeChunk(meta, slices.Repeat([]float32{42}, 25))
	require.NoError(t, err)
	withCodecs := func(cs ...Codec) *ArrayMetadata {
		m := bigChunksMeta()
		m.Codecs = append([]Codec{BytesCodec("little")}, cs...)
		return m
	}
	cases := []struct {
		name string
		meta *ArrayMetadata
		data []byte
		want error
		msg  string
	}{
		{"empty", meta, nil, ErrInvalidChunk, "0 bytes, want 100"},
		{"garbage", meta, []byte("not zstd at all"), ErrInvalidChunk, "zstd"},
		{"truncated", meta, good[:len(good)-3], ErrInvalidChunk, "zstd"},
		{"short", meta, zstdBytes(t, make([]byte, 99)), ErrInvalidChunk, "99 bytes, want 100"},
		{"long", meta, zstdBytes(t, make([]byte, 101)), ErrInvalidChunk, "exceeds 100 bytes"},
		{"huge", meta, zstdBytes(t, make([]byte, 10<<20)), ErrInvalidChunk, "exceeds"},
		{"uncompressed", withCodecs(), make([]byte, 104), ErrInvalidChunk, "104 bytes, want 100"},
		{"gzip garbage", withCodecs(GzipCodec(5)), []byte{1, 2, 3}, ErrInvalidChunk, "gzip"},
		{"gzip short", withCodecs(GzipCodec(5)), gzipBytes(t, make([]byte, 50)), ErrInvalidChunk, "50 bytes, want 100"},
		{"gzip bomb", withCodecs(GzipCodec(5)), gzipBytes(t, make([]byte, 10<<20)), ErrInvalidChunk, "exceeds 100 bytes"},
		{"gzip truncated", withCodecs(GzipCodec(5)), gzipBytes(t, make([]byte, 100))[:20], ErrInvalidChunk, "gzip"},
		{"crc short", withCodecs(Crc32cCodec()), []byte{1, 2}, ErrInvalidChunk, "shorter than"},
		{"crc mismatch", withCodecs(Crc32cCodec()), make([]byte, 104), ErrInvalidChunk, "checksum"},
		{"unknown codec", withCodecs(Codec{Name: "blosc"}), good, ErrUnsupported, `"blosc"`},
		{"transpose", &ArrayMetadata{Shape: []uint64{1}, ChunkShape: []uint64{1}, DataType: Int8, FillValue: IntFill(0),
			Codecs: []Codec{{Name: "transpose"}, BytesCodec("")}}, []byte{1}, ErrUnsupported, `"transpose"`},
		{"b2b first", &ArrayMetadata{Shape: []uint64{1}, ChunkShape: []uint64{1}, DataType: Int8, FillValue: IntFill(0),
			Codecs: []Codec{ZstdCodec(0, false)}}, []byte{1}, ErrInvalidMetadata, "must come first"},
		{"two bytes codecs", withCodecs(BytesCodec("big")), good, ErrInvalidMetadata, "second array-to-bytes"},
		{"no codecs", &ArrayMetadata{Shape: []uint64{1}, ChunkShape: []uint64{1}, DataType: Int8, FillValue: IntFill(0)}, []byte{1}, ErrInvalidMetadata, "no codecs"},
		{"bad endian", &ArrayMetadata{Shape: []uint64{1}, ChunkShape: []uint64{1}, DataType: Int8, FillValue: IntFill(0),
			Codecs: []Codec{{Name: "bytes", Configuration: json.RawMessage(`{"endian":"middle"}`)}}}, []byte{1}, ErrInvalidMetadata, "middle"},
		{"bad zstd conf", withCodecs(Codec{Name: "zstd", Configuration: json.RawMessage(`{"level":"high"}`)}), good, ErrInvalidMetadata, "zstd codec configuration"},
		{"bad gzip level", withCodecs(GzipCodec(10)), good, ErrInvalidMetadata, "gzip level 10"},
		{"unsupported dtype", &ArrayMetadata{Shape: []uint64{1}, ChunkShape: []uint64{1}, DataType: "complex64", Codecs: DefaultCodecs()}, good, ErrUnsupported, "complex64"},
		{"transformers", &ArrayMetadata{Shape: []uint64{1}, ChunkShape: []uint64{1}, DataType: Int8, FillValue: IntFill(0),
			Codecs: DefaultCodecs(), StorageTransformers: []json.RawMessage{json.RawMessage(`{}`)}}, good, ErrUnsupported, "storage transformers"},
		{"too large", &ArrayMetadata{Shape: []uint64{1 << 40, 1 << 40}, ChunkShape: []uint64{1 << 20, 1 << 20}, DataType: Float64,
			FillValue: FloatFill(0), Codecs: DefaultCodecs()}, good, ErrUnsupported, "exceeds"},
		{"overflowing shape", &ArrayMetadata{Shape: []uint64{1, 1}, ChunkShape: []uint64{math.MaxUint64, math.MaxUint64}, DataType: Int8,
			FillValue: IntFill(0), Codecs: DefaultCodecs()}, good, ErrUnsupported, "exceeds"},
		{"rank mismatch", &ArrayMetadata{Shape: []uint64{1}, ChunkShape: []uint64{1, 1}, DataType: Int8, FillValue: IntFill(0), Codecs: DefaultCodecs()}, good, ErrInvalidMetadata, "does not match"},
		{"zero chunk", &ArrayMetadata{Shape: []uint64{1}, ChunkShape: []uint64{0}, DataType: Int8, FillValue: IntFill(0), Codecs: DefaultCodecs()}, good, ErrInvalidMetadata, "zero extent"},
		{"nil meta", nil, good, ErrInvalidMetadata, "nil array metadata"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeChunk(c.meta, c.data)
			require.ErrorIs(t, err, c.want)
			require.ErrorContains(t, err, c.msg)
			require.ErrorContains(t, err, "decode chunk")
		})
	}
}

func TestEncodeChunkErrors(t *testing.T) {
	meta := bigChunksMeta()
	for _, c := range []struct {
		name   string
		values any
		msg    string
	}{
		{"wrong type", slices.Repeat([]float64{1}, 25), "[]float64 for data type float32"},
		{"too short", make([]float32, 24), "24 values for a chunk of 25"},
		{"too long", make([]float32, 26), "26 values"},
		{"not a slice", float32(1), "float32"},
		{"nil", nil, "<nil>"},
		{"strings", []string{"a"}, "[]string"},
	} {
		_, err := EncodeChunk(meta, c.values)
		require.ErrorIs(t, err, ErrInvalidValues, c.name)
		require.ErrorContains(t, err, c.msg, c.name)
	}
	m := bigChunksMeta()
	m.Codecs = append(m.Codecs, Codec{Name: "lz4"})
	_, err := EncodeChunk(m, make([]float32, 25))
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorContains(t, err, `"lz4"`)
	_, err = EncodeChunk(nil, make([]float32, 25))
	require.ErrorIs(t, err, ErrInvalidMetadata)
}

func TestFillChunk(t *testing.T) {
	cases := []struct {
		dt   DataType
		fill FillValue
		want any
	}{
		{Bool, BoolFill(true), []bool{true, true}},
		{Int8, IntFill(8), []int8{8, 8}},
		{Int16, IntFill(-300), []int16{-300, -300}},
		{Int32, IntFill(1 << 20), []int32{1 << 20, 1 << 20}},
		{Int64, IntFill(math.MinInt64), []int64{math.MinInt64, math.MinInt64}},
		{Uint8, UintFill(255), []uint8{255, 255}},
		{Uint16, UintFill(65535), []uint16{65535, 65535}},
		{Uint32, UintFill(7), []uint32{7, 7}},
		{Uint64, UintFill(math.MaxUint64), []uint64{math.MaxUint64, math.MaxUint64}},
		{Float32, FloatFill(math.Inf(-1)), []float32{float32(math.Inf(-1)), float32(math.Inf(-1))}},
		{Float64, FloatFill(0.5), []float64{0.5, 0.5}},
	}
	for _, c := range cases {
		meta := &ArrayMetadata{Shape: []uint64{9}, ChunkShape: []uint64{2}, DataType: c.dt, FillValue: c.fill, Codecs: DefaultCodecs()}
		got, err := FillChunk(meta)
		require.NoError(t, err, c.dt)
		require.Equal(t, c.want, got, c.dt)
	}
	got, err := FillChunk(bigChunksMeta())
	require.NoError(t, err)
	require.Len(t, got, 25)
	for _, v := range got.([]float32) {
		require.True(t, math.IsNaN(float64(v)))
	}
	// NaN with a payload given as hex keeps its bits in float32.
	fv, err := ParseFillValue(Float32, json.RawMessage(`"0x7fc00001"`))
	require.NoError(t, err)
	got, err = FillChunk(&ArrayMetadata{Shape: []uint64{1}, ChunkShape: []uint64{1}, DataType: Float32, FillValue: fv})
	require.NoError(t, err)
	require.Equal(t, uint32(0x7fc00001), math.Float32bits(got.([]float32)[0]))

	_, err = FillChunk(&ArrayMetadata{Shape: []uint64{1}, ChunkShape: []uint64{1}, DataType: "float16"})
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = FillChunk(&ArrayMetadata{Shape: []uint64{1}, ChunkShape: []uint64{1}, DataType: Int8, FillValue: IntFill(1000)})
	require.ErrorIs(t, err, ErrInvalidMetadata)
	_, err = FillChunk(&ArrayMetadata{Shape: []uint64{1}, ChunkShape: []uint64{1}, DataType: Int8})
	require.ErrorIs(t, err, ErrInvalidMetadata, "unset fill value")
	_, err = FillChunk(nil)
	require.ErrorIs(t, err, ErrInvalidMetadata)
}

func TestDecodableReportsReasons(t *testing.T) {
	m := bigChunksMeta()
	require.NoError(t, m.Decodable())
	m.Codecs = []Codec{BytesCodec("little"), {Name: "blosc"}}
	err := m.Decodable()
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorContains(t, err, fmt.Sprintf("%q", "blosc"))
}

func TestCodecsConcurrentUse(t *testing.T) {
	// Encoders and the decoder are shared; many goroutines at once must
	// each get their own correct result.
	metas := fuzzMetas()
	errs := make(chan error, len(metas))
	for i, m := range metas {
		go func() {
			r := rand.New(rand.NewPCG(uint64(i), 11))
			n, _ := m.ChunkElements()
			for range 20 {
				v := randomValues(r, m.DataType, n)
				enc, err := EncodeChunk(m, v)
				if err != nil {
					errs <- err
					return
				}
				dec, err := DecodeChunk(m, enc)
				if err != nil {
					errs <- err
					return
				}
				a, _ := binary.Append(nil, binary.LittleEndian, v)
				b, _ := binary.Append(nil, binary.LittleEndian, dec)
				if !bytes.Equal(a, b) {
					errs <- fmt.Errorf("%s %v: round trip changed values", m.DataType, m.Codecs)
					return
				}
			}
			errs <- nil
		}()
	}
	for range metas {
		require.NoError(t, <-errs)
	}
}
