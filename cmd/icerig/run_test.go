package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/inspect"
	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/objstore/local"
)

type result struct {
	code           int
	stdout, stderr string
}

func icerig(args ...string) result {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// requireUsageError checks exit 2 with exactly one stderr line holding want.
func requireUsageError(t *testing.T, r result, want string) {
	t.Helper()
	assert.Equal(t, exitUsage, r.code, "exit status; stderr: %s", r.stderr)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line on stderr: %q", r.stderr)
	assert.True(t, strings.HasPrefix(r.stderr, "icerig"), r.stderr)
	assert.Contains(t, r.stderr, want)
	assert.Empty(t, r.stdout)
}

func TestUsageErrors(t *testing.T) {
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
	repo := testfixtures.Copy(t, testfixtures.TestRepoV1)
	missing := filepath.Join(t.TempDir(), "missing")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "missing command"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"help for unknown command", []string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{"inspect without repo", []string{"inspect", "--lib", "v1"}, "want 1 argument(s) REPO, got 0"},
		{"inspect with two repos", []string{"inspect", "--lib", "v1", repo, repo}, "got 2"},
		{"read without array", []string{"read", "--lib", "v1", repo}, "REPO ARRAY_PATH"},
		{"unknown flag", []string{"fsck", "--frob", repo}, "flag provided but not defined: -frob"},
		{"unknown library", []string{"inspect", "--lib", "v3", repo}, `unknown library "v3"`},
		{"bad ref", []string{"inspect", "--lib", "v1", "--ref", "main", repo}, "--ref"},
		{"bad snapshot ref", []string{"read", "--lib", "v1", "--ref", "snapshot:XYZ", repo, "group1/small_chunks"}, "snapshot id"},
		{"missing ref", []string{"inspect", "--lib", "v1", "--ref", "tag:deleted", repo}, "ref not found"},
		{"bad virtual mode", []string{"read", "--lib", "v1", "--virtual=zero", repo, "x"}, "--virtual"},
		{"missing repository", []string{"fsck", "--lib", "v1", missing}, "no such directory"},
		{"not a repository", []string{"inspect", "--lib", "v1", t.TempDir()}, "not an icechunk repository"},
		{"spec-2 repository with v1", []string{"inspect", "--lib", "v1", testfixtures.Copy(t, testfixtures.TestRepoV2)}, "spec 2"},
		{"bad scheme", []string{"fsck", "--lib", "v1", "s3://bucket/x"}, "unsupported scheme"},
		{"azure without credentials", []string{"fsck", "--lib", "v1", "az://container/prefix"}, "AZURE_STORAGE_CONNECTION_STRING"},
		{"expire without time", []string{"expire", "--lib", "v1", repo}, "--older-than is required"},
		{"expire with bad time", []string{"expire", "--lib", "v1", "--older-than", "yesterday", repo}, `--older-than "yesterday"`},
		{"gc without time", []string{"gc", "--lib", "v1", "--dry-run", repo}, "--older-than is required"},
		{"read a group", []string{"read", "--lib", "v1", repo, "group1"}, "not an array"},
		{"read a missing array", []string{"read", "--lib", "v1", repo, "nope"}, "no array at /nope"},
		{"upgrade without repo", []string{"upgrade"}, "want 1 argument(s) REPO, got 0"},
		{"upgrade takes no --lib", []string{"upgrade", "--lib", "v1", repo}, "flag provided but not defined: -lib"},
		{"upgrade a missing repository", []string{"upgrade", missing}, "no such directory"},
		{"upgrade an empty directory", []string{"upgrade", t.TempDir()}, "not an icechunk repository"},
		{"upgrade a spec-2 repository", []string{"upgrade", testfixtures.Copy(t, testfixtures.TestRepoV2)}, "already spec 2"},
		{"v2 read of a missing ref", []string{"read", "--lib=v2", "--ref", "tag:deleted", repo, "group1/small_chunks"}, "ref not found"},
		{"v2 expire without time", []string{"expire", repo}, "--older-than is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			requireUsageError(t, icerig(c.args...), c.want)
		})
	}
	_, err := os.Stat(missing)
	assert.True(t, os.IsNotExist(err), "a missing repository directory is never created")
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		r := icerig(args...)
		assert.Equal(t, exitOK, r.code)
		assert.Empty(t, r.stderr)
		for _, cmd := range []string{"inspect", "read", "fsck", "expire", "gc", "upgrade"} {
			assert.Contains(t, r.stdout, "icerig "+cmd+" ")
		}
		assert.Contains(t, r.stdout, "--lib")
	}
	for _, args := range [][]string{{"read", "-h"}, {"help", "read"}, {"read", "--lib", "v1", "--help"}} {
		r := icerig(args...)
		assert.Equal(t, exitOK, r.code, "%v", args)
		assert.Contains(t, r.stdout, "usage: icerig read [--lib L]")
		assert.Contains(t, r.stdout, "-virtual string")
		assert.Empty(t, r.stderr)
	}
}

func TestInspectCommand(t *testing.T) {
	for _, lib := range knownLibraries {
		t.Run(lib, func(t *testing.T) {
			repo := testfixtures.Copy(t, testfixtures.TestRepoV1)
			// Flags before and after the repository, and a file:// URL, work alike.
			for _, args := range [][]string{
				{"inspect", "--lib", lib, "--ref", "branch:my-branch", repo},
				{"inspect", repo, "--lib=" + lib, "--json", "--ref=branch:my-branch"},
				{"inspect", "--lib", lib, "--ref", "branch:my-branch", "--", "file://" + repo},
			} {
				r := icerig(args...)
				require.Equal(t, exitOK, r.code, "%v: %s", args, r.stderr)
				assert.Empty(t, r.stderr)

				var rep inspect.Report
				require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
				assert.Equal(t, 1, rep.SpecVersion)
				assert.Equal(t, []string{"deleted"}, rep.DeletedTags)
				assert.Equal(t, rep.Branches["my-branch"], rep.Tags["it also works!"])
				var msgs []string
				for _, s := range rep.Ancestry["tag:it works!"] {
					msgs = append(msgs, s.Message)
				}
				assert.Equal(t, []string{"delete a chunk", "set virtual chunk", "fill data", "empty structure", "Repository initialized"}, msgs)
				require.Len(t, rep.Nodes, 9)
				assert.Equal(t, "/group2/group3/group4/group5/inner", rep.Nodes[8].Path)
				assert.Equal(t, inspect.Objects{Snapshots: 6, Manifests: 4, Chunks: 4, Transactions: 5}, rep.Objects)

				var generic map[string]any
				require.NoError(t, json.Unmarshal([]byte(r.stdout), &generic))
				assert.NotContains(t, generic, "ops_log")
				assert.Equal(t, "2025-02-19T21:11:56.037746Z",
					generic["ancestry"].(map[string]any)["branch:my-branch"].([]any)[0].(map[string]any)["flushed_at"])
			}

			// Nodes at a snapshot id (the tag "it works!" has no group2).
			tags := icerigJSON[inspect.Report](t, "inspect", "--lib", lib, repo)
			r := icerigJSON[inspect.Report](t, "inspect", "--lib", lib, "--ref", "snapshot:"+tags.Tags["it works!"], repo)
			assert.Len(t, r.Nodes, 4)
		})
	}
}

// icerigJSON runs a command that must succeed and decodes its JSON output.
func icerigJSON[T any](t *testing.T, args ...string) T {
	t.Helper()
	r := icerig(args...)
	require.Equal(t, exitOK, r.code, "%v: %s", args, r.stderr)
	var v T
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &v), r.stdout)
	return v
}

type readOut struct {
	Path   string   `json:"path"`
	DType  string   `json:"dtype"`
	Shape  []uint64 `json:"shape"`
	Values []any    `json:"values"`
}

func TestReadCommand(t *testing.T) {
	for _, lib := range knownLibraries {
		t.Run(lib, func(t *testing.T) {
			repo := testfixtures.Copy(t, testfixtures.TestRepoV1)
			small := icerigJSON[readOut](t, "read", "--lib", lib, "--ref", "branch:my-branch", "--json", repo, "group1/small_chunks")
			assert.Equal(t, readOut{"/group1/small_chunks", "int8", []uint64{5}, []any{84.0, 84.0, 84.0, 84.0, 8.0}}, small)
			small = icerigJSON[readOut](t, "read", repo, "/group1/small_chunks", "--lib", lib)
			assert.Equal(t, []any{84.0, 84.0, 84.0, 84.0, 84.0}, small.Values, "main still has c/4")

			r := icerig("read", "--lib", lib, repo, "group1/big_chunks")
			requireUsageError(t, r, "s3://testbucket/can_read_old/chunk-1")
			assert.Contains(t, r.stderr, "--virtual=null")

			big := icerigJSON[readOut](t, "read", "--lib", lib, "--virtual=null", repo, "group1/big_chunks")
			assert.Equal(t, "float32", big.DType)
			assert.Equal(t, []uint64{10, 10}, big.Shape)
			require.Len(t, big.Values, 100)
			nulls := 0
			for i, v := range big.Values {
				if i/10 < 5 && i%10 < 5 {
					assert.Nil(t, v, "element %d", i)
					nulls++
				} else {
					assert.Equal(t, 42.0, v, "element %d", i)
				}
			}
			assert.Equal(t, 25, nulls)

			inner := icerigJSON[readOut](t, "read", "--lib", lib, "--ref", "tag:it also works!", repo, "group2/group3/group4/group5/inner")
			assert.Equal(t, slices.Repeat([]any{"NaN"}, 100), inner.Values)
		})
	}
}

func TestFsckCommand(t *testing.T) {
	for _, lib := range knownLibraries {
		t.Run(lib, func(t *testing.T) {
			repo := testfixtures.Copy(t, testfixtures.TestRepoV1)
			r := icerig("fsck", "--lib", lib, repo)
			assert.Equal(t, exitOK, r.code, r.stderr)
			assert.Contains(t, r.stdout, "no problems found")
			assert.Empty(t, r.stderr)

			// Damage the copy: drop one chunk and garble one manifest.
			chunks, err := os.ReadDir(filepath.Join(repo, "chunks"))
			require.NoError(t, err)
			lostChunk := "chunks/" + chunks[0].Name()
			require.NoError(t, os.Remove(filepath.Join(repo, lostChunk)))
			manifests, err := os.ReadDir(filepath.Join(repo, "manifests"))
			require.NoError(t, err)
			badManifest := "manifests/" + manifests[0].Name()
			require.NoError(t, os.WriteFile(filepath.Join(repo, badManifest), []byte("garbage"), 0o644))

			r = icerig("fsck", "--lib", lib, repo)
			assert.Equal(t, exitFinding, r.code)
			assert.Contains(t, r.stdout, badManifest+": ")
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
			assert.Contains(t, r.stderr, "problem(s) found")
			// The lost chunk is a finding unless its only manifest is the garbled one.
			if !strings.Contains(r.stdout, lostChunk) {
				t.Logf("chunk %s only referenced from the garbled manifest:\n%s", lostChunk, r.stdout)
			}
			for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				assert.Regexp(t, `^(chunks|manifests|snapshots|transactions)/[0-9A-Z]{20}: `, line)
			}

			// Only a missing chunk: named exactly.
			repo2 := testfixtures.Copy(t, testfixtures.TestRepoV1)
			require.NoError(t, os.Remove(filepath.Join(repo2, lostChunk)))
			r = icerig("fsck", "--lib", lib, repo2)
			assert.Equal(t, exitFinding, r.code)
			assert.Contains(t, r.stdout, lostChunk+": missing")
		})
	}
}

func TestExpireAndGCCommands(t *testing.T) {
	for _, lib := range knownLibraries {
		t.Run(lib, func(t *testing.T) {
			repo := testfixtures.Copy(t, testfixtures.TestRepoV1)
			const cutoff = "2025-02-19T21:11:56.030Z" // after "delete a chunk", before "some more structure"
			const future = "2100-01-01T00:00:00Z"

			// A dry-run GC before expiring finds nothing to delete: all is reachable.
			gc := icerigJSON[map[string]any](t, "gc", "--lib", lib, "--older-than", future, "--dry-run", "--json", repo)
			assert.Equal(t, map[string]any{"dry_run": true, "snapshots_deleted": 0.0, "manifests_deleted": 0.0,
				"chunks_deleted": 0.0, "transaction_logs_deleted": 0.0, "bytes_deleted": 0.0}, gc)

			exp := icerigJSON[actors.ExpireResult](t, "expire", "--lib", lib, "--older-than", cutoff,
				"--delete-expired-branches", "--delete-expired-tags", "--json", repo)
			assert.Equal(t, []string{"it works!"}, exp.DeletedTags)
			assert.Equal(t, []string{}, exp.DeletedBranches)
			assert.Len(t, exp.ReleasedSnapshots, 4)
			assert.Len(t, exp.EditedSnapshots, 3)

			// The copy changed; check it through the library.
			st, err := local.Open(repo, nil)
			require.NoError(t, err)
			v1, err := actors.V1{}.Open(context.Background(), st, actors.Options{})
			require.NoError(t, err)
			deleted, err := v1.DeletedTags(context.Background())
			require.NoError(t, err)
			assert.Equal(t, []string{"deleted", "it works!"}, deleted)

			// Expiring again changes nothing; the text form says so.
			r := icerig("expire", "--lib", lib, "--older-than", cutoff, repo)
			require.Equal(t, exitOK, r.code, r.stderr)
			assert.Equal(t, "released snapshots: 0\nedited snapshots: 0\ndeleted branches: 0\ndeleted tags: 0\n", r.stdout)

			before := countFiles(t, repo)
			r = icerig("gc", "--lib", lib, "--older-than", future, "--dry-run", repo)
			require.Equal(t, exitOK, r.code, r.stderr)
			assert.Contains(t, r.stdout, "would delete snapshots: 3\n")
			assert.Equal(t, before, countFiles(t, repo), "a dry run deletes nothing")

			gc = icerigJSON[map[string]any](t, "gc", "--lib", lib, "--older-than", future, "--json", repo)
			assert.Equal(t, false, gc["dry_run"])
			assert.Equal(t, 3.0, gc["snapshots_deleted"])
			assert.Equal(t, 3.0, gc["transaction_logs_deleted"])
			assert.Equal(t, 1.0, gc["manifests_deleted"])
			assert.Equal(t, 1.0, gc["chunks_deleted"])
			assert.Equal(t, before-8, countFiles(t, repo))

			r = icerig("gc", "--lib", lib, "--older-than", future, repo)
			require.Equal(t, exitOK, r.code, r.stderr)
			assert.Equal(t, "deleted snapshots: 0\ndeleted transaction logs: 0\ndeleted manifests: 0\ndeleted chunks: 0\ndeleted bytes: 0\n", r.stdout)

			r = icerig("fsck", "--lib", lib, repo)
			assert.Equal(t, exitOK, r.code, r.stdout)
		})
	}
}

func TestGCRespectsOlderThan(t *testing.T) {
	for _, lib := range knownLibraries {
		t.Run(lib, func(t *testing.T) {
			repo := testfixtures.Copy(t, testfixtures.TestRepoV1)
			r := icerig("expire", "--lib", lib, "--older-than", "2100-01-01T00:00:00Z", repo)
			require.Equal(t, exitOK, r.code, r.stderr)
			// Every object of the copy keeps its fixture modification time, so a
			// cutoff before them all deletes nothing.
			gc := icerigJSON[map[string]any](t, "gc", "--lib", lib, "--older-than", "2000-01-01T00:00:00Z", "--json", repo)
			assert.Equal(t, 0.0, gc["snapshots_deleted"])
			assert.Equal(t, 0.0, gc["bytes_deleted"])
		})
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	require.NoError(t, err)
	return n
}

func TestLookupLibrary(t *testing.T) {
	a, err := lookupLibrary("v1")
	require.NoError(t, err)
	assert.Equal(t, "v1", a.Name())
	for name, actor := range libraries {
		assert.Equal(t, name, actor.Name(), "the registry key is the actor's name")
		assert.Contains(t, knownLibraries, name)
	}
	a, err = lookupLibrary("v2")
	require.NoError(t, err)
	assert.Equal(t, "v2", a.Name())
	assert.Equal(t, defaultLibrary, a.Name(), "the default library is built in")
	assert.Equal(t, upgradeLibrary, a.Name())
	_, err = lookupLibrary("v0")
	assert.EqualError(t, err, `unknown library "v0" (want v1 or v2)`)
}
