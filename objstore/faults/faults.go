// Package faults wraps an objstore.Store to inject failures: fail the Nth
// operation (of any kind or of one kind), fail operations on matching keys,
// return chosen errors, or "crash" so that an operation and everything after
// it fails with ErrCrashed.
//
// Tests that must survive a crash anywhere run their workload once on a
// rule-free wrapper, read Ops, and then rerun it with a crash at operation
// 1, 2, ..., Ops in turn:
//
//	probe := faults.New(memory.New(nil))
//	workload(probe)
//	for i := 1; i <= probe.Ops(); i++ {
//		inner := memory.New(nil)
//		st := faults.New(inner)
//		st.AddRule(faults.Rule{Nth: i, Crash: true})
//		workload(st)    // fails at operation i
//		check(inner)    // what survived the crash is consistent
//	}
package faults

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sync"

	"github.com/icerig/icerig/objstore"
)

// ErrInjected is the error a rule returns when it names none.
var ErrInjected = errors.New("injected fault")

// ErrCrashed is returned (wrapped) by the operation a crash rule fires on and
// by every operation after it.
var ErrCrashed = errors.New("store crashed (injected fault)")

// Rule selects operations and says how they fail. The zero Rule fails every
// operation with ErrInjected.
type Rule struct {
	// Op restricts the rule to one kind of operation; "" matches every kind.
	Op objstore.Op
	// Key, if set, is a path.Match pattern the key must match (for List: the
	// prefix), e.g. "refs/*/ref.json" or "chunks/*".
	Key string
	// KeyRegexp, if set, must match the key (for List: the prefix).
	KeyRegexp *regexp.Regexp
	// Nth makes the rule fire only on the Nth operation it matches (counting
	// from 1); 0 fires on every match.
	Nth int
	// Err is the error to return (wrapped with the operation and key); nil
	// means ErrInjected. Use objstore.ErrPreconditionFailed to fake a lost race.
	Err error
	// Crash makes the store crash: the operation fails with ErrCrashed and so
	// does every later one, whatever the rules say.
	Crash bool
	// AfterApply performs the operation on the wrapped store before reporting
	// the failure: a write that lands although its caller sees an error (a lost
	// response, or a crash just after the write).
	AfterApply bool
}

type rule struct {
	Rule
	seen int
}

// Store is a Store wrapper that injects failures by rule.
// It is safe for concurrent use.
type Store struct {
	inner objstore.Store

	mu      sync.Mutex
	rules   []*rule
	ops     int
	fired   int
	crashed bool
}

var _ objstore.Store = (*Store)(nil)

// New wraps inner with no rules: a transparent store until AddRule is called.
func New(inner objstore.Store) *Store {
	return &Store{inner: inner}
}

// AddRule adds a rule. Rules are checked in the order they were added; every
// rule that matches an operation counts it, and the first that fires decides
// the failure. It fails only on a malformed Key pattern.
func (s *Store) AddRule(r Rule) error {
	if r.Key != "" {
		if _, err := path.Match(r.Key, ""); err != nil {
			return fmt.Errorf("faults: key pattern %q: %w", r.Key, err)
		}
	}
	if r.Nth < 0 {
		return fmt.Errorf("faults: Nth = %d, want >= 0", r.Nth)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, &rule{Rule: r})
	return nil
}

// ClearRules removes every rule; a crash that already happened stays.
func (s *Store) ClearRules() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = nil
}

// Ops returns how many operations the store has been asked to perform,
// including those that failed.
func (s *Store) Ops() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ops
}

// Fired returns how many operations a rule has failed (not counting
// operations refused because the store had already crashed).
func (s *Store) Fired() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fired
}

// Crashed reports whether a crash rule has fired.
func (s *Store) Crashed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.crashed
}

// Inner returns the wrapped store, for inspecting what survived a crash.
func (s *Store) Inner() objstore.Store { return s.inner }

// String names the wrapped store.
func (s *Store) String() string { return "faults(" + s.inner.String() + ")" }

// verdict is what to do with one operation.
type verdict struct {
	err   error // nil: pass through
	apply bool  // perform the operation before failing
}

func (s *Store) decide(op objstore.Op, key string) verdict {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops++
	if s.crashed {
		return verdict{err: fmt.Errorf("faults: %s %q: %w", op, key, ErrCrashed)}
	}
	var chosen *rule
	for _, r := range s.rules {
		if !r.matches(op, key) {
			continue
		}
		r.seen++
		if chosen == nil && (r.Nth == 0 || r.seen == r.Nth) {
			chosen = r
		}
	}
	if chosen == nil {
		return verdict{}
	}
	s.fired++
	err := chosen.Err
	if err == nil {
		err = ErrInjected
	}
	if chosen.Crash {
		s.crashed = true
		err = ErrCrashed
	}
	return verdict{err: fmt.Errorf("faults: %s %q (operation %d): %w", op, key, s.ops, err), apply: chosen.AfterApply}
}

func (r *rule) matches(op objstore.Op, key string) bool {
	if r.Op != "" && r.Op != op {
		return false
	}
	if r.Key != "" {
		if ok, _ := path.Match(r.Key, key); !ok {
			return false
		}
	}
	if r.KeyRegexp != nil && !r.KeyRegexp.MatchString(key) {
		return false
	}
	return true
}

// Get reads through to the wrapped store unless a rule fails it.
func (s *Store) Get(ctx context.Context, key string) ([]byte, objstore.Version, error) {
	d := s.decide(objstore.OpGet, key)
	if d.err == nil || d.apply {
		data, v, err := s.inner.Get(ctx, key)
		if d.err == nil {
			return data, v, err
		}
	}
	return nil, "", d.err
}

// Put writes through to the wrapped store unless a rule fails it.
func (s *Store) Put(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	d := s.decide(objstore.OpPut, key)
	return s.write(d, func() (objstore.Version, error) { return s.inner.Put(ctx, key, data) })
}

// PutIfAbsent writes through to the wrapped store unless a rule fails it.
func (s *Store) PutIfAbsent(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	d := s.decide(objstore.OpPutIfAbsent, key)
	return s.write(d, func() (objstore.Version, error) { return s.inner.PutIfAbsent(ctx, key, data) })
}

// PutIfVersionMatches writes through to the wrapped store unless a rule fails it.
func (s *Store) PutIfVersionMatches(ctx context.Context, key string, data []byte, v objstore.Version) (objstore.Version, error) {
	d := s.decide(objstore.OpPutIfVersionMatches, key)
	return s.write(d, func() (objstore.Version, error) { return s.inner.PutIfVersionMatches(ctx, key, data, v) })
}

func (s *Store) write(d verdict, do func() (objstore.Version, error)) (objstore.Version, error) {
	if d.err == nil {
		return do()
	}
	if d.apply {
		_, _ = do()
	}
	return "", d.err
}

// Delete passes through to the wrapped store unless a rule fails it.
func (s *Store) Delete(ctx context.Context, key string) error {
	d := s.decide(objstore.OpDelete, key)
	if d.err == nil || d.apply {
		err := s.inner.Delete(ctx, key)
		if d.err == nil {
			return err
		}
	}
	return d.err
}

// List passes through to the wrapped store unless a rule fails it; rules
// match the prefix as the key.
func (s *Store) List(ctx context.Context, prefix string) ([]objstore.ObjectInfo, error) {
	d := s.decide(objstore.OpList, prefix)
	if d.err == nil || d.apply {
		infos, err := s.inner.List(ctx, prefix)
		if d.err == nil {
			return infos, err
		}
	}
	return nil, d.err
}
