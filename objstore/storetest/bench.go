package storetest

import (
	"context"
	"strconv"
	"testing"
)

// benchKeys bounds how many distinct keys the write benchmarks use, so the
// memory backend does not hold b.N large objects.
const benchKeys = 64

// BenchmarkStore measures a backend: Put and Get throughput for 4 KiB and
// 4 MiB objects (b.SetBytes, so `go test -bench` reports MB/s) and the
// latency of PutIfVersionMatches and PutIfAbsent on small objects. Each
// sub-benchmark gets a fresh store from newStore (called with a nil clock).
func BenchmarkStore(b *testing.B, newStore NewStoreFunc) {
	sizes := []struct {
		name string
		n    int
	}{{"4KiB", 4 << 10}, {"4MiB", 4 << 20}}
	for _, sz := range sizes {
		b.Run("Put/"+sz.name, func(b *testing.B) {
			st := newStore(b, nil)
			data := randomBytes(7, sz.n)
			ctx := context.Background()
			b.SetBytes(int64(sz.n))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := st.Put(ctx, "bench/put/"+strconv.Itoa(i%benchKeys), data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Get/"+sz.name, func(b *testing.B) {
			st := newStore(b, nil)
			data := randomBytes(8, sz.n)
			ctx := context.Background()
			for i := 0; i < 8; i++ {
				mustPut(b, st, "bench/get/"+strconv.Itoa(i), data)
			}
			b.SetBytes(int64(sz.n))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				got, _, err := st.Get(ctx, "bench/get/"+strconv.Itoa(i%8))
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != sz.n {
					b.Fatalf("Get returned %d bytes, want %d", len(got), sz.n)
				}
			}
		})
	}
	b.Run("PutIfVersionMatches/4KiB", func(b *testing.B) {
		st := newStore(b, nil)
		data := randomBytes(9, 4<<10)
		ctx := context.Background()
		v := mustPut(b, st, "bench/repo", data)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			nv, err := st.PutIfVersionMatches(ctx, "bench/repo", data, v)
			if err != nil {
				b.Fatal(err)
			}
			v = nv
		}
	})
	b.Run("PutIfAbsent/4KiB", func(b *testing.B) {
		st := newStore(b, nil)
		data := randomBytes(10, 4<<10)
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := st.PutIfAbsent(ctx, "bench/pia/"+strconv.Itoa(i), data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
