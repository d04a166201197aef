package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/gate"
	"github.com/icerig/icerig/internal/testfixtures"
)

// gateWorld is a module with fixture trees the gate accepts.
type gateWorld struct{ module, out, fixtures, upstream string }

func newGateWorld(t *testing.T) gateWorld {
	t.Helper()
	root := t.TempDir()
	w := gateWorld{module: filepath.Join(root, "mod"), out: filepath.Join(root, "out"),
		fixtures: filepath.Join(root, "fx"), upstream: filepath.Join(root, "up")}
	require.NoError(t, os.MkdirAll(w.module, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(w.module, "go.mod"), []byte("module example.com/m\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(w.fixtures, "0.1.0", "v1-spec1-data", "repo"), 0o755))
	for _, name := range gate.UpstreamRepos {
		require.NoError(t, os.MkdirAll(filepath.Join(w.upstream, name), 0o755))
	}
	return w
}

func (w gateWorld) args(extra ...string) []string {
	return append([]string{"gate", "--module", w.module, "--out", w.out, "--fixtures", w.fixtures, "--upstream", w.upstream}, extra...)
}

// fakeGateSteps replaces the gate's steps with one that exercises every
// required cell, and records the configuration it was built from.
func fakeGateSteps(t *testing.T) *gate.Config {
	t.Helper()
	var got gate.Config
	old := gateSteps
	t.Cleanup(func() { gateSteps = old })
	gateSteps = func(cfg gate.Config) []gate.Step {
		got = cfg
		return []gate.Step{{Name: "cover", Run: func(ctx context.Context, r *gate.StepRun) {
			for _, c := range gate.RequiredCells(actors.Registered()) {
				r.AddCell(c)
			}
			r.AddCase(gate.TestCase{Name: "covered", Status: gate.StatusPass})
		}}}
	}
	return &got
}

func TestGatePassesAndPrintsTheSummary(t *testing.T) {
	w := newGateWorld(t)
	cfg := fakeGateSteps(t)
	r := icerig(w.args("--budget", "2.5")...)
	require.Equal(t, exitOK, r.code, "stderr: %s\nstdout: %s", r.stderr, r.stdout)
	assert.True(t, strings.HasPrefix(r.stdout, "# icerig release gate: PASSED\n"), r.stdout)
	assert.Contains(t, r.stdout, "### Spec 2")
	assert.Contains(t, r.stderr, "gate: cover pass", "progress on stderr")
	for _, f := range []string{gate.ReportFile, gate.JUnitFile, gate.SummaryFile} {
		assert.FileExists(t, filepath.Join(w.out, f))
	}
	sum, err := os.ReadFile(filepath.Join(w.out, gate.SummaryFile))
	require.NoError(t, err)
	assert.Equal(t, string(sum), r.stdout)
	assert.Equal(t, 2.5, cfg.Budget)
	assert.Equal(t, w.module, cfg.ModuleDir)
	assert.Equal(t, w.fixtures, cfg.FixturesDir)
	assert.Equal(t, w.upstream, cfg.UpstreamDir)
	assert.Empty(t, cfg.Icerig, "the gate builds icerig itself by default")
}

func TestGateFailsOnSkipAndMissing(t *testing.T) {
	w := newGateWorld(t)
	fakeGateSteps(t)
	r := icerig(w.args("--skip", "cover")...)
	assert.Equal(t, exitFinding, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "# icerig release gate: FAILED")
	assert.Contains(t, r.stdout, "| cover | **SKIPPED** |")
	assert.Contains(t, r.stderr, "FAILED: step cover was skipped")

	require.NoError(t, os.RemoveAll(filepath.Join(w.upstream, "split-repo-v1")))
	r = icerig(w.args()...)
	assert.Equal(t, exitFinding, r.code)
	assert.Contains(t, r.stdout, "missing fixture: upstream fixture split-repo-v1")
	assert.Contains(t, r.stderr, "upstream fixture split-repo-v1")
}

func TestGateDefaults(t *testing.T) {
	w := newGateWorld(t)
	cfg := fakeGateSteps(t)
	t.Setenv(testfixtures.Env, w.upstream)
	r := icerig("gate", "--module", w.module)
	assert.Equal(t, exitFinding, r.code, "no fixture set under the module: %s", r.stderr)
	assert.Equal(t, filepath.Join(w.module, gate.DefaultOutDir), cfg.OutDir)
	assert.Equal(t, filepath.Join(w.module, "fixtures", "repos"), cfg.FixturesDir)
	assert.Equal(t, w.upstream, cfg.UpstreamDir)
	assert.Equal(t, 1.0, cfg.Budget)
	assert.Contains(t, r.stdout, "holds no fixture set")
	assert.FileExists(t, filepath.Join(w.module, gate.DefaultOutDir, gate.ReportFile))

	t.Setenv(testfixtures.Env, "")
	icerig("gate", "--module", w.module)
	assert.Equal(t, filepath.Join(filepath.Dir(w.module), "shared", "icechunk-fixtures"), cfg.UpstreamDir)
}

func TestGateUsageErrors(t *testing.T) {
	w := newGateWorld(t)
	fakeGateSteps(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{w.args("--budget", "0"), "--budget must be a positive number"},
		{w.args("--budget", "-1"), "--budget must be a positive number"},
		{w.args("--budget", "NaN"), "--budget must be a positive number"},
		{w.args("--budget", "lots"), "invalid value"},
		{w.args("extra"), "want 0 argument(s)"},
		{w.args("--skip", "nonesuch"), `cannot skip unknown step "nonesuch"`},
		{w.args("--icerig", filepath.Join(w.module, "no-such-icerig")), "no-such-icerig: not a file"},
		{[]string{"gate", "--module", w.fixtures}, "no go.mod there"},
	} {
		r := icerig(c.args...)
		requireUsageError(t, r, c.want)
	}
	r := icerig("gate", "-h")
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "--skip")
	assert.Contains(t, r.stdout, "build, vet, unit, machines, fixtures, oracle, traces")
}
