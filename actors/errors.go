package actors

import "errors"

// Normalized error kinds. Every adapter maps its library's errors onto them,
// so a caller can say "this must fail with ErrTagExists" for every version.
var (
	// ErrConflict: a branch moved since it was read; nothing changed.
	ErrConflict = errors.New("conflict")
	// ErrRefNotFound: no such branch, tag or snapshot (a deleted tag too).
	ErrRefNotFound = errors.New("ref not found")
	// ErrBranchExists: a branch of that name exists.
	ErrBranchExists = errors.New("branch exists")
	// ErrTagExists: a tag of that name exists or existed.
	ErrTagExists = errors.New("tag exists")
	// ErrReadOnly: a write through a read-only session or repository.
	ErrReadOnly = errors.New("read-only")
	// ErrUnsupportedSpec: the repository's spec version is one this library
	// version cannot read or write.
	ErrUnsupportedSpec = errors.New("unsupported spec version")
	// ErrNoChanges: a commit without changes.
	ErrNoChanges = errors.New("no changes")
	// ErrNotARepository: the store holds no repository.
	ErrNotARepository = errors.New("not a repository")
	// ErrRepositoryExists: Create found a repository in the store.
	ErrRepositoryExists = errors.New("repository exists")
	// ErrInvalidRefName: a malformed branch or tag name, snapshot id or ref.
	ErrInvalidRefName = errors.New("invalid ref name")
	// ErrKeyNotFound: no value at that Zarr key.
	ErrKeyNotFound = errors.New("key not found")
	// ErrInvalidKey: a malformed Zarr key or metadata document.
	ErrInvalidKey = errors.New("invalid key")
	// ErrVirtualChunk: the chunk is a virtual reference, never fetched.
	ErrVirtualChunk = errors.New("virtual chunk")
	// ErrCannotDeleteMain: the main branch cannot be deleted.
	ErrCannotDeleteMain = errors.New("cannot delete main")
	// ErrUnsupportedOperation: this library version has no such operation.
	ErrUnsupportedOperation = errors.New("unsupported operation")
	// ErrCorrupt: a repository object does not decode or contradicts
	// another.
	ErrCorrupt = errors.New("corrupt repository")
	// ErrNodeExists: a group document set where an array is, or the other
	// way round.
	ErrNodeExists = errors.New("node of another type exists")
	// ErrFlushTimeNotIncreasing: a commit whose clock reading is not later
	// than its parent's flush time.
	ErrFlushTimeNotIncreasing = errors.New("flush time not increasing")
	// ErrNotAncestor: a diff range whose start is not an ancestor of its
	// end.
	ErrNotAncestor = errors.New("not an ancestor")
	// ErrSpec2Only: an operation that exists only on spec-2 repositories
	// (amend) asked of a spec-1 one.
	ErrSpec2Only = errors.New("operation needs a spec-2 repository")
	// ErrAlreadyUpgraded: Upgrade asked of a repository that is spec 2
	// already, with nothing left to do.
	ErrAlreadyUpgraded = errors.New("already upgraded")
	// ErrUpgradeDiverged: a migration stopped because the spec-1 refs moved
	// while it ran; the repository stayed spec 1.
	ErrUpgradeDiverged = errors.New("upgrade diverged")
	// ErrHandleInvalid: the handle (or a session of it) was used for a
	// migration and must not be used any more.
	ErrHandleInvalid = errors.New("handle no longer valid")
	// ErrRepositoryNotOnline: the repository's status refuses updates.
	ErrRepositoryNotOnline = errors.New("repository not online")
	// ErrCannotAmendInitial: the initial snapshot cannot be amended.
	ErrCannotAmendInitial = errors.New("cannot amend the initial snapshot")
)

// kinds lists every kind, most specific first: KindOf reports the first
// match.
var kinds = []error{
	ErrUnsupportedOperation, ErrHandleInvalid, ErrAlreadyUpgraded, ErrUpgradeDiverged,
	ErrSpec2Only, ErrUnsupportedSpec, ErrNotARepository, ErrRepositoryExists,
	ErrRepositoryNotOnline, ErrConflict, ErrCannotAmendInitial, ErrFlushTimeNotIncreasing,
	ErrRefNotFound, ErrBranchExists, ErrTagExists, ErrCannotDeleteMain,
	ErrInvalidRefName, ErrReadOnly, ErrNoChanges, ErrNodeExists, ErrNotAncestor,
	ErrVirtualChunk, ErrKeyNotFound, ErrInvalidKey, ErrCorrupt,
}

// Kinds lists every normalized kind, most specific first (the order KindOf
// tries them in).
func Kinds() []error { return append([]error(nil), kinds...) }

// KindName is the short text of a kind in traces and reports: the kind's
// message ("conflict", "ref not found"), or "ok" for nil.
func KindName(kind error) string {
	if kind == nil {
		return "ok"
	}
	return kind.Error()
}

// ParseKindName is the inverse of KindName: "ok" is nil, every other name
// must be one of Kinds.
func ParseKindName(name string) (error, bool) {
	if name == "ok" {
		return nil, true
	}
	for _, k := range kinds {
		if k.Error() == name {
			return k, true
		}
	}
	return nil, false
}

// Error is the error every Actor and Repo method returns. It names the actor
// and the operation and keeps the library's error (message and sentinels);
// errors.Is matches its kinds and everything the library error matches.
type Error struct {
	// Kind is the normalized kind (one of the Err... sentinels of this
	// package), nil when the library error has no counterpart (a storage
	// failure, a cancelled context, ...).
	Kind error
	// Actor is the name of the actor ("v1").
	Actor string
	// Op says what was being done ("open", "ancestry of branch:main").
	Op string
	// Err is the library's error.
	Err error

	// also holds further kinds the library error carried (rare: a spec-2
	// store refused by a spec-1 Create is both ErrRepositoryExists and
	// ErrUnsupportedSpec).
	also []error
}

// Error renders "ACTOR: OP: LIBRARY ERROR".
func (e *Error) Error() string {
	return e.Actor + ": " + e.Op + ": " + e.Err.Error()
}

// Unwrap exposes the kinds and the library error to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	out := make([]error, 0, 2+len(e.also))
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	out = append(out, e.also...)
	return append(out, e.Err)
}

// KindOf returns the normalized kind of err (the first of this package's
// sentinels it matches, most specific first), or nil.
func KindOf(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Kind != nil {
		return e.Kind
	}
	for _, k := range kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// kindMapping maps one library sentinel to a normalized kind.
type kindMapping struct {
	lib  error
	kind error
}

// normalize wraps a library error as an *Error of actor and op. Its kinds
// are the package sentinels the error already wraps (the adapter's own
// checks), then those table assigns to the library sentinels it wraps;
// the first becomes Kind. nil stays nil; an *Error is returned unchanged.
func normalize(actor, op string, err error, table []kindMapping) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	e := &Error{Actor: actor, Op: op, Err: err}
	add := func(kind error) {
		switch {
		case e.Kind == nil:
			e.Kind = kind
		case e.Kind != kind && !containsErr(e.also, kind):
			e.also = append(e.also, kind)
		}
	}
	// Kinds the adapter itself wrapped come first, then the library's.
	for _, k := range kinds {
		if errors.Is(err, k) {
			add(k)
		}
	}
	for _, m := range table {
		if errors.Is(err, m.lib) {
			add(m.kind)
		}
	}
	return e
}

func containsErr(list []error, err error) bool {
	for _, x := range list {
		if x == err {
			return true
		}
	}
	return false
}
