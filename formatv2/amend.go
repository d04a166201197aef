package formatv2

import (
	"bytes"
	"slices"
)

// mergeTransactionLogs combines the transaction log of an amended commit
// (older) with the changes of the amending session (newer) into the log of
// the snapshot that replaces it (id): what changed from the amended
// commit's parent to the new snapshot.
//
// A node created by the older commit and deleted by the newer one
// disappears from the log entirely; a node created by the older commit and
// updated by the newer one stays "new"; a node deleted by the newer commit
// is no longer "updated"; chunk updates are united per array (and dropped
// for deleted arrays).
func mergeTransactionLogs(id ObjectID, older, newer *TransactionLog) *TransactionLog {
	set := func(lists ...[]NodeID) map[NodeID]bool {
		m := map[NodeID]bool{}
		for _, l := range lists {
			for _, n := range l {
				m[n] = true
			}
		}
		return m
	}
	newerDeleted := set(newer.DeletedGroups, newer.DeletedArrays)
	olderNew := set(older.NewGroups, older.NewArrays)

	// keep lists the union of lists without the ids drop says.
	keep := func(drop func(NodeID) bool, lists ...[]NodeID) []NodeID {
		var out []NodeID
		for n := range set(lists...) {
			if !drop(n) {
				out = append(out, n)
			}
		}
		slices.SortFunc(out, func(a, b NodeID) int { return bytes.Compare(a[:], b[:]) })
		return out
	}
	gone := func(n NodeID) bool { return newerDeleted[n] }
	created := func(n NodeID) bool { return olderNew[n] }
	goneOrCreated := func(n NodeID) bool { return newerDeleted[n] || olderNew[n] }

	tl := &TransactionLog{
		ID:            id,
		SpecVersion:   newer.SpecVersion,
		NewGroups:     keep(gone, older.NewGroups, newer.NewGroups),
		NewArrays:     keep(gone, older.NewArrays, newer.NewArrays),
		DeletedGroups: keep(created, older.DeletedGroups, newer.DeletedGroups),
		DeletedArrays: keep(created, older.DeletedArrays, newer.DeletedArrays),
		UpdatedGroups: keep(goneOrCreated, older.UpdatedGroups, newer.UpdatedGroups),
		UpdatedArrays: keep(goneOrCreated, older.UpdatedArrays, newer.UpdatedArrays),
	}
	chunks := map[NodeID]map[string][]uint32{}
	for _, l := range [][]ArrayUpdatedChunks{older.UpdatedChunks, newer.UpdatedChunks} {
		for _, uc := range l {
			if newerDeleted[uc.NodeID] {
				continue
			}
			m := chunks[uc.NodeID]
			if m == nil {
				m = map[string][]uint32{}
				chunks[uc.NodeID] = m
			}
			for _, c := range uc.Chunks {
				m[coordKey(c)] = c
			}
		}
	}
	for nid, m := range chunks {
		coords := make([][]uint32, 0, len(m))
		for _, c := range m {
			coords = append(coords, slices.Clone(c))
		}
		slices.SortFunc(coords, compareCoords)
		tl.UpdatedChunks = append(tl.UpdatedChunks, ArrayUpdatedChunks{NodeID: nid, Chunks: coords})
	}
	slices.SortFunc(tl.UpdatedChunks, func(a, b ArrayUpdatedChunks) int { return bytes.Compare(a.NodeID[:], b.NodeID[:]) })
	return tl
}
