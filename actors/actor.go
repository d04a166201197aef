package actors

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/zarr"
)

// Actor is one version of the Icechunk library.
type Actor interface {
	// Name is the actor's short name: "v1", "v2", ... It appears in errors
	// and traces.
	Name() string
	// Capabilities says which spec versions and optional operations the
	// actor has. The rig derives its expectations from it: an actor that
	// lacks an operation must fail it with ErrUnsupportedOperation, one that
	// cannot read a spec must refuse it with ErrUnsupportedSpec.
	Capabilities() Capabilities
	// Create initialises a new repository in store (ErrRepositoryExists if
	// the store holds one already). A spec version the actor cannot write
	// is ErrUnsupportedSpec, refused before the store is touched.
	Create(ctx context.Context, store objstore.Store, opts Options) (Handle, error)
	// Open opens the repository in store (ErrNotARepository if there is
	// none, ErrUnsupportedSpec if this version cannot read its spec).
	Open(ctx context.Context, store objstore.Store, opts Options) (Handle, error)
}

// Capabilities describes what one actor can do.
type Capabilities struct {
	// Specs lists the spec versions the actor reads and writes, ascending.
	Specs []int
	// DefaultSpec is the spec version Create writes when
	// Options.SpecVersion is 0.
	DefaultSpec int
	// Upgrade: Handle.Upgrade migrates spec-1 repositories to spec 2.
	Upgrade bool
	// Amend: Session.Amend works (on spec-2 repositories).
	Amend bool
}

// Reads reports whether the actor reads (and writes) repositories of spec
// version spec.
func (c Capabilities) Reads(spec int) bool {
	for _, s := range c.Specs {
		if s == spec {
			return true
		}
	}
	return false
}

// Options tunes Create and Open. The zero value is the production setting.
type Options struct {
	// Clock gives commit flush times; nil means the wall clock.
	Clock objstore.Clock
	// Rand is the source of object and node ids; nil means crypto/rand.
	Rand io.Reader
	// Logger receives the library's debug logs; nil discards them.
	Logger *slog.Logger
	// SpecVersion is the spec version Create writes; 0 means the actor's
	// default. A version the actor cannot write is ErrUnsupportedSpec.
	// Open ignores it (the repository says which spec it is).
	SpecVersion int
	// InlineThreshold is the inline chunk threshold in bytes Create writes
	// into the repository configuration; 0 leaves the library default.
	// Open ignores it.
	InlineThreshold int
}

// Repo is an open repository seen through one library version. Methods that
// read a version take a [Ref]; snapshot ids are 20-character Crockford
// base32 strings. A Repo is safe for concurrent use.
type Repo interface {
	// Actor names the actor that opened the repository.
	Actor() string
	// SpecVersion is the repository's on-disk spec version (1 or 2).
	SpecVersion() int
	// Resolve returns the snapshot id a ref names.
	Resolve(ctx context.Context, ref Ref) (string, error)
	// Branches maps every branch to its tip.
	Branches(ctx context.Context) (map[string]string, error)
	// Tags maps every live tag to its snapshot; deleted tags are left out.
	Tags(ctx context.Context) (map[string]string, error)
	// DeletedTags lists the names of deleted tags, sorted.
	DeletedTags(ctx context.Context) ([]string, error)
	// Ancestry lists the snapshot a ref names and all its ancestors,
	// newest first.
	Ancestry(ctx context.Context, ref Ref) ([]SnapshotInfo, error)
	// Nodes lists the groups and arrays of the version a ref names, sorted
	// by path.
	Nodes(ctx context.Context, ref Ref) ([]NodeInfo, error)
	// Get reads one Zarr key ("zarr.json", "group1/zarr.json",
	// "group1/big_chunks/c/0/1") of the version a ref names. A key without
	// value is ErrKeyNotFound; a virtual chunk is never fetched: it is
	// ErrVirtualChunk.
	Get(ctx context.Context, ref Ref, key string) ([]byte, error)
	// Fsck checks that every object the refs reach exists and decodes. It
	// returns the problems found; an error means the check could not run.
	Fsck(ctx context.Context) ([]Finding, error)
	// ExpireSnapshots detaches history flushed before olderThan from every
	// ref and, when asked, deletes the branches and tags whose tip expired.
	ExpireSnapshots(ctx context.Context, olderThan time.Time, deleteExpiredBranches, deleteExpiredTags bool) (ExpireResult, error)
	// GarbageCollect deletes unreachable objects written before olderThan
	// (with dryRun, only counts them).
	GarbageCollect(ctx context.Context, olderThan time.Time, dryRun bool) (GCResult, error)
}

// Spec2Reader is implemented by the Repos of actors that read the spec-2
// extras of a repository: its ops log and its status. Callers test for it
// with a type assertion; an actor without it cannot report them.
type Spec2Reader interface {
	// OpsLog lists the repository's ops log, newest first.
	OpsLog(ctx context.Context) ([]OpsLogEntry, error)
	// Status is the repository's availability status.
	Status(ctx context.Context) (RepoStatus, error)
}

// Handle is an open repository with every operation of the rig: the reads
// of [Repo] plus sessions, ref updates and migration. Actor.Create and
// Actor.Open return one; code that only reads (inspect, the CLI's read
// commands) takes the narrower Repo. Snapshot ids are the 20-character
// Crockford base32 text.
type Handle interface {
	Repo
	// Session opens a read-only session on the version ref names.
	Session(ctx context.Context, ref Ref) (Session, error)
	// WritableSession opens a session on the tip of branch; its Commit
	// moves the branch.
	WritableSession(ctx context.Context, branch string) (Session, error)
	// CreateBranch creates branch name at an existing snapshot
	// (ErrBranchExists if it exists, ErrRefNotFound if the snapshot does
	// not).
	CreateBranch(ctx context.Context, name, snapshotID string) error
	// ResetBranch points an existing branch at an existing snapshot.
	ResetBranch(ctx context.Context, name, snapshotID string) error
	// DeleteBranch deletes a branch (ErrCannotDeleteMain for main).
	DeleteBranch(ctx context.Context, name string) error
	// CreateTag creates tag name at an existing snapshot (ErrTagExists if
	// the name is or ever was a tag).
	CreateTag(ctx context.Context, name, snapshotID string) error
	// DeleteTag deletes a live tag; its name can never be reused.
	DeleteTag(ctx context.Context, name string) error
	// Upgrade migrates a spec-1 repository to spec 2 (with dryRun, only
	// reports what it would do; with deleteV1Files, removes the spec-1
	// refs and config afterwards). A version without migration returns
	// ErrUnsupportedOperation. The handle may be invalid afterwards
	// (ErrHandleInvalid): open the repository again.
	Upgrade(ctx context.Context, dryRun, deleteV1Files bool) (UpgradeResult, error)
}

// Session is a view of one version of a repository as a Zarr v3 key/value
// store ("zarr.json", "group1/zarr.json", "group1/big_chunks/c/0/1"). A
// writable session (on a branch) keeps changes until Commit; a read-only
// one refuses writes with ErrReadOnly. A Session is used by one goroutine
// at a time.
type Session interface {
	// Actor names the actor that opened the session.
	Actor() string
	// Branch is the branch a writable session commits to, "" when
	// read-only.
	Branch() string
	// ReadOnly reports whether the session refuses writes.
	ReadOnly() bool
	// Base is the id of the snapshot the session reads (and commits on).
	Base() string
	// HasChanges reports whether the session holds uncommitted changes.
	HasChanges() bool
	// Get reads one key (ErrKeyNotFound when it has no value).
	Get(ctx context.Context, key string) ([]byte, error)
	// Set writes one key: a zarr.json creates or updates a group or an
	// array (ErrNodeExists over a node of the other type); a chunk key
	// needs an array (ErrKeyNotFound) and coordinates inside its chunk grid
	// (ErrInvalidKey).
	Set(ctx context.Context, key string, value []byte) error
	// Delete removes one key: a zarr.json deletes its node and every node
	// below it.
	Delete(ctx context.Context, key string) error
	// List returns every key with a value, sorted.
	List(ctx context.Context) ([]string, error)
	// Commit writes the changes as a new snapshot on the branch and moves
	// the branch there (ErrNoChanges, ErrConflict if the branch moved,
	// ErrFlushTimeNotIncreasing if the clock is not past the parent's
	// flush time). It returns the new snapshot's id; the session goes on
	// from it.
	Commit(ctx context.Context, message string, metadata map[string]any) (string, error)
	// Amend replaces the branch tip with a snapshot holding the tip's
	// content plus the changes, the tip's parent as parent (spec 2 only:
	// ErrSpec2Only on spec 1; ErrUnsupportedOperation for versions without
	// amend).
	Amend(ctx context.Context, message string, metadata map[string]any) (string, error)
	// Discard drops every uncommitted change.
	Discard(ctx context.Context) error
}

// UpgradeResult reports what Upgrade did (or, in a dry run, would do).
// Maps and lists are never nil.
type UpgradeResult struct {
	// DryRun is true when nothing was written.
	DryRun bool `json:"dry_run"`
	// Branches and Tags are the refs the spec-2 repository holds.
	Branches map[string]string `json:"branches"`
	Tags     map[string]string `json:"tags"`
	// DeletedTags are the deleted tag names carried over, sorted.
	DeletedTags []string `json:"deleted_tags"`
	// Snapshots is the number of snapshots the spec-2 repository lists.
	Snapshots int `json:"snapshots"`
	// DeletedV1Files are the spec-1 files removed (or that would be).
	DeletedV1Files []string `json:"deleted_v1_files"`
}

// SnapshotInfo describes one snapshot of an ancestry.
type SnapshotInfo struct {
	// ID is the snapshot id.
	ID string
	// ParentID is the parent's id, "" for a snapshot without parent.
	ParentID string
	// Message is the commit message.
	Message string
	// FlushedAt is the commit time, in UTC with microsecond precision.
	FlushedAt time.Time
	// Metadata is the commit metadata, decoded (nil when there is none).
	Metadata map[string]any
	// ManifestFiles is the number of manifest files the snapshot lists.
	ManifestFiles int
}

// NodeInfo describes one group or array of a version.
type NodeInfo struct {
	// Path is absolute: "/" for the root, "/group1/big_chunks" below it.
	Path string
	// Type is zarr.NodeGroup or zarr.NodeArray.
	Type zarr.NodeType
	// ZarrJSON is the node's zarr.json document, byte for byte.
	ZarrJSON []byte
	// Chunks counts the array's chunk references by kind (zero for groups).
	Chunks ChunkCounts
}

// ChunkCounts counts the chunk references of an array by kind.
type ChunkCounts struct {
	// Native chunks are objects of the repository.
	Native int `json:"native"`
	// Inline chunks are stored inside the manifest.
	Inline int `json:"inline"`
	// Virtual chunks point outside the repository.
	Virtual int `json:"virtual"`
}

// Finding is one integrity problem Fsck found.
type Finding struct {
	// Object is the store key of the object (or ref) at fault.
	Object string `json:"object"`
	// Problem says what is wrong with it.
	Problem string `json:"problem"`
}

// String renders the finding as "OBJECT: PROBLEM".
func (f Finding) String() string { return f.Object + ": " + f.Problem }

// ExpireResult reports what ExpireSnapshots did. Lists are never nil.
type ExpireResult struct {
	// ReleasedSnapshots left every ref's history (sorted ids); they stay in
	// storage until garbage collection.
	ReleasedSnapshots []string `json:"released_snapshots"`
	// EditedSnapshots were rewritten to point past the expired history
	// (sorted ids).
	EditedSnapshots []string `json:"edited_snapshots"`
	// DeletedBranches and DeletedTags were deleted because their tip
	// expired (in the order they were deleted).
	DeletedBranches []string `json:"deleted_branches"`
	DeletedTags     []string `json:"deleted_tags"`
}

// GCResult counts what GarbageCollect deleted (or, in a dry run, would
// delete).
type GCResult struct {
	SnapshotsDeleted       int   `json:"snapshots_deleted"`
	ManifestsDeleted       int   `json:"manifests_deleted"`
	ChunksDeleted          int   `json:"chunks_deleted"`
	TransactionLogsDeleted int   `json:"transaction_logs_deleted"`
	BytesDeleted           int64 `json:"bytes_deleted"`
}

// OpsLogEntry is one entry of a spec-2 repository's ops log.
type OpsLogEntry struct {
	// Type names the operation ("new_commit", "tag_created", ...).
	Type string
	// UpdatedAt is when it happened, in UTC.
	UpdatedAt time.Time
	// Fields holds the type-specific fields ("branch", "new_snap_id", ...),
	// as JSON-encodable values.
	Fields map[string]any
}

// RepoStatus is a spec-2 repository's availability status.
type RepoStatus struct {
	// Availability is "online", "read_only", ...
	Availability string
	// SetAt is when the status was set, in UTC.
	SetAt time.Time
	// LimitedAvailabilityReason explains a limited availability ("" if none).
	LimitedAvailabilityReason string
}
