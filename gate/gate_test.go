package gate

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/internal/transitions"
)

// coverAll is a step that exercises every required cell once, except
// those named in except.
func coverAll(except ...transitions.Cell) Step {
	return Step{Name: "cover", Run: func(ctx context.Context, r *StepRun) {
		for _, c := range RequiredCells(actors.Registered()) {
			if !slices.Contains(except, c) {
				r.AddCell(c)
			}
		}
		r.AddCase(TestCase{Name: "covered", Status: StatusPass})
	}}
}

// readOutputs reads and checks the three output files of a run.
func readOutputs(t *testing.T, dir string) (*Report, JUnitSuites, string) {
	t.Helper()
	rep, err := ReadReport(filepath.Join(dir, ReportFile))
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(dir, JUnitFile))
	require.NoError(t, err)
	var suites JUnitSuites
	require.NoError(t, xml.Unmarshal(data, &suites), "junit.xml is not well-formed:\n%s", data)
	// Every token of the document decodes (xml.Unmarshal stops early on
	// some errors).
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "junit.xml token")
	}
	sum, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	require.NoError(t, err)
	return rep, suites, string(sum)
}

func TestPassingGate(t *testing.T) {
	w := newWorld(t)
	cells := writeCells(t, transitions.Cell{Writer: "v1", Reader: "v2", Op: transitions.OpCommit, Spec: 1})
	cellsDst := filepath.Join(t.TempDir(), "cells", "machines.json") // the step creates cells/
	cfg := w.config(
		GoTestStep("unit", fakeGoTestCmd(passingStream(t), 0, cells, cellsDst, time.Minute), cellsDst),
		coverAll(),
	)
	rep, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.True(t, rep.Pass, "problems: %v", rep.Problems)

	got, suites, sum := readOutputs(t, w.out)
	assert.True(t, got.Pass)
	require.Len(t, got.Steps, 2)
	unit := got.Steps[0]
	assert.Equal(t, StatusPass, unit.Status)
	assert.Equal(t, TestCounts{Total: 2, Passed: 2}, unit.Tests)
	require.Len(t, unit.Commands, 1)
	assert.Equal(t, 0, unit.Commands[0].ExitCode)
	assert.FileExists(t, unit.Commands[0].Log)
	logData, err := os.ReadFile(unit.Commands[0].Log)
	require.NoError(t, err)
	assert.Contains(t, string(logData), "fake go test stderr line")
	// The machines' cell file is merged: 1 from it + 1 from coverAll.
	assert.Equal(t, 1, unit.Cells)
	for _, e := range got.Cells {
		if e.Cell == (transitions.Cell{Writer: "v1", Reader: "v2", Op: transitions.OpCommit, Spec: 1}) {
			assert.Equal(t, 2, e.Count)
		}
	}
	assert.Empty(t, got.MissingCells)
	assert.Len(t, got.RequiredCells, len(RequiredCells(actors.Registered())))
	assert.Equal(t, []string{"v1", "v2"}, got.Actors)

	// JUnit: one suite per step plus requirements, a case per Go test.
	require.Len(t, suites.Suites, 3)
	assert.Equal(t, "unit", suites.Suites[0].Name)
	assert.Equal(t, 2, suites.Suites[0].Tests)
	assert.Equal(t, "TestA", suites.Suites[0].Cases[0].Name)
	assert.Equal(t, "example.com/p", suites.Suites[0].Cases[0].Classname)
	assert.Equal(t, "1.500", suites.Suites[0].Cases[0].Time)
	assert.Equal(t, 0, suites.Failures)

	assert.Contains(t, sum, "# icerig release gate: PASSED")
	assert.Contains(t, sum, "| unit | pass |")
	assert.Contains(t, sum, "### Spec 1")
	assert.Contains(t, sum, "### Spec 2")
	assert.NotContains(t, sum, " "+MarkMissing+" |")
	assert.NotContains(t, sum, "Missing cells")
	assert.Equal(t, sum, rep.Summary(), "summary.md is the summary the CLI prints")
}

func TestFailingStepFailsTheGate(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(GoTestStep("unit", fakeGoTestCmd(failingStream(t), 1, "", "", time.Minute), ""), coverAll())
	rep, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.False(t, rep.Pass)
	unit := rep.Steps[0]
	assert.Equal(t, StatusFail, unit.Status)
	assert.Equal(t, TestCounts{Total: 2, Passed: 1, Failed: 1}, unit.Tests)
	require.Len(t, unit.Failures, 1, "the failed test, not also the exit status: %+v", unit.Failures)
	assert.Equal(t, "TestBroken", unit.Failures[0].Test)
	assert.Equal(t, "example.com/p", unit.Failures[0].Package)
	assert.Contains(t, unit.Failures[0].Message, "want 3, got 4")
	assert.NotContains(t, unit.Failures[0].Message, "=== RUN")
	assert.Contains(t, rep.Problems, "step unit failed (1 failure(s))")

	_, suites, sum := readOutputs(t, w.out)
	assert.Equal(t, 1, suites.Failures)
	var broken *JUnitCase
	for i, c := range suites.Suites[0].Cases {
		if c.Name == "TestBroken" {
			broken = &suites.Suites[0].Cases[i]
		}
	}
	require.NotNil(t, broken)
	require.NotNil(t, broken.Failure)
	assert.Contains(t, broken.Failure.Body, "want 3, got 4 <&>", "escaped and read back")
	assert.Contains(t, sum, "# icerig release gate: FAILED")
	assert.Contains(t, sum, "| unit | **FAIL** |")
	assert.Contains(t, sum, "`TestBroken` (example.com/p): ")
}

func TestMissingCellIsNamedAndFails(t *testing.T) {
	w := newWorld(t)
	gc := transitions.Cell{Writer: "v1", Reader: "v2", Op: transitions.OpGC, Spec: 1}
	amend := transitions.Cell{Writer: "v2", Reader: "v2", Op: transitions.OpAmend, Spec: 2}
	rep, err := Run(context.Background(), w.config(coverAll(gc, amend)))
	require.NoError(t, err)
	assert.False(t, rep.Pass)
	assert.Equal(t, []transitions.Cell{gc, amend}, rep.MissingCells)
	assert.Contains(t, rep.Problems, "required cell never exercised: v1 -> v2 gc spec 1")
	assert.Equal(t, StatusPass, rep.Steps[0].Status, "the step itself passed")

	_, suites, sum := readOutputs(t, w.out)
	req := suites.Suites[len(suites.Suites)-1]
	assert.Equal(t, "requirements", req.Name)
	assert.Equal(t, 1, req.Failures)
	assert.Contains(t, sum, "- **MISSING** v1 -> v2 gc spec 1")
	assert.Contains(t, sum, "- **MISSING** v2 -> v2 amend spec 2")
	// In the table: row v1 → v2 of spec 1 has MISSING under gc (column 8).
	row := tableRow(t, sum, "Spec 1", "v1 → v2")
	assert.Equal(t, MarkMissing, row[8], "gc column of %v", row)
	assert.Equal(t, "1", row[1], "read column")
	assert.Equal(t, MarkNotApplicable, row[2], "refuse: v2 reads spec 1")
	row = tableRow(t, sum, "Spec 2", "v2 → v2")
	assert.Equal(t, MarkMissing, row[4], "amend column of %v", row)
}

// tableRow returns the cells (label first) of the row of the coverage
// table of a spec.
func tableRow(t *testing.T, sum, spec, label string) []string {
	t.Helper()
	_, after, ok := strings.Cut(sum, "### "+spec+"\n")
	require.True(t, ok, "no table for %s", spec)
	for _, line := range strings.Split(after, "\n") {
		if strings.HasPrefix(line, "### ") {
			break
		}
		if strings.HasPrefix(line, "| "+label+" |") {
			var out []string
			for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
				out = append(out, strings.TrimSpace(c))
			}
			require.Len(t, out, 1+len(transitions.Ops))
			return out
		}
	}
	t.Fatalf("no row %q in the %s table:\n%s", label, spec, after)
	return nil
}

func TestMissingFixturesAndActorsFail(t *testing.T) {
	t.Run("upstream repository", func(t *testing.T) {
		w := newWorld(t, "test-repo-v2-migrated")
		rep, err := Run(context.Background(), w.config(coverAll()))
		require.NoError(t, err)
		assert.False(t, rep.Pass)
		require.Len(t, rep.MissingFixtures, 1)
		assert.Contains(t, rep.MissingFixtures[0], "upstream fixture test-repo-v2-migrated")
		assert.Contains(t, rep.MissingFixtures[0], filepath.Join(w.upstream, "test-repo-v2-migrated"))
		_, _, sum := readOutputs(t, w.out)
		assert.Contains(t, sum, "missing fixture: upstream fixture test-repo-v2-migrated")
	})
	t.Run("no upstream directory", func(t *testing.T) {
		w := newWorld(t)
		cfg := w.config(coverAll())
		cfg.UpstreamDir = filepath.Join(t.TempDir(), "nowhere")
		rep, err := Run(context.Background(), cfg)
		require.NoError(t, err)
		assert.False(t, rep.Pass)
		assert.Len(t, rep.MissingFixtures, len(UpstreamRepos), "each repository named: %v", rep.MissingFixtures)
	})
	t.Run("no golden fixture set", func(t *testing.T) {
		w := newWorld(t)
		require.NoError(t, os.RemoveAll(filepath.Join(w.fixtures, "0.1.0")))
		rep, err := Run(context.Background(), w.config(coverAll()))
		require.NoError(t, err)
		assert.False(t, rep.Pass)
		require.Len(t, rep.MissingFixtures, 1)
		assert.Contains(t, rep.MissingFixtures[0], w.fixtures+" holds no fixture set")
	})
	t.Run("required actor", func(t *testing.T) {
		w := newWorld(t)
		cfg := w.config(coverAll())
		cfg.Actors = []actors.Actor{actors.V1{}}
		rep, err := Run(context.Background(), cfg)
		require.NoError(t, err)
		assert.False(t, rep.Pass)
		assert.Equal(t, []string{"v2"}, rep.MissingActors)
		assert.Contains(t, rep.Problems, "required actor v2 is not built in")
	})
}

func TestSkippedStepFailsTheGate(t *testing.T) {
	w := newWorld(t)
	ran := false
	other := Step{Name: "slow", Run: func(ctx context.Context, r *StepRun) { ran = true }}
	cfg := w.config(coverAll(), other)
	cfg.Skip = []string{"slow"}
	rep, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.False(t, ran, "a skipped step does not run")
	assert.False(t, rep.Pass)
	assert.Equal(t, StatusSkipped, rep.Steps[1].Status)
	assert.Contains(t, rep.Problems, "step slow was skipped: the gate is incomplete")
	_, suites, sum := readOutputs(t, w.out)
	assert.Equal(t, 1, suites.Suites[1].Failures, "a skipped step fails in JUnit too")
	assert.Contains(t, sum, "| slow | **SKIPPED** |")

	cfg.Skip = []string{"nonesuch"}
	_, err = Run(context.Background(), cfg)
	assert.ErrorIs(t, err, ErrConfig)
	assert.ErrorContains(t, err, `"nonesuch"`)
}

func TestStepTimeoutKillsAndFails(t *testing.T) {
	w := newWorld(t)
	step := GoTestStep("machines", fakeGoTestCmd("hang", 0, "", "", 500*time.Millisecond), "")
	start := time.Now()
	rep, err := Run(context.Background(), w.config(step, coverAll()))
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 30*time.Second, "the hung command was killed")
	s := rep.Steps[0]
	assert.Equal(t, StatusFail, s.Status)
	assert.True(t, s.Commands[0].TimedOut)
	var msgs []string
	for _, f := range s.Failures {
		msgs = append(msgs, f.Test+": "+f.Message)
	}
	all := strings.Join(msgs, "\n")
	assert.Contains(t, all, "TestHang: no result: the test did not finish")
	assert.Equal(t, StatusPass, rep.Steps[1].Status, "the gate goes on after a failed step")
}

func TestGoTestStepGuards(t *testing.T) {
	w := newWorld(t)
	noTests := writeStream(t, `{"Action":"start","Package":"example.com/p"}`,
		`{"Action":"output","Package":"example.com/p","Output":"testing: warning: no tests to run\n"}`,
		`{"Action":"pass","Package":"example.com/p","Elapsed":0}`)
	cellsDst := filepath.Join(t.TempDir(), "never-written.json")
	steps := []Step{
		GoTestStep("no-tests", fakeGoTestCmd(noTests, 0, "", "", time.Minute), ""),
		GoTestStep("no-cells", fakeGoTestCmd(passingStream(t), 0, "", "", time.Minute), cellsDst),
		GoTestStep("exit-only", fakeGoTestCmd(passingStream(t), 2, "", "", time.Minute), ""),
		GoTestStep("bad-command", Command{Argv: []string{filepath.Join(t.TempDir(), "no-such-go")}}, ""),
		{Name: "panics", Run: func(ctx context.Context, r *StepRun) { panic("boom") }},
	}
	rep, err := Run(context.Background(), w.config(append(steps, coverAll())...))
	require.NoError(t, err)
	want := map[string]string{
		"no-tests":    "no test ran",
		"no-cells":    "no transition cells from the run",
		"exit-only":   "exit status 2",
		"bad-command": "no-such-go",
		"panics":      "step panicked: boom",
	}
	for _, s := range rep.Steps[:len(steps)] {
		assert.Equal(t, StatusFail, s.Status, s.Name)
		var msgs []string
		for _, f := range s.Failures {
			msgs = append(msgs, f.Message)
		}
		assert.Contains(t, strings.Join(msgs, "\n"), want[s.Name], s.Name)
	}
	assert.False(t, rep.Pass)
}

func TestRunRejectsBadConfig(t *testing.T) {
	w := newWorld(t)
	for name, cfg := range map[string]Config{
		"no module": {Steps: []Step{coverAll()}},
		"no steps":  w.config(),
		"twice":     w.config(coverAll(), coverAll()),
	} {
		_, err := Run(context.Background(), cfg)
		assert.ErrorIs(t, err, ErrConfig, name)
	}
}

func TestRequiredCells(t *testing.T) {
	req := RequiredCells(actors.Registered())
	c := func(w, r, op string, s int) transitions.Cell {
		return transitions.Cell{Writer: w, Reader: r, Op: op, Spec: s}
	}
	// v1 writes spec 1; v2 writes specs 1 and 2. Readers v1 (spec 1), v2
	// (1, 2, upgrade, amend).
	for _, want := range []transitions.Cell{
		c("v1", "v1", "read", 1), c("v1", "v2", "gc", 1), c("v2", "v1", "commit", 1),
		c("v2", "v1", "refuse", 2), c("v2", "v2", "amend", 2), c("v2", "v2", "expire", 2),
		c("v1", "v2", "upgrade", 1), c("v2", "v2", "upgrade", 1),
		c("v1", "v2", "stream", 1), c("v2", "v2", "stream", 1),
		c("v1", "v2", "conflict", 1), c("v2", "v1", "conflict", 1), c("v2", "v2", "conflict", 2),
		c("v1", "v2", "crash", 1), c("v2", "v1", "crash", 1), c("v2", "v2", "crash", 2),
	} {
		assert.Contains(t, req, want)
	}
	for _, not := range []transitions.Cell{
		c("v1", "v1", "upgrade", 1), c("v2", "v1", "read", 2), c("v1", "v1", "amend", 1),
		c("v2", "v2", "amend", 1), c("v2", "v2", "refuse", 2), c("v2", "v2", "upgrade", 2),
		c("v2", "v2", "stream", 2), c("v1", "v1", "stream", 1), c("v2", "v1", "conflict", 2),
	} {
		assert.NotContains(t, req, not)
	}
	// 3 writer-spec pairs × 2 readers: spec 1 pairs (4) × 8 ops = 32; v2
	// spec 2: v1 refuse 1 + v2 9 = 10; upgrade 2; stream 2.
	assert.Len(t, req, 32+10+2+2)

	only := RequiredCells([]actors.Actor{actors.V1{}})
	assert.Len(t, only, 8, "v1 alone: its eight spec-1 operations, no stream without the v2 streamer")
}

func TestCoverageTableMarks(t *testing.T) {
	rep := &Report{
		Actors:        []string{"v1", "v2"},
		RequiredCells: RequiredCells(actors.Registered()),
		Cells: []transitions.Entry{
			{Cell: transitions.Cell{Writer: "v1", Reader: "v1", Op: "read", Spec: 1}, Count: 17},
			{Cell: transitions.Cell{Writer: "upstream-1.x", Reader: "v1", Op: "gc", Spec: 1}, Count: 3},
			{Cell: transitions.Cell{Writer: "v2", Reader: "v1", Op: "refuse", Spec: 2}, Count: 2},
		},
	}
	got := transitions.New()
	for _, e := range rep.Cells {
		got.Add(e.Cell)
	}
	rep.MissingCells = MissingCells(rep.RequiredCells, got)
	table := rep.CoverageTable()
	row := tableRow(t, table, "Spec 1", "v1 → v1")
	assert.Equal(t, "17", row[1])
	assert.Equal(t, MarkNotApplicable, row[2], "refuse")
	assert.Equal(t, MarkMissing, row[3], "commit")
	assert.Equal(t, MarkNotApplicable, row[9], "upgrade: v1 cannot")
	row = tableRow(t, table, "Spec 1", "upstream-1.x → v1")
	assert.Equal(t, "3", row[8], "an exercised cell outside the requirements still shows")
	assert.Equal(t, MarkNotApplicable, row[1])
	row = tableRow(t, table, "Spec 2", "v2 → v1")
	assert.Equal(t, "2", row[2])
	assert.Equal(t, MarkNotApplicable, row[1], "v1 does not read spec 2")
	assert.NotContains(t, strings.SplitN(table, "### Spec 2", 2)[1], "| v1 → ", "v1 writes no spec 2")
	assert.Contains(t, table, "2 of 46 required cells exercised")
}

func TestJUnitEscapesHostileText(t *testing.T) {
	rep := &Report{Started: time.Now(), Steps: []*StepResult{{Name: "s", Status: StatusFail}}}
	r := &StepRun{cfg: &Config{}, res: rep.Steps[0]}
	r.AddCase(TestCase{Name: `Test"<x>`, Class: "p&q", Status: StatusFail,
		Message: "bad \x00 byte \x1b[31m ]]> end", Output: "\xff\xfe invalid utf8 ]]>"})
	r.Fail("", "step-level <failure> & more")
	rep.finish(time.Now())
	data, err := rep.JUnit()
	require.NoError(t, err)
	var back JUnitSuites
	require.NoError(t, xml.Unmarshal(data, &back), "%s", data)
	require.Len(t, back.Suites[0].Cases, 2)
	assert.Equal(t, `Test"<x>`, back.Suites[0].Cases[0].Name)
	assert.Equal(t, "p&q", back.Suites[0].Cases[0].Classname)
	assert.Contains(t, back.Suites[0].Cases[0].Failure.Body, "]]> end")
	assert.Equal(t, "step-level <failure> & more", back.Suites[0].Cases[1].Failure.Message)
	assert.Equal(t, 2, back.Suites[0].Failures)
	assert.Equal(t, 2, back.Failures)
}

func TestReportJSONShape(t *testing.T) {
	w := newWorld(t)
	_, err := Run(context.Background(), w.config(coverAll()))
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(w.out, ReportFile))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	for _, k := range []string{"pass", "started", "duration_seconds", "budget", "steps", "cells", "required_cells",
		"missing_cells", "actors", "missing_actors", "missing_fixtures", "problems"} {
		assert.Contains(t, m, k)
	}
	step := m["steps"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "status", "duration_seconds", "commands", "tests", "failures", "cells"} {
		assert.Contains(t, step, k)
	}
	assert.NotNil(t, m["missing_cells"], "an empty list, not null")
}
