package formatv1

import (
	"bytes"
	"fmt"
	"slices"
	"unsafe"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/icerig/icerig/formatv1/internal/fbv1"
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

	fUpdatedChunksChunks = 1
	fChunkIndicesCoords  = 0
)

// EncodeTransactionLog returns the spec-1 transaction log file for tl.
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
	fb, err := buildTransactionLog(tl)
	if err != nil {
		return nil, err
	}
	return frame(FileTypeTransactionLog, fb)
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

	b := flatbuffers.NewBuilder(4096)
	arrays := make([]flatbuffers.UOffsetT, len(updated))
	chunkOffs := []flatbuffers.UOffsetT{}
	for i, u := range updated {
		chunkOffs = chunkOffs[:0]
		for _, c := range u.Chunks {
			coords := createUint32Vector(b, c)
			fbv1.ChunkIndicesStart(b)
			fbv1.ChunkIndicesAddCoords(b, coords)
			chunkOffs = append(chunkOffs, fbv1.ChunkIndicesEnd(b))
		}
		chunks := createOffsetVector(b, chunkOffs)
		fbv1.ArrayUpdatedChunksStart(b)
		fbv1.ArrayUpdatedChunksAddChunks(b, chunks)
		fbv1.ArrayUpdatedChunksAddNodeId(b, createObjectID8(b, u.NodeID))
		arrays[i] = fbv1.ArrayUpdatedChunksEnd(b)
	}
	updatedVec := createOffsetVector(b, arrays)

	var vecs [6]flatbuffers.UOffsetT
	for i, ids := range lists {
		b.StartVector(8, len(ids), 1)
		for j := len(ids) - 1; j >= 0; j-- {
			createObjectID8(b, ids[j])
		}
		vecs[i] = b.EndVector(len(ids))
	}

	fbv1.TransactionLogStart(b)
	fbv1.TransactionLogAddUpdatedChunks(b, updatedVec)
	fbv1.TransactionLogAddUpdatedGroups(b, vecs[4])
	fbv1.TransactionLogAddUpdatedArrays(b, vecs[5])
	fbv1.TransactionLogAddDeletedArrays(b, vecs[3])
	fbv1.TransactionLogAddDeletedGroups(b, vecs[2])
	fbv1.TransactionLogAddNewArrays(b, vecs[1])
	fbv1.TransactionLogAddNewGroups(b, vecs[0])
	fbv1.TransactionLogAddId(b, createObjectID12(b, tl.ID))
	return finish(b, fbv1.TransactionLogEnd(b)), nil
}

// DecodeTransactionLog decodes a spec-1 transaction log file. name is the
// object key and appears in every error. Errors wrap ErrUnsupportedSpec or
// ErrCorrupt. Empty lists decode as nil.
func DecodeTransactionLog(name string, data []byte) (*TransactionLog, error) {
	fb, err := unframe(name, data, FileTypeTransactionLog)
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
	return tl, nil
}

func (r *fbReader) transactionLog() (*TransactionLog, error) {
	root := fbv1.GetRootAsTransactionLog(r.buf, 0)
	t := root.Table()
	tl := &TransactionLog{}
	var id12 fbv1.ObjectId12
	if root.Id(&id12) == nil {
		return nil, r.missing("TransactionLog.id")
	}
	tl.ID = objectIDAt(id12.Table())

	lists := []struct {
		field int
		name  string
		n     int
		get   func(*fbv1.ObjectId8, int) bool
		dst   *[]NodeID
	}{
		{fTxNewGroups, "TransactionLog.new_groups", root.NewGroupsLength(), root.NewGroups, &tl.NewGroups},
		{fTxNewArrays, "TransactionLog.new_arrays", root.NewArraysLength(), root.NewArrays, &tl.NewArrays},
		{fTxDeletedGroups, "TransactionLog.deleted_groups", root.DeletedGroupsLength(), root.DeletedGroups, &tl.DeletedGroups},
		{fTxDeletedArrays, "TransactionLog.deleted_arrays", root.DeletedArraysLength(), root.DeletedArrays, &tl.DeletedArrays},
		{fTxUpdatedArrays, "TransactionLog.updated_arrays", root.UpdatedArraysLength(), root.UpdatedArrays, &tl.UpdatedArrays},
		{fTxUpdatedGroups, "TransactionLog.updated_groups", root.UpdatedGroupsLength(), root.UpdatedGroups, &tl.UpdatedGroups},
	}
	var id8 fbv1.ObjectId8
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
	var uc fbv1.ArrayUpdatedChunks
	var ci fbv1.ChunkIndices
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
	return tl, nil
}
