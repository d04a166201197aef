package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/internal/modroot"
)

func corpusTrace(t *testing.T, name string) string {
	t.Helper()
	root, err := modroot.Find()
	require.NoError(t, err)
	p := filepath.Join(root, "fixtures", "traces", name)
	_, err = os.Stat(p)
	require.NoError(t, err, "the regression corpus is part of the repository")
	return p
}

func TestReplayCommand(t *testing.T) {
	p := corpusTrace(t, "conflicts.trace")
	r := icerig("replay", p)
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "lines replayed with v1: no divergence")

	r = icerig("replay", "--actors", "v1", "--backend", "local", "-v", p)
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "commit msg=late  # conflict")

	// A divergence: exit 1, one line naming the line, actor, expected and seen.
	bad := filepath.Join(t.TempDir(), "bad.trace")
	require.NoError(t, os.WriteFile(bad, []byte("# icerig trace v1\n# actors: v1\n"+
		"init spec=1 actor=v1\ncreate-tag name=t at=s0\ndelete-tag name=t\ncreate-tag name=t at=s0  # ok\n"), 0o644))
	r = icerig("replay", bad)
	assert.Equal(t, exitFinding, r.code)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	assert.Contains(t, r.stderr, "line 6 (create-tag name=t at=s0): actor v1")
	assert.Contains(t, r.stderr, "expected ok, seen tag exists")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"replay"}, "want 1 argument(s) TRACE"},
		{[]string{"replay", "--actors", "v0", p}, `actor "v0" is not built in`},
		{[]string{"replay", "--backend", "s3", p}, `--backend "s3"`},
		{[]string{"replay", filepath.Join(t.TempDir(), "missing.trace")}, "no such file"},
	} {
		requireUsageError(t, icerig(c.args...), c.want)
	}
	notTrace := filepath.Join(t.TempDir(), "x.trace")
	require.NoError(t, os.WriteFile(notTrace, []byte("hello\n"), 0o644))
	requireUsageError(t, icerig("replay", notTrace), "not an icerig trace")
	needsV9 := filepath.Join(t.TempDir(), "v9.trace")
	require.NoError(t, os.WriteFile(needsV9, []byte("# icerig trace v1\n# actors: v1\ninit spec=1 actor=v1\nswitch actor=v9\n"), 0o644))
	requireUsageError(t, icerig("replay", needsV9), "line 4 (switch actor=v9): actor v9 is not available")

	help := icerig("help")
	assert.Contains(t, help.stdout, "icerig replay [--actors A,B]")
}
