package streamer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/objstore/memory"
	"github.com/icerig/icerig/streamer/invariants"
	"github.com/icerig/icerig/streamer/source"
)

// errNoKey is the not-found error of mapReader.
var errNoKey = errors.New("no such key")

// mapReader serves Zarr keys from a map.
type mapReader map[string][]byte

func (m mapReader) Get(_ context.Context, key string) ([]byte, error) {
	v, ok := m[key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, errNoKey)
	}
	return v, nil
}

// checkFixture streams 20 minutes of the small configuration into a fresh
// repository and returns every key of main with its value.
func checkFixture(t testing.TB) (*Config, mapReader) {
	t.Helper()
	ctx := context.Background()
	clock := testClock()
	st := memory.New(clock)
	repo, err := formatv2.Create(ctx, st, formatv2.CreateOptions{}, formatv2.Options{Clock: clock})
	require.NoError(t, err)
	cfg := testConfig(t, "chunk_timestamps: 300\nvariables: [ch4, measurement_validity]\nmax_window: 10m\n")
	s := newTestStreamer(t, cfg, memory.New(nil), clock, nil)
	_, err = s.RunRepo(ctx, st, Hints{Since: day0, Until: day0.Add(20 * time.Minute)})
	require.NoError(t, err)
	sess, err := repo.ReadonlySession(ctx, formatv2.BranchRef("main"))
	require.NoError(t, err)
	keys, err := sess.List(ctx)
	require.NoError(t, err)
	m := mapReader{}
	for _, k := range keys {
		v, err := sess.Get(ctx, k)
		require.NoError(t, err, k)
		m[k] = v
	}
	return cfg, m
}

// memoSource is a source that keeps the batch of its last read, so that a
// fuzz target checks many inputs against one read of the source.
type memoSource struct {
	*source.Source
	from, until time.Time
	parts       source.Part
	batch       *source.Batch
}

func (m *memoSource) ReadParts(from, until time.Time, parts source.Part) (*source.Batch, error) {
	if m.batch != nil && from.Equal(m.from) && until.Equal(m.until) && parts == m.parts {
		return m.batch, nil
	}
	b, err := m.Source.ReadParts(from, until, parts)
	if err == nil {
		m.from, m.until, m.parts, m.batch = from, until, parts, b
	}
	return b, err
}

func isNoKey(err error) bool { return errors.Is(err, errNoKey) }

func TestCheckAgainstSourceMapReader(t *testing.T) {
	ctx := context.Background()
	cfg, m := checkFixture(t)
	chk, err := CheckAgainstSource(ctx, m, isNoKey, nil, cfg, day0, day0.Add(20*time.Minute))
	require.NoError(t, err)
	require.Equal(t, 840, chk.Rows[ArrayTimestamp])
	require.Equal(t, int64(4*mustSource(t, cfg).Retro().Len()+3*840), chk.Values, "retro table, timestamp, ch4, measurement_validity")
	require.Equal(t, []string{ArrayRetro, ArrayRetroLatitude, ArrayRetroLongitude, ArrayRetroAltitude, ArrayTimestamp, "ch4", "measurement_validity"}, chk.Arrays)

	// Every key dropped is noticed: a missing zarr.json is a mismatch, a
	// missing chunk reads as fill values the source does not have.
	for k := range m {
		if k == "zarr.json" {
			continue
		}
		v := m[k]
		delete(m, k)
		_, err := CheckAgainstSource(ctx, m, isNoKey, nil, cfg, day0, day0.Add(20*time.Minute))
		m[k] = v
		require.Error(t, err, "without %s", k)
		if !errors.Is(err, ErrSourceMismatch) && !errors.Is(err, invariants.ErrViolation) {
			t.Fatalf("without %s: %v", k, err)
		}
	}
	// An array holding the source's data shifted by a window is refused.
	_, err = CheckAgainstSource(ctx, m, isNoKey, nil, cfg, day0.Add(-10*time.Minute), day0.Add(10*time.Minute))
	require.ErrorIs(t, err, invariants.ErrViolation)
	_, err = CheckAgainstSource(ctx, m, isNoKey, nil, nil, day0, day0.Add(time.Minute))
	require.ErrorIs(t, err, ErrConfig)
}

// FuzzCheckAgainstSource replaces the value of one key of a real
// repository version with fuzzed bytes: CheckAgainstSource must not panic,
// and must accept exactly the original bytes.
func FuzzCheckAgainstSource(f *testing.F) {
	cfg, m := checkFixture(f)
	src := &memoSource{Source: mustSource(f, cfg)}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		f.Add(uint8(i), m[k])
	}
	f.Add(uint8(0), []byte(`{"zarr_format":3,"node_type":"array","shape":[18446744073709551615],"data_type":"int64","chunk_grid":{"name":"regular","configuration":{"chunk_shape":[1]}},"chunk_key_encoding":{"name":"default"},"fill_value":0,"codecs":[{"name":"bytes","configuration":{"endian":"little"}}]}`))
	f.Fuzz(func(t *testing.T, which uint8, value []byte) {
		key := keys[int(which)%len(keys)]
		old := m[key]
		mm := mapReader{}
		for k, v := range m {
			mm[k] = v
		}
		mm[key] = value
		_, err := CheckAgainstSource(context.Background(), mm, isNoKey, src, cfg, day0, day0.Add(20*time.Minute))
		if string(value) == string(old) && err != nil {
			t.Fatalf("original %s refused: %v", key, err)
		}
	})
}
