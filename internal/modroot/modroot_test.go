package modroot_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icerig/icerig/internal/modroot"
)

func TestFindThisModule(t *testing.T) {
	root, err := modroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatalf("Find() = %s without go.mod: %v", root, err)
	}
	if !strings.Contains(string(data), "module github.com/icerig/icerig\n") {
		t.Errorf("Find() = %s, whose go.mod is not this module's:\n%s", root, data)
	}
	// This package sits two levels below the module root.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Dir(filepath.Dir(wd)); root != want {
		t.Errorf("Find() = %s, want %s", root, want)
	}
}

func TestFindWalksUp(t *testing.T) {
	top := t.TempDir()
	if err := os.WriteFile(filepath.Join(top, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(top, "a", "b", "c")
	// A directory named go.mod is not a module file.
	if err := os.MkdirAll(filepath.Join(deep, "go.mod"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(deep)
	root, err := modroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	// Compare resolved paths: the temporary directory may sit behind a link.
	got, _ := filepath.EvalSymlinks(root)
	want, _ := filepath.EvalSymlinks(top)
	if got != want {
		t.Errorf("Find() from %s = %s, want %s", deep, root, top)
	}
}

func TestFindFromWithoutGoMod(t *testing.T) {
	dir := t.TempDir()
	_, err := modroot.FindFrom(dir)
	if !errors.Is(err, modroot.ErrNotFound) {
		t.Fatalf("FindFrom(%s) error = %v, want ErrNotFound (is there a go.mod above the temporary directory?)", dir, err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the starting directory %s", err, dir)
	}
}
