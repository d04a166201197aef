package formatv2

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	flatbuffers "github.com/google/flatbuffers/go"
	"github.com/klauspost/compress/zstd"
)

// This file holds what the codecs share: the header + zstd framing, the
// flatbuffer file identifier, and the guarded flatbuffer reader.

// MaxDecompressedSize caps the decompressed flatbuffer of one metadata file.
// Larger payloads are rejected as corrupt instead of exhausting memory.
const MaxDecompressedSize = 256 << 20

// fileIdentifier is written at bytes 4..8 of every flatbuffer, as upstream
// does. Readers do not require it (upstream's do not either).
const fileIdentifier = "Ichk"

// zstdLevel is the compression level for new files: klauspost's
// SpeedDefault, its equivalent of zstd level 3, upstream's default level.
const zstdLevel = zstd.SpeedDefault

var (
	zstdOnce    sync.Once
	zstdEncoder *zstd.Encoder
	zstdDecoder *zstd.Decoder
	zstdErr     error
)

// zstdCodecs returns process-wide encoder and decoder instances. Both are
// safe for concurrent EncodeAll/DecodeAll calls.
func zstdCodecs() (*zstd.Encoder, *zstd.Decoder, error) {
	zstdOnce.Do(func() {
		zstdEncoder, zstdErr = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstdLevel),
			zstd.WithEncoderCRC(false))
		if zstdErr != nil {
			return
		}
		zstdDecoder, zstdErr = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(MaxDecompressedSize),
			zstd.WithDecoderMaxWindow(MaxDecompressedSize))
	})
	return zstdEncoder, zstdDecoder, zstdErr
}

// frame prepends the header (spec version spec, file type t) to the
// zstd-compressed flatbuffer fb.
func frame(spec uint8, t FileType, fb []byte) ([]byte, error) {
	enc, _, err := zstdCodecs()
	if err != nil {
		return nil, fmt.Errorf("formatv2: zstd: %w", err)
	}
	out := make([]byte, 0, HeaderSize+len(fb)/2+64)
	out = appendHeader(out, spec, t)
	return enc.EncodeAll(fb, out), nil
}

// unframe checks the header of data and returns the spec version it
// announces and the decompressed flatbuffer.
func unframe(name string, data []byte, want FileType) (uint8, []byte, error) {
	spec, err := checkHeader(name, data, want)
	if err != nil {
		return 0, nil, err
	}
	_, dec, err := zstdCodecs()
	if err != nil {
		return 0, nil, fmt.Errorf("formatv2: %s: zstd: %w", name, err)
	}
	payload := data[HeaderSize:]
	if len(payload) == 0 {
		return 0, nil, corruptf(name, "no payload after the header")
	}
	fb, err := dec.DecodeAll(payload, nil)
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return 0, nil, corruptf(name, "decompressed payload exceeds %d bytes", MaxDecompressedSize)
		}
		return 0, nil, corruptf(name, "zstd: %v", err)
	}
	if len(fb) > MaxDecompressedSize {
		return 0, nil, corruptf(name, "decompressed payload exceeds %d bytes", MaxDecompressedSize)
	}
	return spec, fb, nil
}

// fbReader walks a decompressed flatbuffer. The generated accessors index
// the buffer without checking offsets, so every walk runs under guard, which
// turns an out-of-range access into ErrCorrupt. Before allocating anything
// sized by a length read from the buffer, the walker checks the length
// against the buffer size and charges it to a budget, so a small crafted
// buffer cannot make the decoder allocate without bound (for instance by
// pointing many entries at one large vector).
type fbReader struct {
	name   string
	buf    []byte
	budget int
}

func newFBReader(name string, buf []byte) *fbReader {
	budget := 64*len(buf) + 1<<20
	if budget > 2<<30 {
		budget = 2 << 30
	}
	return &fbReader{name: name, buf: buf, budget: budget}
}

// guard runs walk and converts a panic inside it into ErrCorrupt.
func (r *fbReader) guard(walk func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = corruptf(r.name, "malformed flatbuffer: %v", p)
		}
	}()
	if len(r.buf) < 8 {
		return corruptf(r.name, "flatbuffer of %d bytes is too short", len(r.buf))
	}
	return walk()
}

// charge debits n bytes of decoded output from the budget.
func (r *fbReader) charge(n int) error {
	if n < 0 || n > r.budget {
		return corruptf(r.name, "decoded size exceeds the limit for a %d-byte flatbuffer", len(r.buf))
	}
	r.budget -= n
	return nil
}

// vec validates a vector length read from the buffer: n elements of elemSize
// bytes must fit in the buffer. It charges n*cost to the budget.
func (r *fbReader) vec(field string, n, elemSize, cost int) (int, error) {
	if n < 0 || n > len(r.buf)/elemSize {
		return 0, corruptf(r.name, "%s: vector length %d does not fit in %d bytes", field, n, len(r.buf))
	}
	if err := r.charge(n * cost); err != nil {
		return 0, err
	}
	return n, nil
}

// bytes copies a byte vector out of the buffer.
func (r *fbReader) bytes(b []byte) ([]byte, error) {
	if err := r.charge(len(b)); err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// optBytes copies an optional byte vector: nil when the field is absent,
// non-nil (maybe empty) when present, so presence survives a round trip.
func (r *fbReader) optBytes(present bool, b []byte) ([]byte, error) {
	if !present {
		return nil, nil
	}
	if err := r.charge(len(b)); err != nil {
		return nil, err
	}
	return append([]byte{}, b...), nil
}

// str converts a string field; flatbuffer strings must be UTF-8, and
// upstream's verifier rejects files where they are not.
func (r *fbReader) str(field string, b []byte) (string, error) {
	if !utf8.Valid(b) {
		return "", corruptf(r.name, "%s is not valid UTF-8", field)
	}
	if err := r.charge(len(b)); err != nil {
		return "", err
	}
	return string(b), nil
}

// missing reports an absent required field.
func (r *fbReader) missing(field string) error {
	return corruptf(r.name, "required field %s is missing", field)
}

// structBytes returns the n bytes of an inline struct starting at pos.
func structBytes(t flatbuffers.Table, n int) []byte {
	return t.Bytes[t.Pos : int(t.Pos)+n]
}

// objectIDAt copies the bytes of an ObjectId12 struct.
func objectIDAt(t flatbuffers.Table) (id ObjectID) {
	copy(id[:], structBytes(t, len(id)))
	return id
}

// nodeIDAt copies the bytes of an ObjectId8 struct.
func nodeIDAt(t flatbuffers.Table) (id NodeID) {
	copy(id[:], structBytes(t, len(id)))
	return id
}

// encodeErr names the object kind and id in an encoding error.
func encodeErr(kind string, id ObjectID, format string, args ...any) error {
	return fmt.Errorf("formatv2: encode %s %s: %s", kind, id, fmt.Sprintf(format, args...))
}

// finish completes a flatbuffer with the upstream file identifier.
func finish(b *flatbuffers.Builder, root flatbuffers.UOffsetT) []byte {
	b.FinishWithFileIdentifier(root, []byte(fileIdentifier))
	return b.FinishedBytes()
}
