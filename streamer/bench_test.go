package streamer

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/icerig/icerig/internal/azurite"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/recorder"
)

// Benchmarks of the production workload. The streaming benchmark simulates
// cron: one run per 15 minutes of data, each a fresh Streamer (a new
// process in production) doing discovery, resume, one window commit and
// the invariant check, on a fresh target. By default it simulates 6 hours
// (24 runs); ICESTREAM_BENCH_DAYS=N simulates N days (7: the full week of
// 672 runs). Per-week figures are per-run figures times 672: measured when
// the week ran, extrapolated otherwise (with days_per_file: 1 every day is
// a fresh repository, so on the local filesystem days cost alike; Azurite's
// operations slow down as its blob count grows, see s/run-last-hour).
//
//	go run ./internal/azurite/cmd/with-azurite -- env ICESTREAM_BENCH_DAYS=7 \
//	    go test -run='^$' -bench='Stream|Read' -benchtime=1x -timeout=6h ./streamer

// benchRuns is the number of 15-minute runs the streaming benchmark makes.
func benchRuns(b *testing.B) int {
	b.Helper()
	s := os.Getenv("ICESTREAM_BENCH_DAYS")
	if s == "" {
		return 24
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 31 {
		b.Fatalf("ICESTREAM_BENCH_DAYS=%q: want 1 to 31", s)
	}
	return n * 96
}

// benchTarget opens a fresh target of the named backend.
func benchTarget(b *testing.B, backend string) objstore.Store {
	b.Helper()
	ctx := context.Background()
	var raw, conn string
	switch backend {
	case "local":
		raw = b.TempDir()
	case "azurite":
		srv := azurite.Shared(b)
		raw, conn = "az://"+srv.Container(b)+"/bench", srv.ConnectionString()
	default:
		b.Fatalf("unknown backend %s", backend)
	}
	st, err := OpenTargetConn(ctx, raw, conn, nil)
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// recordingTarget counts the bytes written through it but, unlike a bare
// recorder, keeps the target's delimiter listing.
type recordingTarget struct {
	*recorder.Store
	dirs DirLister
}

func (r recordingTarget) ListDirs(ctx context.Context, prefix string) ([]string, error) {
	return r.dirs.ListDirs(ctx, prefix)
}

func writtenBytes(rec *recorder.Store) (written int64, puts int) {
	for _, e := range rec.Log() {
		switch e.Op {
		case objstore.OpPut, objstore.OpPutIfAbsent, objstore.OpPutIfVersionMatches:
			if e.Err == nil {
				written += int64(e.Size)
				puts++
			}
		}
	}
	return written, puts
}

func storedBytes(b *testing.B, st objstore.Store) (bytes int64, objects int) {
	b.Helper()
	infos, err := st.List(context.Background(), "")
	if err != nil {
		b.Fatal(err)
	}
	for _, in := range infos {
		bytes += in.Size
	}
	return bytes, len(infos)
}

func BenchmarkStream(b *testing.B) {
	runs := benchRuns(b)
	for _, backend := range []string{"local", "azurite"} {
		for _, data := range []DataMode{DataMinimal, DataAll} {
			b.Run(fmt.Sprintf("%s/%s/runs=%d", backend, data, runs), func(b *testing.B) {
				cfg := testConfig(b, "data: "+string(data)+"\n")
				for range b.N {
					b.StopTimer()
					target := benchTarget(b, backend)
					rec := recorder.New(target)
					tgt := recordingTarget{Store: rec, dirs: target.(DirLister)}
					clock := objstore.NewVirtualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Millisecond)
					b.StartTimer()
					start := time.Now()
					perRun := make([]time.Duration, runs)
					for i := 1; i <= runs; i++ {
						t0 := time.Now()
						s, err := New(cfg, tgt, Options{Clock: clock})
						if err != nil {
							b.Fatal(err)
						}
						h := Hints{Until: day0.Add(time.Duration(i) * 15 * time.Minute)}
						if i == 1 {
							h.Since = day0
						}
						if _, err := s.Run(context.Background(), h); err != nil {
							b.Fatalf("run %d: %v", i, err)
						}
						perRun[i-1] = time.Since(t0)
					}
					elapsed := time.Since(start)
					b.StopTimer()
					written, puts := writtenBytes(rec)
					stored, objects := storedBytes(b, target)
					// What a week keeps after retention: expire everything
					// but main's tip and collect the garbage (the rewritten
					// partial chunks, old manifests and snapshots).
					clock.Advance(time.Hour)
					s, err := New(cfg, target, Options{Clock: clock})
					if err != nil {
						b.Fatal(err)
					}
					if rep, err := s.Maintain(context.Background(), MaintainOptions{ExpireOlderThan: time.Minute, GC: true}); err != nil || rep.Failed {
						b.Fatalf("maintain: %v %+v", err, rep)
					}
					live, _ := storedBytes(b, target)
					week := 672 / float64(runs)
					b.ReportMetric(elapsed.Seconds()/float64(runs), "s/run")
					b.ReportMetric(mean(perRun[:4]).Seconds(), "s/run-first-hour")
					b.ReportMetric(mean(perRun[runs-4:]).Seconds(), "s/run-last-hour")
					b.ReportMetric(elapsed.Seconds()*week, "s/week")
					b.ReportMetric(float64(written)*week/1e6, "MB-written/week")
					b.ReportMetric(float64(stored)*week/1e6, "MB-stored/week")
					b.ReportMetric(float64(live)*week/1e6, "MB-live/week")
					b.ReportMetric(float64(puts)/float64(runs), "puts/run")
					b.ReportMetric(float64(objects)*week, "objects/week")
					b.StartTimer()
				}
			})
		}
	}
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// readFixture is two days of minimal data per backend, written once per
// test binary in 4-hour windows (the read path sees the same chunks as
// after 15-minute runs: 1,000 rows per chunk). Its directory is removed by
// TestMain; its container goes with the emulator.
var readFixture struct {
	sync.Mutex
	targets map[string]objstore.Store
	dirs    []string
}

func removeReadFixtures() {
	readFixture.Lock()
	defer readFixture.Unlock()
	for _, d := range readFixture.dirs {
		_ = os.RemoveAll(d)
	}
}

func readTarget(b *testing.B, backend string) (*Streamer, time.Time) {
	b.Helper()
	ctx := context.Background()
	end := day0.Add(48 * time.Hour)
	cfg := testConfig(b, "")
	readFixture.Lock()
	defer readFixture.Unlock()
	if readFixture.targets == nil {
		readFixture.targets = map[string]objstore.Store{}
	}
	target := readFixture.targets[backend]
	if target == nil {
		var raw, conn string
		switch backend {
		case "local":
			dir, err := os.MkdirTemp("", "icestream-read-bench-")
			if err != nil {
				b.Fatal(err)
			}
			readFixture.dirs = append(readFixture.dirs, dir)
			raw = dir
		case "azurite":
			srv := azurite.Shared(b)
			raw, conn = "az://"+azurite.ContainerName("read-fixture")+"/bench", srv.ConnectionString()
		}
		var err error
		if target, err = OpenTargetConn(ctx, raw, conn, nil); err != nil {
			b.Fatal(err)
		}
		s, err := New(cfg, target, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Run(ctx, Hints{Since: day0, Until: end}); err != nil {
			b.Fatal(err)
		}
		readFixture.targets[backend] = target
	}
	s, err := New(cfg, target, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return s, end
}

func BenchmarkReadLast100(b *testing.B) {
	for _, backend := range []string{"local", "azurite"} {
		b.Run(backend, func(b *testing.B) {
			s, _ := readTarget(b, backend)
			b.ResetTimer()
			for range b.N {
				got, err := s.Read(context.Background(), ReadRequest{Variable: "ch4", Last: 100})
				if err != nil {
					b.Fatal(err)
				}
				if len(got.Timestamps) != 100 {
					b.Fatalf("%d rows", len(got.Timestamps))
				}
			}
		})
	}
}

func BenchmarkReadDay(b *testing.B) {
	for _, backend := range []string{"local", "azurite"} {
		b.Run(backend, func(b *testing.B) {
			s, end := readTarget(b, backend)
			// One day across the two daily repositories.
			from, to := end.Add(-36*time.Hour), end.Add(-12*time.Hour)
			b.ResetTimer()
			for range b.N {
				got, err := s.Read(context.Background(), ReadRequest{Variable: "ch4", From: from, To: to})
				if err != nil {
					b.Fatal(err)
				}
				if len(got.Timestamps) < 60000 || len(got.Repositories) != 2 {
					b.Fatalf("%d rows from %d repositories", len(got.Timestamps), len(got.Repositories))
				}
			}
		})
	}
}
