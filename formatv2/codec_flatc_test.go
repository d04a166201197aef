package formatv2

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

// codecFlatcJSON runs the reference flatbuffers compiler on a raw flatbuffer
// with our schema and returns the decoded JSON document.
func codecFlatcJSON(t *testing.T, schema string, fb []byte) map[string]any {
	t.Helper()
	flatc, err := exec.LookPath("flatc")
	if err != nil {
		t.Fatalf("flatc not found on PATH (%v): apt-get install flatbuffers-compiler", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "object.bin")
	if err := os.WriteFile(bin, fb, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(flatc, "--json", "--strict-json", "--raw-binary", "--defaults-json",
		"-o", dir, filepath.Join("schema", schema), "--", bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "object.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("flatc output is not JSON: %v\n%s", err, data)
	}
	return doc
}

// codecJSONBytes turns flatc's {"b0": .., "b1": ..} rendering of an id
// struct back into bytes.
func codecJSONBytes(t *testing.T, v any, n int) []byte {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok || len(m) != n {
		t.Fatalf("id struct %v", v)
	}
	out := make([]byte, n)
	for i := range out {
		f, ok := m["b"+strconv.Itoa(i)].(float64)
		if !ok {
			t.Fatalf("id struct %v lacks b%d", v, i)
		}
		out[i] = byte(f)
	}
	return out
}

func codecJSON(t *testing.T, doc any, path ...any) any {
	t.Helper()
	cur := doc
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object at %q", path, k)
			}
			cur = m[k]
		case int:
			l, ok := cur.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("%v: no element %d", path, k)
			}
			cur = l[k]
		}
	}
	return cur
}

// TestCodecFlatcReadsOurSnapshot proves with the reference implementation
// that our encoder writes what the schema describes.
func TestCodecFlatcReadsOurSnapshot(t *testing.T) {
	s := codecTestSnapshot()
	data, err := EncodeSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	fb := codecPayload(t, codecFixtureFile{key: "s", data: data})
	if string(fb[4:8]) != "Ichk" {
		t.Errorf("file identifier %q", fb[4:8])
	}
	doc := codecFlatcJSON(t, "snapshot.fbs", fb)
	if got := codecJSONBytes(t, doc["id"], 12); string(got) != string(s.ID[:]) {
		t.Errorf("id % x", got)
	}
	if got := codecJSONBytes(t, doc["parent_id"], 12); string(got) != string(s.ParentID[:]) {
		t.Errorf("parent_id % x", got)
	}
	if doc["message"] != s.Message || doc["flushed_at"] != float64(s.FlushedAt) {
		t.Errorf("message %v flushed_at %v", doc["message"], doc["flushed_at"])
	}
	if codecJSON(t, doc, "metadata", 0, "name") != "author" ||
		!reflect.DeepEqual(codecJSON(t, doc, "metadata", 0, "value"), []any{163.0, 98.0, 111.0, 98.0}) {
		t.Errorf("metadata %v", doc["metadata"])
	}
	mf := codecJSON(t, doc, "manifest_files", 0).(map[string]any)
	if mf["size_bytes"] != 1234.0 || mf["num_chunk_refs"] != 20.0 || codecJSONBytes(t, mf["id"], 12)[0] != 0x77 {
		t.Errorf("manifest file %v", mf)
	}
	if codecJSON(t, doc, "nodes", 0, "path") != "/" || codecJSON(t, doc, "nodes", 0, "node_data_type") != "Group" {
		t.Errorf("node 0 %v", codecJSON(t, doc, "nodes", 0))
	}
	arr := codecJSON(t, doc, "nodes", 1).(map[string]any)
	if arr["path"] != "/temp" || arr["node_data_type"] != "Array" || codecJSONBytes(t, arr["id"], 8)[0] != 2 {
		t.Errorf("node 1 %v", arr)
	}
	data1 := arr["node_data"]
	wantShape := []any{
		map[string]any{"array_length": 100.0, "chunk_length": 10.0},
		map[string]any{"array_length": 50.0, "chunk_length": 25.0},
	}
	if !reflect.DeepEqual(codecJSON(t, data1, "shape"), wantShape) {
		t.Errorf("shape %v", codecJSON(t, data1, "shape"))
	}
	// First dimension has no name: a DimensionName table without one.
	if !reflect.DeepEqual(codecJSON(t, data1, "dimension_names"), []any{map[string]any{}, map[string]any{"name": "lon"}}) {
		t.Errorf("dimension names %v", codecJSON(t, data1, "dimension_names"))
	}
	ext := codecJSON(t, data1, "manifests", 0, "extents")
	if !reflect.DeepEqual(ext, []any{map[string]any{"from": 0.0, "to": 10.0}, map[string]any{"from": 0.0, "to": 2.0}}) {
		t.Errorf("extents %v", ext)
	}
}

func TestCodecFlatcReadsOurManifest(t *testing.T) {
	m := &Manifest{SpecVersion: 1, ID: ObjectID{5}, Arrays: []ArrayManifest{{NodeID: NodeID{7}, Refs: []ChunkRef{
		{Index: []uint32{0, 1}, Kind: ChunkNative, ChunkID: ObjectID{9, 9}, Offset: 10, Length: 20},
		{Index: []uint32{1, 0}, Kind: ChunkInline, Inline: []byte{1, 2, 3}},
		{Index: []uint32{1, 1}, Kind: ChunkVirtual, Location: "s3://bucket/key", Offset: 5, Length: 6, ChecksumETag: "abc"},
		{Index: []uint32{2, 0}, Kind: ChunkVirtual, Location: "gcs://b/k", Length: 1, ChecksumLastModified: 1700000000},
	}}}}
	data, err := EncodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	doc := codecFlatcJSON(t, "manifest.fbs", codecPayload(t, codecFixtureFile{key: "m", data: data}))
	refs := codecJSON(t, doc, "arrays", 0, "refs").([]any)
	if len(refs) != 4 || codecJSONBytes(t, codecJSON(t, doc, "arrays", 0, "node_id"), 8)[0] != 7 {
		t.Fatalf("refs %v", refs)
	}
	native := refs[0].(map[string]any)
	if !reflect.DeepEqual(native["index"], []any{0.0, 1.0}) || native["offset"] != 10.0 || native["length"] != 20.0 ||
		codecJSONBytes(t, native["chunk_id"], 12)[1] != 9 || native["location"] != nil || native["inline"] != nil {
		t.Errorf("native ref %v", native)
	}
	inline := refs[1].(map[string]any)
	if !reflect.DeepEqual(inline["inline"], []any{1.0, 2.0, 3.0}) || inline["chunk_id"] != nil || inline["location"] != nil {
		t.Errorf("inline ref %v", inline)
	}
	virt := refs[2].(map[string]any)
	if virt["location"] != "s3://bucket/key" || virt["checksum_etag"] != "abc" || virt["offset"] != 5.0 || virt["checksum_last_modified"] != 0.0 {
		t.Errorf("virtual ref %v", virt)
	}
	if lm := refs[3].(map[string]any); lm["checksum_last_modified"] != 1.7e9 || lm["checksum_etag"] != nil {
		t.Errorf("virtual ref %v", lm)
	}
}

func TestCodecFlatcReadsOurTransactionLog(t *testing.T) {
	tl := &TransactionLog{
		SpecVersion:   1,
		ID:            ObjectID{3},
		NewGroups:     []NodeID{{2}, {1}},
		DeletedArrays: []NodeID{{4}},
		UpdatedGroups: []NodeID{{5}},
		UpdatedArrays: []NodeID{{6}},
		UpdatedChunks: []ArrayUpdatedChunks{{NodeID: NodeID{6}, Chunks: [][]uint32{{0, 0}, {1, 2}}}},
	}
	data, err := EncodeTransactionLog(tl)
	if err != nil {
		t.Fatal(err)
	}
	doc := codecFlatcJSON(t, "transaction_log.fbs", codecPayload(t, codecFixtureFile{key: "t", data: data}))
	firstBytes := func(field string) []byte {
		var out []byte
		for _, v := range doc[field].([]any) {
			out = append(out, codecJSONBytes(t, v, 8)[0])
		}
		return out
	}
	for field, want := range map[string][]byte{
		"new_groups": {1, 2}, "new_arrays": nil, "deleted_groups": nil,
		"deleted_arrays": {4}, "updated_groups": {5}, "updated_arrays": {6},
	} {
		if got := firstBytes(field); string(got) != string(want) {
			t.Errorf("%s = %v, want %v", field, got, want)
		}
	}
	chunks := codecJSON(t, doc, "updated_chunks", 0, "chunks")
	if !reflect.DeepEqual(chunks, []any{map[string]any{"coords": []any{0.0, 0.0}}, map[string]any{"coords": []any{1.0, 2.0}}}) {
		t.Errorf("updated chunks %v", chunks)
	}
}

// TestCodecFlatcReadsUpstreamWithOurSchema runs flatc with our schema on
// upstream's bytes: the virtual reference of test-repo-v1 comes out right.
func TestCodecFlatcReadsUpstreamWithOurSchema(t *testing.T) {
	for _, f := range codecFixtureObjects(t, "test-repo-v1", "manifests") {
		if f.key != "manifests/Q04J7QW5RQ8D17TPA10G" {
			continue
		}
		doc := codecFlatcJSON(t, "manifest.fbs", codecPayload(t, f))
		ref := codecJSON(t, doc, "arrays", 0, "refs", 0).(map[string]any)
		if ref["location"] != "s3://testbucket/can_read_old/chunk-1" || ref["length"] != 19.0 {
			t.Errorf("virtual ref %v", ref)
		}
		return
	}
	t.Fatal("fixture manifest Q04J7QW5RQ8D17TPA10G missing")
}

// TestCodecGeneratedCodeUpToDate regenerates the flatbuffers Go code from
// schema/ and compares it with the committed internal/fbv2.
func TestCodecGeneratedCodeUpToDate(t *testing.T) {
	flatc, err := exec.LookPath("flatc")
	if err != nil {
		t.Fatalf("flatc not found on PATH (%v): apt-get install flatbuffers-compiler", err)
	}
	dir := t.TempDir()
	// The same command as `make generate`: every schema file.
	schemas, err := filepath.Glob(filepath.Join("schema", "*.fbs"))
	if err != nil || len(schemas) != 5 {
		t.Fatalf("schema files %v (%v), want common, snapshot, manifest, transaction_log, repo", schemas, err)
	}
	args := append([]string{"--go", "--go-namespace", "fbv2", "-o", dir}, schemas...)
	if out, err := exec.Command(flatc, args...).CombinedOutput(); err != nil {
		t.Fatalf("flatc: %v\n%s", err, out)
	}
	fresh, err := os.ReadDir(filepath.Join(dir, "fbv2"))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := filepath.Glob(filepath.Join("internal", "fbv2", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	if len(committed) != len(fresh)+1 { // + doc.go
		t.Errorf("internal/fbv2 has %d files, flatc generates %d (+ doc.go): run make generate", len(committed), len(fresh))
	}
	for _, e := range fresh {
		want, err := os.ReadFile(filepath.Join(dir, "fbv2", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("internal", "fbv2", e.Name()))
		if err != nil || string(got) != string(want) {
			t.Errorf("internal/fbv2/%s is stale or missing (%v): run make generate", e.Name(), err)
		}
	}
}

// TestCodecConcurrentUse encodes and decodes from many goroutines at once
// (the zstd encoder and decoder are shared); run with -race.
func TestCodecConcurrentUse(t *testing.T) {
	want, err := EncodeSnapshot(codecTestSnapshot())
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			for range 20 {
				data, err := EncodeSnapshot(codecTestSnapshot())
				if err == nil && string(data) != string(want) {
					err = errors.New("concurrent encoding differs")
				}
				if err == nil {
					_, err = DecodeSnapshot("snapshots/X", data)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestCodecFlatcReadsOurSpec2Objects checks the spec-2 layout of our
// snapshot, manifest and transaction log with the reference compiler.
func TestCodecFlatcReadsOurSpec2Objects(t *testing.T) {
	s := codecTestSnapshot()
	codecToSpec2(s)
	s.Extra = []byte{7}
	s.Nodes[1].Extra = []byte{}
	s.ManifestFiles[0].Extra = []byte{8, 9}
	data, err := EncodeSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	if data[36] != 2 {
		t.Fatalf("spec byte %d", data[36])
	}
	doc := codecFlatcJSON(t, "snapshot.fbs", codecPayload(t, codecFixtureFile{key: "s", data: data}))
	if _, ok := doc["parent_id"]; ok {
		t.Errorf("spec-2 snapshot has a parent_id: %v", doc["parent_id"])
	}
	if got := codecJSON(t, doc, "manifest_files"); !reflect.DeepEqual(got, []any{}) {
		t.Errorf("manifest_files %v, want empty", got)
	}
	mf := codecJSON(t, doc, "manifest_files_v2", 0).(map[string]any)
	if mf["size_bytes"] != 1234.0 || mf["num_chunk_refs"] != 20.0 || !reflect.DeepEqual(mf["extra"], []any{8.0, 9.0}) ||
		codecJSONBytes(t, mf["id"], 12)[0] != 0x77 {
		t.Errorf("manifest_files_v2[0] %v", mf)
	}
	if !reflect.DeepEqual(doc["extra"], []any{7.0}) {
		t.Errorf("extra %v", doc["extra"])
	}
	arr := codecJSON(t, doc, "nodes", 1).(map[string]any)
	if !reflect.DeepEqual(arr["extra"], []any{}) {
		t.Errorf("node extra %v", arr["extra"])
	}
	if got := codecJSON(t, arr, "node_data", "shape"); !reflect.DeepEqual(got, []any{}) {
		t.Errorf("spec-1 shape of a spec-2 array: %v", got)
	}
	if got := codecJSON(t, arr, "node_data", "shape_v2"); !reflect.DeepEqual(got, []any{
		map[string]any{"array_length": 100.0, "num_chunks": 10.0}, map[string]any{"array_length": 50.0, "num_chunks": 2.0}}) {
		t.Errorf("shape_v2 %v", got)
	}
	if _, ok := codecJSON(t, doc, "nodes", 0).(map[string]any)["extra"]; ok {
		t.Error("nil node extra was written")
	}

	m := &Manifest{SpecVersion: 2, ID: ObjectID{5}, LocationDictionary: []byte{1, 2}, CompressionAlgorithm: LocationCompressionZstdDict,
		Arrays: []ArrayManifest{{NodeID: NodeID{7}, Extra: []byte{3}, Refs: []ChunkRef{
			{Index: []uint32{0}, Kind: ChunkVirtual, CompressedLocation: []byte{4, 5}, Length: 6},
			{Index: []uint32{1}, Kind: ChunkNative, ChunkID: ObjectID{9}, Length: 1, Extra: []byte{}},
		}}}}
	data, err = EncodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	doc = codecFlatcJSON(t, "manifest.fbs", codecPayload(t, codecFixtureFile{key: "m", data: data}))
	if doc["compression_algorithm"] != 1.0 || !reflect.DeepEqual(doc["location_dictionary"], []any{1.0, 2.0}) {
		t.Errorf("manifest %v", doc)
	}
	virt := codecJSON(t, doc, "arrays", 0, "refs", 0).(map[string]any)
	if _, ok := virt["location"]; ok || !reflect.DeepEqual(virt["compressed_location"], []any{4.0, 5.0}) {
		t.Errorf("virtual ref %v", virt)
	}
	if got := codecJSON(t, doc, "arrays", 0, "extra"); !reflect.DeepEqual(got, []any{3.0}) {
		t.Errorf("array extra %v", got)
	}
	m.CompressionAlgorithm = LocationCompressionNone
	data, err = EncodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if doc = codecFlatcJSON(t, "manifest.fbs", codecPayload(t, codecFixtureFile{key: "m", data: data})); doc["compression_algorithm"] != 0.0 {
		t.Errorf("compression_algorithm %v, want 0 (as upstream 2.x records it)", doc["compression_algorithm"])
	}

	tl := &TransactionLog{SpecVersion: 2, ID: ObjectID{3}, MovedNodes: []MoveOperation{
		{From: "/x", To: "/b/c", NodeID: NodeID{1}, NodeType: NodeArray},
		{From: "/y", To: "/b", NodeID: NodeID{2}, NodeType: NodeGroup},
		{From: "/z", To: "/b-c", NodeID: NodeID{3}, NodeType: NodeGroup},
	}}
	data, err = EncodeTransactionLog(tl)
	if err != nil {
		t.Fatal(err)
	}
	doc = codecFlatcJSON(t, "transaction_log.fbs", codecPayload(t, codecFixtureFile{key: "t", data: data}))
	moves := codecJSON(t, doc, "moved_nodes").([]any)
	var to []any
	for _, mv := range moves {
		to = append(to, mv.(map[string]any)["to"])
	}
	// Segment-wise order: /b, /b/c, /b-c (byte order would put /b-c first).
	if !reflect.DeepEqual(to, []any{"/b", "/b/c", "/b-c"}) || codecJSON(t, moves[1], "node_type") != "Array" ||
		codecJSON(t, moves[0], "node_type") != "Group" {
		t.Errorf("moved nodes %v", moves)
	}
	if got := codecJSON(t, doc, "new_groups"); !reflect.DeepEqual(got, []any{}) {
		t.Errorf("new_groups %v", got)
	}
}
