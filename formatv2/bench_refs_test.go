package formatv2

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/memory"
)

// benchRefsBranches and benchRefsSnapshots size the repository of
// BenchmarkSpec2RefLookups: 200 snapshots on main and 50 branches spread
// over them (plus 10 tags).
const (
	benchRefsBranches  = 50
	benchRefsSnapshots = 200
	benchRefsTags      = 10
)

// benchRefsRepo builds a spec-2 repository on a memory store with
// benchRefsSnapshots snapshots on main, benchRefsBranches branches (main
// and branch-1..49) and benchRefsTags tags at snapshots spread over main's
// history. It returns the repository, its store, the snapshots (oldest
// first) and the branch names.
func benchRefsRepo(b *testing.B) (*Repository, *memory.Store, []ObjectID, []string) {
	b.Helper()
	ctx := context.Background()
	clock := objstore.NewVirtualClock(mtEpoch, time.Millisecond)
	mem := memory.New(clock)
	r := benchCreate(b, mem, SpecVersion2, nil, Options{Clock: clock, Rand: mtRand(7)})
	s, err := r.WritableSession(ctx, "main")
	benchNoErr(b, err)
	snaps := []ObjectID{InitialSnapshotID}
	for i := 1; i < benchRefsSnapshots; i++ {
		benchNoErr(b, s.Set(ctx, "zarr.json", benchGroupDoc(i)))
		id, err := s.Commit(ctx, fmt.Sprint("commit ", i), map[string]any{"i": i})
		benchNoErr(b, err)
		snaps = append(snaps, id)
	}
	names := []string{mainBranch}
	for i := 1; i < benchRefsBranches; i++ {
		name := fmt.Sprintf("branch-%d", i)
		benchNoErr(b, r.CreateBranch(ctx, name, snaps[i*len(snaps)/benchRefsBranches]))
		names = append(names, name)
	}
	for i := range benchRefsTags {
		benchNoErr(b, r.CreateTag(ctx, fmt.Sprintf("tag-%d", i), snaps[i*len(snaps)/benchRefsTags]))
	}
	return r, mem, snaps, names
}

// BenchmarkSpec2RefLookups measures ref lookups on a spec-2 repository of
// 200 snapshots, 50 branches and 10 tags on the memory backend: each
// lookup reads the `repo` object from the store (another client may have
// changed it) and finds the ref in it. Sub-benchmarks: LookupBranch and
// ResolveRef of a branch (cycling over the 50 branches), ResolveRef of a
// snapshot id (which also reads that snapshot file), ListBranches, and the
// ancestry of a branch tip.
func BenchmarkSpec2RefLookups(b *testing.B) {
	r, _, snaps, names := benchRefsRepo(b)
	ctx := context.Background()
	b.Run("LookupBranch", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := r.LookupBranch(ctx, names[i%len(names)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ResolveBranch", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := r.ResolveRef(ctx, BranchRef(names[i%len(names)])); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ResolveSnapshot", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := r.ResolveRef(ctx, SnapshotRef(snaps[i%len(snaps)])); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ListBranches", func(b *testing.B) {
		for b.Loop() {
			m, err := r.ListBranches(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if len(m) != benchRefsBranches {
				b.Fatalf("%d branches, want %d", len(m), benchRefsBranches)
			}
		}
	})
	b.Run("Ancestry", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := r.Ancestry(ctx, snaps[i%len(snaps)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
