package azure_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/icerig/icerig/internal/azurite"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/azure"
	"github.com/icerig/icerig/objstore/storetest"
)

func TestMain(m *testing.M) { os.Exit(azurite.Main(m)) }

// newStore opens a store on a fresh container of the shared emulator, under
// a prefix so the prefix handling is exercised too.
func newStore(t testing.TB, clock objstore.Clock) objstore.Store {
	srv := azurite.Shared(t)
	st, err := azure.Open(context.Background(), srv.ConnectionString(), srv.Container(t), "some/prefix", clock)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestConformance(t *testing.T) {
	storetest.TestStore(t, newStore, storetest.Options{ManyObjects: 300, PagedObjects: 5001, Parallelism: 32})
}

func BenchmarkAzure(b *testing.B) { storetest.BenchmarkStore(b, newStore) }

func TestPrefixesIsolateStores(t *testing.T) {
	srv := azurite.Shared(t)
	ctx := context.Background()
	name := srv.Container(t)
	open := func(prefix string) *azure.Store {
		st, err := azure.Open(ctx, srv.ConnectionString(), name, prefix, nil)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	a, b, root := open("/repos/a/"), open("repos/b"), open("")
	if got := a.String(); got != "az://"+name+"/repos/a" {
		t.Errorf("String() = %q", got)
	}
	if _, err := a.Put(ctx, "refs/branch.main/ref.json", []byte("A")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "refs/branch.main/ref.json", []byte("BB")); err != nil {
		t.Fatal(err)
	}
	infos, err := a.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Key != "refs/branch.main/ref.json" || infos[0].Size != 1 {
		t.Fatalf("store a lists %+v", infos)
	}
	infos, err = root.List(ctx, "repos/")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].Key != "repos/a/refs/branch.main/ref.json" || infos[1].Key != "repos/b/refs/branch.main/ref.json" {
		t.Fatalf("container root lists %+v, want both prefixed blobs", infos)
	}
	data, _, err := root.Get(ctx, "repos/b/refs/branch.main/ref.json")
	if err != nil || string(data) != "BB" {
		t.Fatalf("blob name is not <prefix>/<key>: %q, %v", data, err)
	}
	if _, err := azure.Open(ctx, srv.ConnectionString(), name, "bad//prefix", nil); err == nil {
		t.Error("Open accepted the prefix bad//prefix")
	}
}

func TestModTimeWithoutClockIsLastModified(t *testing.T) {
	srv := azurite.Shared(t)
	ctx := context.Background()
	name := srv.Container(t)
	virtual := objstore.NewVirtualClock(time.Date(1999, 12, 31, 23, 59, 59, 123456789, time.UTC), 0)
	clocked, err := azure.Open(ctx, srv.ConnectionString(), name, "", virtual)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := azure.Open(ctx, srv.ConnectionString(), name, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clocked.Put(ctx, "clocked", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Put(ctx, "plain", []byte("y")); err != nil {
		t.Fatal(err)
	}
	infos, err := plain.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 {
		t.Fatalf("List = %+v", infos)
	}
	if !infos[0].ModTime.Equal(virtual.Peek()) {
		t.Errorf("clocked object ModTime = %v, want the virtual clock's %v (nanoseconds kept)", infos[0].ModTime, virtual.Peek())
	}
	if infos[1].ModTime.IsZero() || infos[1].ModTime.Year() < 2020 {
		t.Errorf("object written without a clock has ModTime %v, want the service's Last-Modified", infos[1].ModTime)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := azure.Open(ctx, "UseDevelopmentStorage=true", "c1", "", nil); err == nil || !strings.Contains(err.Error(), "BlobEndpoint") {
		t.Errorf("Open(UseDevelopmentStorage=true) error = %v, want one explaining BlobEndpoint is needed", err)
	}
	if _, err := azure.Open(ctx, "", "c1", "", nil); err == nil {
		t.Error("Open accepted an empty connection string")
	}
	srv := azurite.Shared(t)
	if _, err := azure.Open(ctx, srv.ConnectionString(), "Bad_Container", "", nil); err == nil || !strings.Contains(err.Error(), "Bad_Container") {
		t.Errorf("Open with an invalid container name: error = %v, want one naming it", err)
	}
	// Opening an existing container is fine.
	name := srv.Container(t)
	for i := 0; i < 2; i++ {
		if _, err := azure.Open(ctx, srv.ConnectionString(), name, "", nil); err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
	}
}
