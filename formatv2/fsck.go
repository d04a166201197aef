package formatv2

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

// String renders the finding as "object: problem".
func (f Finding) String() string { return f.Object + ": " + f.Problem }

// Fsck checks the integrity of the repository. At spec 2 see fsckV2 (the
// `repo` object and every snapshot it lists). At spec 1, as formatv1: every live ref file parses
// and points to a snapshot that exists and decodes; every snapshot in every
// ref's ancestry decodes, has its transaction log (all but the initial
// snapshot, which has none), holding its own id, and references manifests
// that exist, decode and hold their own id; every native chunk those
// manifests reference exists and is long enough for its offset and length.
// Deleted tags and objects no ref reaches are not checked. Every object is
// read from storage, never from the handle's cache.
//
// It returns the findings sorted by object, each naming the damaged object
// (or ref file). An error is returned only when the check itself could not
// run: storage failing otherwise than with a missing object, or a cancelled
// context.
func (r *Repository) Fsck(ctx context.Context) ([]Finding, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	if r.spec == SpecVersion2 {
		return r.fsckV2(ctx)
	}
	return r.fsckV1(ctx)
}

// fsckV1 is the spec-1 integrity check, as formatv1 does it.
func (r *Repository) fsckV1(ctx context.Context) ([]Finding, error) {
	var findings []Finding
	add := func(obj, format string, args ...any) {
		findings = append(findings, Finding{Object: obj, Problem: fmt.Sprintf(format, args...)})
	}
	// damaged sorts a read error: a missing or undecodable object is a
	// finding (true); anything else stops the check (the error).
	damaged := func(err error) (bool, error) {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return false, fmt.Errorf("fsck: %w", ctxErr)
		}
		if errors.Is(err, objstore.ErrNotFound) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupportedSpec) {
			return true, nil
		}
		return false, fmt.Errorf("fsck: %w", err)
	}
	chunkSizes, err := r.objectSizes(ctx, chunksPrefix)
	if err != nil {
		return nil, err
	}
	txLogs, err := r.objectSizes(ctx, transactionsPrefix)
	if err != nil {
		return nil, err
	}
	refs, err := r.fsckRefs(ctx, add)
	if err != nil {
		return nil, err
	}
	seenSnap := map[ObjectID]bool{}
	seenManifest := map[ObjectID]bool{}
	for _, ref := range refs {
		id := ref.tip
		for {
			if seenSnap[id] {
				break
			}
			seenSnap[id] = true
			snap, err := r.ReadSnapshot(ctx, id)
			if err != nil {
				if ok, err := damaged(err); !ok {
					return nil, err
				}
				if errors.Is(err, objstore.ErrNotFound) {
					add(snapshotKey(id), "missing (reached from %s)", ref.key)
				} else {
					add(snapshotKey(id), "unreadable (reached from %s): %v", ref.key, err)
				}
				break
			}
			if snap.ParentID != nil {
				if _, ok := txLogs[snap.ID.String()]; !ok {
					add(transactionLogKey(id), "missing transaction log")
				} else if tl, err := r.ReadTransactionLog(ctx, id); err != nil {
					if ok, err := damaged(err); !ok {
						return nil, err
					}
					add(transactionLogKey(id), "unreadable: %v", err)
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

// fsckRef is one live ref Fsck walks: its ref file and its tip.
type fsckRef struct {
	key string
	tip ObjectID
}

// fsckRefs lists the live refs in maintenance order (tags, then branches,
// each by name). A ref file that cannot be parsed is a finding, not an
// error, so the rest of the repository is still checked.
func (r *Repository) fsckRefs(ctx context.Context, add func(obj, format string, args ...any)) ([]fsckRef, error) {
	dirs, err := r.refDirs(ctx)
	if err != nil {
		return nil, fmt.Errorf("fsck: %w", err)
	}
	var tags, branches []string
	for dir, d := range dirs {
		if name, ok := strings.CutPrefix(dir, tagDirPrefix); ok && d.ref && !d.tombstone {
			tags = append(tags, name)
		} else if name, ok := strings.CutPrefix(dir, branchDirPrefix); ok && d.ref {
			branches = append(branches, name)
		}
	}
	sort.Strings(tags)
	sort.Strings(branches)
	var out []fsckRef
	for _, group := range []struct {
		kind  string
		names []string
		key   func(string) string
	}{{"tag", tags, tagKey}, {"branch", branches, branchKey}} {
		for _, name := range group.names {
			key := group.key(name)
			tip, _, err := r.readRef(ctx, group.kind, name, key)
			switch {
			case errors.Is(err, ErrRefNotFound):
				continue // deleted since the listing
			case errors.Is(err, ErrCorrupt):
				add(key, "unreadable ref: %v", err)
				continue
			case err != nil:
				return nil, fmt.Errorf("fsck: %w", err)
			}
			out = append(out, fsckRef{key: key, tip: tip})
		}
	}
	return out, nil
}

// fsckReadManifest reads and decodes a manifest from storage, bypassing
// the cache, and checks that it holds its own id.
func (r *Repository) fsckReadManifest(ctx context.Context, id ObjectID) (*Manifest, error) {
	key := manifestKey(id)
	data, err := r.readObject(ctx, "manifest", key)
	if err != nil {
		return nil, err
	}
	m, err := DecodeManifest(key, data)
	if err != nil {
		return nil, err
	}
	if m.ID != id {
		return nil, fmt.Errorf("formatv2: %s: %w: holds manifest id %s", key, ErrCorrupt, m.ID)
	}
	return m, nil
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
