// Package transitions records which cross-version transitions a run
// exercised: a reader version doing an operation on a repository of a spec
// version last written by a writer version. The state machine, fixture
// verification and the GC oracle each record cells; the release gate
// merges them and checks that every required cell was exercised.
package transitions

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
)

// Operations a cell can name.
const (
	// OpRead: the reader opened the repository and read refs, ancestry
	// and values.
	OpRead = "read"
	// OpRefuse: the reader cannot read the spec and refused the
	// repository cleanly (ErrUnsupportedSpec).
	OpRefuse = "refuse"
	// OpCommit: the reader committed on top of the writer's snapshot.
	OpCommit = "commit"
	// OpAmend: the reader amended the writer's tip (spec 2).
	OpAmend = "amend"
	// OpBranch: the reader created, reset or deleted a branch.
	OpBranch = "branch"
	// OpTag: the reader created or deleted a tag.
	OpTag = "tag"
	// OpExpire: the reader expired snapshots.
	OpExpire = "expire"
	// OpGC: the reader collected garbage.
	OpGC = "gc"
	// OpUpgrade: the reader migrated the repository from spec 1 to 2.
	OpUpgrade = "upgrade"
	// OpStream: the production streamer appended a window.
	OpStream = "stream"
	// OpConflict: the reader's session was based on a tip the writer's
	// commit had replaced, and the reader's commit was refused as a
	// conflict (nothing of the writer's commit lost).
	OpConflict = "conflict"
	// OpCrash: the reader died in the middle of a commit on the writer's
	// repository (and, restarted, found it whole: the commit entirely
	// there or not at all).
	OpCrash = "crash"
)

// Ops lists every operation, in table order.
var Ops = []string{OpRead, OpRefuse, OpCommit, OpAmend, OpBranch, OpTag, OpExpire, OpGC, OpUpgrade, OpStream, OpConflict, OpCrash}

// Cell is one transition: Reader did Op on a spec-Spec repository whose
// last write was by Writer.
type Cell struct {
	Writer string `json:"writer"`
	Reader string `json:"reader"`
	Op     string `json:"op"`
	Spec   int    `json:"spec"`
}

// String renders the cell as "writer -> reader op spec N".
func (c Cell) String() string {
	return fmt.Sprintf("%s -> %s %s spec %d", c.Writer, c.Reader, c.Op, c.Spec)
}

// Set counts exercised cells. The zero value is not usable: use New. A Set
// is safe for concurrent use.
type Set struct {
	mu     sync.Mutex
	counts map[Cell]int
}

// New returns an empty set.
func New() *Set { return &Set{counts: map[Cell]int{}} }

// Add counts one exercise of c.
func (s *Set) Add(c Cell) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[c]++
}

// Merge adds every count of o to s.
func (s *Set) Merge(o *Set) {
	if o == nil || o == s {
		return
	}
	o.mu.Lock()
	cp := make(map[Cell]int, len(o.counts))
	for c, n := range o.counts {
		cp[c] = n
	}
	o.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, n := range cp {
		s.counts[c] += n
	}
}

// Count returns how often c was exercised.
func (s *Set) Count(c Cell) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[c]
}

// Entry is one cell with its count, as the JSON file holds it.
type Entry struct {
	Cell
	Count int `json:"count"`
}

// Entries lists the exercised cells, sorted by writer, reader, spec and op.
func (s *Set) Entries() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Entry, 0, len(s.counts))
	for c, n := range s.counts {
		out = append(out, Entry{Cell: c, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Writer != b.Writer {
			return a.Writer < b.Writer
		}
		if a.Reader != b.Reader {
			return a.Reader < b.Reader
		}
		if a.Spec != b.Spec {
			return a.Spec < b.Spec
		}
		return opIndex(a.Op) < opIndex(b.Op)
	})
	return out
}

func opIndex(op string) int {
	for i, o := range Ops {
		if o == op {
			return i
		}
	}
	return len(Ops)
}

// file is the JSON document WriteFile writes.
type file struct {
	Cells []Entry `json:"cells"`
}

// WriteFile writes the set as JSON ({"cells":[{writer,reader,op,spec,count}]}).
func (s *Set) WriteFile(path string) error {
	data, err := json.MarshalIndent(file{Cells: s.Entries()}, "", "  ")
	if err != nil {
		return fmt.Errorf("transitions %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("transitions: %w", err)
	}
	return nil
}

// ReadFile reads a set WriteFile wrote.
func ReadFile(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("transitions: %w", err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("transitions %s: %w", path, err)
	}
	s := New()
	for _, e := range f.Cells {
		if e.Writer == "" || e.Reader == "" || e.Op == "" || e.Count < 0 {
			return nil, fmt.Errorf("transitions %s: malformed cell %+v", path, e)
		}
		s.counts[e.Cell] += e.Count
	}
	return s, nil
}
