package inspect_test

import (
	"context"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/actors/actortest"
	"github.com/icerig/icerig/inspect"
	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/objstore"
)

func openV1(t *testing.T, name string) (actors.Repo, objstore.Store) {
	t.Helper()
	st, _ := actortest.OpenFixtureCopy(t, name)
	r, err := actors.V1{}.Open(context.Background(), st, actors.Options{})
	require.NoError(t, err)
	return r, st
}

// roundTrip encodes v, checks it decodes back to an equal value of the same
// type, and returns the JSON decoded generically.
func roundTrip[T any](t *testing.T, v *T) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	var back T
	require.NoError(t, json.Unmarshal(data, &back))
	again, err := json.Marshal(&back)
	require.NoError(t, err)
	assert.JSONEq(t, string(data), string(again), "the report survives a decode/encode round trip")
	var generic map[string]any
	require.NoError(t, json.Unmarshal(data, &generic))
	return generic
}

var timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

func messagesOf(list []inspect.Snapshot) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Message)
	}
	return out
}

func TestInspectTestRepoV1(t *testing.T) {
	ctx := context.Background()
	r, st := openV1(t, testfixtures.TestRepoV1)
	rep, err := inspect.Inspect(ctx, st, r, actors.Branch("my-branch"))
	require.NoError(t, err)

	generic := roundTrip(t, rep)
	for _, k := range []string{"spec_version", "branches", "tags", "deleted_tags", "ancestry", "nodes", "objects"} {
		assert.Contains(t, generic, k)
	}
	assert.NotContains(t, generic, "ops_log", "spec-1 reports have no ops log")
	assert.NotContains(t, generic, "status")
	assert.EqualValues(t, 1, generic["spec_version"])

	assert.Equal(t, []string{"deleted"}, rep.DeletedTags)
	assert.ElementsMatch(t, []string{"it works!", "it also works!"}, slices.Collect(maps.Keys(rep.Tags)))
	assert.Len(t, rep.Branches, 2)
	assert.Equal(t, rep.Branches["my-branch"], rep.Tags["it also works!"])

	main := []string{"set virtual chunk", "fill data", "empty structure", "Repository initialized"}
	more := append([]string{"some more structure", "delete a chunk"}, main...)
	assert.Len(t, rep.Ancestry, 4, "every branch and tag")
	assert.Equal(t, main, messagesOf(rep.Ancestry["branch:main"]))
	assert.Equal(t, more, messagesOf(rep.Ancestry["branch:my-branch"]))
	assert.Equal(t, more, messagesOf(rep.Ancestry["tag:it also works!"]))
	assert.Equal(t, append([]string{"delete a chunk"}, main...), messagesOf(rep.Ancestry["tag:it works!"]))
	assert.Equal(t, []int{2, 2, 0, 0}, manifestFiles(rep.Ancestry["branch:main"]))

	// Times: RFC 3339, UTC, always six fractional digits.
	anc := generic["ancestry"].(map[string]any)["branch:main"].([]any)
	tip := anc[0].(map[string]any)
	assert.Equal(t, "2025-02-19T21:11:56.017780Z", tip["flushed_at"])
	assert.Equal(t, rep.Branches["main"], tip["id"])
	for _, s := range anc {
		assert.Regexp(t, timeRE, s.(map[string]any)["flushed_at"])
	}

	// Nodes at my-branch.
	var paths []string
	nodes := map[string]inspect.Node{}
	for _, n := range rep.Nodes {
		paths = append(paths, n.Path)
		nodes[n.Path] = n
	}
	assert.Equal(t, []string{"/", "/group1", "/group1/big_chunks", "/group1/small_chunks", "/group2",
		"/group2/group3", "/group2/group3/group4", "/group2/group3/group4/group5",
		"/group2/group3/group4/group5/inner"}, paths)
	groupAttrs := `{"this": "is a nice group", "icechunk": 1, "size": 42.0}`
	arrayAttrs := `{"this": "is a nice array", "icechunk": 1, "size": 42.0}`
	for _, p := range paths[1:] {
		n := nodes[p]
		if n.Type == "group" {
			assert.JSONEq(t, groupAttrs, string(n.Attributes), p)
			assert.Nil(t, n.Array, p)
		} else {
			assert.JSONEq(t, arrayAttrs, string(n.Attributes), p)
		}
	}
	assert.JSONEq(t, `{}`, string(nodes["/"].Attributes))

	big := nodes["/group1/big_chunks"]
	require.NotNil(t, big.Array)
	assert.Equal(t, "array", big.Type)
	assert.Equal(t, []uint64{10, 10}, big.Shape)
	assert.Equal(t, []uint64{5, 5}, big.ChunkShape)
	assert.Equal(t, "float32", big.DataType)
	assert.JSONEq(t, `"NaN"`, string(big.FillValue))
	assert.Nil(t, big.DimensionNames)
	assert.Equal(t, actors.ChunkCounts{Native: 3, Virtual: 1}, big.Chunks)
	small := nodes["/group1/small_chunks"]
	assert.Equal(t, []uint64{5}, small.Shape)
	assert.Equal(t, []uint64{1}, small.ChunkShape)
	assert.Equal(t, "int8", small.DataType)
	assert.JSONEq(t, `8`, string(small.FillValue))
	assert.Equal(t, actors.ChunkCounts{Inline: 4}, small.Chunks)
	inner := nodes["/group2/group3/group4/group5/inner"]
	assert.Equal(t, actors.ChunkCounts{}, inner.Chunks)

	// The JSON of an array node has every array member; "dimension_names"
	// is present and null; a group has none of them.
	gnodes := generic["nodes"].([]any)
	bigJSON := gnodes[2].(map[string]any)
	assert.Equal(t, "/group1/big_chunks", bigJSON["path"])
	assert.Contains(t, bigJSON, "dimension_names")
	assert.Nil(t, bigJSON["dimension_names"])
	assert.Equal(t, "NaN", bigJSON["fill_value"])
	assert.Equal(t, map[string]any{"native": 3.0, "inline": 0.0, "virtual": 1.0}, bigJSON["chunks"])
	assert.ElementsMatch(t, []string{"path", "type", "attributes"}, slices.Collect(maps.Keys(gnodes[1].(map[string]any))))

	assert.Equal(t, inspect.Objects{Snapshots: 6, Manifests: 4, Chunks: 4, Transactions: 5}, rep.Objects)
	assert.Equal(t, map[string]any{"snapshots": 6.0, "manifests": 4.0, "chunks": 4.0, "transactions": 5.0, "overwritten": 0.0}, generic["objects"])

	// At main there is no group2.
	repMain, err := inspect.Inspect(ctx, st, r, actors.MainBranch)
	require.NoError(t, err)
	assert.Len(t, repMain.Nodes, 4)
	assert.Equal(t, actors.ChunkCounts{Inline: 5}, repMain.Nodes[3].Chunks)

	_, err = inspect.Inspect(ctx, st, r, actors.Tag("deleted"))
	assert.ErrorIs(t, err, actors.ErrRefNotFound)
}

func manifestFiles(list []inspect.Snapshot) []int {
	var out []int
	for _, s := range list {
		out = append(out, s.ManifestFiles)
	}
	return out
}

func TestInspectSplitRepo(t *testing.T) {
	ctx := context.Background()
	r, st := openV1(t, testfixtures.SplitRepoV1)
	rep, err := inspect.Inspect(ctx, st, r, actors.MainBranch)
	require.NoError(t, err)
	roundTrip(t, rep)
	assert.Equal(t, []string{"write data again with more splits", "write data again", "write data",
		"empty structure", "Repository initialized"}, messagesOf(rep.Ancestry["branch:main"]))
	// Oldest first: 0 (initial), 0, 9, 9, 17 manifest files.
	mf := manifestFiles(rep.Ancestry["branch:main"])
	slices.Reverse(mf)
	assert.Equal(t, []int{0, 0, 9, 9, 17}, mf)
	assert.Empty(t, rep.Tags)
	assert.Equal(t, []string{}, rep.DeletedTags)

	var split *inspect.Node
	for i := range rep.Nodes {
		if rep.Nodes[i].Path == "/group1/split" {
			split = &rep.Nodes[i]
		}
	}
	require.NotNil(t, split)
	assert.Equal(t, []uint64{10, 10}, split.Shape)
	assert.Equal(t, []uint64{3, 3}, split.ChunkShape)
	longitude := "longitude"
	assert.Equal(t, []*string{nil, &longitude}, split.DimensionNames)
	assert.Equal(t, actors.ChunkCounts{Native: 16}, split.Chunks)
	data, err := json.Marshal(split)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"dimension_names":[null,"longitude"]`)
	assert.Equal(t, 35, rep.Objects.Manifests)
}

func readJSON(t *testing.T, res *inspect.ReadResult) []any {
	t.Helper()
	data, err := json.Marshal(res)
	require.NoError(t, err)
	var back struct {
		Path   string   `json:"path"`
		DType  string   `json:"dtype"`
		Shape  []uint64 `json:"shape"`
		Values []any    `json:"values"`
	}
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, res.Path, back.Path)
	assert.Equal(t, res.DataType, back.DType)
	assert.Equal(t, res.Shape, back.Shape)
	return back.Values
}

func TestReadFixtureArrays(t *testing.T) {
	ctx := context.Background()
	r, _ := openV1(t, testfixtures.TestRepoV1)
	mb := actors.Branch("my-branch")

	res, err := inspect.Read(ctx, r, mb, "group1/small_chunks", inspect.VirtualError)
	require.NoError(t, err)
	assert.Equal(t, "/group1/small_chunks", res.Path)
	assert.Equal(t, "int8", res.DataType)
	assert.Equal(t, []uint64{5}, res.Shape)
	assert.Equal(t, []any{84.0, 84.0, 84.0, 84.0, 8.0}, readJSON(t, res))
	data, err := json.Marshal(res)
	require.NoError(t, err)
	assert.Equal(t, `{"path":"/group1/small_chunks","dtype":"int8","shape":[5],"values":[84,84,84,84,8]}`, string(data))

	res, err = inspect.Read(ctx, r, actors.MainBranch, "/group1/small_chunks", inspect.VirtualError)
	require.NoError(t, err)
	assert.Equal(t, []any{84.0, 84.0, 84.0, 84.0, 84.0}, readJSON(t, res))

	_, err = inspect.Read(ctx, r, mb, "group1/big_chunks", inspect.VirtualError)
	require.Error(t, err)
	assert.ErrorIs(t, err, actors.ErrVirtualChunk)
	assert.Contains(t, err.Error(), "s3://testbucket/can_read_old/chunk-1")
	assert.Contains(t, err.Error(), "group1/big_chunks/c/0/0")

	res, err = inspect.Read(ctx, r, mb, "group1/big_chunks", inspect.VirtualNull)
	require.NoError(t, err)
	vals := readJSON(t, res)
	require.Len(t, vals, 100)
	nulls, fortyTwos := 0, 0
	for i, v := range vals {
		row, col := i/10, i%10
		if row < 5 && col < 5 {
			assert.Nil(t, v, "element (%d,%d) is in the virtual chunk c/0/0", row, col)
		} else {
			assert.Equal(t, 42.0, v, "element (%d,%d)", row, col)
		}
		switch v {
		case nil:
			nulls++
		case 42.0:
			fortyTwos++
		}
	}
	assert.Equal(t, 25, nulls)
	assert.Equal(t, 75, fortyTwos)
	data, err = json.Marshal(res)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"values":[null,null,null,null,null,42.0,42.0`)

	res, err = inspect.Read(ctx, r, mb, "group2/group3/group4/group5/inner", inspect.VirtualError)
	require.NoError(t, err)
	vals = readJSON(t, res)
	assert.Equal(t, slices.Repeat([]any{"NaN"}, 100), vals)

	_, err = inspect.Read(ctx, r, actors.MainBranch, "group2/group3/group4/group5/inner", inspect.VirtualError)
	assert.ErrorIs(t, err, actors.ErrKeyNotFound, "no group2 on main")
	_, err = inspect.Read(ctx, r, mb, "group1", inspect.VirtualError)
	assert.ErrorIs(t, err, actors.ErrKeyNotFound)
	assert.Contains(t, err.Error(), "a group, not an array")
	_, err = inspect.Read(ctx, r, actors.Tag("deleted"), "group1/small_chunks", inspect.VirtualError)
	assert.ErrorIs(t, err, actors.ErrRefNotFound)
	_, err = inspect.Read(ctx, r, mb, "a//b", inspect.VirtualError)
	assert.ErrorIs(t, err, actors.ErrInvalidKey)
	_, err = inspect.Read(ctx, r, mb, "group1/small_chunks", "maybe")
	assert.Error(t, err)
}

func TestReadSplitRepo(t *testing.T) {
	ctx := context.Background()
	r, _ := openV1(t, testfixtures.SplitRepoV1)
	res, err := inspect.Read(ctx, r, actors.MainBranch, "group1/split", inspect.VirtualError)
	require.NoError(t, err)
	assert.Equal(t, slices.Repeat([]any{14.0}, 100), readJSON(t, res))
	res, err = inspect.Read(ctx, r, actors.MainBranch, "group1/small_chunks", inspect.VirtualError)
	require.NoError(t, err)
	assert.Equal(t, slices.Repeat([]any{3.0}, 5), readJSON(t, res))

	// The first commit with data reads through its snapshot id.
	anc, err := r.Ancestry(ctx, actors.MainBranch)
	require.NoError(t, err)
	empty := anc[len(anc)-2]
	require.Equal(t, "empty structure", empty.Message)
	res, err = inspect.Read(ctx, r, actors.Snapshot(empty.ID), "group1/small_chunks", inspect.VirtualError)
	require.NoError(t, err)
	assert.Equal(t, slices.Repeat([]any{8.0}, 5), readJSON(t, res), "nothing written yet: all fill")
	assert.True(t, strings.HasPrefix(res.Path, "/"))
}
