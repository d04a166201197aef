package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/fixtures"
	"github.com/icerig/icerig/internal/modroot"
	"github.com/icerig/icerig/internal/transitions"
)

func TestFixturesCommittedSet(t *testing.T) {
	t.Parallel()
	// The default --dir is the module's fixtures/repos.
	root, err := modroot.Find()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "fixtures", "repos"), fixtures.DefaultDir())

	r := icerig("fixtures", "verify", "--actors", "v1")
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	assert.Contains(t, r.stdout, "refused  0.1.0/v2-spec2-data")
	assert.Contains(t, r.stdout, "ok: ")
	assert.NotContains(t, r.stdout, " v2  ", "only the actors asked for")
}

func TestFixturesSaveAndVerify(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "repos")
	r := icerig("fixtures", "save", "--version", "1.2.3", "--dir", dir)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "saved 17 fixtures of version 1.2.3 in "+filepath.Join(dir, "1.2.3"))

	// Saving the same version again is refused, exit 2, one line.
	requireUsageError(t, icerig("fixtures", "save", "--dir", dir, "--version", "1.2.3"), "never overwritten")

	// Verify: JSON report, transition cells.
	cells := filepath.Join(t.TempDir(), "cells.json")
	r = icerig("fixtures", "verify", "--dir", dir, "--json", "--transitions", cells)
	require.Equal(t, exitOK, r.code, r.stderr)
	var rep fixtures.Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), r.stdout)
	assert.True(t, rep.OK())
	assert.Equal(t, []string{"v1", "v2"}, rep.Actors)
	assert.Len(t, rep.Results, 2*(17+4))
	set, err := transitions.ReadFile(cells)
	require.NoError(t, err)
	assert.Positive(t, set.Count(transitions.Cell{Writer: "v2", Reader: "v1", Op: transitions.OpRefuse, Spec: 2}))
	assert.Positive(t, set.Count(transitions.Cell{Writer: "v1", Reader: "v2", Op: transitions.OpRead, Spec: 1}))

	// A removed fixture: exit 1, the report names it.
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "1.2.3", "v2-spec2-amend")))
	r = icerig("fixtures", "verify", "--dir", dir)
	assert.Equal(t, exitFinding, r.code)
	assert.Contains(t, r.stdout, "fixture 1.2.3/v2-spec2-amend is listed in index.json but its folder")
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	assert.Contains(t, r.stderr, "1 set problem(s)")

	// A missing upstream directory: exit 1, saying how to provide it.
	r = icerig("fixtures", "verify", "--dir", dir, "--upstream", filepath.Join(t.TempDir(), "none"))
	assert.Equal(t, exitFinding, r.code)
	assert.Contains(t, r.stdout, "upstream Icechunk fixtures not found")
}

func TestFixturesUsage(t *testing.T) {
	t.Parallel()
	r := icerig("fixtures", "-h")
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "icerig fixtures save --version X")
	r = icerig("help", "fixtures")
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "icerig fixtures verify")
	r = icerig("fixtures", "verify", "-h")
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "-transitions")

	missing := filepath.Join(t.TempDir(), "missing")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fixtures"}, "want a subcommand: save or verify"},
		{[]string{"fixtures", "load"}, `unknown subcommand "load"`},
		{[]string{"fixtures", "save", "--dir", missing}, "--version is required"},
		{[]string{"fixtures", "save", "--version", "../x", "--dir", missing}, `version "../x"`},
		{[]string{"fixtures", "save", "--version", "1", "extra"}, "want 0 argument(s)"},
		{[]string{"fixtures", "verify", "--actors", "v9"}, `actor "v9" is not built in`},
		{[]string{"fixtures", "verify", "--dir", missing}, "no such file or directory"},
		{[]string{"fixtures", "verify", "--bogus"}, "flag provided but not defined"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			requireUsageError(t, icerig(c.args...), c.want)
		})
	}
	_, err := os.Stat(missing)
	assert.ErrorIs(t, err, os.ErrNotExist, "a refused save creates nothing")
}
