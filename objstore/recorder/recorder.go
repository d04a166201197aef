// Package recorder wraps an objstore.Store and keeps an ordered log of every
// operation performed through it: kind, key, sizes, versions and outcome.
// Tests use it to assert what a library wrote, in which order (for example
// "the snapshot before the ref"), and to print what happened on failure.
package recorder

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/icerig/icerig/objstore"
)

// Entry is one recorded operation.
type Entry struct {
	// Seq numbers entries from 1 in the order operations completed.
	Seq int
	// Op is the kind of operation.
	Op objstore.Op
	// Key is the object key, or the prefix for List.
	Key string
	// Size is the bytes written (puts) or read (Get), or the number of
	// objects returned (List).
	Size int
	// Expected is the version PutIfVersionMatches was given.
	Expected objstore.Version
	// Version is the version returned by Get and the puts.
	Version objstore.Version
	// Err is the operation's error, nil on success.
	Err error
}

// String renders the entry on one line, e.g.
// `3 put-if-absent "refs/tag.v1/ref.json" 27B -> precondition failed`.
func (e Entry) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %q", e.Seq, e.Op, e.Key)
	if e.Op == objstore.OpList {
		fmt.Fprintf(&b, " %d objects", e.Size)
	} else if e.Op != objstore.OpDelete {
		fmt.Fprintf(&b, " %dB", e.Size)
	}
	if e.Expected != "" {
		fmt.Fprintf(&b, " if %s", e.Expected)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, " -> error: %v", e.Err)
	} else if e.Version != "" {
		fmt.Fprintf(&b, " -> %s", e.Version)
	}
	return b.String()
}

// Store is a recording Store wrapper. It is safe for concurrent use.
type Store struct {
	inner objstore.Store

	mu  sync.Mutex
	log []Entry
}

var _ objstore.Store = (*Store)(nil)

// New wraps inner with an empty log.
func New(inner objstore.Store) *Store { return &Store{inner: inner} }

// Log returns a copy of the entries recorded so far, in completion order.
func (s *Store) Log() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Entry(nil), s.log...)
}

// Reset empties the log; numbering starts again at 1.
func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// Inner returns the wrapped store.
func (s *Store) Inner() objstore.Store { return s.inner }

// String names the wrapped store.
func (s *Store) String() string { return "recorder(" + s.inner.String() + ")" }

func (s *Store) record(e Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Seq = len(s.log) + 1
	s.log = append(s.log, e)
}

// Get reads from the wrapped store and records the outcome.
func (s *Store) Get(ctx context.Context, key string) ([]byte, objstore.Version, error) {
	data, v, err := s.inner.Get(ctx, key)
	s.record(Entry{Op: objstore.OpGet, Key: key, Size: len(data), Version: v, Err: err})
	return data, v, err
}

// Put writes to the wrapped store and records the outcome.
func (s *Store) Put(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	v, err := s.inner.Put(ctx, key, data)
	s.record(Entry{Op: objstore.OpPut, Key: key, Size: len(data), Version: v, Err: err})
	return v, err
}

// PutIfAbsent writes to the wrapped store and records the outcome.
func (s *Store) PutIfAbsent(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	v, err := s.inner.PutIfAbsent(ctx, key, data)
	s.record(Entry{Op: objstore.OpPutIfAbsent, Key: key, Size: len(data), Version: v, Err: err})
	return v, err
}

// PutIfVersionMatches writes to the wrapped store and records the outcome.
func (s *Store) PutIfVersionMatches(ctx context.Context, key string, data []byte, want objstore.Version) (objstore.Version, error) {
	v, err := s.inner.PutIfVersionMatches(ctx, key, data, want)
	s.record(Entry{Op: objstore.OpPutIfVersionMatches, Key: key, Size: len(data), Expected: want, Version: v, Err: err})
	return v, err
}

// Delete deletes from the wrapped store and records the outcome.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.inner.Delete(ctx, key)
	s.record(Entry{Op: objstore.OpDelete, Key: key, Err: err})
	return err
}

// List lists the wrapped store and records the outcome.
func (s *Store) List(ctx context.Context, prefix string) ([]objstore.ObjectInfo, error) {
	infos, err := s.inner.List(ctx, prefix)
	s.record(Entry{Op: objstore.OpList, Key: prefix, Size: len(infos), Err: err})
	return infos, err
}
