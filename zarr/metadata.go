package zarr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// NodeType is the "node_type" of a metadata document.
type NodeType string

// The two node types of Zarr v3.
const (
	NodeGroup NodeType = "group"
	NodeArray NodeType = "array"
)

// Field is one member of a metadata document, with its value's exact bytes.
type Field struct {
	Key   string
	Value json.RawMessage
}

// Codec is one entry of an array's "codecs" list. Configuration holds the raw
// JSON object (nil when the codec has none).
type Codec struct {
	Name          string          `json:"name"`
	Configuration json.RawMessage `json:"configuration,omitempty"`
}

// ChunkKeyEncoding is an array's "chunk_key_encoding": Name "default" (keys
// "c/0/1" or "c.0.1") or "v2" (keys "0.1" or "0/1"), with its separator
// ("/" or ".").
type ChunkKeyEncoding struct {
	Name      string
	Separator string
}

// DefaultChunkKeyEncoding is {"name": "default", "separator": "/"}, what
// Zarr and Icechunk write unless told otherwise.
var DefaultChunkKeyEncoding = ChunkKeyEncoding{Name: "default", Separator: "/"}

// MarshalJSON writes the encoding as {"name": ..., "configuration": {"separator": ...}}.
func (e ChunkKeyEncoding) MarshalJSON() ([]byte, error) {
	type conf struct {
		Separator string `json:"separator"`
	}
	return json.Marshal(struct {
		Name          string `json:"name"`
		Configuration conf   `json:"configuration"`
	}{e.Name, conf{e.Separator}})
}

// ArrayMetadata is the parsed content of an array's zarr.json. It is plain
// data: code may build one directly (for [NewArray], [EncodeChunk], ...).
type ArrayMetadata struct {
	// Shape is the array's extent per dimension; empty for a 0-d array.
	Shape []uint64
	// ChunkShape is the regular chunk grid's chunk extent per dimension
	// (same length as Shape, every entry > 0).
	ChunkShape []uint64
	// DataType is the element type; unsupported types are kept by name.
	DataType DataType
	// FillValue is the value of elements never written.
	FillValue FillValue
	// ChunkKeyEncoding says how chunk coordinates become keys.
	ChunkKeyEncoding ChunkKeyEncoding
	// Codecs is the codec chain, array-to-bytes codec first.
	Codecs []Codec
	// Attributes is the raw "attributes" object, nil when absent.
	Attributes json.RawMessage
	// DimensionNames has one entry per dimension (nil entries are unnamed
	// dimensions); nil when the document has no "dimension_names".
	DimensionNames []*string
	// StorageTransformers holds the raw entries of "storage_transformers".
	StorageTransformers []json.RawMessage
}

// Metadata is a parsed zarr.json document of a group or an array. The parsed
// fields are a read-only view: edits go through the With... methods, which
// return a new Metadata whose document differs from the original only in the
// edited member — every other member keeps its bytes and its position.
type Metadata struct {
	// NodeType is NodeGroup or NodeArray.
	NodeType NodeType
	// Attributes is the raw "attributes" object, nil when absent.
	Attributes json.RawMessage
	// Array is the array metadata; nil for groups.
	Array *ArrayMetadata

	name string
	obj  *rawObject
}

func metaErr(name, format string, args ...any) error {
	return fmt.Errorf("zarr: metadata %s: %s: %w", name, fmt.Sprintf(format, args...), ErrInvalidMetadata)
}

// ParseMetadata parses the zarr.json document doc; name (its key or node
// path) appears in every error. zarr_format must be 3 and node_type "group"
// or "array". Members the package does not know are kept byte for byte.
func ParseMetadata(name string, doc []byte) (*Metadata, error) {
	doc = bytes.Clone(doc)
	obj, err := scanObject(doc)
	if err != nil {
		return nil, metaErr(name, "%v", err)
	}
	m := &Metadata{name: name, obj: obj}
	format, ok := obj.value("zarr_format")
	if !ok {
		return nil, metaErr(name, "missing zarr_format")
	}
	if string(format) != "3" {
		return nil, metaErr(name, "zarr_format is %s, want 3", format)
	}
	nodeType, ok := obj.value("node_type")
	if !ok {
		return nil, metaErr(name, "missing node_type")
	}
	var nt string
	if err := json.Unmarshal(nodeType, &nt); err != nil {
		return nil, metaErr(name, "node_type %s is not a string", nodeType)
	}
	if attrs, ok := obj.value("attributes"); ok {
		if attrs[0] != '{' {
			return nil, metaErr(name, "attributes is not a JSON object")
		}
		m.Attributes = attrs
	}
	switch NodeType(nt) {
	case NodeGroup:
		m.NodeType = NodeGroup
	case NodeArray:
		m.NodeType = NodeArray
		a, err := parseArray(name, obj)
		if err != nil {
			return nil, err
		}
		a.Attributes = m.Attributes
		m.Array = a
	default:
		return nil, metaErr(name, "node_type %q is neither \"group\" nor \"array\"", nt)
	}
	return m, nil
}

// decodeMember unmarshals a member value, refusing null.
func decodeMember(name, key string, raw json.RawMessage, v any) error {
	if string(raw) == "null" {
		return metaErr(name, "%s is null", key)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return metaErr(name, "%s: %v", key, err)
	}
	return nil
}

func parseArray(name string, obj *rawObject) (*ArrayMetadata, error) {
	a := &ArrayMetadata{}
	required := func(key string) (json.RawMessage, error) {
		raw, ok := obj.value(key)
		if !ok {
			return nil, metaErr(name, "array without %s", key)
		}
		return raw, nil
	}

	raw, err := required("shape")
	if err != nil {
		return nil, err
	}
	if err := decodeMember(name, "shape", raw, &a.Shape); err != nil {
		return nil, err
	}

	if raw, err = required("data_type"); err != nil {
		return nil, err
	}
	if raw[0] == '{' {
		var ext struct {
			Name string `json:"name"`
		}
		if err := decodeMember(name, "data_type", raw, &ext); err != nil {
			return nil, err
		}
		a.DataType = DataType(ext.Name)
	} else {
		var s string
		if err := decodeMember(name, "data_type", raw, &s); err != nil {
			return nil, err
		}
		a.DataType = DataType(s)
	}
	if a.DataType == "" {
		return nil, metaErr(name, "empty data_type")
	}

	if raw, err = required("chunk_grid"); err != nil {
		return nil, err
	}
	var grid struct {
		Name          string `json:"name"`
		Configuration struct {
			ChunkShape []uint64 `json:"chunk_shape"`
		} `json:"configuration"`
	}
	if err := decodeMember(name, "chunk_grid", raw, &grid); err != nil {
		return nil, err
	}
	if grid.Name != "regular" {
		return nil, fmt.Errorf("zarr: metadata %s: chunk grid %q (only \"regular\" is supported): %w", name, grid.Name, ErrUnsupported)
	}
	a.ChunkShape = grid.Configuration.ChunkShape
	if a.ChunkShape == nil {
		a.ChunkShape = []uint64{}
	}
	if len(a.ChunkShape) != len(a.Shape) {
		return nil, metaErr(name, "chunk_shape has %d dimensions, shape has %d", len(a.ChunkShape), len(a.Shape))
	}
	for i, c := range a.ChunkShape {
		if c == 0 {
			return nil, metaErr(name, "chunk_shape[%d] is 0", i)
		}
	}

	a.ChunkKeyEncoding = DefaultChunkKeyEncoding
	if raw, ok := obj.value("chunk_key_encoding"); ok {
		enc, err := parseChunkKeyEncoding(raw)
		if err != nil {
			return nil, metaErr(name, "chunk_key_encoding: %v", err)
		}
		a.ChunkKeyEncoding = enc
	}

	if raw, err = required("fill_value"); err != nil {
		return nil, err
	}
	if a.FillValue, err = ParseFillValue(a.DataType, raw); err != nil {
		return nil, fmt.Errorf("zarr: metadata %s: %w", name, err)
	}

	if raw, err = required("codecs"); err != nil {
		return nil, err
	}
	var codecs []json.RawMessage
	if err := decodeMember(name, "codecs", raw, &codecs); err != nil {
		return nil, err
	}
	if len(codecs) == 0 {
		return nil, metaErr(name, "codecs is empty")
	}
	for i, c := range codecs {
		codec, err := parseCodec(c)
		if err != nil {
			return nil, metaErr(name, "codecs[%d]: %v", i, err)
		}
		a.Codecs = append(a.Codecs, codec)
	}

	if raw, ok := obj.value("dimension_names"); ok && string(raw) != "null" {
		if err := decodeMember(name, "dimension_names", raw, &a.DimensionNames); err != nil {
			return nil, err
		}
		if len(a.DimensionNames) != len(a.Shape) {
			return nil, metaErr(name, "dimension_names has %d entries, shape has %d dimensions", len(a.DimensionNames), len(a.Shape))
		}
	}

	if raw, ok := obj.value("storage_transformers"); ok {
		if err := decodeMember(name, "storage_transformers", raw, &a.StorageTransformers); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func parseChunkKeyEncoding(raw json.RawMessage) (ChunkKeyEncoding, error) {
	var enc struct {
		Name          string `json:"name"`
		Configuration *struct {
			Separator *string `json:"separator"`
		} `json:"configuration"`
	}
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &enc.Name); err != nil {
			return ChunkKeyEncoding{}, err
		}
	} else if err := json.Unmarshal(raw, &enc); err != nil || string(raw) == "null" {
		return ChunkKeyEncoding{}, errors.New("not an object with a name")
	}
	out := ChunkKeyEncoding{Name: enc.Name}
	switch enc.Name {
	case "default":
		out.Separator = "/"
	case "v2":
		out.Separator = "."
	default:
		return ChunkKeyEncoding{}, fmt.Errorf("unknown name %q (want \"default\" or \"v2\")", enc.Name)
	}
	if enc.Configuration != nil && enc.Configuration.Separator != nil {
		out.Separator = *enc.Configuration.Separator
	}
	if out.Separator != "/" && out.Separator != "." {
		return ChunkKeyEncoding{}, fmt.Errorf("separator %q (want \"/\" or \".\")", out.Separator)
	}
	return out, nil
}

func parseCodec(raw json.RawMessage) (Codec, error) {
	if raw[0] == '"' {
		var n string
		if err := json.Unmarshal(raw, &n); err != nil {
			return Codec{}, err
		}
		if n == "" {
			return Codec{}, errors.New("empty codec name")
		}
		return Codec{Name: n}, nil
	}
	if raw[0] != '{' {
		return Codec{}, errors.New("not an object")
	}
	var c Codec
	if err := json.Unmarshal(raw, &c); err != nil {
		return Codec{}, err
	}
	if c.Name == "" {
		return Codec{}, errors.New("codec without a name")
	}
	if len(c.Configuration) > 0 && c.Configuration[0] != '{' {
		if string(c.Configuration) != "null" {
			return Codec{}, fmt.Errorf("codec %q: configuration is not an object", c.Name)
		}
		c.Configuration = nil
	}
	return c, nil
}

// Name is the name given to ParseMetadata (the document's key or path).
func (m *Metadata) Name() string { return m.name }

// IsArray reports whether the document describes an array.
func (m *Metadata) IsArray() bool { return m.NodeType == NodeArray }

// IsGroup reports whether the document describes a group.
func (m *Metadata) IsGroup() bool { return m.NodeType == NodeGroup }

// Bytes returns the document. For a document that came from ParseMetadata
// and was never edited these are exactly the bytes parsed.
func (m *Metadata) Bytes() []byte { return bytes.Clone(m.obj.doc) }

// Fields lists the document's top-level members in document order, with the
// exact bytes of each value.
func (m *Metadata) Fields() []Field {
	out := make([]Field, len(m.obj.fields))
	for i, f := range m.obj.fields {
		out[i] = Field{Key: f.key, Value: bytes.Clone(m.obj.doc[f.valStart:f.valEnd])}
	}
	return out
}

// Field returns the exact bytes of member key, and whether it exists.
func (m *Metadata) Field(key string) (json.RawMessage, bool) {
	v, ok := m.obj.value(key)
	return bytes.Clone(v), ok
}

// WithField returns the document with member key set to value (replaced in
// place, or appended when new); every other byte is kept. The result is
// parsed again, so an edit that makes the document invalid is an error.
func (m *Metadata) WithField(key string, value json.RawMessage) (*Metadata, error) {
	doc, err := m.obj.set(key, value)
	if err != nil {
		return nil, metaErr(m.name, "set %s: %v", key, err)
	}
	return ParseMetadata(m.name, doc)
}

// WithoutField returns the document without member key; every other byte is
// kept. Removing a required member is an error.
func (m *Metadata) WithoutField(key string) (*Metadata, error) {
	return ParseMetadata(m.name, m.obj.remove(key))
}

// WithShape returns the array document resized to shape (same number of
// dimensions); only the "shape" member changes.
func (m *Metadata) WithShape(shape []uint64) (*Metadata, error) {
	if m.Array == nil {
		return nil, metaErr(m.name, "cannot resize a group")
	}
	if len(shape) != len(m.Array.Shape) {
		return nil, metaErr(m.name, "resize to %d dimensions, array has %d", len(shape), len(m.Array.Shape))
	}
	raw, err := json.Marshal(nonNil(shape))
	if err != nil {
		return nil, metaErr(m.name, "%v", err)
	}
	return m.WithField("shape", raw)
}

// WithAttributes returns the document with "attributes" replaced by attrs,
// which must be a JSON object (nil means {}).
func (m *Metadata) WithAttributes(attrs json.RawMessage) (*Metadata, error) {
	attrs = bytes.TrimSpace(attrs)
	if len(attrs) == 0 {
		attrs = json.RawMessage("{}")
	}
	if attrs[0] != '{' || !json.Valid(attrs) {
		return nil, metaErr(m.name, "attributes must be a JSON object")
	}
	return m.WithField("attributes", attrs)
}

// WithDimensionNames returns the array document with "dimension_names" set to
// names (one per dimension, nil entries allowed); nil names removes the member.
func (m *Metadata) WithDimensionNames(names []*string) (*Metadata, error) {
	if m.Array == nil {
		return nil, metaErr(m.name, "a group has no dimension names")
	}
	if names == nil {
		return m.WithoutField("dimension_names")
	}
	raw, err := json.Marshal(names)
	if err != nil {
		return nil, metaErr(m.name, "%v", err)
	}
	return m.WithField("dimension_names", raw)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// DefaultCodecs is the codec chain Icechunk's tools write: bytes
// little-endian, then zstd at its default level without checksum.
func DefaultCodecs() []Codec {
	return []Codec{BytesCodec("little"), ZstdCodec(0, false)}
}

// BytesCodec is the "bytes" array-to-bytes codec with the given endian
// ("little" or "big"; "" writes no configuration, fine for 1-byte types).
func BytesCodec(endian string) Codec {
	if endian == "" {
		return Codec{Name: "bytes"}
	}
	conf, _ := json.Marshal(map[string]string{"endian": endian})
	return Codec{Name: "bytes", Configuration: conf}
}

// ZstdCodec is the "zstd" bytes-to-bytes codec (level 0 means zstd's
// default level).
func ZstdCodec(level int, checksum bool) Codec {
	conf, _ := json.Marshal(struct {
		Level    int  `json:"level"`
		Checksum bool `json:"checksum"`
	}{level, checksum})
	return Codec{Name: "zstd", Configuration: conf}
}

// GzipCodec is the "gzip" bytes-to-bytes codec (level 0 to 9).
func GzipCodec(level int) Codec {
	conf, _ := json.Marshal(struct {
		Level int `json:"level"`
	}{level})
	return Codec{Name: "gzip", Configuration: conf}
}

// Crc32cCodec is the "crc32c" bytes-to-bytes codec (appends a CRC-32C).
func Crc32cCodec() Codec { return Codec{Name: "crc32c"} }

// docWriter builds a JSON object member by member, in order.
type docWriter struct {
	buf bytes.Buffer
	err error
}

func (w *docWriter) member(key string, value any) {
	if w.err != nil {
		return
	}
	var raw []byte
	switch v := value.(type) {
	case json.RawMessage:
		raw = v
	default:
		raw, w.err = json.Marshal(v)
		if w.err != nil {
			return
		}
	}
	if w.buf.Len() == 0 {
		w.buf.WriteByte('{')
	} else {
		w.buf.WriteByte(',')
	}
	k, _ := json.Marshal(key)
	w.buf.Write(k)
	w.buf.WriteByte(':')
	w.buf.Write(raw)
}

// finish closes the object and pretty-prints it with two-space indentation,
// the layout zarr-python writes.
func (w *docWriter) finish() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	w.buf.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, w.buf.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// NewArray writes a new array document for a, with members in the order
// zarr-python uses. A nil Codecs list means [DefaultCodecs], a zero
// ChunkKeyEncoding means [DefaultChunkKeyEncoding], nil Attributes means {};
// the fill value must be set and fit the data type (it is written in the
// type's form: IntFill(1) for bool writes true, for float32 1.0). The result
// is checked with ParseMetadata.
func NewArray(a *ArrayMetadata) ([]byte, error) {
	const name = "new array"
	if a == nil {
		return nil, metaErr(name, "nil array metadata")
	}
	if a.FillValue.Kind() == FillUnset {
		return nil, metaErr(name, "fill value not set")
	}
	fill, err := a.FillValue.normalize(a.DataType)
	if err != nil {
		return nil, fmt.Errorf("zarr: metadata %s: %w", name, err)
	}
	codecs := a.Codecs
	if codecs == nil {
		codecs = DefaultCodecs()
	}
	enc := a.ChunkKeyEncoding
	if enc == (ChunkKeyEncoding{}) {
		enc = DefaultChunkKeyEncoding
	}
	attrs := a.Attributes
	if len(bytes.TrimSpace(attrs)) == 0 {
		attrs = json.RawMessage("{}")
	}
	var w docWriter
	w.member("shape", nonNil(a.Shape))
	w.member("data_type", string(a.DataType))
	type gridConf struct {
		ChunkShape []uint64 `json:"chunk_shape"`
	}
	w.member("chunk_grid", struct {
		Name          string   `json:"name"`
		Configuration gridConf `json:"configuration"`
	}{"regular", gridConf{nonNil(a.ChunkShape)}})
	w.member("chunk_key_encoding", enc)
	w.member("fill_value", fill)
	w.member("codecs", codecs)
	w.member("attributes", attrs)
	if a.DimensionNames != nil {
		w.member("dimension_names", a.DimensionNames)
	}
	w.member("zarr_format", 3)
	w.member("node_type", "array")
	w.member("storage_transformers", nonNil(a.StorageTransformers))
	doc, err := w.finish()
	if err != nil {
		return nil, metaErr(name, "%v", err)
	}
	if _, err := ParseMetadata(name, doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// NewGroup writes a new group document with the given attributes (a JSON
// object; nil means {}).
func NewGroup(attrs json.RawMessage) ([]byte, error) {
	const name = "new group"
	attrs = bytes.TrimSpace(attrs)
	if len(attrs) == 0 {
		attrs = json.RawMessage("{}")
	}
	if attrs[0] != '{' || !json.Valid(attrs) {
		return nil, metaErr(name, "attributes must be a JSON object")
	}
	var w docWriter
	w.member("attributes", attrs)
	w.member("zarr_format", 3)
	w.member("consolidated_metadata", nil)
	w.member("node_type", "group")
	doc, err := w.finish()
	if err != nil {
		return nil, metaErr(name, "%v", err)
	}
	if _, err := ParseMetadata(name, doc); err != nil {
		return nil, err
	}
	return doc, nil
}
