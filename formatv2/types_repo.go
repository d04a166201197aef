package formatv2

import "fmt"

// This file holds the in-memory form of the spec-2 `repo` object (file type
// 6): the one mutable object of a spec-2 repository, updated by
// compare-and-swap. The codec (codec_repo.go) maps it to and from disk.

// RepoInfo is the content of a spec-2 `repo` object.
//
// The on-disk order is canonical: EncodeRepoInfo writes tags, branches and
// deleted tags sorted by name, metadata sorted by name, feature flags sorted,
// and snapshots sorted by id bytes (upstream binary-searches them),
// renumbering ParentIndex and SnapshotIndex to match; the value passed in
// is not modified. DecodeRepoInfo returns the on-disk order, so a value
// already in canonical order survives a round trip unchanged.
type RepoInfo struct {
	// SpecVersion is the spec_version field of the object; it must be 2
	// (the header's spec byte is 2 as well).
	SpecVersion uint8
	// Tags and Branches map names to indices into Snapshots. Branches must
	// include "main".
	Tags     []RefEntry
	Branches []RefEntry
	// DeletedTags are tag names that can never be used again.
	DeletedTags []string
	// Snapshots lists every live snapshot. ParentIndex is the absolute index
	// of the parent in this slice, -1 for the initial snapshot. (On disk the
	// field is called parent_offset but holds the same absolute index.)
	Snapshots []SnapshotInfo
	Status    RepoStatus
	// Metadata are repository-level metadata items (flexbuffer values, kept
	// opaque).
	Metadata []MetadataItem
	// LatestUpdates is the ops log, newest first.
	LatestUpdates []Update
	// RepoBeforeUpdates is the name, relative to the `overwritten/` prefix
	// (e.g. "repo.30728015042536.PTXGHH5DYGZ1JY7JBK70"), of the backup
	// holding older ops log entries ("" when none).
	RepoBeforeUpdates string
	// Config is the repository configuration as opaque flexbuffer bytes (nil
	// when absent).
	Config []byte
	// Feature flags explicitly enabled / disabled, preserved on rewrite. nil
	// means absent on disk, an empty slice an empty list.
	EnabledFeatureFlags  []uint16
	DisabledFeatureFlags []uint16
	// Extra is reserved opaque bytes, preserved on rewrite (nil = absent).
	Extra []byte
}

// RefEntry is one branch or tag of a RepoInfo.
type RefEntry struct {
	Name          string
	SnapshotIndex uint32
}

// SnapshotInfo is the summary of one live snapshot kept in RepoInfo.
type SnapshotInfo struct {
	ID ObjectID
	// ParentIndex is the index of the parent in RepoInfo.Snapshots, or -1.
	ParentIndex int
	// FlushedAt is microseconds since the Unix epoch.
	FlushedAt uint64
	Message   string
	// Metadata is the commit metadata (flexbuffer values, kept opaque).
	Metadata []MetadataItem
	// PrunedAncestorTxLogs are transaction-log ids of ancestors removed by
	// expiration whose changes this snapshot now carries, oldest first. nil
	// when none: an empty list is never written.
	PrunedAncestorTxLogs []ObjectID
}

// RepoAvailability is the availability of a repository.
type RepoAvailability uint8

// Availability values.
const (
	RepoOnline RepoAvailability = iota
	RepoReadOnly
	RepoOffline
)

// RepoStatus is the availability of a repository and when it was set.
type RepoStatus struct {
	Availability RepoAvailability
	// SetAt is microseconds since the Unix epoch.
	SetAt uint64
	// LimitedAvailabilityReason explains a non-online status ("" when none).
	LimitedAvailabilityReason string
}

// UpdateType is the kind of an ops log entry; the values follow the on-disk
// union order (0 is "none").
type UpdateType uint8

// Ops log entry kinds.
const (
	UpdateRepoInitialized UpdateType = iota + 1
	UpdateRepoMigrated
	UpdateConfigChanged
	UpdateMetadataChanged
	UpdateTagCreated
	UpdateTagDeleted
	UpdateBranchCreated
	UpdateBranchDeleted
	UpdateBranchReset
	UpdateNewCommit
	UpdateCommitAmended
	UpdateNewDetachedSnapshot
	UpdateGCRan
	UpdateExpirationRan
	UpdateFeatureFlagChanged
	UpdateRepoStatusChanged
)

// String names the update kind as upstream's schema does
// ("NewCommitUpdate", ...).
func (t UpdateType) String() string {
	if t >= UpdateRepoInitialized && t <= UpdateRepoStatusChanged {
		return updateTypeNames[t-1]
	}
	return fmt.Sprintf("UpdateType(%d)", uint8(t))
}

var updateTypeNames = [...]string{
	"RepoInitializedUpdate", "RepoMigratedUpdate", "ConfigChangedUpdate",
	"MetadataChangedUpdate", "TagCreatedUpdate", "TagDeletedUpdate",
	"BranchCreatedUpdate", "BranchDeletedUpdate", "BranchResetUpdate",
	"NewCommitUpdate", "CommitAmendedUpdate", "NewDetachedSnapshotUpdate",
	"GCRanUpdate", "ExpirationRanUpdate", "FeatureFlagChangedUpdate",
	"RepoStatusChangedUpdate",
}

// Update is one ops log entry. Only the fields of its Type are meaningful:
// EncodeRepoInfo ignores the others and DecodeRepoInfo leaves them zero.
type Update struct {
	Type UpdateType
	// UpdatedAt is microseconds since the Unix epoch.
	UpdatedAt uint64
	// BackupPath is the name, relative to the `overwritten/` prefix, of the
	// copy of the repo object as it stood right after this update, saved
	// when the next update overwrote it ("" when none: always so for the
	// newest entry, and for the synthetic entries of a migration).
	BackupPath string

	// Name is the branch or tag name (tag/branch created, deleted, reset;
	// the branch of a new or amended commit).
	Name string
	// PreviousSnapshot is set for tag/branch deleted, branch reset and commit amended.
	PreviousSnapshot ObjectID
	// NewSnapshot is set for new commit, commit amended and new detached snapshot.
	NewSnapshot ObjectID
	// FromVersion and ToVersion are set for repo migrated.
	FromVersion, ToVersion uint8
	// Status is set for repo status changed.
	Status RepoStatus
	// Feature flag changed.
	FlagID       uint16
	FlagNewValue bool
	FlagIsSet    bool
}
