// Package actortest holds test helpers shared by the tests of the actors,
// inspect and icerig CLI packages: opening copies of the upstream Icechunk
// fixture repositories (located and copied by internal/testfixtures) as
// object stores, and listing what a store holds.
package actortest

import (
	"context"
	"testing"

	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/local"
)

// OpenFixtureCopy copies the named fixture (see testfixtures.Copy) and
// opens the copy as a local store, returning the store and the copy's path.
func OpenFixtureCopy(t testing.TB, name string) (objstore.Store, string) {
	t.Helper()
	dir := testfixtures.Copy(t, name)
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
