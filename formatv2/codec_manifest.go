package formatv2

import (
	"bytes"
	"slices"
	"unicode/utf8"
	"unsafe"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/icerig/icerig/formatv2/internal/fbv2"
)

// Field numbers (schema order) of the manifest tables.
const (
	fManifestArrays               = 1
	fManifestLocationDictionary   = 2
	fManifestCompressionAlgorithm = 3
	fManifestExtra                = 4

	fArrayManifestRefs  = 1
	fArrayManifestExtra = 2

	fChunkRefIndex              = 0
	fChunkRefInline             = 1
	fChunkRefLocation           = 5
	fChunkRefChecksumETag       = 6
	fChunkRefCompressedLocation = 8
	fChunkRefExtra              = 9
)

// EncodeManifest returns the manifest file for m at spec m.SpecVersion (1
// or 2; there is no default). At spec 1 the file is byte for byte what
// formatv1 writes, so the spec-2 fields (LocationDictionary, Extra,
// CompressedLocation, a CompressionAlgorithm other than
// LocationCompressionNone) must be unset. At spec 2 the compression
// algorithm is always recorded and the optional fields that are non-nil are
// written.
//
// Arrays are written sorted by node id and each array's references sorted
// by chunk index (lexicographic), the orders upstream readers binary-search
// on; m itself is not modified. A reference's Kind decides which fields are
// written, exactly as upstream does: inline writes the bytes (an empty
// Inline still marks the reference inline); native writes chunk id, offset
// and length; virtual writes location (when set, or when there is no
// compressed location), compressed location (when non-nil), offset, length
// and the checksum fields that are set (non-empty ETag, non-zero
// last-modified). Duplicate node ids or chunk indices, unknown kinds and
// invalid UTF-8 are rejected.
func EncodeManifest(m *Manifest) ([]byte, error) {
	if m == nil {
		return nil, encodeErr("manifest", ObjectID{}, "nil manifest")
	}
	if err := checkEncodeSpec("manifest", m.ID, m.SpecVersion); err != nil {
		return nil, err
	}
	fb, err := buildManifest(m)
	if err != nil {
		return nil, err
	}
	return frame(m.SpecVersion, FileTypeManifest, fb)
}

func buildManifest(m *Manifest) ([]byte, error) {
	fail := func(format string, args ...any) error {
		return encodeErr("manifest", m.ID, format, args...)
	}
	v2 := m.SpecVersion == spec2
	if !v2 && (m.LocationDictionary != nil || m.Extra != nil || m.CompressionAlgorithm != LocationCompressionNone) {
		return nil, fail("spec-1 manifests have no location dictionary, compression algorithm or extra field")
	}
	arrays := slices.Clone(m.Arrays)
	slices.SortStableFunc(arrays, func(a, b ArrayManifest) int { return bytes.Compare(a.NodeID[:], b.NodeID[:]) })
	for i := range arrays {
		if i > 0 && arrays[i].NodeID == arrays[i-1].NodeID {
			return nil, fail("array %s listed twice", arrays[i].NodeID)
		}
		if !v2 && arrays[i].Extra != nil {
			return nil, fail("array %s: spec-1 manifests have no extra field", arrays[i].NodeID)
		}
		refs := slices.Clone(arrays[i].Refs)
		slices.SortStableFunc(refs, func(a, b ChunkRef) int { return slices.Compare(a.Index, b.Index) })
		for j, ref := range refs {
			if j > 0 && slices.Equal(ref.Index, refs[j-1].Index) {
				return nil, fail("array %s: chunk %v listed twice", arrays[i].NodeID, ref.Index)
			}
			if !v2 && (ref.Extra != nil || ref.CompressedLocation != nil) {
				return nil, fail("array %s: chunk %v: spec-1 chunk references have no compressed location or extra field", arrays[i].NodeID, ref.Index)
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
		extra := createOptBytes(b, a.Extra)
		fbv2.ArrayManifestStart(b)
		if a.Extra != nil {
			fbv2.ArrayManifestAddExtra(b, extra)
		}
		fbv2.ArrayManifestAddRefs(b, refs)
		fbv2.ArrayManifestAddNodeId(b, createObjectID8(b, a.NodeID))
		arrayOffs[i] = fbv2.ArrayManifestEnd(b)
	}
	arraysVec := createOffsetVector(b, arrayOffs)
	dict := createOptBytes(b, m.LocationDictionary)
	extra := createOptBytes(b, m.Extra)
	fbv2.ManifestStart(b)
	if m.Extra != nil {
		fbv2.ManifestAddExtra(b, extra)
	}
	if m.LocationDictionary != nil {
		fbv2.ManifestAddLocationDictionary(b, dict)
	}
	fbv2.ManifestAddArrays(b, arraysVec)
	fbv2.ManifestAddId(b, createObjectID12(b, m.ID))
	if v2 {
		fbv2.ManifestAddCompressionAlgorithm(b, m.CompressionAlgorithm)
	}
	return finish(b, fbv2.ManifestEnd(b)), nil
}

// buildChunkRef writes one ChunkRef table. The order of builder calls
// (index, then payload vectors/strings, then the fields from the widest
// scalar down) mirrors upstream, so the bytes match what it writes.
func buildChunkRef(b *flatbuffers.Builder, ref *ChunkRef) flatbuffers.UOffsetT {
	index := createUint32Vector(b, ref.Index)
	switch ref.Kind {
	case ChunkInline:
		data := b.CreateByteVector(nonNil(ref.Inline))
		extra := createOptBytes(b, ref.Extra)
		fbv2.ChunkRefStart(b)
		if ref.Extra != nil {
			fbv2.ChunkRefAddExtra(b, extra)
		}
		fbv2.ChunkRefAddInline(b, data)
		fbv2.ChunkRefAddIndex(b, index)
		return fbv2.ChunkRefEnd(b)
	case ChunkVirtual:
		withLocation := ref.Location != "" || ref.CompressedLocation == nil
		var location flatbuffers.UOffsetT
		if withLocation {
			location = b.CreateString(ref.Location)
		}
		compressed := createOptBytes(b, ref.CompressedLocation)
		var etag flatbuffers.UOffsetT
		if ref.ChecksumETag != "" {
			etag = b.CreateString(ref.ChecksumETag)
		}
		extra := createOptBytes(b, ref.Extra)
		fbv2.ChunkRefStart(b)
		fbv2.ChunkRefAddLength(b, ref.Length)
		fbv2.ChunkRefAddOffset(b, ref.Offset)
		if ref.Extra != nil {
			fbv2.ChunkRefAddExtra(b, extra)
		}
		if ref.CompressedLocation != nil {
			fbv2.ChunkRefAddCompressedLocation(b, compressed)
		}
		fbv2.ChunkRefAddChecksumLastModified(b, ref.ChecksumLastModified)
		if ref.ChecksumETag != "" {
			fbv2.ChunkRefAddChecksumEtag(b, etag)
		}
		if withLocation {
			fbv2.ChunkRefAddLocation(b, location)
		}
		fbv2.ChunkRefAddIndex(b, index)
		return fbv2.ChunkRefEnd(b)
	default: // ChunkNative; kinds were checked by the caller.
		extra := createOptBytes(b, ref.Extra)
		fbv2.ChunkRefStart(b)
		fbv2.ChunkRefAddLength(b, ref.Length)
		fbv2.ChunkRefAddOffset(b, ref.Offset)
		if ref.Extra != nil {
			fbv2.ChunkRefAddExtra(b, extra)
		}
		fbv2.ChunkRefAddChunkId(b, createObjectID12(b, ref.ChunkID))
		fbv2.ChunkRefAddIndex(b, index)
		return fbv2.ChunkRefEnd(b)
	}
}

// DecodeManifest decodes a spec-1 or spec-2 manifest file and sets
// SpecVersion from its header. name is the object key and appears in every
// error. Errors wrap ErrUnsupportedSpec or ErrCorrupt.
//
// A reference's kind is decided as upstream decides it: chunk_id present =>
// native, else location or compressed_location present => virtual, else
// inline present => inline, else the file is corrupt. Only the fields of
// that kind (and Extra) are filled in. CompressionAlgorithm is the recorded
// value; when the file does not record one it is the schema default
// (LocationCompressionZstdDict) at spec 2 and LocationCompressionNone at
// spec 1, which predates the field.
func DecodeManifest(name string, data []byte) (*Manifest, error) {
	spec, fb, err := unframe(name, data, FileTypeManifest)
	if err != nil {
		return nil, err
	}
	r := newFBReader(name, fb)
	var m *Manifest
	err = r.guard(func() error {
		var err error
		m, err = r.manifest(spec)
		return err
	})
	if err != nil {
		return nil, err
	}
	m.SpecVersion = spec
	return m, nil
}

func (r *fbReader) manifest(spec uint8) (*Manifest, error) {
	root := fbv2.GetRootAsManifest(r.buf, 0)
	t := root.Table()
	m := &Manifest{}
	var id12 fbv2.ObjectId12
	if root.Id(&id12) == nil {
		return nil, r.missing("Manifest.id")
	}
	m.ID = objectIDAt(id12.Table())
	var err error
	if m.LocationDictionary, err = r.optBytes(has(t, fManifestLocationDictionary), root.LocationDictionaryBytes()); err != nil {
		return nil, err
	}
	if m.Extra, err = r.optBytes(has(t, fManifestExtra), root.ExtraBytes()); err != nil {
		return nil, err
	}
	if has(t, fManifestCompressionAlgorithm) || spec >= spec2 {
		m.CompressionAlgorithm = root.CompressionAlgorithm()
	}
	if !has(t, fManifestArrays) {
		return nil, r.missing("Manifest.arrays")
	}
	n, err := r.vec("Manifest.arrays", root.ArraysLength(), 4, int(unsafe.Sizeof(ArrayManifest{})))
	if err != nil {
		return nil, err
	}
	if n > 0 {
		m.Arrays = make([]ArrayManifest, n)
	}
	var am fbv2.ArrayManifest
	var id8 fbv2.ObjectId8
	var cr fbv2.ChunkRef
	for i := range m.Arrays {
		root.Arrays(&am, i)
		if am.NodeId(&id8) == nil {
			return nil, r.missing("ArrayManifest.node_id")
		}
		m.Arrays[i].NodeID = nodeIDAt(id8.Table())
		if m.Arrays[i].Extra, err = r.optBytes(has(am.Table(), fArrayManifestExtra), am.ExtraBytes()); err != nil {
			return nil, err
		}
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

func (r *fbReader) chunkRef(cr *fbv2.ChunkRef, ref *ChunkRef) error {
	t := cr.Table()
	if !has(t, fChunkRefIndex) {
		return r.missing("ChunkRef.index")
	}
	var err error
	if ref.Index, err = r.readUint32s("ChunkRef.index", cr.IndexLength(), cr.Index); err != nil {
		return err
	}
	if ref.Extra, err = r.optBytes(has(t, fChunkRefExtra), cr.ExtraBytes()); err != nil {
		return err
	}
	var id12 fbv2.ObjectId12
	switch {
	case cr.ChunkId(&id12) != nil:
		ref.Kind = ChunkNative
		ref.ChunkID = objectIDAt(id12.Table())
		ref.Offset, ref.Length = cr.Offset(), cr.Length()
	case has(t, fChunkRefLocation) || has(t, fChunkRefCompressedLocation):
		ref.Kind = ChunkVirtual
		if ref.Location, err = r.str("ChunkRef.location", cr.Location()); err != nil {
			return err
		}
		if ref.CompressedLocation, err = r.optBytes(has(t, fChunkRefCompressedLocation), cr.CompressedLocationBytes()); err != nil {
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
