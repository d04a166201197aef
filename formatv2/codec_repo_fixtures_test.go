package formatv2

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// repoFixtureAncestry follows ParentIndex from the snapshot a ref points at
// and returns the commit messages, newest first.
func repoFixtureAncestry(t *testing.T, ri *RepoInfo, index uint32) []string {
	t.Helper()
	var msgs []string
	for i := int(index); i != -1; i = ri.Snapshots[i].ParentIndex {
		s := ri.Snapshots[i]
		msgs = append(msgs, s.Message)
		if p := s.ParentIndex; p != -1 && ri.Snapshots[p].FlushedAt >= s.FlushedAt {
			t.Errorf("snapshot %s flushed at %d, not after its parent's %d", s.ID, s.FlushedAt, ri.Snapshots[p].FlushedAt)
		}
		if len(msgs) > len(ri.Snapshots) {
			t.Fatal("parent links loop")
		}
	}
	return msgs
}

func repoFixtureRef(t *testing.T, refs []RefEntry, name string) uint32 {
	t.Helper()
	for _, r := range refs {
		if r.Name == name {
			return r.SnapshotIndex
		}
	}
	t.Fatalf("no ref %q in %v", name, refs)
	return 0
}

// repoFixtureUpdate is the comparable part of an ops log entry.
type repoFixtureUpdate struct {
	Type UpdateType
	Name string
	Snap string // NewSnapshot, else PreviousSnapshot, as text
}

func repoFixtureUpdates(ri *RepoInfo) []repoFixtureUpdate {
	var out []repoFixtureUpdate
	for _, u := range ri.LatestUpdates {
		e := repoFixtureUpdate{Type: u.Type, Name: u.Name}
		switch {
		case u.NewSnapshot != ObjectID{}:
			e.Snap = u.NewSnapshot.String()
		case u.PreviousSnapshot != ObjectID{}:
			e.Snap = u.PreviousSnapshot.String()
		}
		out = append(out, e)
	}
	return out
}

// repoFixtureCheckHistory asserts the README's refs and ancestries.
func repoFixtureCheckHistory(t *testing.T, repo string, ri *RepoInfo) {
	t.Helper()
	var branches, tags []string
	for _, b := range ri.Branches {
		branches = append(branches, b.Name)
	}
	for _, tg := range ri.Tags {
		tags = append(tags, tg.Name)
	}
	if !slices.Equal(branches, []string{"main", "my-branch"}) || !slices.Equal(tags, []string{"it also works!", "it works!"}) ||
		!slices.Equal(ri.DeletedTags, []string{"deleted"}) {
		t.Errorf("%s: branches %q tags %q deleted %q", repo, branches, tags, ri.DeletedTags)
	}
	mainLog := []string{"set virtual chunk", "fill data", "empty structure", "Repository initialized"}
	myBranch := append([]string{"some more structure", "delete a chunk"}, mainLog...)
	for _, c := range []struct {
		refs []RefEntry
		name string
		want []string
	}{
		{ri.Branches, "main", mainLog},
		{ri.Branches, "my-branch", myBranch},
		{ri.Tags, "it also works!", myBranch},
		{ri.Tags, "it works!", append([]string{"delete a chunk"}, mainLog...)},
	} {
		if got := repoFixtureAncestry(t, ri, repoFixtureRef(t, c.refs, c.name)); !slices.Equal(got, c.want) {
			t.Errorf("%s %s: ancestry %q, want %q", repo, c.name, got, c.want)
		}
	}
	// Snapshots are sorted by id; exactly one is a root.
	roots := 0
	for i, s := range ri.Snapshots {
		if i > 0 && bytes.Compare(ri.Snapshots[i-1].ID[:], s.ID[:]) >= 0 {
			t.Errorf("%s: snapshots not sorted by id at %d", repo, i)
		}
		if s.ParentIndex == -1 {
			roots++
		}
	}
	if roots != 1 || len(ri.Snapshots) != 6 {
		t.Errorf("%s: %d snapshots, %d roots", repo, len(ri.Snapshots), roots)
	}
}

func TestRepoInfoFixtureV2(t *testing.T) {
	ri, err := DecodeRepoInfo("repo", headerRepoFile(t, "test-repo-v2"))
	if err != nil {
		t.Fatal(err)
	}
	repoFixtureCheckHistory(t, "test-repo-v2", ri)

	// The well-known initial snapshot, its flexbuffer metadata kept opaque:
	// {"is_root": true}.
	var initial *SnapshotInfo
	for i := range ri.Snapshots {
		if ri.Snapshots[i].ParentIndex == -1 {
			initial = &ri.Snapshots[i]
		}
	}
	if initial.ID.String() != "1CECHNKREP0F1RSTCMT0" || initial.ID != (ObjectID{0x0b, 0x1c, 0xc8, 0xd6, 0x78, 0x75, 0x80, 0xf0, 0xe3, 0x3a, 0x65, 0x34}) {
		t.Errorf("initial snapshot %s", initial.ID)
	}
	if len(initial.Metadata) != 1 || initial.Metadata[0].Name != "__icechunk" || !bytes.HasPrefix(initial.Metadata[0].Value, []byte("is_root\x00")) {
		t.Errorf("initial snapshot metadata %q", initial.Metadata)
	}

	// The ops log, newest first, typed.
	snap := func(name string) string {
		for _, s := range ri.Snapshots {
			if s.Message == name {
				return s.ID.String()
			}
		}
		t.Fatalf("no snapshot %q", name)
		return ""
	}
	wantOps := []repoFixtureUpdate{
		{UpdateTagCreated, "it also works!", ""},
		{UpdateNewCommit, "my-branch", snap("some more structure")},
		{UpdateTagDeleted, "deleted", snap("delete a chunk")},
		{UpdateTagCreated, "deleted", ""},
		{UpdateTagCreated, "it works!", ""},
		{UpdateNewCommit, "my-branch", snap("delete a chunk")},
		{UpdateBranchCreated, "my-branch", ""},
		{UpdateNewCommit, "main", snap("set virtual chunk")},
		{UpdateNewCommit, "main", snap("fill data")},
		{UpdateNewCommit, "main", snap("empty structure")},
		{UpdateRepoInitialized, "", ""},
	}
	if got := repoFixtureUpdates(ri); !reflect.DeepEqual(got, wantOps) {
		t.Errorf("ops log\n got %v\nwant %v", got, wantOps)
	}
	for i, u := range ri.LatestUpdates {
		if i > 0 && u.UpdatedAt >= ri.LatestUpdates[i-1].UpdatedAt {
			t.Errorf("ops log entry %d not older than entry %d", i, i-1)
		}
		// Every entry but the newest names the backup of the repo object as
		// it stood after that entry, relative to overwritten/.
		if (i == 0) != (u.BackupPath == "") || (i > 0 && !strings.HasPrefix(u.BackupPath, "repo.")) {
			t.Errorf("ops log entry %d (%s): backup path %q", i, u.Type, u.BackupPath)
		}
	}
	if ri.RepoBeforeUpdates != "" || ri.Config == nil || ri.Extra != nil || ri.Metadata != nil ||
		ri.EnabledFeatureFlags != nil || ri.DisabledFeatureFlags != nil {
		t.Errorf("repo fields: before %q config %d bytes extra %v metadata %v flags %v %v", ri.RepoBeforeUpdates,
			len(ri.Config), ri.Extra, ri.Metadata, ri.EnabledFeatureFlags, ri.DisabledFeatureFlags)
	}
	if ri.Status.Availability != RepoOnline || ri.Status.SetAt == 0 || ri.Status.SetAt > ri.LatestUpdates[len(ri.LatestUpdates)-1].UpdatedAt {
		t.Errorf("status %+v", ri.Status)
	}

	// The snapshot files agree with the repo object and carry no parent.
	files := codecSnapshots(t, "test-repo-v2")
	if len(files) != len(ri.Snapshots) {
		t.Fatalf("%d snapshot files, %d snapshots in repo", len(files), len(ri.Snapshots))
	}
	for _, s := range ri.Snapshots {
		f := files[s.ID]
		if f == nil || f.SpecVersion != 2 || f.ParentID != nil || f.Message != s.Message || f.FlushedAt != s.FlushedAt {
			t.Errorf("snapshot file %s disagrees with the repo object: %+v", s.ID, f)
		}
	}
}

// TestRepoInfoFixtureBackups decodes the 10 backups of test-repo-v2: each
// ops log entry's backup is the repo object as it stood right after that
// entry, so its newest entry is that entry, and it has one entry fewer than
// the repo object that follows it.
func TestRepoInfoFixtureBackups(t *testing.T) {
	ri, err := DecodeRepoInfo("repo", headerRepoFile(t, "test-repo-v2"))
	if err != nil {
		t.Fatal(err)
	}
	backups := map[string]*RepoInfo{}
	for _, f := range codecFixtureObjects(t, "test-repo-v2", "overwritten") {
		b, err := DecodeRepoInfo(f.key, f.data)
		if err != nil {
			t.Fatal(err)
		}
		backups[strings.TrimPrefix(f.key, "overwritten/")] = b
	}
	if len(backups) != 10 {
		t.Fatalf("%d backups, want 10", len(backups))
	}
	for i, u := range ri.LatestUpdates[1:] {
		b := backups[u.BackupPath]
		if b == nil {
			t.Fatalf("entry %d: backup %q missing", i+1, u.BackupPath)
		}
		want := slices.Clone(ri.LatestUpdates[i+1:])
		want[0].BackupPath = ""
		if !reflect.DeepEqual(b.LatestUpdates, want) {
			t.Errorf("backup %s: ops log %v, want %v", u.BackupPath, repoFixtureUpdates(b), repoFixtureUpdates(&RepoInfo{LatestUpdates: want}))
		}
		delete(backups, u.BackupPath)
	}
	if len(backups) != 0 {
		t.Errorf("backups no ops log entry names: %v", slices.Collect(func(yield func(string) bool) {
			for k := range backups {
				if !yield(k) {
					return
				}
			}
		}))
	}
	// The oldest backup: just the initialized repository.
	first := ri.LatestUpdates[len(ri.LatestUpdates)-1].BackupPath
	data, err := os.ReadFile(filepath.Join(codecFixturesDir(t), "test-repo-v2", "overwritten", first))
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeRepoInfo("overwritten/"+first, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Snapshots) != 1 || b.Snapshots[0].ID.String() != "1CECHNKREP0F1RSTCMT0" || b.Snapshots[0].ParentIndex != -1 ||
		len(b.Branches) != 1 || b.Branches[0] != (RefEntry{Name: "main", SnapshotIndex: 0}) || b.Tags != nil {
		t.Errorf("initial repo object %+v", b)
	}
}

// TestRepoInfoFixtureMigrated: the migrated repository's repo object points
// at spec-1 snapshot files whose parent ids agree with its parent indices.
func TestRepoInfoFixtureMigrated(t *testing.T) {
	ri, err := DecodeRepoInfo("repo", headerRepoFile(t, "test-repo-v2-migrated"))
	if err != nil {
		t.Fatal(err)
	}
	repoFixtureCheckHistory(t, "test-repo-v2-migrated", ri)
	files := codecSnapshots(t, "test-repo-v2-migrated")
	for _, s := range ri.Snapshots {
		f := files[s.ID]
		if f == nil || f.SpecVersion != 1 || f.Message != s.Message || f.FlushedAt != s.FlushedAt {
			t.Fatalf("snapshot file %s disagrees with the repo object: %+v", s.ID, f)
		}
		switch {
		case s.ParentIndex == -1:
			if f.ParentID != nil || s.ID.String() != "P874YS3J196959RDHX7G" {
				t.Errorf("root %s has parent file %v", s.ID, f.ParentID)
			}
		case f.ParentID == nil || *f.ParentID != ri.Snapshots[s.ParentIndex].ID:
			t.Errorf("snapshot %s: file parent %v, repo parent %s", s.ID, f.ParentID, ri.Snapshots[s.ParentIndex].ID)
		}
	}
	// A synthetic ops log ending in the migration; no backups.
	ops := repoFixtureUpdates(ri)
	if len(ops) != 12 || ops[0].Type != UpdateRepoMigrated || ri.LatestUpdates[0].FromVersion != 1 ||
		ri.LatestUpdates[0].ToVersion != 2 || ops[len(ops)-1].Type != UpdateRepoInitialized {
		t.Errorf("ops log %v", ops)
	}
	for _, u := range ri.LatestUpdates {
		if u.BackupPath != "" {
			t.Errorf("migration entry %s has backup path %q", u.Type, u.BackupPath)
		}
	}
}

// TestRepoInfoFixtureRoundTrip re-encodes every repo object of the
// fixtures: decoding gives the same value; the flatbuffer is compared with
// upstream's.
func TestRepoInfoFixtureRoundTrip(t *testing.T) {
	files := codecFixtureObjects(t, "test-repo-v2", "overwritten")
	for _, repo := range []string{"test-repo-v2", "test-repo-v2-migrated"} {
		files = append(files, codecFixtureFile{repo: repo, key: repo + "/repo", data: headerRepoFile(t, repo)})
	}
	identical := 0
	for _, f := range files {
		ri, err := DecodeRepoInfo(f.key, f.data)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := EncodeRepoInfo(ri)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeRepoInfo(f.key, enc)
		if err != nil || !reflect.DeepEqual(back, ri) {
			t.Errorf("%s: round trip differs (%v)", f.key, err)
		}
		if h, _ := ParseHeader(f.key, enc); h.SpecVersion != 2 || h.FileType != FileTypeRepoInfo || h.Implementation != ImplementationName {
			t.Errorf("%s: header %+v", f.key, h)
		}
		if bytes.Equal(codecPayload(t, f), codecPayload(t, codecFixtureFile{key: f.key, data: enc})) {
			identical++
		}
	}
	t.Logf("repo objects with byte-identical flatbuffers after re-encoding: %d of %d", identical, len(files))
	if identical == 0 {
		t.Error("no repo object re-encoded byte-identically")
	}
}

// TestCodecFixtureSpec2Objects checks what the spec-2 snapshots, manifests
// and transaction logs of test-repo-v2 hold.
func TestCodecFixtureSpec2Objects(t *testing.T) {
	snaps := codecSnapshots(t, "test-repo-v2")
	var tip *Snapshot
	for _, s := range snaps {
		if s.Message == "some more structure" {
			tip = s
		}
		if s.Extra != nil {
			t.Errorf("%s: extra %v", s.ID, s.Extra)
		}
	}
	want := map[string][]DimensionShapeV2{
		"/group1/big_chunks":                 {{10, 2}, {10, 2}},
		"/group1/small_chunks":               {{5, 5}},
		"/group2/group3/group4/group5/inner": {{10, 2}, {10, 2}},
	}
	for _, n := range tip.Nodes {
		if n.Type == NodeArray && (n.Shape != nil || !reflect.DeepEqual(n.ShapeV2, want[n.Path])) {
			t.Errorf("%s: shape %v shape_v2 %v", n.Path, n.Shape, n.ShapeV2)
		}
		if n.Type == NodeGroup && n.ShapeV2 != nil {
			t.Errorf("group %s has shape_v2", n.Path)
		}
	}
	if len(tip.ManifestFiles) != 2 || tip.ManifestFiles[0].ID.String() != "RZ09HJ4CVB3KZWKAJFX0" ||
		tip.ManifestFiles[0].SizeBytes != 169 || tip.ManifestFiles[0].NumChunkRefs != 4 {
		t.Errorf("manifest files %+v", tip.ManifestFiles)
	}
	for _, f := range codecFixtureObjects(t, "test-repo-v2", "manifests") {
		m, err := DecodeManifest(f.key, f.data)
		if err != nil {
			t.Fatal(err)
		}
		if m.SpecVersion != 2 || m.CompressionAlgorithm != LocationCompressionNone || m.LocationDictionary != nil || m.Extra != nil {
			t.Errorf("%s: %d %d %v %v", f.key, m.SpecVersion, m.CompressionAlgorithm, m.LocationDictionary, m.Extra)
		}
		if f.key == "manifests/WTMRMCW414QYFTX7JJPG" {
			v := m.Arrays[0].Refs[0]
			if v.Kind != ChunkVirtual || v.Location != "s3://testbucket/can_read_old/chunk-1" || v.Length != 19 || v.CompressedLocation != nil {
				t.Errorf("virtual ref %+v", v)
			}
		}
	}
	for _, f := range codecFixtureObjects(t, "test-repo-v2", "transactions") {
		tl, err := DecodeTransactionLog(f.key, f.data)
		if err != nil {
			t.Fatal(err)
		}
		if tl.SpecVersion != 2 || tl.MovedNodes != nil || tl.Extra != nil {
			t.Errorf("%s: %+v", f.key, tl)
		}
		if f.key == "transactions/1CECHNKREP0F1RSTCMT0" && !reflect.DeepEqual(tl, &TransactionLog{SpecVersion: 2, ID: tl.ID}) {
			t.Errorf("initial transaction log is not empty: %+v", tl)
		}
	}
	// The spec-1 objects of the migrated repository were written before
	// the spec-2 fields existed.
	for _, f := range codecFixtureObjects(t, "test-repo-v2-migrated", "manifests") {
		m, err := DecodeManifest(f.key, f.data)
		if err != nil || m.SpecVersion != 1 || m.CompressionAlgorithm != LocationCompressionNone {
			t.Errorf("%s: %+v (%v)", f.key, m, err)
		}
	}
}
