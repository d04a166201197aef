package formatv2

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// ExpireResult reports what ExpireSnapshots did.
type ExpireResult struct {
	// ReleasedSnapshots are the snapshots no ref's ancestry reaches any more
	// through the rewritten parent links (sorted by id text); at spec 2 they
	// left the `repo` object. They stay in storage until GarbageCollect
	// removes them.
	ReleasedSnapshots []ObjectID
	// EditedSnapshots got the initial snapshot as parent: rewritten in place
	// at spec 1, re-parented in the `repo` object at spec 2.
	EditedSnapshots []ObjectID
	// DeletedBranches and DeletedTags are the refs deleted because their tip expired.
	DeletedBranches []string
	DeletedTags     []string
}

// refName is one branch or tag in the order spec-1 maintenance visits them:
// every tag before every branch, each group sorted by name.
type refName struct {
	tag  bool
	name string
}

func (r refName) String() string {
	if r.tag {
		return "tag " + r.name
	}
	return "branch " + r.name
}

// orderedRefs lists live refs in maintenance order (tags first, then
// branches, each sorted by name) with their tips.
func (r *Repository) orderedRefs(ctx context.Context) ([]refName, map[refName]ObjectID, error) {
	tags, err := r.ListTags(ctx)
	if err != nil {
		return nil, nil, err
	}
	branches, err := r.ListBranches(ctx)
	if err != nil {
		return nil, nil, err
	}
	tips := make(map[refName]ObjectID, len(tags)+len(branches))
	var order []refName
	for _, group := range []struct {
		tag  bool
		refs map[string]ObjectID
	}{{true, tags}, {false, branches}} {
		names := make([]string, 0, len(group.refs))
		for n := range group.refs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			ref := refName{tag: group.tag, name: n}
			order = append(order, ref)
			tips[ref] = group.refs[n]
		}
	}
	return order, tips, nil
}

// ExpireSnapshots detaches history older than olderThan from every ref.
//
// At spec 2 only the `repo` object changes (see expireV2): expired
// snapshots leave it, the survivors whose parent expired are re-parented to
// the root with the expired ancestors recorded as pruned, and refs whose tip
// expired are deleted when asked (never main, never a ref at the initial
// snapshot); the ops log records "expiration ran".
//
// At spec 1 it has the semantics of upstream Icechunk 1.x, as formatv1:
// Refs are visited tags first, then branches, each alphabetically. For each
// ref the ancestry of its tip is walked: the oldest snapshot flushed at or after
// olderThan (or the tip itself, when the tip is older) is rewritten in place
// with the repository's initial snapshot as its parent, so the snapshots
// between them leave that ref's history. A snapshot flushed exactly at
// olderThan is not expired (the cutoff is strict). Refs whose tip is older than
// the cutoff are deleted when asked (tags get a tombstone); main never is.
//
// Nothing is deleted from storage: GarbageCollect removes released snapshots.
func (r *Repository) ExpireSnapshots(ctx context.Context, olderThan time.Time, deleteExpiredBranches, deleteExpiredTags bool) (*ExpireResult, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	if r.spec == SpecVersion2 {
		return r.expireV2(ctx, olderThan, deleteExpiredBranches, deleteExpiredTags)
	}
	return r.expireV1(ctx, olderThan, deleteExpiredBranches, deleteExpiredTags)
}

// expireV1 is spec-1 expiration, exactly as formatv1 does it.
func (r *Repository) expireV1(ctx context.Context, olderThan time.Time, deleteExpiredBranches, deleteExpiredTags bool) (*ExpireResult, error) {
	order, tips, err := r.orderedRefs(ctx)
	if err != nil {
		return nil, fmt.Errorf("expire snapshots: %w", err)
	}
	released := map[ObjectID]bool{}
	edited := map[ObjectID]bool{}
	res := &ExpireResult{}
	for _, ref := range order {
		expired, err := r.expireRef(ctx, tips[ref], olderThan, released, edited)
		if err != nil {
			return nil, fmt.Errorf("expire snapshots: %s: %w", ref, err)
		}
		if !expired {
			continue
		}
		switch {
		case ref.tag && deleteExpiredTags:
			if err := r.DeleteTag(ctx, ref.name); err != nil {
				return nil, fmt.Errorf("expire snapshots: delete expired %s: %w", ref, err)
			}
			res.DeletedTags = append(res.DeletedTags, ref.name)
		case !ref.tag && deleteExpiredBranches && ref.name != "main":
			if err := r.DeleteBranch(ctx, ref.name); err != nil {
				return nil, fmt.Errorf("expire snapshots: delete expired %s: %w", ref, err)
			}
			res.DeletedBranches = append(res.DeletedBranches, ref.name)
		}
	}
	res.ReleasedSnapshots = sortedIDs(released)
	res.EditedSnapshots = sortedIDs(edited)
	return res, nil
}

// expireRef expires the history behind one ref tip. It reports whether the
// tip itself is older than the cutoff, adds the snapshots it detached to
// released and the snapshot it rewrote to edited.
func (r *Repository) expireRef(ctx context.Context, tip ObjectID, olderThan time.Time, released, edited map[ObjectID]bool) (bool, error) {
	ancestry, err := r.Ancestry(ctx, tip)
	if err != nil {
		return false, err
	}
	if len(ancestry) == 0 {
		return false, fmt.Errorf("snapshot %s: %w: empty ancestry", tip, ErrCorrupt)
	}
	isOld := func(s *Snapshot) bool { return flushTime(s).Before(olderThan) }
	tipExpired := isOld(ancestry[0])

	// editable ends as the oldest snapshot that is not expired (the tip when
	// every snapshot is); root ends as the oldest snapshot of the chain.
	editable, root := ancestry[0], ancestry[0]
	var detached []ObjectID
	for _, s := range ancestry {
		if !isOld(s) {
			editable = s
		} else {
			detached = append(detached, s.ID)
			root = s
		}
	}
	if editable.ID == root.ID || root.ID == tip ||
		(editable.ParentID != nil && *editable.ParentID == root.ID) {
		return tipExpired, nil
	}
	if root.ParentID != nil {
		return false, fmt.Errorf("snapshot %s: %w: oldest ancestor has a parent", root.ID, ErrCorrupt)
	}
	rewritten := *editable
	rootID := root.ID
	rewritten.ParentID = &rootID
	data, err := EncodeSnapshot(&rewritten)
	if err != nil {
		return false, fmt.Errorf("snapshot %s: %w", editable.ID, err)
	}
	if _, err := r.Store().Put(ctx, snapshotKey(editable.ID), data); err != nil {
		return false, fmt.Errorf("rewrite %s: %w", snapshotKey(editable.ID), err)
	}
	r.forgetSnapshot(editable.ID)
	for _, id := range detached {
		if id != root.ID {
			released[id] = true
		}
	}
	edited[editable.ID] = true
	return tipExpired, nil
}

// flushTime converts a snapshot's flush time (microseconds) to a time.Time.
func flushTime(s *Snapshot) time.Time {
	return time.UnixMicro(int64(s.FlushedAt)).UTC()
}

func sortedIDs(set map[ObjectID]bool) []ObjectID {
	ids := make([]ObjectID, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	return ids
}
