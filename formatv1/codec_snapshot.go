package formatv1

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"unicode/utf8"
	"unsafe"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/icerig/icerig/formatv1/internal/fbv1"
)

// Field numbers (schema order) of the snapshot tables, for presence checks.
const (
	fSnapshotNodes         = 2
	fSnapshotMessage       = 4
	fSnapshotMetadata      = 5
	fSnapshotManifestFiles = 6

	fNodePath     = 1
	fNodeUserData = 2

	fArrayShape          = 0
	fArrayDimensionNames = 1
	fArrayManifests      = 2

	fManifestRefExtents = 1

	fMetadataName  = 0
	fMetadataValue = 1

	fDimensionName = 0
)

// EncodeSnapshot returns the spec-1 snapshot file for s: header, then the
// zstd-compressed flatbuffer.
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
	fb, err := buildSnapshot(s)
	if err != nil {
		return nil, err
	}
	return frame(FileTypeSnapshot, fb)
}

func buildSnapshot(s *Snapshot) ([]byte, error) {
	fail := func(format string, args ...any) error {
		return encodeErr("snapshot", s.ID, format, args...)
	}
	if !utf8.ValidString(s.Message) {
		return nil, fail("message is not valid UTF-8")
	}

	files := slices.Clone(s.ManifestFiles)
	slices.SortStableFunc(files, func(a, b ManifestFileInfo) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	for i := 1; i < len(files); i++ {
		if files[i].ID == files[i-1].ID {
			return nil, fail("manifest file %s listed twice", files[i].ID)
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
		if err := checkNode(n); err != nil {
			return nil, fail("%v", err)
		}
	}

	b := flatbuffers.NewBuilder(4096)

	fbv1.SnapshotStartManifestFilesVector(b, len(files))
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		id := f.ID
		fbv1.CreateManifestFileInfo(b, id[0], id[1], id[2], id[3], id[4], id[5],
			id[6], id[7], id[8], id[9], id[10], id[11], f.SizeBytes, f.NumChunkRefs)
	}
	filesVec := b.EndVector(len(files))

	items := make([]flatbuffers.UOffsetT, len(meta))
	for i, m := range meta {
		name := b.CreateSharedString(m.Name)
		value := b.CreateByteVector(nonNil(m.Value))
		fbv1.MetadataItemStart(b)
		fbv1.MetadataItemAddValue(b, value)
		fbv1.MetadataItemAddName(b, name)
		items[i] = fbv1.MetadataItemEnd(b)
	}
	metaVec := createOffsetVector(b, items)

	message := b.CreateString(s.Message)

	nodeOffs := make([]flatbuffers.UOffsetT, len(nodes))
	for i, n := range nodes {
		nodeOffs[i] = buildNode(b, n)
	}
	nodesVec := createOffsetVector(b, nodeOffs)

	fbv1.SnapshotStart(b)
	fbv1.SnapshotAddFlushedAt(b, s.FlushedAt)
	fbv1.SnapshotAddManifestFiles(b, filesVec)
	fbv1.SnapshotAddMetadata(b, metaVec)
	fbv1.SnapshotAddMessage(b, message)
	fbv1.SnapshotAddNodes(b, nodesVec)
	if s.ParentID != nil {
		fbv1.SnapshotAddParentId(b, createObjectID12(b, *s.ParentID))
	}
	fbv1.SnapshotAddId(b, createObjectID12(b, s.ID))
	return finish(b, fbv1.SnapshotEnd(b)), nil
}

// nonNil turns a nil byte slice into an empty one: CreateByteVector needs a
// slice but required vectors are written even when empty.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// checkNode rejects nodes the snapshot format cannot represent.
func checkNode(n *Node) error {
	if !utf8.ValidString(n.Path) {
		return fmt.Errorf("node path %q is not valid UTF-8", n.Path)
	}
	switch n.Type {
	case NodeGroup:
		if n.Shape != nil || n.DimensionNames != nil || n.Manifests != nil {
			return fmt.Errorf("group %q has array fields (shape, dimension names or manifests)", n.Path)
		}
	case NodeArray:
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
func buildNode(b *flatbuffers.Builder, n *Node) flatbuffers.UOffsetT {
	path := b.CreateString(n.Path)
	var dataType fbv1.NodeData
	var data flatbuffers.UOffsetT
	if n.Type == NodeArray {
		dataType, data = fbv1.NodeDataArray, buildArrayData(b, n)
	} else {
		fbv1.GroupNodeDataStart(b)
		dataType, data = fbv1.NodeDataGroup, fbv1.GroupNodeDataEnd(b)
	}
	userData := b.CreateByteVector(nonNil(n.UserData))

	fbv1.NodeSnapshotStart(b)
	fbv1.NodeSnapshotAddNodeData(b, data)
	fbv1.NodeSnapshotAddUserData(b, userData)
	fbv1.NodeSnapshotAddPath(b, path)
	fbv1.NodeSnapshotAddId(b, createObjectID8(b, n.ID))
	fbv1.NodeSnapshotAddNodeDataType(b, dataType)
	return fbv1.NodeSnapshotEnd(b)
}

// buildArrayData writes an ArrayNodeData table: manifest refs, dimension
// names, shape, then the table (upstream's order).
func buildArrayData(b *flatbuffers.Builder, n *Node) flatbuffers.UOffsetT {
	refs := make([]flatbuffers.UOffsetT, len(n.Manifests))
	for i, m := range n.Manifests {
		fbv1.ManifestRefStartExtentsVector(b, len(m.Extents))
		for j := len(m.Extents) - 1; j >= 0; j-- {
			fbv1.CreateChunkIndexRange(b, m.Extents[j].From, m.Extents[j].To)
		}
		extents := b.EndVector(len(m.Extents))
		fbv1.ManifestRefStart(b)
		fbv1.ManifestRefAddExtents(b, extents)
		fbv1.ManifestRefAddObjectId(b, createObjectID12(b, m.ID))
		refs[i] = fbv1.ManifestRefEnd(b)
	}
	manifests := createOffsetVector(b, refs)

	var dimNames flatbuffers.UOffsetT
	if n.DimensionNames != nil {
		names := make([]flatbuffers.UOffsetT, len(n.DimensionNames))
		for i, dn := range n.DimensionNames {
			if dn != nil {
				s := b.CreateSharedString(*dn)
				fbv1.DimensionNameStart(b)
				fbv1.DimensionNameAddName(b, s)
			} else {
				fbv1.DimensionNameStart(b)
			}
			names[i] = fbv1.DimensionNameEnd(b)
		}
		dimNames = createOffsetVector(b, names)
	}

	fbv1.ArrayNodeDataStartShapeVector(b, len(n.Shape))
	for i := len(n.Shape) - 1; i >= 0; i-- {
		fbv1.CreateDimensionShape(b, n.Shape[i].ArrayLength, n.Shape[i].ChunkLength)
	}
	shape := b.EndVector(len(n.Shape))

	fbv1.ArrayNodeDataStart(b)
	fbv1.ArrayNodeDataAddManifests(b, manifests)
	if n.DimensionNames != nil {
		fbv1.ArrayNodeDataAddDimensionNames(b, dimNames)
	}
	fbv1.ArrayNodeDataAddShape(b, shape)
	return fbv1.ArrayNodeDataEnd(b)
}

// DecodeSnapshot decodes a spec-1 snapshot file. name is the object key
// (e.g. "snapshots/NXH3M0HJ7EEJ0699DPP0") and appears in every error.
// Errors wrap ErrUnsupportedSpec (another spec version) or ErrCorrupt.
//
// Vectors that are empty decode as nil slices, except DimensionNames, which
// is nil only when the file has no dimension names for the array.
func DecodeSnapshot(name string, data []byte) (*Snapshot, error) {
	fb, err := unframe(name, data, FileTypeSnapshot)
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
	root := fbv1.GetRootAsSnapshot(r.buf, 0)
	t := root.Table()
	s := &Snapshot{}

	var id12 fbv1.ObjectId12
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
	var item fbv1.MetadataItem
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
	if n > 0 {
		s.ManifestFiles = make([]ManifestFileInfo, n)
	}
	var mfi fbv1.ManifestFileInfo
	for i := range s.ManifestFiles {
		root.ManifestFiles(&mfi, i)
		s.ManifestFiles[i] = ManifestFileInfo{
			ID:           objectIDAt(mfi.Id(&id12).Table()),
			SizeBytes:    mfi.SizeBytes(),
			NumChunkRefs: mfi.NumChunkRefs(),
		}
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
	var node fbv1.NodeSnapshot
	for i := range s.Nodes {
		root.Nodes(&node, i)
		if err := r.node(&node, &s.Nodes[i]); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (r *fbReader) node(fn *fbv1.NodeSnapshot, n *Node) error {
	t := fn.Table()
	var id8 fbv1.ObjectId8
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
	var data flatbuffers.Table
	if !fn.NodeData(&data) {
		return r.missing("NodeSnapshot.node_data")
	}
	switch typ := fn.NodeDataType(); typ {
	case fbv1.NodeDataGroup:
		n.Type = NodeGroup
		return nil
	case fbv1.NodeDataArray:
		n.Type = NodeArray
		var a fbv1.ArrayNodeData
		a.Init(data.Bytes, data.Pos)
		return r.arrayData(&a, n)
	default:
		return corruptf(r.name, "node %q has unknown node_data type %d", n.Path, uint8(typ))
	}
}

func (r *fbReader) arrayData(a *fbv1.ArrayNodeData, n *Node) error {
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
	var ds fbv1.DimensionShape
	for i := range n.Shape {
		a.Shape(&ds, i)
		n.Shape[i] = DimensionShape{ArrayLength: ds.ArrayLength(), ChunkLength: ds.ChunkLength()}
	}

	if has(t, fArrayDimensionNames) {
		cnt, err := r.vec("ArrayNodeData.dimension_names", a.DimensionNamesLength(), 4, costDimName)
		if err != nil {
			return err
		}
		n.DimensionNames = make([]*string, cnt)
		var dn fbv1.DimensionName
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
	var mr fbv1.ManifestRef
	var id12 fbv1.ObjectId12
	var cr fbv1.ChunkIndexRange
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
