package formatv1

// Benchmarks on the local-directory backend (every write fsynced, as in
// production). Run them with
//
//	go test -run='^$' -bench=. -benchtime=1x ./formatv1
//
// (or the default -benchtime). Repositories too large to build through the
// fsynced store in reasonable time (1,000 commits, 100,000 chunks) are built
// through the library on a memory store and then written out as files,
// modification times preserved.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/local"
	"github.com/icerig/icerig/objstore/memory"
)

// benchArrayDoc is a one-dimensional uint8 array of n one-byte chunks.
func benchArrayDoc(n int) []byte {
	return []byte(fmt.Sprintf(`{"zarr_format":3,"node_type":"array","shape":[%d],"data_type":"uint8",`+
		`"chunk_grid":{"name":"regular","configuration":{"chunk_shape":[1]}},`+
		`"chunk_key_encoding":{"name":"default","configuration":{"separator":"/"}},`+
		`"fill_value":0,"codecs":[{"name":"bytes","configuration":{"endian":"little"}}],"attributes":{}}`, n))
}

func benchNoErr(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// benchChunk is a chunk value: size bytes derived from i.
func benchChunk(i, size int) []byte {
	v := bytes.Repeat([]byte{byte(i)}, size)
	copy(v, fmt.Sprint(i))
	return v
}

// benchSet writes chunks [from, to) of array name, each size bytes.
func benchSet(b *testing.B, s *Session, name string, from, to, size, salt int) {
	b.Helper()
	ctx := context.Background()
	for i := from; i < to; i++ {
		if err := s.Set(ctx, fmt.Sprintf("%s/c/%d", name, i), benchChunk(i+salt, size)); err != nil {
			b.Fatal(err)
		}
	}
}

// benchMaterialize writes every object of a memory store as a file under
// dir, the way the local backend lays them out, with the store's
// modification times. Nothing is fsynced: this is benchmark setup.
func benchMaterialize(b *testing.B, mem *memory.Store, dir string, only map[string]bool) {
	b.Helper()
	ctx := context.Background()
	objs, err := mem.List(ctx, "")
	benchNoErr(b, err)
	made := map[string]bool{}
	for _, o := range objs {
		if only != nil && !only[o.Key] {
			continue
		}
		data, _, err := mem.Get(ctx, o.Key)
		benchNoErr(b, err)
		p := filepath.Join(dir, filepath.FromSlash(o.Key))
		if d := filepath.Dir(p); !made[d] {
			benchNoErr(b, os.MkdirAll(d, 0o755))
			made[d] = true
		}
		benchNoErr(b, os.WriteFile(p, data, 0o644))
		benchNoErr(b, os.Chtimes(p, o.ModTime, o.ModTime))
	}
}

// BenchmarkCommit measures commits of a small change (one chunk of 1 KiB,
// in an array of its own) and of a large one (1,000 chunks of 1 KiB), each
// chunk a separate fsynced object.
func BenchmarkCommit(b *testing.B) {
	ctx := context.Background()
	st, err := local.Open(b.TempDir(), nil)
	benchNoErr(b, err)
	r, err := Create(ctx, st, nil, Options{})
	benchNoErr(b, err)
	s, err := r.WritableSession(ctx, "main")
	benchNoErr(b, err)
	benchNoErr(b, s.Set(ctx, "zarr.json", []byte(mtGroupDoc)))
	benchNoErr(b, s.Set(ctx, "small/zarr.json", benchArrayDoc(1)))
	benchNoErr(b, s.Set(ctx, "big/zarr.json", benchArrayDoc(1000)))
	benchSet(b, s, "big", 0, 1000, 1024, 0)
	_, err = s.Commit(ctx, "setup", nil)
	benchNoErr(b, err)

	for _, tc := range []struct {
		name   string
		array  string
		chunks int
	}{{"1-chunk", "small", 1}, {"1000-chunks", "big", 1000}} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				s, err := r.WritableSession(ctx, "main")
				benchNoErr(b, err)
				benchSet(b, s, tc.array, 0, tc.chunks, 1024, i+1)
				if _, err := s.Commit(ctx, fmt.Sprint(tc.name, " ", i), nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(tc.chunks*b.N)/b.Elapsed().Seconds(), "chunks/s")
		})
	}
}

// BenchmarkOpenRead measures opening a repository handle and reading one
// 1 KiB chunk of the main branch's tip.
func BenchmarkOpenRead(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	st, err := local.Open(dir, nil)
	benchNoErr(b, err)
	r, err := Create(ctx, st, nil, Options{})
	benchNoErr(b, err)
	s, err := r.WritableSession(ctx, "main")
	benchNoErr(b, err)
	benchNoErr(b, s.Set(ctx, "zarr.json", []byte(mtGroupDoc)))
	benchNoErr(b, s.Set(ctx, "a/zarr.json", benchArrayDoc(16)))
	benchSet(b, s, "a", 0, 16, 1024, 0)
	_, err = s.Commit(ctx, "setup", nil)
	benchNoErr(b, err)
	want := benchChunk(7, 1024)

	for b.Loop() {
		st, err := local.Open(dir, nil)
		benchNoErr(b, err)
		r, err := Open(ctx, st, Options{})
		benchNoErr(b, err)
		s, err := r.ReadonlySession(ctx, BranchRef("main"))
		benchNoErr(b, err)
		got, err := s.Get(ctx, "a/c/7")
		benchNoErr(b, err)
		if !bytes.Equal(got, want) {
			b.Fatal("read the wrong chunk")
		}
	}
}

// BenchmarkAncestry1000 measures walking the ancestry of a branch of 1,000
// commits (1,001 snapshots, each read from its file and decoded).
func BenchmarkAncestry1000(b *testing.B) {
	const commits = 1000
	ctx := context.Background()
	clock := objstore.NewVirtualClock(mtEpoch, time.Second)
	mem := memory.New(clock)
	r, err := Create(ctx, mem, nil, Options{Clock: clock})
	benchNoErr(b, err)
	for i := range commits {
		s, err := r.WritableSession(ctx, "main")
		benchNoErr(b, err)
		if i == 0 {
			benchNoErr(b, s.Set(ctx, "zarr.json", []byte(mtGroupDoc)))
			benchNoErr(b, s.Set(ctx, "a/zarr.json", benchArrayDoc(4)))
		}
		benchNoErr(b, s.Set(ctx, fmt.Sprintf("a/c/%d", i%4), []byte{byte(i)}))
		_, err = s.Commit(ctx, fmt.Sprint("commit ", i), nil)
		benchNoErr(b, err)
	}
	dir := b.TempDir()
	benchMaterialize(b, mem, dir, nil)
	st, err := local.Open(dir, nil)
	benchNoErr(b, err)
	lr, err := Open(ctx, st, Options{})
	benchNoErr(b, err)
	tip, err := lr.LookupBranch(ctx, "main")
	benchNoErr(b, err)

	for b.Loop() {
		anc, err := lr.Ancestry(ctx, tip)
		benchNoErr(b, err)
		if len(anc) != commits+1 {
			b.Fatalf("ancestry has %d snapshots, want %d", len(anc), commits+1)
		}
	}
	b.ReportMetric(float64((commits+1)*b.N)/b.Elapsed().Seconds(), "snapshots/s")
}

// BenchmarkGC100kChunks measures GarbageCollect over a repository of
// 100,000 chunk objects: commit 1 writes 99,000 chunks, commit 2 rewrites
// 1,000 of them, and expiration releases commit 1, so GC keeps 99,000
// chunks and collects 1,000 chunks, one snapshot, one transaction log and
// one manifest (of 99,000 refs). "dry-run" only decides; "delete" also
// deletes (each deletion fsynced; the garbage is restored, untimed, before
// every iteration). Each iteration uses a fresh handle (cold cache).
func BenchmarkGC100kChunks(b *testing.B) {
	const (
		kept    = 99_000
		garbage = 1_000
	)
	ctx := context.Background()
	clock := objstore.NewVirtualClock(mtEpoch, 0)
	mem := memory.New(clock)
	cfg := DefaultConfig()
	cfg.SetInlineChunkThresholdBytes(0)
	r, err := Create(ctx, mem, cfg, Options{Clock: clock})
	benchNoErr(b, err)
	clock.Advance(time.Minute)
	s, err := r.WritableSession(ctx, "main")
	benchNoErr(b, err)
	benchNoErr(b, s.Set(ctx, "zarr.json", []byte(mtGroupDoc)))
	benchNoErr(b, s.Set(ctx, "a/zarr.json", benchArrayDoc(kept)))
	benchSet(b, s, "a", 0, kept, 16, 0)
	_, err = s.Commit(ctx, "write everything", nil)
	benchNoErr(b, err)
	clock.Advance(time.Minute)
	cutoff := clock.Peek()
	clock.Advance(time.Minute)
	benchSet(b, s, "a", 0, garbage, 16, 1)
	_, err = s.Commit(ctx, "rewrite some", nil)
	benchNoErr(b, err)
	clock.Advance(time.Minute)
	res, err := r.ExpireSnapshots(ctx, cutoff, false, false)
	benchNoErr(b, err)
	if len(res.ReleasedSnapshots) != 1 {
		b.Fatalf("expiration released %d snapshots, want 1", len(res.ReleasedSnapshots))
	}
	clock.Advance(time.Minute)
	gcCutoff := clock.Peek()
	chunks, err := mem.List(ctx, chunksPrefix)
	benchNoErr(b, err)
	if len(chunks) != kept+garbage {
		b.Fatalf("%d chunk objects, want %d", len(chunks), kept+garbage)
	}
	dir := b.TempDir()
	benchMaterialize(b, mem, dir, nil)
	st, err := local.Open(dir, nil)
	benchNoErr(b, err)
	before, err := st.List(ctx, "")
	benchNoErr(b, err)
	want := GCSummary{SnapshotsDeleted: 1, TransactionLogsDeleted: 1, ManifestsDeleted: 1, ChunksDeleted: garbage}
	check := func(b *testing.B, sum *GCSummary) {
		got := *sum
		got.BytesDeleted = 0
		if got != want {
			b.Fatalf("GC summary %+v, want counts %+v", *sum, want)
		}
	}

	b.Run("dry-run", func(b *testing.B) {
		for b.Loop() {
			lr, err := Open(ctx, st, Options{})
			benchNoErr(b, err)
			sum, err := lr.GarbageCollect(ctx, gcCutoff, true)
			benchNoErr(b, err)
			check(b, sum)
		}
		b.ReportMetric(float64((kept+garbage)*b.N)/b.Elapsed().Seconds(), "chunks/s")
	})

	var deleted map[string]bool
	b.Run("delete", func(b *testing.B) {
		for b.Loop() {
			if deleted != nil {
				b.StopTimer()
				benchMaterialize(b, mem, dir, deleted)
				b.StartTimer()
			}
			lr, err := Open(ctx, st, Options{})
			benchNoErr(b, err)
			sum, err := lr.GarbageCollect(ctx, gcCutoff, false)
			benchNoErr(b, err)
			check(b, sum)
			if deleted == nil {
				b.StopTimer()
				after, err := st.List(ctx, "")
				benchNoErr(b, err)
				left := map[string]bool{}
				for _, o := range after {
					left[o.Key] = true
				}
				deleted = map[string]bool{}
				for _, o := range before {
					if !left[o.Key] {
						deleted[o.Key] = true
					}
				}
				if n := countPrefix(deleted, chunksPrefix); len(deleted) != garbage+3 || n != garbage {
					b.Fatalf("GC deleted %d objects (%d chunks), want %d (%d chunks)", len(deleted), n, garbage+3, garbage)
				}
				b.StartTimer()
			}
		}
		b.ReportMetric(float64((kept+garbage)*b.N)/b.Elapsed().Seconds(), "chunks/s")
	})
}

// countPrefix counts the keys of set with the prefix.
func countPrefix(set map[string]bool, prefix string) int {
	n := 0
	for k := range set {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}
