package formatv2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/zarr"
)

// These tests check every fact the fixtures README lists, through the
// public API, on the upstream repositories opened read-only in place.

func messages(t *testing.T, r *Repository, id ObjectID) []string {
	t.Helper()
	anc, err := r.Ancestry(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range anc {
		out = append(out, s.Message)
	}
	return out
}

// snapshotByMessage finds the snapshot with a message in an ancestry.
func snapshotByMessage(t *testing.T, r *Repository, tip ObjectID, msg string) *Snapshot {
	t.Helper()
	anc, err := r.Ancestry(context.Background(), tip)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range anc {
		if s.Message == msg {
			return s
		}
	}
	t.Fatalf("no snapshot %q in the ancestry of %s", msg, tip)
	return nil
}

// readArray reads a whole array through a session with the zarr codecs.
func readArray(t *testing.T, s *Session, path string) (*zarr.ArrayMetadata, any) {
	t.Helper()
	ctx := context.Background()
	doc, err := s.Get(ctx, zarr.MetadataKey(path))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := zarr.ParseMetadata(path, doc)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := zarr.ReadArray(meta.Array, func(coords []uint32) ([]byte, bool, error) {
		data, err := s.Get(ctx, zarr.ChunkKey(path, coords, zarr.DefaultChunkKeyEncoding))
		if errors.Is(err, ErrKeyNotFound) {
			return nil, false, nil
		}
		return data, err == nil, err
	})
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return meta.Array, vals
}

func attributes(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	m, err := zarr.ParseMetadata("doc", doc)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(m.Attributes, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// testRepos are the three upstream repositories holding the same history:
// spec 1, native spec 2 and migrated from spec 1.
var testRepos = []string{"test-repo-v1", "test-repo-v2", "test-repo-v2-migrated"}

// forEachTestRepo runs body on each of testRepos, opened read-only in
// place, and on two copies of test-repo-v1 this library migrated to spec 2
// (keeping and deleting the spec-1 files). name is the fixture holding the
// chunk objects.
func forEachTestRepo(t *testing.T, body func(t *testing.T, name string, r *Repository)) {
	for _, name := range testRepos {
		t.Run(name, func(t *testing.T) { body(t, name, openFixture(t, name)) })
	}
	for _, del := range []bool{false, true} {
		t.Run(fmt.Sprintf("test-repo-v1-migrated-here-delete-%v", del), func(t *testing.T) {
			r, _ := migratedCopy(t, del)
			body(t, "test-repo-v1", r)
		})
	}
}

func TestFixtureRefs(t *testing.T) {
	forEachTestRepo(t, func(t *testing.T, name string, r *Repository) {
		ctx := context.Background()
		branches, err := r.ListBranches(ctx)
		noErr(t, err)
		if got := slices.Sorted(mapKeys(branches)); !slices.Equal(got, []string{"main", "my-branch"}) {
			t.Fatalf("branches = %v", got)
		}
		tags, err := r.ListTags(ctx)
		noErr(t, err)
		if got := slices.Sorted(mapKeys(tags)); !slices.Equal(got, []string{"it also works!", "it works!"}) {
			t.Fatalf("tags = %v", got)
		}
		deleted, err := r.ListDeletedTags(ctx)
		noErr(t, err)
		if !slices.Equal(deleted, []string{"deleted"}) {
			t.Fatalf("deleted tags = %v", deleted)
		}
		_, err = r.LookupTag(ctx, "deleted")
		mustErrIs(t, err, ErrRefNotFound)
		_, err = r.ReadonlySession(ctx, TagRef("deleted"))
		mustErrIs(t, err, ErrRefNotFound)
		for name, id := range tags {
			got, err := r.LookupTag(ctx, name)
			noErr(t, err)
			if got != id {
				t.Fatalf("LookupTag(%q) = %s, listed %s", name, got, id)
			}
		}
		if tags["it also works!"] != branches["my-branch"] {
			t.Fatal("tag \"it also works!\" should point at my-branch's tip")
		}
	})
}

func TestFixtureAncestry(t *testing.T) {
	forEachTestRepo(t, func(t *testing.T, name string, r *Repository) {
		ctx := context.Background()
		mainMsgs := []string{"set virtual chunk", "fill data", "empty structure", "Repository initialized"}
		branchMsgs := append([]string{"some more structure", "delete a chunk"}, mainMsgs...)
		for ref, want := range map[VersionRef][]string{
			BranchRef("main"):         mainMsgs,
			BranchRef("my-branch"):    branchMsgs,
			TagRef("it also works!"):  branchMsgs,
			TagRef("it works!"):       append([]string{"delete a chunk"}, mainMsgs...),
			SnapshotRef(mustID(t, r)): mainMsgs,
		} {
			id, err := r.ResolveRef(ctx, ref)
			noErr(t, err)
			if got := messages(t, r, id); !slices.Equal(got, want) {
				t.Errorf("%s: ancestry %q, want %q", ref, got, want)
			}
		}
		// Flush times increase along every chain.
		tip, _ := r.LookupBranch(ctx, "my-branch")
		anc, err := r.Ancestry(ctx, tip)
		noErr(t, err)
		for i := 1; i < len(anc); i++ {
			if anc[i-1].FlushedAt <= anc[i].FlushedAt {
				t.Fatalf("flush times not increasing at %s", anc[i-1].ID)
			}
		}
	})
}

func mustID(t *testing.T, r *Repository) ObjectID {
	id, err := r.LookupBranch(context.Background(), "main")
	noErr(t, err)
	return id
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestFixtureHierarchy(t *testing.T) {
	forEachTestRepo(t, func(t *testing.T, name string, r *Repository) {
		ctx := context.Background()
		s, err := r.ReadonlySession(ctx, BranchRef("my-branch"))
		noErr(t, err)
		nodes, err := s.Nodes(ctx)
		noErr(t, err)
		want := []struct {
			path string
			typ  NodeType
		}{
			{"/", NodeGroup},
			{"/group1", NodeGroup},
			{"/group1/big_chunks", NodeArray},
			{"/group1/small_chunks", NodeArray},
			{"/group2", NodeGroup},
			{"/group2/group3", NodeGroup},
			{"/group2/group3/group4", NodeGroup},
			{"/group2/group3/group4/group5", NodeGroup},
			{"/group2/group3/group4/group5/inner", NodeArray},
		}
		if len(nodes) != len(want) {
			t.Fatalf("%d nodes, want %d", len(nodes), len(want))
		}
		groupAttrs := map[string]any{"this": "is a nice group", "icechunk": 1.0, "size": 42.0}
		arrayAttrs := map[string]any{"this": "is a nice array", "icechunk": 1.0, "size": 42.0}
		for i, w := range want {
			n := nodes[i]
			if n.Path != w.path || n.Type != w.typ {
				t.Fatalf("node %d = %s (%v), want %s (%v)", i, n.Path, n.Type, w.path, w.typ)
			}
			wantAttrs := groupAttrs
			switch {
			case w.typ == NodeArray:
				wantAttrs = arrayAttrs
			case w.path == "/":
				// The README says "every group"; upstream's root group has
				// empty attributes.
				wantAttrs = map[string]any{}
			}
			if got := attributes(t, n.UserData); !reflect.DeepEqual(got, wantAttrs) {
				t.Errorf("%s attributes = %v, want %v", n.Path, got, wantAttrs)
			}
			doc, err := s.Get(ctx, zarr.MetadataKey(n.Path))
			noErr(t, err)
			if string(doc) != string(n.UserData) {
				t.Errorf("%s: Get(zarr.json) differs from the node's user data", n.Path)
			}
		}
		dir, err := s.ListDir(ctx, "")
		noErr(t, err)
		if !slices.Equal(dir, []string{"group1/", "group2/", "zarr.json"}) {
			t.Fatalf("ListDir(root) = %v", dir)
		}
		dir, err = s.ListDir(ctx, "group1/big_chunks/c/")
		noErr(t, err)
		if !slices.Equal(dir, []string{"0/", "1/"}) {
			t.Fatalf("ListDir(big_chunks/c) = %v", dir)
		}
		dir, err = s.ListDir(ctx, "group1/small_chunks/c")
		noErr(t, err)
		if !slices.Equal(dir, []string{"0", "1", "2", "3"}) {
			t.Fatalf("ListDir(small_chunks/c) on my-branch = %v", dir)
		}
		keys, err := s.ListPrefix(ctx, "group2/")
		noErr(t, err)
		if len(keys) != 5 || keys[0] != "group2/group3/group4/group5/inner/zarr.json" {
			t.Fatalf("ListPrefix(group2/) = %v", keys)
		}
	})
}

func TestFixtureSmallChunks(t *testing.T) {
	forEachTestRepo(t, func(t *testing.T, name string, r *Repository) {
		ctx := context.Background()
		for ref, want := range map[string][]int8{
			"my-branch": {84, 84, 84, 84, 8},
			"main":      {84, 84, 84, 84, 84},
		} {
			s, err := r.ReadonlySession(ctx, BranchRef(ref))
			noErr(t, err)
			meta, vals := readArray(t, s, "/group1/small_chunks")
			if meta.DataType != zarr.Int8 || !slices.Equal(meta.Shape, []uint64{5}) || !slices.Equal(meta.ChunkShape, []uint64{1}) {
				t.Fatalf("small_chunks metadata = %+v", meta)
			}
			if got := vals.([]int8); !slices.Equal(got, want) {
				t.Errorf("%s: small_chunks = %v, want %v", ref, got, want)
			}
			refs, err := s.ArrayChunkRefs(ctx, "/group1/small_chunks")
			noErr(t, err)
			for _, cr := range refs {
				if cr.Kind != ChunkInline || len(cr.Inline) > 12 {
					t.Errorf("%s: small_chunks chunk %v is %v (%d bytes), want inline within 12 bytes", ref, cr.Index, cr.Kind, len(cr.Inline))
				}
			}
		}
		s, err := r.ReadonlySession(ctx, BranchRef("my-branch"))
		noErr(t, err)
		_, err = s.Get(ctx, "group1/small_chunks/c/4")
		mustErrIs(t, err, ErrKeyNotFound)
		ok, err := s.Exists(ctx, "group1/small_chunks/c/4")
		if err != nil || ok {
			t.Fatalf("Exists(deleted chunk) = %v, %v", ok, err)
		}
	})
}

func TestFixtureBigChunks(t *testing.T) {
	forEachTestRepo(t, func(t *testing.T, name string, r *Repository) {
		ctx := context.Background()
		for _, ref := range []VersionRef{BranchRef("main"), BranchRef("my-branch"), TagRef("it works!")} {
			s, err := r.ReadonlySession(ctx, ref)
			noErr(t, err)
			doc, err := s.Get(ctx, "group1/big_chunks/zarr.json")
			noErr(t, err)
			m, err := zarr.ParseMetadata("big_chunks", doc)
			noErr(t, err)
			a := m.Array
			if a.DataType != zarr.Float32 || !slices.Equal(a.Shape, []uint64{10, 10}) || !slices.Equal(a.ChunkShape, []uint64{5, 5}) || !math.IsNaN(a.FillValue.Float64()) {
				t.Fatalf("big_chunks metadata = %+v", a)
			}
			native, ok, err := s.GetChunkRef(ctx, "/group1/big_chunks", []uint32{0, 1})
			if err != nil || !ok || native.Kind != ChunkNative {
				t.Fatalf("%s: c/0/1 = %+v, %v, %v; want native", ref, native, ok, err)
			}
			obj := filepath.Join(testfixtures.Path(t, name), "chunks", native.ChunkID.String())
			fi, err := os.Stat(obj)
			noErr(t, err)
			if uint64(fi.Size()) != native.Length || native.Offset != 0 {
				t.Fatalf("c/0/1 ref length %d offset %d, object has %d bytes", native.Length, native.Offset, fi.Size())
			}

			virt, ok, err := s.GetChunkRef(ctx, "group1/big_chunks", []uint32{0, 0})
			if err != nil || !ok {
				t.Fatalf("c/0/0: %v %v", ok, err)
			}
			if virt.Kind != ChunkVirtual || virt.Location != "s3://testbucket/can_read_old/chunk-1" || virt.Offset != 0 || virt.Length != uint64(fi.Size()) {
				t.Fatalf("c/0/0 = %+v, want virtual s3://testbucket/can_read_old/chunk-1 offset 0 length %d", virt, fi.Size())
			}
			_, err = s.Get(ctx, "group1/big_chunks/c/0/0")
			var ve *VirtualChunkError
			if !errors.As(err, &ve) || !errors.Is(err, ErrVirtualChunk) {
				t.Fatalf("Get(virtual chunk) error = %v, want a *VirtualChunkError", err)
			}
			if ve.Location != virt.Location || ve.Length != virt.Length || ve.Key != "group1/big_chunks/c/0/0" {
				t.Fatalf("virtual chunk error = %+v", ve)
			}
			for _, c := range [][]uint32{{0, 1}, {1, 0}, {1, 1}} {
				data, err := s.Get(ctx, zarr.ChunkKey("/group1/big_chunks", c, zarr.DefaultChunkKeyEncoding))
				noErr(t, err)
				vals, err := zarr.DecodeChunk(a, data)
				noErr(t, err)
				f := vals.([]float32)
				if len(f) != 25 {
					t.Fatalf("chunk %v has %d values", c, len(f))
				}
				for _, v := range f {
					if v != 42 {
						t.Fatalf("%s: chunk %v holds %v, want all 42.0", ref, c, v)
					}
				}
			}
		}
	})
}

func TestFixtureInnerIsEmpty(t *testing.T) {
	forEachTestRepo(t, func(t *testing.T, name string, r *Repository) {
		ctx := context.Background()
		s, err := r.ReadonlySession(ctx, BranchRef("my-branch"))
		noErr(t, err)
		meta, vals := readArray(t, s, "/group2/group3/group4/group5/inner")
		if !slices.Equal(meta.Shape, []uint64{10, 10}) || !slices.Equal(meta.ChunkShape, []uint64{5, 5}) || meta.DataType != zarr.Float32 {
			t.Fatalf("inner metadata = %+v", meta)
		}
		f := vals.([]float32)
		if len(f) != 100 {
			t.Fatalf("inner has %d values", len(f))
		}
		for _, v := range f {
			if !math.IsNaN(float64(v)) {
				t.Fatalf("inner holds %v, want NaN", v)
			}
		}
		refs, err := s.ArrayChunkRefs(ctx, "/group2/group3/group4/group5/inner")
		noErr(t, err)
		if len(refs) != 0 {
			t.Fatalf("inner has %d chunk refs", len(refs))
		}
		// inner does not exist on main.
		m, err := r.ReadonlySession(ctx, BranchRef("main"))
		noErr(t, err)
		_, err = m.Get(ctx, "group2/group3/group4/group5/inner/zarr.json")
		mustErrIs(t, err, ErrKeyNotFound)
	})
}

func TestFixtureDiff(t *testing.T) {
	forEachTestRepo(t, func(t *testing.T, name string, r *Repository) {
		ctx := context.Background()
		tip, err := r.LookupBranch(ctx, "main")
		noErr(t, err)
		from := snapshotByMessage(t, r, tip, "empty structure")
		d, err := r.Diff(ctx, from.ID, tip)
		noErr(t, err)
		if n := len(d.NewGroups) + len(d.NewArrays) + len(d.DeletedGroups) + len(d.DeletedArrays) + len(d.UpdatedGroups) + len(d.UpdatedArrays); n != 0 {
			t.Fatalf("diff has node changes: %+v", d)
		}
		want := map[string][][]uint32{
			"/group1/big_chunks":   {{0, 0}, {0, 1}, {1, 0}, {1, 1}},
			"/group1/small_chunks": {{0}, {1}, {2}, {3}, {4}},
		}
		if !reflect.DeepEqual(d.UpdatedChunks, want) {
			t.Fatalf("updated chunks = %v, want %v", d.UpdatedChunks, want)
		}

		_, err = r.Diff(ctx, tip, from.ID)
		mustErrIs(t, err, ErrNotAncestor)
		_, err = r.Diff(ctx, tip, tip)
		mustErrIs(t, err, ErrNotAncestor)

		// my-branch: "some more structure" adds group2..inner.
		bt, _ := r.LookupBranch(ctx, "my-branch")
		d, err = r.Diff(ctx, tip, bt)
		noErr(t, err)
		if !slices.Equal(d.NewGroups, []string{"/group2", "/group2/group3", "/group2/group3/group4", "/group2/group3/group4/group5"}) ||
			!slices.Equal(d.NewArrays, []string{"/group2/group3/group4/group5/inner"}) {
			t.Fatalf("diff main..my-branch = %+v", d)
		}
		if !reflect.DeepEqual(d.UpdatedChunks, map[string][][]uint32{"/group1/small_chunks": {{4}}}) {
			t.Fatalf("diff main..my-branch chunks = %v", d.UpdatedChunks)
		}
	})
}

func TestFixtureSplitRepo(t *testing.T) {
	ctx := context.Background()
	r := openFixture(t, "split-repo-v1")
	tip, err := r.LookupBranch(ctx, "main")
	noErr(t, err)
	anc, err := r.Ancestry(ctx, tip)
	noErr(t, err)
	type fact struct {
		msg   string
		files int
	}
	var got []fact
	for _, s := range slices.Backward(anc) {
		got = append(got, fact{s.Message, len(s.ManifestFiles)})
	}
	want := []fact{
		{"Repository initialized", 0}, {"empty structure", 0}, {"write data", 9},
		{"write data again", 9}, {"write data again with more splits", 17},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("split-repo history = %v, want %v", got, want)
	}

	s, err := r.ReadonlySession(ctx, BranchRef("main"))
	noErr(t, err)
	nodes, err := s.Nodes(ctx)
	noErr(t, err)
	var split *Node
	for i := range nodes {
		if nodes[i].Path == "/group1/split" {
			split = &nodes[i]
		}
	}
	if split == nil {
		t.Fatal("no /group1/split")
	}
	if len(split.Manifests) < 2 {
		t.Fatalf("split has %d manifests, want many", len(split.Manifests))
	}
	if len(split.DimensionNames) != 2 || split.DimensionNames[0] != nil || split.DimensionNames[1] == nil || *split.DimensionNames[1] != "longitude" {
		t.Fatalf("split dimension names = %v", split.DimensionNames)
	}
	meta, vals := readArray(t, s, "/group1/split")
	if !slices.Equal(meta.Shape, []uint64{10, 10}) || !slices.Equal(meta.ChunkShape, []uint64{3, 3}) {
		t.Fatalf("split metadata = %+v", meta)
	}
	if len(meta.DimensionNames) != 2 || meta.DimensionNames[0] != nil || *meta.DimensionNames[1] != "longitude" {
		t.Fatalf("split zarr dimension names = %v", meta.DimensionNames)
	}
	for _, v := range vals.([]float32) {
		if v != 14 {
			t.Fatalf("split holds %v, want all 14", v)
		}
	}
	_, vals = readArray(t, s, "/group1/small_chunks")
	if got := vals.([]int8); !slices.Equal(got, []int8{3, 3, 3, 3, 3}) {
		t.Fatalf("small_chunks = %v, want all 3", got)
	}

	rules, ok := r.Config().ManifestSplitting()
	if !ok || len(rules) != 1 || len(rules[0].Dims) != 3 {
		t.Fatalf("splitting config = %+v, %v", rules, ok)
	}
	// The splits our writer would use agree with the manifests upstream wrote.
	splits := splitExtents(r.Config(), "/group1/split", split.Shape, split.DimensionNames)
	if len(splits) != 16 {
		t.Fatalf("%d splits for /group1/split, want 4x4", len(splits))
	}
	for _, mr := range split.Manifests {
		n := 0
		for _, sp := range splits {
			if overlap(mr.Extents, sp) == overlapComplete {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("manifest %s extents %v lie in %d of our splits, want 1", mr.ID, mr.Extents, n)
		}
	}
}

// TestFixtureSplitRepoCommit commits on a copy of split-repo-v1: only the
// split holding the changed chunk gets a new manifest; the config survives
// a read-modify-write.
func TestFixtureSplitRepoCommit(t *testing.T) {
	for _, migrate := range []bool{false, true} {
		t.Run(fmt.Sprintf("migrated-%v", migrate), func(t *testing.T) {
			ctx := context.Background()
			clock := objstore.NewVirtualClock(time.Now(), time.Second)
			st := copyFixture(t, "split-repo-v1", clock)
			r, err := Open(ctx, st, Options{Clock: clock, Rand: seeded(7)})
			noErr(t, err)
			if migrate {
				// Migrated keeping config.yaml: the configuration now lives in the
				// repo object, config.yaml is a stale leftover.
				_, err := r.Upgrade(ctx, false, false)
				noErr(t, err)
				r, err = Open(ctx, st, Options{Clock: clock, Rand: seeded(7)})
				noErr(t, err)
				if rules, ok := r.Config().ManifestSplitting(); !ok || len(rules) != 1 {
					t.Fatalf("migration lost the splitting config: %+v", rules)
				}
			}

			cfgBefore, _, err := st.Get(ctx, ConfigKey)
			noErr(t, err)
			cfg, err := ParseConfig("copy", cfgBefore)
			noErr(t, err)
			cfg.SetInlineChunkThresholdBytes(12)
			noErr(t, r.SaveConfig(ctx, cfg))
			r, err = Open(ctx, st, Options{Clock: clock, Rand: seeded(7)})
			noErr(t, err)
			rules, ok := r.Config().ManifestSplitting()
			if !ok || len(rules) != 1 || rules[0].Condition.Kind != SplitNameMatches || rules[0].Condition.Regex != "split_*" {
				t.Fatalf("splitting config lost in a read-modify-write: %+v", rules)
			}

			s, err := r.WritableSession(ctx, "main")
			noErr(t, err)
			before, err := s.Nodes(ctx)
			noErr(t, err)
			meta, _ := readArray(t, s, "/group1/split")
			chunk, err := zarr.EncodeChunk(meta, slices.Repeat([]float32{5}, 9))
			noErr(t, err)
			noErr(t, s.Set(ctx, "group1/split/c/2/1", chunk))
			id, err := s.Commit(ctx, "one chunk", nil)
			noErr(t, err)

			snap, err := r.ReadSnapshot(ctx, id)
			noErr(t, err)
			if len(snap.ManifestFiles) != 17 {
				t.Fatalf("%d manifest files after a one-chunk commit, want 17", len(snap.ManifestFiles))
			}
			var oldSplit, newSplit []ManifestRef
			for _, n := range before {
				if n.Path == "/group1/split" {
					oldSplit = n.Manifests
				}
			}
			for _, n := range snap.Nodes {
				if n.Path == "/group1/split" {
					newSplit = n.Manifests
				}
			}
			kept := 0
			for _, nm := range newSplit {
				for _, om := range oldSplit {
					if om.ID == nm.ID {
						kept++
					}
				}
			}
			if len(newSplit) != len(oldSplit) || kept != len(oldSplit)-1 {
				t.Fatalf("after the commit split has %d manifests (%d kept), before %d; want one replaced", len(newSplit), kept, len(oldSplit))
			}

			ro, err := r.ReadonlySession(ctx, SnapshotRef(id))
			noErr(t, err)
			_, vals := readArray(t, ro, "/group1/split")
			f := vals.([]float32)
			for i, v := range f {
				row, col := i/10, i%10
				want := float32(14)
				if row >= 6 && row < 9 && col >= 3 && col < 6 {
					want = 5
				}
				if v != want {
					t.Fatalf("split[%d,%d] = %v, want %v", row, col, v, want)
				}
			}
			findings, err := r.Fsck(ctx)
			noErr(t, err)
			if len(findings) != 0 {
				t.Fatalf("fsck findings after commit: %v", findings)
			}
			tl, err := r.ReadTransactionLog(ctx, id)
			noErr(t, err)
			if len(tl.UpdatedChunks) != 1 || !reflect.DeepEqual(tl.UpdatedChunks[0].Chunks, [][]uint32{{2, 1}}) {
				t.Fatalf("transaction log chunks = %+v", tl.UpdatedChunks)
			}
		})
	}
}

// TestFixtureV1CommitOnCopy writes on a copy of test-repo-v1's my-branch and
// checks the untouched arrays keep their upstream manifests.
func TestFixtureV1CommitOnCopy(t *testing.T) {
	ctx := context.Background()
	clock := objstore.NewVirtualClock(time.Now(), time.Second)
	st := copyFixture(t, "test-repo-v1", clock)
	r, err := Open(ctx, st, Options{Clock: clock, Rand: seeded(3)})
	noErr(t, err)
	s, err := r.WritableSession(ctx, "my-branch")
	noErr(t, err)
	meta, _ := readArray(t, s, "/group2/group3/group4/group5/inner")
	chunk, err := zarr.EncodeChunk(meta, slices.Repeat([]float32{1.5}, 25))
	noErr(t, err)
	noErr(t, s.Set(ctx, "group2/group3/group4/group5/inner/c/1/1", chunk))
	noErr(t, s.Set(ctx, "group1/small_chunks/c/4", []byte{0x7, 0, 0, 0})) // bogus bytes, only stored
	old, err := r.ReadSnapshot(ctx, s.BaseSnapshot())
	noErr(t, err)
	id, err := s.Commit(ctx, "more", map[string]any{"author": "test", "n": 3})
	noErr(t, err)
	if got := messages(t, r, id)[:3]; !slices.Equal(got, []string{"more", "some more structure", "delete a chunk"}) {
		t.Fatalf("ancestry = %v", got)
	}
	snap, err := r.ReadSnapshot(ctx, id)
	noErr(t, err)
	for _, n := range snap.Nodes {
		if n.Path != "/group1/big_chunks" {
			continue
		}
		for _, o := range old.Nodes {
			if o.Path == n.Path && !reflect.DeepEqual(o.Manifests, n.Manifests) {
				t.Fatalf("untouched big_chunks manifests changed: %v -> %v", o.Manifests, n.Manifests)
			}
		}
	}
	if len(snap.Metadata) != 2 || snap.Metadata[0].Name != "author" {
		t.Fatalf("metadata = %+v", snap.Metadata)
	}
	v, err := DecodeMetadataValue(snap.Metadata[1].Value)
	if err != nil || v != int64(3) && v != uint64(3) {
		t.Fatalf("metadata n = %v (%T), %v", v, v, err)
	}
	ro, err := r.ReadonlySession(ctx, BranchRef("my-branch"))
	noErr(t, err)
	_, vals := readArray(t, ro, "/group2/group3/group4/group5/inner")
	f := vals.([]float32)
	if f[99] != 1.5 || !math.IsNaN(float64(f[0])) {
		t.Fatalf("inner after commit: [0]=%v [99]=%v", f[0], f[99])
	}
	keys, err := ro.List(ctx)
	noErr(t, err)
	if !slices.Contains(keys, "group1/small_chunks/c/4") || !sort.StringsAreSorted(keys) {
		t.Fatalf("keys = %v", keys)
	}
	findings, err := r.Fsck(ctx)
	noErr(t, err)
	if len(findings) != 0 {
		t.Fatalf("fsck: %v", findings)
	}
	// The fixture itself is untouched (we wrote to a copy).
	orig := openFixture(t, "test-repo-v1")
	if tip, _ := orig.LookupBranch(ctx, "my-branch"); tip == id {
		t.Fatal("wrote into the fixture")
	}
}
