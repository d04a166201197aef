package zarr

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/internal/testfixtures"
)

// bigChunksMeta is group1/big_chunks of the fixture repositories.
func bigChunksMeta() *ArrayMetadata {
	return &ArrayMetadata{
		Shape:            []uint64{10, 10},
		ChunkShape:       []uint64{5, 5},
		DataType:         Float32,
		FillValue:        FloatFill(math.NaN()),
		ChunkKeyEncoding: DefaultChunkKeyEncoding,
		Codecs:           DefaultCodecs(),
	}
}

// fixtureChunks reads every chunk object of one fixture repository.
func fixtureChunks(t testing.TB, repo string) map[string][]byte {
	t.Helper()
	dir := filepath.Join(testfixtures.Path(t, repo), "chunks")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err, dir)
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = b
	}
	return out
}

func TestFixtureChunksDecodeTo42(t *testing.T) {
	for _, repo := range []string{"test-repo-v1", "test-repo-v2", "test-repo-v2-migrated"} {
		t.Run(repo, func(t *testing.T) {
			chunks := fixtureChunks(t, repo)
			require.GreaterOrEqual(t, len(chunks), 3, "big_chunks has 3 native chunks")
			for name, data := range chunks {
				v, err := DecodeChunk(bigChunksMeta(), data)
				require.NoError(t, err, name)
				require.Equal(t, slices.Repeat([]float32{42}, 25), v, name)
			}
		})
	}
}

func TestFixtureChunksReadAsArray(t *testing.T) {
	// big_chunks on main: c/0/0 is virtual (unreachable), the other three
	// are native chunks of 42; reading with c/0/0 missing gives NaN there.
	var native []byte
	for _, b := range fixtureChunks(t, "test-repo-v1") {
		native = b
		break
	}
	got, err := ReadArray(bigChunksMeta(), func(c []uint32) ([]byte, bool, error) {
		if c[0] == 0 && c[1] == 0 {
			return nil, false, nil
		}
		return native, true, nil
	})
	require.NoError(t, err)
	vals := got.([]float32)
	require.Len(t, vals, 100)
	for i, v := range vals {
		r, c := i/10, i%10
		if r < 5 && c < 5 {
			require.True(t, math.IsNaN(float64(v)), "element %d,%d", r, c)
		} else {
			require.Equal(t, float32(42), v, "element %d,%d", r, c)
		}
	}
}

func TestFixtureSplitRepoChunksDecode(t *testing.T) {
	meta := bigChunksMeta()
	meta.ChunkShape = []uint64{3, 3}
	chunks := fixtureChunks(t, "split-repo-v1")
	require.NotEmpty(t, chunks)
	for name, data := range chunks {
		v, err := DecodeChunk(meta, data)
		require.NoError(t, err, name)
		require.Len(t, v, 9, name)
	}
}

// fixtureMetadataDocs pulls the zarr.json documents out of a fixture
// snapshot: the snapshot is a 39-byte header plus a zstd-compressed
// flatbuffer, in which each document is a byte vector (u32 length, bytes).
func fixtureMetadataDocs(t testing.TB, snapshot string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(snapshot)
	require.NoError(t, err)
	require.Greater(t, len(raw), 39, snapshot)
	dec, err := zstd.NewReader(nil)
	require.NoError(t, err)
	defer dec.Close()
	fb, err := dec.DecodeAll(raw[39:], nil)
	require.NoError(t, err, snapshot)
	var docs [][]byte
	for i := 0; i+4 < len(fb); i++ {
		if fb[i+4] != '{' {
			continue
		}
		n := int(binary.LittleEndian.Uint32(fb[i:]))
		if n < 2 || i+4+n > len(fb) {
			continue
		}
		doc := fb[i+4 : i+4+n]
		if json.Valid(doc) && bytes.Contains(doc, []byte(`"zarr_format"`)) {
			docs = append(docs, doc)
		}
	}
	return docs
}

func TestFixtureMetadataDocuments(t *testing.T) {
	dir := testfixtures.Dir(t)
	snapshots, err := filepath.Glob(filepath.Join(dir, "*", "snapshots", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, snapshots, "no snapshots under %s", dir)
	var groups, arrays int
	var sawDimNames bool
	for _, snap := range snapshots {
		for _, doc := range fixtureMetadataDocs(t, snap) {
			m, err := ParseMetadata(snap, doc)
			require.NoError(t, err, "%s\n%s", snap, doc)
			require.Equal(t, doc, m.Bytes(), "unchanged document re-encodes byte for byte")
			var attrs map[string]any
			require.NoError(t, json.Unmarshal(m.Attributes, &attrs))
			if m.IsGroup() {
				groups++
				if len(attrs) > 0 {
					require.Equal(t, "is a nice group", attrs["this"])
				}
				if bytes.Contains(doc, []byte(`"consolidated_metadata": null`)) {
					v, ok := m.Field("consolidated_metadata")
					require.True(t, ok, "unknown member kept")
					require.Equal(t, "null", string(v))
				}
				same, err := m.WithAttributes(m.Attributes)
				require.NoError(t, err)
				require.Equal(t, string(doc), string(same.Bytes()))
				if _, ok := m.Field("consolidated_metadata"); ok {
					fresh, err := NewGroup(m.Attributes)
					require.NoError(t, err)
					require.Equal(t, string(doc), string(fresh), "NewGroup writes the upstream layout")
				}
				continue
			}
			arrays++
			a := m.Array
			require.Equal(t, "is a nice array", attrs["this"])
			require.Contains(t, []DataType{Float32, Int8}, a.DataType)
			require.NoError(t, a.Decodable())
			require.Equal(t, DefaultChunkKeyEncoding, a.ChunkKeyEncoding)
			if a.DataType == Float32 {
				require.True(t, math.IsNaN(a.FillValue.Float64()))
			} else {
				require.Equal(t, IntFill(8), a.FillValue)
			}
			if a.DimensionNames != nil {
				sawDimNames = true
				require.Len(t, a.DimensionNames, 2)
				require.Nil(t, a.DimensionNames[0])
				require.Equal(t, "longitude", *a.DimensionNames[1])
			}
			// Rewriting the shape with its own value reproduces the
			// upstream layout exactly.
			same, err := m.WithShape(a.Shape)
			require.NoError(t, err)
			require.Equal(t, string(doc), string(same.Bytes()))
			same, err = m.WithAttributes(m.Attributes)
			require.NoError(t, err)
			require.Equal(t, string(doc), string(same.Bytes()))
			// NewArray writes the same layout zarr-python does.
			fresh, err := NewArray(a)
			require.NoError(t, err)
			require.Equal(t, string(doc), string(fresh))
			// A real resize changes only the shape member.
			grown := slices.Clone(a.Shape)
			grown[0] += 7
			resized, err := m.WithShape(grown)
			require.NoError(t, err)
			require.Equal(t, grown, resized.Array.Shape)
			requireOnlyChanged(t, m, resized, "shape")
		}
	}
	require.Positive(t, groups)
	require.Positive(t, arrays)
	require.True(t, sawDimNames, "split-repo-v1 has an array with dimension names")
}

// requireOnlyChanged asserts that b has the same members as a, in the same
// order, with identical bytes, except for the named ones.
func requireOnlyChanged(t testing.TB, a, b *Metadata, changed ...string) {
	t.Helper()
	fa, fb := a.Fields(), b.Fields()
	require.Len(t, fb, len(fa))
	for i := range fa {
		require.Equal(t, fa[i].Key, fb[i].Key, "member order")
		if slices.Contains(changed, fa[i].Key) {
			require.NotEqual(t, string(fa[i].Value), string(fb[i].Value), "member %s should change", fa[i].Key)
			continue
		}
		require.Equal(t, string(fa[i].Value), string(fb[i].Value), "member %s", fa[i].Key)
	}
}
