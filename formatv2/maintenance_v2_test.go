package formatv2

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icerig/icerig/objstore"
)

// commitGroup commits one new group on a session and returns the snapshot
// and the clock time just before the commit.
func commitGroup(t *testing.T, s *Session, clock *objstore.VirtualClock, path, msg string) (ObjectID, time.Time) {
	t.Helper()
	ctx := context.Background()
	noErr(t, s.Set(ctx, path+"/zarr.json", groupDoc))
	before := clock.Peek()
	return must[ObjectID](t)(s.Commit(ctx, msg, nil)), before
}

// spec2History builds, at spec 2:
//
//	init -> c1 (tag "old") -> c2 -> c3 -> c4 (main)
//	                           \-> d1 (dev)
//
// and returns the snapshots and the flush-time cutoff between c2 and c3.
func spec2History(t *testing.T) (r *Repository, st objstore.Store, clock *objstore.VirtualClock, ids map[string]ObjectID, cut time.Time) {
	t.Helper()
	ctx := context.Background()
	r, mem, clock := newMemRepoSpec(t, SpecVersion2, nil)
	ids = map[string]ObjectID{"init": InitialSnapshotID}
	s := must[*Session](t)(r.WritableSession(ctx, "main"))
	ids["c1"], _ = commitGroup(t, s, clock, "a", "c1")
	noErr(t, r.CreateTag(ctx, "old", ids["c1"]))
	ids["c2"], _ = commitGroup(t, s, clock, "b", "c2")
	noErr(t, r.CreateBranch(ctx, "dev", ids["c2"]))
	ids["c3"], cut = commitGroup(t, s, clock, "c", "c3")
	ids["c4"], _ = commitGroup(t, s, clock, "d", "c4")
	ds := must[*Session](t)(r.WritableSession(ctx, "dev"))
	ids["d1"], _ = commitGroup(t, ds, clock, "x", "d1")
	return r, mem, clock, ids, cut
}

func TestSpec2ExpireReparents(t *testing.T) {
	ctx := context.Background()
	r, st, _, ids, cut := spec2History(t)
	data := func() map[string]string {
		out := map[string]string{}
		for k, v := range dump(t, st) {
			if k != "repo" && !strings.HasPrefix(k, "overwritten/") {
				out[k] = v
			}
		}
		return out
	}
	before := data()
	res := must[*ExpireResult](t)(r.ExpireSnapshots(ctx, cut, false, false))
	if !slices.Equal(res.ReleasedSnapshots, []ObjectID{ids["c2"]}) {
		t.Fatalf("released %v, want c2 %s (c1 is the tip of a kept tag)", res.ReleasedSnapshots, ids["c2"])
	}
	if got, want := res.EditedSnapshots, sortedIDs(map[ObjectID]bool{ids["c3"]: true, ids["d1"]: true}); !slices.Equal(got, want) {
		t.Fatalf("edited %v, want %v", got, want)
	}
	if len(res.DeletedBranches)+len(res.DeletedTags) != 0 {
		t.Fatalf("refs deleted although not asked: %+v", res)
	}
	// Only the repo object changed.
	if !maps.Equal(before, data()) {
		t.Fatal("expiration changed objects other than repo")
	}
	for ref, want := range map[string][]string{
		"main": {"c4", "c3", "Repository initialized"},
		"dev":  {"d1", "Repository initialized"},
	} {
		if got := messages(t, r, must[ObjectID](t)(r.LookupBranch(ctx, ref))); !slices.Equal(got, want) {
			t.Errorf("%s after expiration: %q, want %q", ref, got, want)
		}
	}
	if got := messages(t, r, must[ObjectID](t)(r.LookupTag(ctx, "old"))); !slices.Equal(got, []string{"c1", "Repository initialized"}) {
		t.Errorf("tag old after expiration: %q", got)
	}
	st2 := must[*repoState](t)(r.loadState(ctx))
	if got := st2.snaps[ids["c3"]].info.PrunedAncestorTxLogs; !slices.Equal(got, []ObjectID{ids["c1"], ids["c2"]}) {
		t.Fatalf("c3 pruned ancestors %v, want c1 c2 oldest first", got)
	}
	// The diff across the re-parented snapshot stays complete.
	d := must[*Diff](t)(r.Diff(ctx, InitialSnapshotID, ids["c4"]))
	if !slices.Equal(d.NewGroups, []string{"/a", "/b", "/c", "/d"}) {
		t.Fatalf("diff init..c4 after expiration = %v", d.NewGroups)
	}
	_, err := r.Ancestry(ctx, ids["c2"])
	mustErrIs(t, err, ErrRefNotFound)
	log := must[[]Update](t)(r.OpsLog(ctx))
	if log[0].Type != UpdateExpirationRan {
		t.Fatalf("ops log tops with %s", describeUpdate(log[0]))
	}
	if f := must[[]Finding](t)(r.Fsck(ctx)); len(f) != 0 {
		t.Fatalf("fsck after expiration: %v", f)
	}
	// Expiring again changes nothing but the ops log.
	res = must[*ExpireResult](t)(r.ExpireSnapshots(ctx, cut, false, false))
	if len(res.ReleasedSnapshots)+len(res.EditedSnapshots) != 0 {
		t.Fatalf("second expiration = %+v", res)
	}
}

// TestSpec2ExpireDeletesRefs covers the ref rules: expired tags and
// branches go when asked, main never, a branch sharing main's tip does (its
// tip survives as main's: the bug class "branches sharing main's tip not
// expiring"), a ref at the initial snapshot never (roots never expire).
func TestSpec2ExpireDeletesRefs(t *testing.T) {
	ctx := context.Background()
	r, _, clock, ids, _ := spec2History(t)
	noErr(t, r.CreateBranch(ctx, "same-as-main", ids["c4"]))
	noErr(t, r.CreateBranch(ctx, "at-root", InitialSnapshotID))
	noErr(t, r.CreateTag(ctx, "root-tag", InitialSnapshotID))
	res := must[*ExpireResult](t)(r.ExpireSnapshots(ctx, clock.Peek().Add(time.Hour), true, true))
	if !slices.Equal(res.DeletedBranches, []string{"dev", "same-as-main"}) || !slices.Equal(res.DeletedTags, []string{"old"}) {
		t.Fatalf("deleted branches %v tags %v", res.DeletedBranches, res.DeletedTags)
	}
	branches := must[map[string]ObjectID](t)(r.ListBranches(ctx))
	if !slices.Equal(slices.Sorted(maps.Keys(branches)), []string{"at-root", "main"}) || branches["main"] != ids["c4"] {
		t.Fatalf("branches after expiration %v", branches)
	}
	if tags := must[map[string]ObjectID](t)(r.ListTags(ctx)); !slices.Equal(slices.Sorted(maps.Keys(tags)), []string{"root-tag"}) {
		t.Fatalf("tags after expiration %v", tags)
	}
	if d := must[[]string](t)(r.ListDeletedTags(ctx)); !slices.Equal(d, []string{"old"}) {
		t.Fatalf("deleted tags %v", d)
	}
	mustErrIs(t, r.CreateTag(ctx, "old", InitialSnapshotID), ErrTagExists)
	if got := messages(t, r, ids["c4"]); !slices.Equal(got, []string{"c4", "Repository initialized"}) {
		t.Fatalf("main after full expiration: %q", got)
	}
	released := map[ObjectID]bool{}
	for _, id := range res.ReleasedSnapshots {
		released[id] = true
	}
	for _, name := range []string{"c1", "c2", "c3", "d1"} {
		if !released[ids[name]] {
			t.Errorf("%s not released", name)
		}
	}
	if released[ids["c4"]] || released[InitialSnapshotID] {
		t.Fatal("main's tip or the root was released")
	}
}

// TestSpec2ExpireRestartsWhenRepoMoves: a change of the repo object between
// expiration reading it and writing it makes expiration start over, so the
// change is honoured (here: a new branch protecting an old snapshot).
func TestSpec2ExpireRestartsWhenRepoMoves(t *testing.T) {
	ctx := context.Background()
	r0, mem, clock, ids, cut := spec2History(t)
	hs := &versionHookStore{Store: mem}
	r := must[*Repository](t)(Open(ctx, hs, Options{Clock: clock, Rand: seeded(4)}))
	hs.hook = func() { noErr(t, r0.CreateBranch(ctx, "keeps-c2", ids["c2"])) }
	res := must[*ExpireResult](t)(r.ExpireSnapshots(ctx, cut, false, false))
	if len(res.ReleasedSnapshots) != 0 {
		t.Fatalf("released %v although c2 became a branch tip", res.ReleasedSnapshots)
	}
	if got := messages(t, r, ids["c2"]); !slices.Equal(got, []string{"c2", "c1", "Repository initialized"}) {
		t.Fatalf("keeps-c2 ancestry %q", got)
	}
	log := must[[]Update](t)(r.OpsLog(ctx))
	if log[0].Type != UpdateExpirationRan || log[1].Type != UpdateBranchCreated {
		t.Fatalf("ops log tops with %s, %s", describeUpdate(log[0]), describeUpdate(log[1]))
	}
}

// TestSpec2GarbageCollect: after expiration, GC deletes the released
// snapshot's file but keeps its transaction log (a pruned ancestor), and
// keeps everything the refs reach; a dry run deletes nothing.
func TestSpec2GarbageCollect(t *testing.T) {
	ctx := context.Background()
	r, st, clock, ids, cut := spec2History(t)
	must[*ExpireResult](t)(r.ExpireSnapshots(ctx, cut, false, false))
	// A failed commit's objects: unreferenced.
	orphan := ObjectID{0xee}
	noErr(t, r.writeSnapshot(ctx, &Snapshot{SpecVersion: 2, ID: orphan, FlushedAt: 1, Message: "orphan"}))
	gcCut := clock.Peek().Add(time.Hour)

	dry := must[*GCSummary](t)(r.GarbageCollect(ctx, gcCut, true))
	if dry.SnapshotsDeleted != 2 || dry.TransactionLogsDeleted != 0 {
		t.Fatalf("dry run summary %+v", dry)
	}
	if _, _, err := st.Get(ctx, snapshotKey(orphan)); err != nil {
		t.Fatal("a dry run deleted a snapshot")
	}
	sum := must[*GCSummary](t)(r.GarbageCollect(ctx, gcCut, false))
	if *sum != *dry {
		t.Fatalf("GC summary %+v, dry run said %+v", *sum, *dry)
	}
	for _, id := range []ObjectID{orphan, ids["c2"]} {
		if _, _, err := st.Get(ctx, snapshotKey(id)); err == nil {
			t.Fatalf("snapshot %s survived GC", id)
		}
	}
	// c2's transaction log is a pruned ancestor of c3 and d1: kept.
	if _, _, err := st.Get(ctx, transactionLogKey(ids["c2"])); err != nil {
		t.Fatal("GC deleted the transaction log of a pruned ancestor")
	}
	d := must[*Diff](t)(r.Diff(ctx, InitialSnapshotID, ids["c4"]))
	if !slices.Equal(d.NewGroups, []string{"/a", "/b", "/c", "/d"}) {
		t.Fatalf("diff after GC = %v", d.NewGroups)
	}
	if f := must[[]Finding](t)(r.Fsck(ctx)); len(f) != 0 {
		t.Fatalf("fsck after GC: %v", f)
	}
	if log := must[[]Update](t)(r.OpsLog(ctx)); log[0].Type != UpdateGCRan || log[1].Type != UpdateExpirationRan {
		t.Fatalf("ops log tops with %s, %s", describeUpdate(log[0]), describeUpdate(log[1]))
	}
	// Everything is still readable at every ref.
	for _, ref := range []VersionRef{BranchRef("main"), BranchRef("dev"), TagRef("old")} {
		s := must[*Session](t)(r.ReadonlySession(ctx, ref))
		must[[]string](t)(s.List(ctx))
	}
}

// TestSpec2GarbageCollectReparents is upstream's case: main reset back to
// s1 leaves s2..s5 unreachable; with the cutoff at s3's write time, s2 (old)
// leaves the repo object and storage while s3..s5 (new) stay, s3
// re-parented to s1 with s2 recorded as pruned.
func TestSpec2GarbageCollectReparents(t *testing.T) {
	ctx := context.Background()
	r, st, clock := newMemRepoSpec(t, SpecVersion2, nil)
	s := must[*Session](t)(r.WritableSession(ctx, "main"))
	var snaps []ObjectID
	var cut time.Time
	for i, p := range []string{"a", "b", "c", "d", "e"} {
		id, before := commitGroup(t, s, clock, p, "s"+p)
		if i == 2 {
			cut = before
		}
		snaps = append(snaps, id)
	}
	noErr(t, r.ResetBranch(ctx, "main", snaps[0]))
	sum := must[*GCSummary](t)(r.GarbageCollect(ctx, cut, false))
	if sum.SnapshotsDeleted != 1 {
		t.Fatalf("summary %+v, want exactly s2 deleted", *sum)
	}
	if _, _, err := st.Get(ctx, snapshotKey(snaps[1])); err == nil {
		t.Fatal("s2 survived")
	}
	state := must[*repoState](t)(r.loadState(ctx))
	e := state.snaps[snaps[2]]
	if e == nil || e.parent == nil || *e.parent != snaps[0] || !slices.Equal(e.info.PrunedAncestorTxLogs, []ObjectID{snaps[1]}) {
		t.Fatalf("s3 after GC: %+v", e)
	}
	if got := messages(t, r, snaps[4]); !slices.Equal(got, []string{"se", "sd", "sc", "sa", "Repository initialized"}) {
		t.Fatalf("s5 ancestry %q", got)
	}
	if f := must[[]Finding](t)(r.Fsck(ctx)); len(f) != 0 {
		t.Fatalf("fsck: %v", f)
	}
}

func TestSpec2FsckFindsDamage(t *testing.T) {
	ctx := context.Background()
	r, st, _, ids, _ := spec2History(t)
	noErr(t, st.Delete(ctx, snapshotKey(ids["c3"])))
	noErr(t, st.Delete(ctx, transactionLogKey(ids["d1"])))
	f := must[[]Finding](t)(r.Fsck(ctx))
	if len(f) != 2 || f[0].Object != snapshotKey(ids["c3"]) || f[1].Object != transactionLogKey(ids["d1"]) {
		t.Fatalf("findings %v", f)
	}
	_, err := st.Put(ctx, "repo", []byte("garbage"))
	noErr(t, err)
	f = must[[]Finding](t)(r.Fsck(ctx))
	if len(f) != 1 || f[0].Object != "repo" {
		t.Fatalf("findings on a broken repo object %v", f)
	}
}

// objectState is what a listing plus a read shows of one stored object.
type objectState struct {
	version objstore.Version
	size    int64
	modTime time.Time
	data    string
}

// storeState lists every object of st with its version, size, write time
// and bytes.
func storeState(t *testing.T, st objstore.Store) map[string]objectState {
	t.Helper()
	ctx := context.Background()
	out := map[string]objectState{}
	for _, o := range must[[]objstore.ObjectInfo](t)(st.List(ctx, "")) {
		data, v, err := st.Get(ctx, o.Key)
		noErr(t, err)
		out[o.Key] = objectState{version: v, size: o.Size, modTime: o.ModTime, data: string(data)}
	}
	return out
}

// checkNoOpRepoRewrite checks what a spec-2 maintenance operation that
// changed nothing must still have written, as upstream 2.x does: one new
// ops log entry of kind want on top, the previous top entry now naming a
// backup under overwritten/ that holds the previous `repo` object, exactly
// one new object under overwritten/ (that backup), a new `repo` object, and
// no other object touched.
func checkNoOpRepoRewrite(t *testing.T, r *Repository, st objstore.Store, before map[string]objectState, logBefore []Update, want UpdateType) {
	t.Helper()
	ctx := context.Background()
	after := storeState(t, st)
	log := must[[]Update](t)(r.OpsLog(ctx))
	if len(log) != len(logBefore)+1 {
		t.Fatalf("ops log has %d entries, want %d (one more)", len(log), len(logBefore)+1)
	}
	if log[0].Type != want || log[0].BackupPath != "" {
		t.Fatalf("ops log tops with %s (backup %q), want %s without backup", describeUpdate(log[0]), log[0].BackupPath, UpdateTypeName(want))
	}
	prev := logBefore[0]
	if prev.BackupPath != "" {
		t.Fatalf("the top entry had a backup before: %q", prev.BackupPath)
	}
	if log[1].BackupPath == "" {
		t.Fatalf("the previous top entry %s names no backup", describeUpdate(log[1]))
	}
	named := log[1]
	named.BackupPath = ""
	if named != prev {
		t.Fatalf("previous top entry became %+v, was %+v", log[1], prev)
	}
	for i := 2; i < len(log); i++ {
		if log[i] != logBefore[i-1] {
			t.Fatalf("ops log entry %d changed: %+v, was %+v", i, log[i], logBefore[i-1])
		}
	}
	backupKey := overwrittenPrefix + log[1].BackupPath
	backup, ok := after[backupKey]
	if !ok {
		t.Fatalf("backup %s named by the ops log does not exist", backupKey)
	}
	if _, existed := before[backupKey]; existed {
		t.Fatalf("backup %s existed before the operation", backupKey)
	}
	if backup.data != before[repoInfoKey].data {
		t.Fatalf("backup %s does not hold the previous %s object", backupKey, repoInfoKey)
	}
	countOverwritten := func(m map[string]objectState) int {
		n := 0
		for k := range m {
			if strings.HasPrefix(k, overwrittenPrefix) {
				n++
			}
		}
		return n
	}
	if b, a := countOverwritten(before), countOverwritten(after); a != b+1 {
		t.Fatalf("%s holds %d objects, held %d: want exactly one more", overwrittenPrefix, a, b)
	}
	if after[repoInfoKey].version == before[repoInfoKey].version || after[repoInfoKey].data == before[repoInfoKey].data {
		t.Fatalf("the %s object was not rewritten", repoInfoKey)
	}
	for k, b := range before {
		if k == repoInfoKey {
			continue
		}
		if a, ok := after[k]; !ok || a != b {
			t.Fatalf("%s changed or vanished", k)
		}
	}
	if len(after) != len(before)+1 {
		t.Fatalf("%d objects after, %d before: want exactly the backup added", len(after), len(before))
	}
}

// TestSpec2NoOpMaintenanceRewritesRepo locks in upstream 2.x's behaviour
// (ops/gc.rs: expire_snapshots and garbage_collect update the repo info
// unconditionally): an expiration that expires nothing and a GC (not a dry
// run) that deletes nothing still back up `repo`, write a new one and add
// an ExpirationRan / GCRan ops log entry; a dry-run GC writes nothing at
// all, even when it finds garbage.
func TestSpec2NoOpMaintenanceRewritesRepo(t *testing.T) {
	ctx := context.Background()
	r, st, clock, _, _ := spec2History(t)

	// Expiration with a cutoff before every commit: nothing expires.
	before, logBefore := storeState(t, st), must[[]Update](t)(r.OpsLog(ctx))
	branchesBefore := must[map[string]ObjectID](t)(r.ListBranches(ctx))
	res := must[*ExpireResult](t)(r.ExpireSnapshots(ctx, time.Unix(0, 0), true, true))
	if len(res.ReleasedSnapshots)+len(res.EditedSnapshots)+len(res.DeletedBranches)+len(res.DeletedTags) != 0 {
		t.Fatalf("expiration with a cutoff before every commit = %+v", res)
	}
	checkNoOpRepoRewrite(t, r, st, before, logBefore, UpdateExpirationRan)
	if got := must[map[string]ObjectID](t)(r.ListBranches(ctx)); !maps.Equal(got, branchesBefore) {
		t.Fatalf("branches after a no-op expiration %v, want %v", got, branchesBefore)
	}

	// Every snapshot is reachable and there is nothing else: GC deletes
	// nothing even with a cutoff after everything was written.
	gcCut := clock.Peek().Add(time.Hour)
	dryBefore := storeState(t, st)
	dry := must[*GCSummary](t)(r.GarbageCollect(ctx, gcCut, true))
	if *dry != (GCSummary{}) {
		t.Fatalf("dry run with nothing to collect = %+v", *dry)
	}
	if got := storeState(t, st); !maps.Equal(got, dryBefore) {
		t.Fatal("a dry-run GC with nothing to collect changed the store")
	}
	before, logBefore = storeState(t, st), must[[]Update](t)(r.OpsLog(ctx))
	sum := must[*GCSummary](t)(r.GarbageCollect(ctx, gcCut, false))
	if *sum != (GCSummary{}) {
		t.Fatalf("GC with nothing to collect = %+v", *sum)
	}
	checkNoOpRepoRewrite(t, r, st, before, logBefore, UpdateGCRan)

	// A dry run that finds garbage (an orphan snapshot) still writes nothing.
	orphan := ObjectID{0xee}
	noErr(t, r.writeSnapshot(ctx, &Snapshot{SpecVersion: 2, ID: orphan, FlushedAt: 1, Message: "orphan"}))
	dryBefore = storeState(t, st)
	dry = must[*GCSummary](t)(r.GarbageCollect(ctx, clock.Peek().Add(time.Hour), true))
	if dry.SnapshotsDeleted != 1 {
		t.Fatalf("dry run over an orphan snapshot = %+v, want 1 snapshot", *dry)
	}
	if got := storeState(t, st); !maps.Equal(got, dryBefore) {
		t.Fatal("a dry-run GC changed the store")
	}
	if log := must[[]Update](t)(r.OpsLog(ctx)); log[0].Type != UpdateGCRan || log[1].Type != UpdateExpirationRan {
		t.Fatalf("ops log after the dry runs tops with %s, %s", describeUpdate(log[0]), describeUpdate(log[1]))
	}
}
