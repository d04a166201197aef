package formatv2

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"unicode/utf8"
	"unsafe"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/icerig/icerig/formatv2/internal/fbv2"
)

// Field numbers (schema order) of the snapshot tables, for presence checks.
// A union field takes two slots (its type tag, then its value).
const (
	fSnapshotNodes           = 2
	fSnapshotMessage         = 4
	fSnapshotMetadata        = 5
	fSnapshotManifestFiles   = 6
	fSnapshotManifestFilesV2 = 7
	fSnapshotExtra           = 8

	fNodePath     = 1
	fNodeUserData = 2
	fNodeExtra    = 5

	fArrayShape          = 0
	fArrayDimensionNames = 1
	fArrayManifests      = 2
	fArrayShapeV2        = 3

	fManifestRefExtents = 1

	fMetadataName  = 0
	fMetadataValue = 1

	fDimensionName = 0

	fManifestFileV2Extra = 3
)

// EncodeSnapshot returns the snapshot file for s at spec s.SpecVersion:
// header, then the zstd-compressed flatbuffer.
//
// s.SpecVersion must be 1 or 2; there is no default. At spec 1 the file is
// byte for byte what formatv1 writes: parent id, manifest_files, spec-1
// shapes, no spec-2 fields (so ShapeV2 and every Extra must be nil). At
// spec 2 the file has no parent id (ParentID must be nil), an empty
// manifest_files plus manifest_files_v2, empty spec-1 shapes plus shape_v2
// (so Shape must be empty), and the Extra fields that are non-nil. Metadata
// values are written as given at either spec.
//
// The encoding is canonical and deterministic: nodes are written sorted by
// path, metadata by name and manifest files by id (the orders upstream
// readers rely on; s itself is not modified), and the builder calls follow
// upstream's order, so equal snapshots give equal bytes. Duplicate paths,
// metadata names or manifest file ids, invalid UTF-8 text, unknown node
// types and array fields on a group are rejected.
func EncodeSnapshot(s *Snapshot) ([]byte, error) {
	if s == nil {
		return nil, encodeErr("snapshot", ObjectID{}, "nil snapshot")
	}
	if err := checkEncodeSpec("snapshot", s.ID, s.SpecVersion); err != nil {
		return nil, err
	}
	fb, err := buildSnapshot(s)
	if err != nil {
		return nil, err
	}
	return frame(s.SpecVersion, FileTypeSnapshot, fb)
}

func buildSnapshot(s *Snapshot) ([]byte, error) {
	fail := func(format string, args ...any) error {
		return encodeErr("snapshot", s.ID, format, args...)
	}
	v2 := s.SpecVersion == spec2
	if !utf8.ValidString(s.Message) {
		return nil, fail("message is not valid UTF-8")
	}
	if v2 && s.ParentID != nil {
		return nil, fail("spec-2 snapshots carry no parent id (parentage lives in the repo object), got parent %s", *s.ParentID)
	}
	if !v2 && s.Extra != nil {
		return nil, fail("spec-1 snapshots have no extra field")
	}

	files := slices.Clone(s.ManifestFiles)
	slices.SortStableFunc(files, func(a, b ManifestFileInfo) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	for i := range files {
		if i > 0 && files[i].ID == files[i-1].ID {
			return nil, fail("manifest file %s listed twice", files[i].ID)
		}
		if !v2 && files[i].Extra != nil {
			return nil, fail("manifest file %s: spec-1 manifest file entries have no extra field", files[i].ID)
		}
	}
	meta := slices.Clone(s.Metadata)
	slices.SortStableFunc(meta, func(a, b MetadataItem) int { return cmp.Compare(a.Name, b.Name) })
	for i, m := range meta {
		if !utf8.ValidString(m.Name) {
			return nil, fail("metadata name %q is not valid UTF-8", m.Name)
		}
		if i > 0 && m.Name == meta[i-1].Name {
			return nil, fail("metadata name %q listed twice", m.Name)
		}
	}
	nodes := make([]*Node, len(s.Nodes))
	for i := range s.Nodes {
		nodes[i] = &s.Nodes[i]
	}
	slices.SortStableFunc(nodes, func(a, b *Node) int { return cmp.Compare(a.Path, b.Path) })
	for i, n := range nodes {
		if i > 0 && n.Path == nodes[i-1].Path {
			return nil, fail("node path %q listed twice", n.Path)
		}
		if err := checkNode(n, s.SpecVersion); err != nil {
			return nil, fail("%v", err)
		}
	}

	b := flatbuffers.NewBuilder(4096)

	var filesV2Vec flatbuffers.UOffsetT
	if v2 {
		offs := make([]flatbuffers.UOffsetT, len(files))
		for i, f := range files {
			extra := createOptBytes(b, f.Extra)
			fbv2.ManifestFileInfoV2Start(b)
			fbv2.ManifestFileInfoV2AddSizeBytes(b, f.SizeBytes)
			if f.Extra != nil {
				fbv2.ManifestFileInfoV2AddExtra(b, extra)
			}
			fbv2.ManifestFileInfoV2AddNumChunkRefs(b, f.NumChunkRefs)
			fbv2.ManifestFileInfoV2AddId(b, createObjectID12(b, f.ID))
			offs[i] = fbv2.ManifestFileInfoV2End(b)
		}
		filesV2Vec = createOffsetVector(b, offs)
		files = nil // spec 2 writes an empty spec-1 list
	}
	fbv2.SnapshotStartManifestFilesVector(b, len(files))
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		id := f.ID
		fbv2.CreateManifestFileInfo(b, id[0], id[1], id[2], id[3], id[4], id[5],
			id[6], id[7], id[8], id[9], id[10], id[11], f.SizeBytes, f.NumChunkRefs)
	}
	filesVec := b.EndVector(len(files))

	items := make([]flatbuffers.UOffsetT, len(meta))
	for i, m := range meta {
		name := b.CreateSharedString(m.Name)
		value := b.CreateByteVector(nonNil(m.Value))
		fbv2.MetadataItemStart(b)
		fbv2.MetadataItemAddValue(b, value)
		fbv2.MetadataItemAddName(b, name)
		items[i] = fbv2.MetadataItemEnd(b)
	}
	metaVec := createOffsetVector(b, items)

	message := b.CreateString(s.Message)

	nodeOffs := make([]flatbuffers.UOffsetT, len(nodes))
	for i, n := range nodes {
		nodeOffs[i] = buildNode(b, n, v2)
	}
	nodesVec := createOffsetVector(b, nodeOffs)
	extra := createOptBytes(b, s.Extra)

	fbv2.SnapshotStart(b)
	fbv2.SnapshotAddFlushedAt(b, s.FlushedAt)
	if s.Extra != nil {
		fbv2.SnapshotAddExtra(b, extra)
	}
	if v2 {
		fbv2.SnapshotAddManifestFilesV2(b, filesV2Vec)
	}
	fbv2.SnapshotAddManifestFiles(b, filesVec)
	fbv2.SnapshotAddMetadata(b, metaVec)
	fbv2.SnapshotAddMessage(b, message)
	fbv2.SnapshotAddNodes(b, nodesVec)
	if s.ParentID != nil {
		fbv2.SnapshotAddParentId(b, createObjectID12(b, *s.ParentID))
	}
	fbv2.SnapshotAddId(b, createObjectID12(b, s.ID))
	return finish(b, fbv2.SnapshotEnd(b)), nil
}

// nonNil turns a nil byte slice into an empty one: CreateByteVector needs a
// slice but required vectors are written even when empty.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// checkNode rejects nodes the snapshot format of spec cannot represent.
func checkNode(n *Node, spec uint8) error {
	if !utf8.ValidString(n.Path) {
		return fmt.Errorf("node path %q is not valid UTF-8", n.Path)
	}
	if spec == spec1 && n.Extra != nil {
		return fmt.Errorf("node %q: spec-1 nodes have no extra field", n.Path)
	}
	switch n.Type {
	case NodeGroup:
		if n.Shape != nil || n.ShapeV2 != nil || n.DimensionNames != nil || n.Manifests != nil {
			return fmt.Errorf("group %q has array fields (shape, dimension names or manifests)", n.Path)
		}
	case NodeArray:
		if spec == spec1 && n.ShapeV2 != nil {
			return fmt.Errorf("array %q: spec-1 snapshots have no shape_v2 (convert with ShapeFromV2)", n.Path)
		}
		if spec == spec2 && len(n.Shape) != 0 {
			return fmt.Errorf("array %q: spec-2 snapshots carry the shape in ShapeV2, Shape must be empty (convert with ShapeToV2)", n.Path)
		}
		for _, dn := range n.DimensionNames {
			if dn != nil && !utf8.ValidString(*dn) {
				return fmt.Errorf("array %q: dimension name %q is not valid UTF-8", n.Path, *dn)
			}
		}
	default:
		return fmt.Errorf("node %q has unknown type %d", n.Path, n.Type)
	}
	return nil
}

// buildNode writes one NodeSnapshot table, in upstream's order: path, node
// data, user data, then the table.
func buildNode(b *flatbuffers.Builder, n *Node, v2 bool) flatbuffers.UOffsetT {
	path := b.CreateString(n.Path)
	var dataType fbv2.NodeData
	var data flatbuffers.UOffsetT
	if n.Type == NodeArray {
		dataType, data = fbv2.NodeDataArray, buildArrayData(b, n, v2)
	} else {
		fbv2.GroupNodeDataStart(b)
		dataType, data = fbv2.NodeDataGroup, fbv2.GroupNodeDataEnd(b)
	}
	userData := b.CreateByteVector(nonNil(n.UserData))
	extra := createOptBytes(b, n.Extra)

	fbv2.NodeSnapshotStart(b)
	if n.Extra != nil {
		fbv2.NodeSnapshotAddExtra(b, extra)
	}
	fbv2.NodeSnapshotAddNodeData(b, data)
	fbv2.NodeSnapshotAddUserData(b, userData)
	fbv2.NodeSnapshotAddPath(b, path)
	fbv2.NodeSnapshotAddId(b, createObjectID8(b, n.ID))
	fbv2.NodeSnapshotAddNodeDataType(b, dataType)
	return fbv2.NodeSnapshotEnd(b)
}

// buildArrayData writes an ArrayNodeData table: manifest refs, dimension
// names, shape (at spec 2: the DimensionShapeV2 tables, the empty spec-1
// shape, the shape_v2 vector), then the table (upstream's order).
func buildArrayData(b *flatbuffers.Builder, n *Node, v2 bool) flatbuffers.UOffsetT {
	refs := make([]flatbuffers.UOffsetT, len(n.Manifests))
	for i, m := range n.Manifests {
		fbv2.ManifestRefStartExtentsVector(b, len(m.Extents))
		for j := len(m.Extents) - 1; j >= 0; j-- {
			fbv2.CreateChunkIndexRange(b, m.Extents[j].From, m.Extents[j].To)
		}
		extents := b.EndVector(len(m.Extents))
		fbv2.ManifestRefStart(b)
		fbv2.ManifestRefAddExtents(b, extents)
		fbv2.ManifestRefAddObjectId(b, createObjectID12(b, m.ID))
		refs[i] = fbv2.ManifestRefEnd(b)
	}
	manifests := createOffsetVector(b, refs)

	var dimNames flatbuffers.UOffsetT
	if n.DimensionNames != nil {
		names := make([]flatbuffers.UOffsetT, len(n.DimensionNames))
		for i, dn := range n.DimensionNames {
			if dn != nil {
				s := b.CreateSharedString(*dn)
				fbv2.DimensionNameStart(b)
				fbv2.DimensionNameAddName(b, s)
			} else {
				fbv2.DimensionNameStart(b)
			}
			names[i] = fbv2.DimensionNameEnd(b)
		}
		dimNames = createOffsetVector(b, names)
	}

	var dimsV2 []flatbuffers.UOffsetT
	if v2 {
		dimsV2 = make([]flatbuffers.UOffsetT, len(n.ShapeV2))
		for i, d := range n.ShapeV2 {
			fbv2.DimensionShapeV2Start(b)
			fbv2.DimensionShapeV2AddArrayLength(b, d.ArrayLength)
			fbv2.DimensionShapeV2AddNumChunks(b, d.NumChunks)
			dimsV2[i] = fbv2.DimensionShapeV2End(b)
		}
	}
	fbv2.ArrayNodeDataStartShapeVector(b, len(n.Shape))
	for i := len(n.Shape) - 1; i >= 0; i-- {
		fbv2.CreateDimensionShape(b, n.Shape[i].ArrayLength, n.Shape[i].ChunkLength)
	}
	shape := b.EndVector(len(n.Shape))
	var shapeV2 flatbuffers.UOffsetT
	if v2 {
		shapeV2 = createOffsetVector(b, dimsV2)
	}

	fbv2.ArrayNodeDataStart(b)
	if v2 {
		fbv2.ArrayNodeDataAddShapeV2(b, shapeV2)
	}
	fbv2.ArrayNodeDataAddManifests(b, manifests)
	if n.DimensionNames != nil {
		fbv2.ArrayNodeDataAddDimensionNames(b, dimNames)
	}
	fbv2.ArrayNodeDataAddShape(b, shape)
	return fbv2.ArrayNodeDataEnd(b)
}

// DecodeSnapshot decodes a spec-1 or spec-2 snapshot file and sets
// SpecVersion from its header. name is the object key (e.g.
// "snapshots/NXH3M0HJ7EEJ0699DPP0") and appears in every error. Errors wrap
// ErrUnsupportedSpec (a newer spec version) or ErrCorrupt.
//
// Every field the file holds is decoded, whatever its spec byte says:
// manifest files come from manifest_files_v2 when that list is present (it
// is then an error for manifest_files to be non-empty), else from
// manifest_files; arrays get Shape and ShapeV2 as found. Vectors that are
// empty decode as nil slices, except DimensionNames, which is nil only when
// the file has no dimension names for the array, and the Extra fields,
// which are nil only when absent.
func DecodeSnapshot(name string, data []byte) (*Snapshot, error) {
	spec, fb, err := unframe(name, data, FileTypeSnapshot)
	if err != nil {
		return nil, err
	}
	r := newFBReader(name, fb)
	var s *Snapshot
	err = r.guard(func() error {
		var err error
		s, err = r.snapshot()
		return err
	})
	if err != nil {
		return nil, err
	}
	s.SpecVersion = spec
	return s, nil
}

// Approximate in-memory sizes charged to the decoding budget.
const (
	costNode     = int(unsafe.Sizeof(Node{}))
	costMetadata = int(unsafe.Sizeof(MetadataItem{}))
	costManifest = int(unsafe.Sizeof(ManifestRef{}))
	costDimName  = int(unsafe.Sizeof("")) + 8
)

func (r *fbReader) snapshot() (*Snapshot, error) {
	root := fbv2.GetRootAsSnapshot(r.buf, 0)
	t := root.Table()
	s := &Snapshot{}

	var id12 fbv2.ObjectId12
	if root.Id(&id12) == nil {
		return nil, r.missing("Snapshot.id")
	}
	s.ID = objectIDAt(id12.Table())
	if root.ParentId(&id12) != nil {
		p := objectIDAt(id12.Table())
		s.ParentID = &p
	}
	s.FlushedAt = root.FlushedAt()

	if !has(t, fSnapshotMessage) {
		return nil, r.missing("Snapshot.message")
	}
	msg, err := r.str("Snapshot.message", root.Message())
	if err != nil {
		return nil, err
	}
	s.Message = msg

	if !has(t, fSnapshotMetadata) {
		return nil, r.missing("Snapshot.metadata")
	}
	n, err := r.vec("Snapshot.metadata", root.MetadataLength(), 4, costMetadata)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		s.Metadata = make([]MetadataItem, n)
	}
	var item fbv2.MetadataItem
	for i := range s.Metadata {
		root.Metadata(&item, i)
		it := item.Table()
		if !has(it, fMetadataName) {
			return nil, r.missing("MetadataItem.name")
		}
		if !has(it, fMetadataValue) {
			return nil, r.missing("MetadataItem.value")
		}
		if s.Metadata[i].Name, err = r.str("MetadataItem.name", item.Name()); err != nil {
			return nil, err
		}
		if s.Metadata[i].Value, err = r.bytes(item.ValueBytes()); err != nil {
			return nil, err
		}
	}

	if !has(t, fSnapshotManifestFiles) {
		return nil, r.missing("Snapshot.manifest_files")
	}
	n, err = r.vec("Snapshot.manifest_files", root.ManifestFilesLength(), 32, int(unsafe.Sizeof(ManifestFileInfo{})))
	if err != nil {
		return nil, err
	}
	if has(t, fSnapshotManifestFilesV2) {
		if n > 0 {
			return nil, corruptf(r.name, "snapshot has both manifest_files (%d) and manifest_files_v2", n)
		}
		if s.ManifestFiles, err = r.manifestFilesV2(root); err != nil {
			return nil, err
		}
	} else if n > 0 {
		s.ManifestFiles = make([]ManifestFileInfo, n)
		var mfi fbv2.ManifestFileInfo
		for i := range s.ManifestFiles {
			root.ManifestFiles(&mfi, i)
			s.ManifestFiles[i] = ManifestFileInfo{
				ID:           objectIDAt(mfi.Id(&id12).Table()),
				SizeBytes:    mfi.SizeBytes(),
				NumChunkRefs: mfi.NumChunkRefs(),
			}
		}
	}
	if s.Extra, err = r.optBytes(has(t, fSnapshotExtra), root.ExtraBytes()); err != nil {
		return nil, err
	}

	if !has(t, fSnapshotNodes) {
		return nil, r.missing("Snapshot.nodes")
	}
	n, err = r.vec("Snapshot.nodes", root.NodesLength(), 4, costNode)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		s.Nodes = make([]Node, n)
	}
	var node fbv2.NodeSnapshot
	for i := range s.Nodes {
		root.Nodes(&node, i)
		if err := r.node(&node, &s.Nodes[i]); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// manifestFilesV2 decodes Snapshot.manifest_files_v2; id, size and count
// must be present (the schema leaves them optional only for evolution).
func (r *fbReader) manifestFilesV2(root *fbv2.Snapshot) ([]ManifestFileInfo, error) {
	n, err := r.vec("Snapshot.manifest_files_v2", root.ManifestFilesV2Length(), 4, int(unsafe.Sizeof(ManifestFileInfo{})))
	if err != nil || n == 0 {
		return nil, err
	}
	out := make([]ManifestFileInfo, n)
	var mf fbv2.ManifestFileInfoV2
	var id12 fbv2.ObjectId12
	for i := range out {
		root.ManifestFilesV2(&mf, i)
		if mf.Id(&id12) == nil {
			return nil, r.missing("ManifestFileInfoV2.id")
		}
		out[i] = ManifestFileInfo{
			ID:           objectIDAt(id12.Table()),
			SizeBytes:    mf.SizeBytes(),
			NumChunkRefs: mf.NumChunkRefs(),
		}
		if out[i].Extra, err = r.optBytes(has(mf.Table(), fManifestFileV2Extra), mf.ExtraBytes()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (r *fbReader) node(fn *fbv2.NodeSnapshot, n *Node) error {
	t := fn.Table()
	var id8 fbv2.ObjectId8
	if fn.Id(&id8) == nil {
		return r.missing("NodeSnapshot.id")
	}
	n.ID = nodeIDAt(id8.Table())
	if !has(t, fNodePath) {
		return r.missing("NodeSnapshot.path")
	}
	var err error
	if n.Path, err = r.str("NodeSnapshot.path", fn.Path()); err != nil {
		return err
	}
	if !has(t, fNodeUserData) {
		return r.missing("NodeSnapshot.user_data")
	}
	if n.UserData, err = r.bytes(fn.UserDataBytes()); err != nil {
		return err
	}
	if n.Extra, err = r.optBytes(has(t, fNodeExtra), fn.ExtraBytes()); err != nil {
		return err
	}
	var data flatbuffers.Table
	if !fn.NodeData(&data) {
		return r.missing("NodeSnapshot.node_data")
	}
	switch typ := fn.NodeDataType(); typ {
	case fbv2.NodeDataGroup:
		n.Type = NodeGroup
		return nil
	case fbv2.NodeDataArray:
		n.Type = NodeArray
		var a fbv2.ArrayNodeData
		a.Init(data.Bytes, data.Pos)
		return r.arrayData(&a, n)
	default:
		return corruptf(r.name, "node %q has unknown node_data type %d", n.Path, uint8(typ))
	}
}

func (r *fbReader) arrayData(a *fbv2.ArrayNodeData, n *Node) error {
	t := a.Table()
	if !has(t, fArrayShape) {
		return r.missing("ArrayNodeData.shape")
	}
	cnt, err := r.vec("ArrayNodeData.shape", a.ShapeLength(), 16, int(unsafe.Sizeof(DimensionShape{})))
	if err != nil {
		return err
	}
	if cnt > 0 {
		n.Shape = make([]DimensionShape, cnt)
	}
	var ds fbv2.DimensionShape
	for i := range n.Shape {
		a.Shape(&ds, i)
		n.Shape[i] = DimensionShape{ArrayLength: ds.ArrayLength(), ChunkLength: ds.ChunkLength()}
	}
	if has(t, fArrayShapeV2) {
		cnt, err := r.vec("ArrayNodeData.shape_v2", a.ShapeV2Length(), 4, int(unsafe.Sizeof(DimensionShapeV2{})))
		if err != nil {
			return err
		}
		if cnt > 0 {
			n.ShapeV2 = make([]DimensionShapeV2, cnt)
		}
		var d2 fbv2.DimensionShapeV2
		for i := range n.ShapeV2 {
			a.ShapeV2(&d2, i)
			n.ShapeV2[i] = DimensionShapeV2{ArrayLength: d2.ArrayLength(), NumChunks: d2.NumChunks()}
		}
	}

	if has(t, fArrayDimensionNames) {
		cnt, err := r.vec("ArrayNodeData.dimension_names", a.DimensionNamesLength(), 4, costDimName)
		if err != nil {
			return err
		}
		n.DimensionNames = make([]*string, cnt)
		var dn fbv2.DimensionName
		for i := range n.DimensionNames {
			a.DimensionNames(&dn, i)
			if !has(dn.Table(), fDimensionName) {
				continue
			}
			s, err := r.str("DimensionName.name", dn.Name())
			if err != nil {
				return err
			}
			n.DimensionNames[i] = &s
		}
	}

	if !has(t, fArrayManifests) {
		return r.missing("ArrayNodeData.manifests")
	}
	cnt, err = r.vec("ArrayNodeData.manifests", a.ManifestsLength(), 4, costManifest)
	if err != nil {
		return err
	}
	if cnt > 0 {
		n.Manifests = make([]ManifestRef, cnt)
	}
	var mr fbv2.ManifestRef
	var id12 fbv2.ObjectId12
	var cr fbv2.ChunkIndexRange
	for i := range n.Manifests {
		a.Manifests(&mr, i)
		if mr.ObjectId(&id12) == nil {
			return r.missing("ManifestRef.object_id")
		}
		n.Manifests[i].ID = objectIDAt(id12.Table())
		if !has(mr.Table(), fManifestRefExtents) {
			return r.missing("ManifestRef.extents")
		}
		ext, err := r.vec("ManifestRef.extents", mr.ExtentsLength(), 8, 8)
		if err != nil {
			return err
		}
		if ext == 0 {
			continue
		}
		n.Manifests[i].Extents = make([]ChunkIndexRange, ext)
		for j := range n.Manifests[i].Extents {
			mr.Extents(&cr, j)
			n.Manifests[i].Extents[j] = ChunkIndexRange{From: cr.From(), To: cr.To()}
		}
	}
	return nil
}
