// Package actortest holds test helpers shared by the tests of the actors,
// inspect and icerig CLI packages: locating the upstream Icechunk fixture
// repositories and copying them into a test's temporary directory.
package actortest

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	cp "github.com/otiai10/copy"

	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/local"
)

// FixturesEnv names the environment variable that can point at the
// fixture directory.
const FixturesEnv = "ICECHUNK_FIXTURES"

// The upstream fixture repositories.
const (
	TestRepoV1         = "test-repo-v1"
	TestRepoV2         = "test-repo-v2"
	TestRepoV2Migrated = "test-repo-v2-migrated"
	SplitRepoV1        = "split-repo-v1"
)

// FixturesDir locates the upstream Icechunk fixture repositories:
// $ICECHUNK_FIXTURES, else ../shared/icechunk-fixtures next to the module
// root. It fails the test, saying how to provide them, when they are
// missing.
func FixturesDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(FixturesEnv)
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			t.Fatalf("locate the module root to find ../shared/icechunk-fixtures: %v (set %s instead)", err, FixturesEnv)
		}
		dir = filepath.Join(root, "..", "shared", "icechunk-fixtures")
	}
	if _, err := os.Stat(filepath.Join(dir, TestRepoV1, "refs")); err != nil {
		t.Fatalf("upstream Icechunk fixtures not found at %s (%v): put test-repo-v1, test-repo-v2, "+
			"test-repo-v2-migrated and split-repo-v1 (earth-mover/icechunk icechunk-python/tests/data) in "+
			"../shared/icechunk-fixtures next to the module root, or point %s at their directory", dir, err, FixturesEnv)
	}
	return dir
}

// moduleRoot walks up from the working directory to the one holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fs.ErrNotExist
		}
		dir = parent
	}
}

// CopyFixture copies the named fixture repository into a fresh directory
// under t.TempDir(), preserving modification times and making the copy
// writable (the originals are read-only), and returns the copy's path.
func CopyFixture(t testing.TB, name string) string {
	t.Helper()
	src := filepath.Join(FixturesDir(t), name)
	dst := filepath.Join(t.TempDir(), name)
	err := cp.Copy(src, dst, cp.Options{
		PreserveTimes:     true,
		PermissionControl: cp.AddPermission(0o200),
	})
	if err != nil {
		t.Fatalf("copy fixture %s to %s: %v", src, dst, err)
	}
	return dst
}

// OpenFixtureCopy copies the named fixture (see CopyFixture) and opens the
// copy as a local store.
func OpenFixtureCopy(t testing.TB, name string) (objstore.Store, string) {
	t.Helper()
	dir := CopyFixture(t, name)
	st, err := local.Open(dir, nil)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	return st, dir
}

// Keys lists every object key of a store under prefix.
func Keys(t testing.TB, st objstore.Store, prefix string) []string {
	t.Helper()
	objs, err := st.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("list %q of %s: %v", prefix, st, err)
	}
	keys := make([]string, 0, len(objs))
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}
