package formatv2

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"unicode/utf8"
	"unsafe"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/icerig/icerig/formatv2/internal/fbv2"
)

// Field numbers (schema order) of the repo tables, for presence checks.
const (
	fRepoTags                 = 1
	fRepoBranches             = 2
	fRepoDeletedTags          = 3
	fRepoSnapshots            = 4
	fRepoMetadata             = 6
	fRepoLatestUpdates        = 7
	fRepoBeforeUpdates        = 8
	fRepoConfig               = 9
	fRepoEnabledFeatureFlags  = 10
	fRepoDisabledFeatureFlags = 11
	fRepoExtra                = 12

	fRefName = 0

	fSnapInfoMessage  = 3
	fSnapInfoMetadata = 4
	fSnapInfoPruned   = 5

	fStatusReason = 2

	fUpdateBackupPath = 3

	// The name (or branch) field is the first of every update table that
	// has one.
	fUpdateName = 0
)

// EncodeRepoInfo returns the spec-2 `repo` object for ri: the header (spec
// byte 2, file type 6), then the zstd-compressed flatbuffer.
//
// ri.SpecVersion must be 2. The encoding is canonical (see RepoInfo: sorted
// refs, deleted tags, metadata, feature flags and snapshots, with indices
// renumbered) and follows upstream's builder order. Rejected: a missing
// "main" branch, duplicate names or snapshot ids, indices out of range, a
// snapshot that is its own ancestor, unknown update kinds or availability,
// invalid UTF-8.
func EncodeRepoInfo(ri *RepoInfo) ([]byte, error) {
	if ri == nil {
		return nil, fmt.Errorf("formatv2: encode repo info: nil repo info")
	}
	if ri.SpecVersion != spec2 {
		return nil, fmt.Errorf("formatv2: encode repo info: SpecVersion is %d, must be %d", ri.SpecVersion, spec2)
	}
	c, err := canonicalRepoInfo(ri)
	if err != nil {
		return nil, fmt.Errorf("formatv2: encode repo info: %w", err)
	}
	return frame(spec2, FileTypeRepoInfo, buildRepoInfo(c))
}

// canonicalRepoInfo validates ri and returns a copy in on-disk order.
func canonicalRepoInfo(ri *RepoInfo) (*RepoInfo, error) {
	n := len(ri.Snapshots)
	c := *ri

	// Snapshots sorted by id; old index -> new index.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return bytes.Compare(ri.Snapshots[a].ID[:], ri.Snapshots[b].ID[:])
	})
	newIndex := make([]int, n)
	for newI, oldI := range order {
		newIndex[oldI] = newI
	}
	c.Snapshots = make([]SnapshotInfo, n)
	for newI, oldI := range order {
		s := ri.Snapshots[oldI]
		if newI > 0 && s.ID == c.Snapshots[newI-1].ID {
			return nil, fmt.Errorf("snapshot %s listed twice", s.ID)
		}
		switch {
		case s.ParentIndex == -1:
		case s.ParentIndex < 0 || s.ParentIndex >= n:
			return nil, fmt.Errorf("snapshot %s: parent index %d out of range for %d snapshots", s.ID, s.ParentIndex, n)
		default:
			s.ParentIndex = newIndex[s.ParentIndex]
		}
		if !utf8.ValidString(s.Message) {
			return nil, fmt.Errorf("snapshot %s: message is not valid UTF-8", s.ID)
		}
		var err error
		if s.Metadata, err = sortedMetadata(s.Metadata); err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", s.ID, err)
		}
		c.Snapshots[newI] = s
	}
	if err := checkAcyclic(c.Snapshots); err != nil {
		return nil, err
	}

	refs := func(kind string, in []RefEntry) ([]RefEntry, error) {
		out := slices.Clone(in)
		slices.SortStableFunc(out, func(a, b RefEntry) int { return cmp.Compare(a.Name, b.Name) })
		for i := range out {
			if !utf8.ValidString(out[i].Name) {
				return nil, fmt.Errorf("%s name %q is not valid UTF-8", kind, out[i].Name)
			}
			if i > 0 && out[i].Name == out[i-1].Name {
				return nil, fmt.Errorf("%s %q listed twice", kind, out[i].Name)
			}
			if int64(out[i].SnapshotIndex) >= int64(n) {
				return nil, fmt.Errorf("%s %q: snapshot index %d out of range for %d snapshots", kind, out[i].Name, out[i].SnapshotIndex, n)
			}
			out[i].SnapshotIndex = uint32(newIndex[out[i].SnapshotIndex])
		}
		return out, nil
	}
	var err error
	if c.Tags, err = refs("tag", ri.Tags); err != nil {
		return nil, err
	}
	if c.Branches, err = refs("branch", ri.Branches); err != nil {
		return nil, err
	}
	if _, found := slices.BinarySearchFunc(c.Branches, "main", func(e RefEntry, name string) int { return cmp.Compare(e.Name, name) }); !found {
		return nil, fmt.Errorf(`branch "main" is missing`)
	}
	c.DeletedTags = slices.Clone(ri.DeletedTags)
	slices.Sort(c.DeletedTags)
	for i, name := range c.DeletedTags {
		if !utf8.ValidString(name) {
			return nil, fmt.Errorf("deleted tag name %q is not valid UTF-8", name)
		}
		if i > 0 && name == c.DeletedTags[i-1] {
			return nil, fmt.Errorf("deleted tag %q listed twice", name)
		}
	}
	if c.Metadata, err = sortedMetadata(ri.Metadata); err != nil {
		return nil, err
	}
	if err := checkStatus(ri.Status); err != nil {
		return nil, err
	}
	for i, u := range ri.LatestUpdates {
		if err := checkUpdate(u); err != nil {
			return nil, fmt.Errorf("ops log entry %d: %w", i, err)
		}
	}
	if !utf8.ValidString(ri.RepoBeforeUpdates) {
		return nil, fmt.Errorf("repo_before_updates is not valid UTF-8")
	}
	flags := func(kind string, in []uint16) ([]uint16, error) {
		if in == nil {
			return nil, nil
		}
		out := slices.Clone(in)
		slices.Sort(out)
		for i := 1; i < len(out); i++ {
			if out[i] == out[i-1] {
				return nil, fmt.Errorf("%s feature flag %d listed twice", kind, out[i])
			}
		}
		return out, nil
	}
	if c.EnabledFeatureFlags, err = flags("enabled", ri.EnabledFeatureFlags); err != nil {
		return nil, err
	}
	if c.DisabledFeatureFlags, err = flags("disabled", ri.DisabledFeatureFlags); err != nil {
		return nil, err
	}
	return &c, nil
}

// sortedMetadata returns metadata sorted by name, rejecting duplicates and
// invalid names.
func sortedMetadata(in []MetadataItem) ([]MetadataItem, error) {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b MetadataItem) int { return cmp.Compare(a.Name, b.Name) })
	for i, m := range out {
		if !utf8.ValidString(m.Name) {
			return nil, fmt.Errorf("metadata name %q is not valid UTF-8", m.Name)
		}
		if i > 0 && m.Name == out[i-1].Name {
			return nil, fmt.Errorf("metadata name %q listed twice", m.Name)
		}
	}
	return out, nil
}

// checkAcyclic fails when following ParentIndex from some snapshot comes
// back to it. Parent indices must already be in range.
func checkAcyclic(snaps []SnapshotInfo) error {
	const (
		unvisited = iota
		onPath
		done
	)
	state := make([]uint8, len(snaps))
	for start := range snaps {
		i := start
		for i != -1 && state[i] == unvisited {
			state[i] = onPath
			i = snaps[i].ParentIndex
		}
		if i != -1 && state[i] == onPath {
			return fmt.Errorf("snapshot %s is its own ancestor", snaps[i].ID)
		}
		for j := start; j != -1 && state[j] == onPath; j = snaps[j].ParentIndex {
			state[j] = done
		}
	}
	return nil
}

func checkStatus(s RepoStatus) error {
	if s.Availability > RepoOffline {
		return fmt.Errorf("unknown repository availability %d", s.Availability)
	}
	if !utf8.ValidString(s.LimitedAvailabilityReason) {
		return fmt.Errorf("status reason is not valid UTF-8")
	}
	return nil
}

func checkUpdate(u Update) error {
	if u.Type < UpdateRepoInitialized || u.Type > UpdateRepoStatusChanged {
		return fmt.Errorf("unknown update type %d", u.Type)
	}
	if !utf8.ValidString(u.Name) || !utf8.ValidString(u.BackupPath) {
		return fmt.Errorf("%s: name or backup path is not valid UTF-8", u.Type)
	}
	if u.Type == UpdateRepoStatusChanged {
		return checkStatus(u.Status)
	}
	return nil
}

// buildRepoInfo writes the flatbuffer of a canonical RepoInfo in upstream's
// order: tags, branches, deleted tags, snapshots, status, metadata, feature
// flags, ops log, repo_before_updates, config, extra, then the root table.
func buildRepoInfo(ri *RepoInfo) []byte {
	b := flatbuffers.NewBuilder(4096)
	refs := func(in []RefEntry) flatbuffers.UOffsetT {
		offs := make([]flatbuffers.UOffsetT, len(in))
		for i, r := range in {
			name := b.CreateString(r.Name)
			fbv2.RefStart(b)
			fbv2.RefAddSnapshotIndex(b, r.SnapshotIndex)
			fbv2.RefAddName(b, name)
			offs[i] = fbv2.RefEnd(b)
		}
		return createOffsetVector(b, offs)
	}
	tags := refs(ri.Tags)
	branches := refs(ri.Branches)
	deleted := make([]flatbuffers.UOffsetT, len(ri.DeletedTags))
	for i, name := range ri.DeletedTags {
		deleted[i] = b.CreateString(name)
	}
	deletedVec := createOffsetVector(b, deleted)

	snaps := make([]flatbuffers.UOffsetT, len(ri.Snapshots))
	for i, s := range ri.Snapshots {
		meta := buildMetadataItems(b, s.Metadata)
		message := b.CreateString(s.Message)
		var pruned flatbuffers.UOffsetT
		if len(s.PrunedAncestorTxLogs) > 0 {
			b.StartVector(12, len(s.PrunedAncestorTxLogs), 1)
			for j := len(s.PrunedAncestorTxLogs) - 1; j >= 0; j-- {
				createObjectID12(b, s.PrunedAncestorTxLogs[j])
			}
			pruned = b.EndVector(len(s.PrunedAncestorTxLogs))
		}
		fbv2.SnapshotInfoStart(b)
		fbv2.SnapshotInfoAddFlushedAt(b, s.FlushedAt)
		if pruned != 0 {
			fbv2.SnapshotInfoAddPrunedAncestorTxLogs(b, pruned)
		}
		fbv2.SnapshotInfoAddMetadata(b, meta)
		fbv2.SnapshotInfoAddMessage(b, message)
		fbv2.SnapshotInfoAddParentOffset(b, int32(s.ParentIndex))
		fbv2.SnapshotInfoAddId(b, createObjectID12(b, s.ID))
		snaps[i] = fbv2.SnapshotInfoEnd(b)
	}
	snapsVec := createOffsetVector(b, snaps)

	status := buildRepoStatus(b, ri.Status)
	meta := buildMetadataItems(b, ri.Metadata)
	flags := func(v []uint16) flatbuffers.UOffsetT {
		if v == nil {
			return 0
		}
		b.StartVector(2, len(v), 2)
		for i := len(v) - 1; i >= 0; i-- {
			b.PrependUint16(v[i])
		}
		return b.EndVector(len(v))
	}
	enabled := flags(ri.EnabledFeatureFlags)
	disabled := flags(ri.DisabledFeatureFlags)

	updates := make([]flatbuffers.UOffsetT, len(ri.LatestUpdates))
	for i := range ri.LatestUpdates {
		updates[i] = buildUpdate(b, &ri.LatestUpdates[i])
	}
	updatesVec := createOffsetVector(b, updates)
	var before flatbuffers.UOffsetT
	if ri.RepoBeforeUpdates != "" {
		before = b.CreateString(ri.RepoBeforeUpdates)
	}
	config := createOptBytes(b, ri.Config)
	extra := createOptBytes(b, ri.Extra)

	fbv2.RepoStart(b)
	if ri.Extra != nil {
		fbv2.RepoAddExtra(b, extra)
	}
	if ri.DisabledFeatureFlags != nil {
		fbv2.RepoAddDisabledFeatureFlags(b, disabled)
	}
	if ri.EnabledFeatureFlags != nil {
		fbv2.RepoAddEnabledFeatureFlags(b, enabled)
	}
	if ri.Config != nil {
		fbv2.RepoAddConfig(b, config)
	}
	if before != 0 {
		fbv2.RepoAddRepoBeforeUpdates(b, before)
	}
	fbv2.RepoAddLatestUpdates(b, updatesVec)
	fbv2.RepoAddMetadata(b, meta)
	fbv2.RepoAddStatus(b, status)
	fbv2.RepoAddSnapshots(b, snapsVec)
	fbv2.RepoAddDeletedTags(b, deletedVec)
	fbv2.RepoAddBranches(b, branches)
	fbv2.RepoAddTags(b, tags)
	fbv2.RepoAddSpecVersion(b, ri.SpecVersion)
	return finish(b, fbv2.RepoEnd(b))
}

// buildMetadataItems writes a (sorted) metadata vector.
func buildMetadataItems(b *flatbuffers.Builder, items []MetadataItem) flatbuffers.UOffsetT {
	offs := make([]flatbuffers.UOffsetT, len(items))
	for i, m := range items {
		name := b.CreateSharedString(m.Name)
		value := b.CreateByteVector(nonNil(m.Value))
		fbv2.MetadataItemStart(b)
		fbv2.MetadataItemAddValue(b, value)
		fbv2.MetadataItemAddName(b, name)
		offs[i] = fbv2.MetadataItemEnd(b)
	}
	return createOffsetVector(b, offs)
}

func buildRepoStatus(b *flatbuffers.Builder, s RepoStatus) flatbuffers.UOffsetT {
	var reason flatbuffers.UOffsetT
	if s.LimitedAvailabilityReason != "" {
		reason = b.CreateString(s.LimitedAvailabilityReason)
	}
	fbv2.RepoStatusStart(b)
	fbv2.RepoStatusAddSetAt(b, s.SetAt)
	if reason != 0 {
		fbv2.RepoStatusAddLimitedAvailabilityReason(b, reason)
	}
	fbv2.RepoStatusAddAvailability(b, fbv2.RepoAvailability(s.Availability))
	return fbv2.RepoStatusEnd(b)
}

// buildUpdate writes one ops log entry: the payload table, the backup
// path, then the Update table.
func buildUpdate(b *flatbuffers.Builder, u *Update) flatbuffers.UOffsetT {
	payload := buildUpdatePayload(b, u)
	var backup flatbuffers.UOffsetT
	if u.BackupPath != "" {
		backup = b.CreateString(u.BackupPath)
	}
	fbv2.UpdateStart(b)
	fbv2.UpdateAddUpdatedAt(b, u.UpdatedAt)
	if backup != 0 {
		fbv2.UpdateAddBackupPath(b, backup)
	}
	fbv2.UpdateAddUpdateType(b, payload)
	fbv2.UpdateAddUpdateTypeType(b, fbv2.UpdateKind(u.Type))
	return fbv2.UpdateEnd(b)
}

// buildUpdatePayload writes the union member table of u (its type was
// checked by the caller).
func buildUpdatePayload(b *flatbuffers.Builder, u *Update) flatbuffers.UOffsetT {
	switch u.Type {
	case UpdateRepoMigrated:
		fbv2.RepoMigratedUpdateStart(b)
		fbv2.RepoMigratedUpdateAddToVersion(b, u.ToVersion)
		fbv2.RepoMigratedUpdateAddFromVersion(b, u.FromVersion)
		return fbv2.RepoMigratedUpdateEnd(b)
	case UpdateRepoStatusChanged:
		status := buildRepoStatus(b, u.Status)
		fbv2.RepoStatusChangedUpdateStart(b)
		fbv2.RepoStatusChangedUpdateAddStatus(b, status)
		return fbv2.RepoStatusChangedUpdateEnd(b)
	case UpdateTagCreated:
		name := b.CreateString(u.Name)
		fbv2.TagCreatedUpdateStart(b)
		fbv2.TagCreatedUpdateAddName(b, name)
		return fbv2.TagCreatedUpdateEnd(b)
	case UpdateTagDeleted:
		name := b.CreateString(u.Name)
		fbv2.TagDeletedUpdateStart(b)
		fbv2.TagDeletedUpdateAddPreviousSnapId(b, createObjectID12(b, u.PreviousSnapshot))
		fbv2.TagDeletedUpdateAddName(b, name)
		return fbv2.TagDeletedUpdateEnd(b)
	case UpdateBranchCreated:
		name := b.CreateString(u.Name)
		fbv2.BranchCreatedUpdateStart(b)
		fbv2.BranchCreatedUpdateAddName(b, name)
		return fbv2.BranchCreatedUpdateEnd(b)
	case UpdateBranchDeleted:
		name := b.CreateString(u.Name)
		fbv2.BranchDeletedUpdateStart(b)
		fbv2.BranchDeletedUpdateAddPreviousSnapId(b, createObjectID12(b, u.PreviousSnapshot))
		fbv2.BranchDeletedUpdateAddName(b, name)
		return fbv2.BranchDeletedUpdateEnd(b)
	case UpdateBranchReset:
		name := b.CreateString(u.Name)
		fbv2.BranchResetUpdateStart(b)
		fbv2.BranchResetUpdateAddPreviousSnapId(b, createObjectID12(b, u.PreviousSnapshot))
		fbv2.BranchResetUpdateAddName(b, name)
		return fbv2.BranchResetUpdateEnd(b)
	case UpdateNewCommit:
		branch := b.CreateString(u.Name)
		fbv2.NewCommitUpdateStart(b)
		fbv2.NewCommitUpdateAddNewSnapId(b, createObjectID12(b, u.NewSnapshot))
		fbv2.NewCommitUpdateAddBranch(b, branch)
		return fbv2.NewCommitUpdateEnd(b)
	case UpdateCommitAmended:
		branch := b.CreateString(u.Name)
		fbv2.CommitAmendedUpdateStart(b)
		fbv2.CommitAmendedUpdateAddNewSnapId(b, createObjectID12(b, u.NewSnapshot))
		fbv2.CommitAmendedUpdateAddPreviousSnapId(b, createObjectID12(b, u.PreviousSnapshot))
		fbv2.CommitAmendedUpdateAddBranch(b, branch)
		return fbv2.CommitAmendedUpdateEnd(b)
	case UpdateNewDetachedSnapshot:
		fbv2.NewDetachedSnapshotUpdateStart(b)
		fbv2.NewDetachedSnapshotUpdateAddNewSnapId(b, createObjectID12(b, u.NewSnapshot))
		return fbv2.NewDetachedSnapshotUpdateEnd(b)
	case UpdateFeatureFlagChanged:
		fbv2.FeatureFlagChangedUpdateStart(b)
		fbv2.FeatureFlagChangedUpdateAddId(b, u.FlagID)
		fbv2.FeatureFlagChangedUpdateAddIsSet(b, u.FlagIsSet)
		fbv2.FeatureFlagChangedUpdateAddNewValue(b, u.FlagNewValue)
		return fbv2.FeatureFlagChangedUpdateEnd(b)
	default:
		// Payload-free kinds: repo initialized, config changed, metadata
		// changed, GC ran, expiration ran. Their tables are all empty and
		// have the same layout.
		b.StartObject(0)
		return b.EndObject()
	}
}

// DecodeRepoInfo decodes a `repo` object. name is the object key (e.g.
// "repo" or "overwritten/repo.30728015042536.PTXGHH5DYGZ1JY7JBK70") and
// appears in every error. Errors wrap ErrUnsupportedSpec (a newer spec) or
// ErrCorrupt (including a header spec byte other than 2, a spec_version
// field that disagrees with it, indices out of range, parent cycles and
// unknown update kinds).
//
// Empty vectors decode as nil, except the feature flag lists, Config and
// Extra, which are nil only when absent.
func DecodeRepoInfo(name string, data []byte) (*RepoInfo, error) {
	spec, fb, err := unframe(name, data, FileTypeRepoInfo)
	if err != nil {
		return nil, err
	}
	r := newFBReader(name, fb)
	var ri *RepoInfo
	err = r.guard(func() error {
		var err error
		ri, err = r.repoInfo()
		return err
	})
	if err != nil {
		return nil, err
	}
	if ri.SpecVersion != spec {
		return nil, corruptf(name, "spec_version field is %d but the header says %d", ri.SpecVersion, spec)
	}
	return ri, nil
}

func (r *fbReader) repoInfo() (*RepoInfo, error) {
	root := fbv2.GetRootAsRepo(r.buf, 0)
	t := root.Table()
	ri := &RepoInfo{SpecVersion: root.SpecVersion()}

	for _, f := range []struct {
		field int
		name  string
	}{
		{fRepoTags, "Repo.tags"}, {fRepoBranches, "Repo.branches"}, {fRepoDeletedTags, "Repo.deleted_tags"},
		{fRepoSnapshots, "Repo.snapshots"}, {fRepoLatestUpdates, "Repo.latest_updates"},
	} {
		if !has(t, f.field) {
			return nil, r.missing(f.name)
		}
	}

	n, err := r.vec("Repo.snapshots", root.SnapshotsLength(), 4, int(unsafe.Sizeof(SnapshotInfo{})))
	if err != nil {
		return nil, err
	}
	if n > 0 {
		ri.Snapshots = make([]SnapshotInfo, n)
	}
	var si fbv2.SnapshotInfo
	for i := range ri.Snapshots {
		root.Snapshots(&si, i)
		if err := r.snapshotInfo(&si, &ri.Snapshots[i], n); err != nil {
			return nil, err
		}
	}
	if err := checkAcyclic(ri.Snapshots); err != nil {
		return nil, corruptf(r.name, "%v", err)
	}

	if ri.Tags, err = r.refs("Repo.tags", root.TagsLength(), root.Tags, n); err != nil {
		return nil, err
	}
	if ri.Branches, err = r.refs("Repo.branches", root.BranchesLength(), root.Branches, n); err != nil {
		return nil, err
	}
	cnt, err := r.vec("Repo.deleted_tags", root.DeletedTagsLength(), 4, int(unsafe.Sizeof("")))
	if err != nil {
		return nil, err
	}
	if cnt > 0 {
		ri.DeletedTags = make([]string, cnt)
	}
	for i := range ri.DeletedTags {
		if ri.DeletedTags[i], err = r.str("Repo.deleted_tags", root.DeletedTags(i)); err != nil {
			return nil, err
		}
	}

	var st fbv2.RepoStatus
	if root.Status(&st) == nil {
		return nil, r.missing("Repo.status")
	}
	if ri.Status, err = r.repoStatus(&st); err != nil {
		return nil, err
	}
	if has(t, fRepoMetadata) {
		if ri.Metadata, err = r.metadataItems("Repo.metadata", root.MetadataLength(), root.Metadata); err != nil {
			return nil, err
		}
	}

	cnt, err = r.vec("Repo.latest_updates", root.LatestUpdatesLength(), 4, int(unsafe.Sizeof(Update{})))
	if err != nil {
		return nil, err
	}
	if cnt > 0 {
		ri.LatestUpdates = make([]Update, cnt)
	}
	var u fbv2.Update
	for i := range ri.LatestUpdates {
		root.LatestUpdates(&u, i)
		if err := r.update(&u, &ri.LatestUpdates[i]); err != nil {
			return nil, err
		}
	}
	if has(t, fRepoBeforeUpdates) {
		if ri.RepoBeforeUpdates, err = r.str("Repo.repo_before_updates", root.RepoBeforeUpdates()); err != nil {
			return nil, err
		}
	}
	if ri.Config, err = r.optBytes(has(t, fRepoConfig), root.ConfigBytes()); err != nil {
		return nil, err
	}
	if ri.Extra, err = r.optBytes(has(t, fRepoExtra), root.ExtraBytes()); err != nil {
		return nil, err
	}
	if has(t, fRepoEnabledFeatureFlags) {
		if ri.EnabledFeatureFlags, err = r.uint16s("Repo.enabled_feature_flags", root.EnabledFeatureFlagsLength(), root.EnabledFeatureFlags); err != nil {
			return nil, err
		}
	}
	if has(t, fRepoDisabledFeatureFlags) {
		if ri.DisabledFeatureFlags, err = r.uint16s("Repo.disabled_feature_flags", root.DisabledFeatureFlagsLength(), root.DisabledFeatureFlags); err != nil {
			return nil, err
		}
	}
	return ri, nil
}

func (r *fbReader) snapshotInfo(si *fbv2.SnapshotInfo, s *SnapshotInfo, n int) error {
	t := si.Table()
	var id12 fbv2.ObjectId12
	if si.Id(&id12) == nil {
		return r.missing("SnapshotInfo.id")
	}
	s.ID = objectIDAt(id12.Table())
	p := si.ParentOffset()
	if p < -1 || int64(p) >= int64(n) {
		return corruptf(r.name, "snapshot %s: parent index %d out of range for %d snapshots", s.ID, p, n)
	}
	s.ParentIndex = int(p)
	s.FlushedAt = si.FlushedAt()
	if !has(t, fSnapInfoMessage) {
		return r.missing("SnapshotInfo.message")
	}
	var err error
	if s.Message, err = r.str("SnapshotInfo.message", si.Message()); err != nil {
		return err
	}
	if has(t, fSnapInfoMetadata) {
		if s.Metadata, err = r.metadataItems("SnapshotInfo.metadata", si.MetadataLength(), si.Metadata); err != nil {
			return err
		}
	}
	if has(t, fSnapInfoPruned) {
		cnt, err := r.vec("SnapshotInfo.pruned_ancestor_tx_logs", si.PrunedAncestorTxLogsLength(), 12, 12)
		if err != nil {
			return err
		}
		if cnt > 0 {
			s.PrunedAncestorTxLogs = make([]ObjectID, cnt)
		}
		for j := range s.PrunedAncestorTxLogs {
			si.PrunedAncestorTxLogs(&id12, j)
			s.PrunedAncestorTxLogs[j] = objectIDAt(id12.Table())
		}
	}
	return nil
}

func (r *fbReader) refs(field string, n int, get func(*fbv2.Ref, int) bool, snapshots int) ([]RefEntry, error) {
	n, err := r.vec(field, n, 4, int(unsafe.Sizeof(RefEntry{})))
	if err != nil || n == 0 {
		return nil, err
	}
	out := make([]RefEntry, n)
	var ref fbv2.Ref
	for i := range out {
		get(&ref, i)
		if !has(ref.Table(), fRefName) {
			return nil, r.missing("Ref.name")
		}
		if out[i].Name, err = r.str("Ref.name", ref.Name()); err != nil {
			return nil, err
		}
		out[i].SnapshotIndex = ref.SnapshotIndex()
		if int64(out[i].SnapshotIndex) >= int64(snapshots) {
			return nil, corruptf(r.name, "%s: %q points at snapshot index %d of %d", field, out[i].Name, out[i].SnapshotIndex, snapshots)
		}
	}
	return out, nil
}

func (r *fbReader) metadataItems(field string, n int, get func(*fbv2.MetadataItem, int) bool) ([]MetadataItem, error) {
	n, err := r.vec(field, n, 4, costMetadata)
	if err != nil || n == 0 {
		return nil, err
	}
	out := make([]MetadataItem, n)
	var item fbv2.MetadataItem
	for i := range out {
		get(&item, i)
		it := item.Table()
		if !has(it, fMetadataName) {
			return nil, r.missing("MetadataItem.name")
		}
		if !has(it, fMetadataValue) {
			return nil, r.missing("MetadataItem.value")
		}
		if out[i].Name, err = r.str("MetadataItem.name", item.Name()); err != nil {
			return nil, err
		}
		if out[i].Value, err = r.bytes(item.ValueBytes()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (r *fbReader) uint16s(field string, n int, get func(int) uint16) ([]uint16, error) {
	n, err := r.vec(field, n, 2, 2)
	if err != nil {
		return nil, err
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = get(i)
	}
	return out, nil
}

func (r *fbReader) repoStatus(st *fbv2.RepoStatus) (RepoStatus, error) {
	s := RepoStatus{Availability: RepoAvailability(st.Availability()), SetAt: st.SetAt()}
	if s.Availability > RepoOffline {
		return RepoStatus{}, corruptf(r.name, "unknown repository availability %d", s.Availability)
	}
	if has(st.Table(), fStatusReason) {
		var err error
		if s.LimitedAvailabilityReason, err = r.str("RepoStatus.limited_availability_reason", st.LimitedAvailabilityReason()); err != nil {
			return RepoStatus{}, err
		}
	}
	return s, nil
}

// update decodes one ops log entry.
func (r *fbReader) update(fu *fbv2.Update, u *Update) error {
	u.UpdatedAt = fu.UpdatedAt()
	var err error
	if has(fu.Table(), fUpdateBackupPath) {
		if u.BackupPath, err = r.str("Update.backup_path", fu.BackupPath()); err != nil {
			return err
		}
	}
	kind := fu.UpdateTypeType()
	if kind == fbv2.UpdateKindNONE || kind > fbv2.UpdateKindRepoStatusChangedUpdate {
		return corruptf(r.name, "ops log entry has unknown update type %d", uint8(kind))
	}
	u.Type = UpdateType(kind)
	var tab flatbuffers.Table
	if !fu.UpdateType(&tab) {
		return r.missing("Update.update_type")
	}
	// name (branch for commits): the first field of every update table
	// that has one.
	name := func() error {
		field := u.Type.String() + ".name"
		if kind == fbv2.UpdateKindNewCommitUpdate || kind == fbv2.UpdateKindCommitAmendedUpdate {
			field = u.Type.String() + ".branch"
		}
		if !has(tab, fUpdateName) {
			return r.missing(field)
		}
		o := flatbuffers.UOffsetT(tab.Offset(flatbuffers.VOffsetT(4 + 2*fUpdateName)))
		u.Name, err = r.str(field, tab.ByteVector(o+tab.Pos))
		return err
	}
	snapID := func(field string, get func(*fbv2.ObjectId12) *fbv2.ObjectId12, dst *ObjectID) error {
		var id12 fbv2.ObjectId12
		if get(&id12) == nil {
			return r.missing(u.Type.String() + "." + field)
		}
		*dst = objectIDAt(id12.Table())
		return nil
	}
	switch kind {
	case fbv2.UpdateKindRepoMigratedUpdate:
		var m fbv2.RepoMigratedUpdate
		m.Init(tab.Bytes, tab.Pos)
		u.FromVersion, u.ToVersion = m.FromVersion(), m.ToVersion()
	case fbv2.UpdateKindRepoStatusChangedUpdate:
		var m fbv2.RepoStatusChangedUpdate
		m.Init(tab.Bytes, tab.Pos)
		var st fbv2.RepoStatus
		if m.Status(&st) != nil {
			if u.Status, err = r.repoStatus(&st); err != nil {
				return err
			}
		}
	case fbv2.UpdateKindTagCreatedUpdate, fbv2.UpdateKindBranchCreatedUpdate:
		return name()
	case fbv2.UpdateKindTagDeletedUpdate:
		var m fbv2.TagDeletedUpdate
		m.Init(tab.Bytes, tab.Pos)
		if err := name(); err != nil {
			return err
		}
		return snapID("previous_snap_id", m.PreviousSnapId, &u.PreviousSnapshot)
	case fbv2.UpdateKindBranchDeletedUpdate:
		var m fbv2.BranchDeletedUpdate
		m.Init(tab.Bytes, tab.Pos)
		if err := name(); err != nil {
			return err
		}
		return snapID("previous_snap_id", m.PreviousSnapId, &u.PreviousSnapshot)
	case fbv2.UpdateKindBranchResetUpdate:
		var m fbv2.BranchResetUpdate
		m.Init(tab.Bytes, tab.Pos)
		if err := name(); err != nil {
			return err
		}
		return snapID("previous_snap_id", m.PreviousSnapId, &u.PreviousSnapshot)
	case fbv2.UpdateKindNewCommitUpdate:
		var m fbv2.NewCommitUpdate
		m.Init(tab.Bytes, tab.Pos)
		if err := name(); err != nil {
			return err
		}
		return snapID("new_snap_id", m.NewSnapId, &u.NewSnapshot)
	case fbv2.UpdateKindCommitAmendedUpdate:
		var m fbv2.CommitAmendedUpdate
		m.Init(tab.Bytes, tab.Pos)
		if err := name(); err != nil {
			return err
		}
		if err := snapID("previous_snap_id", m.PreviousSnapId, &u.PreviousSnapshot); err != nil {
			return err
		}
		return snapID("new_snap_id", m.NewSnapId, &u.NewSnapshot)
	case fbv2.UpdateKindNewDetachedSnapshotUpdate:
		var m fbv2.NewDetachedSnapshotUpdate
		m.Init(tab.Bytes, tab.Pos)
		return snapID("new_snap_id", m.NewSnapId, &u.NewSnapshot)
	case fbv2.UpdateKindFeatureFlagChangedUpdate:
		var m fbv2.FeatureFlagChangedUpdate
		m.Init(tab.Bytes, tab.Pos)
		u.FlagID, u.FlagNewValue, u.FlagIsSet = m.Id(), m.NewValue(), m.IsSet()
	}
	return nil
}
