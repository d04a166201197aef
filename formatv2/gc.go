package formatv2

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Key prefixes of the object kinds a spec-1 repository stores.
const (
	snapshotsPrefix    = "snapshots/"
	manifestsPrefix    = "manifests/"
	chunksPrefix       = "chunks/"
	transactionsPrefix = "transactions/"
)

func snapshotKey(id ObjectID) string       { return snapshotsPrefix + id.String() }
func manifestKey(id ObjectID) string       { return manifestsPrefix + id.String() }
func chunkKey(id ObjectID) string          { return chunksPrefix + id.String() }
func transactionLogKey(id ObjectID) string { return transactionsPrefix + id.String() }

// GCSummary counts what GarbageCollect deleted (or, in a dry run, would delete).
type GCSummary struct {
	SnapshotsDeleted       int
	ManifestsDeleted       int
	ChunksDeleted          int
	TransactionLogsDeleted int
	BytesDeleted           int64
}

// reachable is the set of objects a repository's refs keep alive.
type reachable struct {
	snapshots map[ObjectID]bool
	manifests map[ObjectID]bool
	chunks    map[ObjectID]bool
}

// findReachable walks every live ref's ancestry (tags first, then
// branches) and collects the snapshots, the manifests they reference and the
// native chunks those manifests reference. Like upstream's pointed_snapshots
// (ops/mod.rs), a walk stops at the first snapshot already collected: its
// ancestors were collected with it.
//
// Manifests are those of each snapshot's manifest list, as upstream keeps,
// plus any its nodes' manifest refs name (the same set in a well-formed
// snapshot): GC never deletes a manifest a kept snapshot points at.
func (r *Repository) findReachable(ctx context.Context) (*reachable, error) {
	order, tips, err := r.orderedRefs(ctx)
	if err != nil {
		return nil, err
	}
	keep := &reachable{
		snapshots: map[ObjectID]bool{},
		manifests: map[ObjectID]bool{},
		chunks:    map[ObjectID]bool{},
	}
	for _, ref := range order {
		for id := tips[ref]; !keep.snapshots[id]; {
			s, err := r.ReadSnapshot(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("%s: ancestry of %s: %w", ref, tips[ref], err)
			}
			keep.snapshots[id] = true
			for _, m := range manifestsOf(s) {
				if keep.manifests[m] {
					continue
				}
				keep.manifests[m] = true
				man, err := r.ReadManifest(ctx, m)
				if err != nil {
					return nil, fmt.Errorf("%s: snapshot %s: %w", ref, id, err)
				}
				for _, am := range man.Arrays {
					for _, cr := range am.Refs {
						if cr.Kind == ChunkNative {
							keep.chunks[cr.ChunkID] = true
						}
					}
				}
			}
			if s.ParentID == nil {
				break
			}
			id = *s.ParentID
		}
	}
	return keep, nil
}

// GarbageCollect deletes objects that no live ref reaches and that were
// written before olderThan (strictly). At spec 2 see gcV2: the snapshots
// the `repo` object's refs reach and those written since the cutoff are
// kept, the others leave the `repo` object ("GC ran") and storage. At spec
// 1 it has the semantics of upstream Icechunk 1.x, as formatv1: snapshots reachable from a branch or a non-deleted tag, their
// transaction logs, the manifests they reference (see findReachable) and the
// native chunks in those manifests are kept; every other snapshot,
// transaction log, manifest and chunk whose storage modification time is
// before olderThan is deleted, in that order. With dryRun nothing is
// deleted and the summary says what would be.
func (r *Repository) GarbageCollect(ctx context.Context, olderThan time.Time, dryRun bool) (*GCSummary, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	if r.spec == SpecVersion2 {
		return r.gcV2(ctx, olderThan, dryRun)
	}
	return r.gcV1(ctx, olderThan, dryRun)
}

// gcV1 is spec-1 garbage collection, exactly as formatv1 does it.
func (r *Repository) gcV1(ctx context.Context, olderThan time.Time, dryRun bool) (*GCSummary, error) {
	keep, err := r.findReachable(ctx)
	if err != nil {
		return nil, fmt.Errorf("garbage collect: %w", err)
	}
	sum := &GCSummary{}
	kinds := []struct {
		prefix string
		keep   map[ObjectID]bool
		count  *int
	}{
		{snapshotsPrefix, keep.snapshots, &sum.SnapshotsDeleted},
		{transactionsPrefix, keep.snapshots, &sum.TransactionLogsDeleted},
		{manifestsPrefix, keep.manifests, &sum.ManifestsDeleted},
		{chunksPrefix, keep.chunks, &sum.ChunksDeleted},
	}
	for _, kind := range kinds {
		objs, err := r.Store().List(ctx, kind.prefix)
		if err != nil {
			return nil, fmt.Errorf("garbage collect: list %s: %w", kind.prefix, err)
		}
		for _, o := range objs {
			if !o.ModTime.Before(olderThan) {
				continue
			}
			id, err := ParseObjectID(strings.TrimPrefix(o.Key, kind.prefix))
			if err != nil {
				// Not an object of ours (a stray file): never delete what we cannot name.
				r.logger().Warn("garbage collect: ignoring foreign object", "key", o.Key, "err", err)
				continue
			}
			if kind.keep[id] {
				continue
			}
			if !dryRun {
				if err := r.Store().Delete(ctx, o.Key); err != nil {
					return nil, fmt.Errorf("garbage collect: delete %s: %w", o.Key, err)
				}
				switch kind.prefix {
				case snapshotsPrefix:
					r.forgetSnapshot(id)
				case manifestsPrefix:
					// As upstream drops deleted manifests from its cache (gc.rs:470).
					r.cache.mu.Lock()
					delete(r.cache.manifests, id)
					r.cache.mu.Unlock()
				}
			}
			*kind.count++
			sum.BytesDeleted += o.Size
		}
	}
	return sum, nil
}
