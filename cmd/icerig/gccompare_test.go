package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/gccompare"
	"github.com/icerig/icerig/internal/testfixtures"
)

// gcCutoff lies between "delete a chunk" and "some more structure" of
// test-repo-v1.
const gcCutoff = "2025-02-19T21:11:56.030Z"

// gcCopy copies a fixture into a temporary directory with the oracle's
// own CopyDir (never write into the shared fixtures).
func gcCopy(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	require.NoError(t, gccompare.CopyDir(testfixtures.Path(t, name), dst))
	return dst
}

func TestGCCompareUsageErrors(t *testing.T) {
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
	repo := gcCopy(t, testfixtures.TestRepoV1)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no operation", []string{"gc-compare", repo}, "nothing to compare: give --expire-older-than, --gc-older-than or both"},
		{"no repository", []string{"gc-compare", "--gc-older-than", gcCutoff}, "want 1 argument(s) REPO, got 0"},
		{"bad expire time", []string{"gc-compare", "--expire-older-than", "yesterday", repo}, `--expire-older-than "yesterday" is not an RFC 3339 time`},
		{"bad gc time", []string{"gc-compare", "--gc-older-than", "2025-13-01", repo}, `--gc-older-than "2025-13-01"`},
		{"dry run without gc", []string{"gc-compare", "--dry-run", "--expire-older-than", gcCutoff, repo}, "--dry-run needs --gc-older-than"},
		{"delete tags without expire", []string{"gc-compare", "--delete-expired-tags", "--gc-older-than", gcCutoff, repo}, "need --expire-older-than"},
		{"unknown replica", []string{"gc-compare", "--replica", "v9", "--gc-older-than", gcCutoff, repo}, `--replica: unknown library "v9"`},
		{"unknown original", []string{"gc-compare", "--original", "v0", "--gc-older-than", gcCutoff, repo}, `--original: unknown library "v0"`},
		{"missing repository", []string{"gc-compare", "--gc-older-than", gcCutoff, filepath.Join(repo, "..", "missing")}, "no such directory"},
		{"not a repository", []string{"gc-compare", "--gc-older-than", gcCutoff, t.TempDir()}, "cannot open"},
		{"container root", []string{"gc-compare", "--gc-older-than", gcCutoff, "az://container/"}, "needs a repository under a prefix"},
		{"bad scheme", []string{"gc-compare", "--gc-older-than", gcCutoff, "s3://bucket/x"}, "unsupported scheme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireUsageError(t, icerig(tc.args...), tc.want)
		})
	}
	assert.NoDirExists(t, filepath.Join(repo, "..", "missing"), "nothing created")
}

func TestGCCompareEqual(t *testing.T) {
	repo := gcCopy(t, testfixtures.TestRepoV1)
	r := icerig("gc-compare", "--expire-older-than", gcCutoff, "--delete-expired-branches", "--delete-expired-tags",
		"--gc-older-than", "2100-01-01T00:00:00Z", repo)
	require.Equal(t, exitOK, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Empty(t, r.stderr)
	for _, want := range []string{
		"gc-compare " + repo + " (spec 1)",
		"expire: older than 2025-02-19T21:11:56.03Z, delete expired branches: yes, delete expired tags: yes",
		"gc: older than 2100-01-01T00:00:00Z, dry run: no",
		"original (v2 on " + repo + "):",
		"replica (v1 on ",
		"deleted tags [it works!]",
		"gc: deleted snapshots 3, transaction logs 3, manifests 1, chunks 1, bytes ",
		"keys after: chunks/ 3, config.yaml 1, manifests/ 3, refs/ 7, snapshots/ 3, transactions/ 2",
		"mismatches: 0",
		"result: EQUAL (v2 on the original and v1 on the replica agree)",
	} {
		assert.Contains(t, r.stdout, want)
	}
	assert.Equal(t, 2, strings.Count(r.stdout, "gc: deleted snapshots 3"), "both sides print their results")
	// The original was collected.
	assert.Equal(t, 3, countFiles(t, filepath.Join(repo, "snapshots")))
}

func TestGCCompareJSON(t *testing.T) {
	repo := gcCopy(t, testfixtures.SplitRepoV1)
	r := icerig("gc-compare", "--gc-older-than", "2100-01-01T00:00:00Z", "--dry-run", "--json", repo)
	require.Equal(t, exitOK, r.code, r.stderr)
	var rep struct {
		OK          bool `json:"ok"`
		Passed      bool `json:"passed"`
		SpecVersion int  `json:"spec_version"`
		Args        struct {
			GC *struct {
				DryRun bool `json:"dry_run"`
			} `json:"gc"`
			Expire any `json:"expire"`
		} `json:"args"`
		Original, Replica struct {
			Actor     string         `json:"actor"`
			KeyCounts map[string]int `json:"key_counts"`
			GC        map[string]int `json:"gc"`
		}
		Mismatches []gccompare.Mismatch `json:"mismatches"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), r.stdout)
	assert.True(t, rep.OK)
	assert.True(t, rep.Passed)
	assert.Equal(t, 1, rep.SpecVersion)
	require.NotNil(t, rep.Args.GC)
	assert.True(t, rep.Args.GC.DryRun)
	assert.Nil(t, rep.Args.Expire)
	assert.Equal(t, "v2", rep.Original.Actor)
	assert.Equal(t, "v1", rep.Replica.Actor)
	assert.Equal(t, 35, rep.Original.KeyCounts["manifests/"])
	assert.Equal(t, rep.Original.KeyCounts, rep.Replica.KeyCounts)
	assert.Contains(t, rep.Original.GC, "chunks_deleted")
	assert.Empty(t, rep.Mismatches)
}

func TestGCCompareSpec2(t *testing.T) {
	t.Run("default replica falls back", func(t *testing.T) {
		r := icerig("gc-compare", "--expire-older-than", "2100-01-01T00:00:00Z", "--gc-older-than", "2100-01-01T00:00:00Z",
			gcCopy(t, testfixtures.TestRepoV2))
		require.Equal(t, exitOK, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		assert.Contains(t, r.stdout, "note: the default replica actor v1 cannot read spec-2 repositories; the replica side ran v2 instead")
		assert.Contains(t, r.stdout, "replica (v2 on ")
		assert.Contains(t, r.stdout, "result: EQUAL")
	})
	t.Run("explicit v1 replica is a mismatch", func(t *testing.T) {
		r := icerig("gc-compare", "--replica", "v1", "--gc-older-than", "2100-01-01T00:00:00Z", gcCopy(t, testfixtures.TestRepoV2))
		require.Equal(t, exitFinding, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		assert.Contains(t, r.stdout, "note: the replica actor v1 cannot read spec-2 repositories")
		assert.Contains(t, r.stdout, "error: original ok, replica open: unsupported spec version")
		assert.Contains(t, r.stdout, "result: MISMATCH")
	})
}

// TestGCCompareStaleAccepted: an accepted difference that applies to the
// repository but no longer shows fails the command.
func TestGCCompareStaleAccepted(t *testing.T) {
	saved := gccompare.DefaultAccepted
	t.Cleanup(func() { gccompare.DefaultAccepted = saved })
	gccompare.DefaultAccepted = []gccompare.Accepted{{
		Field:  "gc.chunks_deleted",
		When:   "spec=1 gc=true",
		Reason: "test only: a difference that went away",
		Link:   "cmd/icerig/gccompare_test.go",
	}}
	repo := gcCopy(t, testfixtures.TestRepoV1)
	r := icerig("gc-compare", "--gc-older-than", "2100-01-01T00:00:00Z", repo)
	require.Equal(t, exitFinding, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "mismatches: 0")
	assert.Contains(t, r.stdout, "stale accepted entries")
	assert.Contains(t, r.stdout, "test only: a difference that went away")
	assert.Contains(t, r.stdout, "result: STALE ACCEPTED ENTRIES")

	// Where its condition does not hold (no GC), the entry is not stale.
	r = icerig("gc-compare", "--expire-older-than", gcCutoff, repo)
	assert.Equal(t, exitOK, r.code, r.stdout)
}

func TestGCCompareHelp(t *testing.T) {
	r := icerig("gc-compare", "-h")
	require.Equal(t, exitOK, r.code)
	for _, flag := range []string{"-expire-older-than", "-delete-expired-branches", "-delete-expired-tags", "-gc-older-than", "-dry-run", "-original", "-replica", "-json"} {
		assert.Contains(t, r.stdout, flag)
	}
	assert.Contains(t, r.stdout, "usage: icerig gc-compare "+gcCompareSynopsis)
}
