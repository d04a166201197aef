package formatv2

import (
	"bytes"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5"
)

// Spec-1 snapshot metadata values (MetadataItem.Value) are msgpack
// documents, as upstream 1.x writes them with rmp_serde from JSON values.
// (Spec-2 snapshots and repo objects hold flexbuffers instead, which this
// package keeps opaque; these helpers are for spec 1 only.)

// maxMetadataDepth bounds the nesting of arrays and maps in a metadata value.
const maxMetadataDepth = 64

// EncodeMetadataValue encodes v (nil, bool, integers, floats, string, []byte,
// slices, maps with string keys) as msgpack the way rmp_serde encodes the
// equivalent JSON value: integers in their most compact form, float64 as
// 64-bit floats, map keys sorted.
func EncodeMetadataValue(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("formatv2: encode metadata value: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeMetadataValue decodes one msgpack document: nil, bool, int64 (for
// every integer up to math.MaxInt64), uint64 (larger unsigned integers),
// float64 (also for 32-bit floats), string, []byte (msgpack bin), []any and
// map[string]any. Malformed or truncated input, maps with non-string keys,
// extension types, nesting deeper than 64 levels and trailing bytes are
// errors.
func DecodeMetadataValue(b []byte) (any, error) {
	d := msgpackDecoder{b: b}
	v, err := d.value(0)
	if err == nil && d.i != len(b) {
		err = fmt.Errorf("%d trailing bytes after msgpack value", len(b)-d.i)
	}
	if err != nil {
		return nil, fmt.Errorf("formatv2: decode metadata value: %w", err)
	}
	return v, nil
}

// msgpackDecoder reads msgpack values from b. Container lengths are checked
// against the remaining input (every element takes at least one byte)
// before anything is allocated, and nesting is bounded, so hostile input
// can neither exhaust memory nor the stack.
type msgpackDecoder struct {
	b []byte
	i int
}

func (d *msgpackDecoder) truncated() error {
	return fmt.Errorf("truncated msgpack at byte %d", d.i)
}

// take returns the next n bytes.
func (d *msgpackDecoder) take(n uint64) ([]byte, error) {
	if n > uint64(len(d.b)-d.i) {
		return nil, d.truncated()
	}
	out := d.b[d.i : d.i+int(n)]
	d.i += int(n)
	return out, nil
}

// uint reads an n-byte big-endian unsigned integer.
func (d *msgpackDecoder) uint(n uint64) (uint64, error) {
	p, err := d.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range p {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

func (d *msgpackDecoder) value(depth int) (any, error) {
	if d.i >= len(d.b) {
		return nil, d.truncated()
	}
	c := d.b[d.i]
	d.i++
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c >= 0x80 && c <= 0x8f:
		return d.mapValue(uint64(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return d.array(uint64(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf:
		return d.str(uint64(c & 0x1f))
	}
	switch c {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xc4, 0xc5, 0xc6: // bin 8/16/32
		n, err := d.uint(1 << (c - 0xc4))
		if err != nil {
			return nil, err
		}
		p, err := d.take(n)
		if err != nil {
			return nil, err
		}
		return append([]byte{}, p...), nil
	case 0xca:
		v, err := d.uint(4)
		return float64(math.Float32frombits(uint32(v))), err
	case 0xcb:
		v, err := d.uint(8)
		return math.Float64frombits(v), err
	case 0xcc, 0xcd, 0xce, 0xcf: // uint 8/16/32/64
		v, err := d.uint(1 << (c - 0xcc))
		if err != nil {
			return nil, err
		}
		if v > math.MaxInt64 {
			return v, nil
		}
		return int64(v), nil
	case 0xd0, 0xd1, 0xd2, 0xd3: // int 8/16/32/64
		n := uint64(1) << (c - 0xd0)
		v, err := d.uint(n)
		if err != nil {
			return nil, err
		}
		shift := 64 - 8*n
		return int64(v<<shift) >> shift, nil
	case 0xd9, 0xda, 0xdb: // str 8/16/32
		n, err := d.uint(1 << (c - 0xd9))
		if err != nil {
			return nil, err
		}
		return d.str(n)
	case 0xdc, 0xdd: // array 16/32
		n, err := d.uint(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.array(n, depth)
	case 0xde, 0xdf: // map 16/32
		n, err := d.uint(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapValue(n, depth)
	case 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return nil, fmt.Errorf("msgpack extension type at byte %d is not supported", d.i-1)
	}
	return nil, fmt.Errorf("invalid msgpack byte 0x%02x at %d", c, d.i-1)
}

func (d *msgpackDecoder) str(n uint64) (any, error) {
	p, err := d.take(n)
	if err != nil {
		return nil, err
	}
	return string(p), nil
}

// container checks that n elements can fit and that nesting stays bounded.
func (d *msgpackDecoder) container(n uint64, depth int) error {
	if depth >= maxMetadataDepth {
		return fmt.Errorf("msgpack nested deeper than %d levels", maxMetadataDepth)
	}
	if n > uint64(len(d.b)-d.i) {
		return fmt.Errorf("msgpack container of %d elements in %d bytes", n, len(d.b)-d.i)
	}
	return nil
}

func (d *msgpackDecoder) array(n uint64, depth int) (any, error) {
	if err := d.container(n, depth); err != nil {
		return nil, err
	}
	out := make([]any, n)
	for k := range out {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func (d *msgpackDecoder) mapValue(n uint64, depth int) (any, error) {
	if err := d.container(2*n, depth); err != nil {
		return nil, err
	}
	out := make(map[string]any, n)
	for k := uint64(0); k < n; k++ {
		at := d.i
		key, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		s, ok := key.(string)
		if !ok {
			return nil, fmt.Errorf("msgpack map key at byte %d is not a string", at)
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[s] = v
	}
	return out, nil
}
