package faults

import (
	"context"
	"fmt"

	"github.com/icerig/icerig/objstore"
)

// Hide wraps inner so that the keys hide reports are invisible: Get fails
// with objstore.ErrNotFound and List leaves them out, as if the objects
// were lost (or never listed). Writes and deletes pass through. hide is
// asked on every call, so it may depend on what the caller is doing
// (planted bugs use it to hide refs from a library only while it collects
// garbage).
func Hide(inner objstore.Store, hide func(key string) bool) objstore.Store {
	return &hidingStore{Store: inner, hide: hide}
}

type hidingStore struct {
	objstore.Store
	hide func(key string) bool
}

func (s *hidingStore) Get(ctx context.Context, key string) ([]byte, objstore.Version, error) {
	if s.hide(key) {
		return nil, "", fmt.Errorf("get %q: hidden: %w", key, objstore.ErrNotFound)
	}
	return s.Store.Get(ctx, key)
}

func (s *hidingStore) List(ctx context.Context, prefix string) ([]objstore.ObjectInfo, error) {
	objs, err := s.Store.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := objs[:0:0]
	for _, o := range objs {
		if !s.hide(o.Key) {
			out = append(out, o)
		}
	}
	return out, nil
}

// String names the wrapped store.
func (s *hidingStore) String() string { return "hide(" + s.Store.String() + ")" }
