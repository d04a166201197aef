package formatv1

import (
	"bytes"
	"slices"
	"unicode/utf8"
	"unsafe"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/icerig/icerig/formatv1/internal/fbv1"
)

// Field numbers (schema order) of the manifest tables.
const (
	fManifestArrays = 1

	fArrayManifestRefs = 1

	fChunkRefIndex        = 0
	fChunkRefInline       = 1
	fChunkRefLocation     = 5
	fChunkRefChecksumETag = 6
)

// EncodeManifest returns the spec-1 manifest file for m.
//
// Arrays are written sorted by node id and each array's references sorted
// by chunk index (lexicographic), the orders upstream readers binary-search
// on; m itself is not modified. A reference's Kind decides which fields are
// written, exactly as upstream does: inline writes the bytes (an empty
// Inline still marks the reference inline); native writes chunk id, offset
// and length; virtual writes location, offset, length and the checksum
// fields that are set (non-empty ETag, non-zero last-modified). Duplicate
// node ids or chunk indices, unknown kinds and invalid UTF-8 are rejected.
func EncodeManifest(m *Manifest) ([]byte, error) {
	if m == nil {
		return nil, encodeErr("manifest", ObjectID{}, "nil manifest")
	}
	fb, err := buildManifest(m)
	if err != nil {
		return nil, err
	}
	return frame(FileTypeManifest, fb)
}

func buildManifest(m *Manifest) ([]byte, error) {
	fail := func(format string, args ...any) error {
		return encodeErr("manifest", m.ID, format, args...)
	}
	arrays := slices.Clone(m.Arrays)
	slices.SortStableFunc(arrays, func(a, b ArrayManifest) int { return bytes.Compare(a.NodeID[:], b.NodeID[:]) })
	for i := range arrays {
		if i > 0 && arrays[i].NodeID == arrays[i-1].NodeID {
			return nil, fail("array %s listed twice", arrays[i].NodeID)
		}
		refs := slices.Clone(arrays[i].Refs)
		slices.SortStableFunc(refs, func(a, b ChunkRef) int { return slices.Compare(a.Index, b.Index) })
		for j, ref := range refs {
			if j > 0 && slices.Equal(ref.Index, refs[j-1].Index) {
				return nil, fail("array %s: chunk %v listed twice", arrays[i].NodeID, ref.Index)
			}
			switch ref.Kind {
			case ChunkInline, ChunkNative:
			case ChunkVirtual:
				if !utf8.ValidString(ref.Location) || !utf8.ValidString(ref.ChecksumETag) {
					return nil, fail("array %s: chunk %v: location or etag is not valid UTF-8", arrays[i].NodeID, ref.Index)
				}
			default:
				return nil, fail("array %s: chunk %v has unknown kind %d", arrays[i].NodeID, ref.Index, ref.Kind)
			}
		}
		arrays[i].Refs = refs
	}

	b := flatbuffers.NewBuilder(1 << 16)
	arrayOffs := make([]flatbuffers.UOffsetT, len(arrays))
	refOffs := []flatbuffers.UOffsetT{}
	for i, a := range arrays {
		refOffs = refOffs[:0]
		for j := range a.Refs {
			refOffs = append(refOffs, buildChunkRef(b, &a.Refs[j]))
		}
		refs := createOffsetVector(b, refOffs)
		fbv1.ArrayManifestStart(b)
		fbv1.ArrayManifestAddRefs(b, refs)
		fbv1.ArrayManifestAddNodeId(b, createObjectID8(b, a.NodeID))
		arrayOffs[i] = fbv1.ArrayManifestEnd(b)
	}
	arraysVec := createOffsetVector(b, arrayOffs)
	fbv1.ManifestStart(b)
	fbv1.ManifestAddArrays(b, arraysVec)
	fbv1.ManifestAddId(b, createObjectID12(b, m.ID))
	return finish(b, fbv1.ManifestEnd(b)), nil
}

// buildChunkRef writes one ChunkRef table. The order of builder calls
// (index, then payload vectors/strings, then the fields from the widest
// scalar down) mirrors upstream, so the bytes match what it writes.
func buildChunkRef(b *flatbuffers.Builder, ref *ChunkRef) flatbuffers.UOffsetT {
	index := createUint32Vector(b, ref.Index)
	switch ref.Kind {
	case ChunkInline:
		data := b.CreateByteVector(nonNil(ref.Inline))
		fbv1.ChunkRefStart(b)
		fbv1.ChunkRefAddInline(b, data)
		fbv1.ChunkRefAddIndex(b, index)
		return fbv1.ChunkRefEnd(b)
	case ChunkVirtual:
		location := b.CreateString(ref.Location)
		var etag flatbuffers.UOffsetT
		if ref.ChecksumETag != "" {
			etag = b.CreateString(ref.ChecksumETag)
		}
		fbv1.ChunkRefStart(b)
		fbv1.ChunkRefAddLength(b, ref.Length)
		fbv1.ChunkRefAddOffset(b, ref.Offset)
		fbv1.ChunkRefAddChecksumLastModified(b, ref.ChecksumLastModified)
		if ref.ChecksumETag != "" {
			fbv1.ChunkRefAddChecksumEtag(b, etag)
		}
		fbv1.ChunkRefAddLocation(b, location)
		fbv1.ChunkRefAddIndex(b, index)
		return fbv1.ChunkRefEnd(b)
	default: // ChunkNative; kinds were checked by the caller.
		fbv1.ChunkRefStart(b)
		fbv1.ChunkRefAddLength(b, ref.Length)
		fbv1.ChunkRefAddOffset(b, ref.Offset)
		fbv1.ChunkRefAddChunkId(b, createObjectID12(b, ref.ChunkID))
		fbv1.ChunkRefAddIndex(b, index)
		return fbv1.ChunkRefEnd(b)
	}
}

// DecodeManifest decodes a spec-1 manifest file. name is the object key and
// appears in every error. Errors wrap ErrUnsupportedSpec or ErrCorrupt.
//
// A reference's kind is decided as upstream decides it: chunk_id present =>
// native, else location present => virtual, else inline present => inline,
// else the file is corrupt. Only the fields of that kind are filled in.
func DecodeManifest(name string, data []byte) (*Manifest, error) {
	fb, err := unframe(name, data, FileTypeManifest)
	if err != nil {
		return nil, err
	}
	r := newFBReader(name, fb)
	var m *Manifest
	err = r.guard(func() error {
		var err error
		m, err = r.manifest()
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (r *fbReader) manifest() (*Manifest, error) {
	root := fbv1.GetRootAsManifest(r.buf, 0)
	m := &Manifest{}
	var id12 fbv1.ObjectId12
	if root.Id(&id12) == nil {
		return nil, r.missing("Manifest.id")
	}
	m.ID = objectIDAt(id12.Table())
	if !has(root.Table(), fManifestArrays) {
		return nil, r.missing("Manifest.arrays")
	}
	n, err := r.vec("Manifest.arrays", root.ArraysLength(), 4, int(unsafe.Sizeof(ArrayManifest{})))
	if err != nil {
		return nil, err
	}
	if n > 0 {
		m.Arrays = make([]ArrayManifest, n)
	}
	var am fbv1.ArrayManifest
	var id8 fbv1.ObjectId8
	var cr fbv1.ChunkRef
	for i := range m.Arrays {
		root.Arrays(&am, i)
		if am.NodeId(&id8) == nil {
			return nil, r.missing("ArrayManifest.node_id")
		}
		m.Arrays[i].NodeID = nodeIDAt(id8.Table())
		if !has(am.Table(), fArrayManifestRefs) {
			return nil, r.missing("ArrayManifest.refs")
		}
		cnt, err := r.vec("ArrayManifest.refs", am.RefsLength(), 4, int(unsafe.Sizeof(ChunkRef{})))
		if err != nil {
			return nil, err
		}
		if cnt == 0 {
			continue
		}
		refs := make([]ChunkRef, cnt)
		for j := range refs {
			am.Refs(&cr, j)
			if err := r.chunkRef(&cr, &refs[j]); err != nil {
				return nil, err
			}
		}
		m.Arrays[i].Refs = refs
	}
	return m, nil
}

func (r *fbReader) chunkRef(cr *fbv1.ChunkRef, ref *ChunkRef) error {
	t := cr.Table()
	if !has(t, fChunkRefIndex) {
		return r.missing("ChunkRef.index")
	}
	var err error
	if ref.Index, err = r.readUint32s("ChunkRef.index", cr.IndexLength(), cr.Index); err != nil {
		return err
	}
	var id12 fbv1.ObjectId12
	switch {
	case cr.ChunkId(&id12) != nil:
		ref.Kind = ChunkNative
		ref.ChunkID = objectIDAt(id12.Table())
		ref.Offset, ref.Length = cr.Offset(), cr.Length()
	case has(t, fChunkRefLocation):
		ref.Kind = ChunkVirtual
		if ref.Location, err = r.str("ChunkRef.location", cr.Location()); err != nil {
			return err
		}
		ref.Offset, ref.Length = cr.Offset(), cr.Length()
		if has(t, fChunkRefChecksumETag) {
			if ref.ChecksumETag, err = r.str("ChunkRef.checksum_etag", cr.ChecksumEtag()); err != nil {
				return err
			}
		}
		ref.ChecksumLastModified = cr.ChecksumLastModified()
	case has(t, fChunkRefInline):
		ref.Kind = ChunkInline
		if ref.Inline, err = r.bytes(cr.InlineBytes()); err != nil {
			return err
		}
	default:
		return corruptf(r.name, "chunk reference %v has none of chunk_id, location, inline", ref.Index)
	}
	return nil
}
