package formatv2

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/icerig/icerig/objstore"
)

// Diff is what changed between two snapshots, by node path, as recorded by
// the transaction logs of the commits in between.
type Diff struct {
	NewGroups     []string
	NewArrays     []string
	DeletedGroups []string
	DeletedArrays []string
	UpdatedGroups []string
	UpdatedArrays []string
	// UpdatedChunks maps an array path to the chunk indices written or
	// deleted, sorted in C order without duplicates.
	UpdatedChunks map[string][][]uint32
}

// IsEmpty reports whether the diff records no change.
func (d *Diff) IsEmpty() bool {
	return len(d.NewGroups)+len(d.NewArrays)+len(d.DeletedGroups)+len(d.DeletedArrays)+
		len(d.UpdatedGroups)+len(d.UpdatedArrays)+len(d.UpdatedChunks) == 0
}

// Diff combines the transaction logs of the snapshots after from up to and
// including to (at spec 2 also those of the ancestors expiration pruned
// from under them, as the repo object records; a missing one of those is
// skipped). from must be a strict ancestor of to (ErrNotAncestor
// otherwise, also when from == to, as upstream). Node ids are turned into
// paths with the node trees of from and to; a node created and deleted in
// between has no path in either and is left out, as upstream does.
func (r *Repository) Diff(ctx context.Context, from, to ObjectID) (*Diff, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	// logs lists the transaction logs to combine, oldest last; optional logs
	// (those of ancestors pruned by spec-2 expiration) may be missing.
	type txRef struct {
		id       ObjectID
		optional bool
	}
	var logs []txRef
	if r.spec == SpecVersion2 {
		st, err := r.loadState(ctx)
		if err != nil {
			return nil, fmt.Errorf("formatv2: diff %s..%s: %w", from, to, err)
		}
		ids, err := st.ancestry(to)
		if err != nil {
			return nil, fmt.Errorf("formatv2: diff %s..%s: %w", from, to, err)
		}
		found := false
		for _, id := range ids {
			if id == from {
				found = true
				break
			}
			e := st.snaps[id]
			// A snapshot spans its own commit and those of the ancestors
			// expiration pruned from under it.
			logs = append(logs, txRef{id: id})
			for i := len(e.info.PrunedAncestorTxLogs) - 1; i >= 0; i-- {
				logs = append(logs, txRef{id: e.info.PrunedAncestorTxLogs[i], optional: true})
			}
		}
		if !found || len(logs) == 0 {
			return nil, fmt.Errorf("formatv2: diff %s..%s: %w: %s is not a strict ancestor of %s", from, to, ErrNotAncestor, from, to)
		}
	} else {
		ancestry, err := r.Ancestry(ctx, to)
		if err != nil {
			return nil, fmt.Errorf("formatv2: diff %s..%s: %w", from, to, err)
		}
		found := false
		for _, s := range ancestry {
			if s.ID == from {
				found = true
				break
			}
			if s.ParentID == nil {
				continue // the initial snapshot has no transaction log
			}
			logs = append(logs, txRef{id: s.ID})
		}
		if !found || len(logs) == 0 {
			return nil, fmt.Errorf("formatv2: diff %s..%s: %w: %s is not a strict ancestor of %s", from, to, ErrNotAncestor, from, to)
		}
	}

	paths := map[NodeID]string{}
	for _, id := range []ObjectID{from, to} {
		s, err := r.snapshot(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("formatv2: diff %s..%s: %w", from, to, err)
		}
		for _, n := range s.Nodes {
			paths[n.ID] = n.Path
		}
	}

	sets := [6]map[NodeID]bool{}
	for i := range sets {
		sets[i] = map[NodeID]bool{}
	}
	chunks := map[NodeID]map[string][]uint32{}
	for _, ref := range logs {
		tl, err := r.ReadTransactionLog(ctx, ref.id)
		if err != nil {
			if ref.optional && errors.Is(err, objstore.ErrNotFound) {
				r.log.Warn("diff: transaction log of a pruned ancestor is missing; the diff may be incomplete", "snapshot", ref.id.String())
				continue
			}
			return nil, fmt.Errorf("formatv2: diff %s..%s: %w", from, to, err)
		}
		for i, list := range [6][]NodeID{tl.NewGroups, tl.NewArrays, tl.DeletedGroups, tl.DeletedArrays, tl.UpdatedGroups, tl.UpdatedArrays} {
			for _, id := range list {
				sets[i][id] = true
			}
		}
		for _, uc := range tl.UpdatedChunks {
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

	toPaths := func(set map[NodeID]bool) []string {
		out := []string{}
		for id := range set {
			if p, ok := paths[id]; ok {
				out = append(out, p)
			}
		}
		sort.Strings(out)
		return slices.Compact(out)
	}
	d := &Diff{
		NewGroups:     toPaths(sets[0]),
		NewArrays:     toPaths(sets[1]),
		DeletedGroups: toPaths(sets[2]),
		DeletedArrays: toPaths(sets[3]),
		UpdatedGroups: toPaths(sets[4]),
		UpdatedArrays: toPaths(sets[5]),
		UpdatedChunks: map[string][][]uint32{},
	}
	for id, m := range chunks {
		p, ok := paths[id]
		if !ok {
			continue
		}
		list := d.UpdatedChunks[p]
		for _, c := range m {
			list = append(list, slices.Clone(c))
		}
		slices.SortFunc(list, compareCoords)
		list = slices.CompactFunc(list, func(a, b []uint32) bool { return slices.Equal(a, b) })
		d.UpdatedChunks[p] = list
	}
	return d, nil
}
