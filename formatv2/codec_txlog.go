package formatv2

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/icerig/icerig/formatv2/internal/fbv2"
)

// Field numbers (schema order) of the transaction log tables.
const (
	fTxNewGroups     = 1
	fTxNewArrays     = 2
	fTxDeletedGroups = 3
	fTxDeletedArrays = 4
	fTxUpdatedArrays = 5
	fTxUpdatedGroups = 6
	fTxUpdatedChunks = 7

	fTxMovedNodes = 8
	fTxExtra      = 9

	fUpdatedChunksChunks = 1
	fChunkIndicesCoords  = 0

	fMoveFrom   = 0
	fMoveTo     = 1
	fMoveNodeID = 2
)

// EncodeTransactionLog returns the transaction log file for tl at spec
// tl.SpecVersion (1 or 2; there is no default). At spec 1 the file is byte
// for byte what formatv1 writes, so MovedNodes must be empty and Extra nil.
// At spec 2 moved_nodes is always written (maybe empty), sorted by
// destination path segment-wise (a node right before its descendants), and
// Extra when non-nil.
//
// As upstream does, every node id list is written sorted and the updated
// chunks sorted by node id; the chunk indices of one array are written in
// the order given (upstream writes them sorted per manifest split, not
// globally). tl itself is not modified. A node id listed twice in one list
// is rejected.
func EncodeTransactionLog(tl *TransactionLog) ([]byte, error) {
	if tl == nil {
		return nil, encodeErr("transaction log", ObjectID{}, "nil transaction log")
	}
	if err := checkEncodeSpec("transaction log", tl.ID, tl.SpecVersion); err != nil {
		return nil, err
	}
	fb, err := buildTransactionLog(tl)
	if err != nil {
		return nil, err
	}
	return frame(tl.SpecVersion, FileTypeTransactionLog, fb)
}

// comparePathSegments orders node paths segment by segment ("/a" < "/a/b" <
// "/a-b"), the order of a transaction log's moved_nodes.
func comparePathSegments(a, b string) int {
	for {
		sa, ra, moreA := strings.Cut(strings.TrimPrefix(a, "/"), "/")
		sb, rb, moreB := strings.Cut(strings.TrimPrefix(b, "/"), "/")
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
		switch {
		case !moreA && !moreB:
			return 0
		case !moreA:
			return -1
		case !moreB:
			return 1
		}
		a, b = ra, rb
	}
}

func sortedNodeIDs(list string, ids []NodeID) ([]NodeID, error) {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b NodeID) int { return bytes.Compare(a[:], b[:]) })
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			return nil, fmt.Errorf("%s lists node %s twice", list, ids[i])
		}
	}
	return ids, nil
}

func buildTransactionLog(tl *TransactionLog) ([]byte, error) {
	fail := func(err error) error { return encodeErr("transaction log", tl.ID, "%v", err) }
	lists := [6][]NodeID{tl.NewGroups, tl.NewArrays, tl.DeletedGroups, tl.DeletedArrays, tl.UpdatedGroups, tl.UpdatedArrays}
	names := [6]string{"new_groups", "new_arrays", "deleted_groups", "deleted_arrays", "updated_groups", "updated_arrays"}
	for i := range lists {
		var err error
		if lists[i], err = sortedNodeIDs(names[i], lists[i]); err != nil {
			return nil, fail(err)
		}
	}
	updated := slices.Clone(tl.UpdatedChunks)
	slices.SortStableFunc(updated, func(a, b ArrayUpdatedChunks) int { return bytes.Compare(a.NodeID[:], b.NodeID[:]) })
	for i := 1; i < len(updated); i++ {
		if updated[i].NodeID == updated[i-1].NodeID {
			return nil, fail(fmt.Errorf("updated_chunks lists node %s twice", updated[i].NodeID))
		}
	}
	v2 := tl.SpecVersion == spec2
	if !v2 && (len(tl.MovedNodes) != 0 || tl.Extra != nil) {
		return nil, fail(errors.New("spec-1 transaction logs have no moved_nodes or extra field"))
	}
	moves := slices.Clone(tl.MovedNodes)
	slices.SortStableFunc(moves, func(a, b MoveOperation) int { return comparePathSegments(a.To, b.To) })
	seen := make(map[NodeID]bool, len(moves))
	for _, mv := range moves {
		if seen[mv.NodeID] {
			return nil, fail(fmt.Errorf("moved_nodes lists node %s twice", mv.NodeID))
		}
		seen[mv.NodeID] = true
		if !utf8.ValidString(mv.From) || !utf8.ValidString(mv.To) {
			return nil, fail(fmt.Errorf("move of node %s: path is not valid UTF-8", mv.NodeID))
		}
		if mv.NodeType != NodeGroup && mv.NodeType != NodeArray {
			return nil, fail(fmt.Errorf("move of node %s has unknown node type %d", mv.NodeID, mv.NodeType))
		}
	}

	b := flatbuffers.NewBuilder(4096)
	if v2 {
		return buildTransactionLogV2(b, tl, lists, updated, moves), nil
	}
	// Spec 1 (upstream 1.x's order): updated chunks, then the id lists.
	updatedVec := buildUpdatedChunks(b, updated)

	var vecs [6]flatbuffers.UOffsetT
	for i, ids := range lists {
		b.StartVector(8, len(ids), 1)
		for j := len(ids) - 1; j >= 0; j-- {
			createObjectID8(b, ids[j])
		}
		vecs[i] = b.EndVector(len(ids))
	}

	fbv2.TransactionLogStart(b)
	fbv2.TransactionLogAddUpdatedChunks(b, updatedVec)
	fbv2.TransactionLogAddUpdatedGroups(b, vecs[4])
	fbv2.TransactionLogAddUpdatedArrays(b, vecs[5])
	fbv2.TransactionLogAddDeletedArrays(b, vecs[3])
	fbv2.TransactionLogAddDeletedGroups(b, vecs[2])
	fbv2.TransactionLogAddNewArrays(b, vecs[1])
	fbv2.TransactionLogAddNewGroups(b, vecs[0])
	fbv2.TransactionLogAddId(b, createObjectID12(b, tl.ID))
	return finish(b, fbv2.TransactionLogEnd(b)), nil
}

// buildUpdatedChunks writes the updated_chunks vector.
func buildUpdatedChunks(b *flatbuffers.Builder, updated []ArrayUpdatedChunks) flatbuffers.UOffsetT {
	arrays := make([]flatbuffers.UOffsetT, len(updated))
	chunkOffs := []flatbuffers.UOffsetT{}
	for i, u := range updated {
		chunkOffs = chunkOffs[:0]
		for _, c := range u.Chunks {
			coords := createUint32Vector(b, c)
			fbv2.ChunkIndicesStart(b)
			fbv2.ChunkIndicesAddCoords(b, coords)
			chunkOffs = append(chunkOffs, fbv2.ChunkIndicesEnd(b))
		}
		chunks := createOffsetVector(b, chunkOffs)
		fbv2.ArrayUpdatedChunksStart(b)
		fbv2.ArrayUpdatedChunksAddChunks(b, chunks)
		fbv2.ArrayUpdatedChunksAddNodeId(b, createObjectID8(b, u.NodeID))
		arrays[i] = fbv2.ArrayUpdatedChunksEnd(b)
	}
	return createOffsetVector(b, arrays)
}

// buildTransactionLogV2 writes a spec-2 transaction log in upstream 2.x's
// order: the node id lists, updated chunks, moves, then the table. lists
// holds new groups, new arrays, deleted groups, deleted arrays, updated
// groups, updated arrays, each sorted.
func buildTransactionLogV2(b *flatbuffers.Builder, tl *TransactionLog, lists [6][]NodeID, updated []ArrayUpdatedChunks, moves []MoveOperation) []byte {
	var vecs [6]flatbuffers.UOffsetT
	for i, ids := range lists {
		b.StartVector(8, len(ids), 1)
		for j := len(ids) - 1; j >= 0; j-- {
			createObjectID8(b, ids[j])
		}
		vecs[i] = b.EndVector(len(ids))
	}
	updatedVec := buildUpdatedChunks(b, updated)
	moveOffs := make([]flatbuffers.UOffsetT, len(moves))
	for i, mv := range moves {
		from := b.CreateString(mv.From)
		to := b.CreateString(mv.To)
		kind := fbv2.MovedNodeTypeGroup
		if mv.NodeType == NodeArray {
			kind = fbv2.MovedNodeTypeArray
		}
		fbv2.MoveOperationStart(b)
		fbv2.MoveOperationAddNodeId(b, createObjectID8(b, mv.NodeID))
		fbv2.MoveOperationAddTo(b, to)
		fbv2.MoveOperationAddFrom(b, from)
		fbv2.MoveOperationAddNodeType(b, kind)
		moveOffs[i] = fbv2.MoveOperationEnd(b)
	}
	movesVec := createOffsetVector(b, moveOffs)
	extra := createOptBytes(b, tl.Extra)

	fbv2.TransactionLogStart(b)
	if tl.Extra != nil {
		fbv2.TransactionLogAddExtra(b, extra)
	}
	fbv2.TransactionLogAddMovedNodes(b, movesVec)
	fbv2.TransactionLogAddUpdatedChunks(b, updatedVec)
	fbv2.TransactionLogAddUpdatedGroups(b, vecs[4])
	fbv2.TransactionLogAddUpdatedArrays(b, vecs[5])
	fbv2.TransactionLogAddDeletedArrays(b, vecs[3])
	fbv2.TransactionLogAddDeletedGroups(b, vecs[2])
	fbv2.TransactionLogAddNewArrays(b, vecs[1])
	fbv2.TransactionLogAddNewGroups(b, vecs[0])
	fbv2.TransactionLogAddId(b, createObjectID12(b, tl.ID))
	return finish(b, fbv2.TransactionLogEnd(b))
}

// DecodeTransactionLog decodes a spec-1 or spec-2 transaction log file and
// sets SpecVersion from its header. name is the object key and appears in
// every error. Errors wrap ErrUnsupportedSpec or ErrCorrupt. Empty lists
// decode as nil; Extra is nil only when absent. moved_nodes is decoded
// whatever the spec byte (upstream 2.x writes an empty one into spec-1
// logs too).
func DecodeTransactionLog(name string, data []byte) (*TransactionLog, error) {
	spec, fb, err := unframe(name, data, FileTypeTransactionLog)
	if err != nil {
		return nil, err
	}
	r := newFBReader(name, fb)
	var tl *TransactionLog
	err = r.guard(func() error {
		var err error
		tl, err = r.transactionLog()
		return err
	})
	if err != nil {
		return nil, err
	}
	tl.SpecVersion = spec
	return tl, nil
}

func (r *fbReader) transactionLog() (*TransactionLog, error) {
	root := fbv2.GetRootAsTransactionLog(r.buf, 0)
	t := root.Table()
	tl := &TransactionLog{}
	var id12 fbv2.ObjectId12
	if root.Id(&id12) == nil {
		return nil, r.missing("TransactionLog.id")
	}
	tl.ID = objectIDAt(id12.Table())

	lists := []struct {
		field int
		name  string
		n     int
		get   func(*fbv2.ObjectId8, int) bool
		dst   *[]NodeID
	}{
		{fTxNewGroups, "TransactionLog.new_groups", root.NewGroupsLength(), root.NewGroups, &tl.NewGroups},
		{fTxNewArrays, "TransactionLog.new_arrays", root.NewArraysLength(), root.NewArrays, &tl.NewArrays},
		{fTxDeletedGroups, "TransactionLog.deleted_groups", root.DeletedGroupsLength(), root.DeletedGroups, &tl.DeletedGroups},
		{fTxDeletedArrays, "TransactionLog.deleted_arrays", root.DeletedArraysLength(), root.DeletedArrays, &tl.DeletedArrays},
		{fTxUpdatedArrays, "TransactionLog.updated_arrays", root.UpdatedArraysLength(), root.UpdatedArrays, &tl.UpdatedArrays},
		{fTxUpdatedGroups, "TransactionLog.updated_groups", root.UpdatedGroupsLength(), root.UpdatedGroups, &tl.UpdatedGroups},
	}
	var id8 fbv2.ObjectId8
	for _, l := range lists {
		if !has(t, l.field) {
			return nil, r.missing(l.name)
		}
		n, err := r.vec(l.name, l.n, 8, 8)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			continue
		}
		ids := make([]NodeID, n)
		for j := range ids {
			l.get(&id8, j)
			ids[j] = nodeIDAt(id8.Table())
		}
		*l.dst = ids
	}

	if !has(t, fTxUpdatedChunks) {
		return nil, r.missing("TransactionLog.updated_chunks")
	}
	n, err := r.vec("TransactionLog.updated_chunks", root.UpdatedChunksLength(), 4, int(unsafe.Sizeof(ArrayUpdatedChunks{})))
	if err != nil {
		return nil, err
	}
	if n > 0 {
		tl.UpdatedChunks = make([]ArrayUpdatedChunks, n)
	}
	var uc fbv2.ArrayUpdatedChunks
	var ci fbv2.ChunkIndices
	for i := range tl.UpdatedChunks {
		root.UpdatedChunks(&uc, i)
		if uc.NodeId(&id8) == nil {
			return nil, r.missing("ArrayUpdatedChunks.node_id")
		}
		tl.UpdatedChunks[i].NodeID = nodeIDAt(id8.Table())
		if !has(uc.Table(), fUpdatedChunksChunks) {
			return nil, r.missing("ArrayUpdatedChunks.chunks")
		}
		cnt, err := r.vec("ArrayUpdatedChunks.chunks", uc.ChunksLength(), 4, int(unsafe.Sizeof([]uint32(nil))))
		if err != nil {
			return nil, err
		}
		if cnt == 0 {
			continue
		}
		chunks := make([][]uint32, cnt)
		for j := range chunks {
			uc.Chunks(&ci, j)
			if !has(ci.Table(), fChunkIndicesCoords) {
				return nil, r.missing("ChunkIndices.coords")
			}
			if chunks[j], err = r.readUint32s("ChunkIndices.coords", ci.CoordsLength(), ci.Coords); err != nil {
				return nil, err
			}
		}
		tl.UpdatedChunks[i].Chunks = chunks
	}
	if tl.Extra, err = r.optBytes(has(t, fTxExtra), root.ExtraBytes()); err != nil {
		return nil, err
	}
	if has(t, fTxMovedNodes) {
		if tl.MovedNodes, err = r.movedNodes(root); err != nil {
			return nil, err
		}
	}
	return tl, nil
}

func (r *fbReader) movedNodes(root *fbv2.TransactionLog) ([]MoveOperation, error) {
	n, err := r.vec("TransactionLog.moved_nodes", root.MovedNodesLength(), 4, int(unsafe.Sizeof(MoveOperation{})))
	if err != nil || n == 0 {
		return nil, err
	}
	out := make([]MoveOperation, n)
	var mv fbv2.MoveOperation
	var id8 fbv2.ObjectId8
	for i := range out {
		root.MovedNodes(&mv, i)
		t := mv.Table()
		if !has(t, fMoveFrom) {
			return nil, r.missing("MoveOperation.from")
		}
		if !has(t, fMoveTo) {
			return nil, r.missing("MoveOperation.to")
		}
		if !has(t, fMoveNodeID) || mv.NodeId(&id8) == nil {
			return nil, r.missing("MoveOperation.node_id")
		}
		if out[i].From, err = r.str("MoveOperation.from", mv.From()); err != nil {
			return nil, err
		}
		if out[i].To, err = r.str("MoveOperation.to", mv.To()); err != nil {
			return nil, err
		}
		out[i].NodeID = nodeIDAt(id8.Table())
		switch k := mv.NodeType(); k {
		case fbv2.MovedNodeTypeGroup:
			out[i].NodeType = NodeGroup
		case fbv2.MovedNodeTypeArray:
			out[i].NodeType = NodeArray
		default:
			return nil, corruptf(r.name, "move of node %s has unknown node type %d", out[i].NodeID, uint8(k))
		}
	}
	return out, nil
}
