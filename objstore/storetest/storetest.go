// Package storetest is the conformance suite every objstore.Store backend and
// wrapper must pass, in the style of testing/fstest, plus shared benchmarks.
//
// A backend's tests call
//
//	storetest.TestStore(t, func(t testing.TB, clock objstore.Clock) objstore.Store {
//		return memory.New(clock)
//	}, storetest.Options{})
//
// Every subtest gets a fresh, empty store from the constructor. The clock
// argument is nil (use the backend's default) except in the subtests about
// modification times, which pass an *objstore.VirtualClock.
//
// The suite does not require a key to hold an object and be a "directory" of
// other keys at once ("a" and "a/b"), which the local file-system backend
// cannot do.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icerig/icerig/objstore"
)

// NewStoreFunc returns a fresh, empty store. A non-nil clock must be used for
// modification times; nil means the backend's default.
type NewStoreFunc func(t testing.TB, clock objstore.Clock) objstore.Store

// Options tunes the suite for a backend.
type Options struct {
	// ManyObjects is how many objects the ListMany subtest writes and lists
	// (default 300).
	ManyObjects int
	// PagedObjects, when positive, adds the ListBeyondOnePage subtest, which
	// lists this many objects. Set it above the backend's listing page size
	// (5001 for Azure, whose pages hold at most 5000 blobs).
	PagedObjects int
	// Parallelism is how many writes the bulk subtests keep in flight
	// (default 16).
	Parallelism int
	// Racers is how many goroutines race each conditional write (default 16).
	Racers int
}

func (o Options) withDefaults() Options {
	if o.ManyObjects <= 0 {
		o.ManyObjects = 300
	}
	if o.Parallelism <= 0 {
		o.Parallelism = 16
	}
	if o.Racers <= 0 {
		o.Racers = 16
	}
	return o
}

type suite struct {
	newStore NewStoreFunc
	opts     Options
}

type subtest struct {
	name string
	run  func(t *testing.T, s *suite)
}

// subtests lists the conformance checks in the order they run.
var subtests = []subtest{
	{"RoundTrip", testRoundTrip},
	{"GetNotFound", testGetNotFound},
	{"Overwrite", testOverwrite},
	{"OverwriteSameBytesNewVersion", testOverwriteSameBytes},
	{"DataIsCopied", testDataIsCopied},
	{"PutIfAbsent", testPutIfAbsent},
	{"PutIfVersionMatches", testPutIfVersionMatches},
	{"PutIfVersionMatchesMissingObject", testPutIfVersionMatchesMissing},
	{"RacePutIfAbsent", testRacePutIfAbsent},
	{"RacePutIfVersionMatches", testRacePutIfVersionMatches},
	{"CompareAndSwapCounter", testCASCounter},
	{"Delete", testDelete},
	{"ListPrefixes", testListPrefixes},
	{"ListSortOrder", testListSortOrder},
	{"ListMany", testListMany},
	{"ListBeyondOnePage", testListBeyondOnePage},
	{"ModTimeFromClock", testModTime},
	{"KeysWithSpacesAndBang", testOddKeys},
	{"InvalidKeys", testInvalidKeys},
	{"ContextCanceled", testContextCanceled},
	{"ErrorsNameTheKey", testErrorsNameKey},
}

// Subtests returns the names of the subtests TestStore runs with opts.
func Subtests(opts Options) []string {
	var names []string
	for _, st := range subtests {
		if st.name == "ListBeyondOnePage" && opts.PagedObjects <= 0 {
			continue
		}
		names = append(names, st.name)
	}
	return names
}

// TestStore runs the conformance suite, one subtest per property, each on a
// fresh store from newStore.
func TestStore(t *testing.T, newStore NewStoreFunc, opts Options) {
	s := &suite{newStore: newStore, opts: opts.withDefaults()}
	for _, st := range subtests {
		if st.name == "ListBeyondOnePage" && s.opts.PagedObjects <= 0 {
			continue
		}
		t.Run(st.name, func(t *testing.T) { st.run(t, s) })
	}
}

// ---- helpers ----

func mustPut(t testing.TB, st objstore.Store, key string, data []byte) objstore.Version {
	t.Helper()
	v, err := st.Put(context.Background(), key, data)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if v == "" {
		t.Fatalf("Put(%q) returned an empty version", key)
	}
	return v
}

func mustGet(t testing.TB, st objstore.Store, key string) ([]byte, objstore.Version) {
	t.Helper()
	data, v, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if v == "" {
		t.Fatalf("Get(%q) returned an empty version", key)
	}
	return data, v
}

func wantContent(t testing.TB, st objstore.Store, key string, want []byte) objstore.Version {
	t.Helper()
	got, v := mustGet(t, st, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %d bytes %q..., want %d bytes %q...", key, len(got), head(got), len(want), head(want))
	}
	return v
}

func head(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

func mustList(t testing.TB, st objstore.Store, prefix string) []objstore.ObjectInfo {
	t.Helper()
	infos, err := st.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return infos
}

func keysOf(infos []objstore.ObjectInfo) []string {
	keys := make([]string, len(infos))
	for i, in := range infos {
		keys[i] = in.Key
	}
	return keys
}

func wantKeys(t testing.TB, st objstore.Store, prefix string, want ...string) []objstore.ObjectInfo {
	t.Helper()
	infos := mustList(t, st, prefix)
	got := keysOf(infos)
	if want == nil {
		want = []string{}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != len(want) {
		t.Fatalf("List(%q) keys = %q, want %q", prefix, got, want)
	}
	return infos
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// parallel runs f(i) for i in [0,n) with at most k in flight and returns the
// first error.
func parallel(n, k int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, k)
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// ---- subtests ----

func testRoundTrip(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	objects := map[string][]byte{
		"config.yaml":                    []byte("inline_chunk_threshold_bytes: 512\n"),
		"empty":                          {},
		"chunks/BIG0123456789ABCDEF":     randomBytes(1, 1<<20),
		"snapshots/1CECHNKREP0F1RSTCMT0": {0, 1, 2, 0xff, 0xfe, '\n', 0},
		"refs/branch.main/ref.json":      []byte(`{"snapshot":"1CECHNKREP0F1RSTCMT0"}`),
	}
	versions := map[string]objstore.Version{}
	for k, d := range objects {
		versions[k] = mustPut(t, st, k, d)
	}
	for k, d := range objects {
		if v := wantContent(t, st, k, d); v != versions[k] {
			t.Errorf("Get(%q) version %q, Put returned %q", k, v, versions[k])
		}
	}
	infos := mustList(t, st, "")
	if len(infos) != len(objects) {
		t.Fatalf("List(\"\") = %q, want %d objects", keysOf(infos), len(objects))
	}
	for _, in := range infos {
		if want := int64(len(objects[in.Key])); in.Size != want {
			t.Errorf("List: %q has size %d, want %d", in.Key, in.Size, want)
		}
	}
}

func testGetNotFound(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	ctx := context.Background()
	mustPut(t, st, "dir/child", []byte("x"))
	for _, key := range []string{"missing", "dir/missing", "no/such/dir/obj", "dir", "dir/child/grandchild"} {
		data, v, err := st.Get(ctx, key)
		if !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Get(%q) error = %v, want ErrNotFound", key, err)
		}
		if data != nil || v != "" {
			t.Errorf("Get(%q) = %q, %q with error; want no data and no version", key, data, v)
		}
	}
}

func testOverwrite(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	v1 := mustPut(t, st, "a/b", []byte("first"))
	v2 := mustPut(t, st, "a/b", []byte("second, longer"))
	if v1 == v2 {
		t.Fatalf("two writes of different bytes share version %q", v1)
	}
	if v := wantContent(t, st, "a/b", []byte("second, longer")); v != v2 {
		t.Errorf("Get version %q, want %q from the last Put", v, v2)
	}
	v3 := mustPut(t, st, "a/b", nil)
	if v := wantContent(t, st, "a/b", []byte{}); v != v3 {
		t.Errorf("Get version %q, want %q", v, v3)
	}
	infos := wantKeys(t, st, "", "a/b")
	if infos[0].Size != 0 {
		t.Errorf("size after overwrite with empty = %d, want 0", infos[0].Size)
	}
}

func testOverwriteSameBytes(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	ctx := context.Background()
	data := []byte(`{"snapshot":"AAAAAAAAAAAAAAAAAAAA"}`)
	v1 := mustPut(t, st, "refs/branch.main/ref.json", data)
	v2 := mustPut(t, st, "refs/branch.main/ref.json", data)
	if v1 == v2 {
		t.Fatalf("two writes of identical bytes share version %q: compare-and-swap could not tell them apart", v1)
	}
	if _, err := st.PutIfVersionMatches(ctx, "refs/branch.main/ref.json", []byte("x"), v1); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("PutIfVersionMatches with the version of an overwritten write: error = %v, want ErrPreconditionFailed", err)
	}
	wantContent(t, st, "refs/branch.main/ref.json", data)
}

func testDataIsCopied(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	buf := []byte("original")
	mustPut(t, st, "k", buf)
	copy(buf, "mutated!")
	got, _ := mustGet(t, st, "k")
	if string(got) != "original" {
		t.Fatalf("store kept a reference to the caller's buffer: got %q", got)
	}
	copy(got, "XXXXXXXX")
	wantContent(t, st, "k", []byte("original"))
}

func testPutIfAbsent(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	ctx := context.Background()
	v, err := st.PutIfAbsent(ctx, "refs/tag.v1/ref.json", []byte("one"))
	if err != nil {
		t.Fatalf("PutIfAbsent on a free key: %v", err)
	}
	if got := wantContent(t, st, "refs/tag.v1/ref.json", []byte("one")); got != v {
		t.Errorf("Get version %q, PutIfAbsent returned %q", got, v)
	}
	if _, err := st.PutIfAbsent(ctx, "refs/tag.v1/ref.json", []byte("two")); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("PutIfAbsent on an existing key: error = %v, want ErrPreconditionFailed", err)
	}
	if got := wantContent(t, st, "refs/tag.v1/ref.json", []byte("one")); got != v {
		t.Errorf("a failed PutIfAbsent changed the version from %q to %q", v, got)
	}
	// An empty object still exists.
	if _, err := st.PutIfAbsent(ctx, "empty", nil); err != nil {
		t.Fatalf("PutIfAbsent(empty): %v", err)
	}
	if _, err := st.PutIfAbsent(ctx, "empty", []byte("x")); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("PutIfAbsent over an empty object: error = %v, want ErrPreconditionFailed", err)
	}
	// After a delete the key is free again.
	if err := st.Delete(ctx, "refs/tag.v1/ref.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutIfAbsent(ctx, "refs/tag.v1/ref.json", []byte("three")); err != nil {
		t.Fatalf("PutIfAbsent after Delete: %v", err)
	}
	wantContent(t, st, "refs/tag.v1/ref.json", []byte("three"))
	wantKeys(t, st, "", "empty", "refs/tag.v1/ref.json")
}

func testPutIfVersionMatches(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	ctx := context.Background()
	const key = "repo"
	v1 := mustPut(t, st, key, []byte("v1"))
	v2, err := st.PutIfVersionMatches(ctx, key, []byte("v2"), v1)
	if err != nil {
		t.Fatalf("PutIfVersionMatches with the current version: %v", err)
	}
	if v2 == v1 || v2 == "" {
		t.Fatalf("PutIfVersionMatches returned version %q (previous %q)", v2, v1)
	}
	if got := wantContent(t, st, key, []byte("v2")); got != v2 {
		t.Errorf("Get version %q, PutIfVersionMatches returned %q", got, v2)
	}
	// Stale version.
	if _, err := st.PutIfVersionMatches(ctx, key, []byte("stale"), v1); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("stale version: error = %v, want ErrPreconditionFailed", err)
	}
	// Empty version never matches.
	if _, err := st.PutIfVersionMatches(ctx, key, []byte("empty"), ""); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("empty version: error = %v, want ErrPreconditionFailed", err)
	}
	// A version of another object does not match.
	vOther := mustPut(t, st, "other", []byte("v2"))
	if _, err := st.PutIfVersionMatches(ctx, key, []byte("foreign"), vOther); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("version of another object: error = %v, want ErrPreconditionFailed", err)
	}
	// A made-up version does not match.
	if _, err := st.PutIfVersionMatches(ctx, key, []byte("bogus"), objstore.Version("bogus-version")); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("made-up version: error = %v, want ErrPreconditionFailed", err)
	}
	wantContent(t, st, key, []byte("v2"))
	// Chained updates each return the next usable version.
	v := v2
	for i := 3; i < 6; i++ {
		nv, err := st.PutIfVersionMatches(ctx, key, []byte("v"+strconv.Itoa(i)), v)
		if err != nil {
			t.Fatalf("chained update %d: %v", i, err)
		}
		v = nv
	}
	if got := wantContent(t, st, key, []byte("v5")); got != v {
		t.Errorf("Get version %q, last update returned %q", got, v)
	}
}

func testPutIfVersionMatchesMissing(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	ctx := context.Background()
	v := mustPut(t, st, "gone", []byte("x"))
	if err := st.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutIfVersionMatches(ctx, "gone", []byte("y"), v); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("PutIfVersionMatches on a deleted object: error = %v, want ErrPreconditionFailed", err)
	}
	if _, err := st.PutIfVersionMatches(ctx, "never/existed", []byte("y"), v); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("PutIfVersionMatches on a never-written key: error = %v, want ErrPreconditionFailed", err)
	}
	wantKeys(t, st, "")
}

func testRacePutIfAbsent(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	ctx := context.Background()
	const key = "refs/tag.race/ref.json"
	n := s.opts.Racers
	errs := make([]error, n)
	versions := make([]objstore.Version, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			versions[i], errs[i] = st.PutIfAbsent(ctx, key, []byte("racer "+strconv.Itoa(i)))
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("racers %d and %d both created %q", winner, i, key)
			}
			winner = i
		case !errors.Is(err, objstore.ErrPreconditionFailed):
			t.Errorf("racer %d: error = %v, want nil or ErrPreconditionFailed", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no racer created %q", key)
	}
	if v := wantContent(t, st, key, []byte("racer "+strconv.Itoa(winner))); v != versions[winner] {
		t.Errorf("stored version %q, winner got %q", v, versions[winner])
	}
}

func testRacePutIfVersionMatches(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	ctx := context.Background()
	const key = "repo"
	base := mustPut(t, st, key, []byte("base"))
	n := s.opts.Racers
	errs := make([]error, n)
	versions := make([]objstore.Version, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			versions[i], errs[i] = st.PutIfVersionMatches(ctx, key, []byte("racer "+strconv.Itoa(i)), base)
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("racers %d and %d both replaced version %q of %q", winner, i, base, key)
			}
			winner = i
		case !errors.Is(err, objstore.ErrPreconditionFailed):
			t.Errorf("racer %d: error = %v, want nil or ErrPreconditionFailed", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no racer replaced %q", key)
	}
	if v := wantContent(t, st, key, []byte("racer "+strconv.Itoa(winner))); v != versions[winner] {
		t.Errorf("stored version %q, winner got %q", v, versions[winner])
	}
}

// Increment performs one compare-and-swap increment of the decimal counter
// stored at key (creating it with 1 if missing), retrying lost races. It is
// exported for cross-process tests of backends.
func Increment(ctx context.Context, st objstore.Store, key string) (retries int, err error) {
	for {
		data, v, err := st.Get(ctx, key)
		switch {
		case errors.Is(err, objstore.ErrNotFound):
			_, err = st.PutIfAbsent(ctx, key, []byte("1"))
		case err != nil:
			return retries, err
		default:
			n, perr := strconv.Atoi(string(data))
			if perr != nil {
				return retries, fmt.Errorf("counter %q holds %q: %w", key, data, perr)
			}
			_, err = st.PutIfVersionMatches(ctx, key, []byte(strconv.Itoa(n+1)), v)
		}
		if err == nil {
			return retries, nil
		}
		if !errors.Is(err, objstore.ErrPreconditionFailed) {
			return retries, err
		}
		retries++
	}
}

func testCASCounter(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	ctx := context.Background()
	const workers, each = 8, 10
	var mu sync.Mutex
	total := 0
	err := parallel(workers, workers, func(int) error {
		for j := 0; j < each; j++ {
			r, err := Increment(ctx, st, "counter")
			if err != nil {
				return err
			}
			mu.Lock()
			total += r
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantContent(t, st, "counter", []byte(strconv.Itoa(workers*each)))
	t.Logf("%d increments needed %d retries", workers*each, total)
}

func testDelete(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	ctx := context.Background()
	mustPut(t, st, "chunks/A", []byte("a"))
	mustPut(t, st, "chunks/B", []byte("b"))
	mustPut(t, st, "deep/dir/tree/leaf", []byte("leaf"))
	if err := st.Delete(ctx, "chunks/A"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, _, err := st.Get(ctx, "chunks/A"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Get after Delete: error = %v, want ErrNotFound", err)
	}
	for _, key := range []string{"chunks/A", "never/written", "chunks/never", "deep", "deep/dir"} {
		if err := st.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%q) of a missing object: %v, want nil", key, err)
		}
	}
	wantKeys(t, st, "", "chunks/B", "deep/dir/tree/leaf")
	if err := st.Delete(ctx, "deep/dir/tree/leaf"); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, st, "", "chunks/B")
	wantKeys(t, st, "deep/")
	// The key can be written again after the tree under it emptied.
	mustPut(t, st, "deep/dir/tree/leaf", []byte("again"))
	wantContent(t, st, "deep/dir/tree/leaf", []byte("again"))
}

func testListPrefixes(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	objects := map[string]string{
		"config.yaml":                       "cfg",
		"refs/branch.main/ref.json":         `{"snapshot":"A"}`,
		"refs/branch.dev/ref.json":          `{"snapshot":"BB"}`,
		"refs/tag.v1/ref.json":              `{"snapshot":"CCC"}`,
		"refs/tag.v1/ref.json.deleted":      "",
		"refs/tag.it works!/ref.json":       `{"snapshot":"DDDD"}`,
		"refsx":                             "not under refs/",
		"snapshots/1CECHNKREP0F1RSTCMT0":    "snap",
		"transactions/1CECHNKREP0F1RSTCMT0": "tx",
	}
	for k, v := range objects {
		mustPut(t, st, k, []byte(v))
	}
	all := wantKeys(t, st, "",
		"config.yaml",
		"refs/branch.dev/ref.json",
		"refs/branch.main/ref.json",
		"refs/tag.it works!/ref.json",
		"refs/tag.v1/ref.json",
		"refs/tag.v1/ref.json.deleted",
		"refsx",
		"snapshots/1CECHNKREP0F1RSTCMT0",
		"transactions/1CECHNKREP0F1RSTCMT0",
	)
	for _, in := range all {
		if want := int64(len(objects[in.Key])); in.Size != want {
			t.Errorf("List: %q size %d, want %d", in.Key, in.Size, want)
		}
	}
	wantKeys(t, st, "refs/",
		"refs/branch.dev/ref.json",
		"refs/branch.main/ref.json",
		"refs/tag.it works!/ref.json",
		"refs/tag.v1/ref.json",
		"refs/tag.v1/ref.json.deleted",
	)
	wantKeys(t, st, "refs",
		"refs/branch.dev/ref.json",
		"refs/branch.main/ref.json",
		"refs/tag.it works!/ref.json",
		"refs/tag.v1/ref.json",
		"refs/tag.v1/ref.json.deleted",
		"refsx",
	)
	wantKeys(t, st, "refs/tag.",
		"refs/tag.it works!/ref.json",
		"refs/tag.v1/ref.json",
		"refs/tag.v1/ref.json.deleted",
	)
	wantKeys(t, st, "refs/branch.", "refs/branch.dev/ref.json", "refs/branch.main/ref.json")
	wantKeys(t, st, "refs/branch.m", "refs/branch.main/ref.json")
	wantKeys(t, st, "refs/tag.v1/ref.json", "refs/tag.v1/ref.json", "refs/tag.v1/ref.json.deleted")
	wantKeys(t, st, "refs/tag.v1/ref.json.deleted", "refs/tag.v1/ref.json.deleted")
	wantKeys(t, st, "snap", "snapshots/1CECHNKREP0F1RSTCMT0")
	wantKeys(t, st, "c", "config.yaml")
	wantKeys(t, st, "manifests/")
	wantKeys(t, st, "refs/tag.nope")
	wantKeys(t, st, "nothing/at/all/")
	wantKeys(t, st, "zzz")
	// Prefixes no valid key can have list nothing (and never escape the store).
	wantKeys(t, st, "../")
	wantKeys(t, st, "/refs/")
	wantKeys(t, st, "refs//")
	wantKeys(t, st, "refs/../")
}

func testListSortOrder(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	// Byte order: '-' (0x2d) < '.' (0x2e) < '/' (0x2f) < '0' < 'A' < '_' < 'a'.
	keys := []string{"a/b", "a.b", "a-b", "a0", "aA", "a_", "ab", "a/a/z", "a/a.z"}
	for i, k := range keys {
		mustPut(t, st, k, []byte(strconv.Itoa(i)))
	}
	want := append([]string{}, keys...)
	sort.Strings(want)
	wantKeys(t, st, "", want...)
	wantKeys(t, st, "a/", "a/a.z", "a/a/z", "a/b")
}

func testListMany(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	writeMany(t, st, "chunks/", s.opts.ManyObjects, s.opts.Parallelism)
	mustPut(t, st, "manifests/M", []byte("m"))
	infos := mustList(t, st, "chunks/")
	checkMany(t, infos, "chunks/", s.opts.ManyObjects)
	if got := len(mustList(t, st, "")); got != s.opts.ManyObjects+1 {
		t.Fatalf("List(\"\") returned %d objects, want %d", got, s.opts.ManyObjects+1)
	}
	// A narrower prefix: keys chunks/00001xx.
	sub := mustList(t, st, "chunks/00001")
	want := 0
	for i := 0; i < s.opts.ManyObjects; i++ {
		if strings.HasPrefix(manyKey("chunks/", i), "chunks/00001") {
			want++
		}
	}
	if len(sub) != want {
		t.Fatalf("List(\"chunks/00001\") returned %d objects, want %d", len(sub), want)
	}
}

func testListBeyondOnePage(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	n := s.opts.PagedObjects
	writeMany(t, st, "p/", n, s.opts.Parallelism)
	checkMany(t, mustList(t, st, "p/"), "p/", n)
	checkMany(t, mustList(t, st, ""), "p/", n)
}

func manyKey(prefix string, i int) string { return fmt.Sprintf("%s%07d", prefix, i) }

func writeMany(t testing.TB, st objstore.Store, prefix string, n, k int) {
	t.Helper()
	ctx := context.Background()
	err := parallel(n, k, func(i int) error {
		_, err := st.Put(ctx, manyKey(prefix, i), []byte(strconv.Itoa(i)))
		return err
	})
	if err != nil {
		t.Fatalf("writing %d objects: %v", n, err)
	}
}

func checkMany(t testing.TB, infos []objstore.ObjectInfo, prefix string, n int) {
	t.Helper()
	if len(infos) != n {
		t.Fatalf("List(%q) returned %d objects, want %d", prefix, len(infos), n)
	}
	for i, in := range infos {
		if want := manyKey(prefix, i); in.Key != want {
			t.Fatalf("List(%q)[%d] = %q, want %q (missing, duplicated or unsorted)", prefix, i, in.Key, want)
		}
		if want := int64(len(strconv.Itoa(i))); in.Size != want {
			t.Fatalf("List(%q)[%d] size %d, want %d", prefix, i, in.Size, want)
		}
	}
}

func testModTime(t *testing.T, s *suite) {
	t0 := time.Date(2001, 2, 3, 4, 5, 6, 789_000_000, time.UTC)
	clock := objstore.NewVirtualClock(t0, 0)
	st := s.newStore(t, clock)
	ctx := context.Background()
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	mustPut(t, st, "a", []byte("a1")) // t0
	clock.Set(at(time.Hour))
	vb := mustPut(t, st, "b", []byte("b1")) // t0+1h
	clock.Set(at(2 * time.Hour))
	mustPut(t, st, "a", []byte("a2")) // t0+2h
	clock.Set(at(3 * time.Hour))
	if _, err := st.PutIfAbsent(ctx, "c", []byte("c")); err != nil { // t0+3h
		t.Fatal(err)
	}
	clock.Set(at(4 * time.Hour))
	if _, err := st.PutIfVersionMatches(ctx, "b", []byte("b2"), vb); err != nil { // t0+4h
		t.Fatal(err)
	}
	clock.Set(at(5 * time.Hour))
	// Failed writes and reads leave times alone.
	if _, err := st.PutIfAbsent(ctx, "c", []byte("x")); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("PutIfAbsent over c: %v", err)
	}
	if _, err := st.PutIfVersionMatches(ctx, "b", []byte("x"), vb); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("stale PutIfVersionMatches on b: %v", err)
	}
	mustGet(t, st, "a")

	want := map[string]time.Time{"a": at(2 * time.Hour), "b": at(4 * time.Hour), "c": at(3 * time.Hour)}
	infos := wantKeys(t, st, "", "a", "b", "c")
	for _, in := range infos {
		if !in.ModTime.Equal(want[in.Key]) {
			t.Errorf("ModTime(%q) = %v, want %v", in.Key, in.ModTime.UTC(), want[in.Key])
		}
	}
}

func testOddKeys(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	ctx := context.Background()
	keys := []string{
		"refs/tag.it works!/ref.json",
		"refs/branch.with space/ref.json",
		"a b/c d!/e  f",
		"!/!!",
		"percent%20sign/plus+and&amp;=?#hash",
		"unicode/ünï©ødé 🧊",
		".hidden/.file",
		"...",
	}
	for i, k := range keys {
		v, err := st.PutIfAbsent(ctx, k, []byte(k))
		if err != nil {
			t.Fatalf("PutIfAbsent(%q): %v", k, err)
		}
		if got := wantContent(t, st, k, []byte(k)); got != v {
			t.Errorf("Get(%q) version %q, want %q", k, got, v)
		}
		if _, err := st.PutIfVersionMatches(ctx, k, []byte(k+strconv.Itoa(i)), v); err != nil {
			t.Fatalf("PutIfVersionMatches(%q): %v", k, err)
		}
	}
	want := append([]string{}, keys...)
	sort.Strings(want)
	wantKeys(t, st, "", want...)
	wantKeys(t, st, "refs/tag.it works!/", "refs/tag.it works!/ref.json")
	wantKeys(t, st, "a b/c d!", "a b/c d!/e  f")
	for _, k := range keys {
		if err := st.Delete(ctx, k); err != nil {
			t.Fatalf("Delete(%q): %v", k, err)
		}
	}
	wantKeys(t, st, "")
}

// InvalidKeys lists keys every store must reject with objstore.ErrInvalidKey.
var InvalidKeys = []string{"", "/", "/abs", "trailing/", "a//b", ".", "..", "./a", "a/.", "a/../b", "back\\slash", "nul\x00byte"}

func testInvalidKeys(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	ctx := context.Background()
	v := mustPut(t, st, "valid", []byte("x"))
	for _, key := range InvalidKeys {
		if _, _, err := st.Get(ctx, key); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Get(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if _, err := st.Put(ctx, key, []byte("x")); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Put(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if _, err := st.PutIfAbsent(ctx, key, []byte("x")); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("PutIfAbsent(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if _, err := st.PutIfVersionMatches(ctx, key, []byte("x"), v); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("PutIfVersionMatches(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if err := st.Delete(ctx, key); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Delete(%q) error = %v, want ErrInvalidKey", key, err)
		}
	}
	wantKeys(t, st, "", "valid")
	wantContent(t, st, "valid", []byte("x"))
}

func testContextCanceled(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	v := mustPut(t, st, "present", []byte("x"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: error = %v, want context.Canceled", op, err)
		}
	}
	_, _, err := st.Get(ctx, "present")
	check("Get", err)
	_, err = st.Put(ctx, "new", []byte("y"))
	check("Put", err)
	_, err = st.PutIfAbsent(ctx, "new2", []byte("y"))
	check("PutIfAbsent", err)
	_, err = st.PutIfVersionMatches(ctx, "present", []byte("y"), v)
	check("PutIfVersionMatches", err)
	check("Delete", st.Delete(ctx, "present"))
	_, err = st.List(ctx, "")
	check("List", err)
	// Nothing happened.
	wantKeys(t, st, "", "present")
	if got := wantContent(t, st, "present", []byte("x")); got != v {
		t.Errorf("version changed from %q to %q", v, got)
	}
}

func testErrorsNameKey(t *testing.T, s *suite) {
	st := s.newStore(t, nil)
	ctx := context.Background()
	v := mustPut(t, st, "refs/branch.main/ref.json", []byte("x"))
	_, _, err := st.Get(ctx, "snapshots/NOTTHERE")
	if err == nil || !strings.Contains(err.Error(), "snapshots/NOTTHERE") {
		t.Errorf("Get error %v does not name the key", err)
	}
	_, err = st.PutIfAbsent(ctx, "refs/branch.main/ref.json", []byte("y"))
	if err == nil || !strings.Contains(err.Error(), "refs/branch.main/ref.json") {
		t.Errorf("PutIfAbsent error %v does not name the key", err)
	}
	_, err = st.PutIfVersionMatches(ctx, "refs/branch.main/ref.json", []byte("y"), v+"x")
	if err == nil || !strings.Contains(err.Error(), "refs/branch.main/ref.json") {
		t.Errorf("PutIfVersionMatches error %v does not name the key", err)
	}
	_, err = st.Put(ctx, "bad//key", nil)
	if err == nil || !strings.Contains(err.Error(), "bad//key") {
		t.Errorf("Put error %v does not name the key", err)
	}
}
