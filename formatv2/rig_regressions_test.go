package formatv2

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/icerig/icerig/objstore"
)

// Regressions the rig's state machine found (statemachine, TestCrossVersion
// and TestSingleVersionV2): a spec-1 repository whose expiration released a
// snapshot (its file stays until GC) is migrated; the migrated repo object
// lists only what the refs reach, so at spec 2 the released snapshot is no
// longer part of the repository.

// releasedThenMigrated builds that repository: main at c2, c1 released by
// expiration, then migrated. It returns a fresh spec-2 handle, c1 and c2.
func releasedThenMigrated(t *testing.T) (*Repository, ObjectID, ObjectID) {
	t.Helper()
	ctx := context.Background()
	r, st, clock := newMemRepo(t, nil)
	s := must[*Session](t)(r.WritableSession(ctx, "main"))
	noErr(t, s.Set(ctx, "zarr.json", groupDoc))
	c1 := must[ObjectID](t)(s.Commit(ctx, "c1", nil))
	noErr(t, s.Set(ctx, "a/zarr.json", groupDoc))
	c2 := must[ObjectID](t)(s.Commit(ctx, "c2", nil))
	s2 := must[*Snapshot](t)(r.ReadSnapshot(ctx, c2))
	exp := must[*ExpireResult](t)(r.ExpireSnapshots(ctx, time.UnixMicro(int64(s2.FlushedAt)), false, false))
	if len(exp.ReleasedSnapshots) != 1 || exp.ReleasedSnapshots[0] != c1 {
		t.Fatalf("expiration released %v, want [%s]", exp.ReleasedSnapshots, c1)
	}
	// The released snapshot's file is still there (no GC ran).
	if _, err := r.ReadSnapshot(ctx, c1); err != nil {
		t.Fatalf("released snapshot file: %v", err)
	}
	res := must[*UpgradeResult](t)(r.Upgrade(ctx, false, true))
	if res.Snapshots != 2 {
		t.Fatalf("%d snapshots migrated, want 2 (c2 and the initial one)", res.Snapshots)
	}
	return must[*Repository](t)(Open(ctx, st, Options{Clock: clock, Rand: seeded(5)})), c1, c2
}

// At spec 2 a snapshot the repo object does not list is not found, even
// though its file exists: ReadonlySession (and ResolveRef) refuse it, as
// upstream's resolve_version does. (Shrunk trace: 10 lines, "checkout
// snapshot:s1" of a released snapshot, then upgrade.)
func TestSpec2UnlistedSnapshotIsNotFound(t *testing.T) {
	ctx := context.Background()
	m, c1, c2 := releasedThenMigrated(t)
	_, err := m.ReadonlySession(ctx, SnapshotRef(c1))
	mustErrIs(t, err, ErrRefNotFound)
	_, err = m.ResolveRef(ctx, SnapshotRef(c1))
	mustErrIs(t, err, ErrRefNotFound)
	mustErrIs(t, err, objstore.ErrNotFound)
	// A listed snapshot still resolves.
	if got := must[ObjectID](t)(m.ResolveRef(ctx, SnapshotRef(c2))); got != c2 {
		t.Fatalf("resolve %s = %s", c2, got)
	}
	_ = must[*Session](t)(m.ReadonlySession(ctx, SnapshotRef(c2)))
}

// At spec 2 creating a branch or tag checks the snapshot before the name,
// as upstream does (and as spec 1 does): a taken name at an unlisted
// snapshot is "not found", not "exists". (Shrunk traces: 11 and 12 lines,
// "create-branch name=main at=s1" and "create-tag name=t1 at=s1" after
// the migration.)
func TestSpec2RefCreationChecksTheSnapshotFirst(t *testing.T) {
	ctx := context.Background()
	m, c1, c2 := releasedThenMigrated(t)
	noErr(t, m.CreateTag(ctx, "t", c2))
	noErr(t, m.CreateTag(ctx, "gone", c2))
	noErr(t, m.DeleteTag(ctx, "gone"))
	for name, err := range map[string]error{
		"branch main (exists)":        m.CreateBranch(ctx, "main", c1),
		"tag t (exists)":              m.CreateTag(ctx, "t", c1),
		"tag gone (deleted)":          m.CreateTag(ctx, "gone", c1),
		"branch dev (does not exist)": m.CreateBranch(ctx, "dev", c1),
	} {
		if err == nil {
			t.Fatalf("%s at unlisted %s: no error", name, c1)
		}
		mustErrIs(t, err, objstore.ErrNotFound)
		for _, wrong := range []error{ErrBranchExists, ErrTagExists} {
			if errors.Is(err, wrong) {
				t.Fatalf("%s at unlisted %s: %v, want not found first", name, c1, err)
			}
		}
	}
	// With a listed snapshot the name decides.
	mustErrIs(t, m.CreateBranch(ctx, "main", c2), ErrBranchExists)
	mustErrIs(t, m.CreateTag(ctx, "t", c2), ErrTagExists)
	mustErrIs(t, m.CreateTag(ctx, "gone", c2), ErrTagExists)
}
