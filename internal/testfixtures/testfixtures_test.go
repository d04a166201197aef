package testfixtures

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icerig/icerig/internal/modroot"
)

var allNames = []string{TestRepoV1, TestRepoV2, TestRepoV2Migrated, SplitRepoV1}

func TestDirFindsTheFixtures(t *testing.T) {
	dir := Dir(t)
	// Spec-1 repositories keep refs/, spec-2 ones a repo file.
	marker := map[string]string{TestRepoV1: "refs", SplitRepoV1: "refs", TestRepoV2: "repo", TestRepoV2Migrated: "repo"}
	for _, name := range allNames {
		p := Path(t, name)
		if p != filepath.Join(dir, name) {
			t.Errorf("Path(%s) = %s, want it in %s", name, p, dir)
		}
		if _, err := os.Stat(filepath.Join(p, marker[name])); err != nil {
			t.Errorf("fixture %s has no %s: %v", name, marker[name], err)
		}
	}
}

func TestLocateDefaultsToSharedNextToModuleRoot(t *testing.T) {
	t.Setenv(Env, "")
	root, err := modroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Locate()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "..", "shared", "icechunk-fixtures"); got != want {
		t.Errorf("Locate() = %s, want %s", got, want)
	}
}

func TestLocatePrefersTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, TestRepoV1, "refs"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(Env, dir)
	got, err := Locate()
	if err != nil {
		t.Fatal(err)
	}
	if got != dir {
		t.Errorf("Locate() with %s=%s = %s", Env, dir, got)
	}
}

// requireHelp checks that err reports missing fixtures, names where it
// looked and says how to provide them.
func requireHelp(t *testing.T, err error, looked string) {
	t.Helper()
	if !errors.Is(err, ErrMissing) {
		t.Fatalf("error = %v, want ErrMissing", err)
	}
	msg := err.Error()
	for _, want := range append([]string{looked, Env, filepath.Join("..", "shared", "icechunk-fixtures"), "next to the module root"}, allNames...) {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

func TestLocateMissing(t *testing.T) {
	t.Run("environment points nowhere", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nowhere")
		t.Setenv(Env, dir)
		_, err := Locate()
		requireHelp(t, err, dir)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v does not wrap fs.ErrNotExist", err)
		}
	})
	t.Run("nothing next to the module root", func(t *testing.T) {
		t.Setenv(Env, "")
		root := filepath.Join(t.TempDir(), "module")
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Chdir(root)
		_, err := Locate()
		requireHelp(t, err, filepath.Join(root, "..", "shared", "icechunk-fixtures"))
	})
	t.Run("no module root", func(t *testing.T) {
		t.Setenv(Env, "")
		t.Chdir(t.TempDir())
		_, err := Locate()
		requireHelp(t, err, "module root")
		if !errors.Is(err, modroot.ErrNotFound) {
			t.Errorf("error %v does not wrap modroot.ErrNotFound", err)
		}
	})
}

func TestPathInRejectsBadNames(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "repo"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := pathIn(dir, "repo"); err != nil || p != filepath.Join(dir, "repo") {
		t.Fatalf("pathIn(repo) = %s, %v", p, err)
	}
	for _, name := range []string{"", ".", "..", "repo/sub", "../repo", "missing", "file"} {
		_, err := pathIn(dir, name)
		if err == nil {
			t.Errorf("pathIn(%q) succeeded", name)
			continue
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("pathIn(%q) error %q does not name the fixture", name, err)
		}
	}
}

// entry is what a copy must keep of one file or directory.
type entry struct {
	dir     bool
	modTime time.Time
	data    []byte
}

// tree reads every file and directory below root, keyed by relative path.
func tree(t *testing.T, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{dir: d.IsDir(), modTime: fi.ModTime()}
		if !d.IsDir() {
			if e.data, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// requireSameTree checks that dst holds the files of src with their
// contents and modification times, every one writable by its owner.
func requireSameTree(t *testing.T, src, dst string) {
	t.Helper()
	want, got := tree(t, src), tree(t, dst)
	if len(got) != len(want) {
		t.Errorf("copy has %d entries, original %d", len(got), len(want))
	}
	files := 0
	for rel, w := range want {
		g, ok := got[rel]
		if !ok {
			t.Errorf("%s missing from the copy", rel)
			continue
		}
		if g.dir != w.dir || !bytes.Equal(g.data, w.data) {
			t.Errorf("%s differs in the copy", rel)
		}
		if !w.dir {
			files++
			// Directory times change as their entries are written; the
			// objects' own times are what the repository tests rely on.
			if !g.modTime.Equal(w.modTime) {
				t.Errorf("%s: copy modified %v, original %v", rel, g.modTime, w.modTime)
			}
		}
		fi, err := os.Stat(filepath.Join(dst, rel))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o200 == 0 {
			t.Errorf("%s: copy mode %v is not writable", rel, fi.Mode())
		}
	}
	if files == 0 {
		t.Errorf("no files under %s", src)
	}
}

func TestCopyFixture(t *testing.T) {
	dst := Copy(t, TestRepoV1)
	if filepath.Base(dst) != TestRepoV1 {
		t.Errorf("Copy = %s, want a directory named %s", dst, TestRepoV1)
	}
	src := Path(t, TestRepoV1)
	requireSameTree(t, src, dst)
	// Writing to the copy leaves the original alone.
	cfg := filepath.Join(dst, "config.yaml")
	if err := os.WriteFile(cfg, []byte("changed"), 0o644); err != nil {
		t.Fatalf("write to the copy: %v", err)
	}
	if orig, err := os.ReadFile(filepath.Join(src, "config.yaml")); err != nil || string(orig) == "changed" {
		t.Fatalf("original config.yaml after writing the copy: %q, %v", orig, err)
	}
}

func TestCopyTreeReadOnlySource(t *testing.T) {
	src := filepath.Join(t.TempDir(), "repo")
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for i, rel := range []string{"config.yaml", "chunks/A", "refs/branch.main/ref.json"} {
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(rel), 0o444); err != nil {
			t.Fatal(err)
		}
		mt := old.Add(time.Duration(i) * time.Hour)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	requireSameTree(t, src, dst)
	if err := copyTree(filepath.Join(src, "missing"), filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("copyTree of a missing source: error = %v, want one naming it", err)
	}
}
