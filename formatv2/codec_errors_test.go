package formatv2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"
	"github.com/klauspost/compress/zstd"

	"github.com/icerig/icerig/formatv2/internal/fbv2"
)

// codecDecodeAny decodes data as a file of type ft.
func codecDecodeAny(ft FileType, name string, data []byte) error {
	var err error
	switch ft {
	case FileTypeSnapshot:
		_, err = DecodeSnapshot(name, data)
	case FileTypeManifest:
		_, err = DecodeManifest(name, data)
	case FileTypeTransactionLog:
		_, err = DecodeTransactionLog(name, data)
	case FileTypeRepoInfo:
		_, err = DecodeRepoInfo(name, data)
	}
	return err
}

// codecFramed wraps a raw flatbuffer into a spec-1 file of type ft.
func codecFramed(t testing.TB, ft FileType, fb []byte) []byte {
	t.Helper()
	data, err := frame(1, ft, fb)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func codecWantCorrupt(t *testing.T, what, name string, err error, msg string) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), msg) {
		t.Errorf("%s: err = %v; want ErrCorrupt naming %q and saying %q", what, err, name, msg)
	}
}

func TestCodecDecompressionBomb(t *testing.T) {
	// A small zstd stream that expands past MaxDecompressedSize.
	var buf bytes.Buffer
	buf.Write(appendHeader(nil, 1, FileTypeManifest))
	w, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for i := 0; i < MaxDecompressedSize>>20+1; i++ {
		if _, err := w.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 1<<20 {
		t.Fatalf("bomb is %d bytes, expected a small file", buf.Len())
	}
	_, err = DecodeManifest("manifests/BOMB", buf.Bytes())
	codecWantCorrupt(t, "bomb", "manifests/BOMB", err, "exceeds")
}

func TestCodecCorruptFlatbuffers(t *testing.T) {
	// Garbage, too short, and random payloads.
	for _, ft := range []FileType{FileTypeSnapshot, FileTypeManifest, FileTypeTransactionLog} {
		for i, fb := range [][]byte{{}, {1, 2, 3}, bytes.Repeat([]byte{0xff}, 64), bytes.Repeat([]byte{0}, 64)} {
			name := "x/garbage"
			err := codecDecodeAny(ft, name, codecFramed(t, ft, fb))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), name) {
				t.Errorf("%s payload %d: err = %v, want ErrCorrupt", ft, i, err)
			}
		}
	}
}

// TestCodecMutatedPayloads truncates and flips bytes of every fixture
// flatbuffer: decoding never panics, and failures are ErrCorrupt naming the
// object.
func TestCodecMutatedPayloads(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(spec uint8, ft FileType, name string, fb []byte) {
		t.Helper()
		err := codecDecodeAny(ft, name, codecFramedSpec(t, spec, ft, fb))
		if err != nil && (!errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), name)) {
			t.Fatalf("%s: err = %v, want nil or ErrCorrupt naming the object", name, err)
		}
	}
	for _, c := range []struct{ repo, prefix string }{
		{"test-repo-v1", "snapshots"}, {"test-repo-v1", "manifests"}, {"test-repo-v1", "transactions"},
		{"test-repo-v2", "snapshots"}, {"test-repo-v2", "manifests"}, {"test-repo-v2", "transactions"},
		{"test-repo-v2", "overwritten"},
	} {
		files := codecFixtureObjects(t, c.repo, c.prefix)
		for _, f := range files[len(files)-2:] {
			h, _ := ParseHeader(f.key, f.data)
			fb := codecPayload(t, f)
			for n := 0; n < len(fb); n++ {
				check(h.SpecVersion, h.FileType, f.key, fb[:n])
			}
			for i := 0; i < len(fb); i++ {
				m := bytes.Clone(fb)
				m[i] ^= byte(1 + rng.IntN(255))
				check(h.SpecVersion, h.FileType, f.key, m)
			}
		}
	}
}

func TestCodecMissingRequiredFields(t *testing.T) {
	id := ObjectID{1, 2, 3}
	// A snapshot table with only an id.
	b := flatbuffers.NewBuilder(0)
	fbv2.SnapshotStart(b)
	fbv2.SnapshotAddId(b, createObjectID12(b, id))
	fb := finish(b, fbv2.SnapshotEnd(b))
	_, err := DecodeSnapshot("snapshots/NOFIELDS", codecFramed(t, FileTypeSnapshot, fb))
	codecWantCorrupt(t, "snapshot without message", "snapshots/NOFIELDS", err, "required field Snapshot.message")

	// An empty table for each root type.
	for _, ft := range []FileType{FileTypeSnapshot, FileTypeManifest, FileTypeTransactionLog} {
		b := flatbuffers.NewBuilder(0)
		b.StartObject(8)
		fb := finish(b, b.EndObject())
		err := codecDecodeAny(ft, "x/EMPTY", codecFramed(t, ft, fb))
		codecWantCorrupt(t, ft.String()+" without id", "x/EMPTY", err, ".id is missing")
	}

	// A manifest whose chunk ref has none of chunk_id, location, inline.
	b = flatbuffers.NewBuilder(0)
	index := createUint32Vector(b, []uint32{7})
	fbv2.ChunkRefStart(b)
	fbv2.ChunkRefAddIndex(b, index)
	fbv2.ChunkRefAddLength(b, 5)
	ref := fbv2.ChunkRefEnd(b)
	refs := createOffsetVector(b, []flatbuffers.UOffsetT{ref})
	fbv2.ArrayManifestStart(b)
	fbv2.ArrayManifestAddRefs(b, refs)
	fbv2.ArrayManifestAddNodeId(b, createObjectID8(b, NodeID{9}))
	arrays := createOffsetVector(b, []flatbuffers.UOffsetT{fbv2.ArrayManifestEnd(b)})
	fbv2.ManifestStart(b)
	fbv2.ManifestAddArrays(b, arrays)
	fbv2.ManifestAddId(b, createObjectID12(b, id))
	fb = finish(b, fbv2.ManifestEnd(b))
	_, err = DecodeManifest("manifests/NOKIND", codecFramed(t, FileTypeManifest, fb))
	codecWantCorrupt(t, "chunk ref without kind", "manifests/NOKIND", err, "none of chunk_id, location, inline")
}

// codecTestSnapshot is a small snapshot with one group and one array.
func codecTestSnapshot() *Snapshot {
	lon := "lon"
	parent := ObjectID{0xaa}
	return &Snapshot{
		SpecVersion: 1,
		ID:          ObjectID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
		ParentID:    &parent,
		Nodes: []Node{
			{ID: NodeID{1}, Path: "/", UserData: []byte(`{"zarr_format":3,"node_type":"group"}`), Type: NodeGroup},
			{ID: NodeID{2}, Path: "/temp", UserData: []byte(`{"zarr_format":3,"node_type":"array"}`), Type: NodeArray,
				Shape:          []DimensionShape{{100, 10}, {50, 25}},
				DimensionNames: []*string{nil, &lon},
				Manifests:      []ManifestRef{{ID: ObjectID{0x77}, Extents: []ChunkIndexRange{{0, 10}, {0, 2}}}}},
		},
		FlushedAt:     1_739_999_516_023_456,
		Message:       "häppy commit",
		Metadata:      []MetadataItem{{Name: "author", Value: []byte{0xa3, 'b', 'o', 'b'}}},
		ManifestFiles: []ManifestFileInfo{{ID: ObjectID{0x77}, SizeBytes: 1234, NumChunkRefs: 20}},
	}
}

func TestCodecCorruptSnapshotFields(t *testing.T) {
	s := codecTestSnapshot()
	data, err := EncodeSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	fb := codecPayload(t, codecFixtureFile{key: "s", data: data})

	// Unknown union type: find the node_data_type byte of the array node by
	// re-reading the table and patching it.
	root := fbv2.GetRootAsSnapshot(fb, 0)
	var node fbv2.NodeSnapshot
	root.Nodes(&node, 1)
	nt := node.Table()
	typeOff := int(nt.Pos) + int(nt.Offset(10))
	bad := bytes.Clone(fb)
	bad[typeOff] = 9
	_, err = DecodeSnapshot("snapshots/BADUNION", codecFramed(t, FileTypeSnapshot, bad))
	codecWantCorrupt(t, "unknown union", "snapshots/BADUNION", err, "unknown node_data type 9")

	// A vector length far beyond the buffer.
	rt := root.Table()
	vec := int(rt.Pos) + int(rt.Offset(8))
	vec += int(binary.LittleEndian.Uint32(fb[vec:]))
	bad = bytes.Clone(fb)
	binary.LittleEndian.PutUint32(bad[vec:], 0x7fffffff)
	_, err = DecodeSnapshot("snapshots/HUGEVEC", codecFramed(t, FileTypeSnapshot, bad))
	codecWantCorrupt(t, "huge vector", "snapshots/HUGEVEC", err, "does not fit")

	// Invalid UTF-8 in the path of node 1.
	bad = bytes.Clone(fb)
	path := node.Path()
	i := bytes.Index(bad, path)
	if i < 0 {
		t.Fatal("path not found")
	}
	bad[i+1] = 0xff
	_, err = DecodeSnapshot("snapshots/BADUTF8", codecFramed(t, FileTypeSnapshot, bad))
	codecWantCorrupt(t, "invalid UTF-8", "snapshots/BADUTF8", err, "not valid UTF-8")
}

// TestCodecDecodeBudget builds a flatbuffer in which many entries point at
// one large byte vector: decoding would copy it once per entry, so the
// decoder must stop at its output budget instead.
func TestCodecDecodeBudget(t *testing.T) {
	b := flatbuffers.NewBuilder(0)
	big := b.CreateByteVector(make([]byte, 1<<20))
	path := b.CreateString("/g")
	fbv2.GroupNodeDataStart(b)
	group := fbv2.GroupNodeDataEnd(b)
	fbv2.NodeSnapshotStart(b)
	fbv2.NodeSnapshotAddNodeData(b, group)
	fbv2.NodeSnapshotAddUserData(b, big)
	fbv2.NodeSnapshotAddPath(b, path)
	fbv2.NodeSnapshotAddId(b, createObjectID8(b, NodeID{1}))
	fbv2.NodeSnapshotAddNodeDataType(b, fbv2.NodeDataGroup)
	node := fbv2.NodeSnapshotEnd(b)
	offs := make([]flatbuffers.UOffsetT, 200)
	for i := range offs {
		offs[i] = node
	}
	nodes := createOffsetVector(b, offs)
	msg := b.CreateString("")
	meta := createOffsetVector(b, nil)
	fbv2.SnapshotStartManifestFilesVector(b, 0)
	files := b.EndVector(0)
	fbv2.SnapshotStart(b)
	fbv2.SnapshotAddManifestFiles(b, files)
	fbv2.SnapshotAddMetadata(b, meta)
	fbv2.SnapshotAddMessage(b, msg)
	fbv2.SnapshotAddNodes(b, nodes)
	fbv2.SnapshotAddId(b, createObjectID12(b, ObjectID{1}))
	fb := finish(b, fbv2.SnapshotEnd(b))
	_, err := DecodeSnapshot("snapshots/AMPLIFIED", codecFramed(t, FileTypeSnapshot, fb))
	codecWantCorrupt(t, "amplification", "snapshots/AMPLIFIED", err, "exceeds the limit")
}
