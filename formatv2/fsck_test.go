package formatv2

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/icerig/icerig/objstore"
)

// fsckHist builds the history the Fsck tests damage: mtLinear's c1..c4 on
// main and tag t on c2. Every ref is read once through h.r, so that handle
// has the snapshots and manifests in its cache: Fsck must look at storage,
// not at the cache.
func fsckHist(t *testing.T) *mtHist {
	t.Helper()
	h := newMtHist(t, "memory")
	mtLinear(h, 4)
	h.tag("t", "c2")
	if d := mtRefData(t, h.r); len(d["branch:main"]) == 0 || len(d["tag:t"]) == 0 {
		t.Fatalf("refs read nothing: %v", d)
	}
	return h
}

// fsckOne returns the single key an object spec names.
func fsckOne(t *testing.T, h *mtHist, spec string) string {
	t.Helper()
	keys := h.objects([]string{spec})
	if len(keys) != 1 {
		t.Fatalf("%s names %d objects, want 1", spec, len(keys))
	}
	for k := range keys {
		return k
	}
	return ""
}

func fsckGet(t *testing.T, h *mtHist, key string) []byte {
	t.Helper()
	data, _, err := h.st.Get(h.ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func fsckPut(t *testing.T, h *mtHist, key string, data []byte) {
	t.Helper()
	if _, err := h.st.Put(h.ctx, key, data); err != nil {
		t.Fatal(err)
	}
}

func fsckDelete(t *testing.T, h *mtHist, key string) {
	t.Helper()
	if err := h.st.Delete(h.ctx, key); err != nil {
		t.Fatal(err)
	}
}

func fsckTruncate(t *testing.T, h *mtHist, key string, keep func(n int) int) {
	t.Helper()
	data := fsckGet(t, h, key)
	fsckPut(t, h, key, data[:keep(len(data))])
}

func half(n int) int       { return n / 2 }
func allButOne(n int) int  { return n - 1 }
func fsckGhost() ObjectID  { return ObjectID{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8} }
func fsckGhostKey() string { return snapshotKey(fsckGhost()) }

func TestFsckCleanRepository(t *testing.T) {
	h := fsckHist(t)
	mtFsckClean(t, h.r, "on the cached handle")
	mtFsckClean(t, h.fresh(), "on a fresh handle")

	// Garbage nothing references and deleted tags are no integrity problem.
	h.orphan("main", "o1", "a/c/5", mtNative("o1", "a/c/5"))
	fsckPut(t, h, tagKey("gone"), encodeRef(fsckGhost()))
	fsckPut(t, h, tombstoneKey("gone"), []byte{})
	mtFsckClean(t, h.fresh(), "with an orphan chunk and a deleted tag to a missing snapshot")

	// The fixtures are clean too (TestMaintenanceFixtures runs Fsck on them).
}

func TestFsckFindsDamage(t *testing.T) {
	cases := []struct {
		name string
		// damage breaks the repository and returns the key that Fsck must
		// name; want, if set, is the only text every finding must contain.
		damage func(t *testing.T, h *mtHist) string
		want   string
	}{
		{"chunk deleted", func(t *testing.T, h *mtHist) string {
			// c2's chunk (a/c/1) is in the manifests of c2, c3 and c4.
			k := fsckOne(t, h, "chunk:c2")
			fsckDelete(t, h, k)
			return k
		}, "missing"},
		{"chunk truncated", func(t *testing.T, h *mtHist) string {
			k := fsckOne(t, h, "chunk:c3")
			fsckTruncate(t, h, k, allButOne)
			return k
		}, "bytes"},
		{"manifest deleted", func(t *testing.T, h *mtHist) string {
			k := fsckOne(t, h, "man:c3")
			fsckDelete(t, h, k)
			return k
		}, ""},
		{"manifest truncated", func(t *testing.T, h *mtHist) string {
			k := fsckOne(t, h, "man:c1")
			fsckTruncate(t, h, k, half)
			return k
		}, ""},
		{"manifest replaced by another", func(t *testing.T, h *mtHist) string {
			k := fsckOne(t, h, "man:c2")
			fsckPut(t, h, k, fsckGet(t, h, fsckOne(t, h, "man:c3")))
			return k
		}, ""},
		{"transaction log deleted", func(t *testing.T, h *mtHist) string {
			k := fsckOne(t, h, "tx:c2")
			fsckDelete(t, h, k)
			return k
		}, "missing"},
		{"transaction log truncated", func(t *testing.T, h *mtHist) string {
			k := fsckOne(t, h, "tx:c4")
			fsckTruncate(t, h, k, half)
			return k
		}, ""},
		{"transaction log of another snapshot", func(t *testing.T, h *mtHist) string {
			k := fsckOne(t, h, "tx:c2")
			fsckPut(t, h, k, fsckGet(t, h, fsckOne(t, h, "tx:c3")))
			return k
		}, ""},
		{"snapshot in the ancestry deleted", func(t *testing.T, h *mtHist) string {
			k := fsckOne(t, h, "snap:c2")
			fsckDelete(t, h, k)
			return k
		}, "missing"},
		{"snapshot in the ancestry truncated", func(t *testing.T, h *mtHist) string {
			k := fsckOne(t, h, "snap:c1")
			fsckTruncate(t, h, k, half)
			return k
		}, ""},
		{"initial snapshot truncated to a byte", func(t *testing.T, h *mtHist) string {
			k := snapshotKey(h.ids["init"])
			fsckTruncate(t, h, k, func(int) int { return 1 })
			return k
		}, ""},
		{"tip snapshot holding another snapshot", func(t *testing.T, h *mtHist) string {
			k := fsckOne(t, h, "snap:c4")
			fsckPut(t, h, k, fsckGet(t, h, fsckOne(t, h, "snap:c3")))
			return k
		}, ""},
		{"branch to a missing snapshot", func(t *testing.T, h *mtHist) string {
			fsckPut(t, h, branchKey("ghost"), encodeRef(fsckGhost()))
			return fsckGhostKey()
		}, "refs/branch.ghost/ref.json"},
		{"tag to a missing snapshot", func(t *testing.T, h *mtHist) string {
			fsckPut(t, h, tagKey("ghost"), encodeRef(fsckGhost()))
			return fsckGhostKey()
		}, "refs/tag.ghost/ref.json"},
		{"main to a missing snapshot", func(t *testing.T, h *mtHist) string {
			fsckPut(t, h, branchKey("main"), encodeRef(fsckGhost()))
			return fsckGhostKey()
		}, "refs/branch.main/ref.json"},
		{"unparsable branch ref", func(t *testing.T, h *mtHist) string {
			fsckPut(t, h, branchKey("bad"), []byte(`{"snapshot":`))
			return branchKey("bad")
		}, ""},
		{"tag ref without a snapshot member", func(t *testing.T, h *mtHist) string {
			fsckPut(t, h, tagKey("bad"), []byte(`{}`))
			return tagKey("bad")
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := fsckHist(t)
			key := tc.damage(t, h)
			for _, which := range []string{"cached", "fresh"} {
				r := h.r
				if which == "fresh" {
					r = h.fresh()
				}
				findings, err := r.Fsck(context.Background())
				if err != nil {
					t.Fatalf("%s handle: fsck failed instead of reporting: %v", which, err)
				}
				if len(findings) == 0 {
					t.Fatalf("%s handle: no findings, want one naming %s", which, key)
				}
				if !sort.SliceIsSorted(findings, func(i, j int) bool { return findings[i].Object < findings[j].Object }) {
					t.Errorf("%s handle: findings not sorted: %v", which, findings)
				}
				for _, f := range findings {
					if f.Object != key {
						t.Errorf("%s handle: finding %q names another object than %s", which, f, key)
					}
					if f.Problem == "" || !strings.Contains(f.String(), tc.want) {
						t.Errorf("%s handle: finding %q does not say %q", which, f, tc.want)
					}
				}
			}
		})
	}
}

// TestFsckReportsEveryDamage damages several objects at once: each is
// named, none hides another.
func TestFsckReportsEveryDamage(t *testing.T) {
	h := fsckHist(t)
	want := []string{fsckOne(t, h, "chunk:c1"), fsckOne(t, h, "man:c4"), fsckOne(t, h, "tx:c3")}
	for _, k := range want {
		fsckDelete(t, h, k)
	}
	fsckPut(t, h, branchKey("ghost"), encodeRef(fsckGhost()))
	want = append(want, fsckGhostKey())
	findings, err := h.fresh().Fsck(context.Background())
	noErrMt(t, err)
	var got []string
	for _, f := range findings {
		if !slices.Contains(got, f.Object) {
			got = append(got, f.Object)
		}
	}
	mtSameStrings(t, "objects named", got, want)
}

// fsckFailingStore fails reads under a prefix with an error that is not
// "not found": a storage outage, not damage.
type fsckFailingStore struct {
	objstore.Store
	prefix string
}

var errFsckOutage = errors.New("storage outage")

func (s fsckFailingStore) Get(ctx context.Context, key string) ([]byte, objstore.Version, error) {
	if strings.HasPrefix(key, s.prefix) {
		return nil, "", fmt.Errorf("get %s: %w", key, errFsckOutage)
	}
	return s.Store.Get(ctx, key)
}

// TestFsckStorageFailureIsAnError: when storage fails (rather than an
// object being missing or corrupt), Fsck reports an error, not findings.
func TestFsckStorageFailureIsAnError(t *testing.T) {
	h := fsckHist(t)
	for _, prefix := range []string{snapshotsPrefix, manifestsPrefix, transactionsPrefix, "refs/tag.t/"} {
		r, err := Open(h.ctx, fsckFailingStore{Store: h.st, prefix: prefix}, Options{})
		noErrMt(t, err)
		findings, err := r.Fsck(context.Background())
		if !errors.Is(err, errFsckOutage) {
			t.Errorf("outage under %s: findings %v, error %v, want the outage", prefix, findings, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.fresh().Fsck(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled fsck: error %v, want context.Canceled", err)
	}
}
