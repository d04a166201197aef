package statemachine

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The model is the rig's own picture of a repository, in plain Go: it
// imports no library code. Every operation the machine performs is first
// applied to the model, which says what must happen (success, or failure
// with which kind), and afterwards every actor must see exactly the model.
//
// It follows the semantics of upstream Icechunk 1.x on spec-1 repositories
// quirk for quirk: the session's change set (new, updated and deleted
// nodes, chunk writes and deletions), chunks hidden by a resize that come
// back when the array grows again in the same session, one manifest per
// array that has chunks, expiration rewriting the oldest surviving
// snapshot onto the initial one, and GC comparing storage modification
// times. Snapshots are named by labels ("s0" is the initial snapshot, then
// "s1", "s2", ... in commit order); manifests and chunk objects by internal
// labels ("m1", "k1").

// Model is the state of one repository as the rig expects it.
type Model struct {
	// Spec is the repository's spec version, 0 before it is initialized.
	Spec int
	// InlineThreshold is the effective inline chunk threshold in bytes:
	// chunks of at most this many bytes are kept inline.
	InlineThreshold int
	// Now is the virtual clock's time.
	Now time.Time
	// Actor is the name of the active actor.
	Actor string

	// Branches and Tags map ref names to snapshot labels; DeletedTags
	// holds the names of deleted tags.
	Branches    map[string]string
	Tags        map[string]string
	DeletedTags map[string]bool

	// Snapshots holds every snapshot ever committed, by label, including
	// those garbage collection deleted (Stored false).
	Snapshots map[string]*Snapshot
	// Manifests and Chunks are the manifest and chunk objects ever
	// written, by internal label.
	Manifests map[string]*Object
	Chunks    map[string]*Object
	// V1Files is true while spec-1 refs/ and config files remain (always
	// at spec 1; after an upgrade that kept them).
	V1Files bool

	// Session is the active session, nil when there is none.
	Session *Session
	// Leftovers are the unreferenced snapshot files and transaction logs
	// crashed commits left (their manifests and chunks are in Manifests
	// and Chunks, referenced by no snapshot).
	Leftovers []*Leftover

	nextNode, nextManifest, nextChunk int
	order                             []string // snapshot labels in commit order
}

// Object is one manifest or chunk object of the store.
type Object struct {
	// Written is the object's storage modification time.
	Written time.Time
	// Stored is false once garbage collection deleted it.
	Stored bool
	// Chunks lists, for a manifest, the native chunk objects it references.
	Chunks []string
}

// Snapshot is one snapshot as the model knows it.
type Snapshot struct {
	Label string
	// Parent is the parent's label, "" for the initial snapshot.
	Parent    string
	FlushedAt time.Time
	Message   string
	// Metadata is the commit metadata (string values only).
	Metadata map[string]string
	// Nodes are the snapshot's groups and arrays by path ("" for the root,
	// "g/h" below it).
	Nodes map[string]*Node
	// Stored is false once garbage collection deleted the snapshot file;
	// Written is the file's modification time (expiration rewrites it).
	Stored  bool
	Written time.Time
	// Unlisted is true for a snapshot a migration left out of the spec-2
	// repo object (no ref reached it): its file may remain, but at spec 2
	// no ref and no checkout can name it.
	Unlisted bool
	// HasTxLog is true when the commit wrote a transaction log; TxLog is
	// true while it is stored; TxWritten is its modification time.
	HasTxLog  bool
	TxLog     bool
	TxWritten time.Time
	// Window is the window of a commit of the production streamer (nil
	// for other commits).
	Window *Window
	// Pruned lists, at spec 2, the ancestors expiration or GC re-parented
	// the snapshot over (oldest first): their transaction logs stay.
	Pruned []string
}

// Window is the time range (From, Until] a streamer commit covers.
type Window struct{ From, Until time.Time }

// Node is a committed group or array.
type Node struct {
	// ID is the model's identity of the node (stable across snapshots
	// until the node is deleted).
	ID    int
	Path  string
	Group bool
	// Doc is the zarr.json document.
	Doc []byte
	// Shape and ChunkShape are an array's (nil for groups).
	Shape, ChunkShape []uint64
	// Chunks maps coordinate keys ("0/1") to chunks.
	Chunks map[string]Chunk
	// Manifest is the label of the manifest holding the chunks, "" when
	// the array has none.
	Manifest string
}

// Chunk is one chunk value.
type Chunk struct {
	Coords []uint32
	Value  []byte
	// Object is the label of the native chunk object, "" for an inline
	// chunk.
	Object string
}

// NewModel returns the model of an empty store at time now.
func NewModel(now time.Time) *Model {
	return &Model{
		Now:         now,
		Branches:    map[string]string{},
		Tags:        map[string]string{},
		DeletedTags: map[string]bool{},
		Snapshots:   map[string]*Snapshot{},
		Manifests:   map[string]*Object{},
		Chunks:      map[string]*Object{},
	}
}

// Initialized reports whether the store holds a repository.
func (m *Model) Initialized() bool { return m.Spec != 0 }

// DefaultInlineThreshold is the inline chunk threshold of a repository
// without configuration.
const DefaultInlineThreshold = 512

// MainBranch is the branch every repository has.
const MainBranch = "main"

// InitialMessage is the message of the initial snapshot.
const InitialMessage = "Repository initialized"

// Init creates the repository: the initial snapshot s0 and branch main.
func (m *Model) Init(spec, inline int) {
	m.Spec = spec
	m.InlineThreshold = inline
	if inline == 0 {
		m.InlineThreshold = DefaultInlineThreshold
	}
	m.V1Files = spec == 1
	s := &Snapshot{
		Label: "s0", FlushedAt: m.Now, Message: InitialMessage,
		Metadata: map[string]string{}, Nodes: map[string]*Node{},
		Stored: true, Written: m.Now,
	}
	if spec >= 2 {
		// Spec 2 writes the initial snapshot's (empty) transaction log.
		s.HasTxLog, s.TxLog, s.TxWritten = true, true, m.Now
	}
	m.addSnapshot(s)
	m.Branches[MainBranch] = s.Label
}

func (m *Model) addSnapshot(s *Snapshot) {
	m.Snapshots[s.Label] = s
	m.order = append(m.order, s.Label)
}

// NextLabel is the label the next snapshot will get.
func (m *Model) NextLabel() string { return "s" + strconv.Itoa(len(m.order)) }

// Labels lists every snapshot label in commit order.
func (m *Model) Labels() []string { return slices.Clone(m.order) }

// Ancestry lists a snapshot and its ancestors, newest first.
func (m *Model) Ancestry(label string) []*Snapshot {
	var out []*Snapshot
	for l := label; l != ""; {
		s := m.Snapshots[l]
		if s == nil || len(out) > len(m.Snapshots) {
			panic(fmt.Sprintf("model: broken ancestry of %s at %s", label, l))
		}
		out = append(out, s)
		l = s.Parent
	}
	return out
}

// ManifestFiles counts the manifests a snapshot lists.
func (s *Snapshot) ManifestFiles() int {
	seen := map[string]bool{}
	for _, n := range s.Nodes {
		if n.Manifest != "" {
			seen[n.Manifest] = true
		}
	}
	return len(seen)
}

// KeySpace returns every key of a snapshot with its value.
func (s *Snapshot) KeySpace() map[string][]byte {
	out := map[string][]byte{}
	for _, n := range s.Nodes {
		out[MetadataKey(n.Path)] = n.Doc
		for _, c := range n.Chunks {
			out[ChunkKey(n.Path, c.Coords)] = c.Value
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Keys and chunk grids.

// MetadataKey is the zarr.json key of a node path ("" is the root).
func MetadataKey(path string) string {
	if path == "" {
		return "zarr.json"
	}
	return path + "/zarr.json"
}

// ChunkKey is the key of a chunk (default encoding, "/" separator).
func ChunkKey(path string, coords []uint32) string {
	prefix := "c/" + coordKey(coords)
	if path == "" {
		return prefix
	}
	return path + "/" + prefix
}

func coordKey(coords []uint32) string {
	parts := make([]string, len(coords))
	for i, c := range coords {
		parts[i] = strconv.FormatUint(uint64(c), 10)
	}
	return strings.Join(parts, "/")
}

// isUnder reports whether path is p or below it ("" is the root).
func isUnder(path, p string) bool {
	return p == "" || path == p || strings.HasPrefix(path, p+"/")
}

// maxChunkIndex is the largest chunk index along a dimension; an empty
// dimension still has index 0 (as upstream 1.x checks).
func maxChunkIndex(length, chunk uint64) uint64 {
	if length == 0 || chunk == 0 {
		return 0
	}
	return (length - 1) / chunk
}

// inGrid reports whether coords name a chunk of an array.
func inGrid(shape, chunkShape []uint64, coords []uint32) bool {
	if len(coords) != len(shape) {
		return false
	}
	for i := range shape {
		if uint64(coords[i]) > maxChunkIndex(shape[i], chunkShape[i]) {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Sessions.

// Session is the model of the active session: the base snapshot plus a
// change set that mirrors the library's.
type Session struct {
	// Branch is the branch a writable session commits to, "" for a
	// read-only session.
	Branch string
	// Ref is what was checked out ("branch:main", "tag:t1", "snapshot:s3").
	Ref string
	// Base is the label of the snapshot the session reads.
	Base string

	base     *Snapshot
	newNodes map[string]*wnode // by path
	updated  map[int]*wnode    // base nodes by id
	deleted  map[int]string    // base nodes by id, with their path
	chunks   map[int]map[string]*change
	// written lists the chunk objects the session wrote (uncommitted).
	written []string
}

// wnode is a node as the change set records it.
type wnode struct {
	id                int
	path              string
	group             bool
	doc               []byte
	shape, chunkShape []uint64
}

// change is a chunk write (chunk set) or deletion (chunk nil).
type change struct {
	coords []uint32
	chunk  *Chunk
}

// vnode is a node as the session sees it.
type vnode struct {
	wnode
	isNew bool
	base  *Node // the base node, nil for new nodes
}

// ReadOnly reports whether the session refuses writes.
func (s *Session) ReadOnly() bool { return s.Branch == "" }

// OpenSession starts a session on a snapshot (branch "" for read-only).
func (m *Model) OpenSession(ref, branch, base string) {
	s := &Session{Ref: ref, Branch: branch}
	m.Session = s
	m.resetSession(base)
}

func (m *Model) resetSession(base string) {
	s := m.Session
	s.Base = base
	s.base = m.Snapshots[base]
	s.newNodes = map[string]*wnode{}
	s.updated = map[int]*wnode{}
	s.deleted = map[int]string{}
	s.chunks = map[int]map[string]*change{}
	s.written = nil
}

// Discard drops the session's changes.
func (m *Model) Discard() { m.resetSession(m.Session.Base) }

// HasChanges mirrors the library's change-set emptiness test.
func (s *Session) HasChanges() bool {
	if len(s.newNodes)+len(s.updated)+len(s.deleted) > 0 {
		return true
	}
	for _, c := range s.chunks {
		if len(c) > 0 {
			return true
		}
	}
	return false
}

// node returns the node at path as the session sees it.
func (s *Session) node(path string) (vnode, bool) {
	if w, ok := s.newNodes[path]; ok {
		return vnode{wnode: *w, isNew: true}, true
	}
	b, ok := s.base.Nodes[path]
	if !ok {
		return vnode{}, false
	}
	return s.applyUpdates(b)
}

func (s *Session) applyUpdates(b *Node) (vnode, bool) {
	if _, gone := s.deleted[b.ID]; gone {
		return vnode{}, false
	}
	v := vnode{wnode: wnode{id: b.ID, path: b.Path, group: b.Group, doc: b.Doc, shape: b.Shape, chunkShape: b.ChunkShape}, base: b}
	if u, ok := s.updated[b.ID]; ok {
		v.doc, v.shape, v.chunkShape = u.doc, u.shape, u.chunkShape
	}
	return v, true
}

// nodes lists every node the session sees.
func (s *Session) nodes() []vnode {
	var out []vnode
	for _, b := range s.base.Nodes {
		if _, shadowed := s.newNodes[b.Path]; shadowed {
			continue
		}
		if v, ok := s.applyUpdates(b); ok {
			out = append(out, v)
		}
	}
	for _, w := range s.newNodes {
		out = append(out, vnode{wnode: *w, isNew: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// chunks returns an array's chunks as the session sees them: the base
// chunks inside the current grid with the session's changes applied.
func (s *Session) viewChunks(v vnode) map[string]Chunk {
	out := map[string]Chunk{}
	if !v.isNew && v.base != nil {
		for k, c := range v.base.Chunks {
			if inGrid(v.shape, v.chunkShape, c.Coords) {
				out[k] = c
			}
		}
	}
	for k, ch := range s.chunks[v.id] {
		switch {
		case ch.chunk == nil:
			delete(out, k)
		case inGrid(v.shape, v.chunkShape, ch.coords):
			out[k] = *ch.chunk
		}
	}
	return out
}

// KeySpace returns every key the session sees with its value.
func (s *Session) KeySpace() map[string][]byte {
	out := map[string][]byte{}
	for _, v := range s.nodes() {
		out[MetadataKey(v.path)] = v.doc
		if v.group {
			continue
		}
		for _, c := range s.viewChunks(v) {
			out[ChunkKey(v.path, c.Coords)] = c.Value
		}
	}
	return out
}

// ArrayShape returns the shape and chunk shape of the array the session
// sees at path.
func (s *Session) ArrayShape(path string) (shape, chunkShape []uint64, ok bool) {
	v, found := s.node(path)
	if !found || v.group {
		return nil, nil, false
	}
	return v.shape, v.chunkShape, true
}

// NodeKind reports what the session sees at path: "group", "array" or "".
func (s *Session) NodeKind(path string) string {
	v, ok := s.node(path)
	switch {
	case !ok:
		return ""
	case v.group:
		return "group"
	}
	return "array"
}

// ArrayDoc returns the parameters of the array at path (for a resize).
func (s *Session) ArrayDoc(path string) (ArrayParams, bool) {
	v, ok := s.node(path)
	if !ok || v.group {
		return ArrayParams{}, false
	}
	p, err := parseArrayDoc(v.doc)
	if err != nil {
		return ArrayParams{}, false
	}
	return p, true
}

// ---------------------------------------------------------------------------
// Session writes. Each returns the error kind the library must fail with
// (nil on success) and applies the change only on success.

// Failure kinds the model predicts. They are names, matched against the
// actors package's kinds by the executor.
const (
	KindOK                 = ""
	KindReadOnly           = "read-only"
	KindNodeExists         = "node of another type exists"
	KindKeyNotFound        = "key not found"
	KindInvalidKey         = "invalid key"
	KindNoChanges          = "no changes"
	KindConflict           = "conflict"
	KindFlushTime          = "flush time not increasing"
	KindRefNotFound        = "ref not found"
	KindBranchExists       = "branch exists"
	KindTagExists          = "tag exists"
	KindCannotDeleteMain   = "cannot delete main"
	KindInvalidRefName     = "invalid ref name"
	KindUnsupportedSpec    = "unsupported spec version"
	KindUnsupportedOp      = "unsupported operation"
	KindRepositoryExists   = "repository exists"
	KindNotARepository     = "not a repository"
	KindSpec2Only          = "operation needs a spec-2 repository"
	KindAlreadyUpgraded    = "already upgraded"
	KindCannotAmendInitial = "cannot amend the initial snapshot"
)

// SetMetadata sets a zarr.json document at path.
func (m *Model) SetMetadata(path string, doc []byte, group bool, shape, chunkShape []uint64) string {
	s := m.Session
	if s.ReadOnly() {
		return KindReadOnly
	}
	existing, exists := s.node(path)
	if exists && existing.group != group {
		return KindNodeExists
	}
	if exists {
		if bytes.Equal(existing.doc, doc) {
			return KindOK
		}
		w := &wnode{id: existing.id, path: path, group: group, doc: doc, shape: shape, chunkShape: chunkShape}
		if existing.isNew {
			s.newNodes[path] = w
		} else {
			s.updated[existing.id] = w
		}
		if !group {
			// The library forgets chunk writes outside the new grid (and
			// keeps deletions).
			for k, ch := range s.chunks[existing.id] {
				if ch.chunk != nil && !inGrid(shape, chunkShape, ch.coords) {
					delete(s.chunks[existing.id], k)
				}
			}
		}
		return KindOK
	}
	m.nextNode++
	s.newNodes[path] = &wnode{id: m.nextNode, path: path, group: group, doc: doc, shape: shape, chunkShape: chunkShape}
	return KindOK
}

// chunkTarget checks a chunk key's array and coordinates.
func (s *Session) chunkTarget(path string, coords []uint32) (vnode, string) {
	v, ok := s.node(path)
	if !ok || v.group {
		return vnode{}, KindKeyNotFound
	}
	if !inGrid(v.shape, v.chunkShape, coords) {
		return vnode{}, KindInvalidKey
	}
	return v, KindOK
}

// WriteChunk sets one chunk; a value longer than the inline threshold
// becomes a chunk object written now.
func (m *Model) WriteChunk(path string, coords []uint32, value []byte) string {
	s := m.Session
	if s.ReadOnly() {
		return KindReadOnly
	}
	v, kind := s.chunkTarget(path, coords)
	if kind != KindOK {
		return kind
	}
	c := &Chunk{Coords: slices.Clone(coords), Value: bytes.Clone(value)}
	if c.Value == nil {
		c.Value = []byte{}
	}
	if len(value) > m.InlineThreshold {
		m.nextChunk++
		c.Object = "k" + strconv.Itoa(m.nextChunk)
		m.Chunks[c.Object] = &Object{Written: m.Now, Stored: true}
		s.written = append(s.written, c.Object)
	}
	s.setChunk(v.id, coords, c)
	return KindOK
}

func (s *Session) setChunk(id int, coords []uint32, c *Chunk) {
	if s.chunks[id] == nil {
		s.chunks[id] = map[string]*change{}
	}
	s.chunks[id][coordKey(coords)] = &change{coords: slices.Clone(coords), chunk: c}
}

// DeleteKey deletes a zarr.json (the node and everything below it; no
// node is no change) or a chunk (recorded even if it was never set).
func (m *Model) DeleteKey(path string, coords []uint32, metadata bool) string {
	s := m.Session
	if s.ReadOnly() {
		return KindReadOnly
	}
	if metadata {
		if _, ok := s.node(path); !ok {
			return KindOK
		}
		for _, v := range s.nodes() {
			if isUnder(v.path, path) {
				s.deleteNode(v)
			}
		}
		return KindOK
	}
	v, kind := s.chunkTarget(path, coords)
	if kind != KindOK {
		return kind
	}
	s.setChunk(v.id, coords, nil)
	return KindOK
}

func (s *Session) deleteNode(v vnode) {
	delete(s.chunks, v.id)
	if v.isNew {
		delete(s.newNodes, v.path)
		return
	}
	delete(s.updated, v.id)
	s.deleted[v.id] = v.path
}

// ---------------------------------------------------------------------------
// Commit and amend.

// CommitKind predicts the outcome of a commit (or amend) of the session,
// in the library's order of checks.
func (m *Model) CommitKind(amend bool) string {
	s := m.Session
	if s.ReadOnly() {
		return KindReadOnly
	}
	if !s.HasChanges() {
		return KindNoChanges
	}
	tip, ok := m.Branches[s.Branch]
	if !ok || tip != s.Base {
		return KindConflict
	}
	if amend && s.base.Parent == "" {
		return KindCannotAmendInitial
	}
	if !m.Now.After(s.base.FlushedAt) {
		return KindFlushTime
	}
	return KindOK
}

// Commit writes the session's changes as snapshot label (CommitKind must
// have been ok) and moves the branch; the session goes on from it. With
// amend, the new snapshot takes the base's parent.
func (m *Model) Commit(label, message string, metadata map[string]string, amend bool) *Snapshot {
	s := m.Session
	parent := s.Base
	if amend {
		parent = s.base.Parent
	}
	snap := &Snapshot{
		Label: label, Parent: parent, FlushedAt: m.Now, Message: message,
		Metadata: maps.Clone(metadata), Nodes: map[string]*Node{},
		Stored: true, Written: m.Now, HasTxLog: true, TxLog: true, TxWritten: m.Now,
	}
	if snap.Metadata == nil {
		snap.Metadata = map[string]string{}
	}
	if amend {
		// The amended snapshot replaces the base: it keeps the base's
		// pruned ancestors (upstream session.rs, CommitMethod::Amend).
		snap.Pruned = slices.Clone(s.base.Pruned)
	}
	for _, v := range s.nodes() {
		n := &Node{ID: v.id, Path: v.path, Group: v.group, Doc: v.doc}
		if !v.group {
			n.Shape, n.ChunkShape = v.shape, v.chunkShape
			n.Chunks, n.Manifest = m.arrayManifest(v)
		}
		snap.Nodes[v.path] = n
	}
	m.addSnapshot(snap)
	m.Branches[s.Branch] = label
	m.resetSession(label)
	return snap
}

// arrayManifest decides an array's chunks and manifest in a new snapshot,
// as the library's manifest writer does without manifest splitting (one
// split covering the whole chunk grid).
func (m *Model) arrayManifest(v vnode) (map[string]Chunk, string) {
	s := m.Session
	changes := s.chunks[v.id]
	_, updated := s.updated[v.id]
	view := s.viewChunks(v)
	if !v.isNew && !updated && len(changes) == 0 {
		return v.base.Chunks, v.base.Manifest // untouched: keep
	}
	modified := false
	for _, ch := range changes {
		if inGrid(v.shape, v.chunkShape, ch.coords) {
			modified = true
			break
		}
	}
	ov := overlapNone
	if !v.isNew && v.base.Manifest != "" {
		ov = overlap(v.base, v.shape, v.chunkShape)
	}
	if !modified && ov != overlapPartial {
		if ov == overlapComplete {
			return view, v.base.Manifest
		}
		return view, ""
	}
	if len(view) == 0 {
		return view, ""
	}
	m.nextManifest++
	label := "m" + strconv.Itoa(m.nextManifest)
	obj := &Object{Written: m.Now, Stored: true}
	for _, c := range view {
		if c.Object != "" {
			obj.Chunks = append(obj.Chunks, c.Object)
		}
	}
	sort.Strings(obj.Chunks)
	m.Manifests[label] = obj
	return view, label
}

type overlapKind int

const (
	overlapNone overlapKind = iota
	overlapPartial
	overlapComplete
)

// overlap relates a base manifest's extents (the bounding box of its
// chunks) to the new chunk grid: complete when inside it, none when
// disjoint along some dimension, partial otherwise (also when the number
// of dimensions changed).
func overlap(base *Node, shape, chunkShape []uint64) overlapKind {
	var lo, hi []uint64
	for _, c := range base.Chunks {
		if lo == nil {
			lo, hi = make([]uint64, len(c.Coords)), make([]uint64, len(c.Coords))
			for i, x := range c.Coords {
				lo[i], hi[i] = uint64(x), uint64(x)+1
			}
			continue
		}
		for i, x := range c.Coords {
			lo[i], hi[i] = min(lo[i], uint64(x)), max(hi[i], uint64(x)+1)
		}
	}
	if len(lo) != len(shape) {
		return overlapPartial
	}
	res := overlapComplete
	for i := range shape {
		n := maxChunkIndex(shape[i], chunkShape[i]) + 1
		if lo[i] >= n {
			return overlapNone
		}
		if hi[i] > n {
			res = overlapPartial
		}
	}
	return res
}

// ---------------------------------------------------------------------------
// Refs.

// snapshotUsable reports whether label names a snapshot still in storage.
func (m *Model) snapshotUsable(label string) bool {
	s, ok := m.Snapshots[label]
	return ok && s.Stored && !s.Unlisted
}

// Damaged reports whether a snapshot is still stored but garbage
// collection deleted something it or an ancestor needs (what Fsck checks
// along a ref's history): a snapshot, a transaction log, a manifest or a
// chunk object. That happens to snapshots no ref reaches (GC keeps
// everything refs reach); the libraries still let a ref or a session
// point at them, and the model does not follow such repositories, so
// the generator never targets them and a trace that does is refused.
func (m *Model) Damaged(label string) bool {
	s, ok := m.Snapshots[label]
	if !ok || !s.Stored {
		return false
	}
	for _, a := range m.Ancestry(label) {
		if !a.Stored || m.ContentDamaged(a.Label) {
			return true
		}
	}
	return false
}

// ContentDamaged reports whether a stored snapshot lost its transaction
// log, a manifest or a chunk object to garbage collection.
func (m *Model) ContentDamaged(label string) bool {
	s, ok := m.Snapshots[label]
	if !ok || !s.Stored {
		return false
	}
	return (s.HasTxLog && !s.TxLog) || m.Unreadable(label)
}

// Unreadable reports whether a stored snapshot lost a manifest or a chunk
// object to garbage collection: sessions on it can no longer read it all.
func (m *Model) Unreadable(label string) bool {
	s, ok := m.Snapshots[label]
	if !ok || !s.Stored {
		return false
	}
	for _, n := range s.Nodes {
		if n.Manifest != "" && !m.Manifests[n.Manifest].Stored {
			return true
		}
		for _, c := range n.Chunks {
			if c.Object != "" && !m.Chunks[c.Object].Stored {
				return true
			}
		}
	}
	return false
}

// validRefName mirrors the libraries' ref name rules.
func validRefName(name string) bool {
	if name == "" || strings.ContainsAny(name, "/\\") || strings.Contains(name, "..") {
		return false
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			return false
		}
	}
	return true
}

// CreateBranch predicts and applies a branch creation.
func (m *Model) CreateBranch(name, at string) string {
	switch {
	case !validRefName(name):
		return KindInvalidRefName
	case !m.snapshotUsable(at):
		return KindRefNotFound
	}
	if _, ok := m.Branches[name]; ok {
		return KindBranchExists
	}
	m.Branches[name] = at
	return KindOK
}

// ResetBranch predicts and applies a branch reset.
func (m *Model) ResetBranch(name, to string) string {
	switch {
	case !validRefName(name):
		return KindInvalidRefName
	case !m.snapshotUsable(to):
		return KindRefNotFound
	}
	if _, ok := m.Branches[name]; !ok {
		return KindRefNotFound
	}
	m.Branches[name] = to
	return KindOK
}

// DeleteBranch predicts and applies a branch deletion.
func (m *Model) DeleteBranch(name string) string {
	switch {
	case !validRefName(name):
		return KindInvalidRefName
	case name == MainBranch:
		return KindCannotDeleteMain
	}
	if _, ok := m.Branches[name]; !ok {
		return KindRefNotFound
	}
	delete(m.Branches, name)
	return KindOK
}

// CreateTag predicts and applies a tag creation.
func (m *Model) CreateTag(name, at string) string {
	switch {
	case !validRefName(name):
		return KindInvalidRefName
	case !m.snapshotUsable(at):
		return KindRefNotFound
	case m.DeletedTags[name]:
		return KindTagExists
	}
	if _, ok := m.Tags[name]; ok {
		return KindTagExists
	}
	m.Tags[name] = at
	return KindOK
}

// DeleteTag predicts and applies a tag deletion.
func (m *Model) DeleteTag(name string) string {
	if !validRefName(name) {
		return KindInvalidRefName
	}
	if _, ok := m.Tags[name]; !ok {
		return KindRefNotFound
	}
	delete(m.Tags, name)
	m.DeletedTags[name] = true
	return KindOK
}

// ResolveRef returns the snapshot label a checkout ref names ("branch:x",
// "tag:t", "snapshot:s3"), or the failure kind.
func (m *Model) ResolveRef(ref string) (string, string) {
	kind, name, _ := strings.Cut(ref, ":")
	switch kind {
	case "branch":
		if !validRefName(name) {
			return "", KindInvalidRefName
		}
		if l, ok := m.Branches[name]; ok {
			return l, KindOK
		}
	case "tag":
		if !validRefName(name) {
			return "", KindInvalidRefName
		}
		if l, ok := m.Tags[name]; ok {
			return l, KindOK
		}
	case "snapshot":
		if m.snapshotUsable(name) {
			return name, KindOK
		}
	}
	return "", KindRefNotFound
}

// SortedNames returns a map's keys, sorted.
func SortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ---------------------------------------------------------------------------
// Expiration and garbage collection (spec 1).

// ExpireOutcome is what an expiration did, with snapshot labels.
type ExpireOutcome struct {
	Released, Edited             []string // sorted labels
	DeletedBranches, DeletedTags []string // in deletion order
}

// refOrder lists live refs as spec-1 maintenance visits them: tags, then
// branches, each sorted by name.
func (m *Model) refOrder() []struct {
	tag  bool
	name string
	tip  string
} {
	var out []struct {
		tag  bool
		name string
		tip  string
	}
	for _, n := range SortedNames(m.Tags) {
		out = append(out, struct {
			tag  bool
			name string
			tip  string
		}{true, n, m.Tags[n]})
	}
	for _, n := range SortedNames(m.Branches) {
		out = append(out, struct {
			tag  bool
			name string
			tip  string
		}{false, n, m.Branches[n]})
	}
	return out
}

// Expire applies spec-1 snapshot expiration: for each ref, the oldest
// snapshot flushed at or after olderThan (the tip when every snapshot is
// older) is rewritten, now, with the initial snapshot as parent; the
// snapshots it detaches are released; refs whose tip is older are deleted
// when asked (never main).
func (m *Model) Expire(olderThan time.Time, deleteBranches, deleteTags bool) ExpireOutcome {
	released, edited := map[string]bool{}, map[string]bool{}
	out := ExpireOutcome{DeletedBranches: []string{}, DeletedTags: []string{}}
	for _, ref := range m.refOrder() {
		anc := m.Ancestry(ref.tip)
		old := func(s *Snapshot) bool { return s.FlushedAt.Before(olderThan) }
		tipExpired := old(anc[0])
		editable, root := anc[0], anc[0]
		var detached []string
		for _, s := range anc {
			if !old(s) {
				editable = s
			} else {
				detached = append(detached, s.Label)
				root = s
			}
		}
		if !(editable == root || root.Label == ref.tip || editable.Parent == root.Label) {
			editable.Parent = root.Label
			editable.Written = m.Now
			for _, l := range detached {
				if l != root.Label {
					released[l] = true
				}
			}
			edited[editable.Label] = true
		}
		if !tipExpired {
			continue
		}
		switch {
		case ref.tag && deleteTags:
			delete(m.Tags, ref.name)
			m.DeletedTags[ref.name] = true
			out.DeletedTags = append(out.DeletedTags, ref.name)
		case !ref.tag && deleteBranches && ref.name != MainBranch:
			delete(m.Branches, ref.name)
			out.DeletedBranches = append(out.DeletedBranches, ref.name)
		}
	}
	out.Released = SortedNames(released)
	out.Edited = SortedNames(edited)
	return out
}

// GCOutcome counts what garbage collection deleted.
type GCOutcome struct {
	Snapshots, Manifests, Chunks, TransactionLogs int
}

// GC applies spec-1 garbage collection: everything reachable from a live
// ref (following parents) is kept with its manifests and their chunks;
// every other snapshot, transaction log, manifest and chunk object written
// before olderThan is deleted (only counted with dryRun).
func (m *Model) GC(olderThan time.Time, dryRun bool) GCOutcome {
	keepSnap := m.refHistories()
	keepMan, keepChunk := m.contentOf(keepSnap)
	return m.sweep(olderThan, dryRun, keepSnap, keepSnap, keepMan, keepChunk)
}

// refHistories is every snapshot in the history of a live ref.
func (m *Model) refHistories() map[string]bool {
	keep := map[string]bool{}
	for _, ref := range m.refOrder() {
		for _, s := range m.Ancestry(ref.tip) {
			if keep[s.Label] {
				break
			}
			keep[s.Label] = true
		}
	}
	return keep
}

// contentOf is the manifests the snapshots list and the chunk objects
// those manifests reference.
func (m *Model) contentOf(snaps map[string]bool) (manifests, chunks map[string]bool) {
	manifests, chunks = map[string]bool{}, map[string]bool{}
	for l := range snaps {
		for _, n := range m.Snapshots[l].Nodes {
			if n.Manifest == "" || manifests[n.Manifest] {
				continue
			}
			manifests[n.Manifest] = true
			for _, k := range m.Manifests[n.Manifest].Chunks {
				chunks[k] = true
			}
		}
	}
	return manifests, chunks
}

// SessionIntact reports whether every object the session may read is
// still stored: its base snapshot, the manifests and chunk objects of the
// base, and the chunk objects it wrote. A session that lost one is closed
// after garbage collection (reading or committing it is undefined, as
// upstream documents for GC with a recent cutoff).
func (m *Model) SessionIntact() bool {
	s := m.Session
	if s == nil {
		return true
	}
	if !s.base.Stored {
		return false
	}
	for _, n := range s.base.Nodes {
		if n.Manifest != "" && !m.Manifests[n.Manifest].Stored {
			return false
		}
		for _, c := range n.Chunks {
			if c.Object != "" && !m.Chunks[c.Object].Stored {
				return false
			}
		}
	}
	for _, k := range s.written {
		if !m.Chunks[k].Stored {
			return false
		}
	}
	return true
}

// StoredCounts counts the stored objects by kind, as a listing of the
// store's snapshots/, manifests/, chunks/ and transactions/ prefixes must.
func (m *Model) StoredCounts() GCOutcome {
	var out GCOutcome
	for _, s := range m.Snapshots {
		if s.Stored {
			out.Snapshots++
		}
		if s.TxLog {
			out.TransactionLogs++
		}
	}
	for _, l := range m.Leftovers {
		if l.Snapshot {
			out.Snapshots++
		}
		if l.TxLog {
			out.TransactionLogs++
		}
	}
	for _, o := range m.Manifests {
		if o.Stored {
			out.Manifests++
		}
	}
	for _, o := range m.Chunks {
		if o.Stored {
			out.Chunks++
		}
	}
	return out
}

// Upgrade applies a migration to spec 2 (not a dry run): refs, history and
// objects stay; the spec-1 files go when deleteV1Files is set. The repo
// object lists only the snapshots some branch or tag reaches (as
// upstream's migration collects them): the others, such as snapshots an
// expiration released, become Unlisted. On a spec-2 repository (a resumed
// migration that only deletes spec-1 files) nothing else changes.
func (m *Model) Upgrade(deleteV1Files bool) {
	if m.Spec == 1 {
		reached := m.refHistories()
		for l, s := range m.Snapshots {
			if !reached[l] {
				s.Unlisted = true
			}
		}
	}
	m.Spec = 2
	if deleteV1Files {
		m.V1Files = false
	}
}

// UpgradeKind predicts the outcome of Upgrade by an actor that can
// migrate: a spec-1 repository migrates; a spec-2 one fails unless spec-1
// files remain and deleting them was asked.
func (m *Model) UpgradeKind(deleteV1Files bool) string {
	if m.Spec == 1 {
		return KindOK
	}
	if deleteV1Files && m.V1Files {
		return KindOK
	}
	return KindAlreadyUpgraded
}
