package formatv2

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestMetadataEncodingMatchesRmpSerde(t *testing.T) {
	for _, c := range []struct {
		v    any
		want []byte
	}{
		{true, []byte{0xc3}},
		{nil, []byte{0xc0}},
		{1, []byte{0x01}},
		{int64(-1), []byte{0xff}},
		{int64(-33), []byte{0xd0, 0xdf}},
		{300, []byte{0xcd, 0x01, 0x2c}},
		{uint64(1 << 40), []byte{0xcf, 0, 0, 1, 0, 0, 0, 0, 0}},
		{-200, []byte{0xd1, 0xff, 0x38}},
		{42.0, []byte{0xcb, 0x40, 0x45, 0, 0, 0, 0, 0, 0}},
		{"bob", []byte{0xa3, 'b', 'o', 'b'}},
		{strings.Repeat("x", 40), append([]byte{0xd9, 40}, strings.Repeat("x", 40)...)},
		{[]any{1, "a"}, []byte{0x92, 0x01, 0xa1, 'a'}},
		// Keys sorted, as serde_json's map orders them.
		{map[string]any{"b": 1, "a": true}, []byte{0x82, 0xa1, 'a', 0xc3, 0xa1, 'b', 0x01}},
	} {
		got, err := EncodeMetadataValue(c.v)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("EncodeMetadataValue(%v) = % x, %v; want % x", c.v, got, err, c.want)
		}
	}
}

func TestMetadataFixtureValue(t *testing.T) {
	// The initial snapshot's metadata {"__root": true} as upstream wrote it.
	for _, f := range codecFixtureObjects(t, "test-repo-v1", "snapshots") {
		s, err := DecodeSnapshot(f.key, f.data)
		if err != nil {
			t.Fatal(err)
		}
		if s.ParentID != nil {
			continue
		}
		enc, err := EncodeMetadataValue(true)
		if err != nil || !bytes.Equal(enc, s.Metadata[0].Value) {
			t.Errorf("encoded true = % x, fixture has % x", enc, s.Metadata[0].Value)
		}
		return
	}
	t.Fatal("no initial snapshot")
}

func TestMetadataRoundTrip(t *testing.T) {
	in := map[string]any{
		"author": "alice",
		"count":  int64(-7),
		"big":    uint64(1 << 63),
		"ratio":  0.25,
		"ok":     false,
		"none":   nil,
		"tags":   []any{"a", uint64(2), map[string]any{"x": 1.5}},
		"blob":   []byte{0, 1, 2},
	}
	b, err := EncodeMetadataValue(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMetadataValue(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"author": "alice",
		"count":  int64(-7),
		"big":    uint64(1 << 63),
		"ratio":  0.25,
		"ok":     false,
		"none":   nil,
		"tags":   []any{"a", int64(2), map[string]any{"x": 1.5}},
		"blob":   []byte{0, 1, 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip\n got %#v\nwant %#v", got, want)
	}
}

func TestMetadataDecodeRejects(t *testing.T) {
	deep := append(bytes.Repeat([]byte{0x91}, maxMetadataDepth+1), 0x01)
	for name, b := range map[string][]byte{
		"empty":         nil,
		"trailing":      {0xc3, 0xc3},
		"truncated str": {0xa5, 'a'},
		"truncated map": {0x82, 0xa1, 'a'},
		"never used":    {0xc1},
		"huge array":    {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01},
		"too deep":      deep,
		"truncated bin": {0xc6, 0, 0, 0, 9, 1},
		"truncated ext": {0xc7, 5, 1, 0},
		"truncated u64": {0xcf, 1, 2},
		"bad map key":   {0x81, 0xc3, 0xc3},
		"extension":     {0xd4, 0x42, 0x00},
		"int key":       {0x81, 0x01, 0xc3},
	} {
		if v, err := DecodeMetadataValue(b); err == nil {
			t.Errorf("%s: decoded %#v, want an error", name, v)
		}
	}
	ok := append(bytes.Repeat([]byte{0x91}, maxMetadataDepth), 0x01)
	if _, err := DecodeMetadataValue(ok); err != nil {
		t.Errorf("nesting of %d levels rejected: %v", maxMetadataDepth, err)
	}
}

func FuzzDecodeMetadataValue(f *testing.F) {
	for _, v := range []any{true, map[string]any{"__root": true, "n": -3, "l": []any{1.5, "x"}}, "s", []byte{1}} {
		b, err := EncodeMetadataValue(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeMetadataValue(b)
		if err != nil {
			return
		}
		if _, err := EncodeMetadataValue(v); err != nil {
			t.Fatalf("decoded %#v does not encode: %v", v, err)
		}
	})
}

func TestMetadataDecodeForms(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		want any
	}{
		{[]byte{0x05}, int64(5)},
		{[]byte{0xe0}, int64(-32)},
		{[]byte{0xd0, 0xdf}, int64(-33)},
		{[]byte{0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, int64(-1 << 63)},
		{[]byte{0xcd, 0x01, 0x2c}, int64(300)},
		{[]byte{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint64(1<<64 - 1)},
		{[]byte{0xca, 0x3f, 0xc0, 0, 0}, 1.5},
		{[]byte{0xc4, 2, 7, 8}, []byte{7, 8}},
		{[]byte{0xda, 0, 2, 'h', 'i'}, "hi"},
		{[]byte{0xdc, 0, 1, 0xc0}, []any{nil}},
		{[]byte{0x80}, map[string]any{}},
	} {
		got, err := DecodeMetadataValue(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("DecodeMetadataValue(% x) = %#v, %v; want %#v", c.in, got, err, c.want)
		}
	}
}
