package actors_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/formatv1"
	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/objstore"
)

// spec2 returns the Spec2Reader of a V2 repository.
func spec2(t *testing.T, r actors.Repo) actors.Spec2Reader {
	t.Helper()
	sr, ok := r.(actors.Spec2Reader)
	require.True(t, ok, "%s repositories implement Spec2Reader", r.Actor())
	return sr
}

// opText renders an ops log entry as "type field=value ..." (fields
// sorted, backup_path left out) for comparisons.
func opText(e actors.OpsLogEntry) string {
	s := e.Type
	for _, k := range sortedKeys(e.Fields) {
		if k == "backup_path" {
			continue
		}
		s += fmt.Sprintf(" %s=%v", k, e.Fields[k])
	}
	return s
}

func sortedKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func opTexts(log []actors.OpsLogEntry) []string {
	out := make([]string, len(log))
	for i, e := range log {
		out[i] = opText(e)
	}
	return out
}

var backupRE = regexp.MustCompile(`^repo\.\d{14}\.[0-9A-Z]{20}$`)

// TestV2OpsLogOfTestRepoV2: the ops log of the natively written fixture,
// newest first, typed, with the ids of the snapshots it names.
func TestV2OpsLogOfTestRepoV2(t *testing.T) {
	ctx := context.Background()
	r, _ := openFixture(t, actors.V2{}, testfixtures.TestRepoV2)
	byMsg := map[string]string{}
	anc, err := r.Ancestry(ctx, actors.Branch("my-branch"))
	require.NoError(t, err)
	for _, s := range anc {
		byMsg[s.Message] = s.ID
	}
	log, err := spec2(t, r).OpsLog(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{
		`tag_created name=it also works!`,
		`new_commit branch=my-branch new_snap_id=` + byMsg["some more structure"],
		`tag_deleted name=deleted previous_snap_id=` + byMsg["delete a chunk"],
		`tag_created name=deleted`,
		`tag_created name=it works!`,
		`new_commit branch=my-branch new_snap_id=` + byMsg["delete a chunk"],
		`branch_created name=my-branch`,
		`new_commit branch=main new_snap_id=` + byMsg["set virtual chunk"],
		`new_commit branch=main new_snap_id=` + byMsg["fill data"],
		`new_commit branch=main new_snap_id=` + byMsg["empty structure"],
		`repo_initialized`,
	}, opTexts(log))
	// Newest first, in UTC with microseconds; every entry but the newest
	// names the backup of the repo object it produced (10 backups).
	for i, e := range log {
		assert.Equal(t, time.UTC, e.UpdatedAt.Location())
		assert.Zero(t, e.UpdatedAt.Nanosecond()%1000)
		if i > 0 {
			assert.True(t, e.UpdatedAt.Before(log[i-1].UpdatedAt), "entry %d is older than entry %d", i, i-1)
			assert.Regexp(t, backupRE, e.Fields["backup_path"], "entry %d", i)
		}
	}
	assert.NotContains(t, log[0].Fields, "backup_path")
	assert.Equal(t, time.Date(2026, 4, 8, 16, 15, 57, 464916000, time.UTC), log[0].UpdatedAt)
	assert.Equal(t, "repo_initialized", log[10].Type)
	assert.Equal(t, map[string]any{"backup_path": "repo.30728015042554.27T6D6NFTPCQXTJBEFCG"}, log[10].Fields)

	// The fields are JSON-encodable as they are.
	data, err := json.Marshal(log[1].Fields)
	require.NoError(t, err)
	assert.JSONEq(t, `{"branch":"my-branch","new_snap_id":"`+byMsg["some more structure"]+`","backup_path":"repo.30728015042536.PTXGHH5DYGZ1JY7JBK70"}`, string(data))

	st, err := spec2(t, r).Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, actors.RepoStatus{Availability: "online", SetAt: time.UnixMicro(1775664957441354).UTC()}, st)
}

// TestV2OpsLogOfMigratedFixture: upstream's migration wrote "repo
// migrated 1->2" over a history reconstructed from the spec-1 refs.
func TestV2OpsLogOfMigratedFixture(t *testing.T) {
	ctx := context.Background()
	r, _ := openFixture(t, actors.V2{}, testfixtures.TestRepoV2Migrated)
	log, err := spec2(t, r).OpsLog(ctx)
	require.NoError(t, err)
	require.Len(t, log, 12)
	assert.Equal(t, actors.OpsLogEntry{Type: actors.OpRepoMigrated, UpdatedAt: time.UnixMicro(1775664957505640).UTC(),
		Fields: map[string]any{"from_version": 1, "to_version": 2}}, log[0])
	assert.Equal(t, "tag_deleted name=deleted previous_snap_id=4QF8JA0YPDN51MHSSYVG", opText(log[4]))
	assert.Equal(t, actors.OpsLogEntry{Type: actors.OpRepoInitialized, UpdatedAt: time.UnixMicro(1739999515981700).UTC()}, log[11])
	for _, e := range log {
		assert.NotContains(t, e.Fields, "backup_path", "the synthetic history has no backups")
	}
}

// TestV2Spec2ReaderAtSpec1: a spec-1 repository has no ops log or status.
func TestV2Spec2ReaderAtSpec1(t *testing.T) {
	ctx := context.Background()
	r, _ := openFixture(t, actors.V2{}, testfixtures.TestRepoV1)
	_, err := spec2(t, r).OpsLog(ctx)
	assert.Equal(t, actors.ErrSpec2Only, actors.KindOf(err), "%v", err)
	_, err = spec2(t, r).Status(ctx)
	assert.Equal(t, actors.ErrSpec2Only, actors.KindOf(err), "%v", err)
}

// TestV2OpsLogOfCreatedRepository: every update the actor makes is
// logged, typed, with the fields the rig and inspect rely on; a status
// set through the library refuses updates and is logged too.
func TestV2OpsLogOfCreatedRepository(t *testing.T) {
	ctx := context.Background()
	h, st, clock := newRepo(t, actors.V2{}, actors.Options{}, 0)
	root, err := h.Resolve(ctx, actors.MainBranch)
	require.NoError(t, err)
	assert.Equal(t, formatv2.InitialSnapshotID.String(), root)
	s, err := h.WritableSession(ctx, "main")
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "zarr.json", mustGroup(t)))
	clock.Advance(time.Second)
	c1, err := s.Commit(ctx, "c1", nil)
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "g/zarr.json", mustGroup(t)))
	clock.Advance(time.Second)
	c2, err := s.Amend(ctx, "c1 amended", map[string]any{"k": "v"})
	require.NoError(t, err)
	require.NoError(t, h.CreateBranch(ctx, "dev", c1))
	require.NoError(t, h.ResetBranch(ctx, "dev", c2))
	require.NoError(t, h.DeleteBranch(ctx, "dev"))
	require.NoError(t, h.CreateTag(ctx, "t", c2))
	require.NoError(t, h.DeleteTag(ctx, "t"))

	lib, err := formatv2.Open(ctx, st, formatv2.Options{Clock: clock})
	require.NoError(t, err)
	clock.Advance(1500 * time.Microsecond)
	require.NoError(t, lib.SetStatus(ctx, formatv2.RepoReadOnly, "maintenance"))

	status, err := spec2(t, h).Status(ctx)
	require.NoError(t, err)
	setAt := time.Date(2025, 1, 1, 0, 0, 2, 1_500_000, time.UTC)
	assert.Equal(t, actors.RepoStatus{Availability: "read_only", SetAt: setAt, LimitedAvailabilityReason: "maintenance"}, status)
	err = h.CreateBranch(ctx, "x", c2)
	assert.Equal(t, actors.ErrRepositoryNotOnline, actors.KindOf(err), "%v", err)
	require.NoError(t, s.Set(ctx, "h/zarr.json", mustGroup(t)))
	clock.Advance(time.Second)
	_, err = s.Commit(ctx, "refused", nil)
	assert.Equal(t, actors.ErrRepositoryNotOnline, actors.KindOf(err), "%v", err)

	log, err := spec2(t, h).OpsLog(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"repo_status_changed status=map[availability:read_only limited_availability_reason:maintenance set_at:2025-01-01T00:00:02.001500Z]",
		"tag_deleted name=t previous_snap_id=" + c2,
		"tag_created name=t",
		"branch_deleted name=dev previous_snap_id=" + c2,
		"branch_reset name=dev previous_snap_id=" + c1,
		"branch_created name=dev",
		"commit_amended branch=main new_snap_id=" + c2 + " previous_snap_id=" + c1,
		"new_commit branch=main new_snap_id=" + c1,
		"repo_initialized",
	}, opTexts(log))
	assert.Equal(t, setAt, log[0].UpdatedAt)
	for _, e := range log[1:] {
		assert.Regexp(t, backupRE, e.Fields["backup_path"])
	}

	// Amend keeps the amended snapshot's parent; its metadata decodes.
	anc, err := h.Ancestry(ctx, actors.MainBranch)
	require.NoError(t, err)
	require.Len(t, anc, 2)
	assert.Equal(t, c2, anc[0].ID)
	assert.Equal(t, root, anc[0].ParentID)
	assert.Equal(t, map[string]any{"k": "v"}, anc[0].Metadata)

	// The initial snapshot cannot be amended.
	require.NoError(t, lib.SetStatus(ctx, formatv2.RepoOnline, ""))
	require.NoError(t, h.ResetBranch(ctx, "main", root))
	s2, err := h.WritableSession(ctx, "main")
	require.NoError(t, err)
	require.NoError(t, s2.Set(ctx, "zarr.json", mustGroup(t)))
	clock.Advance(time.Second)
	_, err = s2.Amend(ctx, "no", nil)
	assert.Equal(t, actors.ErrCannotAmendInitial, actors.KindOf(err), "%v", err)
}

// TestV2Upgrade migrates a spec-1 repository written by V1: a dry run, the
// migration keeping the spec-1 files, a second migration (refused), and
// one finishing the deletion; the migrating handle is invalid afterwards
// and V1 refuses the repository.
func TestV2Upgrade(t *testing.T) {
	ctx := context.Background()
	h1, st, clock := newRepo(t, actors.V1{}, actors.Options{}, 0)
	s, err := h1.WritableSession(ctx, "main")
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "zarr.json", mustGroup(t)))
	clock.Advance(time.Second)
	c1, err := s.Commit(ctx, "c1", map[string]any{"n": 1})
	require.NoError(t, err)
	require.NoError(t, h1.CreateTag(ctx, "t", c1))
	require.NoError(t, h1.CreateTag(ctx, "gone", c1))
	require.NoError(t, h1.DeleteTag(ctx, "gone"))
	root, err := h1.Resolve(ctx, actors.Snapshot(c1))
	require.NoError(t, err)
	require.Equal(t, c1, root)

	open := func() actors.Handle {
		t.Helper()
		h, err := actors.V2{}.Open(ctx, st, actors.Options{Clock: clock})
		require.NoError(t, err)
		return h
	}
	h := open()
	assert.Equal(t, 1, h.SpecVersion())
	dry, err := h.Upgrade(ctx, true, true)
	require.NoError(t, err)
	assert.Equal(t, actors.UpgradeResult{DryRun: true, Branches: map[string]string{"main": c1}, Tags: map[string]string{"t": c1},
		DeletedTags: []string{"gone"}, Snapshots: 2, DeletedV1Files: dry.DeletedV1Files}, dry)
	assert.Equal(t, "refs/branch.main/ref.json", dry.DeletedV1Files[0], "main's ref goes first")
	_, err = actors.V1{}.Open(ctx, st, actors.Options{})
	require.NoError(t, err, "a dry run changes nothing")

	res, err := h.Upgrade(ctx, false, false)
	require.NoError(t, err)
	assert.False(t, res.DryRun)
	assert.Equal(t, []string{}, res.DeletedV1Files)
	assert.Equal(t, 2, res.Snapshots)
	_, err = h.Branches(ctx)
	assert.Equal(t, actors.ErrHandleInvalid, actors.KindOf(err), "the migrating handle: %v", err)
	_, err = s.Commit(ctx, "stale", nil)
	assert.Error(t, err, "a session of the V1 handle cannot commit any more")

	_, err = actors.V1{}.Open(ctx, st, actors.Options{})
	assert.Equal(t, actors.ErrUnsupportedSpec, actors.KindOf(err), "v1 refuses the migrated repository although refs/ remain: %v", err)
	assert.ErrorIs(t, err, formatv1.ErrUnsupportedSpec)

	h = open()
	assert.Equal(t, 2, h.SpecVersion())
	assert.Equal(t, []string{"c1", "Repository initialized"}, messages(t, h, actors.Tag("t")))
	anc, err := h.Ancestry(ctx, actors.MainBranch)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"n": int64(1)}, anc[0].Metadata, "spec-1 metadata still decodes")
	log, err := spec2(t, h).OpsLog(ctx)
	require.NoError(t, err)
	assert.Equal(t, "repo_migrated from_version=1 to_version=2", opText(log[0]))
	assert.Equal(t, "repo_initialized", opText(log[len(log)-1]))

	_, err = h.Upgrade(ctx, false, false)
	assert.Equal(t, actors.ErrAlreadyUpgraded, actors.KindOf(err), "%v", err)
	assert.Contains(t, err.Error(), "spec-1 files remain")
	res, err = h.Upgrade(ctx, false, true)
	require.NoError(t, err, "deleting the files the first migration kept")
	assert.Equal(t, dry.DeletedV1Files, res.DeletedV1Files)
	_, err = h.Upgrade(ctx, false, true)
	assert.Equal(t, actors.ErrAlreadyUpgraded, actors.KindOf(err), "%v", err)
	_, _, err = st.Get(ctx, "refs/branch.main/ref.json")
	assert.ErrorIs(t, err, objstore.ErrNotFound)
	findings, err := open().Fsck(ctx)
	require.NoError(t, err)
	assert.Empty(t, findings)
}

// TestV2UpgradeTestRepoV1 migrates a copy of the upstream spec-1 fixture:
// it then reads as test-repo-v2-migrated does.
func TestV2UpgradeTestRepoV1(t *testing.T) {
	ctx := context.Background()
	h, st := openFixture(t, actors.V2{}, testfixtures.TestRepoV1)
	before, err := h.Branches(ctx)
	require.NoError(t, err)
	res, err := h.Upgrade(ctx, false, true)
	require.NoError(t, err)
	assert.Equal(t, before, res.Branches)
	assert.Equal(t, []string{"deleted"}, res.DeletedTags)
	assert.Equal(t, 6, res.Snapshots)

	m, err := actors.V2{}.Open(ctx, st, actors.Options{})
	require.NoError(t, err)
	assert.Equal(t, 2, m.SpecVersion())
	want, _ := openFixture(t, actors.V2{}, testfixtures.TestRepoV2Migrated)
	for _, ref := range []actors.Ref{actors.MainBranch, actors.Branch("my-branch"), actors.Tag("it works!"), actors.Tag("it also works!")} {
		got, err := m.Ancestry(ctx, ref)
		require.NoError(t, err)
		exp, err := want.Ancestry(ctx, ref)
		require.NoError(t, err)
		assert.Equal(t, exp, got, "ancestry of %s as upstream's migration records it", ref)
	}
	gotLog, err := spec2(t, m).OpsLog(ctx)
	require.NoError(t, err)
	wantLog, err := spec2(t, want).OpsLog(ctx)
	require.NoError(t, err)
	assert.Equal(t, opTexts(wantLog), opTexts(gotLog), "the same reconstructed history")
	_, err = actors.V1{}.Open(ctx, st, actors.Options{})
	assert.Equal(t, actors.ErrUnsupportedSpec, actors.KindOf(err))
}
