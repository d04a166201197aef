package formatv2

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// arrayDoc writes a minimal Zarr v3 array document (bytes codec only).
func arrayDoc(shape, chunks []uint64, dtype, fill string, dimNames []*string) []byte {
	sh, _ := json.Marshal(shape)
	ch, _ := json.Marshal(chunks)
	doc := fmt.Sprintf(`{"zarr_format":3,"node_type":"array","shape":%s,"data_type":%q,`+
		`"chunk_grid":{"name":"regular","configuration":{"chunk_shape":%s}},`+
		`"chunk_key_encoding":{"name":"default","configuration":{"separator":"/"}},`+
		`"fill_value":%s,"codecs":[{"name":"bytes","configuration":{"endian":"little"}}],"attributes":{}`,
		sh, dtype, ch, fill)
	if dimNames != nil {
		dn, _ := json.Marshal(dimNames)
		doc += `,"dimension_names":` + string(dn)
	}
	return []byte(doc + "}")
}

var groupDoc = []byte(`{"zarr_format":3,"node_type":"group","attributes":{}}`)

func groupDocWith(attrs string) []byte {
	return []byte(`{"zarr_format":3,"node_type":"group","attributes":` + attrs + `}`)
}

func TestSessionRoundTrip(t *testing.T) {
	bothSpecs(t, func(t *testing.T, spec int) {
		ctx := context.Background()
		cfg := DefaultConfig()
		cfg.SetInlineChunkThresholdBytes(12)
		r, st, _ := newMemRepoSpec(t, spec, cfg)
		s, err := r.WritableSession(ctx, "main")
		noErr(t, err)
		if s.ReadOnly() || s.Branch() != "main" || s.HasChanges() {
			t.Fatal("fresh writable session state wrong")
		}
		base := s.BaseSnapshot()
		noErr(t, s.Set(ctx, "zarr.json", groupDoc))
		noErr(t, s.Set(ctx, "g/zarr.json", groupDocWith(`{"a":1}`)))
		arr := arrayDoc([]uint64{4, 4}, []uint64{2, 2}, "uint8", "0", []*string{nil, ptr("x")})
		noErr(t, s.Set(ctx, "g/arr/zarr.json", arr))
		inline12 := []byte("0123456789ab")  // 12 bytes: at the threshold, inline
		native13 := []byte("0123456789abc") // 13 bytes: above it, a chunk object
		noErr(t, s.Set(ctx, "g/arr/c/0/0", inline12))
		noErr(t, s.Set(ctx, "g/arr/c/1/1", native13))
		noErr(t, s.SetVirtualRef(ctx, "g/arr/c/1/0", "s3://bucket/file.nc", 100, 16))
		if !s.HasChanges() {
			t.Fatal("no changes recorded")
		}
		chunks, err := st.List(ctx, "chunks/")
		noErr(t, err)
		if len(chunks) != 1 || chunks[0].Size != 13 {
			t.Fatalf("chunk objects before commit = %+v, want the 13-byte chunk written at Set", chunks)
		}
		// The session reads its own writes.
		got, err := s.Get(ctx, "g/arr/c/1/1")
		noErr(t, err)
		if string(got) != string(native13) {
			t.Fatalf("read back %q", got)
		}

		id, err := s.Commit(ctx, "first", map[string]any{"who": "me"})
		noErr(t, err)
		if s.HasChanges() || s.BaseSnapshot() != id || s.ReadOnly() {
			t.Fatal("session does not continue from the new snapshot")
		}
		tip, err := r.LookupBranch(ctx, "main")
		noErr(t, err)
		if tip != id {
			t.Fatalf("main at %s, committed %s", tip, id)
		}
		anc, err := r.Ancestry(ctx, id)
		noErr(t, err)
		snap := anc[0]
		if snap.ParentID == nil || *snap.ParentID != base || snap.Message != "first" || int(snap.SpecVersion) != spec {
			t.Fatalf("snapshot = %+v", snap)
		}
		if len(snap.ManifestFiles) != 1 || snap.ManifestFiles[0].NumChunkRefs != 3 {
			t.Fatalf("manifest files = %+v", snap.ManifestFiles)
		}
		mobj, _, err := st.Get(ctx, manifestKey(snap.ManifestFiles[0].ID))
		noErr(t, err)
		if snap.ManifestFiles[0].SizeBytes != uint64(len(mobj)) {
			t.Fatalf("manifest size recorded %d, object has %d", snap.ManifestFiles[0].SizeBytes, len(mobj))
		}

		ro, err := r.ReadonlySession(ctx, BranchRef("main"))
		noErr(t, err)
		for key, want := range map[string][]byte{"g/arr/c/0/0": inline12, "g/arr/c/1/1": native13, "zarr.json": groupDoc, "g/arr/zarr.json": arr} {
			got, err := ro.Get(ctx, key)
			noErr(t, err)
			if string(got) != string(want) {
				t.Fatalf("Get(%s) = %q, want %q", key, got, want)
			}
		}
		_, err = ro.Get(ctx, "g/arr/c/1/0")
		mustErrIs(t, err, ErrVirtualChunk)
		_, err = ro.Get(ctx, "g/arr/c/0/1")
		mustErrIs(t, err, ErrKeyNotFound)
		_, err = ro.Get(ctx, "g/arr/c/5/5")
		mustErrIs(t, err, ErrKeyNotFound)
		_, err = ro.Get(ctx, "nope/zarr.json")
		mustErrIs(t, err, ErrKeyNotFound)
		_, err = ro.Get(ctx, "g/c/0")
		mustErrIs(t, err, ErrKeyNotFound)
		_, err = ro.Get(ctx, "/bad//key")
		mustErrIs(t, err, ErrInvalidKey)

		ref, ok, err := ro.GetChunkRef(ctx, "/g/arr", []uint32{0, 0})
		if err != nil || !ok || ref.Kind != ChunkInline {
			t.Fatalf("c/0/0 ref = %+v %v %v, want inline", ref, ok, err)
		}
		ref, ok, err = ro.GetChunkRef(ctx, "g/arr", []uint32{1, 1})
		if err != nil || !ok || ref.Kind != ChunkNative || ref.Length != 13 || ref.ChunkID != mustParseID(t, chunks[0].Key) {
			t.Fatalf("c/1/1 ref = %+v %v %v, want native", ref, ok, err)
		}
		ref, ok, err = ro.GetChunkRef(ctx, "g/arr", []uint32{1, 0})
		if err != nil || !ok || ref.Kind != ChunkVirtual || ref.Location != "s3://bucket/file.nc" || ref.Offset != 100 || ref.Length != 16 {
			t.Fatalf("c/1/0 ref = %+v %v %v, want virtual", ref, ok, err)
		}
		_, _, err = ro.GetChunkRef(ctx, "g", []uint32{0})
		mustErrIs(t, err, ErrNodeNotFound)

		keys, err := ro.List(ctx)
		noErr(t, err)
		wantKeys := []string{"g/arr/c/0/0", "g/arr/c/1/0", "g/arr/c/1/1", "g/arr/zarr.json", "g/zarr.json", "zarr.json"}
		if !slices.Equal(keys, wantKeys) {
			t.Fatalf("List = %v, want %v", keys, wantKeys)
		}
		for prefix, want := range map[string][]string{
			"":          {"g/", "zarr.json"},
			"/":         {"g/", "zarr.json"},
			"g":         {"arr/", "zarr.json"},
			"g/arr/":    {"c/", "zarr.json"},
			"g/arr/c":   {"0/", "1/"},
			"g/arr/c/1": {"0", "1"},
			"missing":   {},
		} {
			got, err := ro.ListDir(ctx, prefix)
			noErr(t, err)
			if !slices.Equal(got, want) {
				t.Errorf("ListDir(%q) = %v, want %v", prefix, got, want)
			}
		}
		got2, err := ro.ListPrefix(ctx, "g/arr/c/1")
		noErr(t, err)
		if !slices.Equal(got2, []string{"g/arr/c/1/0", "g/arr/c/1/1"}) {
			t.Fatalf("ListPrefix = %v", got2)
		}
		for key, want := range map[string]bool{"g/zarr.json": true, "g/arr/c/1/0": true, "g/arr/c/0/1": false, "x/zarr.json": false} {
			ok, err := ro.Exists(ctx, key)
			noErr(t, err)
			if ok != want {
				t.Errorf("Exists(%s) = %v", key, ok)
			}
		}
		nodes, err := ro.Nodes(ctx)
		noErr(t, err)
		if len(nodes) != 3 || nodes[2].Path != "/g/arr" || len(nodes[2].Manifests) != 1 || *nodes[2].DimensionNames[1] != "x" || nodes[2].DimensionNames[0] != nil {
			t.Fatalf("nodes = %+v", nodes)
		}
		if want := []ChunkIndexRange{{0, 2}, {0, 2}}; !slices.Equal(nodes[2].Manifests[0].Extents, want) {
			t.Fatalf("extents = %v, want %v", nodes[2].Manifests[0].Extents, want)
		}

		tl, err := r.ReadTransactionLog(ctx, id)
		noErr(t, err)
		if len(tl.NewGroups) != 2 || len(tl.NewArrays) != 1 || len(tl.UpdatedChunks) != 1 || len(tl.UpdatedChunks[0].Chunks) != 3 {
			t.Fatalf("transaction log = %+v", tl)
		}
		d, err := r.Diff(ctx, base, id)
		noErr(t, err)
		if !slices.Equal(d.NewGroups, []string{"/", "/g"}) || !slices.Equal(d.NewArrays, []string{"/g/arr"}) ||
			!reflect.DeepEqual(d.UpdatedChunks, map[string][][]uint32{"/g/arr": {{0, 0}, {1, 0}, {1, 1}}}) {
			t.Fatalf("diff = %+v", d)
		}

		// Second commit on the same session: update the group, delete a chunk.
		noErr(t, s.Set(ctx, "g/zarr.json", groupDocWith(`{"a":2}`)))
		noErr(t, s.Delete(ctx, "g/arr/c/0/0"))
		id2, err := s.Commit(ctx, "second", nil)
		noErr(t, err)
		d, err = r.Diff(ctx, id, id2)
		noErr(t, err)
		if !slices.Equal(d.UpdatedGroups, []string{"/g"}) || len(d.NewGroups) != 0 ||
			!reflect.DeepEqual(d.UpdatedChunks, map[string][][]uint32{"/g/arr": {{0, 0}}}) {
			t.Fatalf("diff 2 = %+v", d)
		}
		ro2, err := r.ReadonlySession(ctx, SnapshotRef(id2))
		noErr(t, err)
		_, err = ro2.Get(ctx, "g/arr/c/0/0")
		mustErrIs(t, err, ErrKeyNotFound)
		if got, _ := ro2.Get(ctx, "g/arr/c/1/1"); string(got) != string(native13) {
			t.Fatal("untouched chunk lost")
		}
		if got := messages(t, r, id2); !slices.Equal(got, []string{"second", "first", "Repository initialized"}) {
			t.Fatalf("ancestry = %v", got)
		}
		findings, err := r.Fsck(ctx)
		noErr(t, err)
		if len(findings) != 0 {
			t.Fatalf("fsck: %v", findings)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func mustParseID(t *testing.T, key string) ObjectID {
	t.Helper()
	id, err := ParseObjectID(key[strings.LastIndexByte(key, '/')+1:])
	noErr(t, err)
	return id
}

func TestSessionEmptyCommit(t *testing.T) {
	bothSpecs(t, func(t *testing.T, spec int) {
		ctx := context.Background()
		r, _, _ := newMemRepoSpec(t, spec, nil)
		s, err := r.WritableSession(ctx, "main")
		noErr(t, err)
		_, err = s.Commit(ctx, "nothing", nil)
		mustErrIs(t, err, ErrNoChanges)

		noErr(t, s.Set(ctx, "zarr.json", groupDoc))
		_, err = s.Commit(ctx, "root", nil)
		noErr(t, err)
		// Setting an identical document is no change.
		noErr(t, s.Set(ctx, "zarr.json", groupDoc))
		if s.HasChanges() {
			t.Fatal("identical document counted as a change")
		}
		_, err = s.Commit(ctx, "same", nil)
		mustErrIs(t, err, ErrNoChanges)
		// Creating and deleting a node in one session is no change either.
		noErr(t, s.Set(ctx, "tmp/zarr.json", groupDoc))
		noErr(t, s.Delete(ctx, "tmp/zarr.json"))
		_, err = s.Commit(ctx, "tmp", nil)
		mustErrIs(t, err, ErrNoChanges)
		// Discard drops changes.
		noErr(t, s.Set(ctx, "x/zarr.json", groupDoc))
		s.Discard()
		_, err = s.Commit(ctx, "discarded", nil)
		mustErrIs(t, err, ErrNoChanges)
		ro, err := r.ReadonlySession(ctx, BranchRef("main"))
		noErr(t, err)
		keys, err := ro.List(ctx)
		noErr(t, err)
		if !slices.Equal(keys, []string{"zarr.json"}) {
			t.Fatalf("keys = %v", keys)
		}
	})
}

func TestReadOnlySessionRefusesWrites(t *testing.T) {
	bothSpecs(t, func(t *testing.T, spec int) {
		ctx := context.Background()
		r, _, _ := newMemRepoSpec(t, spec, nil)
		w, err := r.WritableSession(ctx, "main")
		noErr(t, err)
		noErr(t, w.Set(ctx, "zarr.json", groupDoc))
		noErr(t, w.Set(ctx, "a/zarr.json", arrayDoc([]uint64{2}, []uint64{1}, "int8", "0", nil)))
		id, err := w.Commit(ctx, "c", nil)
		noErr(t, err)
		noErr(t, r.CreateTag(ctx, "v1", id))
		for _, ref := range []VersionRef{BranchRef("main"), TagRef("v1"), SnapshotRef(id)} {
			s, err := r.ReadonlySession(ctx, ref)
			noErr(t, err)
			if !s.ReadOnly() || s.Branch() != "" {
				t.Fatalf("%s: not read-only", ref)
			}
			mustErrIs(t, s.Set(ctx, "b/zarr.json", groupDoc), ErrReadOnly)
			mustErrIs(t, s.Set(ctx, "a/c/0", []byte{1}), ErrReadOnly)
			mustErrIs(t, s.Delete(ctx, "a/zarr.json"), ErrReadOnly)
			mustErrIs(t, s.SetVirtualRef(ctx, "a/c/0", "s3://x/y", 0, 1), ErrReadOnly)
			_, err = s.Commit(ctx, "no", nil)
			mustErrIs(t, err, ErrReadOnly)
			if ok, _ := s.Exists(ctx, "a/zarr.json"); !ok {
				t.Fatal("read-only session lost data")
			}
		}
		_, err = r.ReadonlySession(ctx, VersionRef{})
		mustErrIs(t, err, ErrInvalidVersionRef)
		_, err = r.ReadonlySession(ctx, VersionRef{Branch: "main", Tag: "v1"})
		mustErrIs(t, err, ErrInvalidVersionRef)
		_, err = r.ReadonlySession(ctx, SnapshotRef(ObjectID{1, 2, 3}))
		mustErrIs(t, err, ErrRefNotFound)
		_, err = r.WritableSession(ctx, "nope")
		mustErrIs(t, err, ErrRefNotFound)
	})
}

func TestSessionKeyValidation(t *testing.T) {
	bothSpecs(t, func(t *testing.T, spec int) {
		ctx := context.Background()
		r, _, _ := newMemRepoSpec(t, spec, nil)
		s, err := r.WritableSession(ctx, "main")
		noErr(t, err)
		noErr(t, s.Set(ctx, "a/zarr.json", arrayDoc([]uint64{5, 0}, []uint64{2, 3}, "int8", "0", nil)))
		noErr(t, s.Set(ctx, "g/zarr.json", groupDoc))
		for _, tc := range []struct {
			key  string
			want error
		}{
			{"", ErrInvalidKey},
			{"/zarr.json", ErrInvalidKey},
			{"a//c/0/0", ErrInvalidKey},
			{"a/../zarr.json", ErrInvalidKey},
			{"a/c/x/0", ErrInvalidKey},
			{"a/foo", ErrInvalidKey},
			{"a/c/3/0", ErrInvalidKey},   // outside the 3x1 grid
			{"a/c/0", ErrInvalidKey},     // wrong number of coordinates
			{"a/c/0/0/0", ErrInvalidKey}, // wrong number of coordinates
			{"b/c/0/0", ErrNodeNotFound}, // no such array
			{"g/c/0", ErrNodeNotFound},   // a group
		} {
			mustErrIs(t, s.Set(ctx, tc.key, []byte{1}), tc.want)
		}
		noErr(t, s.Set(ctx, "a/c/2/0", []byte{1})) // last chunk; the empty dimension has chunk 0
		mustErrIs(t, s.Set(ctx, "x/zarr.json", []byte(`{"zarr_format":2}`)), ErrInvalidKey)
		mustErrIs(t, s.Set(ctx, "x/zarr.json", []byte(`not json`)), ErrInvalidKey)
		mustErrIs(t, s.Set(ctx, "a/zarr.json", groupDoc), ErrNodeExists)
		mustErrIs(t, s.Set(ctx, "g/zarr.json", arrayDoc([]uint64{1}, []uint64{1}, "int8", "0", nil)), ErrNodeExists)
		mustErrIs(t, s.Delete(ctx, "a/c/9/0"), ErrInvalidKey)
		mustErrIs(t, s.Delete(ctx, "zz/c/0"), ErrNodeNotFound)
		noErr(t, s.Delete(ctx, "zz/zarr.json")) // deleting a missing node is a no-op
		mustErrIs(t, s.SetVirtualRef(ctx, "a/zarr.json", "s3://x", 0, 1), ErrInvalidKey)
		mustErrIs(t, s.SetVirtualRef(ctx, "a/c/0/0", "", 0, 1), ErrInvalidKey)
	})
}

func TestSessionDeleteSubtree(t *testing.T) {
	bothSpecs(t, func(t *testing.T, spec int) {
		ctx := context.Background()
		r, _, _ := newMemRepoSpec(t, spec, nil)
		s, err := r.WritableSession(ctx, "main")
		noErr(t, err)
		for _, k := range []string{"zarr.json", "a/zarr.json", "a/b/zarr.json", "ab/zarr.json"} {
			noErr(t, s.Set(ctx, k, groupDoc))
		}
		noErr(t, s.Set(ctx, "a/b/arr/zarr.json", arrayDoc([]uint64{2}, []uint64{1}, "int8", "0", nil)))
		noErr(t, s.Set(ctx, "a/b/arr/c/1", []byte{7}))
		_, err = s.Commit(ctx, "tree", nil)
		noErr(t, err)

		noErr(t, s.Delete(ctx, "a/zarr.json"))
		keys, err := s.List(ctx)
		noErr(t, err)
		if !slices.Equal(keys, []string{"ab/zarr.json", "zarr.json"}) {
			t.Fatalf("after deleting a: %v", keys)
		}
		// Recreate a/ with a new array at the old path: it starts empty.
		noErr(t, s.Set(ctx, "a/zarr.json", groupDoc))
		noErr(t, s.Set(ctx, "a/b/arr/zarr.json", arrayDoc([]uint64{2}, []uint64{1}, "int8", "0", nil)))
		_, err = s.Get(ctx, "a/b/arr/c/1")
		mustErrIs(t, err, ErrKeyNotFound)
		id, err := s.Commit(ctx, "recreate", nil)
		noErr(t, err)
		tl, err := r.ReadTransactionLog(ctx, id)
		noErr(t, err)
		if len(tl.DeletedGroups) != 2 || len(tl.DeletedArrays) != 1 || len(tl.NewGroups) != 1 || len(tl.NewArrays) != 1 {
			t.Fatalf("transaction log = %+v", tl)
		}
		ro, err := r.ReadonlySession(ctx, BranchRef("main"))
		noErr(t, err)
		keys, err = ro.List(ctx)
		noErr(t, err)
		if !slices.Equal(keys, []string{"a/b/arr/zarr.json", "a/zarr.json", "ab/zarr.json", "zarr.json"}) {
			t.Fatalf("keys = %v", keys)
		}
		// Deleting the root deletes everything.
		noErr(t, s.Delete(ctx, "zarr.json"))
		keys, err = s.List(ctx)
		noErr(t, err)
		if len(keys) != 0 {
			t.Fatalf("after deleting the root: %v", keys)
		}
	})
}

func TestResizeDropsChunks(t *testing.T) {
	bothSpecs(t, func(t *testing.T, spec int) {
		ctx := context.Background()
		r, _, _ := newMemRepoSpec(t, spec, nil)
		s, err := r.WritableSession(ctx, "main")
		noErr(t, err)
		noErr(t, s.Set(ctx, "a/zarr.json", arrayDoc([]uint64{4}, []uint64{1}, "int8", "0", nil)))
		for i := range 4 {
			noErr(t, s.Set(ctx, fmt.Sprintf("a/c/%d", i), []byte{byte(i + 1)}))
		}
		_, err = s.Commit(ctx, "four", nil)
		noErr(t, err)

		noErr(t, s.Set(ctx, "a/zarr.json", arrayDoc([]uint64{2}, []uint64{1}, "int8", "0", nil)))
		_, err = s.Get(ctx, "a/c/3")
		mustErrIs(t, err, ErrKeyNotFound)
		keys, err := s.ListPrefix(ctx, "a/c/")
		noErr(t, err)
		if !slices.Equal(keys, []string{"a/c/0", "a/c/1"}) {
			t.Fatalf("in-session keys after shrink = %v", keys)
		}
		shrunk, err := s.Commit(ctx, "shrink", nil)
		noErr(t, err)
		tl, err := r.ReadTransactionLog(ctx, shrunk)
		noErr(t, err)
		if len(tl.UpdatedArrays) != 1 || len(tl.UpdatedChunks) != 0 {
			t.Fatalf("shrink transaction log = %+v", tl)
		}

		noErr(t, s.Set(ctx, "a/zarr.json", arrayDoc([]uint64{4}, []uint64{1}, "int8", "0", nil)))
		noErr(t, s.Set(ctx, "a/c/3", []byte{9}))
		_, err = s.Commit(ctx, "grow", nil)
		noErr(t, err)
		ro, err := r.ReadonlySession(ctx, BranchRef("main"))
		noErr(t, err)
		for key, want := range map[string]int{"a/c/0": 1, "a/c/1": 2, "a/c/2": -1, "a/c/3": 9} {
			got, err := ro.Get(ctx, key)
			if want < 0 {
				mustErrIs(t, err, ErrKeyNotFound)
				continue
			}
			noErr(t, err)
			if len(got) != 1 || int(got[0]) != want {
				t.Fatalf("%s = %v, want %d", key, got, want)
			}
		}
		// The shrunk snapshot's manifest holds only the chunks inside the grid.
		snap, err := r.ReadSnapshot(ctx, shrunk)
		noErr(t, err)
		if len(snap.ManifestFiles) != 1 || snap.ManifestFiles[0].NumChunkRefs != 2 {
			t.Fatalf("shrunk manifest files = %+v", snap.ManifestFiles)
		}

		// A write outside the new grid made before a shrink in the same session
		// is dropped too.
		noErr(t, s.Set(ctx, "a/c/3", []byte{10}))
		noErr(t, s.Set(ctx, "a/zarr.json", arrayDoc([]uint64{3}, []uint64{1}, "int8", "0", nil)))
		noErr(t, s.Set(ctx, "a/zarr.json", arrayDoc([]uint64{4}, []uint64{1}, "int8", "0", nil)))
		got, err := s.Get(ctx, "a/c/3")
		noErr(t, err)
		if got[0] != 9 {
			t.Fatalf("a/c/3 = %v: the dropped write resurfaced", got)
		}
	})
}

func TestUpdateMetadataKeepsManifests(t *testing.T) {
	bothSpecs(t, func(t *testing.T, spec int) {
		ctx := context.Background()
		r, _, _ := newMemRepoSpec(t, spec, nil)
		s, err := r.WritableSession(ctx, "main")
		noErr(t, err)
		noErr(t, s.Set(ctx, "a/zarr.json", arrayDoc([]uint64{4}, []uint64{2}, "int8", "0", nil)))
		noErr(t, s.Set(ctx, "a/c/0", []byte{1, 2}))
		noErr(t, s.Set(ctx, "b/zarr.json", arrayDoc([]uint64{4}, []uint64{2}, "int8", "0", nil)))
		noErr(t, s.Set(ctx, "b/c/1", []byte{3, 4}))
		first, err := s.Commit(ctx, "one", nil)
		noErr(t, err)
		// Update a's metadata without a resize: no new manifest.
		noErr(t, s.Set(ctx, "a/zarr.json", arrayDoc([]uint64{4}, []uint64{2}, "int8", "1", nil)))
		second, err := s.Commit(ctx, "fill", nil)
		noErr(t, err)
		s1, _ := r.ReadSnapshot(ctx, first)
		s2, _ := r.ReadSnapshot(ctx, second)
		if !reflect.DeepEqual(s1.ManifestFiles, s2.ManifestFiles) {
			t.Fatalf("manifests changed on a metadata-only update: %v -> %v", s1.ManifestFiles, s2.ManifestFiles)
		}
		if len(s2.ManifestFiles) != 2 {
			t.Fatalf("want one manifest per array, got %d", len(s2.ManifestFiles))
		}
		// Writing to b rewrites only b's manifest.
		noErr(t, s.Set(ctx, "b/c/0", []byte{5, 6}))
		third, err := s.Commit(ctx, "b", nil)
		noErr(t, err)
		s3, _ := r.ReadSnapshot(ctx, third)
		shared := 0
		for _, f := range s3.ManifestFiles {
			if slices.ContainsFunc(s2.ManifestFiles, func(g ManifestFileInfo) bool { return g.ID == f.ID }) {
				shared++
			}
		}
		if len(s3.ManifestFiles) != 2 || shared != 1 {
			t.Fatalf("after writing b: %v (shared %d)", s3.ManifestFiles, shared)
		}
		got, err := s.Get(ctx, "b/c/1")
		noErr(t, err)
		if !slices.Equal(got, []byte{3, 4}) {
			t.Fatal("b/c/1 lost in the manifest rewrite")
		}
	})
}

func TestFlushTimeNotIncreasing(t *testing.T) {
	bothSpecs(t, func(t *testing.T, spec int) {
		ctx := context.Background()
		r, st, clock := newMemRepoSpec(t, spec, nil)
		s, err := r.WritableSession(ctx, "main")
		noErr(t, err)
		noErr(t, s.Set(ctx, "zarr.json", groupDoc))
		base := s.BaseSnapshot()
		clock.Set(testEpoch) // the initial snapshot's own time: not later
		_, err = s.Commit(ctx, "stale", nil)
		mustErrIs(t, err, ErrFlushTimeNotIncreasing)
		clock.Set(testEpoch.Add(-time.Hour))
		_, err = s.Commit(ctx, "older", nil)
		mustErrIs(t, err, ErrFlushTimeNotIncreasing)
		if tip, _ := r.LookupBranch(ctx, "main"); tip != base {
			t.Fatal("main moved")
		}
		snaps, err := st.List(ctx, "snapshots/")
		noErr(t, err)
		if len(snaps) != 1 {
			t.Fatalf("%d snapshots written by failed commits", len(snaps)-1)
		}
		clock.Set(testEpoch.Add(time.Minute))
		_, err = s.Commit(ctx, "ok", nil)
		noErr(t, err)
	})
}
