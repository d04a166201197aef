package formatv2

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/icerig/icerig/objstore"
)

// hookStore runs a hook (once) just before the first PutIfAbsent of a key
// with the given prefix.
type hookStore struct {
	objstore.Store
	prefix string
	once   sync.Once
	hook   func()
}

func (h *hookStore) PutIfAbsent(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	if strings.HasPrefix(key, h.prefix) && h.hook != nil {
		h.once.Do(h.hook)
	}
	return h.Store.PutIfAbsent(ctx, key, data)
}

// isRefObject reports whether key holds refs (spec-1 ref files, the spec-2
// repo object and its backups) rather than snapshot data.
func isRefObject(key string) bool {
	return strings.HasPrefix(key, "refs/") || key == "repo" || strings.HasPrefix(key, "overwritten/")
}

// reachableObjects lists every manifest and chunk object reachable from a
// branch tip's ancestry.
func reachableObjects(t *testing.T, r *Repository, tip ObjectID) map[string]bool {
	t.Helper()
	ctx := context.Background()
	out := map[string]bool{}
	anc, err := r.Ancestry(ctx, tip)
	noErr(t, err)
	for _, s := range anc {
		out[snapshotKey(s.ID)] = true
		out[transactionLogKey(s.ID)] = true
		for _, mf := range s.ManifestFiles {
			out[manifestKey(mf.ID)] = true
			m, err := r.ReadManifest(ctx, mf.ID)
			noErr(t, err)
			for _, a := range m.Arrays {
				for _, ref := range a.Refs {
					if ref.Kind == ChunkNative {
						out[chunkKey(ref.ChunkID)] = true
					}
				}
			}
		}
	}
	return out
}

func TestConflictOnSameBase(t *testing.T) {
	bothSpecs(t, func(t *testing.T, spec int) {
		ctx := context.Background()
		r, st, _ := newMemRepoSpec(t, spec, nil)
		a, err := r.WritableSession(ctx, "main")
		noErr(t, err)
		b, err := r.WritableSession(ctx, "main")
		noErr(t, err)
		big := make([]byte, 1000)
		for _, s := range []*Session{a, b} {
			noErr(t, s.Set(ctx, "arr/zarr.json", arrayDoc([]uint64{2}, []uint64{1}, "int8", "0", nil)))
			noErr(t, s.Set(ctx, "arr/c/0", big))
		}
		idA, err := a.Commit(ctx, "a", nil)
		noErr(t, err)
		_, err = b.Commit(ctx, "b", nil)
		mustErrIs(t, err, ErrConflict)
		if tip, _ := r.LookupBranch(ctx, "main"); tip != idA {
			t.Fatal("main not at the winner's commit")
		}
		if !b.HasChanges() {
			t.Fatal("the losing session dropped its changes")
		}
		// b's chunk object exists but nothing references it.
		reach := reachableObjects(t, r, idA)
		objs, err := st.List(ctx, "")
		noErr(t, err)
		unreferenced := 0
		for _, o := range objs {
			if isRefObject(o.Key) || reach[o.Key] {
				continue
			}
			unreferenced++
			if !strings.HasPrefix(o.Key, "chunks/") {
				t.Fatalf("failed commit left %s, but an early conflict should write only chunks", o.Key)
			}
		}
		if unreferenced != 1 {
			t.Fatalf("%d unreferenced objects, want b's one chunk", unreferenced)
		}
	})
}

// TestConflictAtCompareAndSwap moves the branch after the commit checked it
// and wrote its objects: the CAS fails and everything the commit wrote stays
// unreferenced.
func TestConflictAtCompareAndSwap(t *testing.T) {
	bothSpecs(t, func(t *testing.T, spec int) {
		ctx := context.Background()
		r0, mem, clock := newMemRepoSpec(t, spec, nil)
		hs := &hookStore{Store: mem, prefix: "snapshots/"}
		r, err := Open(ctx, hs, Options{Clock: clock, Rand: seeded(99)})
		noErr(t, err)
		other, err := r0.WritableSession(ctx, "main")
		noErr(t, err)
		noErr(t, other.Set(ctx, "zarr.json", groupDoc))

		s, err := r.WritableSession(ctx, "main")
		noErr(t, err)
		noErr(t, s.Set(ctx, "arr/zarr.json", arrayDoc([]uint64{2}, []uint64{1}, "int8", "0", nil)))
		noErr(t, s.Set(ctx, "arr/c/1", make([]byte, 700)))
		var otherID ObjectID
		hs.hook = func() {
			var err error
			otherID, err = other.Commit(ctx, "sneaked in", nil)
			noErr(t, err)
		}
		_, err = s.Commit(ctx, "loser", nil)
		mustErrIs(t, err, ErrConflict)
		if tip, _ := r.LookupBranch(ctx, "main"); tip != otherID {
			t.Fatal("main is not at the concurrent commit")
		}
		reach := reachableObjects(t, r, otherID)
		objs, err := mem.List(ctx, "")
		noErr(t, err)
		kinds := map[string]int{}
		for _, o := range objs {
			if !isRefObject(o.Key) && !reach[o.Key] {
				kinds[o.Key[:strings.IndexByte(o.Key, '/')]]++
			}
		}
		want := map[string]int{"chunks": 1, "manifests": 1, "transactions": 1, "snapshots": 1}
		if fmt.Sprint(kinds) != fmt.Sprint(want) {
			t.Fatalf("unreferenced objects by kind = %v, want %v", kinds, want)
		}
		findings, err := r.Fsck(ctx)
		noErr(t, err)
		if len(findings) != 0 {
			t.Fatalf("fsck: %v", findings)
		}
	})
}

// TestConcurrentCommits: 8 writers commit to main repeatedly, each retrying
// from a fresh session on conflict. Every successful commit ends up in
// main's ancestry exactly once.
func TestConcurrentCommits(t *testing.T) {
	bothSpecs(t, func(t *testing.T, spec int) {
		ctx := context.Background()
		r, _, _ := newMemRepoSpec(t, spec, nil)
		setup, err := r.WritableSession(ctx, "main")
		noErr(t, err)
		noErr(t, setup.Set(ctx, "zarr.json", groupDoc))
		noErr(t, setup.Set(ctx, "arr/zarr.json", arrayDoc([]uint64{8, 100}, []uint64{1, 1}, "int8", "0", nil)))
		_, err = setup.Commit(ctx, "setup", nil)
		noErr(t, err)

		const writers, commitsEach = 8, 5
		var (
			mu        sync.Mutex
			committed = map[ObjectID]string{}
			conflicts int
			wg        sync.WaitGroup
			errs      = make(chan error, writers)
		)
		for w := range writers {
			wg.Go(func() {
				for c := 0; c < commitsEach; {
					s, err := r.WritableSession(ctx, "main")
					if err != nil {
						errs <- err
						return
					}
					key := fmt.Sprintf("arr/c/%d/%d", w, c)
					if err := s.Set(ctx, key, []byte{byte(w), byte(c)}); err != nil {
						errs <- err
						return
					}
					msg := fmt.Sprintf("writer %d commit %d", w, c)
					id, err := s.Commit(ctx, msg, map[string]any{"writer": w})
					if errors.Is(err, ErrConflict) {
						mu.Lock()
						conflicts++
						mu.Unlock()
						continue
					}
					if err != nil {
						errs <- fmt.Errorf("%s: %w", msg, err)
						return
					}
					mu.Lock()
					committed[id] = msg
					mu.Unlock()
					c++
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(committed) != writers*commitsEach {
			t.Fatalf("%d commits succeeded, want %d", len(committed), writers*commitsEach)
		}
		tip, err := r.LookupBranch(ctx, "main")
		noErr(t, err)
		anc, err := r.Ancestry(ctx, tip)
		noErr(t, err)
		seen := map[ObjectID]int{}
		for _, s := range anc {
			seen[s.ID]++
			if msg, ok := committed[s.ID]; ok && msg != s.Message {
				t.Fatalf("snapshot %s has message %q, committed %q", s.ID, s.Message, msg)
			}
		}
		for id, msg := range committed {
			if seen[id] != 1 {
				t.Fatalf("commit %q (%s) appears %d times in main's ancestry", msg, id, seen[id])
			}
		}
		if len(anc) != writers*commitsEach+2 {
			t.Fatalf("ancestry has %d snapshots, want %d", len(anc), writers*commitsEach+2)
		}
		// Every write survived: each commit was based on the tip it replaced.
		ro, err := r.ReadonlySession(ctx, BranchRef("main"))
		noErr(t, err)
		for w := range writers {
			for c := range commitsEach {
				got, err := ro.Get(ctx, fmt.Sprintf("arr/c/%d/%d", w, c))
				noErr(t, err)
				if got[0] != byte(w) || got[1] != byte(c) {
					t.Fatalf("chunk %d/%d = %v", w, c, got)
				}
			}
		}
		t.Logf("%d conflicts retried", conflicts)
	})
}

func TestAncestryCycleIsCorrupt(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newMemRepo(t, nil)
	a, b := ObjectID{0xa}, ObjectID{0xb}
	noErr(t, r.writeSnapshot(ctx, &Snapshot{SpecVersion: 1, ID: a, ParentID: &b, FlushedAt: 2, Message: "a"}))
	noErr(t, r.writeSnapshot(ctx, &Snapshot{SpecVersion: 1, ID: b, ParentID: &a, FlushedAt: 1, Message: "b"}))
	_, err := r.Ancestry(ctx, a)
	mustErrIs(t, err, ErrCorrupt)
	// A missing parent names the child.
	c, missing := ObjectID{0xc}, ObjectID{0xd}
	noErr(t, r.writeSnapshot(ctx, &Snapshot{SpecVersion: 1, ID: c, ParentID: &missing, FlushedAt: 3, Message: "c"}))
	_, err = r.Ancestry(ctx, c)
	mustErrIs(t, err, objstore.ErrNotFound)
	if !strings.Contains(err.Error(), c.String()) {
		t.Fatalf("error %q does not name the child snapshot", err)
	}
	// A snapshot file holding another id is corrupt.
	data, _, err := r.Store().Get(ctx, snapshotKey(a))
	noErr(t, err)
	_, err = r.Store().Put(ctx, snapshotKey(ObjectID{0xe}), data)
	noErr(t, err)
	_, err = r.ReadSnapshot(ctx, ObjectID{0xe})
	mustErrIs(t, err, ErrCorrupt)
}

func FuzzDecodeRef(f *testing.F) {
	f.Add([]byte(`{"snapshot":"NXH3M0HJ7EEJ0699DPP0"}`))
	f.Add([]byte(`{"snapshot":"XDZ162T1TYBEJMK99NPG"}`))
	f.Add([]byte(`{"snapshot":null}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := decodeRef("refs/branch.x/ref.json", data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// Whatever decodes re-encodes to a ref that decodes to the same id.
		back, err := decodeRef("again", encodeRef(id))
		if err != nil || back != id {
			t.Fatalf("round trip of %s: %s, %v", id, back, err)
		}
	})
}

// FuzzSessionKeys throws arbitrary keys and values at a session: no panic,
// and every error wraps one of the session's sentinel errors.
func FuzzSessionKeys(f *testing.F) {
	for _, k := range []string{"zarr.json", "a/zarr.json", "a/c/0/1", "a/c.0.1", "a/c", "/x", "a/../b", "c/0", "g/zarr.json"} {
		f.Add(k, []byte{1, 2, 3})
	}
	f.Add("b/zarr.json", []byte(`{"zarr_format":3,"node_type":"array","shape":[3],"data_type":"int8","chunk_grid":{"name":"regular","configuration":{"chunk_shape":[2]}},"chunk_key_encoding":{"name":"default","configuration":{"separator":"/"}},"fill_value":0,"codecs":[{"name":"bytes"}]}`))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		ctx := context.Background()
		r, _, _ := newMemRepo(t, nil)
		s, err := r.WritableSession(ctx, "main")
		noErr(t, err)
		noErr(t, s.Set(ctx, "zarr.json", groupDoc))
		noErr(t, s.Set(ctx, "a/zarr.json", arrayDoc([]uint64{4, 4}, []uint64{2, 2}, "int8", "0", nil)))
		known := []error{ErrInvalidKey, ErrNodeNotFound, ErrNodeExists, ErrKeyNotFound}
		check := func(op string, err error) {
			if err == nil {
				return
			}
			for _, k := range known {
				if errors.Is(err, k) {
					return
				}
			}
			t.Fatalf("%s(%q): unexpected error %v", op, key, err)
		}
		check("set", s.Set(ctx, key, value))
		_, err = s.Get(ctx, key)
		check("get", err)
		_, err = s.Exists(ctx, key)
		check("exists", err)
		_, err = s.ListDir(ctx, key)
		check("listdir", err)
		check("delete", s.Delete(ctx, key))
		if s.HasChanges() {
			_, err = s.Commit(ctx, "fuzz", nil)
			check("commit", err)
		}
	})
}
