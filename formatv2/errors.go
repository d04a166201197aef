package formatv2

import (
	"errors"
	"fmt"
)

// Errors of the repository, ref and session layer. Every error this package
// returns wraps one of them (or one of the codec's ErrCorrupt,
// ErrUnsupportedSpec, ErrInvalidID) with context naming the object, ref or
// key; match them with errors.Is.
var (
	// ErrNotARepository: the store holds no repository (neither a spec-2
	// `repo` object nor a spec-1 refs/branch.main/ref.json).
	ErrNotARepository = errors.New("not an icechunk repository")
	// ErrRepositoryExists: Create found a repository (spec 1 or 2) already in
	// the store.
	ErrRepositoryExists = errors.New("repository already exists")
	// ErrRefNotFound: no such branch or tag, or the tag was deleted.
	ErrRefNotFound = errors.New("ref not found")
	// ErrBranchExists: a branch with that name exists already.
	ErrBranchExists = errors.New("branch already exists")
	// ErrTagExists: a tag with that name exists already or existed and was
	// deleted (a deleted tag name can never be reused).
	ErrTagExists = errors.New("tag already exists")
	// ErrCannotDeleteMain: the main branch cannot be deleted.
	ErrCannotDeleteMain = errors.New("the main branch cannot be deleted")
	// ErrInvalidRefName: a branch or tag name that is empty or contains '/',
	// "..", a backslash or a control character.
	ErrInvalidRefName = errors.New("invalid ref name")
	// ErrConflict: the branch moved (or vanished) since the session or
	// caller read it; nothing was changed.
	ErrConflict = errors.New("branch update conflict")
	// ErrReadOnly: a write through a read-only session.
	ErrReadOnly = errors.New("session is read-only")
	// ErrNoChanges: a commit of a session without changes.
	ErrNoChanges = errors.New("no changes to commit")
	// ErrKeyNotFound: no value at that Zarr key.
	ErrKeyNotFound = errors.New("key not found")
	// ErrInvalidKey: a malformed Zarr key, a chunk key outside the array's
	// chunk grid, or a metadata document that cannot be parsed.
	ErrInvalidKey = errors.New("invalid key")
	// ErrNodeNotFound: a chunk operation on a path that holds no array.
	ErrNodeNotFound = errors.New("node not found")
	// ErrNodeExists: setting a group document where an array is, or the
	// other way round.
	ErrNodeExists = errors.New("a node of another type exists at this path")
	// ErrVirtualChunk: the chunk is a virtual reference to an object outside
	// the repository; this library never fetches it. The error is a
	// *VirtualChunkError carrying the location.
	ErrVirtualChunk = errors.New("chunk is a virtual reference")
	// ErrFlushTimeNotIncreasing: the clock gives a commit time that is not
	// later than the parent snapshot's.
	ErrFlushTimeNotIncreasing = errors.New("commit time is not later than the parent's")
	// ErrNotAncestor: Diff was asked for a range whose start is not a strict
	// ancestor of its end.
	ErrNotAncestor = errors.New("snapshot is not an ancestor")
	// ErrInvalidVersionRef: a VersionRef that names no or several versions.
	ErrInvalidVersionRef = errors.New("invalid version reference")
	// ErrSpec2Only: the operation exists only on spec-2 repositories (amend,
	// repository status); the repository is spec 1.
	ErrSpec2Only = errors.New("operation needs a spec-2 repository")
	// ErrAlreadyMigrated: Upgrade was asked to migrate a repository that is
	// spec 2 already (a second migration).
	ErrAlreadyMigrated = errors.New("repository is already spec 2")
	// ErrMigrationDiverged: during or after a migration the spec-1 refs no
	// longer match the spec-2 `repo` object (a spec-1 writer moved a ref);
	// the migration stopped without deleting anything of spec 1.
	ErrMigrationDiverged = errors.New("spec-1 refs diverged from the repo object")
	// ErrHandleInvalid: the Repository handle (or a session of it) was used
	// to migrate the repository to spec 2 and must not be used any more;
	// open the repository again.
	ErrHandleInvalid = errors.New("repository handle is no longer valid")
	// ErrRepositoryNotOnline: the spec-2 repository status is read-only or
	// offline, so it refuses updates.
	ErrRepositoryNotOnline = errors.New("repository is not online")
	// ErrCannotAmendInitial: the initial snapshot cannot be amended.
	ErrCannotAmendInitial = errors.New("the initial commit cannot be amended")
)

// VirtualChunkError reports a read of a chunk stored as a virtual reference.
// It wraps ErrVirtualChunk.
type VirtualChunkError struct {
	// Key is the Zarr key that was read.
	Key string
	// Location, Offset and Length locate the chunk outside the repository.
	Location string
	Offset   uint64
	Length   uint64
}

// Error describes the virtual reference.
func (e *VirtualChunkError) Error() string {
	return fmt.Sprintf("chunk %s: %v: %s (offset %d, length %d)", e.Key, ErrVirtualChunk, e.Location, e.Offset, e.Length)
}

// Unwrap returns ErrVirtualChunk.
func (e *VirtualChunkError) Unwrap() error { return ErrVirtualChunk }
