package formatv2

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/icerig/icerig/objstore"
)

// errCacheModified is what the test check of the `repo` object cache
// reports when a cached value no longer matches the bytes it came from.
var errCacheModified = errors.New("a caller modified the cached decoding")

// checkCachedRepo decodes data afresh and compares it with the cached
// decoding: any difference means some caller modified a shared value.
func checkCachedRepo(data []byte, info *RepoInfo, st *repoState) error {
	fresh, err := decodeRepoObject(repoInfoKey, data)
	if err != nil {
		return fmt.Errorf("re-decode: %w", err)
	}
	if !reflect.DeepEqual(fresh, info) {
		return fmt.Errorf("%w: RepoInfo", errCacheModified)
	}
	freshSt, err := stateOf(repoInfoKey, fresh)
	if err != nil {
		return fmt.Errorf("re-index: %w", err)
	}
	if !reflect.DeepEqual(freshSt, st) {
		return fmt.Errorf("%w: repoState", errCacheModified)
	}
	return nil
}

// TestMain turns on checkCachedRepo for every cache hit of every test of
// the package, so that a caller modifying a shared decoding fails the
// test that runs it. Benchmarks (-test.bench) run without it: it decodes
// on every hit.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		check := checkCachedRepo
		repoCacheCheck.Store(&check)
	}
	os.Exit(m.Run())
}

// withoutCacheCheck turns checkCachedRepo off for a benchmark and returns
// the function that restores it.
func withoutCacheCheck() func() {
	old := repoCacheCheck.Swap(nil)
	return func() { repoCacheCheck.Store(old) }
}

// cacheStats returns the hits and misses of r's `repo` object cache.
func cacheStats(r *Repository) (hits, misses uint64) { return r.repoObj.stats() }

// storedRepo decodes the `repo` object as it is in st now, bypassing every
// cache.
func storedRepo(t *testing.T, st objstore.Store) (*RepoInfo, *repoState) {
	t.Helper()
	data, _, err := st.Get(context.Background(), repoInfoKey)
	noErr(t, err)
	info := must[*RepoInfo](t)(decodeRepoObject(repoInfoKey, data))
	return info, must[*repoState](t)(stateOf(repoInfoKey, info))
}

// cacheTestRepo is a spec-2 repository whose `repo` object has every kind
// of field a caller could modify: a configuration, branches, tags, a
// deleted tag, commit metadata, pruned ancestors (c3 after expiration)
// and an ops log.
func cacheTestRepo(t *testing.T) (*Repository, objstore.Store, map[string]ObjectID) {
	t.Helper()
	ctx := context.Background()
	r, st, _, ids, cut := spec2History(t)
	cfg := DefaultConfig()
	cfg.SetInlineChunkThresholdBytes(77)
	noErr(t, r.SaveConfig(ctx, cfg))
	s := must[*Session](t)(r.WritableSession(ctx, "main"))
	noErr(t, s.Set(ctx, "m/zarr.json", groupDoc))
	ids["c5"] = must[ObjectID](t)(s.Commit(ctx, "with metadata", map[string]any{"author": "rig", "n": 3}))
	noErr(t, r.CreateTag(ctx, "gone", ids["c4"]))
	noErr(t, r.DeleteTag(ctx, "gone"))
	must[*ExpireResult](t)(r.ExpireSnapshots(ctx, cut, false, false))
	info, _ := storedRepo(t, st)
	if len(info.Config) == 0 || len(info.DeletedTags) == 0 {
		t.Fatalf("test repository lacks fields: %+v", info)
	}
	return r, st, ids
}

// TestRepoCacheResultsAreCallersOwn modifies every map, slice and entry a
// spec-2 lookup hands out, and the copies readRepo hands to the code that
// edits the `repo` object, and checks that the following lookups, served
// from the cache, still see the stored object.
func TestRepoCacheResultsAreCallersOwn(t *testing.T) {
	ctx := context.Background()
	r, st, ids := cacheTestRepo(t)
	wantInfo, wantSt := storedRepo(t, st)
	if len(wantSt.snaps[ids["c3"]].info.PrunedAncestorTxLogs) == 0 {
		t.Fatal("c3 has no pruned ancestors: the test would not cover them")
	}
	withMeta := -1
	for i, s := range wantInfo.Snapshots {
		if s.ID == ids["c5"] && len(s.Metadata) > 0 {
			withMeta = i
		}
	}
	if withMeta < 0 {
		t.Fatal("no snapshot with commit metadata: the test would not cover it")
	}
	h0, _ := cacheStats(r)

	// The exported results.
	info := must[*RepoInfo](t)(r.RepoInfo(ctx))
	if !reflect.DeepEqual(info, wantInfo) {
		t.Fatal("RepoInfo differs from the stored object")
	}
	info.Branches[0].Name = "mangled"
	info.Branches = append(info.Branches, RefEntry{Name: "extra"})
	info.Tags[0].SnapshotIndex = 0
	info.DeletedTags[0] = "mangled"
	info.Snapshots[withMeta].Message = "mangled"
	info.Snapshots[withMeta].Metadata[0].Value[0] ^= 0xff
	info.Snapshots[withMeta].Metadata[0].Name = "mangled"
	for i := range info.Snapshots {
		if len(info.Snapshots[i].PrunedAncestorTxLogs) > 0 {
			info.Snapshots[i].PrunedAncestorTxLogs[0] = ObjectID{0xab}
		}
	}
	info.Config[0] ^= 0xff
	info.LatestUpdates[0].Name = "mangled"
	info.Status.Availability = RepoOffline
	branches := must[map[string]ObjectID](t)(r.ListBranches(ctx))
	delete(branches, "main")
	branches["extra"] = ObjectID{1}
	tags := must[map[string]ObjectID](t)(r.ListTags(ctx))
	tags["old"] = ObjectID{2}
	deleted := must[[]string](t)(r.ListDeletedTags(ctx))
	deleted[0] = "mangled"
	log := must[[]Update](t)(r.OpsLog(ctx))
	log[0].Type, log[1].BackupPath = UpdateGCRan, "mangled"

	// The copies handed to editors.
	einfo, est, _, _, err := r.readRepo(ctx)
	noErr(t, err)
	est.branches["edited"] = ids["c1"]
	delete(est.tags, "old")
	est.deletedTags["edited"] = true
	for id, e := range est.snaps {
		if e.parent != nil {
			*e.parent = ObjectID{0xcd}
		}
		if len(e.info.PrunedAncestorTxLogs) > 0 {
			e.info.PrunedAncestorTxLogs[0] = ObjectID{0xef}
		}
		if len(e.info.Metadata) > 0 {
			e.info.Metadata[0].Value[0] ^= 0xff
		}
		e.info.Message = "edited"
		if id == ids["c4"] {
			delete(est.snaps, id)
		}
	}
	einfo.Snapshots[withMeta].Metadata[0].Value[0] ^= 0x0f
	einfo.Config[0] ^= 0x0f
	einfo.Status.Availability = RepoReadOnly

	// Every lookup since the first was a hit, and still sees the store.
	if got := must[*RepoInfo](t)(r.RepoInfo(ctx)); !reflect.DeepEqual(got, wantInfo) {
		t.Fatal("RepoInfo changed after its result was modified")
	}
	gotSt := must[*repoState](t)(r.loadState(ctx))
	if !reflect.DeepEqual(gotSt, wantSt) {
		t.Fatal("the repo state changed after results were modified")
	}
	if got := must[map[string]ObjectID](t)(r.ListBranches(ctx)); !maps.Equal(got, wantSt.branches) {
		t.Fatalf("branches %v, want %v", got, wantSt.branches)
	}
	if got := must[map[string]ObjectID](t)(r.ListTags(ctx)); !maps.Equal(got, wantSt.tags) {
		t.Fatalf("tags %v, want %v", got, wantSt.tags)
	}
	if got := must[[]string](t)(r.ListDeletedTags(ctx)); !slices.Equal(got, wantInfo.DeletedTags) {
		t.Fatalf("deleted tags %v, want %v", got, wantInfo.DeletedTags)
	}
	if got := must[[]Update](t)(r.OpsLog(ctx)); got[0] != wantInfo.LatestUpdates[0] {
		t.Fatalf("ops log tops with %+v, want %+v", got[0], wantInfo.LatestUpdates[0])
	}
	if got := must[RepoStatus](t)(r.Status(ctx)); got.Availability != RepoOnline {
		t.Fatalf("status %+v after a returned copy was modified", got)
	}
	if f := must[[]Finding](t)(r.Fsck(ctx)); len(f) != 0 {
		t.Fatalf("fsck: %v", f)
	}
	if _, err := r.Ancestry(ctx, ids["c4"]); err != nil {
		t.Fatal(err)
	}
	h1, m1 := cacheStats(r)
	if h1-h0 < 12 {
		t.Fatalf("%d cache hits over the lookups, want every one of them (misses %d)", h1-h0, m1)
	}
	// An edit through the library still works on the stored state.
	noErr(t, r.CreateBranch(ctx, "after", ids["c4"]))
	if got := must[ObjectID](t)(r.LookupBranch(ctx, "after")); got != ids["c4"] {
		t.Fatalf("new branch at %s, want %s", got, ids["c4"])
	}
	if _, err := r.LookupBranch(ctx, "edited"); !errors.Is(err, ErrRefNotFound) {
		t.Fatalf("a branch only added to an edited copy exists: %v", err)
	}
}

// TestRepoCacheCheckCatchesModification: the test check every cache hit
// runs does catch a caller modifying a shared decoding (so the whole
// package's tests passing with it on shows none does).
func TestRepoCacheCheckCatchesModification(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newMemRepoSpec(t, SpecVersion2, nil)
	if repoCacheCheck.Load() == nil {
		t.Fatal("the cache check is off (TestMain sets it unless benchmarking)")
	}
	st := must[*repoState](t)(r.loadState(ctx))
	st.branches["sneaky"] = InitialSnapshotID // what no caller may do
	_, err := r.LookupBranch(ctx, "main")
	mustErrIs(t, err, errCacheModified)
	delete(st.branches, "sneaky")
	must[ObjectID](t)(r.LookupBranch(ctx, "main"))
}

// lyingVersionStore returns one fixed version (possibly empty) for every
// read of `repo`, whatever it holds.
type lyingVersionStore struct {
	objstore.Store
	version objstore.Version
}

func (s *lyingVersionStore) Get(ctx context.Context, key string) ([]byte, objstore.Version, error) {
	data, v, err := s.Store.Get(ctx, key)
	if key == repoInfoKey && err == nil {
		v = s.version
	}
	return data, v, err
}

// TestRepoCacheSeesOtherWriters: every lookup reads `repo` from the store,
// so a change another handle (another process) makes is seen at once, even
// through a store whose versions do not change (the cache also compares
// the bytes) or are empty (never cached).
func TestRepoCacheSeesOtherWriters(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		wrap   func(objstore.Store) objstore.Store
		cached bool
	}{
		{"honest", func(s objstore.Store) objstore.Store { return s }, true},
		{"constant-version", func(s objstore.Store) objstore.Store { return &lyingVersionStore{Store: s, version: "v1"} }, true},
		{"empty-version", func(s objstore.Store) objstore.Store { return &lyingVersionStore{Store: s} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, mem, clock := newMemRepoSpec(t, SpecVersion2, nil)
			r := must[*Repository](t)(Open(ctx, tc.wrap(mem), Options{Clock: clock, Rand: seeded(9)}))
			for range 3 {
				if got := must[ObjectID](t)(r.LookupBranch(ctx, "main")); got != InitialSnapshotID {
					t.Fatalf("main at %s", got)
				}
			}
			hits, misses := cacheStats(r)
			if tc.cached && (hits != 3 || misses != 0) {
				t.Fatalf("%d hits %d misses over 3 lookups of an unchanged object, want 3 hits (Open decoded it)", hits, misses)
			}
			if !tc.cached && hits != 0 {
				t.Fatalf("%d hits without versions", hits)
			}
			s := must[*Session](t)(w.WritableSession(ctx, "main"))
			noErr(t, s.Set(ctx, "g/zarr.json", groupDoc))
			c1 := must[ObjectID](t)(s.Commit(ctx, "by another handle", nil))
			noErr(t, w.CreateBranch(ctx, "dev", c1))
			if got := must[ObjectID](t)(r.LookupBranch(ctx, "main")); got != c1 {
				t.Fatalf("main at %s after another handle committed %s", got, c1)
			}
			if got := must[ObjectID](t)(r.LookupBranch(ctx, "dev")); got != c1 {
				t.Fatalf("dev at %s, want %s", got, c1)
			}
			if got := must[map[string]ObjectID](t)(r.ListBranches(ctx)); len(got) != 2 {
				t.Fatalf("branches %v", got)
			}
			hits2, misses2 := cacheStats(r)
			if tc.cached && (misses2 != misses+1 || hits2 != hits+2) {
				t.Fatalf("after one change: %d more hits, %d more misses; want 2 and 1", hits2-hits, misses2-misses)
			}
		})
	}
}

// TestRepoCacheConcurrent runs lookups (modifying what they get) and
// commits, ref changes and expirations on one handle from several
// goroutines; run with -race. Every lookup must succeed (the cache check
// fails any lookup that finds a modified cached value) and the end state
// must hold every branch created.
func TestRepoCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	r, st, ids := cacheTestRepo(t)
	const writers, readers, rounds = 3, 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds+readers*rounds)
	for w := range writers {
		wg.Go(func() {
			branch := fmt.Sprintf("w%d", w)
			if err := r.CreateBranch(ctx, branch, ids["c4"]); err != nil {
				errs <- err
				return
			}
			s, err := r.WritableSession(ctx, branch)
			if err != nil {
				errs <- err
				return
			}
			for i := range rounds {
				if err := s.Set(ctx, fmt.Sprintf("w%d-%d/zarr.json", w, i), groupDoc); err != nil {
					errs <- err
					return
				}
				if _, err := s.Commit(ctx, fmt.Sprintf("w%d %d", w, i), map[string]any{"i": i}); err != nil {
					errs <- fmt.Errorf("writer %d commit %d: %w", w, i, err)
					return
				}
				if err := r.CreateTag(ctx, fmt.Sprintf("w%d-t%d", w, i), ids["c1"]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for range rounds {
				m, err := r.ListBranches(ctx)
				if err != nil {
					errs <- err
					return
				}
				for name := range m {
					if _, err := r.LookupBranch(ctx, name); err != nil && !errors.Is(err, ErrRefNotFound) {
						errs <- err
						return
					}
					m[name] = ObjectID{0xff} // the caller's own map
				}
				clear(m)
				tags, err := r.ListTags(ctx)
				if err != nil {
					errs <- err
					return
				}
				clear(tags)
				if _, err := r.Ancestry(ctx, ids["c4"]); err != nil {
					errs <- err
					return
				}
				if _, err := r.Diff(ctx, InitialSnapshotID, ids["c4"]); err != nil {
					errs <- err
					return
				}
				info, err := r.RepoInfo(ctx)
				if err != nil {
					errs <- err
					return
				}
				info.Snapshots[0].Message = "mine"
			}
		})
	}
	wg.Go(func() {
		for range 3 {
			// Under constant commits expiration may give up (ErrConflict
			// after maxRepoUpdateAttempts lost races): that is allowed.
			if _, err := r.ExpireSnapshots(ctx, time.Unix(0, 0), false, false); err != nil && !errors.Is(err, ErrConflict) {
				errs <- fmt.Errorf("expire: %w", err)
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	_, want := storedRepo(t, st)
	for w := range writers {
		if _, ok := want.branches[fmt.Sprintf("w%d", w)]; !ok {
			t.Errorf("branch w%d missing", w)
		}
	}
	if got := must[map[string]ObjectID](t)(r.ListBranches(ctx)); !maps.Equal(got, want.branches) {
		t.Fatalf("branches %v, stored %v", got, want.branches)
	}
	if got := must[*repoState](t)(r.loadState(ctx)); !reflect.DeepEqual(got, want) {
		t.Fatal("the handle's state differs from the stored one")
	}
}
