package zarr

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseKeyValid(t *testing.T) {
	cases := []struct {
		key  string
		want Key
	}{
		{"zarr.json", Key{Kind: KeyMetadata, NodePath: "/"}},
		{"group1/zarr.json", Key{Kind: KeyMetadata, NodePath: "/group1"}},
		{"group2/group3/group4/group5/inner/zarr.json", Key{Kind: KeyMetadata, NodePath: "/group2/group3/group4/group5/inner"}},
		{"group1/big_chunks/c/0/1", Key{Kind: KeyChunk, NodePath: "/group1/big_chunks", Coords: []uint32{0, 1}, Separator: "/"}},
		{"group1/small_chunks/c/4", Key{Kind: KeyChunk, NodePath: "/group1/small_chunks", Coords: []uint32{4}, Separator: "/"}},
		{"group1/arr/c.0.1", Key{Kind: KeyChunk, NodePath: "/group1/arr", Coords: []uint32{0, 1}, Separator: "."}},
		{"arr/c.12", Key{Kind: KeyChunk, NodePath: "/arr", Coords: []uint32{12}, Separator: "."}},
		{"scalar/c", Key{Kind: KeyChunk, NodePath: "/scalar", Coords: []uint32{}, Separator: "/"}},
		{"c", Key{Kind: KeyChunk, NodePath: "/", Coords: []uint32{}, Separator: "/"}},
		{"c/0/0/0", Key{Kind: KeyChunk, NodePath: "/", Coords: []uint32{0, 0, 0}, Separator: "/"}},
		{"c.7", Key{Kind: KeyChunk, NodePath: "/", Coords: []uint32{7}, Separator: "."}},
		{"a/c/4294967295", Key{Kind: KeyChunk, NodePath: "/a", Coords: []uint32{4294967295}, Separator: "/"}},
		// Nodes may be called "c" or have numeric names.
		{"c/c/1", Key{Kind: KeyChunk, NodePath: "/c", Coords: []uint32{1}, Separator: "/"}},
		{"a/c/0/c/1", Key{Kind: KeyChunk, NodePath: "/a/c/0", Coords: []uint32{1}, Separator: "/"}},
		{"c/zarr.json", Key{Kind: KeyMetadata, NodePath: "/c"}},
		{"0/1/zarr.json", Key{Kind: KeyMetadata, NodePath: "/0/1"}},
		{"a/c.0/c/2", Key{Kind: KeyChunk, NodePath: "/a/c.0", Coords: []uint32{2}, Separator: "/"}},
		{"é/c/3", Key{Kind: KeyChunk, NodePath: "/é", Coords: []uint32{3}, Separator: "/"}},
	}
	for _, c := range cases {
		got, err := ParseKey(c.key)
		require.NoError(t, err, c.key)
		require.Equal(t, c.want, got, c.key)
		require.Equal(t, c.key, got.String(), "round trip")
	}
}

func TestParseKeyInvalid(t *testing.T) {
	cases := []struct{ key, msg string }{
		{"", "empty key"},
		{"/zarr.json", "starts with"},
		{"/", "starts with"},
		{"a//zarr.json", "empty segment"},
		{"a/", "ends with"},
		{"c/", "ends with"},
		{"a/c/0/", "ends with"},
		{"./zarr.json", `"."`},
		{"a/../zarr.json", `".."`},
		{"a/c/..", `".."`},
		{"a/c/x", "neither"},
		{"a/c/-1", "neither"},
		{"a/c/+1", "neither"},
		{"a/c/1.5", "neither"},
		{"a/c/4294967296", "overflows"},
		{"a/c/99999999999999999999999", "overflows"},
		{"a/c/01", "leading zero"},
		{"a/c.01", "leading zero"},
		{"a/c.", "no coordinates"},
		{"c.", "no coordinates"},
		{"a/c.0..1", "empty chunk coordinate"},
		{"a/c.0.", "empty chunk coordinate"},
		{"a/c.x", "not a number"},
		{"a/c.4294967296", "overflows"},
		{"group1/.zarray", "neither"},
		{"group1/.zattrs", "neither"},
		{"group1/zarr.jsonx", "neither"},
		{"group1/arr/0/1", "without a \"c\" prefix"},
		{"0", "without a \"c\" prefix"},
		{"arr/c/0.1", "neither"},
		{"a/\xff/zarr.json", "UTF-8"},
	}
	for _, c := range cases {
		_, err := ParseKey(c.key)
		require.ErrorIs(t, err, ErrInvalidKey, c.key)
		require.ErrorContains(t, err, c.msg, c.key)
		require.ErrorContains(t, err, fmt.Sprintf("%q", c.key), "the error names the key")
	}
	// The key itself is named in the error.
	_, err := ParseKey("group1/.zarray")
	require.ErrorContains(t, err, `"group1/.zarray"`)
}

func TestChunkAndMetadataKeys(t *testing.T) {
	slash := DefaultChunkKeyEncoding
	dot := ChunkKeyEncoding{Name: "default", Separator: "."}
	v2 := ChunkKeyEncoding{Name: "v2", Separator: "."}
	v2slash := ChunkKeyEncoding{Name: "v2", Separator: "/"}
	for _, c := range []struct {
		path   string
		coords []uint32
		enc    ChunkKeyEncoding
		want   string
	}{
		{"/group1/big_chunks", []uint32{0, 1}, slash, "group1/big_chunks/c/0/1"},
		{"/group1/small_chunks", []uint32{4}, slash, "group1/small_chunks/c/4"},
		{"/group1/arr", []uint32{0, 1}, dot, "group1/arr/c.0.1"},
		{"/arr", nil, slash, "arr/c"},
		{"/arr", []uint32{}, dot, "arr/c"},
		{"/", []uint32{3}, slash, "c/3"},
		{"/", []uint32{3, 4}, ChunkKeyEncoding{}, "c/3/4"},
		{"/a", []uint32{1, 2}, v2, "a/1.2"},
		{"/a", []uint32{1, 2}, v2slash, "a/1/2"},
		{"/a", []uint32{1, 2}, ChunkKeyEncoding{Name: "v2"}, "a/1.2"},
		{"/a", nil, v2, "a/0"},
		{"a/b", []uint32{4294967295}, slash, "a/b/c/4294967295"},
	} {
		require.Equal(t, c.want, ChunkKey(c.path, c.coords, c.enc), "%s %v %v", c.path, c.coords, c.enc)
	}
	require.Equal(t, "zarr.json", MetadataKey("/"))
	require.Equal(t, "zarr.json", MetadataKey(""))
	require.Equal(t, "group1/zarr.json", MetadataKey("/group1"))
	require.Equal(t, "a/b/zarr.json", MetadataKey("/a/b"))

	require.Equal(t, "", KeyPrefix("/"))
	require.Equal(t, "a/b", KeyPrefix("/a/b"))
	require.Equal(t, "/", NodePathFromPrefix(""))
	require.Equal(t, "/a/b", NodePathFromPrefix("a/b"))
	require.Equal(t, "/a/b", NodePathFromPrefix("a/b/"))
	for _, p := range []string{"/", "/a", "/group2/group3/group4"} {
		require.Equal(t, p, NodePathFromPrefix(KeyPrefix(p)))
	}
	require.Equal(t, KeyMetadata.String(), "metadata")
	require.Equal(t, KeyChunk.String(), "chunk")
	require.Equal(t, "KeyKind(9)", KeyKind(9).String())
}

func TestParseChunkKey(t *testing.T) {
	meta := func(ndim int, enc ChunkKeyEncoding) *ArrayMetadata {
		return &ArrayMetadata{Shape: make([]uint64, ndim), ChunkShape: make([]uint64, ndim), ChunkKeyEncoding: enc}
	}
	slash := DefaultChunkKeyEncoding
	dot := ChunkKeyEncoding{Name: "default", Separator: "."}
	v2 := ChunkKeyEncoding{Name: "v2", Separator: "."}
	for _, c := range []struct {
		key, path string
		m         *ArrayMetadata
		want      []uint32
	}{
		{"g/a/c/0/1", "/g/a", meta(2, slash), []uint32{0, 1}},
		{"g/a/c.0.1", "/g/a", meta(2, dot), []uint32{0, 1}},
		{"g/a/3.4", "/g/a", meta(2, v2), []uint32{3, 4}},
		{"g/a/3/4", "/g/a", meta(2, ChunkKeyEncoding{Name: "v2", Separator: "/"}), []uint32{3, 4}},
		{"g/a/0", "/g/a", meta(0, v2), []uint32{}},
		{"g/a/c", "/g/a", meta(0, slash), []uint32{}},
		{"c/7", "/", meta(1, slash), []uint32{7}},
		{"7", "/", meta(1, v2), []uint32{7}},
	} {
		got, err := ParseChunkKey(c.key, c.path, c.m)
		require.NoError(t, err, c.key)
		require.Equal(t, c.want, got, c.key)
		require.Equal(t, c.key, ChunkKey(c.path, got, c.m.ChunkKeyEncoding), "round trip")
	}
	for _, c := range []struct {
		key, path string
		m         *ArrayMetadata
		msg       string
	}{
		{"g/b/c/0/1", "/g/a", meta(2, slash), "not under array"},
		{"g/a/c/0", "/g/a", meta(2, slash), "1 chunk coordinates for 2-d"},
		{"g/a/c.0.1", "/g/a", meta(2, slash), "not a chunk key"},
		{"g/a/c/0/1", "/g/a", meta(2, dot), "not a chunk key"},
		{"g/a/c/0/x", "/g/a", meta(2, slash), "not a number"},
		{"g/a/1", "/g/a", meta(0, v2), "0-d"},
		{"g/a/1.x", "/g/a", meta(2, v2), "not a number"},
		{"g/a/c/0", "g/a", meta(1, slash), "does not start"},
		{"g/a/c/0", "/g/a", nil, "no array metadata"},
		{"g/a/c/0", "/g/a", meta(1, ChunkKeyEncoding{Name: "v3", Separator: "/"}), "unknown chunk key encoding"},
		{"g/a/c/0", "/g/a", meta(1, ChunkKeyEncoding{Name: "default", Separator: "-"}), "separator"},
	} {
		_, err := ParseChunkKey(c.key, c.path, c.m)
		require.ErrorIs(t, err, ErrInvalidKey, c.key)
		require.ErrorContains(t, err, c.msg, c.key)
	}
}

func TestValidateNodePath(t *testing.T) {
	for _, p := range []string{"/", "/a", "/group1/big_chunks", "/c/0"} {
		require.NoError(t, ValidateNodePath(p), p)
	}
	for _, p := range []string{"", "a", "a/b", "/a/", "//a", "/a//b", "/.", "/a/..", "/a/./b", "/\xff"} {
		err := ValidateNodePath(p)
		require.ErrorIs(t, err, ErrInvalidKey, p)
	}
}

func TestCheckChunkCoords(t *testing.T) {
	a := &ArrayMetadata{Shape: []uint64{10, 7}, ChunkShape: []uint64{5, 3}}
	require.Equal(t, []uint64{2, 3}, a.GridShape())
	require.NoError(t, a.CheckChunkCoords([]uint32{1, 2}))
	require.ErrorIs(t, a.CheckChunkCoords([]uint32{2, 0}), ErrInvalidKey)
	require.ErrorIs(t, a.CheckChunkCoords([]uint32{0, 3}), ErrInvalidKey)
	require.ErrorIs(t, a.CheckChunkCoords([]uint32{0}), ErrInvalidKey)
	s := &ArrayMetadata{Shape: []uint64{}, ChunkShape: []uint64{}}
	require.Empty(t, s.GridShape())
	require.NoError(t, s.CheckChunkCoords(nil))
	z := &ArrayMetadata{Shape: []uint64{0}, ChunkShape: []uint64{4}}
	require.Equal(t, []uint64{0}, z.GridShape())
	require.ErrorIs(t, z.CheckChunkCoords([]uint32{0}), ErrInvalidKey)
}
