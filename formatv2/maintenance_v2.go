package formatv2

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/icerig/icerig/objstore"
)

// Spec-2 expiration, garbage collection and integrity check. Expiration
// touches only the `repo` object; GC edits the `repo` object first (dropping
// the snapshots it deletes) and then deletes files. Both compute their
// change from one version of the `repo` object and start over if it moved
// before they could write.

// expireV2 expires snapshots of a spec-2 repository, as upstream 2.x does:
//
//   - a snapshot is expired when its flush time is before olderThan and it
//     has a parent (roots, such as the initial snapshot, never expire);
//   - expired snapshots leave the `repo` object ("released"), except those
//     a surviving ref points at: the tip of main, the tips of branches when
//     deleteExpiredBranches is false, the tips of tags when
//     deleteExpiredTags is false;
//   - a surviving snapshot whose parent was released is re-parented to the
//     root of its history, and every ancestor between them (with the
//     ancestors they had pruned) is recorded, oldest first, in its pruned
//     ancestor transaction logs, so diffs across it stay complete;
//   - when asked, tags and branches (never main) whose tip is expired are
//     deleted (a branch sharing main's tip is deleted too; its tip
//     survives as main's).
//
// Nothing is deleted from storage: GarbageCollect does that.
func (r *Repository) expireV2(ctx context.Context, olderThan time.Time, deleteExpiredBranches, deleteExpiredTags bool) (*ExpireResult, error) {
	for attempt := 1; ; attempt++ {
		info, st, _, v, err := r.readRepo(ctx)
		if err != nil {
			return nil, fmt.Errorf("expire snapshots: %w", err)
		}
		if info.Status.Availability != RepoOnline {
			return nil, fmt.Errorf("expire snapshots: %w: status is %s", ErrRepositoryNotOnline, availabilityName(info.Status.Availability))
		}
		res, err := planExpiration(st, olderThan, deleteExpiredBranches, deleteExpiredTags)
		if err != nil {
			return nil, fmt.Errorf("expire snapshots: %w", err)
		}
		_, err = r.updateRepo(ctx, repoChange{
			what:      "expire snapshots",
			ifVersion: v,
			mutate: func(cur *repoState, _ *RepoInfo) (Update, error) {
				*cur = *st
				return Update{Type: UpdateExpirationRan}, nil
			},
		})
		if errors.Is(err, errRepoMoved) {
			if attempt >= maxRepoUpdateAttempts {
				return nil, fmt.Errorf("expire snapshots: %w: the %s object kept changing (%d attempts)", ErrConflict, repoInfoKey, attempt)
			}
			r.log.Debug("expire snapshots: repo object moved, starting over", "attempt", attempt)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("expire snapshots: %w", err)
		}
		return res, nil
	}
}

// planExpiration applies spec-2 expiration to st (in place) and reports it.
func planExpiration(st *repoState, olderThan time.Time, deleteExpiredBranches, deleteExpiredTags bool) (*ExpireResult, error) {
	mainTip, hasMain := st.branches[mainBranch]
	tagTips := map[ObjectID]bool{}
	for _, id := range st.tags {
		tagTips[id] = true
	}
	branchTips := map[ObjectID]bool{}
	for _, id := range st.branches {
		branchTips[id] = true
	}
	expired := map[ObjectID]bool{}
	released := map[ObjectID]bool{}
	for id, e := range st.snaps {
		if e.parent == nil || !microsToTime(e.info.FlushedAt).Before(olderThan) {
			continue
		}
		expired[id] = true
		protected := (!deleteExpiredTags && tagTips[id]) ||
			((!deleteExpiredBranches || (hasMain && id == mainTip)) && branchTips[id])
		if !protected {
			released[id] = true
		}
	}

	// Re-parent the survivors whose parent is released, computed on the
	// unmodified state.
	type edit struct {
		parent ObjectID
		pruned []ObjectID
	}
	edits := map[ObjectID]edit{}
	for id, e := range st.snaps {
		if released[id] || e.parent == nil || !released[*e.parent] {
			continue
		}
		anc, err := st.ancestry(id)
		if err != nil {
			return nil, err
		}
		root := anc[len(anc)-1]
		var pruned []ObjectID
		// anc[1:len-1] are the collapsed ancestors, newest first.
		for i := len(anc) - 2; i >= 1; i-- {
			pruned = append(pruned, st.snaps[anc[i]].info.PrunedAncestorTxLogs...)
			pruned = append(pruned, anc[i])
		}
		pruned = append(pruned, e.info.PrunedAncestorTxLogs...)
		edits[id] = edit{parent: root, pruned: pruned}
	}
	for id, ed := range edits {
		e := st.snaps[id]
		p := ed.parent
		e.parent = &p
		e.info.PrunedAncestorTxLogs = ed.pruned
	}
	for id := range released {
		delete(st.snaps, id)
	}

	res := &ExpireResult{}
	for _, name := range sortedNames(st.tags) {
		if deleteExpiredTags && expired[st.tags[name]] {
			delete(st.tags, name)
			st.deletedTags[name] = true
			res.DeletedTags = append(res.DeletedTags, name)
		}
	}
	for _, name := range sortedNames(st.branches) {
		if deleteExpiredBranches && name != mainBranch && expired[st.branches[name]] {
			delete(st.branches, name)
			res.DeletedBranches = append(res.DeletedBranches, name)
		}
	}
	res.ReleasedSnapshots = sortedIDs(released)
	edited := map[ObjectID]bool{}
	for id := range edits {
		edited[id] = true
	}
	res.EditedSnapshots = sortedIDs(edited)
	return res, nil
}

// gcV2 garbage-collects a spec-2 repository, as upstream 2.x does:
//
//   - kept snapshots: every snapshot in the ancestry (as the `repo` object
//     records it) of a branch or tag, and every snapshot of the `repo`
//     object whose file was written at or after olderThan (or is not listed
//     yet);
//   - the other snapshots of the `repo` object are dropped from it (a kept
//     snapshot whose parent is dropped is re-parented to its nearest kept
//     ancestor, the dropped ones recorded as pruned ancestors), with a "GC
//     ran" ops log entry — unless dryRun;
//   - then every snapshot file not kept, every transaction log that belongs
//     neither to a kept snapshot nor to a pruned ancestor the `repo` object
//     lists, every manifest no kept snapshot references and every chunk no
//     kept manifest references is deleted, if written before olderThan.
//
// The `overwritten/` backups are never deleted.
func (r *Repository) gcV2(ctx context.Context, olderThan time.Time, dryRun bool) (*GCSummary, error) {
	for attempt := 1; ; attempt++ {
		sum, err := r.gcV2Once(ctx, olderThan, dryRun)
		if errors.Is(err, errRepoMoved) {
			if attempt >= maxRepoUpdateAttempts {
				return nil, fmt.Errorf("garbage collect: %w: the %s object kept changing (%d attempts)", ErrConflict, repoInfoKey, attempt)
			}
			r.log.Debug("garbage collect: repo object moved, starting over", "attempt", attempt)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("garbage collect: %w", err)
		}
		return sum, nil
	}
}

func (r *Repository) gcV2Once(ctx context.Context, olderThan time.Time, dryRun bool) (*GCSummary, error) {
	snapObjs, err := r.store.List(ctx, snapshotsPrefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", snapshotsPrefix, err)
	}
	written := map[ObjectID]time.Time{}
	for _, o := range snapObjs {
		if id, err := ParseObjectID(strings.TrimPrefix(o.Key, snapshotsPrefix)); err == nil {
			written[id] = o.ModTime
		}
	}
	info, st, _, v, err := r.readRepo(ctx)
	if err != nil {
		return nil, err
	}
	if info.Status.Availability != RepoOnline {
		return nil, fmt.Errorf("%w: status is %s", ErrRepositoryNotOnline, availabilityName(info.Status.Availability))
	}

	keepSnaps := map[ObjectID]bool{}
	for _, tips := range []map[string]ObjectID{st.tags, st.branches} {
		for _, name := range sortedNames(tips) {
			anc, err := st.ancestry(tips[name])
			if err != nil {
				return nil, err
			}
			for _, id := range anc {
				if keepSnaps[id] {
					break
				}
				keepSnaps[id] = true
			}
		}
	}
	for id := range st.snaps {
		if t, ok := written[id]; !ok || !t.Before(olderThan) {
			keepSnaps[id] = true
		}
	}
	drop := map[ObjectID]bool{}
	for id := range st.snaps {
		if !keepSnaps[id] {
			drop[id] = true
		}
	}

	keep := &reachable{snapshots: keepSnaps, manifests: map[ObjectID]bool{}, chunks: map[ObjectID]bool{}}
	for _, id := range sortedIDs(keepSnaps) {
		s, err := r.snapshot(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("kept snapshot %s: %w", id, err)
		}
		for _, m := range manifestsOf(s) {
			if keep.manifests[m] {
				continue
			}
			keep.manifests[m] = true
			man, err := r.ReadManifest(ctx, m)
			if err != nil {
				return nil, fmt.Errorf("snapshot %s: %w", id, err)
			}
			for _, am := range man.Arrays {
				for _, cr := range am.Refs {
					if cr.Kind == ChunkNative {
						keep.chunks[cr.ChunkID] = true
					}
				}
			}
		}
	}

	if err := reparentOverDropped(st, keepSnaps, drop); err != nil {
		return nil, err
	}
	if !dryRun {
		if _, err := r.updateRepo(ctx, repoChange{
			what:      "garbage collect",
			ifVersion: v,
			mutate: func(cur *repoState, _ *RepoInfo) (Update, error) {
				*cur = *st
				return Update{Type: UpdateGCRan}, nil
			},
		}); err != nil {
			return nil, err
		}
	}
	keepTx := map[ObjectID]bool{}
	for id := range keepSnaps {
		keepTx[id] = true
	}
	for _, e := range st.snaps {
		for _, id := range e.info.PrunedAncestorTxLogs {
			keepTx[id] = true
		}
	}
	return r.deleteUnkept(ctx, olderThan, dryRun, []gcKind{
		{snapshotsPrefix, keepSnaps},
		{transactionsPrefix, keepTx},
		{manifestsPrefix, keep.manifests},
		{chunksPrefix, keep.chunks},
	})
}

// reparentOverDropped removes the dropped snapshots from st, re-parenting
// each kept snapshot whose parent is dropped to its nearest kept ancestor
// and recording the dropped ones in between (with the ancestors they had
// pruned) as its pruned ancestors, oldest first.
func reparentOverDropped(st *repoState, keep, drop map[ObjectID]bool) error {
	type edit struct {
		parent *ObjectID
		pruned []ObjectID
	}
	edits := map[ObjectID]edit{}
	for id, e := range st.snaps {
		if drop[id] || e.parent == nil || !drop[*e.parent] {
			continue
		}
		anc, err := st.ancestry(id)
		if err != nil {
			return err
		}
		var collapsed []ObjectID
		var parent *ObjectID
		for _, a := range anc[1:] {
			if keep[a] {
				p := a
				parent = &p
				break
			}
			collapsed = append(collapsed, a)
		}
		if parent == nil {
			return fmt.Errorf("%w: no ancestor of snapshot %s survives garbage collection", ErrCorrupt, id)
		}
		var pruned []ObjectID
		for i := len(collapsed) - 1; i >= 0; i-- {
			pruned = append(pruned, st.snaps[collapsed[i]].info.PrunedAncestorTxLogs...)
			pruned = append(pruned, collapsed[i])
		}
		pruned = append(pruned, e.info.PrunedAncestorTxLogs...)
		edits[id] = edit{parent: parent, pruned: pruned}
	}
	for id, ed := range edits {
		st.snaps[id].parent = ed.parent
		st.snaps[id].info.PrunedAncestorTxLogs = ed.pruned
	}
	for id := range drop {
		delete(st.snaps, id)
	}
	return nil
}

// gcKind is one object kind GC sweeps: its prefix and the ids to keep.
type gcKind struct {
	prefix string
	keep   map[ObjectID]bool
}

// deleteUnkept deletes (or, in a dry run, counts) every object of the
// kinds, in order, that is not kept and was written before olderThan.
// Objects whose names are not ids are never touched.
func (r *Repository) deleteUnkept(ctx context.Context, olderThan time.Time, dryRun bool, kinds []gcKind) (*GCSummary, error) {
	sum := &GCSummary{}
	counts := map[string]*int{
		snapshotsPrefix:    &sum.SnapshotsDeleted,
		transactionsPrefix: &sum.TransactionLogsDeleted,
		manifestsPrefix:    &sum.ManifestsDeleted,
		chunksPrefix:       &sum.ChunksDeleted,
	}
	for _, kind := range kinds {
		objs, err := r.store.List(ctx, kind.prefix)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", kind.prefix, err)
		}
		for _, o := range objs {
			if !o.ModTime.Before(olderThan) {
				continue
			}
			id, err := ParseObjectID(strings.TrimPrefix(o.Key, kind.prefix))
			if err != nil {
				r.log.Warn("garbage collect: ignoring foreign object", "key", o.Key, "err", err)
				continue
			}
			if kind.keep[id] {
				continue
			}
			if !dryRun {
				if err := r.store.Delete(ctx, o.Key); err != nil {
					return nil, fmt.Errorf("delete %s: %w", o.Key, err)
				}
				switch kind.prefix {
				case snapshotsPrefix:
					r.forgetSnapshot(id)
				case manifestsPrefix:
					r.cache.mu.Lock()
					delete(r.cache.manifests, id)
					r.cache.mu.Unlock()
				}
			}
			*counts[kind.prefix]++
			sum.BytesDeleted += o.Size
		}
	}
	return sum, nil
}

// fsckV2 checks a spec-2 repository: the `repo` object decodes and its
// indices are consistent; every snapshot it lists exists, decodes and holds
// its own id; every non-root snapshot has its transaction log (roots need
// none: a migrated repository's initial snapshot has none); every manifest
// those snapshots reference exists, decodes and holds its own id; every
// native chunk those manifests reference exists and is long enough.
// Findings are sorted by object; an error is returned only when the check
// could not run.
func (r *Repository) fsckV2(ctx context.Context) ([]Finding, error) {
	var findings []Finding
	add := func(obj, format string, args ...any) {
		findings = append(findings, Finding{Object: obj, Problem: fmt.Sprintf(format, args...)})
	}
	damaged := func(err error) (bool, error) {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return false, fmt.Errorf("fsck: %w", ctxErr)
		}
		if errors.Is(err, objstore.ErrNotFound) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupportedSpec) {
			return true, nil
		}
		return false, fmt.Errorf("fsck: %w", err)
	}
	data, v, err := r.store.Get(ctx, repoInfoKey)
	if err != nil {
		if ok, err := damaged(err); !ok {
			return nil, err
		}
		return []Finding{{Object: repoInfoKey, Problem: "missing"}}, nil
	}
	// st is shared with the handle's cache of the `repo` object: read only.
	_, st, cached, err := r.cachedRepo(v, data)
	if err != nil {
		return nil, fmt.Errorf("fsck: %w", err)
	}
	if !cached {
		info, err := decodeRepoObject(repoInfoKey, data)
		if err != nil {
			if ok, err := damaged(err); !ok {
				return nil, err
			}
			return []Finding{{Object: repoInfoKey, Problem: fmt.Sprintf("unreadable: %v", err)}}, nil
		}
		if st, err = stateOf(repoInfoKey, info); err != nil {
			return []Finding{{Object: repoInfoKey, Problem: err.Error()}}, nil
		}
		r.repoObj.put(v, data, info, st)
	}
	if _, ok := st.branches[mainBranch]; !ok {
		add(repoInfoKey, "has no main branch")
	}
	for id := range st.snaps {
		if _, err := st.ancestry(id); err != nil {
			add(repoInfoKey, "ancestry of snapshot %s: %v", id, err)
		}
	}
	chunkSizes, err := r.objectSizes(ctx, chunksPrefix)
	if err != nil {
		return nil, err
	}
	seenManifest := map[ObjectID]bool{}
	for _, id := range sortedIDs(keysOf(st.snaps)) {
		snap, err := r.ReadSnapshot(ctx, id)
		if err != nil {
			if ok, err := damaged(err); !ok {
				return nil, err
			}
			if errors.Is(err, objstore.ErrNotFound) {
				add(snapshotKey(id), "missing (listed in %s)", repoInfoKey)
			} else {
				add(snapshotKey(id), "unreadable (listed in %s): %v", repoInfoKey, err)
			}
			continue
		}
		if st.snaps[id].parent != nil {
			if tl, err := r.ReadTransactionLog(ctx, id); err != nil {
				if ok, err := damaged(err); !ok {
					return nil, err
				}
				if errors.Is(err, objstore.ErrNotFound) {
					add(transactionLogKey(id), "missing transaction log")
				} else {
					add(transactionLogKey(id), "unreadable: %v", err)
				}
			} else if tl.ID != id {
				add(transactionLogKey(id), "holds the transaction log of snapshot %s", tl.ID)
			}
		}
		for _, m := range manifestsOf(snap) {
			if seenManifest[m] {
				continue
			}
			seenManifest[m] = true
			man, err := r.fsckReadManifest(ctx, m)
			if err != nil {
				if ok, err := damaged(err); !ok {
					return nil, err
				}
				add(manifestKey(m), "unreadable or missing (snapshot %s): %v", id, err)
				continue
			}
			for _, am := range man.Arrays {
				for _, cr := range am.Refs {
					if cr.Kind != ChunkNative {
						continue
					}
					size, ok := chunkSizes[cr.ChunkID.String()]
					switch {
					case !ok:
						add(chunkKey(cr.ChunkID), "missing (manifest %s, node %s, index %v)", m, am.NodeID, cr.Index)
					case uint64(size) < cr.Offset+cr.Length || cr.Offset+cr.Length < cr.Offset:
						add(chunkKey(cr.ChunkID), "has %d bytes, manifest %s needs offset %d length %d", size, m, cr.Offset, cr.Length)
					}
				}
			}
		}
	}
	sort.Slice(findings, func(i, j int) bool {
		if findings[i].Object != findings[j].Object {
			return findings[i].Object < findings[j].Object
		}
		return findings[i].Problem < findings[j].Problem
	})
	return findings, nil
}

// keysOf returns the set of keys of a map.
func keysOf[V any](m map[ObjectID]V) map[ObjectID]bool {
	out := make(map[ObjectID]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
