package formatv1

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/icerig/icerig/internal/testfixtures"
)

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
	dir := filepath.Join(testfixtures.Path(t, repo), prefix)
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
	data, err := os.ReadFile(filepath.Join(testfixtures.Path(t, repo), "refs", ref, "ref.json"))
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
