package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/inspect"
	"github.com/icerig/icerig/internal/testfixtures"
)

// opsText renders an inspect report's ops log as "type name-or-branch".
func opsText(rep inspect.Report) []string {
	var out []string
	for _, e := range rep.OpsLog {
		s := e.Type
		for _, k := range []string{"name", "branch"} {
			if v, ok := e.Fields[k]; ok {
				s += " " + v.(string)
			}
		}
		out = append(out, s)
	}
	return out
}

// TestInspectSpec2 inspects the natively written spec-2 fixture with the
// default library: the spec-2 members (ops log, status) are there.
func TestInspectSpec2(t *testing.T) {
	repo := testfixtures.Copy(t, testfixtures.TestRepoV2)
	r := icerig("inspect", "--ref", "branch:my-branch", repo)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	var rep inspect.Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	assert.Equal(t, 2, rep.SpecVersion)
	assert.Equal(t, []string{"deleted"}, rep.DeletedTags)
	assert.Equal(t, "1CECHNKREP0F1RSTCMT0", rep.Ancestry["branch:main"][3].ID)
	require.Len(t, rep.Nodes, 9)
	assert.Equal(t, 10, rep.Objects.Overwritten)
	assert.Equal(t, []string{
		"tag_created it also works!", "new_commit my-branch", "tag_deleted deleted", "tag_created deleted",
		"tag_created it works!", "new_commit my-branch", "branch_created my-branch",
		"new_commit main", "new_commit main", "new_commit main", "repo_initialized",
	}, opsText(rep))
	assert.Equal(t, rep.Branches["my-branch"], rep.OpsLog[1].Fields["new_snap_id"])
	require.NotNil(t, rep.Status)
	assert.Equal(t, "online", rep.Status.Availability)

	var generic map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &generic))
	first := generic["ops_log"].([]any)[0].(map[string]any)
	assert.Equal(t, map[string]any{"type": "tag_created", "updated_at": "2026-04-08T16:15:57.464916Z", "name": "it also works!"}, first)
	assert.Equal(t, map[string]any{"availability": "online", "set_at": "2026-04-08T16:15:57.441354Z", "limited_availability_reason": ""}, generic["status"])

	// read and fsck work on it too; v1 refuses it with one clear line.
	small := icerigJSON[readOut](t, "read", "--ref", "branch:my-branch", repo, "group1/small_chunks")
	assert.Equal(t, []any{84.0, 84.0, 84.0, 84.0, 8.0}, small.Values)
	r = icerig("fsck", "--lib", "v2", repo)
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "no problems found")
	requireUsageError(t, icerig("read", "--lib", "v1", repo, "group1/small_chunks"), "spec 2")
}

// filesUnder lists the files of a directory tree, relative and sorted.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	}))
	slices.Sort(out)
	return out
}

// TestUpgradeCommand migrates a copy of test-repo-v1: afterwards v1
// refuses it with one clear line, v2 reads the same refs and histories,
// and a second upgrade is a clean usage error.
func TestUpgradeCommand(t *testing.T) {
	repo := testfixtures.Copy(t, testfixtures.TestRepoV1)
	before := icerigJSON[inspect.Report](t, "inspect", "--lib", "v1", "--ref", "branch:my-branch", repo)
	files := filesUnder(t, repo)

	// A dry run writes nothing and says so.
	r := icerig("upgrade", "--dry-run", repo)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "dry run: "+repo+" would be migrated from spec 1 to spec 2")
	assert.Contains(t, r.stdout, "spec-1 files to delete: 7\n  refs/branch.main/ref.json\n")
	assert.Equal(t, files, filesUnder(t, repo), "a dry run writes nothing")

	type report struct {
		DryRun         bool              `json:"dry_run"`
		Resumed        bool              `json:"resumed"`
		SpecVersion    int               `json:"spec_version"`
		Branches       map[string]string `json:"branches"`
		Tags           map[string]string `json:"tags"`
		DeletedTags    []string          `json:"deleted_tags"`
		Snapshots      int               `json:"snapshots"`
		DeletedV1Files []string          `json:"deleted_v1_files"`
	}
	up := icerigJSON[report](t, "upgrade", "--json", repo)
	assert.False(t, up.DryRun)
	assert.False(t, up.Resumed)
	assert.Equal(t, 2, up.SpecVersion)
	assert.Equal(t, before.Branches, up.Branches)
	assert.Equal(t, before.Tags, up.Tags)
	assert.Equal(t, []string{"deleted"}, up.DeletedTags)
	assert.Equal(t, 6, up.Snapshots)
	assert.Equal(t, "refs/branch.main/ref.json", up.DeletedV1Files[0])
	assert.Equal(t, "config.yaml", up.DeletedV1Files[len(up.DeletedV1Files)-1])
	assert.NoFileExists(t, filepath.Join(repo, "refs", "branch.main", "ref.json"))
	assert.FileExists(t, filepath.Join(repo, "repo"))

	// v1 refuses the migrated repository: exit 2, one line naming spec 2.
	r = icerig("inspect", "--lib", "v1", repo)
	requireUsageError(t, r, "spec 2")
	assert.Contains(t, r.stderr, "upgrade your library")

	// v2 sees spec 2 with the same refs, histories and nodes, plus the ops
	// log of the migration.
	after := icerigJSON[inspect.Report](t, "inspect", "--lib", "v2", "--ref", "branch:my-branch", repo)
	assert.Equal(t, 2, after.SpecVersion)
	assert.Equal(t, before.Branches, after.Branches)
	assert.Equal(t, before.Tags, after.Tags)
	assert.Equal(t, before.DeletedTags, after.DeletedTags)
	assert.Equal(t, before.Nodes, after.Nodes)
	require.Len(t, after.Ancestry, 4)
	for ref, list := range before.Ancestry {
		assert.Equal(t, messagesOf(list), messagesOf(after.Ancestry[ref]), ref)
		assert.Equal(t, list, after.Ancestry[ref], "%s: ids and flush times too", ref)
	}
	require.NotEmpty(t, after.OpsLog)
	assert.Equal(t, "repo_migrated", after.OpsLog[0].Type)
	assert.Equal(t, map[string]any{"from_version": 1.0, "to_version": 2.0}, after.OpsLog[0].Fields)
	assert.Equal(t, "repo_initialized", after.OpsLog[len(after.OpsLog)-1].Type)
	require.NotNil(t, after.Status)
	assert.Equal(t, "online", after.Status.Availability)
	r = icerig("fsck", repo)
	assert.Equal(t, exitOK, r.code, r.stdout+r.stderr)

	// Twice: a clean error, nothing changed.
	files = filesUnder(t, repo)
	requireUsageError(t, icerig("upgrade", repo), "already spec 2")
	requireUsageError(t, icerig("upgrade", "--dry-run", repo), "already spec 2")
	assert.Equal(t, files, filesUnder(t, repo))
}

// TestUpgradeKeepingV1Files: --keep-v1-files leaves refs/ (v1 refuses the
// repository all the same); a later upgrade without it deletes them.
func TestUpgradeKeepingV1Files(t *testing.T) {
	repo := testfixtures.Copy(t, testfixtures.TestRepoV1)
	r := icerig("upgrade", "--keep-v1-files", repo)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "migrated "+repo+" from spec 1 to spec 2\nsnapshots: 6\n"), r.stdout)
	assert.Contains(t, r.stdout, "spec-1 files: kept (--keep-v1-files)")
	assert.FileExists(t, filepath.Join(repo, "refs", "branch.main", "ref.json"))
	requireUsageError(t, icerig("inspect", "--lib", "v1", repo), "spec 2")

	r = icerig("upgrade", "--keep-v1-files", repo)
	requireUsageError(t, r, "already spec 2")
	assert.Contains(t, r.stderr, "without --keep-v1-files")

	r = icerig("upgrade", repo)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "is spec 2 already; deleted the spec-1 files an earlier migration kept")
	assert.Contains(t, r.stdout, "deleted spec-1 files: 7\n")
	for _, f := range filesUnder(t, repo) {
		assert.False(t, strings.HasPrefix(f, "refs/"), "%s is left", f)
	}
	assert.NoFileExists(t, filepath.Join(repo, "config.yaml"))
	requireUsageError(t, icerig("upgrade", repo), "already spec 2")
}

func messagesOf(list []inspect.Snapshot) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Message)
	}
	return out
}
