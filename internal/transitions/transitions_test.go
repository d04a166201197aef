package transitions

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTripAndMerge(t *testing.T) {
	a := New()
	a.Add(Cell{"v1", "v2", OpCommit, 1})
	a.Add(Cell{"v1", "v2", OpCommit, 1})
	a.Add(Cell{"v2", "v1", OpRefuse, 2})
	b := New()
	b.Add(Cell{"v1", "v2", OpCommit, 1})
	b.Add(Cell{"v1", "v1", OpRead, 1})
	a.Merge(b)
	if got := a.Count(Cell{"v1", "v2", OpCommit, 1}); got != 3 {
		t.Fatalf("merged count = %d, want 3", got)
	}
	path := filepath.Join(t.TempDir(), "cells.json")
	if err := a.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, got := a.Entries(), back.Entries()
	if len(want) != len(got) {
		t.Fatalf("read %d cells, wrote %d", len(got), len(want))
	}
	for i := range want {
		if want[i] != got[i] {
			t.Errorf("cell %d: read %+v, wrote %+v", i, got[i], want[i])
		}
	}
	// Sorted by writer, reader, spec, then op order.
	if got[0].Cell != (Cell{"v1", "v1", OpRead, 1}) || got[len(got)-1].Cell != (Cell{"v2", "v1", OpRefuse, 2}) {
		t.Errorf("entries not sorted: %+v", got)
	}
}

func TestReadFileRejectsMalformed(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"garbage.json": "not json",
		"empty.json":   `{"cells":[{"writer":"","reader":"v1","op":"read","spec":1,"count":1}]}`,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadFile(path)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file read without error")
	}
}
