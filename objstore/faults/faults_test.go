package faults_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/faults"
	"github.com/icerig/icerig/objstore/local"
	"github.com/icerig/icerig/objstore/memory"
	"github.com/icerig/icerig/objstore/storetest"
)

// With no rules the wrapper must be invisible.
func TestConformanceMemory(t *testing.T) {
	storetest.TestStore(t, func(t testing.TB, clock objstore.Clock) objstore.Store {
		return faults.New(memory.New(clock))
	}, storetest.Options{})
}

func TestConformanceLocal(t *testing.T) {
	storetest.TestStore(t, func(t testing.TB, clock objstore.Clock) objstore.Store {
		st, err := local.Open(t.TempDir(), clock)
		if err != nil {
			t.Fatal(err)
		}
		return faults.New(st)
	}, storetest.Options{})
}

func addRule(t *testing.T, s *faults.Store, r faults.Rule) {
	t.Helper()
	if err := s.AddRule(r); err != nil {
		t.Fatal(err)
	}
}

func TestNthOperation(t *testing.T) {
	ctx := context.Background()
	s := faults.New(memory.New(nil))
	addRule(t, s, faults.Rule{Nth: 3})
	var errs []error
	for _, k := range []string{"a", "b", "c", "d"} {
		_, err := s.Put(ctx, k, []byte(k))
		errs = append(errs, err)
	}
	for i, err := range errs {
		if (i == 2) != errors.Is(err, faults.ErrInjected) || (i != 2 && err != nil) {
			t.Errorf("put #%d: error %v; want ErrInjected only for #3", i+1, err)
		}
	}
	if _, _, err := s.Inner().Get(ctx, "c"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("the failed put reached the store: %v", err)
	}
	if s.Ops() != 4 || s.Fired() != 1 || s.Crashed() {
		t.Errorf("Ops=%d Fired=%d Crashed=%v, want 4, 1, false", s.Ops(), s.Fired(), s.Crashed())
	}
}

func TestNthOperationOfAKind(t *testing.T) {
	ctx := context.Background()
	s := faults.New(memory.New(nil))
	boom := errors.New("boom")
	addRule(t, s, faults.Rule{Op: objstore.OpPut, Nth: 2, Err: boom})
	if _, err := s.Put(ctx, "a", nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // other kinds do not count
		if _, _, err := s.Get(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Put(ctx, "b", nil)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("second put: error %v, want boom naming the key", err)
	}
	if _, err := s.Put(ctx, "c", nil); err != nil {
		t.Fatalf("third put: %v (the rule fires once)", err)
	}
}

func TestEveryMatchingKey(t *testing.T) {
	ctx := context.Background()
	s := faults.New(memory.New(nil))
	addRule(t, s, faults.Rule{Key: "refs/*/ref.json", Err: objstore.ErrPreconditionFailed})
	addRule(t, s, faults.Rule{Op: objstore.OpGet, KeyRegexp: regexp.MustCompile(`^chunks/X`)})
	for i := 0; i < 2; i++ {
		if _, err := s.PutIfAbsent(ctx, "refs/branch.main/ref.json", nil); !errors.Is(err, objstore.ErrPreconditionFailed) {
			t.Fatalf("ref write #%d: %v, want a faked lost race", i+1, err)
		}
	}
	if _, err := s.Put(ctx, "refs/branch.main/other", nil); err != nil {
		t.Fatalf("non-matching key failed: %v", err)
	}
	for _, k := range []string{"chunks/XA", "chunks/AX"} {
		if _, err := s.Put(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Get(ctx, "chunks/XA"); !errors.Is(err, faults.ErrInjected) {
		t.Errorf("Get(chunks/XA): %v, want ErrInjected", err)
	}
	if _, _, err := s.Get(ctx, "chunks/AX"); err != nil {
		t.Errorf("Get(chunks/AX): %v", err)
	}
	if _, err := s.List(ctx, "refs/x/ref.json"); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Errorf("List with a matching prefix: %v, want the rule's error", err)
	}
	if err := s.AddRule(faults.Rule{Key: "[bad"}); err == nil {
		t.Error("AddRule accepted a malformed pattern")
	}
}

func TestCrash(t *testing.T) {
	ctx := context.Background()
	for _, after := range []bool{false, true} {
		inner := memory.New(nil)
		s := faults.New(inner)
		addRule(t, s, faults.Rule{Key: "snapshots/*", Crash: true, AfterApply: after})
		if _, err := s.Put(ctx, "chunks/C", []byte("c")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, "snapshots/S", []byte("s")); !errors.Is(err, faults.ErrCrashed) {
			t.Fatalf("crashing put: %v, want ErrCrashed", err)
		}
		if !s.Crashed() {
			t.Fatal("Crashed() = false after the crash rule fired")
		}
		if _, _, err := s.Get(ctx, "chunks/C"); !errors.Is(err, faults.ErrCrashed) {
			t.Fatalf("Get after crash: %v, want ErrCrashed", err)
		}
		if err := s.Delete(ctx, "chunks/C"); !errors.Is(err, faults.ErrCrashed) {
			t.Fatalf("Delete after crash: %v, want ErrCrashed", err)
		}
		_, _, err := inner.Get(ctx, "snapshots/S")
		if after && err != nil {
			t.Errorf("AfterApply: the write did not land: %v", err)
		}
		if !after && !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("crash before apply: the write landed (%v)", err)
		}
		if _, _, err := inner.Get(ctx, "chunks/C"); err != nil {
			t.Errorf("the delete after the crash reached the store: %v", err)
		}
	}
}

// commit mimics a library commit: chunk, snapshot, then the ref by CAS.
func commit(ctx context.Context, st objstore.Store, id string) error {
	if _, err := st.Put(ctx, "chunks/"+id, []byte("chunk "+id)); err != nil {
		return err
	}
	if _, err := st.Put(ctx, "snapshots/"+id, []byte("chunks/"+id)); err != nil {
		return err
	}
	_, v, err := st.Get(ctx, "refs/branch.main/ref.json")
	if errors.Is(err, objstore.ErrNotFound) {
		_, err = st.PutIfAbsent(ctx, "refs/branch.main/ref.json", []byte("snapshots/"+id))
		return err
	}
	if err != nil {
		return err
	}
	_, err = st.PutIfVersionMatches(ctx, "refs/branch.main/ref.json", []byte("snapshots/"+id), v)
	return err
}

func workload(ctx context.Context, st objstore.Store) error {
	for _, id := range []string{"A", "B", "C"} {
		if err := commit(ctx, st, id); err != nil {
			return err
		}
	}
	return nil
}

func TestCrashAtEveryOperation(t *testing.T) {
	ctx := context.Background()
	probe := faults.New(memory.New(nil))
	if err := workload(ctx, probe); err != nil {
		t.Fatal(err)
	}
	n := probe.Ops()
	if n != 12 {
		t.Fatalf("workload performed %d operations, want 12", n)
	}
	for i := 1; i <= n; i++ {
		inner := memory.New(nil)
		st := faults.New(inner)
		addRule(t, st, faults.Rule{Nth: i, Crash: true})
		err := workload(ctx, st)
		if !errors.Is(err, faults.ErrCrashed) {
			t.Fatalf("crash at op %d: workload returned %v", i, err)
		}
		if st.Ops() != i {
			t.Fatalf("crash at op %d: %d operations were attempted, want %d", i, st.Ops(), i)
		}
		// What survived is consistent: a ref, if any, names a snapshot that exists.
		ref, _, err := inner.Get(ctx, "refs/branch.main/ref.json")
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := inner.Get(ctx, string(ref)); err != nil {
			t.Errorf("crash at op %d: ref points to %s: %v", i, ref, err)
		}
	}
}
