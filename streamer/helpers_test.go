package streamer

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/internal/azurite"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/streamer/source"
	"github.com/icerig/icerig/zarr"
)

func TestMain(m *testing.M) {
	code := azurite.Main(m)
	removeReadFixtures()
	os.Exit(code)
}

// day0 is the first simulated day of the tests.
var day0 = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

const testInstrument, testProject = "gm01", "ch4-flux"

// testConfig parses a configuration of the test instrument; extra is YAML
// appended to the source section.
func testConfig(t testing.TB, extra string) *Config {
	t.Helper()
	doc := extra
	if !strings.Contains("\n"+extra, "\nsource:") {
		doc = "source: {instrument: gm01, project: ch4-flux, gas_id: 1, seed: 7}\n" + extra
	}
	cfg, err := ParseConfig("test.yaml", []byte(doc))
	require.NoError(t, err)
	return cfg
}

// fakeSleep records the waits of the retry loop and returns at once.
type fakeSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (f *fakeSleep) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, d)
	return ctx.Err()
}

func (f *fakeSleep) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waits)
}

// testClock is a virtual clock for commit times: every reading advances it
// by a millisecond, so flush times increase.
func testClock() *objstore.VirtualClock {
	return objstore.NewVirtualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Millisecond)
}

func newTestStreamer(t testing.TB, cfg *Config, store objstore.Store, clock objstore.Clock, sl *fakeSleep) *Streamer {
	t.Helper()
	if sl == nil {
		sl = &fakeSleep{}
	}
	s, err := New(cfg, store, Options{Clock: clock, Sleep: sl.sleep})
	require.NoError(t, err)
	return s
}

// contents is everything the streamer wrote, concatenated across the
// repositories (oldest first), read with formatv2 and zarr.ReadArray alone.
type contents struct {
	repos []RepoRef
	ts    []int64 // nanoseconds
	hr    []int64
	f64   map[string][]float64
	i32   map[string][]int32
	f32   map[string][]float32
}

func readContents(t testing.TB, target objstore.Store) contents {
	t.Helper()
	ctx := context.Background()
	refs, err := Discover(ctx, target, testInstrument, testProject)
	require.NoError(t, err)
	c := contents{repos: refs, f64: map[string][]float64{}, i32: map[string][]int32{}, f32: map[string][]float32{}}
	for _, ref := range refs {
		sub, err := SubStore(target, ref.Path)
		require.NoError(t, err)
		repo, err := formatv2.Open(ctx, sub, formatv2.Options{})
		if errors.Is(err, formatv2.ErrNotARepository) {
			continue
		}
		require.NoError(t, err, ref.Path)
		sess, err := repo.ReadonlySession(ctx, formatv2.BranchRef("main"))
		require.NoError(t, err)
		keys, err := sess.ListDir(ctx, "")
		require.NoError(t, err)
		for _, k := range keys {
			if k == "zarr.json" || k[len(k)-1] != '/' {
				continue
			}
			name := k[:len(k)-1]
			vals := readWholeArray(t, sess, name)
			switch v := vals.(type) {
			case []int64:
				ns := make([]int64, len(v))
				for i, us := range v {
					ns[i] = source.MicrosToNanos(us)
				}
				switch name {
				case ArrayTimestamp:
					c.ts = append(c.ts, ns...)
				case ArrayHighResTimestamp:
					c.hr = append(c.hr, ns...)
				default:
					t.Fatalf("unexpected int64 array %s", name)
				}
			case []float64:
				c.f64[name] = append(c.f64[name], v...)
			case []int32:
				c.i32[name] = append(c.i32[name], v...)
			case []float32:
				c.f32[name] = append(c.f32[name], v...)
			}
		}
	}
	return c
}

func readWholeArray(t testing.TB, sess *formatv2.Session, name string) any {
	t.Helper()
	ctx := context.Background()
	doc, err := sess.Get(ctx, name+"/zarr.json")
	require.NoError(t, err)
	meta, err := zarr.ParseMetadata(name, doc)
	require.NoError(t, err)
	require.True(t, meta.IsArray(), name)
	vals, err := zarr.ReadArray(meta.Array, func(coords []uint32) ([]byte, bool, error) {
		b, err := sess.Get(ctx, zarr.ChunkKey("/"+name, coords, meta.Array.ChunkKeyEncoding))
		if errors.Is(err, formatv2.ErrKeyNotFound) {
			return nil, false, nil
		}
		return b, err == nil, err
	})
	require.NoError(t, err, name)
	return vals
}

// assertMatchesSource checks that the repositories hold exactly the
// source's data of (from, until] for the variables of cfg: same timestamps,
// same values, bit for bit, nothing twice, nothing missing.
func assertMatchesSource(t testing.TB, c contents, cfg *Config, from, until time.Time) {
	t.Helper()
	src, err := source.New(cfg.SourceConfig())
	require.NoError(t, err)
	lay := newLayout(src, cfg)
	parts := source.PartTimestamp
	if len(lay.highRes) > 0 {
		parts |= source.PartHighRes
	}
	if len(lay.waveforms) > 0 {
		parts |= source.PartWaveforms
	}
	want, err := src.ReadParts(from, until, parts)
	require.NoError(t, err)
	require.Equal(t, len(want.Timestamps), len(c.ts), "timestamp rows")
	require.Equal(t, want.Timestamps, c.ts, "timestamps")
	if len(lay.highRes) > 0 {
		require.Equal(t, want.HighResTimestamps, c.hr, "high-rate timestamps")
	} else {
		require.Empty(t, c.hr)
	}
	for _, spec := range lay.all() {
		switch spec.name {
		case ArrayTimestamp, ArrayHighResTimestamp, ArrayRetro, ArrayRetroLatitude, ArrayRetroLongitude, ArrayRetroAltitude:
			continue
		}
		switch spec.dtype {
		case zarr.Float64:
			w := want.Float64[spec.name]
			if w == nil {
				w = want.HighRes[spec.name]
			}
			requireSameFloats(t, spec.name, w, c.f64[spec.name])
		case zarr.Int32:
			require.Equal(t, want.Int32[spec.name], c.i32[spec.name], spec.name)
		case zarr.Float32:
			w, g := want.Waveforms[spec.name], c.f32[spec.name]
			require.Equal(t, len(w), len(g), spec.name)
			for i := range w {
				if math.Float32bits(w[i]) != math.Float32bits(g[i]) {
					t.Fatalf("%s[%d] = %v, source has %v", spec.name, i, g[i], w[i])
				}
			}
		}
	}
}

func requireSameFloats(t testing.TB, name string, want, got []float64) {
	t.Helper()
	require.Equal(t, len(want), len(got), "%s rows", name)
	for i := range want {
		if math.Float64bits(want[i]) != math.Float64bits(got[i]) {
			t.Fatalf("%s[%d] = %v, source has %v", name, i, got[i], want[i])
		}
	}
}

// runs runs the streamer every step from start to end (until-hints start+step,
// start+2*step, ...), the first run with since-hint start.
func runs(t testing.TB, s *Streamer, start, end time.Time, step time.Duration) []*RunReport {
	t.Helper()
	var out []*RunReport
	for u := start.Add(step); !u.After(end); u = u.Add(step) {
		h := Hints{Until: u}
		if len(out) == 0 {
			h.Since = start
		}
		rep, err := s.Run(context.Background(), h)
		require.NoError(t, err, "run until %s", u)
		out = append(out, rep)
	}
	return out
}
