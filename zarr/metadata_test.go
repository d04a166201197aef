package zarr

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// prettyArray is an array document laid out the way zarr-python writes it,
// with unknown members at the start, in the middle and at the end.
const prettyArray = `{
  "x_first": {"keep": [1, 2.50, "three"]},
  "shape": [
    10,
    10
  ],
  "data_type": "float32",
  "chunk_grid": {
    "name": "regular",
    "configuration": {
      "chunk_shape": [
        5,
        5
      ]
    }
  },
  "chunk_key_encoding": {
    "name": "default",
    "configuration": {
      "separator": "/"
    }
  },
  "fill_value": "NaN",
  "codecs": [
    {
      "name": "bytes",
      "configuration": {
        "endian": "little"
      }
    },
    {
      "name": "zstd",
      "configuration": {
        "level": 0,
        "checksum": false
      }
    }
  ],
  "x_middle":   1.000e+00 ,
  "attributes": {
    "this": "is a nice array",
    "icechunk": 1,
    "size": 42.0
  },
  "dimension_names": [
    null,
    "longitude"
  ],
  "zarr_format": 3,
  "node_type": "array",
  "storage_transformers": [],
  "x_last": "\u00e9t\u00e9"
}
`

const compactGroup = `{"zarr_format":3,"node_type":"group","attributes":{"a":1.0},"x":[ 1 ,2 ]}`

func TestParseArrayMetadata(t *testing.T) {
	m, err := ParseMetadata("group1/big_chunks/zarr.json", []byte(prettyArray))
	require.NoError(t, err)
	require.True(t, m.IsArray())
	require.False(t, m.IsGroup())
	require.Equal(t, "group1/big_chunks/zarr.json", m.Name())
	a := m.Array
	require.Equal(t, []uint64{10, 10}, a.Shape)
	require.Equal(t, []uint64{5, 5}, a.ChunkShape)
	require.Equal(t, Float32, a.DataType)
	require.True(t, math.IsNaN(a.FillValue.Float64()))
	require.Equal(t, DefaultChunkKeyEncoding, a.ChunkKeyEncoding)
	require.Len(t, a.Codecs, 2)
	require.Equal(t, "bytes", a.Codecs[0].Name)
	require.JSONEq(t, `{"endian":"little"}`, string(a.Codecs[0].Configuration))
	require.Equal(t, "zstd", a.Codecs[1].Name)
	require.JSONEq(t, `{"this":"is a nice array","icechunk":1,"size":42.0}`, string(a.Attributes))
	require.Equal(t, m.Attributes, a.Attributes)
	require.Contains(t, string(a.Attributes), "42.0", "attributes keep their exact bytes")
	require.Len(t, a.DimensionNames, 2)
	require.Nil(t, a.DimensionNames[0])
	require.Equal(t, "longitude", *a.DimensionNames[1])
	require.Empty(t, a.StorageTransformers)
	require.NotNil(t, a.StorageTransformers)
	require.NoError(t, a.Decodable())

	require.Equal(t, prettyArray, string(m.Bytes()), "unchanged document re-encodes byte for byte")
	keys := []string{}
	for _, f := range m.Fields() {
		keys = append(keys, f.Key)
	}
	require.Equal(t, []string{"x_first", "shape", "data_type", "chunk_grid", "chunk_key_encoding", "fill_value",
		"codecs", "x_middle", "attributes", "dimension_names", "zarr_format", "node_type", "storage_transformers", "x_last"}, keys)
	v, ok := m.Field("x_middle")
	require.True(t, ok)
	require.Equal(t, "1.000e+00", string(v))
	v, ok = m.Field("x_last")
	require.True(t, ok)
	require.Equal(t, `"\u00e9t\u00e9"`, string(v), "escapes kept as written")
	_, ok = m.Field("absent")
	require.False(t, ok)
}

func TestParseGroupMetadata(t *testing.T) {
	m, err := ParseMetadata("zarr.json", []byte(compactGroup))
	require.NoError(t, err)
	require.True(t, m.IsGroup())
	require.Nil(t, m.Array)
	require.Equal(t, `{"a":1.0}`, string(m.Attributes))
	require.Equal(t, compactGroup, string(m.Bytes()))

	m, err = ParseMetadata("g/zarr.json", []byte(`{"zarr_format":3,"node_type":"group"}`))
	require.NoError(t, err)
	require.Nil(t, m.Attributes)
}

func TestWithShapeChangesOnlyShape(t *testing.T) {
	m, err := ParseMetadata("a/zarr.json", []byte(prettyArray))
	require.NoError(t, err)
	r, err := m.WithShape([]uint64{20, 10})
	require.NoError(t, err)
	require.Equal(t, []uint64{20, 10}, r.Array.Shape)
	requireOnlyChanged(t, m, r, "shape")
	want := strings.Replace(prettyArray, "  \"shape\": [\n    10,\n    10\n  ],", "  \"shape\": [\n    20,\n    10\n  ],", 1)
	require.Equal(t, want, string(r.Bytes()), "the new shape takes the document's layout")
	// The original is untouched.
	require.Equal(t, prettyArray, string(m.Bytes()))
	require.Equal(t, []uint64{10, 10}, m.Array.Shape)

	_, err = m.WithShape([]uint64{20})
	require.ErrorIs(t, err, ErrInvalidMetadata)
	require.ErrorContains(t, err, "a/zarr.json")

	g, err := ParseMetadata("zarr.json", []byte(compactGroup))
	require.NoError(t, err)
	_, err = g.WithShape([]uint64{1})
	require.ErrorIs(t, err, ErrInvalidMetadata)
}

func TestWithShapeCompactDocument(t *testing.T) {
	doc := `{"shape":[4],"x":{"y":[1, 2]},"data_type":"int8","chunk_grid":{"name":"regular","configuration":{"chunk_shape":[2]}},` +
		`"fill_value":0,"codecs":[{"name":"bytes"}],"zarr_format":3,"node_type":"array"}`
	m, err := ParseMetadata("arr", []byte(doc))
	require.NoError(t, err)
	r, err := m.WithShape([]uint64{6})
	require.NoError(t, err)
	require.Equal(t, strings.Replace(doc, `"shape":[4]`, `"shape":[6]`, 1), string(r.Bytes()))
}

func TestWithAttributes(t *testing.T) {
	m, err := ParseMetadata("a", []byte(prettyArray))
	require.NoError(t, err)
	r, err := m.WithAttributes(json.RawMessage(`{"b": [1,2]}`))
	require.NoError(t, err)
	requireOnlyChanged(t, m, r, "attributes")
	require.Contains(t, string(r.Bytes()), "  \"attributes\": {\n    \"b\": [\n      1,\n      2\n    ]\n  },\n")
	require.Equal(t, `{"b":[1,2]}`, compactJSON(t, r.Array.Attributes))

	// A document without attributes gets them appended after the last
	// member, in the layout of that member.
	doc := "{\n  \"zarr_format\": 3,\n  \"node_type\": \"group\"\n}"
	g, err := ParseMetadata("g", []byte(doc))
	require.NoError(t, err)
	g2, err := g.WithAttributes(json.RawMessage(`{"k":"v"}`))
	require.NoError(t, err)
	require.Equal(t, "{\n  \"zarr_format\": 3,\n  \"node_type\": \"group\",\n  \"attributes\": {\n    \"k\": \"v\"\n  }\n}", string(g2.Bytes()))

	g3, err := g.WithAttributes(nil)
	require.NoError(t, err)
	require.Equal(t, "{}", string(g3.Attributes))

	_, err = g.WithAttributes(json.RawMessage(`[1]`))
	require.ErrorIs(t, err, ErrInvalidMetadata)
	_, err = g.WithAttributes(json.RawMessage(`{"a":`))
	require.ErrorIs(t, err, ErrInvalidMetadata)

	c, err := ParseMetadata("zarr.json", []byte(compactGroup))
	require.NoError(t, err)
	c2, err := c.WithAttributes(json.RawMessage("{ \"z\" : null }"))
	require.NoError(t, err)
	require.Equal(t, `{"zarr_format":3,"node_type":"group","attributes":{"z":null},"x":[ 1 ,2 ]}`, string(c2.Bytes()))
}

func compactJSON(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(raw, &v))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestWithDimensionNames(t *testing.T) {
	m, err := ParseMetadata("a", []byte(prettyArray))
	require.NoError(t, err)
	lat := "lat"
	r, err := m.WithDimensionNames([]*string{&lat, nil})
	require.NoError(t, err)
	requireOnlyChanged(t, m, r, "dimension_names")
	require.Equal(t, "lat", *r.Array.DimensionNames[0])
	require.Nil(t, r.Array.DimensionNames[1])

	r, err = m.WithDimensionNames(nil)
	require.NoError(t, err)
	require.Nil(t, r.Array.DimensionNames)
	_, ok := r.Field("dimension_names")
	require.False(t, ok)
	require.Len(t, r.Fields(), len(m.Fields())-1)

	_, err = m.WithDimensionNames([]*string{&lat})
	require.ErrorIs(t, err, ErrInvalidMetadata, "wrong number of names")
}

func TestWithoutField(t *testing.T) {
	doc := `{ "a": 1, "zarr_format": 3 ,"b":[2], "node_type": "group", "c": {} }`
	m, err := ParseMetadata("g", []byte(doc))
	require.NoError(t, err)
	for key, want := range map[string]string{
		"a":       `{ "zarr_format": 3 ,"b":[2], "node_type": "group", "c": {} }`,
		"b":       `{ "a": 1, "zarr_format": 3, "node_type": "group", "c": {} }`,
		"c":       `{ "a": 1, "zarr_format": 3 ,"b":[2], "node_type": "group" }`,
		"missing": doc,
	} {
		r, err := m.WithoutField(key)
		require.NoError(t, err, key)
		require.Equal(t, want, string(r.Bytes()), key)
	}
	_, err = m.WithoutField("zarr_format")
	require.ErrorIs(t, err, ErrInvalidMetadata)

	one, err := ParseMetadata("g", []byte(`{"zarr_format":3,"node_type":"group","x":1}`))
	require.NoError(t, err)
	r, err := one.WithoutField("x")
	require.NoError(t, err)
	require.Equal(t, `{"zarr_format":3,"node_type":"group"}`, string(r.Bytes()))

	// Setting a member on an empty object (through the raw object).
	obj, err := scanObject([]byte(" { } "))
	require.NoError(t, err)
	out, err := obj.set("k", json.RawMessage(`[1, 2]`))
	require.NoError(t, err)
	require.Equal(t, ` {"k":[1,2] } `, string(out))
	out = (&rawObject{doc: []byte(`{"k":1}`), open: 0, close: 6, fields: []rawField{{key: "k", keyStart: 1, keyEnd: 4, valStart: 5, valEnd: 6}}}).remove("k")
	require.Equal(t, `{}`, string(out))
}

func TestWithFieldRevalidates(t *testing.T) {
	m, err := ParseMetadata("a/zarr.json", []byte(prettyArray))
	require.NoError(t, err)
	r, err := m.WithField("fill_value", json.RawMessage(`-1.5`))
	require.NoError(t, err)
	require.Equal(t, FloatFill(-1.5), r.Array.FillValue)
	requireOnlyChanged(t, m, r, "fill_value")

	_, err = m.WithField("fill_value", json.RawMessage(`"nope"`))
	require.ErrorIs(t, err, ErrInvalidMetadata)
	_, err = m.WithField("zarr_format", json.RawMessage(`2`))
	require.ErrorIs(t, err, ErrInvalidMetadata)
	_, err = m.WithField("x", json.RawMessage(`{`))
	require.ErrorIs(t, err, ErrInvalidMetadata)

	r, err = m.WithField("new_member", json.RawMessage(`{"must_understand": false}`))
	require.NoError(t, err)
	fs := r.Fields()
	require.Equal(t, "new_member", fs[len(fs)-1].Key)
	require.True(t, strings.HasSuffix(string(r.Bytes()), "  \"x_last\": \"\\u00e9t\\u00e9\",\n  \"new_member\": {\n    \"must_understand\": false\n  }\n}\n"))
}

func TestParseMetadataErrors(t *testing.T) {
	arr := func(mut func(map[string]any)) string {
		m := map[string]any{
			"zarr_format": 3, "node_type": "array", "shape": []int{4, 4}, "data_type": "int16",
			"chunk_grid": map[string]any{"name": "regular", "configuration": map[string]any{"chunk_shape": []int{2, 2}}},
			"fill_value": 0, "codecs": []any{map[string]any{"name": "bytes", "configuration": map[string]any{"endian": "big"}}},
		}
		mut(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	valid := arr(func(map[string]any) {})
	_, err := ParseMetadata("ok", []byte(valid))
	require.NoError(t, err)

	cases := []struct {
		name, doc string
		want      error
		msg       string
	}{
		{"empty", ``, ErrInvalidMetadata, "JSON"},
		{"garbage", `{"zarr_format": 3,`, ErrInvalidMetadata, "JSON"},
		{"trailing", `{"zarr_format":3,"node_type":"group"} {}`, ErrInvalidMetadata, "JSON"},
		{"array doc", `[1]`, ErrInvalidMetadata, "not a JSON object"},
		{"duplicate", `{"zarr_format":3,"node_type":"group","node_type":"array"}`, ErrInvalidMetadata, "duplicate"},
		{"no format", `{"node_type":"group"}`, ErrInvalidMetadata, "missing zarr_format"},
		{"format 2", `{"zarr_format":2,"node_type":"group"}`, ErrInvalidMetadata, "zarr_format is 2"},
		{"format string", `{"zarr_format":"3","node_type":"group"}`, ErrInvalidMetadata, "zarr_format"},
		{"no node type", `{"zarr_format":3}`, ErrInvalidMetadata, "missing node_type"},
		{"bad node type", `{"zarr_format":3,"node_type":"folder"}`, ErrInvalidMetadata, "folder"},
		{"node type number", `{"zarr_format":3,"node_type":1}`, ErrInvalidMetadata, "node_type"},
		{"attributes list", `{"zarr_format":3,"node_type":"group","attributes":[]}`, ErrInvalidMetadata, "attributes"},
		{"no shape", arr(func(m map[string]any) { delete(m, "shape") }), ErrInvalidMetadata, "shape"},
		{"null shape", arr(func(m map[string]any) { m["shape"] = nil }), ErrInvalidMetadata, "shape is null"},
		{"negative shape", arr(func(m map[string]any) { m["shape"] = []int{-1, 4} }), ErrInvalidMetadata, "shape"},
		{"no dtype", arr(func(m map[string]any) { delete(m, "data_type") }), ErrInvalidMetadata, "data_type"},
		{"dtype number", arr(func(m map[string]any) { m["data_type"] = 5 }), ErrInvalidMetadata, "data_type"},
		{"no grid", arr(func(m map[string]any) { delete(m, "chunk_grid") }), ErrInvalidMetadata, "chunk_grid"},
		{"irregular grid", arr(func(m map[string]any) { m["chunk_grid"] = map[string]any{"name": "rectilinear"} }), ErrUnsupported, "rectilinear"},
		{"grid rank", arr(func(m map[string]any) {
			m["chunk_grid"] = map[string]any{"name": "regular", "configuration": map[string]any{"chunk_shape": []int{2}}}
		}), ErrInvalidMetadata, "dimensions"},
		{"zero chunk", arr(func(m map[string]any) {
			m["chunk_grid"] = map[string]any{"name": "regular", "configuration": map[string]any{"chunk_shape": []int{2, 0}}}
		}), ErrInvalidMetadata, "chunk_shape[1] is 0"},
		{"no fill", arr(func(m map[string]any) { delete(m, "fill_value") }), ErrInvalidMetadata, "fill_value"},
		{"bad fill", arr(func(m map[string]any) { m["fill_value"] = 1 << 20 }), ErrInvalidMetadata, "out of range"},
		{"no codecs", arr(func(m map[string]any) { delete(m, "codecs") }), ErrInvalidMetadata, "codecs"},
		{"empty codecs", arr(func(m map[string]any) { m["codecs"] = []any{} }), ErrInvalidMetadata, "codecs is empty"},
		{"codec number", arr(func(m map[string]any) { m["codecs"] = []any{1} }), ErrInvalidMetadata, "codecs[0]"},
		{"codec no name", arr(func(m map[string]any) { m["codecs"] = []any{map[string]any{}} }), ErrInvalidMetadata, "without a name"},
		{"codec conf list", arr(func(m map[string]any) { m["codecs"] = []any{map[string]any{"name": "bytes", "configuration": []int{}}} }), ErrInvalidMetadata, "configuration"},
		{"bad key encoding", arr(func(m map[string]any) { m["chunk_key_encoding"] = map[string]any{"name": "v9"} }), ErrInvalidMetadata, "v9"},
		{"bad separator", arr(func(m map[string]any) {
			m["chunk_key_encoding"] = map[string]any{"name": "default", "configuration": map[string]any{"separator": "-"}}
		}), ErrInvalidMetadata, "separator"},
		{"dim names length", arr(func(m map[string]any) { m["dimension_names"] = []any{"x"} }), ErrInvalidMetadata, "dimension_names"},
		{"dim names type", arr(func(m map[string]any) { m["dimension_names"] = []any{1, 2} }), ErrInvalidMetadata, "dimension_names"},
		{"transformers", arr(func(m map[string]any) { m["storage_transformers"] = "x" }), ErrInvalidMetadata, "storage_transformers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseMetadata("grp/arr/zarr.json", []byte(c.doc))
			require.Error(t, err)
			require.ErrorIs(t, err, c.want)
			require.ErrorContains(t, err, "grp/arr/zarr.json", "the error names the document")
			require.ErrorContains(t, err, c.msg)
		})
	}
}

func TestParseMetadataVariants(t *testing.T) {
	doc := `{"zarr_format":3,"node_type":"array","shape":[],"data_type":{"name":"complex64"},` +
		`"chunk_grid":{"name":"regular","configuration":{"chunk_shape":[]}},` +
		`"chunk_key_encoding":"v2","fill_value":[1,2],"codecs":["bytes",{"name":"blosc","configuration":null}],"dimension_names":null}`
	m, err := ParseMetadata("scalar", []byte(doc))
	require.NoError(t, err)
	a := m.Array
	require.Empty(t, a.Shape)
	require.Empty(t, a.ChunkShape)
	require.Equal(t, DataType("complex64"), a.DataType)
	require.False(t, a.DataType.Supported())
	require.Equal(t, FillRaw, a.FillValue.Kind())
	require.Equal(t, "[1,2]", a.FillValue.String())
	require.Equal(t, ChunkKeyEncoding{Name: "v2", Separator: "."}, a.ChunkKeyEncoding)
	require.Equal(t, []Codec{{Name: "bytes"}, {Name: "blosc"}}, a.Codecs)
	require.Nil(t, a.DimensionNames)
	require.ErrorIs(t, a.Decodable(), ErrUnsupported)

	enc, err := parseChunkKeyEncoding(json.RawMessage(`{"name":"v2","configuration":{"separator":"/"}}`))
	require.NoError(t, err)
	require.Equal(t, ChunkKeyEncoding{Name: "v2", Separator: "/"}, enc)
	enc, err = parseChunkKeyEncoding(json.RawMessage(`{"name":"default","configuration":{"separator":"."}}`))
	require.NoError(t, err)
	require.Equal(t, ChunkKeyEncoding{Name: "default", Separator: "."}, enc)
}

func TestNewArrayAndGroup(t *testing.T) {
	lon := "longitude"
	spec := &ArrayMetadata{
		Shape:          []uint64{10, 10},
		ChunkShape:     []uint64{3, 3},
		DataType:       Float32,
		FillValue:      FloatFill(math.NaN()),
		Attributes:     json.RawMessage(`{"this": "is a nice array", "size": 42.0}`),
		DimensionNames: []*string{nil, &lon},
	}
	doc, err := NewArray(spec)
	require.NoError(t, err)
	m, err := ParseMetadata("new", doc)
	require.NoError(t, err)
	a := m.Array
	require.Equal(t, spec.Shape, a.Shape)
	require.Equal(t, spec.ChunkShape, a.ChunkShape)
	require.Equal(t, Float32, a.DataType)
	require.True(t, a.FillValue.Equal(FloatFill(math.NaN())))
	require.Equal(t, DefaultChunkKeyEncoding, a.ChunkKeyEncoding)
	require.Equal(t, normalizeCodecs(t, DefaultCodecs()), normalizeCodecs(t, a.Codecs))
	require.Equal(t, spec.DimensionNames, a.DimensionNames)
	require.Contains(t, string(a.Attributes), `"size": 42.0`)
	require.Contains(t, string(doc), "\n  \"fill_value\": \"NaN\",\n")
	require.NoError(t, a.Decodable())

	for _, c := range []struct {
		dt   DataType
		fill FillValue
		want string
	}{
		{Int8, IntFill(8), `8`},
		{Uint64, UintFill(math.MaxUint64), `18446744073709551615`},
		{Float64, FloatFill(math.Inf(-1)), `"-Infinity"`},
		{Float64, FloatFill(0.1), `0.1`},
		{Float32, FloatFill(3), `3.0`},
		{Bool, BoolFill(true), `true`},
		{Bool, IntFill(1), `true`},
		{Float32, IntFill(-3), `-3.0`},
		{Int16, FloatFill(-7), `-7`},
		{Uint8, IntFill(200), `200`},
	} {
		doc, err := NewArray(&ArrayMetadata{Shape: []uint64{}, ChunkShape: []uint64{}, DataType: c.dt, FillValue: c.fill,
			ChunkKeyEncoding: ChunkKeyEncoding{Name: "default", Separator: "."}, Codecs: []Codec{BytesCodec("big"), GzipCodec(5)}})
		require.NoError(t, err, c.dt)
		require.Contains(t, string(doc), `"fill_value": `+c.want+",", c.dt)
		m, err := ParseMetadata("new", doc)
		require.NoError(t, err)
		require.Equal(t, c.want, m.Array.FillValue.String(), c.dt)
		require.Equal(t, ".", m.Array.ChunkKeyEncoding.Separator)
		_, hasDims := m.Field("dimension_names")
		require.False(t, hasDims)
	}

	_, err = NewArray(&ArrayMetadata{Shape: []uint64{1}, ChunkShape: []uint64{1}, DataType: Int8})
	require.ErrorIs(t, err, ErrInvalidMetadata, "fill value unset")
	_, err = NewArray(&ArrayMetadata{Shape: []uint64{1}, ChunkShape: []uint64{1, 1}, DataType: Int8, FillValue: IntFill(0)})
	require.ErrorIs(t, err, ErrInvalidMetadata, "rank mismatch")
	_, err = NewArray(&ArrayMetadata{Shape: []uint64{1}, ChunkShape: []uint64{1}, DataType: Int8, FillValue: IntFill(300)})
	require.ErrorIs(t, err, ErrInvalidMetadata, "fill out of range")
	_, err = NewArray(nil)
	require.ErrorIs(t, err, ErrInvalidMetadata)

	g, err := NewGroup(json.RawMessage(`{"this": "is a nice group"}`))
	require.NoError(t, err)
	require.Equal(t, "{\n  \"attributes\": {\n    \"this\": \"is a nice group\"\n  },\n  \"zarr_format\": 3,\n  \"consolidated_metadata\": null,\n  \"node_type\": \"group\"\n}", string(g))
	g, err = NewGroup(nil)
	require.NoError(t, err)
	gm, err := ParseMetadata("g", g)
	require.NoError(t, err)
	require.Equal(t, "{}", string(gm.Attributes))
	_, err = NewGroup(json.RawMessage(`"x"`))
	require.ErrorIs(t, err, ErrInvalidMetadata)
}

func normalizeCodecs(t *testing.T, cs []Codec) string {
	t.Helper()
	b, err := json.Marshal(cs)
	require.NoError(t, err)
	return compactJSON(t, b)
}

func TestErrorsAreClassified(t *testing.T) {
	_, err := ParseMetadata("x", []byte(`nope`))
	require.True(t, errors.Is(err, ErrInvalidMetadata))
	require.False(t, errors.Is(err, ErrInvalidKey))
}
