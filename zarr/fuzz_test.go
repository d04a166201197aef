package zarr

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/icerig/icerig/internal/testfixtures"
)

// fuzzFixtureChunks returns the upstream fixture chunks when the fixtures
// are present (fuzz seeding only; TestFixtureChunksDecodeTo42 fails loudly
// when they are missing).
func fuzzFixtureChunks() [][]byte {
	dir, err := testfixtures.Locate()
	if err != nil {
		return nil
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "chunks", "*"))
	var out [][]byte
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			out = append(out, b)
		}
	}
	return out
}

func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte(prettyArray))
	f.Add([]byte(compactGroup))
	f.Add([]byte(`{"zarr_format":3,"node_type":"array","shape":[],"data_type":{"name":"complex64"},` +
		`"chunk_grid":{"name":"regular","configuration":{"chunk_shape":[]}},"chunk_key_encoding":"v2",` +
		`"fill_value":[1,2],"codecs":["bytes",{"name":"blosc","configuration":null}],"dimension_names":null}`))
	f.Add([]byte(`{"zarr_format":2}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"a":1,"a":2}`))
	lon := "longitude"
	for _, dt := range SupportedDataTypes {
		fill := IntFill(1)
		if dt.isFloat() {
			fill = FloatFill(math.NaN())
		}
		doc, err := NewArray(&ArrayMetadata{Shape: []uint64{10, 10}, ChunkShape: []uint64{3, 3}, DataType: dt, FillValue: fill,
			DimensionNames: []*string{nil, &lon}, Attributes: json.RawMessage(`{"size": 42.0}`)})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	g, err := NewGroup(json.RawMessage(`{"this": "is a nice group", "icechunk": 1}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(g)
	if dir, err := testfixtures.Locate(); err == nil {
		snaps, _ := filepath.Glob(filepath.Join(dir, "*", "snapshots", "*"))
		for _, s := range snaps {
			for _, d := range fixtureMetadataDocs(f, s) {
				f.Add(d)
			}
		}
	}

	f.Fuzz(func(t *testing.T, doc []byte) {
		m, err := ParseMetadata("fuzz/zarr.json", doc)
		if err != nil {
			if !errors.Is(err, ErrInvalidMetadata) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if string(m.Bytes()) != string(doc) {
			t.Fatalf("unchanged document re-encoded differently")
		}
		again, err := ParseMetadata("again", m.Bytes())
		if err != nil {
			t.Fatalf("reparse: %v", err)
		}
		if !slices.EqualFunc(m.Fields(), again.Fields(), func(a, b Field) bool { return a.Key == b.Key && string(a.Value) == string(b.Value) }) {
			t.Fatalf("fields differ after reparse")
		}
		attrs := m.Attributes
		if attrs == nil {
			attrs = json.RawMessage(`{"k": 1}`)
		}
		withAttrs, err := m.WithAttributes(attrs)
		if err != nil {
			t.Fatalf("WithAttributes: %v", err)
		}
		if string(withAttrs.Attributes) == "" {
			t.Fatalf("attributes lost")
		}
		if m.Array == nil {
			return
		}
		a := m.Array
		grown := slices.Clone(a.Shape)
		if len(grown) > 0 && grown[0] < math.MaxUint64 {
			grown[0]++
		}
		r, err := m.WithShape(grown)
		if err != nil {
			t.Fatalf("WithShape: %v", err)
		}
		if !slices.Equal(r.Array.Shape, grown) {
			t.Fatalf("shape %v, want %v", r.Array.Shape, grown)
		}
		fa, fr := m.Fields(), r.Fields()
		if len(fa) != len(fr) {
			t.Fatalf("resize changed the member count")
		}
		for i := range fa {
			if fa[i].Key != fr[i].Key || (fa[i].Key != "shape" && string(fa[i].Value) != string(fr[i].Value)) {
				t.Fatalf("resize changed member %s", fa[i].Key)
			}
		}
		fresh, err := NewArray(a)
		if err != nil {
			t.Fatalf("NewArray of a parsed array: %v", err)
		}
		b, err := ParseMetadata("fresh", fresh)
		if err != nil {
			t.Fatalf("NewArray output does not parse: %v", err)
		}
		if !slices.Equal(b.Array.Shape, a.Shape) || !slices.Equal(b.Array.ChunkShape, a.ChunkShape) ||
			b.Array.DataType != a.DataType || !b.Array.FillValue.Equal(a.FillValue) || b.Array.ChunkKeyEncoding != a.ChunkKeyEncoding ||
			len(b.Array.DimensionNames) != len(a.DimensionNames) {
			t.Fatalf("NewArray changed the array: %+v vs %+v", b.Array, a)
		}
		if n, err := a.ChunkElements(); err == nil && n <= 1<<12 && a.Decodable() == nil {
			if _, err := FillChunk(a); err != nil {
				t.Fatalf("FillChunk of a decodable array: %v", err)
			}
		}
	})
}

// fuzzMetas are the arrays FuzzDecodeChunk decodes against; index 0 is the
// fixture's group1/big_chunks.
func fuzzMetas() []*ArrayMetadata {
	out := []*ArrayMetadata{bigChunksMeta()}
	chains := [][]Codec{
		{BytesCodec("little"), ZstdCodec(0, false)},
		{BytesCodec("big"), ZstdCodec(3, true)},
		{BytesCodec("little"), GzipCodec(5)},
		{BytesCodec("big"), Crc32cCodec()},
		{BytesCodec("little"), ZstdCodec(1, false), Crc32cCodec()},
		{BytesCodec("little")},
	}
	for _, dt := range SupportedDataTypes {
		for _, c := range chains {
			out = append(out, &ArrayMetadata{Shape: []uint64{6, 5}, ChunkShape: []uint64{3, 4}, DataType: dt, FillValue: IntFill(0), Codecs: c})
		}
	}
	return out
}

func FuzzDecodeChunk(f *testing.F) {
	metas := fuzzMetas()
	for _, c := range fuzzFixtureChunks() {
		f.Add(uint16(0), c)
	}
	r := rand.New(rand.NewPCG(7, 8))
	for i, m := range metas {
		n, _ := m.ChunkElements()
		enc, err := EncodeChunk(m, randomValues(r, m.DataType, n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint16(i), enc)
		f.Add(uint16(i), enc[:len(enc)/2])
	}
	f.Add(uint16(1), []byte{})
	f.Add(uint16(1), []byte{0x28, 0xb5, 0x2f, 0xfd})

	f.Fuzz(func(t *testing.T, sel uint16, data []byte) {
		m := metas[int(sel)%len(metas)]
		v, err := DecodeChunk(m, data)
		if err != nil {
			if !errors.Is(err, ErrInvalidChunk) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		n, _ := m.ChunkElements()
		got, err := sliceLen(m.DataType, v)
		if err != nil || got != n {
			t.Fatalf("decoded %d values (%v), want %d", got, err, n)
		}
		enc, err := EncodeChunk(m, v)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := DecodeChunk(m, enc)
		if err != nil {
			t.Fatalf("decode of re-encoded chunk: %v", err)
		}
		b1, _ := json.Marshal(bitsOf(t, v))
		b2, _ := json.Marshal(bitsOf(t, back))
		if string(b1) != string(b2) {
			t.Fatalf("round trip changed values")
		}
	})
}

func FuzzParseKey(f *testing.F) {
	for _, k := range []string{
		"zarr.json", "group1/zarr.json", "group1/big_chunks/c/0/1", "group1/small_chunks/c/4",
		"group1/arr/c.0.1", "arr/c", "c", "c/", "c.", "/zarr.json", "a//b", "a/../zarr.json",
		"group1/.zarray", "a/c/4294967296", "a/c/01", "a/c/0/c/1", "a/c.0..1", "group2/group3/group4/group5/inner/c/1/1",
	} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		k, err := ParseKey(key)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if k.String() != key {
			t.Fatalf("ParseKey(%q) = %+v, which writes back as %q", key, k, k.String())
		}
		if err := ValidateNodePath(k.NodePath); err != nil {
			t.Fatalf("ParseKey(%q) gave node path %q: %v", key, k.NodePath, err)
		}
		mk, err := ParseKey(MetadataKey(k.NodePath))
		if err != nil || mk.Kind != KeyMetadata || mk.NodePath != k.NodePath {
			t.Fatalf("metadata key of %q: %+v, %v", k.NodePath, mk, err)
		}
		if k.Kind == KeyChunk {
			meta := &ArrayMetadata{Shape: make([]uint64, len(k.Coords)), ChunkShape: make([]uint64, len(k.Coords)),
				ChunkKeyEncoding: ChunkKeyEncoding{Name: "default", Separator: k.Separator}}
			coords, err := ParseChunkKey(key, k.NodePath, meta)
			if len(k.Coords) > 0 || k.Separator == "/" {
				if err != nil || !slices.Equal(coords, k.Coords) {
					t.Fatalf("ParseChunkKey(%q) = %v, %v; ParseKey gave %v", key, coords, err, k.Coords)
				}
			}
		}
	})
}
