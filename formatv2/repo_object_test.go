package formatv2

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/icerig/icerig/objstore"
)

// ---------------------------------------------------------------------------
// Spec-2 facts of the upstream fixtures.

func TestFixtureSpec2Specifics(t *testing.T) {
	ctx := context.Background()
	v2 := openFixture(t, "test-repo-v2")
	mig := openFixture(t, "test-repo-v2-migrated")

	initialOf := func(r *Repository) ObjectID {
		anc := must[[]*Snapshot](t)(r.Ancestry(ctx, must[ObjectID](t)(r.LookupBranch(ctx, "main"))))
		return anc[len(anc)-1].ID
	}
	if got := initialOf(v2); got != InitialSnapshotID || got.String() != "1CECHNKREP0F1RSTCMT0" {
		t.Fatalf("test-repo-v2 initial snapshot = %s, want the well-known id", got)
	}
	if got := initialOf(mig).String(); got != "P874YS3J196959RDHX7G" {
		t.Fatalf("test-repo-v2-migrated initial snapshot = %s", got)
	}
	// Spec-2 snapshot files carry no parent; Ancestry takes it from `repo`.
	tip := must[ObjectID](t)(v2.LookupBranch(ctx, "main"))
	raw := must[*Snapshot](t)(v2.ReadSnapshot(ctx, tip))
	if raw.ParentID != nil || raw.SpecVersion != 2 {
		t.Fatalf("spec-2 snapshot file: parent %v spec %d", raw.ParentID, raw.SpecVersion)
	}
	anc := must[[]*Snapshot](t)(v2.Ancestry(ctx, tip))
	if anc[0].ParentID == nil || *anc[0].ParentID != anc[1].ID || anc[len(anc)-1].ParentID != nil {
		t.Fatal("Ancestry does not set parents from the repo object")
	}
	// The migrated repository mixes spec-1 objects under a spec-2 `repo`.
	mtip := must[ObjectID](t)(mig.LookupBranch(ctx, "main"))
	if s := must[*Snapshot](t)(mig.ReadSnapshot(ctx, mtip)); s.SpecVersion != 1 {
		t.Fatalf("migrated snapshot spec %d, want 1", s.SpecVersion)
	}

	backups := must[[]objstore.ObjectInfo](t)(fixtureStore(t, "test-repo-v2").List(ctx, "overwritten/"))
	if len(backups) != 10 {
		t.Fatalf("%d backups, want 10", len(backups))
	}
	log := must[[]Update](t)(v2.OpsLog(ctx))
	var types []UpdateType
	for i, u := range log {
		types = append(types, u.Type)
		if i > 0 && u.UpdatedAt >= log[i-1].UpdatedAt {
			t.Fatalf("ops log not newest first at %d", i)
		}
		if i == 0 {
			if u.BackupPath != "" {
				t.Fatalf("newest entry names a backup %q", u.BackupPath)
			}
			continue
		}
		// Every older entry names the backup of the object it produced.
		if !slices.ContainsFunc(backups, func(o objstore.ObjectInfo) bool { return o.Key == "overwritten/"+u.BackupPath }) {
			t.Fatalf("entry %d (%s) names backup %q, which does not exist", i, describeUpdate(u), u.BackupPath)
		}
	}
	want := []UpdateType{UpdateTagCreated, UpdateNewCommit, UpdateTagDeleted, UpdateTagCreated, UpdateTagCreated,
		UpdateNewCommit, UpdateBranchCreated, UpdateNewCommit, UpdateNewCommit, UpdateNewCommit, UpdateRepoInitialized}
	if !slices.Equal(types, want) {
		t.Fatalf("ops log types = %v, want %v", types, want)
	}
	// The backup an entry names holds the object as that entry left it.
	for _, u := range log[1:] {
		data := must[[]byte](t)(readKey(ctx, fixtureStore(t, "test-repo-v2"), "overwritten/"+u.BackupPath))
		old := must[*RepoInfo](t)(DecodeRepoInfo(u.BackupPath, data))
		if old.LatestUpdates[0].UpdatedAt != u.UpdatedAt || old.LatestUpdates[0].Type != u.Type {
			t.Fatalf("backup %s tops with %s, want %s", u.BackupPath, describeUpdate(old.LatestUpdates[0]), describeUpdate(u))
		}
	}

	mlog := must[[]Update](t)(mig.OpsLog(ctx))
	if mlog[0].Type != UpdateRepoMigrated || mlog[0].FromVersion != 1 || mlog[0].ToVersion != 2 {
		t.Fatalf("migrated ops log tops with %s", describeUpdate(mlog[0]))
	}
	for _, name := range []string{"test-repo-v1", "test-repo-v2", "test-repo-v2-migrated", "split-repo-v1"} {
		findings := must[[]Finding](t)(openFixture(t, name).Fsck(ctx))
		if len(findings) != 0 {
			t.Errorf("%s: fsck findings %v", name, findings)
		}
	}
	_, err := openFixture(t, "test-repo-v1").OpsLog(ctx)
	mustErrIs(t, err, ErrSpec2Only)
}

func readKey(ctx context.Context, st objstore.Store, key string) ([]byte, error) {
	data, _, err := st.Get(ctx, key)
	return data, err
}

// ---------------------------------------------------------------------------
// Spec-2 writes.

// specBytes returns the spec byte of every metadata object in the store.
func specBytes(t *testing.T, st objstore.Store) map[string]uint8 {
	t.Helper()
	ctx := context.Background()
	out := map[string]uint8{}
	for _, o := range must[[]objstore.ObjectInfo](t)(st.List(ctx, "")) {
		switch {
		case strings.HasPrefix(o.Key, "snapshots/"), strings.HasPrefix(o.Key, "manifests/"),
			strings.HasPrefix(o.Key, "transactions/"), strings.HasPrefix(o.Key, "overwritten/"), o.Key == "repo":
			data := must[[]byte](t)(readKey(ctx, st, o.Key))
			h, err := ParseHeader(o.Key, data)
			noErr(t, err)
			out[o.Key] = h.SpecVersion
		}
	}
	return out
}

func TestSpec2CreateLayout(t *testing.T) {
	ctx := context.Background()
	r, st, _ := newMemRepoSpec(t, SpecVersion2, nil)
	keys := []string{}
	for _, o := range must[[]objstore.ObjectInfo](t)(st.List(ctx, "")) {
		keys = append(keys, o.Key)
	}
	want := []string{"repo", "snapshots/1CECHNKREP0F1RSTCMT0", "transactions/1CECHNKREP0F1RSTCMT0"}
	if !slices.Equal(keys, want) {
		t.Fatalf("objects = %v, want %v", keys, want)
	}
	for k, spec := range specBytes(t, st) {
		if spec != 2 {
			t.Fatalf("%s has spec byte %d", k, spec)
		}
	}
	info := must[*RepoInfo](t)(r.RepoInfo(ctx))
	if len(info.Branches) != 1 || info.Branches[0].Name != "main" || len(info.Snapshots) != 1 ||
		info.Snapshots[0].ID != InitialSnapshotID || info.Snapshots[0].ParentIndex != -1 {
		t.Fatalf("initial repo object = %+v", info)
	}
	if len(info.LatestUpdates) != 1 || info.LatestUpdates[0].Type != UpdateRepoInitialized || info.Status.Availability != RepoOnline {
		t.Fatalf("initial ops log %+v status %+v", info.LatestUpdates, info.Status)
	}
	// The initial snapshot's metadata is byte-identical to upstream's.
	ours := must[*Snapshot](t)(r.ReadSnapshot(ctx, InitialSnapshotID))
	theirs := must[*Snapshot](t)(openFixture(t, "test-repo-v2").ReadSnapshot(ctx, InitialSnapshotID))
	if len(ours.Metadata) != 1 || ours.Metadata[0].Name != theirs.Metadata[0].Name || !bytes.Equal(ours.Metadata[0].Value, theirs.Metadata[0].Value) {
		t.Fatalf("initial metadata %+v, upstream %+v", ours.Metadata, theirs.Metadata)
	}
	if tl := must[*TransactionLog](t)(r.ReadTransactionLog(ctx, InitialSnapshotID)); tl.ID != InitialSnapshotID {
		t.Fatalf("initial transaction log holds %s", tl.ID)
	}
}

// TestSpec2OpsLogAndBackups performs one update of every kind and checks
// the typed ops log entries and that each backup holds the object it
// replaced.
func TestSpec2OpsLogAndBackups(t *testing.T) {
	ctx := context.Background()
	r, st, _ := newMemRepoSpec(t, SpecVersion2, nil)
	var versions [][]byte // the repo object after each update, oldest first
	snapRepo := func() {
		versions = append(versions, must[[]byte](t)(readKey(ctx, st, "repo")))
	}
	snapRepo()
	s := must[*Session](t)(r.WritableSession(ctx, "main"))
	noErr(t, s.Set(ctx, "zarr.json", groupDoc))
	c1 := must[ObjectID](t)(s.Commit(ctx, "c1", nil))
	snapRepo()
	noErr(t, r.CreateBranch(ctx, "dev", c1))
	snapRepo()
	noErr(t, r.CreateTag(ctx, "v1", c1))
	snapRepo()
	noErr(t, r.ResetBranch(ctx, "dev", InitialSnapshotID))
	snapRepo()
	noErr(t, r.DeleteTag(ctx, "v1"))
	snapRepo()
	noErr(t, r.DeleteBranch(ctx, "dev"))
	snapRepo()
	noErr(t, s.Set(ctx, "g/zarr.json", groupDoc))
	c2 := must[ObjectID](t)(s.Amend(ctx, "c1 amended", nil))
	snapRepo()

	log := must[[]Update](t)(r.OpsLog(ctx))
	want := []Update{
		{Type: UpdateCommitAmended, Name: "main", PreviousSnapshot: c1, NewSnapshot: c2},
		{Type: UpdateBranchDeleted, Name: "dev", PreviousSnapshot: InitialSnapshotID},
		{Type: UpdateTagDeleted, Name: "v1", PreviousSnapshot: c1},
		{Type: UpdateBranchReset, Name: "dev", PreviousSnapshot: c1},
		{Type: UpdateTagCreated, Name: "v1"},
		{Type: UpdateBranchCreated, Name: "dev"},
		{Type: UpdateNewCommit, Name: "main", NewSnapshot: c1},
		{Type: UpdateRepoInitialized},
	}
	if len(log) != len(want) {
		t.Fatalf("ops log has %d entries, want %d", len(log), len(want))
	}
	for i, u := range log {
		w := want[i]
		if u.Type != w.Type || u.Name != w.Name || u.PreviousSnapshot != w.PreviousSnapshot || u.NewSnapshot != w.NewSnapshot {
			t.Errorf("entry %d = %s, want %s", i, describeUpdate(u), describeUpdate(w))
		}
		if i > 0 && u.UpdatedAt >= log[i-1].UpdatedAt {
			t.Errorf("entry %d not older than entry %d", i, i-1)
		}
		if i == 0 {
			continue
		}
		// Entry i produced versions[len-1-i]; its backup holds exactly that.
		if !strings.HasPrefix(u.BackupPath, "repo.") || len(u.BackupPath) != len("repo.")+14+1+20 {
			t.Fatalf("entry %d backup name %q", i, u.BackupPath)
		}
		backup := must[[]byte](t)(readKey(ctx, st, "overwritten/"+u.BackupPath))
		if !bytes.Equal(backup, versions[len(versions)-1-i]) {
			t.Errorf("backup of entry %d (%s) is not the object it produced", i, describeUpdate(u))
		}
	}
	if n := len(must[[]objstore.ObjectInfo](t)(st.List(ctx, "overwritten/"))); n != len(versions)-1 {
		t.Fatalf("%d backups, want %d", n, len(versions)-1)
	}
	// A deleted tag name is never reusable.
	mustErrIs(t, r.CreateTag(ctx, "v1", c2), ErrTagExists)
	_, err := r.LookupTag(ctx, "v1")
	mustErrIs(t, err, ErrRefNotFound)
	if d := must[[]string](t)(r.ListDeletedTags(ctx)); !slices.Equal(d, []string{"v1"}) {
		t.Fatalf("deleted tags %v", d)
	}
	// Errors of the ref layer, as at spec 1.
	mustErrIs(t, r.CreateBranch(ctx, "main", c2), ErrBranchExists)
	mustErrIs(t, r.DeleteBranch(ctx, "main"), ErrCannotDeleteMain)
	mustErrIs(t, r.DeleteBranch(ctx, "nope"), ErrRefNotFound)
	mustErrIs(t, r.DeleteTag(ctx, "nope"), ErrRefNotFound)
	mustErrIs(t, r.CreateBranch(ctx, "x", ObjectID{9}), objstore.ErrNotFound)
	mustErrIs(t, r.CreateBranch(ctx, "a/b", c2), ErrInvalidRefName)
	for k, spec := range specBytes(t, st) {
		if spec != 2 {
			t.Fatalf("%s has spec byte %d in a spec-2 repository", k, spec)
		}
	}
}

// versionHookStore runs a hook (once) just before the first
// PutIfVersionMatches of the `repo` object.
type versionHookStore struct {
	objstore.Store
	once sync.Once
	hook func()
}

func (h *versionHookStore) PutIfVersionMatches(ctx context.Context, key string, data []byte, v objstore.Version) (objstore.Version, error) {
	if key == "repo" && h.hook != nil {
		h.once.Do(h.hook)
	}
	return h.Store.PutIfVersionMatches(ctx, key, data, v)
}

// TestSpec2RetryOnUnrelatedChange: a commit whose compare-and-swap of
// `repo` loses to an unrelated change (another branch created) retries and
// keeps both; one that loses to a commit on its own branch is ErrConflict.
func TestSpec2RetryOnUnrelatedChange(t *testing.T) {
	ctx := context.Background()
	r0, mem, clock := newMemRepoSpec(t, SpecVersion2, nil)
	hs := &versionHookStore{Store: mem}
	r := must[*Repository](t)(Open(ctx, hs, Options{Clock: clock, Rand: seeded(7)}))
	s := must[*Session](t)(r.WritableSession(ctx, "main"))
	noErr(t, s.Set(ctx, "zarr.json", groupDoc))
	hs.hook = func() { noErr(t, r0.CreateBranch(ctx, "other", InitialSnapshotID)) }
	id := must[ObjectID](t)(s.Commit(ctx, "mine", nil))
	if tip := must[ObjectID](t)(r.LookupBranch(ctx, "main")); tip != id {
		t.Fatal("the retried commit did not land")
	}
	if b := must[map[string]ObjectID](t)(r.ListBranches(ctx)); b["other"] != InitialSnapshotID {
		t.Fatal("the concurrent branch creation was lost")
	}
	log := must[[]Update](t)(r.OpsLog(ctx))
	if log[0].Type != UpdateNewCommit || log[1].Type != UpdateBranchCreated {
		t.Fatalf("ops log tops with %s, %s", describeUpdate(log[0]), describeUpdate(log[1]))
	}

	// Now the concurrent change is a commit on the same branch.
	hs2 := &versionHookStore{Store: mem}
	r2 := must[*Repository](t)(Open(ctx, hs2, Options{Clock: clock, Rand: seeded(8)}))
	s2 := must[*Session](t)(r2.WritableSession(ctx, "main"))
	noErr(t, s2.Set(ctx, "a/zarr.json", groupDoc))
	other := must[*Session](t)(r0.WritableSession(ctx, "main"))
	noErr(t, other.Set(ctx, "b/zarr.json", groupDoc))
	var otherID ObjectID
	hs2.hook = func() { otherID = must[ObjectID](t)(other.Commit(ctx, "theirs", nil)) }
	_, err := s2.Commit(ctx, "loser", nil)
	mustErrIs(t, err, ErrConflict)
	if tip := must[ObjectID](t)(r2.LookupBranch(ctx, "main")); tip != otherID {
		t.Fatal("main is not at the winning commit")
	}
}

func TestSpec2Amend(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newMemRepoSpec(t, SpecVersion2, nil)
	s := must[*Session](t)(r.WritableSession(ctx, "main"))
	noErr(t, s.Set(ctx, "zarr.json", groupDoc))
	_, err := s.Amend(ctx, "amend the initial commit", nil)
	mustErrIs(t, err, ErrCannotAmendInitial)
	c1 := must[ObjectID](t)(s.Commit(ctx, "root group", nil))
	noErr(t, s.Set(ctx, "a/zarr.json", arrayDoc([]uint64{4}, []uint64{2}, "int8", "0", nil)))
	noErr(t, s.Set(ctx, "a/c/0", []byte{1, 2}))
	c2 := must[ObjectID](t)(s.Commit(ctx, "will be amended", nil))
	noErr(t, r.CreateTag(ctx, "before", c2))
	_, err = s.Amend(ctx, "nothing", nil)
	mustErrIs(t, err, ErrNoChanges)
	noErr(t, s.Set(ctx, "b/zarr.json", groupDoc))
	noErr(t, s.Set(ctx, "a/c/1", []byte{3, 4}))
	c3 := must[ObjectID](t)(s.Amend(ctx, "amended", map[string]any{"k": "v"}))
	if s.BaseSnapshot() != c3 {
		t.Fatal("session does not continue from the amended snapshot")
	}
	if got := messages(t, r, c3); !slices.Equal(got, []string{"amended", "root group", "Repository initialized"}) {
		t.Fatalf("ancestry after amend = %q", got)
	}
	// The amended snapshot stays reachable through its tag.
	if got := messages(t, r, must[ObjectID](t)(r.LookupTag(ctx, "before"))); !slices.Equal(got, []string{"will be amended", "root group", "Repository initialized"}) {
		t.Fatalf("tag ancestry = %q", got)
	}
	ro := must[*Session](t)(r.ReadonlySession(ctx, BranchRef("main")))
	for _, k := range []string{"a/c/0", "a/c/1", "b/zarr.json"} {
		if _, err := ro.Get(ctx, k); err != nil {
			t.Fatalf("%s after amend: %v", k, err)
		}
	}
	// The transaction log covers both the amended commit and the amendment.
	d := must[*Diff](t)(r.Diff(ctx, c1, c3))
	if !slices.Equal(d.NewArrays, []string{"/a"}) || !slices.Equal(d.NewGroups, []string{"/b"}) ||
		len(d.UpdatedChunks["/a"]) != 2 {
		t.Fatalf("diff across the amend = %+v", d)
	}
	// Amend is spec-2 only.
	r1, _, _ := newMemRepo(t, nil)
	s1 := must[*Session](t)(r1.WritableSession(ctx, "main"))
	noErr(t, s1.Set(ctx, "zarr.json", groupDoc))
	_, err = s1.Amend(ctx, "x", nil)
	mustErrIs(t, err, ErrSpec2Only)
	ro1 := must[*Session](t)(r.ReadonlySession(ctx, BranchRef("main")))
	_, err = ro1.Amend(ctx, "x", nil)
	mustErrIs(t, err, ErrReadOnly)
}

func TestMergeTransactionLogs(t *testing.T) {
	n := func(b byte) NodeID { return NodeID{b} }
	older := &TransactionLog{
		NewGroups: []NodeID{n(1), n(2)}, NewArrays: []NodeID{n(3)}, UpdatedArrays: []NodeID{n(4)},
		DeletedGroups: []NodeID{n(5)},
		UpdatedChunks: []ArrayUpdatedChunks{{NodeID: n(3), Chunks: [][]uint32{{0}}}, {NodeID: n(4), Chunks: [][]uint32{{1}}}},
	}
	newer := &TransactionLog{
		SpecVersion:   2,
		DeletedGroups: []NodeID{n(2)}, DeletedArrays: []NodeID{n(4)}, UpdatedGroups: []NodeID{n(1)},
		UpdatedChunks: []ArrayUpdatedChunks{{NodeID: n(3), Chunks: [][]uint32{{0}, {2}}}},
	}
	m := mergeTransactionLogs(ObjectID{7}, older, newer)
	if m.ID != (ObjectID{7}) || m.SpecVersion != 2 {
		t.Fatalf("merged id/spec = %s/%d", m.ID, m.SpecVersion)
	}
	check := func(name string, got, want []NodeID) {
		if !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("new groups", m.NewGroups, []NodeID{n(1)}) // 2 was created then deleted
	check("new arrays", m.NewArrays, []NodeID{n(3)})
	check("deleted groups", m.DeletedGroups, []NodeID{n(5)}) // 2 never existed before
	check("deleted arrays", m.DeletedArrays, []NodeID{n(4)})
	check("updated groups", m.UpdatedGroups, nil) // 1 is new
	check("updated arrays", m.UpdatedArrays, nil) // 4 is deleted
	if len(m.UpdatedChunks) != 1 || m.UpdatedChunks[0].NodeID != n(3) || len(m.UpdatedChunks[0].Chunks) != 2 {
		t.Fatalf("updated chunks = %+v", m.UpdatedChunks)
	}
}

func TestSpec2Status(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newMemRepoSpec(t, SpecVersion2, nil)
	s := must[*Session](t)(r.WritableSession(ctx, "main"))
	noErr(t, s.Set(ctx, "zarr.json", groupDoc))
	noErr(t, r.SetStatus(ctx, RepoReadOnly, "maintenance"))
	st := must[RepoStatus](t)(r.Status(ctx))
	if st.Availability != RepoReadOnly || st.LimitedAvailabilityReason != "maintenance" || st.SetAt == 0 {
		t.Fatalf("status = %+v", st)
	}
	_, err := s.Commit(ctx, "blocked", nil)
	mustErrIs(t, err, ErrRepositoryNotOnline)
	mustErrIs(t, r.CreateBranch(ctx, "b", InitialSnapshotID), ErrRepositoryNotOnline)
	_, err = r.ExpireSnapshots(ctx, testEpoch.AddDate(1, 0, 0), true, true)
	mustErrIs(t, err, ErrRepositoryNotOnline)
	_, err = r.GarbageCollect(ctx, testEpoch.AddDate(1, 0, 0), false)
	mustErrIs(t, err, ErrRepositoryNotOnline)
	noErr(t, r.SetStatus(ctx, RepoOnline, "ignored"))
	must[ObjectID](t)(s.Commit(ctx, "unblocked", nil))
	log := must[[]Update](t)(r.OpsLog(ctx))
	if log[1].Type != UpdateRepoStatusChanged || log[1].Status.Availability != RepoOnline ||
		log[2].Type != UpdateRepoStatusChanged || log[2].Status.LimitedAvailabilityReason != "maintenance" {
		t.Fatalf("ops log = %s, %s", describeUpdate(log[1]), describeUpdate(log[2]))
	}
	r1, _, _ := newMemRepo(t, nil)
	_, err = r1.Status(ctx)
	mustErrIs(t, err, ErrSpec2Only)
	mustErrIs(t, r1.SetStatus(ctx, RepoReadOnly, ""), ErrSpec2Only)
}

// TestSpec2PreservesUnknownFields: feature flags, repository metadata and
// reserved bytes of a `repo` object survive every rewrite.
func TestSpec2PreservesUnknownFields(t *testing.T) {
	ctx := context.Background()
	r, st, _ := newMemRepoSpec(t, SpecVersion2, nil)
	info := must[*RepoInfo](t)(r.RepoInfo(ctx))
	info.EnabledFeatureFlags = []uint16{3, 7}
	info.DisabledFeatureFlags = []uint16{5}
	info.Metadata = []MetadataItem{{Name: "owner", Value: []byte{1, 2, 3}}}
	info.Config = []byte{9, 9, 9}
	_, err := st.Put(ctx, "repo", must[[]byte](t)(EncodeRepoInfo(info)))
	noErr(t, err)
	noErr(t, r.CreateBranch(ctx, "b", InitialSnapshotID))
	noErr(t, r.CreateTag(ctx, "t", InitialSnapshotID))
	after := must[*RepoInfo](t)(r.RepoInfo(ctx))
	if !slices.Equal(after.EnabledFeatureFlags, []uint16{3, 7}) || !slices.Equal(after.DisabledFeatureFlags, []uint16{5}) ||
		len(after.Metadata) != 1 || !bytes.Equal(after.Metadata[0].Value, []byte{1, 2, 3}) || !bytes.Equal(after.Config, []byte{9, 9, 9}) {
		t.Fatalf("fields lost on rewrite: %+v", after)
	}
}

// TestSpec2OpsLogOverflow: with a small bound the `repo` object keeps the
// newest entries and chains to backups holding the rest; OpsLog follows
// the chain.
func TestSpec2OpsLogOverflow(t *testing.T) {
	ctx := context.Background()
	clockRepo, st, clock := newMemRepoSpec(t, SpecVersion2, nil)
	_ = clockRepo
	r := must[*Repository](t)(Open(ctx, st, Options{Clock: clock, Rand: seeded(3), UpdatesPerRepoFile: 3}))
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		noErr(t, r.CreateBranch(ctx, name, InitialSnapshotID))
	}
	info := must[*RepoInfo](t)(r.RepoInfo(ctx))
	if len(info.LatestUpdates) != 3 || info.RepoBeforeUpdates == "" {
		t.Fatalf("repo keeps %d entries, chain %q", len(info.LatestUpdates), info.RepoBeforeUpdates)
	}
	log := must[[]Update](t)(r.OpsLog(ctx))
	var names []string
	for _, u := range log {
		names = append(names, u.Name)
	}
	if !slices.Equal(names, []string{"g", "f", "e", "d", "c", "b", "a", ""}) || log[7].Type != UpdateRepoInitialized {
		t.Fatalf("ops log across the chain = %q", names)
	}
	for i := 1; i < len(log); i++ {
		if log[i].UpdatedAt >= log[i-1].UpdatedAt || log[i].BackupPath == "" {
			t.Fatalf("entry %d: %+v", i, log[i])
		}
	}
	// A broken chain is reported, naming the missing backup.
	noErr(t, st.Delete(ctx, "overwritten/"+info.RepoBeforeUpdates))
	_, err := r.OpsLog(ctx)
	mustErrIs(t, err, objstore.ErrNotFound)
	if !strings.Contains(err.Error(), info.RepoBeforeUpdates) {
		t.Fatalf("error %q does not name the missing backup", err)
	}
}

// TestSpec2ConcurrentBranchWriters: writers on different branches never
// conflict; each retries its `repo` update transparently.
func TestSpec2ConcurrentBranchWriters(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newMemRepoSpec(t, SpecVersion2, nil)
	const writers, commits = 6, 4
	for w := range writers {
		noErr(t, r.CreateBranch(ctx, string(rune('a'+w)), InitialSnapshotID))
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			s, err := r.WritableSession(ctx, string(rune('a'+w)))
			if err != nil {
				errs <- err
				return
			}
			for c := range commits {
				if err := s.Set(ctx, "zarr.json", groupDocWith(`{"c":`+string(rune('0'+c))+`}`)); err != nil {
					errs <- err
					return
				}
				if _, err := s.Commit(ctx, "c", nil); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if errors.Is(err, ErrConflict) {
			t.Fatalf("writers on distinct branches conflicted: %v", err)
		}
		t.Fatal(err)
	}
	for w := range writers {
		tip := must[ObjectID](t)(r.LookupBranch(ctx, string(rune('a'+w))))
		if n := len(messages(t, r, tip)); n != commits+1 {
			t.Fatalf("branch %c has %d snapshots, want %d", 'a'+w, n, commits+1)
		}
	}
	if n := len(must[[]Update](t)(r.OpsLog(ctx))); n != 1+writers+writers*commits {
		t.Fatalf("ops log has %d entries, want %d", n, 1+writers+writers*commits)
	}
}
