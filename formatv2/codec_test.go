package formatv2

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// codecSnapshots decodes every snapshot of a fixture repository, by id.
func codecSnapshots(t *testing.T, repo string) map[ObjectID]*Snapshot {
	t.Helper()
	out := map[ObjectID]*Snapshot{}
	for _, f := range codecFixtureObjects(t, repo, "snapshots") {
		s, err := DecodeSnapshot(f.key, f.data)
		if err != nil {
			t.Fatalf("%s: %v", repo, err)
		}
		if want := strings.TrimPrefix(f.key, "snapshots/"); s.ID.String() != want {
			t.Fatalf("%s %s: snapshot id inside is %s", repo, f.key, s.ID)
		}
		out[s.ID] = s
	}
	return out
}

// codecAncestry returns the commit messages from id back to the root.
func codecAncestry(t *testing.T, snaps map[ObjectID]*Snapshot, id ObjectID) []string {
	t.Helper()
	var msgs []string
	for {
		s, ok := snaps[id]
		if !ok {
			t.Fatalf("snapshot %s missing", id)
		}
		msgs = append(msgs, s.Message)
		if s.ParentID == nil {
			return msgs
		}
		if parent := snaps[*s.ParentID]; parent != nil && parent.FlushedAt >= s.FlushedAt {
			t.Errorf("snapshot %s flushed at %d, not after its parent's %d", id, s.FlushedAt, parent.FlushedAt)
		}
		id = *s.ParentID
	}
}

func codecNode(t *testing.T, s *Snapshot, path string) *Node {
	t.Helper()
	for i := range s.Nodes {
		if s.Nodes[i].Path == path {
			return &s.Nodes[i]
		}
	}
	t.Fatalf("snapshot %s has no node %q", s.ID, path)
	return nil
}

func TestCodecDecodesEveryFixtureObject(t *testing.T) {
	// test-repo-v2-migrated holds spec-1 objects under a spec-2 repo file;
	// test-repo-v2 is spec 2 throughout.
	for _, c := range []struct {
		repo string
		spec uint8
		want map[string]int
	}{
		{"test-repo-v1", 1, map[string]int{"snapshots": 6, "manifests": 4, "transactions": 5}},
		{"split-repo-v1", 1, nil},
		{"test-repo-v2-migrated", 1, map[string]int{"snapshots": 6, "manifests": 4, "transactions": 5, "repo": 1}},
		{"test-repo-v2", 2, map[string]int{"snapshots": 6, "manifests": 4, "transactions": 6, "repo": 1, "overwritten": 10}},
	} {
		repo := c.repo
		counts := map[string]int{}
		check := func(key string, spec uint8, err error) {
			t.Helper()
			if err != nil {
				t.Errorf("%s: %v", repo, err)
			} else if spec != c.spec {
				t.Errorf("%s %s: spec %d, want %d", repo, key, spec, c.spec)
			}
		}
		for _, f := range codecFixtureObjects(t, repo, "snapshots") {
			s, err := DecodeSnapshot(f.key, f.data)
			if err == nil {
				check(f.key, s.SpecVersion, err)
			} else {
				check(f.key, 0, err)
			}
			counts["snapshots"]++
		}
		for _, f := range codecFixtureObjects(t, repo, "manifests") {
			m, err := DecodeManifest(f.key, f.data)
			if err == nil {
				check(f.key, m.SpecVersion, err)
			} else {
				check(f.key, 0, err)
			}
			counts["manifests"]++
		}
		for _, f := range codecFixtureObjects(t, repo, "transactions") {
			tl, err := DecodeTransactionLog(f.key, f.data)
			if err == nil {
				check(f.key, tl.SpecVersion, err)
			} else {
				check(f.key, 0, err)
			}
			counts["transactions"]++
		}
		if c.want["repo"] > 0 {
			ri, err := DecodeRepoInfo("repo", headerRepoFile(t, repo))
			if err != nil || ri.SpecVersion != 2 {
				t.Errorf("%s/repo: %v", repo, err)
			}
			counts["repo"]++
		}
		if c.want["overwritten"] > 0 {
			for _, f := range codecFixtureObjects(t, repo, "overwritten") {
				ri, err := DecodeRepoInfo(f.key, f.data)
				if err != nil || ri.SpecVersion != 2 {
					t.Errorf("%s: %v", repo, err)
				}
				counts["overwritten"]++
			}
		}
		if c.want != nil && !reflect.DeepEqual(counts, c.want) {
			t.Errorf("%s: decoded %v, want %v", repo, counts, c.want)
		}
	}
}

func TestCodecFixtureHistoryV1(t *testing.T) {
	for _, repo := range []string{"test-repo-v1"} {
		snaps := codecSnapshots(t, repo)
		mainLog := []string{"set virtual chunk", "fill data", "empty structure", "Repository initialized"}
		myBranch := append([]string{"some more structure", "delete a chunk"}, mainLog...)
		for ref, want := range map[string][]string{
			"branch.main":        mainLog,
			"branch.my-branch":   myBranch,
			"tag.it also works!": myBranch,
			"tag.it works!":      append([]string{"delete a chunk"}, mainLog...),
		} {
			got := codecAncestry(t, snaps, codecFixtureRef(t, repo, ref))
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: ancestry %q, want %q", repo, ref, got, want)
			}
		}

		// The initial snapshot: random id, no parent, metadata {"__root": true}.
		var initial *Snapshot
		for _, s := range snaps {
			if s.ParentID == nil {
				if initial != nil {
					t.Fatalf("two snapshots without parent")
				}
				initial = s
			}
		}
		if initial.ID.String() != "P874YS3J196959RDHX7G" || len(initial.Nodes) != 0 || initial.ManifestFiles != nil {
			t.Errorf("initial snapshot %s: %d nodes, %d manifest files", initial.ID, len(initial.Nodes), len(initial.ManifestFiles))
		}
		if len(initial.Metadata) != 1 || initial.Metadata[0].Name != "__root" {
			t.Fatalf("initial metadata %+v", initial.Metadata)
		}
		if v, err := DecodeMetadataValue(initial.Metadata[0].Value); err != nil || v != true {
			t.Errorf("__root metadata value = %v, %v; want true", v, err)
		}

		// The my-branch tip: the whole hierarchy.
		tip := snaps[codecFixtureRef(t, repo, "branch.my-branch")]
		var paths []string
		for _, n := range tip.Nodes {
			paths = append(paths, n.Path)
		}
		wantPaths := []string{"/", "/group1", "/group1/big_chunks", "/group1/small_chunks", "/group2",
			"/group2/group3", "/group2/group3/group4", "/group2/group3/group4/group5",
			"/group2/group3/group4/group5/inner"}
		if !slices.Equal(paths, wantPaths) {
			t.Errorf("my-branch nodes %q, want %q", paths, wantPaths)
		}
		arrays := map[string][]DimensionShape{
			"/group1/big_chunks":                 {{10, 5}, {10, 5}},
			"/group1/small_chunks":               {{5, 1}},
			"/group2/group3/group4/group5/inner": {{10, 5}, {10, 5}},
		}
		for _, n := range tip.Nodes {
			var attrs struct {
				Attributes map[string]any `json:"attributes"`
			}
			if err := json.Unmarshal(n.UserData, &attrs); err != nil {
				t.Fatalf("node %s: user data is not JSON: %v", n.Path, err)
			}
			shape, isArray := arrays[n.Path]
			wantThis := "is a nice group"
			if isArray {
				wantThis = "is a nice array"
				if n.Type != NodeArray || !reflect.DeepEqual(n.Shape, shape) || n.DimensionNames != nil {
					t.Errorf("array %s: type %d shape %v dims %v", n.Path, n.Type, n.Shape, n.DimensionNames)
				}
			} else if n.Type != NodeGroup || n.Shape != nil || n.Manifests != nil {
				t.Errorf("group %s: type %d shape %v manifests %v", n.Path, n.Type, n.Shape, n.Manifests)
			}
			if n.Path == "/" {
				// The fixture's root group carries no attributes (the README's
				// "every group" means every group below the root).
				if len(attrs.Attributes) != 0 {
					t.Errorf("root attributes %v", attrs.Attributes)
				}
				continue
			}
			if attrs.Attributes["this"] != wantThis || attrs.Attributes["size"] != 42.0 || attrs.Attributes["icechunk"] != 1.0 {
				t.Errorf("node %s attributes %v", n.Path, attrs.Attributes)
			}
		}
		if inner := codecNode(t, tip, "/group2/group3/group4/group5/inner"); inner.Manifests != nil {
			t.Errorf("inner has manifests %v, want none", inner.Manifests)
		}
	}
}

func TestCodecFixtureManifestsV1(t *testing.T) {
	repo := "test-repo-v1"
	snaps := codecSnapshots(t, repo)
	manifests := map[ObjectID]*Manifest{}
	sizes := map[ObjectID]int{}
	for _, f := range codecFixtureObjects(t, repo, "manifests") {
		m, err := DecodeManifest(f.key, f.data)
		if err != nil {
			t.Fatal(err)
		}
		manifests[m.ID], sizes[m.ID] = m, len(f.data)
	}
	// refsOf returns the chunk refs of the array at path in snapshot s.
	refsOf := func(s *Snapshot, path string) []ChunkRef {
		n := codecNode(t, s, path)
		var refs []ChunkRef
		for _, mr := range n.Manifests {
			m := manifests[mr.ID]
			if m == nil {
				t.Fatalf("manifest %s missing", mr.ID)
			}
			for _, a := range m.Arrays {
				if a.NodeID == n.ID {
					refs = append(refs, a.Refs...)
				}
			}
		}
		return refs
	}
	// Manifest file infos agree with the files.
	for _, s := range snaps {
		for _, mf := range s.ManifestFiles {
			m := manifests[mf.ID]
			n := 0
			for _, a := range m.Arrays {
				n += len(a.Refs)
			}
			if int(mf.NumChunkRefs) != n || int(mf.SizeBytes) != sizes[mf.ID] {
				t.Errorf("snapshot %s: manifest %s info %+v, file has %d refs, %d bytes", s.ID, mf.ID, mf, n, sizes[mf.ID])
			}
		}
	}

	mainTip := snaps[codecFixtureRef(t, repo, "branch.main")]
	big := refsOf(mainTip, "/group1/big_chunks")
	if len(big) != 4 {
		t.Fatalf("big_chunks has %d refs, want 4", len(big))
	}
	v := big[0]
	if !slices.Equal(v.Index, []uint32{0, 0}) || v.Kind != ChunkVirtual ||
		v.Location != "s3://testbucket/can_read_old/chunk-1" || v.Offset != 0 || v.Length != big[1].Length {
		t.Errorf("big_chunks c/0/0 = %+v, want virtual s3://testbucket/can_read_old/chunk-1 of length %d", v, big[1].Length)
	}
	for _, r := range big[1:] {
		if r.Kind != ChunkNative || r.Offset != 0 {
			t.Errorf("big_chunks %v = %+v, want native", r.Index, r)
			continue
		}
		st, err := os.Stat(filepath.Join(codecFixturesDir(t), repo, "chunks", r.ChunkID.String()))
		if err != nil || st.Size() != int64(r.Length) {
			t.Errorf("chunk %s of %v: %v, want a %d-byte chunk object", r.ChunkID, r.Index, err, r.Length)
		}
	}

	for ref, want := range map[string]int{"branch.main": 5, "branch.my-branch": 4} {
		small := refsOf(snaps[codecFixtureRef(t, repo, ref)], "/group1/small_chunks")
		if len(small) != want {
			t.Errorf("%s: small_chunks has %d refs, want %d", ref, len(small), want)
		}
		for i, r := range small {
			if r.Kind != ChunkInline || len(r.Inline) == 0 || len(r.Inline) >= 12 || !slices.Equal(r.Index, []uint32{uint32(i)}) {
				t.Errorf("%s: small_chunks ref %d = %+v, want inline below 12 bytes", ref, i, r)
			}
		}
	}
}

func TestCodecFixtureTransactionLogsV1(t *testing.T) {
	repo := "test-repo-v1"
	snaps := codecSnapshots(t, repo)
	byMessage := map[string]*TransactionLog{}
	for _, f := range codecFixtureObjects(t, repo, "transactions") {
		tl, err := DecodeTransactionLog(f.key, f.data)
		if err != nil {
			t.Fatal(err)
		}
		s := snaps[tl.ID]
		if s == nil || "transactions/"+tl.ID.String() != f.key {
			t.Fatalf("%s: id %s has no snapshot", f.key, tl.ID)
		}
		byMessage[s.Message] = tl
	}
	tip := snaps[codecFixtureRef(t, repo, "branch.my-branch")]
	id := func(path string) NodeID { return codecNode(t, tip, path).ID }
	sorted := func(ids ...NodeID) []NodeID {
		slices.SortFunc(ids, func(a, b NodeID) int { return bytes.Compare(a[:], b[:]) })
		return ids
	}

	es := byMessage["empty structure"]
	if !reflect.DeepEqual(es.NewGroups, sorted(id("/"), id("/group1"))) ||
		!reflect.DeepEqual(es.NewArrays, sorted(id("/group1/big_chunks"), id("/group1/small_chunks"))) ||
		es.UpdatedChunks != nil {
		t.Errorf("empty structure: %+v", es)
	}
	fill := byMessage["fill data"]
	wantFill := []ArrayUpdatedChunks{
		{NodeID: id("/group1/big_chunks"), Chunks: [][]uint32{{0, 0}, {0, 1}, {1, 0}, {1, 1}}},
		{NodeID: id("/group1/small_chunks"), Chunks: [][]uint32{{0}, {1}, {2}, {3}, {4}}},
	}
	slices.SortFunc(wantFill, func(a, b ArrayUpdatedChunks) int { return bytes.Compare(a.NodeID[:], b.NodeID[:]) })
	if !reflect.DeepEqual(fill.UpdatedChunks, wantFill) || fill.NewGroups != nil || fill.NewArrays != nil {
		t.Errorf("fill data: %+v, want updated chunks %+v", fill, wantFill)
	}
	del := byMessage["delete a chunk"]
	if !reflect.DeepEqual(del.UpdatedChunks, []ArrayUpdatedChunks{{NodeID: id("/group1/small_chunks"), Chunks: [][]uint32{{4}}}}) {
		t.Errorf("delete a chunk: %+v", del)
	}
	more := byMessage["some more structure"]
	if !reflect.DeepEqual(more.NewGroups, sorted(id("/group2"), id("/group2/group3"), id("/group2/group3/group4"), id("/group2/group3/group4/group5"))) ||
		!reflect.DeepEqual(more.NewArrays, []NodeID{id("/group2/group3/group4/group5/inner")}) {
		t.Errorf("some more structure: %+v", more)
	}
}

func TestCodecFixtureSplitRepo(t *testing.T) {
	repo := "split-repo-v1"
	snaps := codecSnapshots(t, repo)
	tip := snaps[codecFixtureRef(t, repo, "branch.main")]
	want := []struct {
		msg   string
		files int
	}{
		{"write data again with more splits", 17},
		{"write data again", 9},
		{"write data", 9},
		{"empty structure", 0},
		{"Repository initialized", 0},
	}
	s := tip
	for i, w := range want {
		if s == nil {
			t.Fatalf("ancestry ends after %d snapshots", i)
		}
		if s.Message != w.msg || len(s.ManifestFiles) != w.files {
			t.Errorf("ancestor %d: %q with %d manifest files, want %q with %d", i, s.Message, len(s.ManifestFiles), w.msg, w.files)
		}
		if !slices.IsSortedFunc(s.ManifestFiles, func(a, b ManifestFileInfo) int { return bytes.Compare(a.ID[:], b.ID[:]) }) {
			t.Errorf("snapshot %s: manifest files not sorted by id", s.ID)
		}
		if s.ParentID == nil {
			s = nil
		} else {
			s = snaps[*s.ParentID]
		}
	}
	if s != nil {
		t.Errorf("ancestry longer than %d", len(want))
	}

	split := codecNode(t, tip, "/group1/split")
	if !reflect.DeepEqual(split.Shape, []DimensionShape{{10, 3}, {10, 3}}) {
		t.Errorf("split shape %v", split.Shape)
	}
	if len(split.DimensionNames) != 2 || split.DimensionNames[0] != nil ||
		split.DimensionNames[1] == nil || *split.DimensionNames[1] != "longitude" {
		t.Errorf("split dimension names %v, want [nil longitude]", split.DimensionNames)
	}
	if len(split.Manifests) != 16 {
		t.Errorf("split has %d manifest refs, want 16", len(split.Manifests))
	}
	for _, mr := range split.Manifests {
		if len(mr.Extents) != 2 {
			t.Errorf("manifest ref %s extents %v", mr.ID, mr.Extents)
		}
	}
	small := codecNode(t, tip, "/group1/small_chunks")
	if small.DimensionNames != nil || !reflect.DeepEqual(small.Shape, []DimensionShape{{5, 1}}) {
		t.Errorf("small_chunks %+v", small)
	}
}

// TestCodecFixtureRoundTrip re-encodes every fixture object at the spec it
// was read at: decoding the result gives the same value, the header keeps
// the spec byte, and the flatbuffer is byte-identical to upstream's for
// every transaction log (1.x for spec 1, 2.0.0-alpha.7 for spec 2) and
// every spec-1 snapshot. Go's flatbuffers builder shares a vtable between
// tables whose field offsets match even when their sizes differ; Rust's
// does not. So a manifest whose chunk refs differ in padding, or a spec-2
// snapshot with an array of two or more dimensions (its DimensionShapeV2
// tables), comes out some bytes shorter; those are counted.
func TestCodecFixtureRoundTrip(t *testing.T) {
	identical, total := 0, 0
	identicalV2, totalV2 := 0, 0
	for _, repo := range []string{"test-repo-v1", "split-repo-v1", "test-repo-v2", "test-repo-v2-migrated"} {
		for _, f := range codecFixtureObjects(t, repo, "snapshots") {
			s, err := DecodeSnapshot(f.key, f.data)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := EncodeSnapshot(s)
			if err != nil {
				t.Fatal(err)
			}
			s2, err := DecodeSnapshot(f.key, enc)
			if err != nil || !reflect.DeepEqual(s, s2) {
				t.Errorf("%s %s: round trip differs (%v)", repo, f.key, err)
			}
			same := bytes.Equal(codecPayload(t, f), codecPayload(t, codecFixtureFile{key: f.key, data: enc}))
			if s.SpecVersion == 1 && !same {
				t.Errorf("%s %s: re-encoded flatbuffer differs from upstream's", repo, f.key)
			}
			if s.SpecVersion == 2 {
				totalV2++
				if same {
					identicalV2++
				}
			}
			if enc[36] != f.data[36] {
				t.Errorf("%s %s: re-encoded with spec byte %d, read at %d", repo, f.key, enc[36], f.data[36])
			}
		}
		for _, f := range codecFixtureObjects(t, repo, "transactions") {
			tl, err := DecodeTransactionLog(f.key, f.data)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := EncodeTransactionLog(tl)
			if err != nil {
				t.Fatal(err)
			}
			tl2, err := DecodeTransactionLog(f.key, enc)
			if err != nil || !reflect.DeepEqual(tl, tl2) {
				t.Errorf("%s %s: round trip differs (%v)", repo, f.key, err)
			}
			if !bytes.Equal(codecPayload(t, f), codecPayload(t, codecFixtureFile{key: f.key, data: enc})) {
				t.Errorf("%s %s: re-encoded flatbuffer differs from upstream's", repo, f.key)
			}
			if enc[36] != f.data[36] {
				t.Errorf("%s %s: re-encoded with spec byte %d, read at %d", repo, f.key, enc[36], f.data[36])
			}
		}
		for _, f := range codecFixtureObjects(t, repo, "manifests") {
			m, err := DecodeManifest(f.key, f.data)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := EncodeManifest(m)
			if err != nil {
				t.Fatal(err)
			}
			m2, err := DecodeManifest(f.key, enc)
			if err != nil || !reflect.DeepEqual(m, m2) {
				t.Errorf("%s %s: round trip differs (%v)", repo, f.key, err)
			}
			if enc[36] != f.data[36] {
				t.Errorf("%s %s: re-encoded with spec byte %d, read at %d", repo, f.key, enc[36], f.data[36])
			}
			total++
			if bytes.Equal(codecPayload(t, f), codecPayload(t, codecFixtureFile{key: f.key, data: enc})) {
				identical++
			}
		}
	}
	t.Logf("manifests with byte-identical flatbuffers after re-encoding: %d of %d", identical, total)
	t.Logf("spec-2 snapshots with byte-identical flatbuffers after re-encoding: %d of %d", identicalV2, totalV2)
	if identical == 0 || identicalV2 == 0 {
		t.Errorf("no manifest or no spec-2 snapshot re-encoded byte-identically")
	}
}

// codecPayload returns the decompressed flatbuffer of a metadata file.
func codecPayload(t *testing.T, f codecFixtureFile) []byte {
	t.Helper()
	h, err := ParseHeader(f.key, f.data)
	if err != nil {
		t.Fatal(err)
	}
	_, fb, err := unframe(f.key, f.data, h.FileType)
	if err != nil {
		t.Fatal(err)
	}
	return fb
}
