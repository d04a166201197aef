package formatv2

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/icerig/icerig/objstore"
)

// initialCommitMessage is the message of a repository's first snapshot.
const initialCommitMessage = "Repository initialized"

// objectCache keeps decoded metadata objects. Manifests and transaction logs
// are immutable, so they are cached freely. Snapshot files can be rewritten
// in place by spec-1 expiration (only their parent id changes), so the
// cache is used only where the parent does not matter (node trees and
// manifest lists of sessions); ReadSnapshot and Ancestry always read
// storage.
type objectCache struct {
	mu        sync.Mutex
	snapshots map[ObjectID]*Snapshot
	manifests map[ObjectID]*Manifest
}

// maxCachedObjects bounds each map of the cache.
const maxCachedObjects = 1024

func newObjectCache() *objectCache {
	return &objectCache{snapshots: map[ObjectID]*Snapshot{}, manifests: map[ObjectID]*Manifest{}}
}

func cachePut[V any](c *objectCache, m map[ObjectID]V, id ObjectID, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(m) >= maxCachedObjects {
		n := 0
		for k := range m { // evict an arbitrary half
			delete(m, k)
			if n++; n >= maxCachedObjects/2 {
				break
			}
		}
	}
	m[id] = v
}

func cacheGet[V any](c *objectCache, m map[ObjectID]V, id ObjectID) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := m[id]
	return v, ok
}

func (c *objectCache) forgetSnapshot(id ObjectID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.snapshots, id)
}

// readObject reads one metadata object; a missing one wraps
// objstore.ErrNotFound.
func (r *Repository) readObject(ctx context.Context, kind, key string) ([]byte, error) {
	data, _, err := r.store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("formatv2: read %s %s: %w", kind, key, err)
	}
	return data, nil
}

// ReadSnapshot reads and decodes snapshots/<id> from storage. A missing
// snapshot wraps objstore.ErrNotFound; a snapshot file holding another id is
// ErrCorrupt. The result is the caller's to keep (never shared). Its
// ParentID is what the file holds: nil in spec-2 files, and possibly stale
// in spec-1 files of a spec-2 repository; Ancestry gives the parents the
// repository records.
func (r *Repository) ReadSnapshot(ctx context.Context, id ObjectID) (*Snapshot, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	key := snapshotKey(id)
	data, err := r.readObject(ctx, "snapshot", key)
	if err != nil {
		return nil, err
	}
	s, err := DecodeSnapshot(key, data)
	if err != nil {
		return nil, err
	}
	if s.ID != id {
		return nil, fmt.Errorf("formatv2: %s: %w: holds snapshot id %s", key, ErrCorrupt, s.ID)
	}
	return s, nil
}

// snapshot returns a shared, cached decoded snapshot: callers must not
// modify it, and must not rely on its ParentID (see objectCache).
func (r *Repository) snapshot(ctx context.Context, id ObjectID) (*Snapshot, error) {
	if s, ok := cacheGet(r.cache, r.cache.snapshots, id); ok {
		return s, nil
	}
	key := snapshotKey(id)
	data, err := r.readObject(ctx, "snapshot", key)
	if err != nil {
		return nil, err
	}
	s, err := DecodeSnapshot(key, data)
	if err != nil {
		return nil, err
	}
	if s.ID != id {
		return nil, fmt.Errorf("formatv2: %s: %w: holds snapshot id %s", key, ErrCorrupt, s.ID)
	}
	cachePut(r.cache, r.cache.snapshots, id, s)
	return s, nil
}

// writeSnapshot encodes and stores a new snapshot (create-if-absent).
func (r *Repository) writeSnapshot(ctx context.Context, s *Snapshot) error {
	key := snapshotKey(s.ID)
	data, err := EncodeSnapshot(s)
	if err != nil {
		return fmt.Errorf("formatv2: encode %s: %w", key, err)
	}
	if _, err := r.store.PutIfAbsent(ctx, key, data); err != nil {
		return fmt.Errorf("formatv2: write %s: %w", key, err)
	}
	return nil
}

// ReadManifest reads and decodes manifests/<id> (cached: manifests are
// immutable). The result is shared: do not modify it.
func (r *Repository) ReadManifest(ctx context.Context, id ObjectID) (*Manifest, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	if m, ok := cacheGet(r.cache, r.cache.manifests, id); ok {
		return m, nil
	}
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
	cachePut(r.cache, r.cache.manifests, id, m)
	return m, nil
}

// ReadTransactionLog reads and decodes transactions/<snapshotID>, the
// record of what the commit that made that snapshot changed. The initial
// snapshot of a spec-1 (or migrated) repository has none (the error wraps
// objstore.ErrNotFound); that of a spec-2 repository has an empty one.
func (r *Repository) ReadTransactionLog(ctx context.Context, snapshotID ObjectID) (*TransactionLog, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	key := transactionLogKey(snapshotID)
	data, err := r.readObject(ctx, "transaction log", key)
	if err != nil {
		return nil, err
	}
	return DecodeTransactionLog(key, data)
}

// Ancestry returns the snapshot id and all its ancestors, newest first,
// with every snapshot file read from storage (never from the cache).
//
// At spec 1 it follows the parent ids in the snapshot files. At spec 2 the
// parents come from the `repo` object (which alone knows them: spec-2
// snapshot files have none, and the parent ids of spec-1 files in a
// migrated repository are not authoritative); each returned Snapshot's
// ParentID is set from it. A snapshot the `repo` object does not list is
// ErrRefNotFound. A parent cycle or a missing ancestor is an error naming
// the snapshot.
func (r *Repository) Ancestry(ctx context.Context, id ObjectID) ([]*Snapshot, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	if r.spec == SpecVersion2 {
		st, err := r.loadState(ctx)
		if err != nil {
			return nil, fmt.Errorf("formatv2: ancestry of %s: %w", id, err)
		}
		return r.ancestryV2(ctx, st, id)
	}
	var out []*Snapshot
	seen := map[ObjectID]bool{}
	cur := id
	for {
		if seen[cur] {
			return nil, fmt.Errorf("formatv2: ancestry of %s: %w: parent cycle at %s", id, ErrCorrupt, cur)
		}
		seen[cur] = true
		s, err := r.ReadSnapshot(ctx, cur)
		if err != nil {
			if len(out) > 0 {
				return nil, fmt.Errorf("formatv2: ancestry of %s: parent of %s: %w", id, out[len(out)-1].ID, err)
			}
			return nil, fmt.Errorf("formatv2: ancestry of %s: %w", id, err)
		}
		out = append(out, s)
		if s.ParentID == nil {
			return out, nil
		}
		cur = *s.ParentID
	}
}

// ancestryV2 reads the snapshots of id's ancestry as the repo state records
// it, setting their parents from it.
func (r *Repository) ancestryV2(ctx context.Context, st *repoState, id ObjectID) ([]*Snapshot, error) {
	ids, err := st.ancestry(id)
	if err != nil {
		return nil, fmt.Errorf("formatv2: ancestry of %s: %w", id, err)
	}
	out := make([]*Snapshot, 0, len(ids))
	for _, sid := range ids {
		s, err := r.ReadSnapshot(ctx, sid)
		if err != nil {
			return nil, fmt.Errorf("formatv2: ancestry of %s: %w", id, err)
		}
		s.ParentID = nil
		if p := st.parentOf(sid); p != nil {
			pid := *p
			s.ParentID = &pid
		}
		out = append(out, s)
	}
	return out, nil
}

// VersionRef names one version of the repository: exactly one of Branch
// (its current tip), Tag, or Snapshot must be set. Build one with
// BranchRef, TagRef or SnapshotRef.
type VersionRef struct {
	Branch   string
	Tag      string
	Snapshot *ObjectID
}

// BranchRef names the tip of a branch.
func BranchRef(name string) VersionRef { return VersionRef{Branch: name} }

// TagRef names the snapshot of a tag.
func TagRef(name string) VersionRef { return VersionRef{Tag: name} }

// SnapshotRef names a snapshot by id.
func SnapshotRef(id ObjectID) VersionRef { return VersionRef{Snapshot: &id} }

// String renders the ref as "branch:NAME", "tag:NAME" or "snapshot:ID".
func (v VersionRef) String() string {
	switch {
	case v.Snapshot != nil && v.Branch == "" && v.Tag == "":
		return "snapshot:" + v.Snapshot.String()
	case v.Branch != "" && v.Tag == "" && v.Snapshot == nil:
		return "branch:" + v.Branch
	case v.Tag != "" && v.Branch == "" && v.Snapshot == nil:
		return "tag:" + v.Tag
	}
	return fmt.Sprintf("invalid{branch:%q tag:%q snapshot:%v}", v.Branch, v.Tag, v.Snapshot)
}

// ResolveRef returns the snapshot id a VersionRef names. A branch or tag
// that does not exist (or a deleted tag) is ErrRefNotFound; a snapshot id
// must name an existing, decodable snapshot (a missing one wraps
// objstore.ErrNotFound and ErrRefNotFound), at spec 2 one the repo object
// lists (ErrRefNotFound otherwise, whatever files remain).
func (r *Repository) ResolveRef(ctx context.Context, ref VersionRef) (ObjectID, error) {
	if err := r.usable(); err != nil {
		return ObjectID{}, err
	}
	n := 0
	if ref.Branch != "" {
		n++
	}
	if ref.Tag != "" {
		n++
	}
	if ref.Snapshot != nil {
		n++
	}
	if n != 1 {
		return ObjectID{}, fmt.Errorf("formatv2: resolve %s: %w: set exactly one of branch, tag, snapshot", ref, ErrInvalidVersionRef)
	}
	switch {
	case ref.Branch != "":
		return r.LookupBranch(ctx, ref.Branch)
	case ref.Tag != "":
		return r.LookupTag(ctx, ref.Tag)
	}
	id := *ref.Snapshot
	if r.spec == SpecVersion2 {
		// At spec 2 the repo object alone says which snapshots belong to
		// the repository (as upstream resolves them): a snapshot file it
		// does not list, such as one a migration left out, names nothing.
		st, err := r.loadState(ctx)
		if err != nil {
			return ObjectID{}, fmt.Errorf("formatv2: resolve %s: %w", ref, err)
		}
		if err := st.requireLive(id); err != nil {
			return ObjectID{}, fmt.Errorf("formatv2: resolve %s: %w: %w", ref, ErrRefNotFound, err)
		}
	}
	if err := r.requireSnapshot(ctx, id); err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return ObjectID{}, fmt.Errorf("formatv2: resolve %s: %w: %w", ref, ErrRefNotFound, err)
		}
		return ObjectID{}, fmt.Errorf("formatv2: resolve %s: %w", ref, err)
	}
	return id, nil
}
