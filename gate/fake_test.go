package gate

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/fixtures"
	"github.com/icerig/icerig/gccompare"
	"github.com/icerig/icerig/internal/transitions"
)

// fakeEnv selects what the test binary does when the gate runs it as a
// subprocess: "gotest" (print a canned go test -json stream) or "icerig"
// (answer fixtures verify, inspect and gc-compare).
const fakeEnv = "GATE_TEST_FAKE"

// TestMain lets the test binary stand in for go test and icerig.
func TestMain(m *testing.M) {
	switch os.Getenv(fakeEnv) {
	case "gotest":
		os.Exit(fakeGoTest(os.Args[1:]))
	case "icerig":
		os.Exit(fakeIcerig(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeGoTest: ARGS = STREAM EXIT [CELLS_SRC CELLS_DST]; STREAM "hang"
// prints one run event and never exits.
func fakeGoTest(args []string) int {
	if args[0] == "hang" {
		fmt.Println(`{"Action":"run","Package":"example.com/p","Test":"TestHang"}`)
		// The fake process hangs (waiting for a signal nobody sends):
		// the gate must kill it at its timeout.
		never := make(chan os.Signal, 1)
		signal.Notify(never, os.Interrupt)
		<-never
		return 0
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	os.Stdout.Write(data)
	fmt.Fprintln(os.Stderr, "fake go test stderr line")
	if len(args) >= 4 && args[2] != "" {
		b, err := os.ReadFile(args[2])
		if err == nil {
			err = os.WriteFile(args[3], b, 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
	}
	code, _ := strconv.Atoi(args[1])
	return code
}

// fakeSpec: a directory with a "repo" file is spec 2, else spec 1.
func fakeSpec(dir string) int {
	if _, err := os.Stat(filepath.Join(dir, "repo")); err == nil {
		return 2
	}
	return 1
}

// fakeIcerig answers the three commands the gate runs. Every call is
// appended to $GATE_TEST_LOG.
func fakeIcerig(args []string) int {
	if log := os.Getenv("GATE_TEST_LOG"); log != "" {
		f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, strings.Join(args, " "))
			f.Close()
		}
	}
	enc := json.NewEncoder(os.Stdout)
	switch {
	case len(args) >= 5 && args[0] == "fixtures" && args[1] == "verify":
		cellsFile := args[4]
		rep := fixtures.Report{Actors: []string{"v1", "v2"}, Problems: []string{}, Results: []fixtures.Result{
			{Fixture: "0.1.0/v1-spec1-data", Actor: "v1", Writer: "v1", Spec: 1, Outcome: fixtures.OutcomeRead, Problems: []string{}},
			{Fixture: "0.1.0/v2-spec2-data", Actor: "v1", Writer: "v2", Spec: 2, Outcome: fixtures.OutcomeRefused, Problems: []string{}},
			{Fixture: "0.1.0/v2-spec2-data", Actor: "v2", Writer: "v2", Spec: 2, Outcome: fixtures.OutcomeRead, Problems: []string{}},
		}}
		code := 0
		if os.Getenv("GATE_TEST_FIXTURES") == "bad" {
			rep.Results[2].Outcome = fixtures.OutcomeMismatch
			rep.Results[2].Problems = []string{`refs["branch:main"].snapshot: want A, got B`}
			rep.Problems = append(rep.Problems, "0.1.0/v1-spec1-refs: listed in index.json but missing")
			code = 1
		}
		if err := rep.Transitions().WriteFile(cellsFile); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		_ = enc.Encode(rep)
		return code
	case len(args) >= 5 && args[0] == "inspect":
		dir := args[len(args)-1]
		_ = enc.Encode(map[string]any{"spec_version": fakeSpec(dir), "ancestry": map[string]any{
			"branch:main": []map[string]string{
				{"flushed_at": "2024-05-01T10:00:00.000000Z"},
				{"flushed_at": "2024-05-01T09:00:00.000000Z"},
				{"flushed_at": "2024-05-01T08:00:00.000000Z"},
			},
			"tag:t": []map[string]string{{"flushed_at": "2024-05-01T09:00:00.000000Z"}},
		}})
		return 0
	case len(args) >= 7 && args[0] == "gc-compare":
		dir := args[len(args)-1]
		// The oracle mutates its input: so does the fake.
		if err := os.WriteFile(filepath.Join(dir, "touched-by-oracle"), nil, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		spec := fakeSpec(dir)
		replica := "v1"
		if spec == 2 {
			replica = "v2"
		}
		rep := gccompare.Report{SpecVersion: spec,
			Original:   gccompare.Side{Actor: "v2", Expire: &actors.ExpireResult{}, GC: &actors.GCResult{}},
			Replica:    gccompare.Side{Actor: replica, Expire: &actors.ExpireResult{}, GC: &actors.GCResult{}},
			Notes:      []string{},
			Mismatches: []gccompare.Mismatch{}}
		code := 0
		if _, err := os.Stat(filepath.Join(dir, "MISMATCH")); err == nil {
			rep.Mismatches = append(rep.Mismatches, gccompare.Mismatch{Field: "gc.chunks_deleted", Original: "3", Replica: "2"})
			code = 1
		}
		_ = enc.Encode(rep)
		return code
	}
	fmt.Fprintf(os.Stderr, "fake icerig: unexpected arguments %q\n", args)
	return 2
}

// fakeGoTestCmd is a Command that prints stream and exits with code,
// copying cellsSrc to cellsDst when both are given.
func fakeGoTestCmd(stream string, code int, cellsSrc, cellsDst string, timeout time.Duration) Command {
	return Command{Argv: []string{os.Args[0], stream, strconv.Itoa(code), cellsSrc, cellsDst},
		Env: []string{fakeEnv + "=gotest"}, Timeout: timeout}
}

// writeStream writes go test -json events (one per line) to a file.
func writeStream(t *testing.T, events ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stream.json")
	if err := os.WriteFile(p, []byte(strings.Join(events, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// passingStream is a go test -json stream with two passing tests.
func passingStream(t *testing.T) string {
	return writeStream(t,
		`{"Action":"start","Package":"example.com/p"}`,
		`{"Action":"run","Package":"example.com/p","Test":"TestA"}`,
		`{"Action":"output","Package":"example.com/p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		`{"Action":"pass","Package":"example.com/p","Test":"TestA","Elapsed":1.5}`,
		`{"Action":"run","Package":"example.com/p","Test":"TestB"}`,
		`{"Action":"pass","Package":"example.com/p","Test":"TestB","Elapsed":0.25}`,
		`{"Action":"pass","Package":"example.com/p","Elapsed":1.8}`,
	)
}

// failingStream has one passing and one failing test.
func failingStream(t *testing.T) string {
	return writeStream(t,
		`{"Action":"run","Package":"example.com/p","Test":"TestOK"}`,
		`{"Action":"pass","Package":"example.com/p","Test":"TestOK","Elapsed":0.1}`,
		`{"Action":"run","Package":"example.com/p","Test":"TestBroken"}`,
		`{"Action":"output","Package":"example.com/p","Test":"TestBroken","Output":"=== RUN   TestBroken\n"}`,
		`{"Action":"output","Package":"example.com/p","Test":"TestBroken","Output":"    x_test.go:12: want 3, got 4 <&> \u001b[31m\n"}`,
		`{"Action":"output","Package":"example.com/p","Test":"TestBroken","Output":"--- FAIL: TestBroken (0.20s)\n"}`,
		`{"Action":"fail","Package":"example.com/p","Test":"TestBroken","Elapsed":0.2}`,
		`{"Action":"fail","Package":"example.com/p","Elapsed":0.4}`,
	)
}

// writeCells writes a transitions file of cells.
func writeCells(t *testing.T, cells ...transitions.Cell) string {
	t.Helper()
	s := transitions.New()
	for _, c := range cells {
		s.Add(c)
	}
	p := filepath.Join(t.TempDir(), "cells.json")
	if err := s.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// world is a module directory with upstream and golden fixture trees the
// gate's checks accept.
type world struct {
	module, out, upstream, fixtures string
}

// newWorld builds a world; drop names upstream repositories to leave out.
func newWorld(t *testing.T, drop ...string) world {
	t.Helper()
	root := t.TempDir()
	w := world{module: filepath.Join(root, "mod"), out: filepath.Join(root, "out"),
		upstream: filepath.Join(root, "upstream"), fixtures: filepath.Join(root, "mod", "fixtures", "repos")}
	mkdir(t, w.module)
	writeFile(t, filepath.Join(w.module, "go.mod"), "module example.com/fake\n\ngo 1.26\n")
	for _, name := range UpstreamRepos {
		if contains(drop, name) {
			continue
		}
		mkdir(t, filepath.Join(w.upstream, name, "refs"))
	}
	fx := filepath.Join(w.fixtures, "0.1.0", "v1-spec1-data")
	mkdir(t, filepath.Join(fx, "repo", "refs"))
	writeFile(t, filepath.Join(fx, "repo", "refs", "branch.main"), "original")
	return w
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, body string) {
	t.Helper()
	mkdir(t, filepath.Dir(p))
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// config is a gate configuration over w with the given steps.
func (w world) config(steps ...Step) Config {
	return Config{ModuleDir: w.module, OutDir: w.out, Budget: 1, Steps: steps,
		UpstreamDir: w.upstream, FixturesDir: w.fixtures}
}
