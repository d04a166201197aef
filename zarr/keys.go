package zarr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MetadataFile is the name of a node's metadata document.
const MetadataFile = "zarr.json"

// KeyKind says what a key of the Zarr key space addresses.
type KeyKind uint8

// The kinds of key.
const (
	// KeyMetadata is a node's zarr.json.
	KeyMetadata KeyKind = iota + 1
	// KeyChunk is a chunk of an array.
	KeyChunk
)

// String names the kind.
func (k KeyKind) String() string {
	switch k {
	case KeyMetadata:
		return "metadata"
	case KeyChunk:
		return "chunk"
	}
	return fmt.Sprintf("KeyKind(%d)", uint8(k))
}

// Key is a parsed key of the Zarr v3 key space.
type Key struct {
	// Kind is KeyMetadata or KeyChunk.
	Kind KeyKind
	// NodePath is the absolute path of the node: "/" or "/group1/big_chunks".
	NodePath string
	// Coords are the chunk coordinates: nil for metadata keys, empty (not
	// nil) for the chunk of a 0-d array.
	Coords []uint32
	// Separator is the separator the chunk key was written with ("/" or
	// "."); "/" for 0-d chunks, "" for metadata keys.
	Separator string
}

// String writes the key back (with the default chunk key encoding and the
// key's separator).
func (k Key) String() string {
	if k.Kind == KeyMetadata {
		return MetadataKey(k.NodePath)
	}
	sep := k.Separator
	if sep == "" {
		sep = "/"
	}
	return ChunkKey(k.NodePath, k.Coords, ChunkKeyEncoding{Name: "default", Separator: sep})
}

func keyErr(key, format string, args ...any) error {
	return fmt.Errorf("zarr: key %q: %s: %w", key, fmt.Sprintf(format, args...), ErrInvalidKey)
}

// checkSegments validates the "/"-separated segments of a key or path.
func checkSegments(what, s string, segs []string) error {
	for i, seg := range segs {
		switch seg {
		case "":
			switch {
			case i == len(segs)-1 && len(segs) > 1:
				return keyErr(s, "%s ends with \"/\"", what)
			case i == 0:
				return keyErr(s, "empty %s", what)
			}
			return keyErr(s, "%s has an empty segment", what)
		case ".", "..":
			return keyErr(s, "%s has a %q segment", what, seg)
		}
	}
	return nil
}

// parseCoord parses one chunk coordinate: decimal digits without sign or
// leading zero, at most 2^32-1.
func parseCoord(key, s string) (uint32, error) {
	if s == "" {
		return 0, keyErr(key, "empty chunk coordinate")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, keyErr(key, "chunk coordinate %q has a leading zero", s)
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, keyErr(key, "chunk coordinate %q is not a number", s)
		}
		v = v*10 + uint64(c-'0')
		if v > 1<<32-1 {
			return 0, keyErr(key, "chunk coordinate %q overflows 32 bits", s)
		}
	}
	return uint32(v), nil
}

func isCoord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ParseKey parses a key of the Zarr v3 key space of a store: "zarr.json",
// "group1/zarr.json", chunk keys of the default encoding in both separator
// forms ("group1/big_chunks/c/0/1", "group1/arr/c.0.1") and the chunk of a
// 0-d array ("arr/c"). Keys of the "v2" chunk key encoding cannot be told
// apart without the array's metadata: use [ParseChunkKey] for them.
func ParseKey(key string) (Key, error) {
	if key == "" {
		return Key{}, keyErr(key, "empty key")
	}
	if !utf8.ValidString(key) {
		return Key{}, keyErr(key, "not valid UTF-8")
	}
	if key[0] == '/' {
		return Key{}, keyErr(key, "key starts with \"/\" (keys are relative to the store root)")
	}
	segs := strings.Split(key, "/")
	if err := checkSegments("key", key, segs); err != nil {
		return Key{}, err
	}
	last := segs[len(segs)-1]
	if last == MetadataFile {
		return Key{Kind: KeyMetadata, NodePath: "/" + strings.Join(segs[:len(segs)-1], "/")}, nil
	}
	// Dot form: the last segment is "c.<i>.<j>...".
	if rest, ok := strings.CutPrefix(last, "c."); ok {
		if rest == "" {
			return Key{}, keyErr(key, "chunk key \"c.\" has no coordinates")
		}
		parts := strings.Split(rest, ".")
		coords := make([]uint32, len(parts))
		for i, p := range parts {
			c, err := parseCoord(key, p)
			if err != nil {
				return Key{}, err
			}
			coords[i] = c
		}
		return Key{Kind: KeyChunk, NodePath: "/" + strings.Join(segs[:len(segs)-1], "/"), Coords: coords, Separator: "."}, nil
	}
	// Slash form: "c" followed by zero or more numeric segments.
	i := len(segs)
	for i > 0 && isCoord(segs[i-1]) {
		i--
	}
	if i == 0 || segs[i-1] != "c" {
		if i < len(segs) {
			return Key{}, keyErr(key, "chunk coordinates without a \"c\" prefix")
		}
		return Key{}, keyErr(key, "%q is neither %s nor a chunk key", last, MetadataFile)
	}
	coords := make([]uint32, 0, len(segs)-i)
	for _, s := range segs[i:] {
		c, err := parseCoord(key, s)
		if err != nil {
			return Key{}, err
		}
		coords = append(coords, c)
	}
	return Key{Kind: KeyChunk, NodePath: "/" + strings.Join(segs[:i-1], "/"), Coords: coords, Separator: "/"}, nil
}

// ParseChunkKey parses key as a chunk key of the array at arrayPath (an
// absolute node path) described by meta: it honours the array's chunk key
// encoding (including "v2") and checks the number of dimensions. It does not
// check the coordinates against the chunk grid (see
// [ArrayMetadata.CheckChunkCoords]).
func ParseChunkKey(key, arrayPath string, meta *ArrayMetadata) ([]uint32, error) {
	if meta == nil {
		return nil, keyErr(key, "no array metadata")
	}
	if err := ValidateNodePath(arrayPath); err != nil {
		return nil, err
	}
	rest := key
	if prefix := KeyPrefix(arrayPath); prefix != "" {
		var ok bool
		if rest, ok = strings.CutPrefix(key, prefix+"/"); !ok {
			return nil, keyErr(key, "not under array %s", arrayPath)
		}
	}
	enc := meta.ChunkKeyEncoding
	if enc.Separator != "/" && enc.Separator != "." {
		return nil, keyErr(key, "array %s has chunk key separator %q", arrayPath, enc.Separator)
	}
	ndim := len(meta.Shape)
	var parts []string
	switch enc.Name {
	case "default":
		if rest == "c" {
			parts = nil
		} else if r, ok := strings.CutPrefix(rest, "c"+enc.Separator); ok {
			parts = strings.Split(r, enc.Separator)
		} else {
			return nil, keyErr(key, "not a chunk key of array %s (encoding default, separator %q)", arrayPath, enc.Separator)
		}
	case "v2":
		if ndim == 0 {
			if rest != "0" {
				return nil, keyErr(key, "not the chunk key of 0-d array %s", arrayPath)
			}
			return []uint32{}, nil
		}
		parts = strings.Split(rest, enc.Separator)
	default:
		return nil, keyErr(key, "array %s has unknown chunk key encoding %q", arrayPath, enc.Name)
	}
	if len(parts) != ndim {
		return nil, keyErr(key, "%d chunk coordinates for %d-d array %s", len(parts), ndim, arrayPath)
	}
	coords := make([]uint32, len(parts))
	for i, p := range parts {
		c, err := parseCoord(key, p)
		if err != nil {
			return nil, err
		}
		coords[i] = c
	}
	return coords, nil
}

// ChunkKey is the key of the chunk at coords of the array at arrayPath (an
// absolute node path, "/" for a root array) under encoding enc. A zero
// encoding means [DefaultChunkKeyEncoding].
func ChunkKey(arrayPath string, coords []uint32, enc ChunkKeyEncoding) string {
	if enc == (ChunkKeyEncoding{}) {
		enc = DefaultChunkKeyEncoding
	}
	sep := enc.Separator
	if sep == "" {
		sep = "/"
		if enc.Name == "v2" {
			sep = "."
		}
	}
	var b strings.Builder
	if prefix := KeyPrefix(arrayPath); prefix != "" {
		b.WriteString(prefix)
		b.WriteByte('/')
	}
	if enc.Name == "v2" {
		if len(coords) == 0 {
			b.WriteByte('0')
		}
		for i, c := range coords {
			if i > 0 {
				b.WriteString(sep)
			}
			b.WriteString(strconv.FormatUint(uint64(c), 10))
		}
		return b.String()
	}
	b.WriteByte('c')
	for _, c := range coords {
		b.WriteString(sep)
		b.WriteString(strconv.FormatUint(uint64(c), 10))
	}
	return b.String()
}

// MetadataKey is the key of the zarr.json of the node at nodePath ("/" gives
// "zarr.json", "/group1" gives "group1/zarr.json").
func MetadataKey(nodePath string) string {
	if prefix := KeyPrefix(nodePath); prefix != "" {
		return prefix + "/" + MetadataFile
	}
	return MetadataFile
}

// KeyPrefix turns an absolute node path into the key prefix of the node:
// "/" gives "", "/a/b" gives "a/b". Surrounding slashes are dropped.
func KeyPrefix(nodePath string) string {
	return strings.Trim(nodePath, "/")
}

// NodePathFromPrefix turns a key prefix into an absolute node path: "" gives
// "/", "a/b" gives "/a/b". Surrounding slashes are dropped first.
func NodePathFromPrefix(prefix string) string {
	return "/" + strings.Trim(prefix, "/")
}

// ValidateNodePath checks that p is an absolute node path: "/" or "/a/b",
// without a trailing slash, empty segments, "." or "..".
func ValidateNodePath(p string) error {
	if p == "/" {
		return nil
	}
	if p == "" {
		return fmt.Errorf("zarr: node path is empty: %w", ErrInvalidKey)
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("zarr: node path %q is not valid UTF-8: %w", p, ErrInvalidKey)
	}
	if p[0] != '/' {
		return fmt.Errorf("zarr: node path %q does not start with \"/\": %w", p, ErrInvalidKey)
	}
	for i, seg := range strings.Split(p[1:], "/") {
		switch seg {
		case "":
			return fmt.Errorf("zarr: node path %q has an empty segment (#%d): %w", p, i+1, ErrInvalidKey)
		case ".", "..":
			return fmt.Errorf("zarr: node path %q has a %q segment: %w", p, seg, ErrInvalidKey)
		}
	}
	return nil
}
