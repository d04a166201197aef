package formatv2

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/icerig/icerig/objstore"
)

// repoObjectCache remembers the last `repo` object a Repository decoded,
// so that the lookups between two changes of the object (every ref lookup,
// ancestry and diff reads it) decode it once instead of every time.
//
// It never replaces the read: every lookup still fetches the object from
// the store (another client may have changed it), and only its decoding is
// skipped, when the store returns the cached version and exactly the cached
// bytes. A read without a version is never cached.
//
// The cached RepoInfo and repoState are shared by every goroutine that
// hits the cache and must never be modified (nor the maps, slices and
// entries they hold): readRepoShared and loadState hand them out as they
// are to callers that only look; readRepo, whose callers edit what they
// get, and every exported result get copies.
type repoObjectCache struct {
	mu      sync.Mutex
	version objstore.Version
	raw     []byte
	info    *RepoInfo
	st      *repoState

	hits, misses uint64 // for tests
}

// get returns the cached decoding of data if it is the cached object: the
// same non-empty version and the same bytes.
func (c *repoObjectCache) get(v objstore.Version, data []byte) (*RepoInfo, *repoState, bool) {
	if v == "" {
		return nil, nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.info == nil || c.version != v || len(c.raw) != len(data) || !bytes.Equal(c.raw, data) {
		c.misses++
		return nil, nil, false
	}
	c.hits++
	return c.info, c.st, true
}

// put makes info and st, decoded from data at version v, the cached
// object. From now on they are shared: nobody may modify them.
func (c *repoObjectCache) put(v objstore.Version, data []byte, info *RepoInfo, st *repoState) {
	if v == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version, c.raw, c.info, c.st = v, data, info, st
}

// stats returns the number of cache hits and misses so far.
func (c *repoObjectCache) stats() (hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// repoCacheCheck, when set (by tests), is called on every cache hit with
// the bytes read and the cached decoding; an error it returns fails the
// read. Tests use it to check that no caller modified a cached value.
var repoCacheCheck atomic.Pointer[func(data []byte, info *RepoInfo, st *repoState) error]

// decodeRepoShared decodes a `repo` object read at version v, or returns
// the cached decoding of the same object. The results are shared: the
// caller must not modify them.
func (r *Repository) decodeRepoShared(v objstore.Version, data []byte) (*RepoInfo, *repoState, error) {
	if info, st, ok, err := r.cachedRepo(v, data); ok || err != nil {
		return info, st, err
	}
	info, err := decodeRepoObject(repoInfoKey, data)
	if err != nil {
		return nil, nil, err
	}
	st, err := stateOf(repoInfoKey, info)
	if err != nil {
		return nil, nil, err
	}
	r.repoObj.put(v, data, info, st)
	return info, st, nil
}

// cachedRepo returns the cached decoding of the `repo` object data read
// at version v, if the cache holds it (ok). The results are shared: the
// caller must not modify them.
func (r *Repository) cachedRepo(v objstore.Version, data []byte) (info *RepoInfo, st *repoState, ok bool, err error) {
	info, st, ok = r.repoObj.get(v, data)
	if !ok {
		return nil, nil, false, nil
	}
	if check := repoCacheCheck.Load(); check != nil {
		if err := (*check)(data, info, st); err != nil {
			return nil, nil, false, fmt.Errorf("formatv2: %s: cached decoding: %w", repoInfoKey, err)
		}
	}
	return info, st, true, nil
}

// clone returns a deep copy of info: nothing it holds is shared with info.
func (info *RepoInfo) clone() *RepoInfo {
	out := *info
	out.Tags = slices.Clone(info.Tags)
	out.Branches = slices.Clone(info.Branches)
	out.DeletedTags = slices.Clone(info.DeletedTags)
	if info.Snapshots != nil {
		out.Snapshots = make([]SnapshotInfo, len(info.Snapshots))
		for i, s := range info.Snapshots {
			out.Snapshots[i] = s.clone()
		}
	}
	out.Metadata = cloneMetadata(info.Metadata)
	out.LatestUpdates = slices.Clone(info.LatestUpdates)
	out.Config = slices.Clone(info.Config)
	out.EnabledFeatureFlags = slices.Clone(info.EnabledFeatureFlags)
	out.DisabledFeatureFlags = slices.Clone(info.DisabledFeatureFlags)
	out.Extra = slices.Clone(info.Extra)
	return &out
}

// clone returns a deep copy of s.
func (s SnapshotInfo) clone() SnapshotInfo {
	s.Metadata = cloneMetadata(s.Metadata)
	s.PrunedAncestorTxLogs = slices.Clone(s.PrunedAncestorTxLogs)
	return s
}

// cloneMetadata returns a deep copy of metadata items (nil stays nil).
func cloneMetadata(items []MetadataItem) []MetadataItem {
	if items == nil {
		return nil
	}
	out := make([]MetadataItem, len(items))
	for i, m := range items {
		out[i] = MetadataItem{Name: m.Name, Value: slices.Clone(m.Value)}
	}
	return out
}

// clone returns a deep copy of st: its maps, entries, parents and
// snapshot summaries are all new.
func (st *repoState) clone() *repoState {
	out := &repoState{
		branches:    maps.Clone(st.branches),
		tags:        maps.Clone(st.tags),
		deletedTags: maps.Clone(st.deletedTags),
		snaps:       make(map[ObjectID]*snapEntry, len(st.snaps)),
	}
	for id, e := range st.snaps {
		c := &snapEntry{info: e.info.clone()}
		if e.parent != nil {
			p := *e.parent
			c.parent = &p
		}
		out.snaps[id] = c
	}
	return out
}
