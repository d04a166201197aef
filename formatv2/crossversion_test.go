package formatv2_test

// Cross-version tests: formatv2 against formatv1 on the same stores. They
// guard the core promise (formatv2 never leaves a spec-1 repository in a
// state formatv1 misreads) and the bug classes of the upstream tracker
// that involve both versions.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icerig/icerig/formatv1"
	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/faults"
	"github.com/icerig/icerig/objstore/local"
	"github.com/icerig/icerig/objstore/memory"
)

// copyToDir copies a fixture into a temporary directory, modification
// times preserved.
func copyToDir(t testing.TB, name string, clock objstore.Clock) *local.Store {
	t.Helper()
	st, err := local.Open(testfixtures.Copy(t, name), clock)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// fixtureFiles reads every file of a fixture (key -> bytes).
func fixtureFiles(t testing.TB, name string) map[string][]byte {
	t.Helper()
	st, err := local.Open(testfixtures.Path(t, name), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	objs, err := st.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, o := range objs {
		data, _, err := st.Get(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		out[o.Key] = data
	}
	return out
}

// memoryWith returns a memory store holding files.
func memoryWith(t testing.TB, files map[string][]byte) *memory.Store {
	t.Helper()
	st := memory.New(nil)
	for k, v := range files {
		if _, err := st.Put(context.Background(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// view is what a reader sees of a repository: refs, each ref's ancestry
// and the whole key space (value hashes) at each ref.
type view struct {
	Branches, Tags map[string]string
	Deleted        []string
	Ancestry       map[string][]string // ref -> "id message", newest first
	Keys           map[string]map[string]string
}

// v1Session and v2Session are the parts of a session the view reads.
type v1Session interface {
	List(ctx context.Context) ([]string, error)
	Get(ctx context.Context, key string) ([]byte, error)
}

func keysOf(t testing.TB, s v1Session, isVirtual func(error) bool) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := s.List(ctx)
	check(t, err)
	out := map[string]string{}
	for _, k := range keys {
		data, err := s.Get(ctx, k)
		switch {
		case err == nil:
			out[k] = fmt.Sprintf("%x", sha256.Sum256(data))
		case isVirtual(err):
			out[k] = "virtual"
		default:
			t.Fatalf("get %s: %v", k, err)
		}
	}
	return out
}

func viewV1(t testing.TB, st objstore.Store) view {
	t.Helper()
	ctx := context.Background()
	r, err := formatv1.Open(ctx, st, formatv1.Options{})
	check(t, err)
	v := view{Branches: map[string]string{}, Tags: map[string]string{}, Ancestry: map[string][]string{}, Keys: map[string]map[string]string{}}
	branches, err := r.ListBranches(ctx)
	check(t, err)
	tags, err := r.ListTags(ctx)
	check(t, err)
	v.Deleted, err = r.ListDeletedTags(ctx)
	check(t, err)
	add := func(kind, name string, id formatv1.ObjectID, ref formatv1.VersionRef) {
		anc, err := r.Ancestry(ctx, id)
		check(t, err)
		for _, s := range anc {
			v.Ancestry[kind+name] = append(v.Ancestry[kind+name], s.ID.String()+" "+s.Message)
		}
		s, err := r.ReadonlySession(ctx, ref)
		check(t, err)
		v.Keys[kind+name] = keysOf(t, s, func(err error) bool { return errors.Is(err, formatv1.ErrVirtualChunk) })
	}
	for name, id := range branches {
		v.Branches[name] = id.String()
		add("branch:", name, id, formatv1.BranchRef(name))
	}
	for name, id := range tags {
		v.Tags[name] = id.String()
		add("tag:", name, id, formatv1.TagRef(name))
	}
	return v
}

func viewV2(t testing.TB, st objstore.Store) view {
	t.Helper()
	ctx := context.Background()
	r, err := formatv2.Open(ctx, st, formatv2.Options{})
	check(t, err)
	v := view{Branches: map[string]string{}, Tags: map[string]string{}, Ancestry: map[string][]string{}, Keys: map[string]map[string]string{}}
	branches, err := r.ListBranches(ctx)
	check(t, err)
	tags, err := r.ListTags(ctx)
	check(t, err)
	v.Deleted, err = r.ListDeletedTags(ctx)
	check(t, err)
	add := func(kind, name string, id formatv2.ObjectID, ref formatv2.VersionRef) {
		anc, err := r.Ancestry(ctx, id)
		check(t, err)
		for _, s := range anc {
			v.Ancestry[kind+name] = append(v.Ancestry[kind+name], s.ID.String()+" "+s.Message)
		}
		s, err := r.ReadonlySession(ctx, ref)
		check(t, err)
		v.Keys[kind+name] = keysOf(t, s, func(err error) bool { return errors.Is(err, formatv2.ErrVirtualChunk) })
	}
	for name, id := range branches {
		v.Branches[name] = id.String()
		add("branch:", name, id, formatv2.BranchRef(name))
	}
	for name, id := range tags {
		v.Tags[name] = id.String()
		add("tag:", name, id, formatv2.TagRef(name))
	}
	return v
}

func sameView(t testing.TB, what string, got, want view) {
	t.Helper()
	if !maps.Equal(got.Branches, want.Branches) || !maps.Equal(got.Tags, want.Tags) || !slices.Equal(got.Deleted, want.Deleted) {
		t.Fatalf("%s: refs %v %v %v, want %v %v %v", what, got.Branches, got.Tags, got.Deleted, want.Branches, want.Tags, want.Deleted)
	}
	for ref, anc := range want.Ancestry {
		if !slices.Equal(got.Ancestry[ref], anc) {
			t.Fatalf("%s: %s ancestry %q, want %q", what, ref, got.Ancestry[ref], anc)
		}
		if !maps.Equal(got.Keys[ref], want.Keys[ref]) {
			t.Fatalf("%s: %s key space differs (%d keys, want %d)", what, ref, len(got.Keys[ref]), len(want.Keys[ref]))
		}
	}
}

// TestMigratedRepositoryRefusedByFormatv1: after a migration, with or
// without the spec-1 files, formatv1 refuses to open the repository with
// a clear "spec 2, upgrade your library" error.
func TestMigratedRepositoryRefusedByFormatv1(t *testing.T) {
	ctx := context.Background()
	want := viewV1(t, copyToDir(t, "test-repo-v1", nil))
	for _, del := range []bool{false, true} {
		st := copyToDir(t, "test-repo-v1", nil)
		r, err := formatv2.Open(ctx, st, formatv2.Options{})
		check(t, err)
		_, err = r.Upgrade(ctx, false, del)
		check(t, err)
		_, err = formatv1.Open(ctx, st, formatv1.Options{})
		if !errors.Is(err, formatv1.ErrUnsupportedSpec) || !strings.Contains(err.Error(), "spec 2") {
			t.Fatalf("deleteUnusedV1Files=%v: formatv1.Open = %v, want a spec-2 refusal", del, err)
		}
		// formatv2 reads the migrated repository as formatv1 read the original.
		sameView(t, fmt.Sprintf("migrated (delete %v)", del), viewV2(t, st), want)
	}
}

// TestMigrationKeepingV1FilesBlocksV1Writers is the bug class "migration
// with deleteUnusedV1Files=false letting v1 and v2 histories diverge": a
// formatv1 handle opened before the migration must not move any ref
// afterwards, although every refs/ file is still there; formatv2 sees only
// its own history.
func TestMigrationKeepingV1FilesBlocksV1Writers(t *testing.T) {
	ctx := context.Background()
	st := copyToDir(t, "test-repo-v1", nil)
	v1, err := formatv1.Open(ctx, st, formatv1.Options{})
	check(t, err)
	tip, err := v1.LookupBranch(ctx, "main")
	check(t, err)
	sess, err := v1.WritableSession(ctx, "main")
	check(t, err)
	check(t, sess.Set(ctx, "group1/small_chunks/c/0", []byte{1}))

	r2, err := formatv2.Open(ctx, st, formatv2.Options{})
	check(t, err)
	_, err = r2.Upgrade(ctx, false, false)
	check(t, err)
	refsBefore := listing(t, st, "refs/")

	for what, err := range map[string]error{
		"commit":        func() error { _, err := sess.Commit(ctx, "diverge", nil); return err }(),
		"create branch": v1.CreateBranch(ctx, "v1-only", tip),
		"reset branch":  v1.ResetBranch(ctx, "my-branch", tip),
		"delete branch": v1.DeleteBranch(ctx, "my-branch"),
		"create tag":    v1.CreateTag(ctx, "v1-tag", tip),
		"delete tag":    v1.DeleteTag(ctx, "it works!"),
	} {
		if !errors.Is(err, formatv1.ErrUnsupportedSpec) {
			t.Errorf("formatv1 %s after migration: %v, want a spec-2 refusal", what, err)
		}
	}
	if after := listing(t, st, "refs/"); !maps.Equal(after, refsBefore) {
		t.Fatal("a formatv1 writer changed refs/ after the migration")
	}
	m, err := formatv2.Open(ctx, st, formatv2.Options{})
	check(t, err)
	branches, err := m.ListBranches(ctx)
	check(t, err)
	if len(branches) != 2 || branches["main"].String() != tip.String() {
		t.Fatalf("branches after blocked v1 writes: %v", branches)
	}
}

// listing maps the keys under prefix to their content hashes.
func listing(t testing.TB, st objstore.Store, prefix string) map[string]string {
	t.Helper()
	ctx := context.Background()
	objs, err := st.List(ctx, prefix)
	check(t, err)
	out := map[string]string{}
	for _, o := range objs {
		data, _, err := st.Get(ctx, o.Key)
		check(t, err)
		out[o.Key] = fmt.Sprintf("%x", sha256.Sum256(data))
	}
	return out
}

// payloads maps every key to the hash of its content, without the header of
// metadata objects (which names the library that wrote them).
func payloads(t testing.TB, st objstore.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	objs, err := st.List(ctx, "")
	check(t, err)
	out := map[string]string{}
	for _, o := range objs {
		data, _, err := st.Get(ctx, o.Key)
		check(t, err)
		if _, err := formatv1.ParseHeader(o.Key, data); err == nil {
			data = data[formatv1.HeaderSize:]
		}
		out[o.Key] = fmt.Sprintf("%x", sha256.Sum256(data))
	}
	return out
}

// TestUpgradeCrashAtEveryOperation crashes the store at every operation of
// a migration in turn (with the crashing write lost, and with it landing),
// then checks what survived and runs the migration again: the repository
// is always either the untouched spec-1 repository (formatv1 reads it as
// before) or a complete spec-2 one, and the rerun finishes or reports
// clearly; the end state is always the fully migrated repository.
func TestUpgradeCrashAtEveryOperation(t *testing.T) {
	ctx := context.Background()
	files := fixtureFiles(t, "test-repo-v1")
	original := viewV1(t, memoryWith(t, files))
	migrate := func(st objstore.Store) error {
		r, err := formatv2.Open(ctx, st, formatv2.Options{})
		if err != nil {
			return err
		}
		_, err = r.Upgrade(ctx, false, true)
		return err
	}
	probe := faults.New(memoryWith(t, files))
	check(t, migrate(probe))
	n := probe.Ops()
	if n < 10 {
		t.Fatalf("a migration took only %d operations", n)
	}
	origRefs := listing(t, memoryWith(t, files), "refs/")
	states := map[string]int{}
	for _, afterApply := range []bool{false, true} {
		for i := 1; i <= n; i++ {
			inner := memoryWith(t, files)
			st := faults.New(inner)
			check(t, st.AddRule(faults.Rule{Nth: i, Crash: true, AfterApply: afterApply}))
			if err := migrate(st); err == nil {
				t.Fatalf("op %d: migration succeeded through a crash", i)
			}
			what := fmt.Sprintf("crash at op %d (write lands: %v)", i, afterApply)
			r, err := formatv2.Open(ctx, inner, formatv2.Options{})
			if err != nil {
				t.Fatalf("%s: formatv2 cannot open what survived: %v", what, err)
			}
			if r.SpecVersion() == 1 {
				states["spec 1"]++
				sameView(t, what+", formatv1", viewV1(t, inner), original)
			} else {
				sameView(t, what+", formatv2", viewV2(t, inner), original)
				if _, err := formatv1.Open(ctx, inner, formatv1.Options{}); !errors.Is(err, formatv1.ErrUnsupportedSpec) {
					t.Fatalf("%s: formatv1 opens a spec-2 repository: %v", what, err)
				}
				// Spec-1 files are deleted main's ref first: a partly
				// deleted refs/ never keeps main (old spec-1 clients that
				// do not know `repo` then fail fast).
				refs := listing(t, inner, "refs/")
				switch {
				case maps.Equal(refs, origRefs):
					states["spec 2, spec-1 files intact"]++
				case len(refs) == 0:
					states["spec 2, refs gone"]++
				default:
					states["spec 2, refs partly deleted"]++
					if _, ok := refs["refs/branch.main/ref.json"]; ok {
						t.Fatalf("%s: refs partly deleted but main's ref kept: %v", what, slices.Sorted(maps.Keys(refs)))
					}
				}
			}
			// Run again without faults.
			if err := migrate(inner); err != nil && !errors.Is(err, formatv2.ErrAlreadyMigrated) {
				t.Fatalf("%s: rerun: %v", what, err)
			}
			final, err := formatv2.Open(ctx, inner, formatv2.Options{})
			check(t, err)
			if final.SpecVersion() != 2 {
				t.Fatalf("%s: spec %d after the rerun", what, final.SpecVersion())
			}
			if left := listing(t, inner, "refs/"); len(left) != 0 {
				t.Fatalf("%s: refs left after the rerun: %v", what, slices.Sorted(maps.Keys(left)))
			}
			if _, _, err := inner.Get(ctx, "config.yaml"); !errors.Is(err, objstore.ErrNotFound) {
				t.Fatalf("%s: config.yaml left after the rerun", what)
			}
			sameView(t, what+", after rerun", viewV2(t, inner), original)
			findings, err := final.Fsck(ctx)
			check(t, err)
			if len(findings) != 0 {
				t.Fatalf("%s: fsck after rerun: %v", what, findings)
			}
		}
	}
	t.Logf("%d operations; states after the crash: %v", n, states)
	for _, s := range []string{"spec 1", "spec 2, spec-1 files intact", "spec 2, refs partly deleted", "spec 2, refs gone"} {
		if states[s] == 0 {
			t.Errorf("no crash left the state %q", s)
		}
	}
}

// TestSpec1WritesStaySpec1 is the bug class "v2 stamping spec byte 2 into
// spec-1 repositories": formatv2 works on a spec-1 repository (commit, ref
// changes, expiration, GC), then every metadata object carries spec byte 1,
// no spec-2 object appeared, and formatv1 reads everything exactly as
// formatv2 does.
func TestSpec1WritesStaySpec1(t *testing.T) {
	ctx := context.Background()
	clock := objstore.NewVirtualClock(time.Now(), time.Second)
	st := copyToDir(t, "test-repo-v1", clock)
	r, err := formatv2.Open(ctx, st, formatv2.Options{Clock: clock})
	check(t, err)
	if r.SpecVersion() != 1 {
		t.Fatalf("test-repo-v1 opened as spec %d", r.SpecVersion())
	}
	s, err := r.WritableSession(ctx, "my-branch")
	check(t, err)
	check(t, s.Set(ctx, "group1/small_chunks/c/4", []byte{9}))
	check(t, s.Set(ctx, "newgroup/zarr.json", []byte(`{"zarr_format":3,"node_type":"group","attributes":{}}`)))
	c1, err := s.Commit(ctx, "v2 writes at spec 1", map[string]any{"by": "formatv2", "n": 2})
	check(t, err)
	check(t, s.Set(ctx, "group1/big_chunks/c/1/1", make([]byte, 100)))
	_, err = s.Commit(ctx, "again", nil)
	check(t, err)
	check(t, r.CreateBranch(ctx, "from-v2", c1))
	check(t, r.CreateTag(ctx, "v2-tag", c1))
	check(t, r.DeleteTag(ctx, "v2-tag"))
	check(t, r.ResetBranch(ctx, "from-v2", c1))
	check(t, r.SaveConfig(ctx, r.Config()))
	_, err = s.Amend(ctx, "no amend at spec 1", nil)
	if !errors.Is(err, formatv2.ErrSpec2Only) {
		t.Fatalf("amend at spec 1: %v", err)
	}
	_, err = r.ExpireSnapshots(ctx, clock.Peek().Add(-time.Hour), true, true)
	check(t, err)
	_, err = r.GarbageCollect(ctx, clock.Peek().Add(-time.Hour), false)
	check(t, err)

	objs, err := st.List(ctx, "")
	check(t, err)
	for _, o := range objs {
		switch {
		case o.Key == "repo" || strings.HasPrefix(o.Key, "overwritten/"):
			t.Fatalf("formatv2 wrote the spec-2 object %s into a spec-1 repository", o.Key)
		case strings.HasPrefix(o.Key, "snapshots/"), strings.HasPrefix(o.Key, "manifests/"), strings.HasPrefix(o.Key, "transactions/"):
			data, _, err := st.Get(ctx, o.Key)
			check(t, err)
			h, err := formatv1.ParseHeader(o.Key, data)
			check(t, err)
			if h.SpecVersion != 1 {
				t.Fatalf("%s has spec byte %d in a spec-1 repository", o.Key, h.SpecVersion)
			}
		}
	}
	sameView(t, "formatv1 reading formatv2's spec-1 writes", viewV1(t, st), viewV2(t, st))
	v1, err := formatv1.Open(ctx, st, formatv1.Options{})
	check(t, err)
	findings, err := v1.Fsck(ctx)
	check(t, err)
	if len(findings) != 0 {
		t.Fatalf("formatv1 fsck: %v", findings)
	}
	anc, err := v1.Ancestry(ctx, formatv1.ObjectID(c1))
	check(t, err)
	if anc[0].Message != "v2 writes at spec 1" || len(anc[0].Metadata) != 2 {
		t.Fatalf("formatv1 reads the commit as %+v", anc[0])
	}
	if v, err := formatv1.DecodeMetadataValue(anc[0].Metadata[0].Value); err != nil || v != "formatv2" {
		t.Fatalf("formatv1 decodes the commit metadata as %v, %v", v, err)
	}
}

// TestSpec1MaintenanceMatchesFormatv1: expiration and GC by formatv2 on a
// spec-1 repository do exactly what formatv1 does (results and remaining
// objects), on copies of the same repository.
func TestSpec1MaintenanceMatchesFormatv1(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name           string
		branches, tags bool
	}{{"keep-refs", false, false}, {"delete-refs", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			st1 := copyToDir(t, "test-repo-v1", nil)
			st2 := copyToDir(t, "test-repo-v1", nil)
			r1, err := formatv1.Open(ctx, st1, formatv1.Options{})
			check(t, err)
			r2, err := formatv2.Open(ctx, st2, formatv2.Options{})
			check(t, err)
			// Cut between "fill data" and "set virtual chunk".
			mainTip, err := r1.LookupBranch(ctx, "main")
			check(t, err)
			anc, err := r1.Ancestry(ctx, mainTip)
			check(t, err)
			cut := time.UnixMicro(int64(anc[0].FlushedAt)).Add(-time.Microsecond)
			e1, err := r1.ExpireSnapshots(ctx, cut, tc.branches, tc.tags)
			check(t, err)
			e2, err := r2.ExpireSnapshots(ctx, cut, tc.branches, tc.tags)
			check(t, err)
			if fmt.Sprint(e1) != fmt.Sprint(e2) {
				t.Fatalf("expiration: formatv1 %+v, formatv2 %+v", e1, e2)
			}
			gcCut := time.Now().Add(time.Hour)
			g1, err := r1.GarbageCollect(ctx, gcCut, false)
			check(t, err)
			g2, err := r2.GarbageCollect(ctx, gcCut, false)
			check(t, err)
			if fmt.Sprint(*g1) != fmt.Sprint(*g2) {
				t.Fatalf("GC: formatv1 %+v, formatv2 %+v", *g1, *g2)
			}
			// Equal up to the implementation name in the headers of the
			// snapshots expiration rewrote.
			if a, b := payloads(t, st1), payloads(t, st2); !maps.Equal(a, b) {
				t.Fatalf("stores differ after maintenance:\nformatv1 %v\nformatv2 %v", slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(b)))
			}
		})
	}
}
