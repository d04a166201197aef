// Package objstore is the object-store abstraction every icerig library and
// tool writes through: a flat key space of immutable-or-conditionally-updated
// objects, as offered by Azure Blob Storage, S3 or a local directory.
//
// Keys are slash-separated relative paths ("snapshots/ABC", "refs/branch.main/ref.json").
// A key is never empty, never starts or ends with '/', and has no empty, "." or ".."
// segments; ValidateKey enforces this for every backend.
//
// Conditional writes are the only synchronisation primitive: PutIfAbsent creates
// an object only if it does not exist, PutIfVersionMatches replaces it only if it
// has not changed since it was read. A lost race returns ErrPreconditionFailed.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotFound is returned (wrapped) when the requested object does not exist.
var ErrNotFound = errors.New("object not found")

// ErrPreconditionFailed is returned (wrapped) when a conditional write loses:
// the object already exists (PutIfAbsent) or changed since it was read
// (PutIfVersionMatches).
var ErrPreconditionFailed = errors.New("precondition failed")

// ErrInvalidKey is returned (wrapped) for keys that ValidateKey rejects.
var ErrInvalidKey = errors.New("invalid object key")

// Version identifies one stored state of an object (an ETag on Azure, a content
// generation on the local and memory backends). It is opaque: compare it only
// by passing it back to PutIfVersionMatches. The empty Version never matches.
type Version string

// ObjectInfo describes one object as returned by List.
type ObjectInfo struct {
	// Key is the full key of the object (including the listed prefix).
	Key string
	// Size is the object's length in bytes.
	Size int64
	// ModTime is when the object was last written, as recorded by the store
	// (taken from the store's Clock where the backend allows it).
	ModTime time.Time
}

// Store is a flat object store with conditional writes.
// Implementations are safe for concurrent use.
type Store interface {
	// Get returns the object's bytes and its current version.
	Get(ctx context.Context, key string) ([]byte, Version, error)
	// Put writes the object unconditionally and returns its new version.
	Put(ctx context.Context, key string, data []byte) (Version, error)
	// PutIfAbsent creates the object only if no object exists at key;
	// otherwise it returns ErrPreconditionFailed.
	PutIfAbsent(ctx context.Context, key string, data []byte) (Version, error)
	// PutIfVersionMatches replaces the object only if its current version is
	// v; otherwise (changed, deleted or never existed) it returns ErrPreconditionFailed.
	PutIfVersionMatches(ctx context.Context, key string, data []byte, v Version) (Version, error)
	// Delete removes the object. Deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// List returns every object whose key starts with prefix, sorted by key.
	// The prefix is a plain string prefix ("chunks/" or "refs/tag.").
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// String names the store for error messages and logs (a path or URL).
	String() string
}

// ValidateKey reports whether key is a well-formed object key.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return fmt.Errorf("%w: %q starts or ends with '/'", ErrInvalidKey, key)
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%w: %q has an empty segment", ErrInvalidKey, key)
		case ".", "..":
			return fmt.Errorf("%w: %q has a %q segment", ErrInvalidKey, key, seg)
		}
	}
	if strings.ContainsAny(key, "\x00\\") {
		return fmt.Errorf("%w: %q contains NUL or backslash", ErrInvalidKey, key)
	}
	return nil
}

// Op names a kind of Store operation. Wrappers use it to count, record and
// fail operations by kind.
type Op string

// The operations of a Store, one per method that touches objects.
const (
	OpGet                 Op = "get"
	OpPut                 Op = "put"
	OpPutIfAbsent         Op = "put-if-absent"
	OpPutIfVersionMatches Op = "put-if-version-matches"
	OpDelete              Op = "delete"
	OpList                Op = "list"
)
