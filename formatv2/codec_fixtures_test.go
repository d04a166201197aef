package formatv2

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// codecFixturesDir locates the upstream reference repositories: the
// ICECHUNK_FIXTURES environment variable, else ../shared/icechunk-fixtures
// relative to the module root (this package's parent directory).
func codecFixturesDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("ICECHUNK_FIXTURES")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "icechunk-fixtures")
	}
	if _, err := os.Stat(filepath.Join(dir, "test-repo-v1", "refs")); err != nil {
		t.Fatalf("upstream Icechunk fixtures not found at %s (%v): put the reference repositories "+
			"(earth-mover/icechunk icechunk-python/tests/data: test-repo-v1, test-repo-v2, "+
			"test-repo-v2-migrated, split-repo-v1) in ../shared/icechunk-fixtures next to the "+
			"module root, or point ICECHUNK_FIXTURES at them", dir, err)
	}
	return dir
}

// codecFixtureFile is one metadata object of a fixture repository.
type codecFixtureFile struct {
	repo string // e.g. "test-repo-v1"
	key  string // object key, e.g. "snapshots/NXH3M0HJ7EEJ0699DPP0"
	data []byte
}

// codecFixtureObjects reads every object under prefix ("snapshots",
// "manifests", "transactions") of a fixture repository, sorted by key.
func codecFixtureObjects(t testing.TB, repo, prefix string) []codecFixtureFile {
	t.Helper()
	dir := filepath.Join(codecFixturesDir(t), repo, prefix)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read fixture directory: %v", err)
	}
	var out []codecFixtureFile
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, codecFixtureFile{repo: repo, key: prefix + "/" + e.Name(), data: data})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	if len(out) == 0 {
		t.Fatalf("no fixture objects in %s", dir)
	}
	return out
}

// codecFixtureRef reads the snapshot id a branch or tag of a spec-1
// fixture repository points at (refs/<kind>.<name>/ref.json).
func codecFixtureRef(t testing.TB, repo, ref string) ObjectID {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(codecFixturesDir(t), repo, "refs", ref, "ref.json"))
	if err != nil {
		t.Fatal(err)
	}
	// {"snapshot":"<20 chars>"}
	const prefix = `{"snapshot":"`
	if len(data) < len(prefix)+20 || string(data[:len(prefix)]) != prefix {
		t.Fatalf("unexpected ref file %s: %q", ref, data)
	}
	id, err := ParseObjectID(string(data[len(prefix) : len(prefix)+20]))
	if err != nil {
		t.Fatal(err)
	}
	return id
}
