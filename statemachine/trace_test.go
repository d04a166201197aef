package statemachine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/internal/modroot"
	"github.com/icerig/icerig/zarr"
)

// TestDeterminism runs the same seeds twice: every run must produce the
// same trace and the same store, byte for byte (keys, contents and
// modification times); other seeds must differ.
func TestDeterminism(t *testing.T) {
	withFlag(t, "rapid.checks", "10", true)
	digests := func(seed string) []string {
		withFlag(t, "rapid.seed", seed, true)
		cfg := Config{Actors: actors.Registered()}
		if err := cfg.normalize(); err != nil {
			t.Fatal(err)
		}
		rec := &Recorder{}
		rapid.Check(t, cfg.property(rec))
		return rec.Digests()
	}
	a, b := digests("4242"), digests("4242")
	if len(a) == 0 || !slices.Equal(a, b) {
		t.Fatalf("seed 4242 twice gave different runs:\n%v\n%v", a, b)
	}
	if c := digests("4343"); slices.Equal(a, c) {
		t.Fatalf("seeds 4242 and 4343 gave the same runs: the digest does not see the run")
	}
	for _, backend := range []Backend{BackendMemory, BackendLocal} {
		// A replay of a corpus trace is deterministic too, on both backends.
		tr := mustParseFile(t, corpusDir(t), "expiration.trace")
		var hashes []string
		for range 2 {
			env, err := NewEnv(context.Background(), EnvOptions{Actors: actors.Registered(), Seed: tr.Seed, Backend: backend, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tr.Steps {
				if _, err := env.Run(s.Op, s.Line); err != nil {
					t.Fatal(err)
				}
			}
			d, err := runDigest(env, tr)
			if err != nil {
				t.Fatal(err)
			}
			hashes = append(hashes, d)
		}
		if hashes[0] != hashes[1] {
			t.Errorf("%s: two replays of expiration.trace left different stores", backend)
		}
	}
}

// TestTraceRoundTrip: every op of generated runs reads back from its text
// form to the same text, and whole traces format and parse losslessly.
func TestTraceRoundTrip(t *testing.T) {
	withFlag(t, "rapid.checks", "20", true)
	cfg := Config{Actors: actors.Registered()}
	if err := cfg.normalize(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	rapid.Check(t, func(rt *rapid.T) {
		rec := &Recorder{}
		cfg.property(rec)(rt)
		tr := rec.LastRun()
		for _, s := range tr.Steps {
			text := s.Op.String()
			op, err := ParseOp(text + "  # " + s.Outcome)
			if err != nil {
				rt.Fatalf("parse %q: %v", text, err)
			}
			if op.String() != text {
				rt.Fatalf("round trip: %q became %q", text, op.String())
			}
			seen[op.Action()] = true
		}
		back, err := ParseTrace(tr.Format())
		if err != nil {
			rt.Fatalf("parse trace: %v", err)
		}
		if a, b := string(tr.Format()), string(back.Format()); a != b {
			al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
			for i := range min(len(al), len(bl)) {
				if al[i] != bl[i] {
					rt.Fatalf("trace round trip differs at line %d:\n%q\n%q", i+1, al[i], bl[i])
				}
			}
			rt.Fatalf("trace round trip differs in length: %d vs %d lines", len(al), len(bl))
		}
		if back.Hash() != tr.Hash() {
			rt.Fatalf("hash differs")
		}
		// Without rapid, the trace replays to the same outcomes.
		if err := Replay(context.Background(), back, cfg.Actors, ReplayOptions{}); err != nil {
			rt.Fatalf("replay of a passing run: %v\n%s", err, back.Format())
		}
	})
	for _, a := range Actions {
		if !seen[a] && fullBudget() {
			t.Errorf("no %s op was generated", a)
		}
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	cases := []struct{ text, want string }{
		{"", "empty trace"},
		{"# icerig trace v2\n", "another format version"},
		{TraceHeader + "\n# seed: x\n", "line 2: seed"},
		{TraceHeader + "\ninit spec=1 actor=v1\nfrobnicate\n", `line 3: unknown action "frobnicate"`},
		{TraceHeader + "\n\ncommit\n", "line 3: commit: missing field msg"},
		{TraceHeader + "\ncreate-tag name=t at=main\n", "line 2: create-tag: field at=\"main\" is not a snapshot label"},
		{TraceHeader + "\nset-array path=a shape=1 chunks=1\n", "not an absolute node path"},
		{TraceHeader + "\nset-array path=/a shape=1,2 chunks=1\n", "same number"},
		{TraceHeader + "\nset-array path=/a shape=1 chunks=0\n", "positive"},
		{TraceHeader + "\nwrite a/zarr.json=x:00\n", "not a chunk key"},
		{TraceHeader + "\nwrite a/c/0=x:0\n", "odd number"},
		{TraceHeader + "\nwrite a/c/0=99999999@1\n", "length must be"},
		{TraceHeader + "\nexpire older-than=yesterday\n", "want now or a snapshot label"},
		{TraceHeader + "\nadvance by=-1s\n", "positive duration"},
		{TraceHeader + "\ncheckout ref=snapshot:ABC\n", "named by its label"},
		{TraceHeader + "\ndiscard extra=1\n", "unknown field(s) extra"},
		{TraceHeader + "\ncommit msg=\"unterminated\n", "bad quoted string"},
		{TraceHeader + "\ncommit msg=a msg=b\n", "given twice"},
		{TraceHeader + "\ninit spec=0 actor=v1\n", "spec must be"},
		{TraceHeader + "\ndelete key=a#b\n", "'#' inside a field"},
	}
	for _, c := range cases {
		_, err := ParseTrace([]byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to contain %q", c.text, err, c.want)
		}
	}
	// Quoting survives names with spaces, quotes and '#'.
	op := &RefOp{Verb: ActCreateTag, Name: `it "works" #1`, At: "s0"}
	back, err := ParseOp(op.String() + "  # ok")
	if err != nil || back.String() != op.String() {
		t.Fatalf("quoted name: %v %v", back, err)
	}
}

func FuzzParseTrace(f *testing.F) {
	for _, p := range corpusFiles(f) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(TraceHeader + "\nwrite c/0=x: \"a/c/1\"=3@4\n"))
	f.Add([]byte(TraceHeader + "\n# actors: v1,v2\n# spec: 2\ncommit msg=\"\\u00e9\\t\" meta=a:b,c:d  # -> s1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTrace(data)
		if err != nil {
			return
		}
		again, err := ParseTrace(tr.Format())
		if err != nil {
			t.Fatalf("formatted trace does not parse: %v\n%s", err, tr.Format())
		}
		if string(again.Format()) != string(tr.Format()) {
			t.Fatalf("format is not stable:\n%s\n---\n%s", tr.Format(), again.Format())
		}
	})
}

// TestDocumentsParse: the documents the model builds are what zarr reads.
func TestDocumentsParse(t *testing.T) {
	for attrs := range 3 {
		m, err := zarr.ParseMetadata("group", GroupDoc(attrs))
		if err != nil || !m.IsGroup() {
			t.Fatalf("group document: %v", err)
		}
	}
	p := ArrayParams{Shape: []uint64{0, 7}, ChunkShape: []uint64{2, 3}, Attrs: 1}
	m, err := zarr.ParseMetadata("array", p.Doc())
	if err != nil || !m.IsArray() {
		t.Fatalf("array document: %v", err)
	}
	if !slices.Equal(m.Array.Shape, p.Shape) || !slices.Equal(m.Array.ChunkShape, p.ChunkShape) {
		t.Fatalf("array document reads as %v/%v", m.Array.Shape, m.Array.ChunkShape)
	}
	back, err := parseArrayDoc(p.Doc())
	if err != nil || !slices.Equal(back.Shape, p.Shape) || back.Attrs != 1 {
		t.Fatalf("parseArrayDoc: %+v %v", back, err)
	}
	for _, k := range []string{ChunkKey("g/b", []uint32{1, 2}), ChunkKey("", []uint32{3}), MetadataKey(""), MetadataKey("g/h")} {
		if _, err := zarr.ParseKey(k); err != nil {
			t.Errorf("key %q: %v", k, err)
		}
	}
	if v := (Value{Len: 20, Seed: 7}); len(v.Bytes()) != 20 || string(v.Bytes()) == string((Value{Len: 20, Seed: 8}).Bytes()) {
		t.Errorf("values: %x", v.Bytes())
	}
}

// TestModelKindsAreActorKinds: every failure the model predicts is a
// normalized kind of the actors package.
func TestModelKindsAreActorKinds(t *testing.T) {
	for _, k := range []string{KindReadOnly, KindNodeExists, KindKeyNotFound, KindInvalidKey, KindNoChanges,
		KindConflict, KindFlushTime, KindRefNotFound, KindBranchExists, KindTagExists, KindCannotDeleteMain,
		KindInvalidRefName, KindUnsupportedSpec, KindUnsupportedOp, KindRepositoryExists, KindNotARepository,
		KindSpec2Only, KindAlreadyUpgraded, KindCannotAmendInitial} {
		if kind, ok := actors.ParseKindName(k); !ok || kind == nil {
			t.Errorf("model kind %q is not an actors kind", k)
		}
	}
}

// corpusDir is fixtures/traces/ at the module root.
func corpusDir(t testing.TB) string {
	t.Helper()
	root, err := modroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "fixtures", "traces")
}

func corpusFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(corpusDir(t), "*.trace"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("the regression corpus %s holds %d traces, want at least 3 (it is part of the repository)", corpusDir(t), len(files))
	}
	return files
}

func mustParseFile(t *testing.T, dir, name string) *Trace {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ParseTrace(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tr
}

// TestCorpus replays every trace of fixtures/traces/ with every built-in
// actor it names (and the others, for the invariant), on both backends:
// each line must have its stated outcome and every actor must see the
// model after it.
func TestCorpus(t *testing.T) {
	for _, p := range corpusFiles(t) {
		name := filepath.Base(p)
		tr := mustParseFile(t, filepath.Dir(p), name)
		for _, backend := range []Backend{BackendMemory, BackendLocal} {
			t.Run(name+"/"+string(backend), func(t *testing.T) {
				acts := actors.Registered()
				for _, a := range tr.Actors {
					if _, err := actors.Lookup(a); err != nil {
						t.Fatalf("%s needs actor %s: %v", name, a, err)
					}
				}
				if err := Replay(context.Background(), tr, acts, ReplayOptions{Backend: backend, Dir: t.TempDir()}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestReplayStopsAtTheFirstDivergence: a wrong outcome, a buggy actor and
// a trace that cannot run are each reported naming the line.
func TestReplayStopsAtTheFirstDivergence(t *testing.T) {
	ctx := context.Background()
	text := TraceHeader + "\n# seed: 1\n# actors: v1\n" +
		"init spec=1 inline=0 actor=v1  # ok\n" +
		"create-tag name=t at=s0  # ok\n" +
		"delete-tag name=t  # ok\n" +
		"create-tag name=t at=s0  # ok\n" // wrong: the name cannot be reused
	tr, err := ParseTrace([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	err = Replay(ctx, tr, actors.Registered(), ReplayOptions{})
	var d *Divergence
	if !errors.As(err, &d) || d.Line != 7 || d.Expected != "ok" || d.Seen != KindTagExists {
		t.Fatalf("got %v, want a divergence at line 7 (expected ok, seen tag exists)", err)
	}
	if !strings.Contains(err.Error(), "line 7 (create-tag name=t at=s0)") {
		t.Errorf("message %q does not name the line and op", err)
	}

	// A buggy actor diverges on the tag tombstone, after line 6.
	buggy := planted[1].actor
	tr2, _ := ParseTrace([]byte(strings.ReplaceAll(text, "actor=v1", "actor="+buggy.name)))
	err = Replay(ctx, tr2, []actors.Actor{buggy}, ReplayOptions{IgnoreOutcomes: true})
	if !errors.As(err, &d) || d.Line != 6 || !d.Invariant || d.Actor != buggy.name || d.What != "tags" {
		t.Fatalf("got %v, want the invariant after line 6 to catch %s", err, buggy.name)
	}

	// A trace naming an actor that is not there, or a label never made.
	for _, c := range []struct{ line, want string }{
		{"switch actor=v9", "actor v9 is not available"},
		{"create-branch name=b at=s4", "snapshot s4 was never created"},
	} {
		tr3, err := ParseTrace([]byte(TraceHeader + "\ninit spec=1 actor=v1\n" + c.line + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		err = Replay(ctx, tr3, actors.Registered(), ReplayOptions{})
		var te *TraceError
		if !errors.As(err, &te) || te.Line != 3 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want a trace error at line 3 containing %q", c.line, err, c.want)
		}
	}
}
