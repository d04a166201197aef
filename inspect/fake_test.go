package inspect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/inspect"
	"github.com/icerig/icerig/objstore/memory"
	"github.com/icerig/icerig/zarr"
)

// fakeRepo is an in-memory actors.Repo with one version (snapshot
// "FAKE0000000000000000", the tip of main), to test the reports on inputs no
// fixture has.
type fakeRepo struct {
	spec    int
	nodes   []actors.NodeInfo
	values  map[string][]byte
	virtual map[string]bool
}

const fakeTip = "FAKE0000000000000000"

func (f *fakeRepo) Actor() string    { return "fake" }
func (f *fakeRepo) SpecVersion() int { return f.spec }
func (f *fakeRepo) Resolve(_ context.Context, ref actors.Ref) (string, error) {
	if ref == actors.MainBranch || ref == actors.Snapshot(fakeTip) {
		return fakeTip, nil
	}
	return "", fmt.Errorf("fake: %s: %w", ref, actors.ErrRefNotFound)
}
func (f *fakeRepo) Branches(context.Context) (map[string]string, error) {
	return map[string]string{"main": fakeTip}, nil
}
func (f *fakeRepo) Tags(context.Context) (map[string]string, error) { return map[string]string{}, nil }
func (f *fakeRepo) DeletedTags(context.Context) ([]string, error)   { return nil, nil }
func (f *fakeRepo) Ancestry(ctx context.Context, ref actors.Ref) ([]actors.SnapshotInfo, error) {
	if _, err := f.Resolve(ctx, ref); err != nil {
		return nil, err
	}
	// 1 ns past a microsecond: the report truncates to microseconds.
	at := time.Date(2024, 10, 29, 15, 49, 32, 123456001, time.FixedZone("X", 3600))
	return []actors.SnapshotInfo{{ID: fakeTip, Message: "only", FlushedAt: at}}, nil
}
func (f *fakeRepo) Nodes(ctx context.Context, ref actors.Ref) ([]actors.NodeInfo, error) {
	if _, err := f.Resolve(ctx, ref); err != nil {
		return nil, err
	}
	return f.nodes, nil
}
func (f *fakeRepo) Get(ctx context.Context, ref actors.Ref, key string) ([]byte, error) {
	if _, err := f.Resolve(ctx, ref); err != nil {
		return nil, err
	}
	if f.virtual[key] {
		return nil, fmt.Errorf("fake: %s: %w", key, actors.ErrVirtualChunk)
	}
	if v, ok := f.values[key]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("fake: %s: %w", key, actors.ErrKeyNotFound)
}
func (f *fakeRepo) Fsck(context.Context) ([]actors.Finding, error) {
	return nil, actors.ErrUnsupportedOperation
}
func (f *fakeRepo) ExpireSnapshots(context.Context, time.Time, bool, bool) (actors.ExpireResult, error) {
	return actors.ExpireResult{}, actors.ErrUnsupportedOperation
}
func (f *fakeRepo) GarbageCollect(context.Context, time.Time, bool) (actors.GCResult, error) {
	return actors.GCResult{}, actors.ErrUnsupportedOperation
}

// spec2Repo adds the spec-2 extras to fakeRepo.
type spec2Repo struct{ fakeRepo }

func (s *spec2Repo) OpsLog(context.Context) ([]actors.OpsLogEntry, error) {
	return []actors.OpsLogEntry{
		{Type: "new_commit", UpdatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Fields: map[string]any{"branch": "main", "new_snap_id": fakeTip}},
		{Type: "repo_initialized", UpdatedAt: time.Date(2025, 1, 2, 3, 4, 4, 0, time.UTC)},
	}, nil
}

func (s *spec2Repo) Status(context.Context) (actors.RepoStatus, error) {
	return actors.RepoStatus{Availability: "online", SetAt: time.Date(2025, 1, 2, 3, 4, 4, 500, time.UTC)}, nil
}

// addArray adds an array node and its chunks (all values, encoded chunk by
// chunk with zarr.WriteArray).
func (f *fakeRepo) addArray(t *testing.T, path string, a *zarr.ArrayMetadata, values any) {
	t.Helper()
	doc, err := zarr.NewArray(a)
	require.NoError(t, err)
	f.nodes = append(f.nodes, actors.NodeInfo{Path: path, Type: zarr.NodeArray, ZarrJSON: doc})
	f.values[zarr.MetadataKey(path)] = doc
	if values == nil {
		return
	}
	meta, err := zarr.ParseMetadata(path, doc) // with the default codecs filled in
	require.NoError(t, err)
	a = meta.Array
	require.NoError(t, zarr.WriteArray(a, values, func(coords []uint32, chunk []byte) error {
		f.values[zarr.ChunkKey(path, coords, a.ChunkKeyEncoding)] = chunk
		return nil
	}))
}

func newFake(t *testing.T) *fakeRepo {
	f := &fakeRepo{spec: 1, values: map[string][]byte{}, virtual: map[string]bool{}}
	f.nodes = append(f.nodes, actors.NodeInfo{Path: "/", Type: zarr.NodeGroup,
		ZarrJSON: []byte(`{"zarr_format":3,"node_type":"group"}`)})
	x := "x"
	f.addArray(t, "/f64", &zarr.ArrayMetadata{Shape: []uint64{2, 3}, ChunkShape: []uint64{2, 2}, DataType: zarr.Float64,
		FillValue: zarr.FloatFill(math.Inf(1)), DimensionNames: []*string{nil, &x}},
		[]float64{0.1, math.NaN(), math.Inf(-1), 1e300, -2, 5})
	f.addArray(t, "/f32", &zarr.ArrayMetadata{Shape: []uint64{3}, ChunkShape: []uint64{2}, DataType: zarr.Float32,
		FillValue: zarr.FloatFill(math.Inf(-1))}, []float32{0.1, 3, 1.5})
	f.addArray(t, "/u64", &zarr.ArrayMetadata{Shape: []uint64{2}, ChunkShape: []uint64{2}, DataType: zarr.Uint64,
		FillValue: zarr.UintFill(0)}, []uint64{math.MaxUint64, 7})
	f.addArray(t, "/i64", &zarr.ArrayMetadata{Shape: []uint64{2}, ChunkShape: []uint64{1}, DataType: zarr.Int64,
		FillValue: zarr.IntFill(-5)}, nil)
	f.addArray(t, "/b", &zarr.ArrayMetadata{Shape: []uint64{3}, ChunkShape: []uint64{2}, DataType: zarr.Bool,
		FillValue: zarr.BoolFill(true)}, []bool{false, true, false})
	f.addArray(t, "/huge", &zarr.ArrayMetadata{Shape: []uint64{1 << 40, 1 << 40}, ChunkShape: []uint64{1, 1}, DataType: zarr.Int8,
		FillValue: zarr.IntFill(0)}, nil)
	return f
}

func TestReadValueFormatting(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	read := func(path string, mode inspect.VirtualMode) string {
		t.Helper()
		res, err := inspect.Read(ctx, f, actors.MainBranch, path, mode)
		require.NoError(t, err, path)
		data, err := json.Marshal(res.Values)
		require.NoError(t, err)
		return string(data)
	}
	assert.Equal(t, `[0.1,"NaN","-Infinity",1e+300,-2.0,5.0]`, read("f64", inspect.VirtualError))
	assert.Equal(t, `[0.1,3.0,1.5]`, read("f32", inspect.VirtualError), "float32 prints its own shortest form")
	assert.Equal(t, `[18446744073709551615,7]`, read("u64", inspect.VirtualError))
	assert.Equal(t, `[-5,-5]`, read("i64", inspect.VirtualError), "no chunks: fill value")
	assert.Equal(t, `[false,true,false]`, read("b", inspect.VirtualError))

	// A virtual chunk in the middle of an edge-clipped grid: f64's chunk
	// c/0/1 covers columns 2 (and the clipped 3) of both rows.
	f.virtual["f64/c/0/1"] = true
	_, err := inspect.Read(ctx, f, actors.MainBranch, "f64", inspect.VirtualError)
	assert.ErrorIs(t, err, actors.ErrVirtualChunk)
	assert.Contains(t, err.Error(), "f64/c/0/1")
	assert.Equal(t, `[0.1,"NaN",null,1e+300,-2.0,null]`, read("f64", inspect.VirtualNull))
	_, err = inspect.Read(ctx, f, actors.MainBranch, "/f64", "")
	assert.ErrorIs(t, err, actors.ErrVirtualChunk, "the empty mode means error")
}

func TestReadLimits(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	_, err := inspect.Read(ctx, f, actors.MainBranch, "huge", inspect.VirtualError)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/huge")
	assert.Contains(t, err.Error(), "elements read handles")
	_, err = inspect.Read(ctx, f, actors.MainBranch, "nope", inspect.VirtualError)
	assert.ErrorIs(t, err, actors.ErrKeyNotFound)
	assert.Contains(t, err.Error(), "no array at /nope")
	f.nodes = append(f.nodes, actors.NodeInfo{Path: "/bad", Type: zarr.NodeArray, ZarrJSON: []byte(`{"zarr_format":3}`)})
	f.values["bad/zarr.json"] = []byte(`{"zarr_format":3}`)
	_, err = inspect.Read(ctx, f, actors.MainBranch, "bad", inspect.VirtualError)
	assert.ErrorIs(t, err, actors.ErrCorrupt)
	_, err = inspect.Nodes(ctx, f, actors.MainBranch)
	assert.ErrorIs(t, err, actors.ErrCorrupt)
	assert.Contains(t, err.Error(), "/bad")
}

func TestParseVirtualMode(t *testing.T) {
	for _, s := range []string{"error", "null"} {
		m, err := inspect.ParseVirtualMode(s)
		require.NoError(t, err)
		assert.Equal(t, s, string(m))
	}
	_, err := inspect.ParseVirtualMode("zero")
	assert.ErrorContains(t, err, `"zero"`)
}

func TestInspectSyntheticNodes(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	rep, err := inspect.Inspect(ctx, memory.New(nil), f, actors.MainBranch)
	require.NoError(t, err)
	data, err := json.Marshal(rep)
	require.NoError(t, err)
	s := string(data)
	assert.Contains(t, s, `"deleted_tags":[]`)
	assert.Contains(t, s, `"flushed_at":"2024-10-29T14:49:32.123456Z"`, "UTC, microseconds")
	assert.Contains(t, s, `{"path":"/","type":"group","attributes":{}}`)
	assert.Contains(t, s, `"fill_value":"Infinity","dimension_names":[null,"x"]`)
	assert.Contains(t, s, `"fill_value":"-Infinity","dimension_names":null`)
	assert.Contains(t, s, `"dtype":"bool","fill_value":true`)
	assert.Contains(t, s, `"objects":{"snapshots":0,"manifests":0,"chunks":0,"transactions":0,"overwritten":0}`)
	assert.NotContains(t, s, "ops_log")
}

func TestInspectSpec2Hook(t *testing.T) {
	ctx := context.Background()
	st := memory.New(nil)
	_, err := st.Put(ctx, "overwritten/repo.1", []byte("x"))
	require.NoError(t, err)

	// A spec-2 repository through an actor without the extras fails cleanly.
	plain := newFake(t)
	plain.spec = 2
	_, err = inspect.Inspect(ctx, st, plain, actors.MainBranch)
	assert.ErrorIs(t, err, actors.ErrUnsupportedOperation)
	assert.Contains(t, err.Error(), "fake")

	s2 := &spec2Repo{*newFake(t)}
	s2.spec = 2
	rep, err := inspect.Inspect(ctx, st, s2, actors.MainBranch)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Objects.Overwritten)
	data, err := json.Marshal(rep)
	require.NoError(t, err)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(data, &generic))
	assert.Equal(t, []any{
		map[string]any{"type": "new_commit", "updated_at": "2025-01-02T03:04:05.000000Z", "branch": "main", "new_snap_id": fakeTip},
		map[string]any{"type": "repo_initialized", "updated_at": "2025-01-02T03:04:04.000000Z"},
	}, generic["ops_log"])
	assert.Equal(t, map[string]any{"availability": "online", "set_at": "2025-01-02T03:04:04.000000Z",
		"limited_availability_reason": ""}, generic["status"])

	var back inspect.Report
	require.NoError(t, json.Unmarshal(data, &back))
	require.Len(t, back.OpsLog, 2)
	assert.Equal(t, "new_commit", back.OpsLog[0].Type)
	assert.Equal(t, "main", back.OpsLog[0].Fields["branch"])
	assert.True(t, back.OpsLog[0].UpdatedAt.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)))
	again, err := json.Marshal(&back)
	require.NoError(t, err)
	assert.JSONEq(t, string(data), string(again))

	// An empty ops log is still present in a spec-2 report.
	rep.OpsLog = rep.OpsLog[:0]
	data, err = json.Marshal(rep)
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(data), `"ops_log":[]`), string(data))
}

func TestTimeJSON(t *testing.T) {
	tm := inspect.Time{Time: time.Date(2024, 10, 29, 15, 49, 32, 0, time.UTC)}
	data, err := json.Marshal(tm)
	require.NoError(t, err)
	assert.Equal(t, `"2024-10-29T15:49:32.000000Z"`, string(data))
	var back inspect.Time
	require.NoError(t, json.Unmarshal([]byte(`"2024-10-29T17:49:32.5+02:00"`), &back))
	assert.Equal(t, "2024-10-29T15:49:32.500000Z", inspect.FormatTime(back.Time))
	assert.Error(t, json.Unmarshal([]byte(`"yesterday"`), &back))
	assert.Error(t, json.Unmarshal([]byte(`12`), &back))
}
