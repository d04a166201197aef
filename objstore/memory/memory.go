// Package memory is an in-memory objstore.Store for fast unit tests.
//
// Versions are drawn from a per-store generation counter, so every write
// (even of identical bytes) gets a new version. Modification times come from
// the store's clock.
package memory

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/icerig/icerig/objstore"
)

type object struct {
	data    []byte
	version objstore.Version
	modTime time.Time
}

// Store is an in-memory object store. It is safe for concurrent use.
type Store struct {
	clock objstore.Clock

	mu      sync.Mutex
	gen     uint64
	objects map[string]object
}

var _ objstore.Store = (*Store)(nil)

// New returns an empty store that stamps modification times from clock
// (objstore.RealClock when clock is nil).
func New(clock objstore.Clock) *Store {
	if clock == nil {
		clock = objstore.RealClock{}
	}
	return &Store{clock: clock, objects: make(map[string]object)}
}

// String names the store.
func (s *Store) String() string { return fmt.Sprintf("memory:%p", s) }

func (s *Store) check(ctx context.Context, op objstore.Op, key string) error {
	if err := objstore.ValidateKey(key); err != nil {
		return fmt.Errorf("%s: %s %q: %w", s, op, key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %s %q: %w", s, op, key, err)
	}
	return nil
}

// Get returns a copy of the object's bytes and its version.
func (s *Store) Get(ctx context.Context, key string) ([]byte, objstore.Version, error) {
	if err := s.check(ctx, objstore.OpGet, key); err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return nil, "", fmt.Errorf("%s: get %q: %w", s, key, objstore.ErrNotFound)
	}
	return append([]byte{}, o.data...), o.version, nil
}

// store writes data at key; the caller holds s.mu.
func (s *Store) store(key string, data []byte) objstore.Version {
	s.gen++
	v := objstore.Version("g" + strconv.FormatUint(s.gen, 10))
	s.objects[key] = object{data: append([]byte{}, data...), version: v, modTime: s.clock.Now()}
	return v
}

// Put writes the object unconditionally.
func (s *Store) Put(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	if err := s.check(ctx, objstore.OpPut, key); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store(key, data), nil
}

// PutIfAbsent creates the object only if key is free.
func (s *Store) PutIfAbsent(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	if err := s.check(ctx, objstore.OpPutIfAbsent, key); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[key]; ok {
		return "", fmt.Errorf("%s: put-if-absent %q: object exists: %w", s, key, objstore.ErrPreconditionFailed)
	}
	return s.store(key, data), nil
}

// PutIfVersionMatches replaces the object only if its version is v.
func (s *Store) PutIfVersionMatches(ctx context.Context, key string, data []byte, v objstore.Version) (objstore.Version, error) {
	if err := s.check(ctx, objstore.OpPutIfVersionMatches, key); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok || v == "" || o.version != v {
		return "", fmt.Errorf("%s: put-if-version-matches %q: version %q is not current: %w", s, key, v, objstore.ErrPreconditionFailed)
	}
	return s.store(key, data), nil
}

// Delete removes the object if it exists.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, objstore.OpDelete, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, key)
	return nil
}

// List returns every object whose key starts with prefix, sorted by key.
func (s *Store) List(ctx context.Context, prefix string) ([]objstore.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: list %q: %w", s, prefix, err)
	}
	s.mu.Lock()
	out := make([]objstore.ObjectInfo, 0)
	for k, o := range s.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, objstore.ObjectInfo{Key: k, Size: int64(len(o.data)), ModTime: o.modTime})
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
