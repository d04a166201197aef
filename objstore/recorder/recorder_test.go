package recorder_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/local"
	"github.com/icerig/icerig/objstore/memory"
	"github.com/icerig/icerig/objstore/recorder"
	"github.com/icerig/icerig/objstore/storetest"
)

func TestConformanceMemory(t *testing.T) {
	storetest.TestStore(t, func(t testing.TB, clock objstore.Clock) objstore.Store {
		return recorder.New(memory.New(clock))
	}, storetest.Options{})
}

func TestConformanceLocal(t *testing.T) {
	storetest.TestStore(t, func(t testing.TB, clock objstore.Clock) objstore.Store {
		st, err := local.Open(t.TempDir(), clock)
		if err != nil {
			t.Fatal(err)
		}
		return recorder.New(st)
	}, storetest.Options{})
}

func TestLog(t *testing.T) {
	ctx := context.Background()
	s := recorder.New(memory.New(nil))
	v1, _ := s.Put(ctx, "chunks/A", []byte("abc"))
	s.PutIfAbsent(ctx, "refs/tag.t/ref.json", []byte("{}"))
	s.PutIfAbsent(ctx, "refs/tag.t/ref.json", []byte("{}"))
	s.PutIfVersionMatches(ctx, "chunks/A", []byte("de"), v1)
	s.Get(ctx, "missing")
	s.List(ctx, "refs/")
	s.Delete(ctx, "chunks/A")

	log := s.Log()
	want := []struct {
		op   objstore.Op
		key  string
		size int
		err  error
	}{
		{objstore.OpPut, "chunks/A", 3, nil},
		{objstore.OpPutIfAbsent, "refs/tag.t/ref.json", 2, nil},
		{objstore.OpPutIfAbsent, "refs/tag.t/ref.json", 2, objstore.ErrPreconditionFailed},
		{objstore.OpPutIfVersionMatches, "chunks/A", 2, nil},
		{objstore.OpGet, "missing", 0, objstore.ErrNotFound},
		{objstore.OpList, "refs/", 1, nil},
		{objstore.OpDelete, "chunks/A", 0, nil},
	}
	if len(log) != len(want) {
		t.Fatalf("log has %d entries, want %d: %v", len(log), len(want), log)
	}
	for i, w := range want {
		e := log[i]
		if e.Seq != i+1 || e.Op != w.op || e.Key != w.key || e.Size != w.size {
			t.Errorf("entry %d = %v, want %s %q size %d", i, e, w.op, w.key, w.size)
		}
		if (w.err == nil) != (e.Err == nil) || (w.err != nil && !errors.Is(e.Err, w.err)) {
			t.Errorf("entry %d error = %v, want %v", i, e.Err, w.err)
		}
	}
	if log[3].Expected != v1 || log[3].Version == "" || log[3].Version == v1 {
		t.Errorf("conditional put entry %v: want Expected %q and a new Version", log[3], v1)
	}
	if got := log[2].String(); got != `3 put-if-absent "refs/tag.t/ref.json" 2B -> error: `+log[2].Err.Error() {
		t.Errorf("String() = %q", got)
	}
	// Log returns a copy.
	log[0].Key = "changed"
	if s.Log()[0].Key != "chunks/A" {
		t.Error("Log exposes the internal slice")
	}
	s.Reset()
	if len(s.Log()) != 0 {
		t.Fatal("Reset left entries")
	}
	s.Get(ctx, "x")
	if e := s.Log(); len(e) != 1 || e[0].Seq != 1 {
		t.Fatalf("after Reset: %v", e)
	}
}

func TestConcurrentRecording(t *testing.T) {
	ctx := context.Background()
	s := recorder.New(memory.New(nil))
	const n = 64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Put(ctx, "k/"+strconv.Itoa(i), nil)
		}()
	}
	wg.Wait()
	log := s.Log()
	if len(log) != n {
		t.Fatalf("%d entries for %d operations", len(log), n)
	}
	keys := map[string]bool{}
	for i, e := range log {
		if e.Seq != i+1 {
			t.Fatalf("entry %d has Seq %d", i, e.Seq)
		}
		keys[e.Key] = true
	}
	if len(keys) != n {
		t.Fatalf("%d distinct keys recorded, want %d", len(keys), n)
	}
}
