package statemachine

import (
	"slices"
	"time"
)

// Expiration and garbage collection of spec-2 repositories, as upstream
// Icechunk 2.x defines them. At spec 2 the `repo` object lists the
// snapshots (Unlisted marks those it no longer lists) and holds their
// parent links: expiration and GC re-parent snapshots there, never by
// rewriting snapshot files. A snapshot re-parented over others records
// them (oldest first, each after the ancestors it had pruned itself) as
// its pruned ancestors, whose transaction logs GC keeps.

// listed reports whether the repo object lists a snapshot.
func (m *Model) listed(s *Snapshot) bool { return s.Stored && !s.Unlisted }

// reparent is one parent edit: the new parent and pruned ancestors.
type reparent struct {
	parent string
	pruned []string
}

// collapse is the pruned list of a snapshot re-parented over collapsed
// (its old ancestors, newest first).
func (m *Model) collapse(s *Snapshot, collapsed []*Snapshot) []string {
	var pruned []string
	for i := len(collapsed) - 1; i >= 0; i-- {
		pruned = append(pruned, collapsed[i].Pruned...)
		pruned = append(pruned, collapsed[i].Label)
	}
	return append(pruned, s.Pruned...)
}

// Expire2 applies spec-2 expiration. A listed snapshot with a parent
// flushed before olderThan is expired. An expired snapshot leaves the
// listing (is released) unless a surviving ref points at it: main's tip
// always survives, other branch tips survive unless deleteBranches, tag
// tips unless deleteTags. A survivor whose parent was released is
// re-parented to the root of its history over everything between. Tags
// and then branches (never main), each in name order, whose tip expired
// are deleted when asked. Only the repo object changes.
func (m *Model) Expire2(olderThan time.Time, deleteBranches, deleteTags bool) ExpireOutcome {
	mainTip, hasMain := m.Branches[MainBranch]
	tagTips, branchTips := map[string]bool{}, map[string]bool{}
	for _, l := range m.Tags {
		tagTips[l] = true
	}
	for _, l := range m.Branches {
		branchTips[l] = true
	}
	expired, released := map[string]bool{}, map[string]bool{}
	for _, l := range m.order {
		s := m.Snapshots[l]
		if !m.listed(s) || s.Parent == "" || !s.FlushedAt.Before(olderThan) {
			continue
		}
		expired[l] = true
		protected := (!deleteTags && tagTips[l]) ||
			((!deleteBranches || (hasMain && l == mainTip)) && branchTips[l])
		if !protected {
			released[l] = true
		}
	}
	// Edits are computed on the unmodified parent links.
	edits := map[string]reparent{}
	for _, l := range m.order {
		s := m.Snapshots[l]
		if !m.listed(s) || released[l] || s.Parent == "" || !released[s.Parent] {
			continue
		}
		anc := m.Ancestry(l)
		edits[l] = reparent{parent: anc[len(anc)-1].Label, pruned: m.collapse(s, anc[1:len(anc)-1])}
	}
	for l, ed := range edits {
		m.Snapshots[l].Parent, m.Snapshots[l].Pruned = ed.parent, ed.pruned
	}
	for l := range released {
		m.Snapshots[l].Unlisted = true
	}
	out := ExpireOutcome{DeletedBranches: []string{}, DeletedTags: []string{}}
	for _, name := range SortedNames(m.Tags) {
		if deleteTags && expired[m.Tags[name]] {
			delete(m.Tags, name)
			m.DeletedTags[name] = true
			out.DeletedTags = append(out.DeletedTags, name)
		}
	}
	for _, name := range SortedNames(m.Branches) {
		if deleteBranches && name != MainBranch && expired[m.Branches[name]] {
			delete(m.Branches, name)
			out.DeletedBranches = append(out.DeletedBranches, name)
		}
	}
	out.Released = SortedNames(released)
	out.Edited = SortedNames(edits)
	return out
}

// GC2 applies spec-2 garbage collection. Kept: the ancestry of every tag
// and branch, and every listed snapshot whose file was written at or after
// olderThan. The other listed snapshots leave the listing (a kept snapshot
// whose parent leaves is re-parented to its nearest kept ancestor over
// those between) unless dryRun. Then every stored snapshot file not kept,
// every transaction log neither of a kept snapshot nor a pruned ancestor
// of a listed one, every manifest no kept snapshot lists and every chunk
// object no kept manifest references is deleted (counted with dryRun),
// if written before olderThan.
func (m *Model) GC2(olderThan time.Time, dryRun bool) GCOutcome {
	keep := m.refHistories()
	for _, l := range m.order {
		if s := m.Snapshots[l]; m.listed(s) && !s.Written.Before(olderThan) {
			keep[l] = true
		}
	}
	drop := map[string]bool{}
	for _, l := range m.order {
		if s := m.Snapshots[l]; m.listed(s) && !keep[l] {
			drop[l] = true
		}
	}
	keepMan, keepChunk := m.contentOf(keep)
	edits := map[string]reparent{}
	for _, l := range m.order {
		s := m.Snapshots[l]
		if !m.listed(s) || drop[l] || s.Parent == "" || !drop[s.Parent] {
			continue
		}
		anc := m.Ancestry(l)
		i := slices.IndexFunc(anc[1:], func(a *Snapshot) bool { return keep[a.Label] }) + 1
		edits[l] = reparent{parent: anc[i].Label, pruned: m.collapse(s, anc[1:i])}
	}
	// Transaction logs kept: those of kept snapshots and the pruned
	// ancestors of the snapshots still listed (after the edits).
	keepTx := map[string]bool{}
	for l := range keep {
		keepTx[l] = true
	}
	for _, l := range m.order {
		s := m.Snapshots[l]
		if !m.listed(s) || drop[l] {
			continue
		}
		pruned := s.Pruned
		if ed, ok := edits[l]; ok {
			pruned = ed.pruned
		}
		for _, p := range pruned {
			keepTx[p] = true
		}
	}
	if !dryRun {
		for l, ed := range edits {
			m.Snapshots[l].Parent, m.Snapshots[l].Pruned = ed.parent, ed.pruned
		}
		for l := range drop {
			m.Snapshots[l].Unlisted = true
		}
	}
	return m.sweep(olderThan, dryRun, keep, keepTx, keepMan, keepChunk)
}

// sweep deletes (counts, with dryRun) every stored object not kept and
// written before olderThan.
func (m *Model) sweep(olderThan time.Time, dryRun bool, keepSnap, keepTx, keepMan, keepChunk map[string]bool) GCOutcome {
	var out GCOutcome
	for _, l := range m.order {
		s := m.Snapshots[l]
		if s.Stored && !keepSnap[l] && s.Written.Before(olderThan) {
			out.Snapshots++
			if !dryRun {
				s.Stored = false
			}
		}
		if s.TxLog && !keepTx[l] && s.TxWritten.Before(olderThan) {
			out.TransactionLogs++
			if !dryRun {
				s.TxLog = false
			}
		}
	}
	for _, l := range m.Leftovers {
		// A crashed commit's snapshot file and transaction log: no ref
		// or repo object keeps them.
		if l.Snapshot && l.Written.Before(olderThan) {
			out.Snapshots++
			if !dryRun {
				l.Snapshot = false
			}
		}
		if l.TxLog && l.TxWrote.Before(olderThan) {
			out.TransactionLogs++
			if !dryRun {
				l.TxLog = false
			}
		}
	}
	for _, group := range []struct {
		objs  map[string]*Object
		keep  map[string]bool
		count *int
	}{{m.Manifests, keepMan, &out.Manifests}, {m.Chunks, keepChunk, &out.Chunks}} {
		for l, o := range group.objs {
			if o.Stored && !group.keep[l] && o.Written.Before(olderThan) {
				*group.count++
				if !dryRun {
					o.Stored = false
				}
			}
		}
	}
	return out
}
