package formatv2

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icerig/icerig/objstore"
)

// migratedCopy copies test-repo-v1, migrates the copy with this library
// and returns a fresh handle on it (and its store).
func migratedCopy(t testing.TB, deleteV1 bool) (*Repository, objstore.Store) {
	t.Helper()
	ctx := context.Background()
	clock := objstore.NewVirtualClock(time.Now(), time.Millisecond)
	st := copyFixture(t, "test-repo-v1", clock)
	r := must[*Repository](t)(Open(ctx, st, Options{Clock: clock, Rand: seeded(11)}))
	if _, err := r.Upgrade(ctx, false, deleteV1); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	return must[*Repository](t)(Open(ctx, st, Options{Clock: clock, Rand: seeded(12)})), st
}

// dump maps every key of a store to its bytes.
func dump(t testing.TB, st objstore.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for _, o := range must[[]objstore.ObjectInfo](t)(st.List(ctx, "")) {
		out[o.Key] = string(must[[]byte](t)(readKey(ctx, st, o.Key)))
	}
	return out
}

func TestUpgradeTestRepoV1(t *testing.T) {
	ctx := context.Background()
	for _, del := range []bool{false, true} {
		t.Run(map[bool]string{false: "keep-v1-files", true: "delete-v1-files"}[del], func(t *testing.T) {
			clock := objstore.NewVirtualClock(time.Now(), time.Millisecond)
			st := copyFixture(t, "test-repo-v1", clock)
			before := dump(t, st)
			r := must[*Repository](t)(Open(ctx, st, Options{Clock: clock, Rand: seeded(5)}))
			early := must[*Session](t)(r.ReadonlySession(ctx, BranchRef("main")))
			res := must[*UpgradeResult](t)(r.Upgrade(ctx, false, del))
			if res.DryRun || res.Resumed || res.Snapshots != 6 || len(res.Branches) != 2 || len(res.Tags) != 2 ||
				!slices.Equal(res.DeletedTags, []string{"deleted"}) {
				t.Fatalf("result = %+v", res)
			}
			after := dump(t, st)
			// Snapshots, manifests, chunks and transaction logs are untouched.
			for k, v := range before {
				isData := !strings.HasPrefix(k, "refs/") && k != ConfigKey
				if isData && after[k] != v {
					t.Fatalf("%s changed or vanished", k)
				}
				if _, present := after[k]; !isData && present == del {
					t.Fatalf("%s present = %v after migration with deleteUnusedV1Files=%v", k, present, del)
				}
			}
			wantDeleted := []string{}
			if del {
				wantDeleted = []string{"refs/branch.main/ref.json", "refs/branch.my-branch/ref.json",
					"refs/tag.deleted/ref.json", "refs/tag.deleted/ref.json.deleted",
					"refs/tag.it also works!/ref.json", "refs/tag.it works!/ref.json", "config.yaml"}
			}
			if !slices.Equal(append([]string{}, res.DeletedV1Files...), wantDeleted) {
				t.Fatalf("deleted %q, want %q", res.DeletedV1Files, wantDeleted)
			}
			for k := range after {
				if _, old := before[k]; !old && k != "repo" {
					t.Fatalf("migration wrote %s", k)
				}
			}
			// The handle used for the migration is invalid.
			_, err := r.ListBranches(ctx)
			mustErrIs(t, err, ErrHandleInvalid)
			_, err = r.WritableSession(ctx, "main")
			mustErrIs(t, err, ErrHandleInvalid)
			_, err = r.Upgrade(ctx, false, del)
			mustErrIs(t, err, ErrHandleInvalid)
			mustErrIs(t, r.CreateTag(ctx, "x", ObjectID{}), ErrHandleInvalid)
			_, err = early.Get(ctx, "zarr.json")
			mustErrIs(t, err, ErrHandleInvalid)
			_, err = r.GarbageCollect(ctx, time.Now(), true)
			mustErrIs(t, err, ErrHandleInvalid)

			m := must[*Repository](t)(Open(ctx, st, Options{Clock: clock}))
			compareWithUpstreamMigration(t, m)
			// A second migration is a clear error.
			_, err = m.Upgrade(ctx, false, del)
			mustErrIs(t, err, ErrAlreadyMigrated)
		})
	}
}

// compareWithUpstreamMigration checks a repository we migrated from
// test-repo-v1 against upstream's migration of it: same refs, same snapshot
// list with the same parents and messages, the same synthetic ops log.
func compareWithUpstreamMigration(t *testing.T, ours *Repository) {
	t.Helper()
	ctx := context.Background()
	theirs := openFixture(t, "test-repo-v2-migrated")
	a := must[*RepoInfo](t)(ours.RepoInfo(ctx))
	b := must[*RepoInfo](t)(theirs.RepoInfo(ctx))
	if !slices.Equal(a.Branches, b.Branches) || !slices.Equal(a.Tags, b.Tags) || !slices.Equal(a.DeletedTags, b.DeletedTags) {
		t.Fatalf("refs differ: ours %v %v %v, upstream %v %v %v", a.Branches, a.Tags, a.DeletedTags, b.Branches, b.Tags, b.DeletedTags)
	}
	if len(a.Snapshots) != len(b.Snapshots) {
		t.Fatalf("%d snapshots, upstream %d", len(a.Snapshots), len(b.Snapshots))
	}
	for i := range a.Snapshots {
		x, y := a.Snapshots[i], b.Snapshots[i]
		if x.ID != y.ID || x.ParentIndex != y.ParentIndex || x.FlushedAt != y.FlushedAt || x.Message != y.Message ||
			!reflect.DeepEqual(x.Metadata, y.Metadata) {
			t.Fatalf("snapshot %d: ours %+v, upstream %+v", i, x, y)
		}
	}
	if a.Status.Availability != RepoOnline || a.Status.SetAt != b.Status.SetAt {
		t.Fatalf("status ours %+v upstream %+v", a.Status, b.Status)
	}
	if len(a.LatestUpdates) != len(b.LatestUpdates) {
		t.Fatalf("ops log has %d entries, upstream %d", len(a.LatestUpdates), len(b.LatestUpdates))
	}
	for i := range a.LatestUpdates {
		x, y := a.LatestUpdates[i], b.LatestUpdates[i]
		if i == 0 {
			// "repo migrated" carries the migration's own time.
			x.UpdatedAt, y.UpdatedAt = 0, 0
		}
		if x != y {
			t.Errorf("ops log entry %d: ours %s @%d, upstream %s @%d", i, describeUpdate(x), x.UpdatedAt, describeUpdate(y), y.UpdatedAt)
		}
	}
	if f := must[[]Finding](t)(ours.Fsck(ctx)); len(f) != 0 {
		t.Fatalf("fsck after migration: %v", f)
	}
}

func TestUpgradeDryRun(t *testing.T) {
	ctx := context.Background()
	st := copyFixture(t, "test-repo-v1", nil)
	before := dump(t, st)
	r := must[*Repository](t)(Open(ctx, st, Options{}))
	res := must[*UpgradeResult](t)(r.Upgrade(ctx, true, true))
	if !res.DryRun || res.Snapshots != 6 || len(res.OpsLog) != 12 || res.OpsLog[0].Type != UpdateRepoMigrated ||
		len(res.DeletedV1Files) != 7 || res.DeletedV1Files[0] != "refs/branch.main/ref.json" {
		t.Fatalf("dry run result = %+v", res)
	}
	if !maps.Equal(before, dump(t, st)) {
		t.Fatal("a dry run changed the store")
	}
	// The handle stays usable and spec 1.
	if r.SpecVersion() != 1 {
		t.Fatal("dry run changed the handle's spec")
	}
	must[map[string]ObjectID](t)(r.ListBranches(ctx))
}

// TestUpgradeTwice: a second migration is a clear error, never a panic, in
// every form: on the same handle, on a fresh handle, with and without
// leftovers; leftovers are deleted only when asked.
func TestUpgradeTwice(t *testing.T) {
	ctx := context.Background()
	kept, st := migratedCopy(t, false)
	_, err := kept.Upgrade(ctx, false, false)
	mustErrIs(t, err, ErrAlreadyMigrated)
	if !strings.Contains(err.Error(), "spec-1 files remain") {
		t.Fatalf("error %q does not mention the leftovers", err)
	}
	_, err = kept.Upgrade(ctx, true, false)
	mustErrIs(t, err, ErrAlreadyMigrated)
	res := must[*UpgradeResult](t)(kept.Upgrade(ctx, true, true))
	if !res.Resumed || !res.DryRun || len(res.DeletedV1Files) != 7 {
		t.Fatalf("dry resume = %+v", res)
	}
	if _, _, err := st.Get(ctx, "refs/branch.main/ref.json"); err != nil {
		t.Fatal("a dry run deleted a ref")
	}
	res = must[*UpgradeResult](t)(kept.Upgrade(ctx, false, true))
	if !res.Resumed || len(res.DeletedV1Files) != 7 || res.DeletedV1Files[0] != "refs/branch.main/ref.json" {
		t.Fatalf("resume = %+v", res)
	}
	if left := must[[]objstore.ObjectInfo](t)(st.List(ctx, "refs/")); len(left) != 0 {
		t.Fatalf("refs left: %v", left)
	}
	_, err = kept.Upgrade(ctx, false, true)
	mustErrIs(t, err, ErrAlreadyMigrated)
	// The handle that resumed stays valid.
	must[map[string]ObjectID](t)(kept.ListBranches(ctx))

	// A spec-1 handle opened before another client migrated.
	st2 := copyFixture(t, "test-repo-v1", nil)
	early := must[*Repository](t)(Open(ctx, st2, Options{}))
	other := must[*Repository](t)(Open(ctx, st2, Options{}))
	must[*UpgradeResult](t)(other.Upgrade(ctx, false, false))
	_, err = early.Upgrade(ctx, false, true)
	mustErrIs(t, err, ErrAlreadyMigrated)
}

// TestUpgradeRefusesDivergence: a spec-1 writer moving a branch while the
// migration runs (after refs were collected, before `repo` is written) makes
// the migration remove its `repo` object again and fail with
// ErrMigrationDiverged; the spec-1 repository keeps the writer's commit.
func TestUpgradeRefusesDivergence(t *testing.T) {
	ctx := context.Background()
	st := copyFixture(t, "test-repo-v1", nil)
	v1writer := must[*Repository](t)(Open(ctx, st, Options{}))
	tip := must[ObjectID](t)(v1writer.LookupBranch(ctx, "main"))
	hs := &repoHookStore{Store: st, hook: func() {
		noErr(t, v1writer.ResetBranch(ctx, "my-branch", tip))
	}}
	r := must[*Repository](t)(Open(ctx, hs, Options{}))
	_, err := r.Upgrade(ctx, false, true)
	mustErrIs(t, err, ErrMigrationDiverged)
	if _, _, err := st.Get(ctx, "repo"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatal("the repo object of a diverged migration was left in place")
	}
	again := must[*Repository](t)(Open(ctx, st, Options{}))
	if again.SpecVersion() != 1 {
		t.Fatal("repository not spec 1 after a refused migration")
	}
	if got := must[ObjectID](t)(again.LookupBranch(ctx, "my-branch")); got != tip {
		t.Fatal("the spec-1 writer's change was lost")
	}
	// Migrating again now succeeds and carries the change.
	res := must[*UpgradeResult](t)(again.Upgrade(ctx, false, true))
	if res.Branches["my-branch"] != tip {
		t.Fatal("migration did not carry the moved branch")
	}
}

// repoHookStore runs a hook (once) just before the `repo` object is first
// created.
type repoHookStore struct {
	objstore.Store
	hook func()
	done bool
}

func (h *repoHookStore) PutIfAbsent(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	if key == "repo" && !h.done {
		h.done = true
		h.hook()
	}
	return h.Store.PutIfAbsent(ctx, key, data)
}

// TestUpgradeCreatedRepository migrates a repository this library created
// at spec 1 and wrote to, with a deleted tag whose snapshot is gone from
// every live ref's history, then keeps writing at spec 2.
func TestUpgradeCreatedRepository(t *testing.T) {
	ctx := context.Background()
	r, st, clock := newMemRepo(t, nil)
	s := must[*Session](t)(r.WritableSession(ctx, "main"))
	noErr(t, s.Set(ctx, "zarr.json", groupDoc))
	c1 := must[ObjectID](t)(s.Commit(ctx, "c1", map[string]any{"n": 1}))
	noErr(t, r.CreateBranch(ctx, "dev", c1))
	noErr(t, r.CreateTag(ctx, "gone", c1))
	noErr(t, r.DeleteTag(ctx, "gone"))
	noErr(t, s.Set(ctx, "a/zarr.json", groupDoc))
	c2 := must[ObjectID](t)(s.Commit(ctx, "c2", nil))
	res := must[*UpgradeResult](t)(r.Upgrade(ctx, false, true))
	if res.Snapshots != 3 {
		t.Fatalf("%d snapshots migrated", res.Snapshots)
	}
	m := must[*Repository](t)(Open(ctx, st, Options{Clock: clock, Rand: seeded(2)}))
	if got := messages(t, m, c2); !slices.Equal(got, []string{"c2", "c1", "Repository initialized"}) {
		t.Fatalf("ancestry %q", got)
	}
	ms := must[*Session](t)(m.WritableSession(ctx, "main"))
	noErr(t, ms.Set(ctx, "b/zarr.json", groupDoc))
	c3 := must[ObjectID](t)(ms.Commit(ctx, "c3 at spec 2", nil))
	c3s := must[*Snapshot](t)(m.ReadSnapshot(ctx, c3))
	if c3s.SpecVersion != 2 || c3s.ParentID != nil {
		t.Fatalf("new snapshot in a migrated repository: spec %d parent %v", c3s.SpecVersion, c3s.ParentID)
	}
	d := must[*Diff](t)(m.Diff(ctx, c1, c3))
	if !slices.Equal(d.NewGroups, []string{"/a", "/b"}) {
		t.Fatalf("diff across the migration = %+v", d)
	}
	noErr(t, ms.Set(ctx, "b/c/zarr.json", groupDoc))
	c4 := must[ObjectID](t)(ms.Amend(ctx, "c3 amended", nil))
	if got := messages(t, m, c4); !slices.Equal(got, []string{"c3 amended", "c2", "c1", "Repository initialized"}) {
		t.Fatalf("ancestry after amend %q", got)
	}
	if f := must[[]Finding](t)(m.Fsck(ctx)); len(f) != 0 {
		t.Fatalf("fsck: %v", f)
	}
	log := must[[]Update](t)(m.OpsLog(ctx))
	var kinds []string
	for _, u := range log {
		kinds = append(kinds, describeUpdate(u))
	}
	want := []string{
		`CommitAmendedUpdate "main" ` + c3.String() + ` -> ` + c4.String(),
		`NewCommitUpdate "main" ` + c3.String(),
		"RepoMigratedUpdate 1->2",
		`NewCommitUpdate "main" ` + c2.String(),
		`TagDeletedUpdate "gone" (was ` + c1.String() + `)`,
		`TagCreatedUpdate "gone"`,
		`BranchCreatedUpdate "dev"`,
		`NewCommitUpdate "main" ` + c1.String(),
		"RepoInitializedUpdate",
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("ops log\n%s\nwant\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}
	// The migrated object was backed up by the first spec-2 update; the
	// synthetic history below it has no backups.
	if log[2].BackupPath == "" || log[3].BackupPath != "" {
		t.Fatalf("backups: migrated %q, synthetic %q", log[2].BackupPath, log[3].BackupPath)
	}
}
