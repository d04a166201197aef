// Package testfixtures gives tests the upstream Icechunk reference
// repositories: it locates them, names them and copies them into a test's
// temporary directory.
//
// The fixtures live in $ICECHUNK_FIXTURES when that is set, else in
// ../shared/icechunk-fixtures next to the module root. They are read-only
// and must never be written: a test that mutates a repository works on a
// Copy. When the fixtures are missing the tests fail, saying how to provide
// them; they never skip.
package testfixtures

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	cp "github.com/otiai10/copy"

	"github.com/icerig/icerig/internal/modroot"
)

// Env names the environment variable that can point at the fixture
// directory.
const Env = "ICECHUNK_FIXTURES"

// The upstream fixture repositories, by directory name.
const (
	// TestRepoV1 is a spec-1 repository written by Icechunk 0.1.3.
	TestRepoV1 = "test-repo-v1"
	// TestRepoV2 is the same history written natively as spec 2.
	TestRepoV2 = "test-repo-v2"
	// TestRepoV2Migrated is TestRepoV1 after a 1->2 migration.
	TestRepoV2Migrated = "test-repo-v2-migrated"
	// SplitRepoV1 is a spec-1 repository with manifest splitting.
	SplitRepoV1 = "split-repo-v1"
)

// ErrMissing is wrapped by the errors that report missing fixtures.
var ErrMissing = errors.New("upstream Icechunk fixtures not found")

// sharedDir is where the fixtures live relative to the module root.
var sharedDir = filepath.Join("..", "shared", "icechunk-fixtures")

// help says how to provide the fixtures.
var help = fmt.Sprintf("put %s, %s, %s and %s (earth-mover/icechunk icechunk-python/tests/data) in %s "+
	"next to the module root, or point %s at their directory",
	TestRepoV1, TestRepoV2, TestRepoV2Migrated, SplitRepoV1, sharedDir, Env)

// Locate returns the fixture directory: $ICECHUNK_FIXTURES, else
// ../shared/icechunk-fixtures next to the module root. When the fixtures
// are not there it returns an error wrapping ErrMissing that names the
// place it looked at and says how to provide them. Tests call Dir; Locate
// serves callers that must not fail, such as fuzz seeding.
func Locate() (string, error) {
	dir := os.Getenv(Env)
	from := "$" + Env
	if dir == "" {
		root, err := modroot.Find()
		if err != nil {
			return "", fmt.Errorf("%w: cannot find the module root to look in %s (%w): %s", ErrMissing, sharedDir, err, help)
		}
		dir = filepath.Join(root, sharedDir)
		from = sharedDir + " next to the module root"
	}
	// test-repo-v1/refs marks a complete copy of the fixtures.
	if _, err := os.Stat(filepath.Join(dir, TestRepoV1, "refs")); err != nil {
		return "", fmt.Errorf("%w at %s (from %s): %w: %s", ErrMissing, dir, from, err, help)
	}
	return dir, nil
}

// Dir returns the fixture directory (see Locate), failing the test with
// instructions when the fixtures are missing.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := Locate()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Path returns the directory of the named fixture repository (one of
// TestRepoV1, TestRepoV2, TestRepoV2Migrated, SplitRepoV1), failing the
// test when the fixtures or that repository are missing. The directory is
// read-only: open it in place only to read.
func Path(t testing.TB, name string) string {
	t.Helper()
	p, err := pathIn(Dir(t), name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pathIn returns the directory of the fixture repository name under dir.
func pathIn(dir, name string) (string, error) {
	if name == "" || name == "." || name == ".." || name != filepath.Base(name) {
		return "", fmt.Errorf("fixture name %q is not the name of a directory in %s", name, dir)
	}
	p := filepath.Join(dir, name)
	fi, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("fixture %s: %w", name, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("fixture %s: %s is not a directory", name, p)
	}
	return p, nil
}

// Copy copies the named fixture repository (see Path) to a directory of
// the same name under t.TempDir() and returns the copy's path. The copy
// keeps the modification times of the original and, unlike the original,
// is writable.
func Copy(t testing.TB, name string) string {
	t.Helper()
	src := Path(t, name)
	dst := filepath.Join(t.TempDir(), name)
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// copyTree copies the tree src to dst, preserving modification times and
// adding owner write permission to every file and directory.
func copyTree(src, dst string) error {
	err := cp.Copy(src, dst, cp.Options{
		PreserveTimes:     true,
		PermissionControl: cp.AddPermission(0o200),
	})
	if err != nil {
		return fmt.Errorf("copy fixture %s to %s: %w", src, dst, err)
	}
	return nil
}
