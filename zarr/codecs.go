package zarr

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// MaxChunkBytes bounds the decoded size of one chunk (elements times element
// size). Larger chunk shapes are refused rather than allocated, so hostile
// metadata cannot exhaust memory.
const MaxChunkBytes = 1 << 30

// bytesToBytes is a bytes-to-bytes codec.
type bytesToBytes interface {
	name() string
	encode(data []byte) ([]byte, error)
	// decode undoes encode; the result may not exceed limit bytes.
	decode(data []byte, limit int) ([]byte, error)
}

// pipeline is an array's codec chain, checked and configured.
type pipeline struct {
	dt    DataType
	n     int // elements per chunk
	order binary.ByteOrder
	b2b   []bytesToBytes
}

// rawSize is the size of a chunk after the bytes codec.
func (p *pipeline) rawSize() int { return p.n * p.dt.Size() }

func codecErr(format string, args ...any) error {
	return fmt.Errorf("zarr: %s: %w", fmt.Sprintf(format, args...), ErrUnsupported)
}

// ChunkElements is the number of elements in one chunk (the product of
// ChunkShape; 1 for a 0-d array). It fails when ChunkShape does not match
// Shape, has a zero entry, or the chunk would exceed MaxChunkBytes.
func (a *ArrayMetadata) ChunkElements() (int, error) {
	if len(a.ChunkShape) != len(a.Shape) {
		return 0, fmt.Errorf("zarr: chunk shape %v does not match shape %v: %w", a.ChunkShape, a.Shape, ErrInvalidMetadata)
	}
	size := uint64(max(a.DataType.Size(), 1))
	n := uint64(1)
	for _, c := range a.ChunkShape {
		if c == 0 {
			return 0, fmt.Errorf("zarr: chunk shape %v has a zero extent: %w", a.ChunkShape, ErrInvalidMetadata)
		}
		if c > MaxChunkBytes || n*c > MaxChunkBytes/size {
			return 0, fmt.Errorf("zarr: chunk shape %v exceeds %d bytes: %w", a.ChunkShape, MaxChunkBytes, ErrUnsupported)
		}
		n *= c
	}
	return int(n), nil
}

// Decodable reports why chunks of this array cannot be encoded or decoded by
// this package (unsupported data type, codec or storage transformer, bad
// codec configuration), or nil when they can.
func (a *ArrayMetadata) Decodable() error {
	_, err := newPipeline(a)
	return err
}

func newPipeline(a *ArrayMetadata) (*pipeline, error) {
	if a == nil {
		return nil, fmt.Errorf("zarr: nil array metadata: %w", ErrInvalidMetadata)
	}
	if !a.DataType.Supported() {
		return nil, codecErr("data type %q", a.DataType)
	}
	if len(a.StorageTransformers) > 0 {
		return nil, codecErr("storage transformers")
	}
	n, err := a.ChunkElements()
	if err != nil {
		return nil, err
	}
	p := &pipeline{dt: a.DataType, n: n, order: binary.LittleEndian}
	if len(a.Codecs) == 0 {
		return nil, fmt.Errorf("zarr: no codecs (an array-to-bytes codec is required): %w", ErrInvalidMetadata)
	}
	first := a.Codecs[0]
	switch first.Name {
	case "bytes":
		var conf struct {
			Endian *string `json:"endian"`
		}
		if err := decodeConf(first, &conf); err != nil {
			return nil, err
		}
		switch {
		case conf.Endian == nil:
			if a.DataType.Size() > 1 {
				return nil, fmt.Errorf("zarr: bytes codec without endian for %s: %w", a.DataType, ErrInvalidMetadata)
			}
		case *conf.Endian == "little":
		case *conf.Endian == "big":
			p.order = binary.BigEndian
		default:
			return nil, fmt.Errorf("zarr: bytes codec endian %q (want \"little\" or \"big\"): %w", *conf.Endian, ErrInvalidMetadata)
		}
	case "zstd", "gzip", "crc32c", "blosc":
		return nil, fmt.Errorf("zarr: codec chain starts with bytes-to-bytes codec %q, an array-to-bytes codec must come first: %w", first.Name, ErrInvalidMetadata)
	default:
		return nil, codecErr("codec %q", first.Name)
	}
	for _, c := range a.Codecs[1:] {
		var stage bytesToBytes
		switch c.Name {
		case "zstd":
			var conf struct {
				Level    int  `json:"level"`
				Checksum bool `json:"checksum"`
			}
			if err := decodeConf(c, &conf); err != nil {
				return nil, err
			}
			stage = zstdCodec{level: conf.Level, checksum: conf.Checksum}
		case "gzip":
			conf := struct {
				Level *int `json:"level"`
			}{}
			if err := decodeConf(c, &conf); err != nil {
				return nil, err
			}
			level := gzip.DefaultCompression
			if conf.Level != nil {
				level = *conf.Level
				if level < 0 || level > 9 {
					return nil, fmt.Errorf("zarr: gzip level %d (want 0 to 9): %w", level, ErrInvalidMetadata)
				}
			}
			stage = gzipCodec{level: level}
		case "crc32c":
			stage = crc32cCodec{}
		case "bytes", "sharding_indexed":
			return nil, fmt.Errorf("zarr: second array-to-bytes codec %q: %w", c.Name, ErrInvalidMetadata)
		default:
			return nil, codecErr("codec %q", c.Name)
		}
		p.b2b = append(p.b2b, stage)
	}
	return p, nil
}

func decodeConf(c Codec, v any) error {
	if len(c.Configuration) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.Configuration, v); err != nil {
		return fmt.Errorf("zarr: %s codec configuration: %v: %w", c.Name, err, ErrInvalidMetadata)
	}
	return nil
}

// EncodeChunk encodes one chunk: values is a typed slice ([]float32 for
// float32, ...) of exactly ChunkElements elements in C order.
func EncodeChunk(meta *ArrayMetadata, values any) ([]byte, error) {
	p, err := newPipeline(meta)
	if err != nil {
		return nil, fmt.Errorf("zarr: encode chunk: %w", err)
	}
	n, err := sliceLen(p.dt, values)
	if err != nil {
		return nil, err
	}
	if n != p.n {
		return nil, fmt.Errorf("zarr: encode chunk: %d values for a chunk of %d elements: %w", n, p.n, ErrInvalidValues)
	}
	data, err := binary.Append(make([]byte, 0, p.rawSize()), p.order, values)
	if err != nil {
		return nil, fmt.Errorf("zarr: encode chunk: %v: %w", err, ErrInvalidValues)
	}
	for _, c := range p.b2b {
		if data, err = c.encode(data); err != nil {
			return nil, fmt.Errorf("zarr: encode chunk: %s: %w", c.name(), err)
		}
	}
	return data, nil
}

// DecodeChunk decodes one chunk into a typed slice of ChunkElements elements
// in C order. Corrupt data, a checksum mismatch or a wrong decoded size is an
// error wrapping ErrInvalidChunk.
func DecodeChunk(meta *ArrayMetadata, data []byte) (any, error) {
	p, err := newPipeline(meta)
	if err != nil {
		return nil, fmt.Errorf("zarr: decode chunk: %w", err)
	}
	// The innermost bytes-to-bytes codec must yield exactly rawSize bytes;
	// each outer one at most a little more than the one inside it.
	limits := make([]int, len(p.b2b))
	limit := p.rawSize()
	for i := range p.b2b {
		limits[i] = limit
		limit += limit/64 + 1024
	}
	for i := len(p.b2b) - 1; i >= 0; i-- {
		if data, err = p.b2b[i].decode(data, limits[i]); err != nil {
			return nil, fmt.Errorf("zarr: decode chunk: %s: %w", p.b2b[i].name(), err)
		}
	}
	if len(data) != p.rawSize() {
		return nil, fmt.Errorf("zarr: decode chunk: %d bytes, want %d (%d %s elements): %w",
			len(data), p.rawSize(), p.n, p.dt, ErrInvalidChunk)
	}
	values := makeSlice(p.dt, p.n)
	if _, err := binary.Decode(data, p.order, values); err != nil {
		return nil, fmt.Errorf("zarr: decode chunk: %v: %w", err, ErrInvalidChunk)
	}
	return values, nil
}

// FillChunk returns a chunk (typed slice of ChunkElements elements) full of
// the array's fill value.
func FillChunk(meta *ArrayMetadata) (any, error) {
	if meta == nil {
		return nil, fmt.Errorf("zarr: fill chunk: nil array metadata: %w", ErrInvalidMetadata)
	}
	if !meta.DataType.Supported() {
		return nil, fmt.Errorf("zarr: fill chunk: data type %q: %w", meta.DataType, ErrUnsupported)
	}
	n, err := meta.ChunkElements()
	if err != nil {
		return nil, fmt.Errorf("zarr: fill chunk: %w", err)
	}
	return filled(meta, n)
}

// filled returns a typed slice of n elements equal to the fill value.
func filled(meta *ArrayMetadata, n int) (any, error) {
	fv, err := meta.FillValue.typed(meta.DataType)
	if err != nil {
		return nil, fmt.Errorf("zarr: %w", err)
	}
	switch v := fv.(type) {
	case bool:
		return repeat(v, n), nil
	case int8:
		return repeat(v, n), nil
	case int16:
		return repeat(v, n), nil
	case int32:
		return repeat(v, n), nil
	case int64:
		return repeat(v, n), nil
	case uint8:
		return repeat(v, n), nil
	case uint16:
		return repeat(v, n), nil
	case uint32:
		return repeat(v, n), nil
	case uint64:
		return repeat(v, n), nil
	case float32:
		return repeat(v, n), nil
	case float64:
		return repeat(v, n), nil
	}
	return nil, fmt.Errorf("zarr: fill value of type %T: %w", fv, ErrUnsupported)
}

func repeat[T any](v T, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// makeSlice returns a zeroed typed slice of n elements for dt (nil for an
// unsupported type).
func makeSlice(dt DataType, n int) any {
	switch dt {
	case Bool:
		return make([]bool, n)
	case Int8:
		return make([]int8, n)
	case Int16:
		return make([]int16, n)
	case Int32:
		return make([]int32, n)
	case Int64:
		return make([]int64, n)
	case Uint8:
		return make([]uint8, n)
	case Uint16:
		return make([]uint16, n)
	case Uint32:
		return make([]uint32, n)
	case Uint64:
		return make([]uint64, n)
	case Float32:
		return make([]float32, n)
	case Float64:
		return make([]float64, n)
	}
	return nil
}

// sliceLen checks that values is the typed slice for dt and returns its length.
func sliceLen(dt DataType, values any) (int, error) {
	var (
		n    int
		want DataType
	)
	switch v := values.(type) {
	case []bool:
		n, want = len(v), Bool
	case []int8:
		n, want = len(v), Int8
	case []int16:
		n, want = len(v), Int16
	case []int32:
		n, want = len(v), Int32
	case []int64:
		n, want = len(v), Int64
	case []uint8:
		n, want = len(v), Uint8
	case []uint16:
		n, want = len(v), Uint16
	case []uint32:
		n, want = len(v), Uint32
	case []uint64:
		n, want = len(v), Uint64
	case []float32:
		n, want = len(v), Float32
	case []float64:
		n, want = len(v), Float64
	default:
		return 0, fmt.Errorf("zarr: values of type %T for data type %s (want []%s): %w", values, dt, goType(dt), ErrInvalidValues)
	}
	if want != dt {
		return 0, fmt.Errorf("zarr: values of type %T for data type %s (want []%s): %w", values, dt, goType(dt), ErrInvalidValues)
	}
	return n, nil
}

func goType(dt DataType) string {
	if dt == Bool || dt.isFloat() || dt.isSigned() || dt.isUnsigned() {
		return string(dt)
	}
	return "?"
}

// zstdCodec is the "zstd" codec.
type zstdCodec struct {
	level    int
	checksum bool
}

func (zstdCodec) name() string { return "zstd" }

type zstdKey struct {
	level    zstd.EncoderLevel
	checksum bool
}

var (
	zstdEncodersMu sync.Mutex
	zstdEncoders   = map[zstdKey]*zstd.Encoder{}
	zstdDecoder    = sync.OnceValues(func() (*zstd.Decoder, error) {
		return zstd.NewReader(nil, zstd.WithDecodeAllCapLimit(true), zstd.WithDecoderConcurrency(0))
	})
)

func zstdEncoder(level int, checksum bool) (*zstd.Encoder, error) {
	if level == 0 {
		level = 3 // zstd's own meaning of level 0: the default level
	}
	key := zstdKey{zstd.EncoderLevelFromZstd(level), checksum}
	zstdEncodersMu.Lock()
	defer zstdEncodersMu.Unlock()
	if e, ok := zstdEncoders[key]; ok {
		return e, nil
	}
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(key.level), zstd.WithEncoderCRC(checksum), zstd.WithZeroFrames(true))
	if err != nil {
		return nil, err
	}
	zstdEncoders[key] = e
	return e, nil
}

func (c zstdCodec) encode(data []byte) ([]byte, error) {
	e, err := zstdEncoder(c.level, c.checksum)
	if err != nil {
		return nil, err
	}
	return e.EncodeAll(data, nil), nil
}

func (zstdCodec) decode(data []byte, limit int) ([]byte, error) {
	d, err := zstdDecoder()
	if err != nil {
		return nil, err
	}
	out, err := d.DecodeAll(data, make([]byte, 0, limit))
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			return nil, fmt.Errorf("decoded data exceeds %d bytes: %w", limit, ErrInvalidChunk)
		}
		return nil, fmt.Errorf("%v: %w", err, ErrInvalidChunk)
	}
	return out, nil
}

// gzipCodec is the "gzip" codec.
type gzipCodec struct{ level int }

func (gzipCodec) name() string { return "gzip" }

func (c gzipCodec) encode(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, c.level)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (gzipCodec) decode(data []byte, limit int) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrInvalidChunk)
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrInvalidChunk)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("decoded data exceeds %d bytes: %w", limit, ErrInvalidChunk)
	}
	return out, nil
}

// crc32cCodec is the "crc32c" codec: a little-endian CRC-32C (Castagnoli)
// of the data appended to it.
type crc32cCodec struct{}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (crc32cCodec) name() string { return "crc32c" }

func (crc32cCodec) encode(data []byte) ([]byte, error) {
	return binary.LittleEndian.AppendUint32(bytes.Clone(data), crc32.Checksum(data, castagnoli)), nil
}

func (crc32cCodec) decode(data []byte, limit int) ([]byte, error) {
	if len(data) < 4 {
		return nil, fmt.Errorf("%d bytes, shorter than the 4-byte checksum: %w", len(data), ErrInvalidChunk)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("checksum %08x, stored %08x: %w", got, sum, ErrInvalidChunk)
	}
	if len(body) > limit {
		return nil, fmt.Errorf("decoded data exceeds %d bytes: %w", limit, ErrInvalidChunk)
	}
	return body, nil
}
