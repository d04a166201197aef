package formatv2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/local"
	"github.com/icerig/icerig/objstore/memory"
)

// ---------------------------------------------------------------------------
// Helpers shared by the repository, ref and session tests.

// fixtureStore opens a fixture repository directory read-only in place
// (the tests never write through it).
func fixtureStore(t testing.TB, name string) objstore.Store {
	t.Helper()
	st, err := local.Open(testfixtures.Path(t, name), nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// openFixture opens a fixture repository read-only in place.
func openFixture(t testing.TB, name string) *Repository {
	t.Helper()
	r, err := Open(context.Background(), fixtureStore(t, name), Options{})
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	return r
}

// copyFixture copies a fixture repository to a temporary directory
// (modification times preserved, files made writable) and returns a store
// on the copy.
func copyFixture(t testing.TB, name string, clock objstore.Clock) *local.Store {
	t.Helper()
	st, err := local.Open(testfixtures.Copy(t, name), clock)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// seeded returns a deterministic id source.
func seeded(seed uint64) io.Reader {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return rand.NewChaCha8(s)
}

var testEpoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// newMemRepo creates a spec-1 repository in a fresh memory store, on a
// virtual clock advancing one second per reading and seeded ids.
func newMemRepo(t testing.TB, cfg *Config) (*Repository, *memory.Store, *objstore.VirtualClock) {
	t.Helper()
	return newMemRepoSpec(t, SpecVersion1, cfg)
}

// newMemRepoSpec is newMemRepo at a chosen spec version.
func newMemRepoSpec(t testing.TB, spec int, cfg *Config) (*Repository, *memory.Store, *objstore.VirtualClock) {
	t.Helper()
	clock := objstore.NewVirtualClock(testEpoch, time.Second)
	st := memory.New(clock)
	r, err := Create(context.Background(), st, CreateOptions{SpecVersion: spec, Config: cfg}, Options{Clock: clock, Rand: seeded(1)})
	if err != nil {
		t.Fatal(err)
	}
	if r.SpecVersion() != spec {
		t.Fatalf("created spec %d, want %d", r.SpecVersion(), spec)
	}
	return r, st, clock
}

// bothSpecs runs a test body once per spec version.
func bothSpecs(t *testing.T, body func(t *testing.T, spec int)) {
	for _, spec := range []int{SpecVersion1, SpecVersion2} {
		t.Run(fmt.Sprintf("spec%d", spec), func(t *testing.T) { body(t, spec) })
	}
}

func mustErrIs(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want one wrapping %v", err, target)
	}
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------------------
// Create and Open.

func TestCreateWritesInitialSnapshotAndMain(t *testing.T) {
	ctx := context.Background()
	r, st, _ := newMemRepo(t, nil)
	data, _, err := st.Get(ctx, "refs/branch.main/ref.json")
	noErr(t, err)
	tip, err := decodeRef("ref", data)
	noErr(t, err)
	if want := `{"snapshot":"` + tip.String() + `"}`; string(data) != want {
		t.Fatalf("ref.json = %q, want %q", data, want)
	}
	anc := must[[]*Snapshot](t)(r.Ancestry(ctx, tip))
	if len(anc) != 1 {
		t.Fatalf("ancestry has %d snapshots, want 1", len(anc))
	}
	s := anc[0]
	if s.Message != "Repository initialized" || s.ParentID != nil || len(s.Nodes) != 0 || len(s.ManifestFiles) != 0 {
		t.Fatalf("initial snapshot = %+v", s)
	}
	if s.FlushedAt != uint64(testEpoch.UnixMicro()) {
		t.Fatalf("flushed at %d, want the clock's %d", s.FlushedAt, testEpoch.UnixMicro())
	}
	if len(s.Metadata) != 1 || s.Metadata[0].Name != "__root" {
		t.Fatalf("initial metadata = %+v, want __root", s.Metadata)
	}
	if v, err := DecodeMetadataValue(s.Metadata[0].Value); err != nil || v != true {
		t.Fatalf("__root = %v, %v", v, err)
	}
	// Byte-identical to what upstream wrote into its initial snapshot.
	fx := openFixture(t, "test-repo-v1")
	fxAnc := must[[]*Snapshot](t)(fx.Ancestry(ctx, must[ObjectID](t)(fx.LookupBranch(ctx, "main"))))
	fxInit := fxAnc[len(fxAnc)-1]
	if len(fxInit.Metadata) != 1 || fxInit.Metadata[0].Name != "__root" || string(fxInit.Metadata[0].Value) != string(s.Metadata[0].Value) {
		t.Fatalf("upstream initial metadata %+v differs from ours %+v", fxInit.Metadata, s.Metadata)
	}
	if _, _, err := st.Get(ctx, ConfigKey); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("config.yaml written for a nil config: %v", err)
	}
	if r.Config().InlineChunkThresholdBytes() != DefaultInlineChunkThresholdBytes {
		t.Fatalf("default threshold = %d", r.Config().InlineChunkThresholdBytes())
	}
}

func TestCreateWithConfigAndSaveConfig(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.SetInlineChunkThresholdBytes(7)
	r, st, _ := newMemRepo(t, cfg)
	if r.Config().InlineChunkThresholdBytes() != 7 {
		t.Fatal("config not kept")
	}
	r2 := must[*Repository](t)(Open(ctx, st, Options{}))
	if r2.Config().InlineChunkThresholdBytes() != 7 {
		t.Fatalf("reopened threshold = %d", r2.Config().InlineChunkThresholdBytes())
	}
	c2 := must[*Config](t)(ParseConfig("copy", must[[]byte](t)(r2.Config().Marshal())))
	c2.SetInlineChunkThresholdBytes(9)
	noErr(t, r2.SaveConfig(ctx, c2))
	// r still holds the version it wrote: its save now conflicts.
	c1 := DefaultConfig()
	mustErrIs(t, r.SaveConfig(ctx, c1), ErrConflict)
	r3 := must[*Repository](t)(Open(ctx, st, Options{}))
	if r3.Config().InlineChunkThresholdBytes() != 9 {
		t.Fatalf("saved threshold = %d", r3.Config().InlineChunkThresholdBytes())
	}
}

func TestCreateRefusesExistingRepository(t *testing.T) {
	ctx := context.Background()
	_, st, _ := newMemRepo(t, nil)
	for _, spec := range []int{SpecVersion1, SpecVersion2} {
		_, err := Create(ctx, st, CreateOptions{SpecVersion: spec}, Options{})
		mustErrIs(t, err, ErrRepositoryExists)
	}

	st2 := memory.New(nil)
	_, err := st2.Put(ctx, "repo", []byte("spec 2"))
	noErr(t, err)
	for _, spec := range []int{SpecVersion1, SpecVersion2} {
		_, err = Create(ctx, st2, CreateOptions{SpecVersion: spec}, Options{})
		mustErrIs(t, err, ErrRepositoryExists)
	}
	_, err = Create(ctx, memory.New(nil), CreateOptions{SpecVersion: 3}, Options{})
	mustErrIs(t, err, ErrUnsupportedSpec)
}

func TestOpenEmptyStoreIsNotARepository(t *testing.T) {
	_, err := Open(context.Background(), memory.New(nil), Options{})
	mustErrIs(t, err, ErrNotARepository)
}

func TestOpenDetectsSpec(t *testing.T) {
	for name, want := range map[string]int{"test-repo-v1": 1, "split-repo-v1": 1, "test-repo-v2": 2, "test-repo-v2-migrated": 2} {
		r := openFixture(t, name)
		if r.SpecVersion() != want {
			t.Errorf("%s: spec %d, want %d", name, r.SpecVersion(), want)
		}
	}
}

// TestOpenSpec2IgnoresStaleRefs: a `repo` object makes the repository spec
// 2, whatever refs/ files remain beside it; they are never read.
func TestOpenSpec2IgnoresStaleRefs(t *testing.T) {
	ctx := context.Background()
	_, st, _ := newMemRepoSpec(t, SpecVersion2, nil)
	_, err := st.Put(ctx, "refs/branch.main/ref.json", []byte(`{"snapshot":"AAAAAAAAAAAAAAAAAAAA"}`))
	noErr(t, err)
	_, err = st.Put(ctx, "refs/branch.stale/ref.json", []byte(`{"snapshot":"AAAAAAAAAAAAAAAAAAAA"}`))
	noErr(t, err)
	r := must[*Repository](t)(Open(ctx, st, Options{}))
	if r.SpecVersion() != 2 {
		t.Fatalf("spec %d, want 2", r.SpecVersion())
	}
	branches := must[map[string]ObjectID](t)(r.ListBranches(ctx))
	if len(branches) != 1 || branches["main"] != InitialSnapshotID {
		t.Fatalf("branches = %v, want only main at the initial snapshot", branches)
	}
}

func TestOpenRejectsBadRepoObject(t *testing.T) {
	ctx := context.Background()
	_, st, _ := newMemRepo(t, nil)
	_, err := st.Put(ctx, "repo", []byte("x"))
	noErr(t, err)
	_, err = Open(ctx, st, Options{})
	mustErrIs(t, err, ErrCorrupt)
	if !strings.Contains(err.Error(), "repo") {
		t.Fatalf("error %q does not name the repo object", err)
	}
}

// TestRepoObjectAppearingBlocksRefUpdates: a handle opened on spec 1 must
// refuse every ref update once the repository was migrated to spec 2.
func TestRepoObjectAppearingBlocksRefUpdates(t *testing.T) {
	ctx := context.Background()
	r, st, _ := newMemRepo(t, nil)
	tip := must[ObjectID](t)(r.LookupBranch(ctx, "main"))
	noErr(t, r.CreateBranch(ctx, "b", tip))
	noErr(t, r.CreateTag(ctx, "t", tip))
	sess := must[*Session](t)(r.WritableSession(ctx, "main"))
	noErr(t, sess.Set(ctx, "zarr.json", []byte(`{"zarr_format":3,"node_type":"group"}`)))

	_, err := st.Put(ctx, "repo", []byte("spec 2"))
	noErr(t, err)

	mustErrIs(t, r.CreateBranch(ctx, "b2", tip), ErrUnsupportedSpec)
	mustErrIs(t, r.ResetBranch(ctx, "b", tip), ErrUnsupportedSpec)
	mustErrIs(t, r.DeleteBranch(ctx, "b"), ErrUnsupportedSpec)
	mustErrIs(t, r.CreateTag(ctx, "t2", tip), ErrUnsupportedSpec)
	mustErrIs(t, r.DeleteTag(ctx, "t"), ErrUnsupportedSpec)
	_, err = sess.Commit(ctx, "after migration", nil)
	mustErrIs(t, err, ErrUnsupportedSpec)
	if got := must[ObjectID](t)(r.LookupBranch(ctx, "main")); got != tip {
		t.Fatal("main moved after the repository became spec 2")
	}
	// A `repo` object decides the spec on open: this one does not decode.
	_, err = Open(ctx, st, Options{})
	mustErrIs(t, err, ErrCorrupt)
}

// TestCreateIsDeterministic: the same seed and clock give byte-identical
// repositories, which the rig's determinism relies on.
func TestCreateIsDeterministic(t *testing.T) {
	bothSpecs(t, func(t *testing.T, spec int) {
		ctx := context.Background()
		dump := func() map[string]string {
			r, st, _ := newMemRepoSpec(t, spec, nil)
			s := must[*Session](t)(r.WritableSession(ctx, "main"))
			noErr(t, s.Set(ctx, "zarr.json", []byte(`{"zarr_format":3,"node_type":"group"}`)))
			noErr(t, s.Set(ctx, "a/zarr.json", arrayDoc([]uint64{4}, []uint64{2}, "int8", "0", nil)))
			noErr(t, s.Set(ctx, "a/c/0", make([]byte, 600)))
			noErr(t, s.Set(ctx, "a/c/1", []byte{1, 2}))
			c1 := must[ObjectID](t)(s.Commit(ctx, "c1", map[string]any{"k": "v"}))
			noErr(t, r.CreateBranch(ctx, "b", c1))
			noErr(t, r.CreateTag(ctx, "t", c1))
			out := map[string]string{}
			for _, o := range must[[]objstore.ObjectInfo](t)(st.List(ctx, "")) {
				d, _, err := st.Get(ctx, o.Key)
				noErr(t, err)
				out[o.Key] = string(d)
			}
			return out
		}
		a, b := dump(), dump()
		if len(a) != len(b) || len(a) < 6 {
			t.Fatalf("object counts %d vs %d", len(a), len(b))
		}
		for k, v := range a {
			if b[k] != v {
				t.Fatalf("object %s differs between identical runs", k)
			}
		}
	})
}
