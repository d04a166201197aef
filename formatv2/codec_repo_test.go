package formatv2

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"
	"pgregory.net/rapid"

	"github.com/icerig/icerig/formatv2/internal/fbv2"
)

// codecCanonicalRepoInfo is what DecodeRepoInfo returns for the encoding of
// ri: the encoder's canonical order, and empty slices as nil where the
// decoder returns nil.
func codecCanonicalRepoInfo(t interface {
	Helper()
	Fatalf(string, ...any)
}, ri *RepoInfo) *RepoInfo {
	t.Helper()
	c, err := canonicalRepoInfo(ri)
	if err != nil {
		t.Fatalf("canonical repo info: %v", err)
	}
	c.Tags = codecNilIfEmpty(c.Tags)
	c.Branches = codecNilIfEmpty(c.Branches)
	c.DeletedTags = codecNilIfEmpty(c.DeletedTags)
	c.Metadata = codecCanonicalMetadata(c.Metadata)
	c.LatestUpdates = codecNilIfEmpty(c.LatestUpdates)
	for i := range c.LatestUpdates {
		c.LatestUpdates[i] = codecCanonicalUpdate(c.LatestUpdates[i])
	}
	c.Snapshots = codecNilIfEmpty(c.Snapshots)
	for i := range c.Snapshots {
		c.Snapshots[i].Metadata = codecCanonicalMetadata(c.Snapshots[i].Metadata)
		c.Snapshots[i].PrunedAncestorTxLogs = codecNilIfEmpty(c.Snapshots[i].PrunedAncestorTxLogs)
	}
	return c
}

func codecCanonicalMetadata(in []MetadataItem) []MetadataItem {
	var out []MetadataItem
	for _, m := range in {
		out = append(out, MetadataItem{Name: m.Name, Value: codecNilIfEmpty(m.Value)})
	}
	return out
}

// codecCanonicalUpdate keeps only the fields the update's kind stores.
func codecCanonicalUpdate(u Update) Update {
	c := Update{Type: u.Type, UpdatedAt: u.UpdatedAt, BackupPath: u.BackupPath}
	switch u.Type {
	case UpdateRepoMigrated:
		c.FromVersion, c.ToVersion = u.FromVersion, u.ToVersion
	case UpdateRepoStatusChanged:
		c.Status = u.Status
	case UpdateTagCreated, UpdateBranchCreated:
		c.Name = u.Name
	case UpdateTagDeleted, UpdateBranchDeleted, UpdateBranchReset:
		c.Name, c.PreviousSnapshot = u.Name, u.PreviousSnapshot
	case UpdateNewCommit:
		c.Name, c.NewSnapshot = u.Name, u.NewSnapshot
	case UpdateCommitAmended:
		c.Name, c.PreviousSnapshot, c.NewSnapshot = u.Name, u.PreviousSnapshot, u.NewSnapshot
	case UpdateNewDetachedSnapshot:
		c.NewSnapshot = u.NewSnapshot
	case UpdateFeatureFlagChanged:
		c.FlagID, c.FlagNewValue, c.FlagIsSet = u.FlagID, u.FlagNewValue, u.FlagIsSet
	}
	return c
}

func codecGenRepoInfo(t *rapid.T) *RepoInfo {
	ri := &RepoInfo{SpecVersion: 2}
	// Snapshots are drawn in topological order (a parent before its
	// children), then shuffled, so the encoder must renumber.
	n := rapid.IntRange(1, 6).Draw(t, "snapshots")
	ids := rapid.SliceOfNDistinct(rapid.SliceOfN(rapid.Byte(), 12, 12), n, n, func(b []byte) string { return string(b) }).Draw(t, "ids")
	snaps := make([]SnapshotInfo, n)
	for i := range snaps {
		s := SnapshotInfo{ParentIndex: -1, FlushedAt: rapid.Uint64().Draw(t, "flushed"), Message: codecGenText.Draw(t, "message")}
		copy(s.ID[:], ids[i])
		if i > 0 {
			s.ParentIndex = rapid.IntRange(0, i-1).Draw(t, "parent")
		}
		for _, name := range rapid.SliceOfNDistinct(codecGenText, 0, 2, func(s string) string { return s }).Draw(t, "meta names") {
			s.Metadata = append(s.Metadata, MetadataItem{Name: name, Value: rapid.SliceOfN(rapid.Byte(), 1, 4).Draw(t, "meta value")})
		}
		for range rapid.IntRange(0, 2).Draw(t, "pruned") {
			s.PrunedAncestorTxLogs = append(s.PrunedAncestorTxLogs, codecGenObjectID(t, "pruned id"))
		}
		snaps[i] = s
	}
	perm := rapid.Permutation(rapid.Just(func() []int {
		p := make([]int, n)
		for i := range p {
			p[i] = i
		}
		return p
	}()).Draw(t, "order")).Draw(t, "perm")
	pos := make([]int, n) // old index -> new index
	for newI, oldI := range perm {
		pos[oldI] = newI
	}
	ri.Snapshots = make([]SnapshotInfo, n)
	for oldI, s := range snaps {
		if s.ParentIndex != -1 {
			s.ParentIndex = pos[s.ParentIndex]
		}
		ri.Snapshots[pos[oldI]] = s
	}
	ref := func(label string) uint32 { return uint32(rapid.IntRange(0, n-1).Draw(t, label)) }
	ri.Branches = []RefEntry{{Name: "main", SnapshotIndex: ref("main")}}
	for _, name := range rapid.SliceOfNDistinct(rapid.StringMatching(`[a-z!é ]{1,6}`), 0, 3, func(s string) string { return s }).Draw(t, "branches") {
		if name != "main" {
			ri.Branches = append(ri.Branches, RefEntry{Name: name, SnapshotIndex: ref("branch")})
		}
	}
	for _, name := range rapid.SliceOfNDistinct(rapid.StringMatching(`[a-z!é ]{1,6}`), 0, 3, func(s string) string { return s }).Draw(t, "tags") {
		ri.Tags = append(ri.Tags, RefEntry{Name: name, SnapshotIndex: ref("tag")})
	}
	ri.DeletedTags = rapid.SliceOfNDistinct(rapid.StringMatching(`[a-z]{1,4}`), 0, 2, func(s string) string { return s }).Draw(t, "deleted")
	ri.Status = RepoStatus{
		Availability: RepoAvailability(rapid.IntRange(0, 2).Draw(t, "availability")),
		SetAt:        rapid.Uint64().Draw(t, "set at"),
	}
	if ri.Status.Availability != RepoOnline {
		ri.Status.LimitedAvailabilityReason = codecGenText.Draw(t, "reason")
	}
	for _, name := range rapid.SliceOfNDistinct(codecGenText, 0, 2, func(s string) string { return s }).Draw(t, "repo meta") {
		ri.Metadata = append(ri.Metadata, MetadataItem{Name: name, Value: rapid.SliceOfN(rapid.Byte(), 1, 4).Draw(t, "value")})
	}
	for i := range rapid.IntRange(0, 6).Draw(t, "updates") {
		u := Update{
			Type:      UpdateType(rapid.IntRange(1, 16).Draw(t, "update type")),
			UpdatedAt: rapid.Uint64().Draw(t, "updated at"),
		}
		if i > 0 && rapid.Bool().Draw(t, "has backup") {
			u.BackupPath = "repo.30728015042536." + codecGenObjectID(t, "backup").String()
		}
		full := Update{
			Name:             rapid.StringMatching(`[a-z]{1,5}`).Draw(t, "name"),
			PreviousSnapshot: codecGenObjectID(t, "previous"),
			NewSnapshot:      codecGenObjectID(t, "new"),
			FromVersion:      rapid.Uint8().Draw(t, "from"),
			ToVersion:        rapid.Uint8().Draw(t, "to"),
			Status:           RepoStatus{Availability: RepoReadOnly, SetAt: 7, LimitedAvailabilityReason: "maintenance"},
			FlagID:           rapid.Uint16().Draw(t, "flag"),
			FlagNewValue:     rapid.Bool().Draw(t, "flag value"),
			FlagIsSet:        rapid.Bool().Draw(t, "flag set"),
		}
		full.Type, full.UpdatedAt, full.BackupPath = u.Type, u.UpdatedAt, u.BackupPath
		ri.LatestUpdates = append(ri.LatestUpdates, codecCanonicalUpdate(full))
	}
	if rapid.Bool().Draw(t, "has before") {
		ri.RepoBeforeUpdates = "repo.30728015042599." + codecGenObjectID(t, "before").String()
	}
	ri.Config = codecGenExtra(t, 2, "config")
	ri.Extra = codecGenExtra(t, 2, "extra")
	flags := func(label string) []uint16 {
		switch rapid.IntRange(0, 2).Draw(t, label) {
		case 0:
			return nil
		case 1:
			return []uint16{}
		}
		return rapid.SliceOfNDistinct(rapid.Uint16(), 1, 3, func(v uint16) uint16 { return v }).Draw(t, label+" ids")
	}
	ri.EnabledFeatureFlags = flags("enabled")
	ri.DisabledFeatureFlags = flags("disabled")
	return ri
}

// codecRepoRefs maps every ref of ri to the id of its snapshot.
func codecRepoRefs(ri *RepoInfo) map[string]ObjectID {
	out := map[string]ObjectID{}
	for _, r := range ri.Branches {
		out["branch "+r.Name] = ri.Snapshots[r.SnapshotIndex].ID
	}
	for _, r := range ri.Tags {
		out["tag "+r.Name] = ri.Snapshots[r.SnapshotIndex].ID
	}
	return out
}

// codecRepoParents maps every snapshot id of ri to its parent's id (zero
// for the root).
func codecRepoParents(ri *RepoInfo) map[ObjectID]ObjectID {
	out := map[ObjectID]ObjectID{}
	for _, s := range ri.Snapshots {
		if s.ParentIndex >= 0 {
			out[s.ID] = ri.Snapshots[s.ParentIndex].ID
		} else {
			out[s.ID] = ObjectID{}
		}
	}
	return out
}

func TestRepoInfoRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ri := codecGenRepoInfo(t)
		before := codecRepoParents(ri)
		enc, err := EncodeRepoInfo(ri)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeRepoInfo("repo", enc)
		if err != nil {
			t.Fatal(err)
		}
		// Independently of the canonical form: parents and refs still name
		// the same snapshots after renumbering, and the input is untouched.
		if !reflect.DeepEqual(codecRepoParents(got), before) || !reflect.DeepEqual(codecRepoParents(ri), before) {
			t.Fatalf("parent links changed")
		}
		if !reflect.DeepEqual(codecRepoRefs(got), codecRepoRefs(ri)) {
			t.Fatalf("refs changed: %v vs %v", codecRepoRefs(got), codecRepoRefs(ri))
		}
		for i := 1; i < len(got.Snapshots); i++ {
			if bytes.Compare(got.Snapshots[i-1].ID[:], got.Snapshots[i].ID[:]) >= 0 {
				t.Fatalf("decoded snapshots not sorted by id")
			}
		}
		want := codecCanonicalRepoInfo(t, ri)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip\n got %+v\nwant %+v", got, want)
		}
		// A canonical value survives unchanged, byte for byte.
		again, err := EncodeRepoInfo(got)
		if err != nil || !bytes.Equal(again, enc) {
			t.Fatalf("re-encoding the decoded repo info changed the bytes (%v)", err)
		}
		if back, err := DecodeRepoInfo("repo", again); err != nil || !reflect.DeepEqual(back, got) {
			t.Fatalf("decode(encode(x)) != x for canonical x (%v)", err)
		}
	})
}

// codecTestRepoInfo is a small valid repo info: two snapshots, main on the
// child, one tag, one ops log entry of each kind.
func codecTestRepoInfo() *RepoInfo {
	ri := &RepoInfo{
		SpecVersion: 2,
		Snapshots: []SnapshotInfo{
			{ID: ObjectID{1}, ParentIndex: -1, FlushedAt: 10, Message: "Repository initialized"},
			{ID: ObjectID{2}, ParentIndex: 0, FlushedAt: 20, Message: "häppy",
				Metadata: []MetadataItem{{Name: "author", Value: []byte{1}}}, PrunedAncestorTxLogs: []ObjectID{{9}}},
		},
		Branches:            []RefEntry{{Name: "main", SnapshotIndex: 1}},
		Tags:                []RefEntry{{Name: "v1", SnapshotIndex: 0}},
		DeletedTags:         []string{"gone"},
		Status:              RepoStatus{Availability: RepoReadOnly, SetAt: 5, LimitedAvailabilityReason: "moving"},
		Metadata:            []MetadataItem{{Name: "team", Value: []byte{2}}},
		Config:              []byte{0x00, 0x00, 0x01}, // not a real flexbuffer; opaque to the codec
		RepoBeforeUpdates:   "repo.30728015042500.ABCDEFGHJKMNPQRSTVW0",
		EnabledFeatureFlags: []uint16{3, 1},
	}
	for typ := UpdateRepoInitialized; typ <= UpdateRepoStatusChanged; typ++ {
		ri.LatestUpdates = append(ri.LatestUpdates, codecCanonicalUpdate(Update{
			Type: typ, UpdatedAt: uint64(100 - typ), Name: "main", PreviousSnapshot: ObjectID{1}, NewSnapshot: ObjectID{2},
			FromVersion: 1, ToVersion: 2, Status: RepoStatus{Availability: RepoOffline, SetAt: 3},
			FlagID: 4, FlagNewValue: true, FlagIsSet: true,
		}))
	}
	return ri
}

func TestRepoInfoEncodeRejects(t *testing.T) {
	bad := "\xff"
	for name, c := range map[string]struct {
		edit func(*RepoInfo)
		msg  string
	}{
		"spec 0":              {func(ri *RepoInfo) { ri.SpecVersion = 0 }, "SpecVersion is 0"},
		"spec 1":              {func(ri *RepoInfo) { ri.SpecVersion = 1 }, "SpecVersion is 1"},
		"no main":             {func(ri *RepoInfo) { ri.Branches[0].Name = "trunk" }, `"main" is missing`},
		"duplicate branch":    {func(ri *RepoInfo) { ri.Branches = append(ri.Branches, ri.Branches[0]) }, `branch "main" listed twice`},
		"duplicate tag":       {func(ri *RepoInfo) { ri.Tags = append(ri.Tags, ri.Tags[0]) }, `tag "v1" listed twice`},
		"duplicate deleted":   {func(ri *RepoInfo) { ri.DeletedTags = append(ri.DeletedTags, "gone") }, `deleted tag "gone" listed twice`},
		"duplicate snapshot":  {func(ri *RepoInfo) { ri.Snapshots[1].ID = ri.Snapshots[0].ID }, "listed twice"},
		"ref out of range":    {func(ri *RepoInfo) { ri.Tags[0].SnapshotIndex = 2 }, "snapshot index 2 out of range"},
		"parent out of range": {func(ri *RepoInfo) { ri.Snapshots[1].ParentIndex = 2 }, "parent index 2 out of range"},
		"parent -2":           {func(ri *RepoInfo) { ri.Snapshots[1].ParentIndex = -2 }, "parent index -2 out of range"},
		"self parent":         {func(ri *RepoInfo) { ri.Snapshots[1].ParentIndex = 1 }, "is its own ancestor"},
		"cycle":               {func(ri *RepoInfo) { ri.Snapshots[0].ParentIndex = 1 }, "is its own ancestor"},
		"unknown update":      {func(ri *RepoInfo) { ri.LatestUpdates[0].Type = 17 }, "unknown update type 17"},
		"no update type":      {func(ri *RepoInfo) { ri.LatestUpdates[0].Type = 0 }, "unknown update type 0"},
		"availability":        {func(ri *RepoInfo) { ri.Status.Availability = 3 }, "unknown repository availability 3"},
		"bad message":         {func(ri *RepoInfo) { ri.Snapshots[0].Message = bad }, "message is not valid UTF-8"},
		"bad tag":             {func(ri *RepoInfo) { ri.Tags[0].Name = bad }, "not valid UTF-8"},
		"duplicate metadata":  {func(ri *RepoInfo) { ri.Metadata = append(ri.Metadata, ri.Metadata[0]) }, `metadata name "team" listed twice`},
		"duplicate flag":      {func(ri *RepoInfo) { ri.EnabledFeatureFlags = []uint16{1, 1} }, "enabled feature flag 1 listed twice"},
	} {
		ri := codecTestRepoInfo()
		c.edit(ri)
		_, err := EncodeRepoInfo(ri)
		if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), "encode repo info") {
			t.Errorf("%s: err = %v; want one saying %q", name, err, c.msg)
		}
	}
	if _, err := EncodeRepoInfo(nil); err == nil {
		t.Error("EncodeRepoInfo(nil) succeeded")
	}
	// The valid value encodes, and the encoder leaves it alone.
	ri := codecTestRepoInfo()
	if _, err := EncodeRepoInfo(ri); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ri, codecTestRepoInfo()) {
		t.Error("EncodeRepoInfo modified its input")
	}
}

// TestRepoInfoDecodeRejects patches encoded repo objects into corrupt ones.
func TestRepoInfoDecodeRejects(t *testing.T) {
	build := func(edit func(b *flatbuffers.Builder) flatbuffers.UOffsetT) []byte {
		b := flatbuffers.NewBuilder(0)
		return codecFramedSpec(t, 2, FileTypeRepoInfo, finish(b, edit(b)))
	}
	// A repo whose only snapshot claims parent 5.
	badParent := build(func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		return codecRawRepo(b, 2, 5, fbv2.UpdateKindRepoInitializedUpdate, 0)
	})
	badRef := build(func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		return codecRawRepo(b, 2, -1, fbv2.UpdateKindRepoInitializedUpdate, 3)
	})
	badKind := build(func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		return codecRawRepo(b, 2, -1, 17, 0)
	})
	badSpec := build(func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		return codecRawRepo(b, 3, -1, fbv2.UpdateKindRepoInitializedUpdate, 0)
	})
	selfParent := build(func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		return codecRawRepo(b, 2, 0, fbv2.UpdateKindRepoInitializedUpdate, 0)
	})
	good := build(func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		return codecRawRepo(b, 2, -1, fbv2.UpdateKindRepoInitializedUpdate, 0)
	})
	if ri, err := DecodeRepoInfo("repo", good); err != nil || len(ri.Snapshots) != 1 || ri.LatestUpdates[0].Type != UpdateRepoInitialized {
		t.Fatalf("hand-built repo: %+v, %v", ri, err)
	}
	for name, c := range map[string]struct {
		data []byte
		msg  string
	}{
		"parent out of range": {badParent, "parent index 5 out of range"},
		"ref out of range":    {badRef, "points at snapshot index 3 of 1"},
		"unknown update":      {badKind, "unknown update type 17"},
		"spec field":          {badSpec, "spec_version field is 3"},
		"self parent":         {selfParent, "is its own ancestor"},
	} {
		key := "overwritten/repo." + strings.ReplaceAll(name, " ", "_")
		_, err := DecodeRepoInfo(key, c.data)
		codecWantCorrupt(t, name, key, err, c.msg)
	}
	// Missing required fields.
	b := flatbuffers.NewBuilder(0)
	fbv2.RepoStart(b)
	fbv2.RepoAddSpecVersion(b, 2)
	_, err := DecodeRepoInfo("repo", codecFramedSpec(t, 2, FileTypeRepoInfo, finish(b, fbv2.RepoEnd(b))))
	codecWantCorrupt(t, "empty repo", "repo", err, "required field Repo.tags is missing")
}

// codecRawRepo builds a minimal Repo table by hand: one snapshot with the
// given parent offset, branch main at index mainIndex, one update of kind.
func codecRawRepo(b *flatbuffers.Builder, spec uint8, parent int32, kind fbv2.UpdateKind, mainIndex uint32) flatbuffers.UOffsetT {
	name := b.CreateString("main")
	fbv2.RefStart(b)
	fbv2.RefAddSnapshotIndex(b, mainIndex)
	fbv2.RefAddName(b, name)
	branches := createOffsetVector(b, []flatbuffers.UOffsetT{fbv2.RefEnd(b)})
	empty := createOffsetVector(b, nil)
	msg := b.CreateString("init")
	fbv2.SnapshotInfoStart(b)
	fbv2.SnapshotInfoAddMessage(b, msg)
	fbv2.SnapshotInfoAddParentOffset(b, parent)
	fbv2.SnapshotInfoAddId(b, createObjectID12(b, ObjectID{1}))
	snaps := createOffsetVector(b, []flatbuffers.UOffsetT{fbv2.SnapshotInfoEnd(b)})
	fbv2.RepoStatusStart(b)
	status := fbv2.RepoStatusEnd(b)
	b.StartObject(0)
	payload := b.EndObject()
	fbv2.UpdateStart(b)
	fbv2.UpdateAddUpdateType(b, payload)
	fbv2.UpdateAddUpdateTypeType(b, kind)
	updates := createOffsetVector(b, []flatbuffers.UOffsetT{fbv2.UpdateEnd(b)})
	fbv2.RepoStart(b)
	fbv2.RepoAddLatestUpdates(b, updates)
	fbv2.RepoAddStatus(b, status)
	fbv2.RepoAddSnapshots(b, snaps)
	fbv2.RepoAddDeletedTags(b, empty)
	fbv2.RepoAddBranches(b, branches)
	fbv2.RepoAddTags(b, empty)
	fbv2.RepoAddSpecVersion(b, spec)
	return fbv2.RepoEnd(b)
}

// codecFramedSpec wraps a raw flatbuffer into a file of type ft at spec.
func codecFramedSpec(t testing.TB, spec uint8, ft FileType, fb []byte) []byte {
	t.Helper()
	data, err := frame(spec, ft, fb)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestRepoInfoFlatcReadsOurRepo proves with the reference flatbuffers
// compiler that our encoder writes what our schema describes (and that the
// schema reads the config as the flexbuffer it is).
func TestRepoInfoFlatcReadsOurRepo(t *testing.T) {
	fixture, err := DecodeRepoInfo("repo", headerRepoFile(t, "test-repo-v2"))
	if err != nil {
		t.Fatal(err)
	}
	ri := codecTestRepoInfo()
	ri.Config = fixture.Config // a real flexbuffer, so flatc can render it
	data, err := EncodeRepoInfo(ri)
	if err != nil {
		t.Fatal(err)
	}
	fb := codecPayload(t, codecFixtureFile{key: "repo", data: data})
	if string(fb[4:8]) != "Ichk" {
		t.Errorf("file identifier %q", fb[4:8])
	}
	doc := codecFlatcJSON(t, "repo.fbs", fb)
	if doc["spec_version"] != 2.0 {
		t.Errorf("spec_version %v", doc["spec_version"])
	}
	if got := codecJSON(t, doc, "branches", 0); !reflect.DeepEqual(got, map[string]any{"name": "main", "snapshot_index": 1.0}) {
		t.Errorf("branch %v", got)
	}
	if got := codecJSON(t, doc, "deleted_tags"); !reflect.DeepEqual(got, []any{"gone"}) {
		t.Errorf("deleted tags %v", got)
	}
	snap := codecJSON(t, doc, "snapshots", 1).(map[string]any)
	if snap["message"] != "häppy" || snap["parent_offset"] != 0.0 || snap["flushed_at"] != 20.0 ||
		codecJSONBytes(t, snap["id"], 12)[0] != 2 || codecJSONBytes(t, codecJSON(t, snap, "pruned_ancestor_tx_logs", 0), 12)[0] != 9 {
		t.Errorf("snapshot %v", snap)
	}
	if root := codecJSON(t, doc, "snapshots", 0).(map[string]any); root["parent_offset"] != -1.0 {
		t.Errorf("root snapshot %v", root)
	}
	if got := codecJSON(t, doc, "status"); !reflect.DeepEqual(got, map[string]any{"availability": "ReadOnly", "set_at": 5.0, "limited_availability_reason": "moving"}) {
		t.Errorf("status %v", got)
	}
	updates := codecJSON(t, doc, "latest_updates").([]any)
	if len(updates) != 16 {
		t.Fatalf("%d updates", len(updates))
	}
	for i, want := range []string{"RepoInitializedUpdate", "RepoMigratedUpdate", "ConfigChangedUpdate", "MetadataChangedUpdate",
		"TagCreatedUpdate", "TagDeletedUpdate", "BranchCreatedUpdate", "BranchDeletedUpdate", "BranchResetUpdate",
		"NewCommitUpdate", "CommitAmendedUpdate", "NewDetachedSnapshotUpdate", "GCRanUpdate", "ExpirationRanUpdate",
		"FeatureFlagChangedUpdate", "RepoStatusChangedUpdate"} {
		u := updates[i].(map[string]any)
		if u["update_type_type"] != want || UpdateType(i+1).String() != want {
			t.Errorf("update %d: type %v, want %s", i, u["update_type_type"], want)
		}
	}
	if got := codecJSON(t, updates[9], "update_type", "branch"); got != "main" {
		t.Errorf("new commit branch %v", got)
	}
	if got := codecJSON(t, updates[14], "update_type"); !reflect.DeepEqual(got, map[string]any{"id": 4.0, "new_value": true, "is_set": true}) {
		t.Errorf("feature flag update %v", got)
	}
	if got := codecJSON(t, updates[1], "update_type"); !reflect.DeepEqual(got, map[string]any{"from_version": 1.0, "to_version": 2.0}) {
		t.Errorf("migrated update %v", got)
	}
	if got := codecJSON(t, doc, "enabled_feature_flags"); !reflect.DeepEqual(got, []any{1.0, 3.0}) {
		t.Errorf("enabled flags %v", got)
	}
	if got := codecJSON(t, doc, "config", "inline_chunk_threshold_bytes"); got != 12.0 {
		t.Errorf("config rendered by flatc: inline threshold %v", got)
	}
	if doc["repo_before_updates"] != ri.RepoBeforeUpdates {
		t.Errorf("repo_before_updates %v", doc["repo_before_updates"])
	}
}

// TestRepoInfoFlatcReadsUpstream runs flatc with our schema on upstream's
// repo object.
func TestRepoInfoFlatcReadsUpstream(t *testing.T) {
	doc := codecFlatcJSON(t, "repo.fbs", codecPayload(t, codecFixtureFile{key: "repo", data: headerRepoFile(t, "test-repo-v2")}))
	updates := codecJSON(t, doc, "latest_updates").([]any)
	if len(updates) != 11 || codecJSON(t, updates[0], "update_type_type") != "TagCreatedUpdate" ||
		codecJSON(t, updates[10], "update_type_type") != "RepoInitializedUpdate" {
		t.Errorf("ops log %v", updates)
	}
	if got := codecJSON(t, doc, "snapshots", 1, "parent_offset"); got != 5.0 {
		t.Errorf("parent_offset of snapshot 1: %v", got)
	}
}
