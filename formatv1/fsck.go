package formatv1

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/icerig/icerig/objstore"
)

// Finding is one integrity problem Fsck found.
type Finding struct {
	// Object is the key of the object (or ref) at fault.
	Object string
	// Problem says what is wrong with it.
	Problem string
}

func (f Finding) String() string { return f.Object + ": " + f.Problem }

// Fsck checks the integrity of the repository: every live ref points to a
// snapshot that exists and decodes; every snapshot in every ref's ancestry
// decodes, has its transaction log (all but the initial snapshot), and
// references manifests that exist and decode; every native chunk those
// manifests reference exists and is long enough for its offset and length.
// It returns the findings sorted by object; an error is returned only when the
// check itself could not run (storage failure, cancelled context).
func (r *Repository) Fsck(ctx context.Context) ([]Finding, error) {
	var findings []Finding
	add := func(obj, format string, args ...any) {
		findings = append(findings, Finding{Object: obj, Problem: fmt.Sprintf(format, args...)})
	}
	chunkSizes, err := r.objectSizes(ctx, chunksPrefix)
	if err != nil {
		return nil, err
	}
	txLogs, err := r.objectSizes(ctx, transactionsPrefix)
	if err != nil {
		return nil, err
	}
	order, tips, err := r.orderedRefs(ctx)
	if err != nil {
		return nil, fmt.Errorf("fsck: %w", err)
	}
	seenSnap := map[ObjectID]bool{}
	seenManifest := map[ObjectID]bool{}
	for _, ref := range order {
		refKey := "refs/branch." + ref.name + "/ref.json"
		if ref.tag {
			refKey = "refs/tag." + ref.name + "/ref.json"
		}
		id := tips[ref]
		for steps := 0; ; steps++ {
			if seenSnap[id] {
				break
			}
			seenSnap[id] = true
			snap, err := r.ReadSnapshot(ctx, id)
			if err != nil {
				if ctxErr := ctx.Err(); ctxErr != nil {
					return nil, ctxErr
				}
				if errors.Is(err, ErrRefNotFound) || errors.Is(err, objstore.ErrNotFound) {
					add(snapshotKey(id), "missing (reached from %s)", refKey)
				} else {
					add(snapshotKey(id), "unreadable: %v", err)
				}
				break
			}
			if snap.ID != id {
				add(snapshotKey(id), "holds snapshot id %s", snap.ID)
			}
			if snap.ParentID != nil {
				if _, ok := txLogs[snap.ID.String()]; !ok {
					add(transactionLogKey(id), "missing transaction log")
				} else if _, err := r.ReadTransactionLog(ctx, id); err != nil {
					add(transactionLogKey(id), "unreadable: %v", err)
				}
			}
			for _, m := range manifestsOf(snap) {
				if seenManifest[m] {
					continue
				}
				seenManifest[m] = true
				man, err := r.ReadManifest(ctx, m)
				if err != nil {
					if ctxErr := ctx.Err(); ctxErr != nil {
						return nil, ctxErr
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
						case uint64(size) < cr.Offset+cr.Length:
							add(chunkKey(cr.ChunkID), "has %d bytes, manifest %s needs %d", size, m, cr.Offset+cr.Length)
						}
					}
				}
			}
			if snap.ParentID == nil {
				break
			}
			id = *snap.ParentID
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

// manifestsOf lists every manifest a snapshot references, through its
// manifest list and through its nodes' manifest refs, without duplicates.
func manifestsOf(s *Snapshot) []ObjectID {
	seen := map[ObjectID]bool{}
	var ids []ObjectID
	addID := func(id ObjectID) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, mf := range s.ManifestFiles {
		addID(mf.ID)
	}
	for _, n := range s.Nodes {
		for _, mr := range n.Manifests {
			addID(mr.ID)
		}
	}
	return ids
}

// objectSizes lists one prefix and maps each object's id text to its size.
func (r *Repository) objectSizes(ctx context.Context, prefix string) (map[string]int64, error) {
	objs, err := r.Store().List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("fsck: list %s: %w", prefix, err)
	}
	sizes := make(map[string]int64, len(objs))
	for _, o := range objs {
		sizes[strings.TrimPrefix(o.Key, prefix)] = o.Size
	}
	return sizes, nil
}
