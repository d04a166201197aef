package statemachine

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The Zarr documents and chunk values the machine writes, built here in
// plain Go so the model depends on no library code. The documents are
// exactly what zarr.NewGroup and zarr.NewArray write (a test checks that
// zarr parses them).

// GroupDoc is a group's zarr.json with attributes {"n": attrs}.
func GroupDoc(attrs int) []byte {
	return []byte(fmt.Sprintf(`{"attributes":{"n":%d},"zarr_format":3,"consolidated_metadata":null,"node_type":"group"}`, attrs))
}

// ArrayParams are the parameters of the array documents the machine
// writes: uint8 elements, fill value 0, the bytes codec.
type ArrayParams struct {
	Shape, ChunkShape []uint64
	Attrs             int
}

// Doc renders the array's zarr.json.
func (p ArrayParams) Doc() []byte {
	return []byte(fmt.Sprintf(`{"shape":%s,"data_type":"uint8","chunk_grid":{"name":"regular","configuration":{"chunk_shape":%s}},`+
		`"chunk_key_encoding":{"name":"default","configuration":{"separator":"/"}},"fill_value":0,"codecs":[{"name":"bytes","configuration":{"endian":"little"}}],`+
		`"attributes":{"n":%d},"zarr_format":3,"node_type":"array","storage_transformers":[]}`,
		jsonInts(p.Shape), jsonInts(p.ChunkShape), p.Attrs))
}

func jsonInts(v []uint64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatUint(x, 10)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// parseArrayDoc reads back the parameters of a document Doc wrote.
func parseArrayDoc(doc []byte) (ArrayParams, error) {
	var d struct {
		Shape     []uint64 `json:"shape"`
		ChunkGrid struct {
			Configuration struct {
				ChunkShape []uint64 `json:"chunk_shape"`
			} `json:"configuration"`
		} `json:"chunk_grid"`
		Attributes struct {
			N int `json:"n"`
		} `json:"attributes"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return ArrayParams{}, fmt.Errorf("array document: %w", err)
	}
	return ArrayParams{Shape: d.Shape, ChunkShape: d.ChunkGrid.Configuration.ChunkShape, Attrs: d.Attributes.N}, nil
}

// Value describes a chunk value in a trace: either Len pseudo-random bytes
// drawn from Seed ("300@77") or literal bytes ("x:0a0b", "x:" is empty).
type Value struct {
	Len     int
	Seed    uint64
	Literal []byte // when not nil, the value itself
}

// Bytes expands the value.
func (v Value) Bytes() []byte {
	if v.Literal != nil {
		return v.Literal
	}
	out := make([]byte, v.Len)
	x := v.Seed
	var buf [8]byte
	for i := 0; i < len(out); i += 8 {
		// splitmix64
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		binary.LittleEndian.PutUint64(buf[:], z)
		copy(out[i:], buf[:])
	}
	return out
}

// String renders the value as ParseValue reads it.
func (v Value) String() string {
	if v.Literal != nil {
		return "x:" + fmt.Sprintf("%x", v.Literal)
	}
	return strconv.Itoa(v.Len) + "@" + strconv.FormatUint(v.Seed, 10)
}

// maxValueLen bounds the length of a generated value in a trace.
const maxValueLen = 1 << 20

// ParseValue reads "LEN@SEED" or "x:HEX".
func ParseValue(s string) (Value, error) {
	if hexText, ok := strings.CutPrefix(s, "x:"); ok {
		b := make([]byte, len(hexText)/2)
		if len(hexText)%2 != 0 {
			return Value{}, fmt.Errorf("value %q: odd number of hex digits", s)
		}
		for i := range b {
			x, err := strconv.ParseUint(hexText[2*i:2*i+2], 16, 8)
			if err != nil {
				return Value{}, fmt.Errorf("value %q: not hex", s)
			}
			b[i] = byte(x)
		}
		return Value{Literal: b}, nil
	}
	l, seed, ok := strings.Cut(s, "@")
	if !ok {
		return Value{}, fmt.Errorf("value %q: want LEN@SEED or x:HEX", s)
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 0 || n > maxValueLen {
		return Value{}, fmt.Errorf("value %q: length must be 0 to %d", s, maxValueLen)
	}
	sd, err := strconv.ParseUint(seed, 10, 64)
	if err != nil {
		return Value{}, fmt.Errorf("value %q: bad seed", s)
	}
	return Value{Len: n, Seed: sd}, nil
}
