package gate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/fixtures"
	"github.com/icerig/icerig/internal/transitions"
)

func TestParseGoTestJSON(t *testing.T) {
	stream := strings.Join([]string{
		`{"Action":"start","Package":"a"}`,
		`{"Action":"run","Package":"a","Test":"TestP"}`,
		`{"Action":"run","Package":"a","Test":"TestP/sub"}`,
		`{"Action":"pass","Package":"a","Test":"TestP/sub","Elapsed":0.5}`,
		`{"Action":"pass","Package":"a","Test":"TestP","Elapsed":0.6}`,
		`{"Action":"run","Package":"a","Test":"TestS"}`,
		`{"Action":"output","Package":"a","Test":"TestS","Output":"    s_test.go:3: needs nothing\n"}`,
		`{"Action":"skip","Package":"a","Test":"TestS","Elapsed":0}`,
		`{"Action":"run","Package":"a","Test":"TestRunning"}`,
		`{"Action":"output","Package":"a","Test":"TestRunning","Output":"halfway\n"}`,
		`not json at all`,
		// b: panics in TestMain, no test fails.
		`{"Action":"output","Package":"b","Output":"PASS\n"}`,
		`{"Action":"output","Package":"b","Output":"panic: TestMain exploded\n"}`,
		`{"Action":"output","Package":"b","Output":"FAIL\tb\t0.1s\n"}`,
		`{"Action":"fail","Package":"b","Elapsed":0.1}`,
		// c: build failure (Go 1.24 build events).
		`{"ImportPath":"c [c.test]","Action":"build-output","Output":"c/x.go:1: syntax error\n"}`,
		`{"ImportPath":"c [c.test]","Action":"build-fail"}`,
		`{"Action":"output","Package":"c","Output":"FAIL\tc [build failed]\n"}`,
		`{"Action":"fail","Package":"c","Elapsed":0,"FailedBuild":"c [c.test]"}`,
		// d: no test files.
		`{"Action":"skip","Package":"d","Elapsed":0}`,
		// e: a build failure without a package event.
		`{"ImportPath":"e","Action":"build-output","Output":"e/y.go:2: undefined: z\n"}`,
		`{"ImportPath":"e","Action":"build-fail"}`,
	}, "\n")
	o := ParseGoTestJSON([]byte(stream))
	byName := map[string]TestCase{}
	for _, c := range o.Cases {
		byName[c.Class+" "+c.Name] = c
	}
	assert.Len(t, o.Cases, 7, "%v", byName)
	assert.Equal(t, StatusPass, byName["a TestP"].Status)
	assert.Equal(t, 600*time.Millisecond, byName["a TestP"].Duration)
	assert.Equal(t, StatusPass, byName["a TestP/sub"].Status)
	assert.Equal(t, StatusSkipped, byName["a TestS"].Status)
	assert.Contains(t, byName["a TestS"].Message, "needs nothing")
	assert.Equal(t, StatusFail, byName["a TestRunning"].Status)
	assert.Contains(t, byName["a TestRunning"].Message, "did not finish")
	assert.Contains(t, byName["a TestRunning"].Message, "halfway")
	assert.Equal(t, StatusFail, byName["b package"].Status)
	assert.Equal(t, "panic: TestMain exploded", byName["b package"].Message, "without the PASS/FAIL framing")
	assert.Equal(t, StatusFail, byName["c package"].Status)
	assert.Contains(t, byName["c package"].Output, "syntax error")
	assert.NotContains(t, byName, "c [c.test] build", "reported once, with package c")
	assert.Equal(t, StatusFail, byName["e build"].Status)
	assert.Contains(t, byName["e build"].Message, "undefined: z")
	assert.Equal(t, "not json at all\n", o.Stray)
}

func TestMachineChecks(t *testing.T) {
	assert.Equal(t, 300, MachineChecks(1))
	assert.Equal(t, 30, MachineChecks(0.1))
	assert.Equal(t, 750, MachineChecks(2.5))
	assert.Equal(t, 1, MachineChecks(0.0001))
}

func TestDefaultSteps(t *testing.T) {
	cfg := Config{ModuleDir: "/m", OutDir: "/o", Budget: 0.5, FixturesDir: "/m/fixtures/repos", UpstreamDir: "/u"}
	steps := DefaultSteps(cfg)
	assert.Equal(t, []string{StepBuild, StepVet, StepUnit, StepMachines, StepFixtures, StepOracle, StepTraces}, StepNames(steps))
	for _, s := range steps {
		assert.Positive(t, s.Timeout, s.Name)
	}
	cfg.Icerig = "/bin/icerig"
	assert.NotContains(t, StepNames(DefaultSteps(cfg)), StepBuild, "no build with a given binary")

	// The machines' command, run against a fake go that records it.
	goLog := filepath.Join(t.TempDir(), "args")
	fakeGo := filepath.Join(t.TempDir(), "go")
	require.NoError(t, os.WriteFile(fakeGo, []byte("#!/bin/sh\necho \"$@\" > "+goLog+"\n"), 0o755))
	w := newWorld(t)
	cfg = w.config()
	cfg.Budget = 0.5
	cfg.Go = fakeGo
	var machines Step
	for _, s := range DefaultSteps(cfg) {
		if s.Name == StepMachines {
			machines = s
		}
	}
	cfg.Steps = []Step{machines}
	_, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	args, err := os.ReadFile(goLog)
	require.NoError(t, err)
	assert.Equal(t, "test -count=1 -json -timeout=5m40s -run ^TestCrossVersion ./statemachine -rapid.checks=150 -transitions="+
		filepath.Join(w.out, "cells", "machines.json")+"\n", string(args))
}

// fakeIcerigConfig points the gate at the test binary as icerig.
func fakeIcerigConfig(t *testing.T, w world, steps ...Step) (Config, string) {
	cfg := w.config(steps...)
	log := filepath.Join(t.TempDir(), "icerig.log")
	cfg.Env = []string{fakeEnv + "=icerig", "GATE_TEST_LOG=" + log}
	return cfg, log
}

func TestFixturesStep(t *testing.T) {
	w := newWorld(t)
	cells := filepath.Join(w.out, "cells", "fixtures.json")
	cfg, log := fakeIcerigConfig(t, w, FixturesStep(os.Args[0], []string{"--root", w.fixtures}, cells, time.Minute))
	rep, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	s := rep.Steps[0]
	assert.Equal(t, StatusPass, s.Status, "%+v", s.Failures)
	assert.Equal(t, TestCounts{Total: 3, Passed: 3}, s.Tests)
	assert.Equal(t, 3, s.Cells)
	assert.Contains(t, rep.Cells, transitions.Entry{Cell: transitions.Cell{Writer: "v2", Reader: "v1", Op: "refuse", Spec: 2}, Count: 1})
	called, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Equal(t, "fixtures verify --json --transitions "+cells+" --root "+w.fixtures+"\n", string(called))

	cfg.Env = append(cfg.Env, "GATE_TEST_FIXTURES=bad")
	rep, err = Run(context.Background(), cfg)
	require.NoError(t, err)
	s = rep.Steps[0]
	assert.Equal(t, StatusFail, s.Status)
	assert.Equal(t, 1, s.Tests.Failed)
	var msgs []string
	for _, f := range s.Failures {
		msgs = append(msgs, f.Test+": "+f.Message)
	}
	all := strings.Join(msgs, "\n")
	assert.Contains(t, all, `0.1.0/v2-spec2-data: mismatch: v2 reading 0.1.0/v2-spec2-data (writer v2, spec 2): refs["branch:main"]`)
	assert.Contains(t, all, "fixture sets: 0.1.0/v1-spec1-refs: listed in index.json but missing")
	assert.NotContains(t, all, "exit status 1", "the exit status is explained by the failures")
}

// writeExpected writes a minimal valid expected.json for a fixture.
func writeExpected(t *testing.T, dir, writer string, spec int, flushes ...string) {
	t.Helper()
	var anc []string
	for _, f := range flushes {
		anc = append(anc, `{"flushed_at": "`+f+`", "id": "X", "manifest_files": 0, "message": "m", "parent_id": ""}`)
	}
	body := `{
  "description": "test",
  "facts": {
    "branches": {},
    "deleted_tags": {},
    "fsck_clean": true,
    "refs": {"branch:main": {"ancestry": [` + strings.Join(anc, ",") + `], "keys": {}, "nodes": {}, "snapshot": "X"}},
    "spec_version": ` + string(rune('0'+spec)) + `,
    "tags": {}
  },
  "format": 1,
  "library_version": "0.1.0",
  "scenario": "data",
  "spec": ` + string(rune('0'+spec)) + `,
  "writer": "` + writer + `"
}`
	writeFile(t, filepath.Join(dir, fixtures.ExpectedFile), body)
}

func TestOracleStep(t *testing.T) {
	w := newWorld(t)
	ours := filepath.Join(w.fixtures, "0.1.0", "v1-spec1-data")
	writeExpected(t, ours, "v1", 1, "2025-01-01T10:00:00.000000Z", "2025-01-01T09:00:00.000000Z", "2025-01-01T08:00:00.000000Z")
	// test-repo-v2 becomes a spec-2 repository (a "repo" file) whose
	// comparison reports a mismatch.
	writeFile(t, filepath.Join(w.upstream, "test-repo-v2", "repo"), "")
	writeFile(t, filepath.Join(w.upstream, "test-repo-v2", "MISMATCH"), "")
	writeFile(t, filepath.Join(w.upstream, "README.md"), "not a repository")
	before := append(snapshotTree(t, w.upstream), snapshotTree(t, w.fixtures)...)

	cfg, log := fakeIcerigConfig(t, w, OracleStep(OracleConfig{Icerig: os.Args[0], FixturesDir: w.fixtures,
		UpstreamDir: w.upstream, Timeout: time.Minute}))
	rep, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, before, append(snapshotTree(t, w.upstream), snapshotTree(t, w.fixtures)...), "the fixtures were never touched")

	s := rep.Steps[0]
	assert.Equal(t, StatusFail, s.Status)
	// ours: 4 runs; each of 4 upstream: inspect + 4 runs.
	assert.Equal(t, 4+4*5, s.Tests.Total)
	assert.Equal(t, 4, s.Tests.Failed, "the four comparisons of test-repo-v2: %+v", s.Failures)
	for _, f := range s.Failures {
		assert.Contains(t, f.Test, "upstream/test-repo-v2 @ ")
		assert.Contains(t, f.Message, "mismatch: gc.chunks_deleted: original 3, replica 2")
	}

	calls, err := os.ReadFile(log)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
	var cutoffs []string
	deleting := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "gc-compare") || strings.HasPrefix(l, "inspect") {
			assert.NotContains(t, l, w.fixtures, "runs on a copy: %s", l)
			assert.NotContains(t, l, w.upstream, "runs on a copy: %s", l)
		}
		if strings.HasPrefix(l, "gc-compare") {
			f := strings.Fields(l)
			assert.Equal(t, f[3], f[5], "same cutoff for expiration and GC: %s", l)
			cutoffs = append(cutoffs, f[3])
			if strings.Contains(l, "--delete-expired-branches --delete-expired-tags") {
				deleting++
			}
		}
	}
	assert.Len(t, cutoffs, 5*4)
	assert.Equal(t, 5, deleting, "one run deleting expired refs per repository")
	assert.Contains(t, cutoffs, "2000-01-01T00:00:00Z")
	assert.Contains(t, cutoffs, "2025-01-01T09:00:00Z", "the middle of our fixture's history")
	assert.Contains(t, cutoffs, "2024-05-01T09:00:00Z", "the middle of an upstream history (from inspect)")
	assert.Contains(t, cutoffs, "2200-01-01T00:00:00Z")

	count := func(c transitions.Cell) int {
		for _, e := range rep.Cells {
			if e.Cell == c {
				return e.Count
			}
		}
		return 0
	}
	assert.Equal(t, 4, count(transitions.Cell{Writer: "v1", Reader: "v1", Op: "gc", Spec: 1}), "our v1 fixture, 4 runs")
	assert.Equal(t, 4, count(transitions.Cell{Writer: "v1", Reader: "v2", Op: "expire", Spec: 1}))
	assert.Equal(t, 12, count(transitions.Cell{Writer: fixtures.WriterUpstream1, Reader: "v2", Op: "gc", Spec: 1}),
		"three spec-1 upstream repositories")
	assert.Equal(t, 8, count(transitions.Cell{Writer: fixtures.WriterUpstream2, Reader: "v2", Op: "gc", Spec: 2}),
		"spec 2: both sides v2, one repository (the mismatching one still ran)")
}

// snapshotTree lists every file under dir with its size and mtime.
func snapshotTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %s %d", p, fi.ModTime(), fi.Size()))
		return nil
	}))
	slices.Sort(out)
	return out
}

func TestOracleStepWithoutRepositoriesFails(t *testing.T) {
	w := newWorld(t)
	cfg, _ := fakeIcerigConfig(t, w, OracleStep(OracleConfig{Icerig: os.Args[0], FixturesDir: t.TempDir(),
		UpstreamDir: t.TempDir(), Timeout: time.Minute}))
	rep, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, StatusFail, rep.Steps[0].Status)
	assert.Contains(t, rep.Steps[0].Failures[0].Message, "no fixture repository")
}

func TestVetStepNamesUnformattedFiles(t *testing.T) {
	w := newWorld(t)
	writeFile(t, filepath.Join(w.module, "ok.go"), "package fake\n\n// X is x.\nfunc X() int { return 1 }\n")
	writeFile(t, filepath.Join(w.module, "sub", "ugly.go"), "package sub\nfunc  Y( ) int {return 2}\n")
	writeFile(t, filepath.Join(w.module, "node_modules", "pkg", "vendored.go"), "package  pkg\n")
	rep, err := Run(context.Background(), w.config(VetStep(time.Minute)))
	require.NoError(t, err)
	s := rep.Steps[0]
	assert.Equal(t, StatusFail, s.Status)
	require.Len(t, s.Failures, 1, "%+v", s.Failures)
	assert.Equal(t, "gofmt -l", s.Failures[0].Test)
	assert.Equal(t, "gofmt would change: "+filepath.Join("sub", "ugly.go"), s.Failures[0].Message)
	assert.Equal(t, TestCounts{Total: 2, Passed: 1, Failed: 1}, s.Tests, "go vet passed")
}
