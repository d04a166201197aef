package formatv2

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/icerig/icerig/zarr"
)

// Session is a view of one snapshot as a Zarr v3 key/value store
// ("zarr.json", "group1/zarr.json", "group1/big_chunks/c/0/1", ...).
// A writable session (on a branch) records changes in memory, writing chunk
// bytes larger than the inline threshold to storage right away, until
// Commit; a read-only session (on a tag, a snapshot or a branch tip) refuses
// writes with ErrReadOnly. A Session is safe for concurrent use, but its
// operations are serialised.
type Session struct {
	repo     *Repository
	branch   string // "" for a read-only session
	readOnly bool

	mu     sync.Mutex
	base   ObjectID
	snap   *Snapshot        // shared, cached: never modified
	nodesB []Node           // snap.Nodes in the session's form (see sessionNode)
	byPath map[string]*Node // index of nodesB
	cs     *changeSet
}

// ReadonlySession opens a read-only session on the version ref names.
func (r *Repository) ReadonlySession(ctx context.Context, ref VersionRef) (*Session, error) {
	id, err := r.ResolveRef(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("formatv2: read-only session: %w", err)
	}
	s := &Session{repo: r, readOnly: true}
	if err := s.reset(ctx, id); err != nil {
		return nil, fmt.Errorf("formatv2: read-only session on %s: %w", ref, err)
	}
	return s, nil
}

// WritableSession opens a session on the tip of branch; Commit moves the
// branch.
func (r *Repository) WritableSession(ctx context.Context, branch string) (*Session, error) {
	id, err := r.LookupBranch(ctx, branch)
	if err != nil {
		return nil, fmt.Errorf("formatv2: writable session: %w", err)
	}
	s := &Session{repo: r, branch: branch}
	if err := s.reset(ctx, id); err != nil {
		return nil, fmt.Errorf("formatv2: writable session on branch %q: %w", branch, err)
	}
	return s, nil
}

// reset points the session at snapshot id with no changes.
func (s *Session) reset(ctx context.Context, id ObjectID) error {
	snap, err := s.repo.snapshot(ctx, id)
	if err != nil {
		return err
	}
	s.useSnapshot(snap)
	return nil
}

func (s *Session) useSnapshot(snap *Snapshot) {
	s.base = snap.ID
	s.snap = snap
	s.nodesB = make([]Node, len(snap.Nodes))
	for i := range snap.Nodes {
		s.nodesB[i] = sessionNode(snap.Nodes[i])
	}
	s.byPath = make(map[string]*Node, len(s.nodesB))
	for i := range s.nodesB {
		s.byPath[s.nodesB[i].Path] = &s.nodesB[i]
	}
	s.cs = newChangeSet()
}

// BaseSnapshot is the snapshot the session reads (and, when writable, will
// commit on top of).
func (s *Session) BaseSnapshot() ObjectID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base
}

// Branch is the branch a writable session commits to ("" when read-only).
func (s *Session) Branch() string { return s.branch }

// ReadOnly reports whether the session refuses writes.
func (s *Session) ReadOnly() bool { return s.readOnly }

// HasChanges reports whether the session holds uncommitted changes.
func (s *Session) HasChanges() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.cs.isEmpty()
}

// Discard drops every uncommitted change. Chunk objects already written
// stay in storage, unreferenced.
func (s *Session) Discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cs = newChangeSet()
}

// ---------------------------------------------------------------------------
// Node view: the base snapshot with the change set applied.

// node returns the node at an absolute path as the session sees it. The
// result may share slices with the snapshot or change set: treat it as
// read-only.
func (s *Session) node(path string) (Node, bool) {
	if g, ok := s.cs.newGroups[path]; ok {
		return Node{ID: g.id, Path: path, UserData: g.userData, Type: NodeGroup}, true
	}
	if a, ok := s.cs.newArrays[path]; ok {
		return Node{ID: a.id, Path: path, UserData: a.userData, Type: NodeArray, Shape: a.shape, DimensionNames: a.dimensionNames}, true
	}
	n, ok := s.byPath[path]
	if !ok {
		return Node{}, false
	}
	return s.applyUpdates(n)
}

// applyUpdates returns a base node with this session's updates, or false if
// the session deleted it.
func (s *Session) applyUpdates(n *Node) (Node, bool) {
	if _, deleted := s.cs.deleted[n.ID]; deleted {
		return Node{}, false
	}
	out := *n
	switch n.Type {
	case NodeGroup:
		if ud, ok := s.cs.updatedGroups[n.ID]; ok {
			out.UserData = ud
		}
	case NodeArray:
		if a, ok := s.cs.updatedArrays[n.ID]; ok {
			out.UserData, out.Shape, out.DimensionNames = a.userData, a.shape, a.dimensionNames
		}
	}
	return out, true
}

// isNew reports whether the node with this id was created in this session.
func (s *Session) isNew(n Node) bool {
	if g, ok := s.cs.newGroups[n.Path]; ok && g.id == n.ID {
		return true
	}
	if a, ok := s.cs.newArrays[n.Path]; ok && a.id == n.ID {
		return true
	}
	return false
}

// nodes lists every node the session sees, sorted by path.
func (s *Session) nodes() []Node {
	out := make([]Node, 0, len(s.nodesB)+len(s.cs.newGroups)+len(s.cs.newArrays))
	for i := range s.nodesB {
		n := &s.nodesB[i]
		if _, shadowed := s.cs.newGroups[n.Path]; shadowed {
			continue
		}
		if _, shadowed := s.cs.newArrays[n.Path]; shadowed {
			continue
		}
		if v, ok := s.applyUpdates(n); ok {
			out = append(out, v)
		}
	}
	for p, g := range s.cs.newGroups {
		out = append(out, Node{ID: g.id, Path: p, UserData: g.userData, Type: NodeGroup})
	}
	for p, a := range s.cs.newArrays {
		out = append(out, Node{ID: a.id, Path: p, UserData: a.userData, Type: NodeArray, Shape: a.shape, DimensionNames: a.dimensionNames})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// isUnder reports whether path is p itself or below it.
func isUnder(path, p string) bool {
	if p == "/" {
		return true
	}
	return path == p || strings.HasPrefix(path, p+"/")
}

// Nodes returns the session's node tree sorted by path: groups and arrays
// with their Zarr metadata documents, shapes, dimension names and, for
// arrays of the base snapshot, their manifest refs (arrays created in this
// session have none until committed). Arrays always carry Shape (array and
// chunk lengths), also when the snapshot is spec 2 and stores the number of
// chunks instead (ShapeV2 is then left nil). The result is a deep copy.
func (s *Session) Nodes(ctx context.Context) ([]Node, error) {
	if err := s.repo.usable(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := s.nodes()
	for i := range ns {
		ns[i] = cloneNode(ns[i])
	}
	return ns, nil
}

// sessionNode returns a snapshot node in the form sessions work with: a
// spec-2 array shape (array length, number of chunks) becomes a spec-1
// shape (array length, chunk length) with the chunk lengths of the node's
// zarr.json (or, where those do not fit the number of chunks, the smallest
// chunk length giving that many chunks). The chunk grid is the same either
// way. Other nodes are returned as they are (sharing their slices).
func sessionNode(n Node) Node {
	if n.Type != NodeArray || n.ShapeV2 == nil || len(n.Shape) > 0 {
		return n
	}
	var chunkShape []uint64
	if meta, err := zarr.ParseMetadata(n.Path, n.UserData); err == nil && meta.Array != nil {
		chunkShape = meta.Array.ChunkShape
	}
	shape := make([]DimensionShape, len(n.ShapeV2))
	for i, d := range n.ShapeV2 {
		c := uint64(0)
		if i < len(chunkShape) {
			c = chunkShape[i]
		}
		if c == 0 || numChunksOf(d.ArrayLength, c) != d.NumChunks {
			c = 0
			if d.NumChunks > 0 {
				c = (d.ArrayLength + uint64(d.NumChunks) - 1) / uint64(d.NumChunks)
			}
		}
		shape[i] = DimensionShape{ArrayLength: d.ArrayLength, ChunkLength: c}
	}
	n.Shape, n.ShapeV2 = shape, nil
	return n
}

// numChunksOf is the number of chunks of a dimension as spec 2 records it:
// ceil(length / chunk length), 0 for an empty dimension.
func numChunksOf(length, chunk uint64) uint32 {
	if chunk == 0 || length == 0 {
		return 0
	}
	n := (length + chunk - 1) / chunk
	if n > 1<<32-1 {
		n = 1<<32 - 1
	}
	return uint32(n)
}

// shapeToV2 converts a session shape to the spec-2 form.
func shapeToV2(shape []DimensionShape) []DimensionShapeV2 {
	out := make([]DimensionShapeV2, len(shape))
	for i, d := range shape {
		out[i] = DimensionShapeV2{ArrayLength: d.ArrayLength, NumChunks: numChunksOf(d.ArrayLength, d.ChunkLength)}
	}
	return out
}

func cloneNode(n Node) Node {
	n.UserData = bytes.Clone(n.UserData)
	n.Shape = slices.Clone(n.Shape)
	n.ShapeV2 = slices.Clone(n.ShapeV2)
	n.Extra = bytes.Clone(n.Extra)
	if n.DimensionNames != nil {
		names := make([]*string, len(n.DimensionNames))
		for i, p := range n.DimensionNames {
			if p != nil {
				v := *p
				names[i] = &v
			}
		}
		n.DimensionNames = names
	}
	if n.Manifests != nil {
		ms := make([]ManifestRef, len(n.Manifests))
		for i, m := range n.Manifests {
			ms[i] = ManifestRef{ID: m.ID, Extents: slices.Clone(m.Extents)}
		}
		n.Manifests = ms
	}
	return n
}

// ---------------------------------------------------------------------------
// Chunk references.

// extentsContain reports whether a manifest ref's extents cover coords.
func extentsContain(ext []ChunkIndexRange, coords []uint32) bool {
	if len(ext) != len(coords) {
		return false
	}
	for i, r := range ext {
		if coords[i] < r.From || coords[i] >= r.To {
			return false
		}
	}
	return true
}

// manifestRefs returns the refs of one array in one manifest (sorted by
// index, as the format requires).
func (s *Session) manifestRefs(ctx context.Context, manifest ObjectID, node NodeID) ([]ChunkRef, error) {
	m, err := s.repo.ReadManifest(ctx, manifest)
	if err != nil {
		return nil, err
	}
	for i := range m.Arrays {
		if m.Arrays[i].NodeID == node {
			return m.Arrays[i].Refs, nil
		}
	}
	return nil, nil
}

// baseChunkRef looks a chunk up in the manifests of a base array. Only the
// manifests whose extents contain the coordinates are read.
func (s *Session) baseChunkRef(ctx context.Context, n Node, coords []uint32) (*ChunkRef, error) {
	for _, mr := range n.Manifests {
		if !extentsContain(mr.Extents, coords) {
			continue
		}
		refs, err := s.manifestRefs(ctx, mr.ID, n.ID)
		if err != nil {
			return nil, fmt.Errorf("array %s: %w", n.Path, err)
		}
		i, found := sort.Find(len(refs), func(i int) int { return compareCoords(coords, refs[i].Index) })
		if found {
			return &refs[i], nil
		}
	}
	return nil, nil
}

// chunkRef returns the chunk reference the session sees for an array node,
// or nil when the chunk is not set (reads as the fill value).
func (s *Session) chunkRef(ctx context.Context, n Node, coords []uint32) (*ChunkRef, error) {
	if !inGrid(n.Shape, coords) {
		return nil, nil
	}
	if ch, ok := s.cs.chunk(n.ID, coords); ok {
		return ch.ref, nil
	}
	if s.isNew(n) {
		return nil, nil
	}
	return s.baseChunkRef(ctx, n, coords)
}

// allChunkRefs lists every chunk reference of an array node as the session
// sees it, sorted by index: the base manifests' refs inside the current
// chunk grid, with this session's writes and deletions applied.
func (s *Session) allChunkRefs(ctx context.Context, n Node) ([]ChunkRef, error) {
	merged := map[string]ChunkRef{}
	if !s.isNew(n) {
		for _, mr := range n.Manifests {
			refs, err := s.manifestRefs(ctx, mr.ID, n.ID)
			if err != nil {
				return nil, fmt.Errorf("array %s: %w", n.Path, err)
			}
			for _, ref := range refs {
				if !inGrid(n.Shape, ref.Index) {
					continue
				}
				k := coordKey(ref.Index)
				if _, dup := merged[k]; !dup {
					merged[k] = ref
				}
			}
		}
	}
	for k, ch := range s.cs.chunks[n.ID] {
		switch {
		case ch.ref == nil:
			delete(merged, k)
		case inGrid(n.Shape, ch.coords):
			merged[k] = *ch.ref
		}
	}
	out := make([]ChunkRef, 0, len(merged))
	for _, ref := range merged {
		out = append(out, ref)
	}
	slices.SortFunc(out, func(a, b ChunkRef) int { return compareCoords(a.Index, b.Index) })
	return out, nil
}

// normalizeNodePath turns "group1/x", "/group1/x" or "" into an absolute
// node path.
func normalizeNodePath(p string) (string, error) {
	abs := zarr.NodePathFromPrefix(p)
	if err := zarr.ValidateNodePath(abs); err != nil {
		return "", fmt.Errorf("formatv2: node path %q: %w: %w", p, ErrInvalidKey, err)
	}
	return abs, nil
}

// arrayNode returns the array at an absolute path or ErrNodeNotFound.
func (s *Session) arrayNode(path string) (Node, error) {
	n, ok := s.node(path)
	if !ok {
		return Node{}, fmt.Errorf("formatv2: %w: no array at %s", ErrNodeNotFound, path)
	}
	if n.Type != NodeArray {
		return Node{}, fmt.Errorf("formatv2: %w: %s is a group, not an array", ErrNodeNotFound, path)
	}
	return n, nil
}

// GetChunkRef returns the reference of one chunk of the array at arrayPath
// ("/group1/big_chunks" or "group1/big_chunks"); ok is false when the chunk
// is not set or the coordinates are outside the chunk grid. The reference
// is a copy.
func (s *Session) GetChunkRef(ctx context.Context, arrayPath string, coords []uint32) (ChunkRef, bool, error) {
	if err := s.repo.usable(); err != nil {
		return ChunkRef{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := normalizeNodePath(arrayPath)
	if err != nil {
		return ChunkRef{}, false, err
	}
	n, err := s.arrayNode(p)
	if err != nil {
		return ChunkRef{}, false, err
	}
	ref, err := s.chunkRef(ctx, n, coords)
	if err != nil || ref == nil {
		return ChunkRef{}, false, err
	}
	return cloneChunkRef(*ref), true, nil
}

// ArrayChunkRefs returns every chunk reference of the array at arrayPath,
// sorted by index (copies).
func (s *Session) ArrayChunkRefs(ctx context.Context, arrayPath string) ([]ChunkRef, error) {
	if err := s.repo.usable(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := normalizeNodePath(arrayPath)
	if err != nil {
		return nil, err
	}
	n, err := s.arrayNode(p)
	if err != nil {
		return nil, err
	}
	refs, err := s.allChunkRefs(ctx, n)
	if err != nil {
		return nil, err
	}
	for i := range refs {
		refs[i] = cloneChunkRef(refs[i])
	}
	return refs, nil
}

func cloneChunkRef(r ChunkRef) ChunkRef {
	r.Index = slices.Clone(r.Index)
	r.Inline = bytes.Clone(r.Inline)
	return r
}

// ---------------------------------------------------------------------------
// The Zarr key space.

// parseKey parses a Zarr key, wrapping errors in ErrInvalidKey.
func parseKey(key string) (zarr.Key, error) {
	k, err := zarr.ParseKey(key)
	if err != nil {
		return zarr.Key{}, fmt.Errorf("formatv2: key %q: %w: %w", key, ErrInvalidKey, err)
	}
	return k, nil
}

// Get returns the value at a Zarr key: a node's metadata document, or a
// chunk's bytes (inline bytes, or the byte range of a native chunk object).
// A virtual chunk is never fetched: the error is a *VirtualChunkError
// (wrapping ErrVirtualChunk) carrying its location. A missing node or chunk,
// or chunk coordinates outside the grid, is ErrKeyNotFound.
func (s *Session) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.repo.usable(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := parseKey(key)
	if err != nil {
		return nil, err
	}
	n, ok := s.node(k.NodePath)
	if k.Kind == zarr.KeyMetadata {
		if !ok {
			return nil, fmt.Errorf("formatv2: get %q: %w", key, ErrKeyNotFound)
		}
		return bytes.Clone(n.UserData), nil
	}
	if !ok || n.Type != NodeArray {
		return nil, fmt.Errorf("formatv2: get %q: %w: no array at %s", key, ErrKeyNotFound, k.NodePath)
	}
	ref, err := s.chunkRef(ctx, n, k.Coords)
	if err != nil {
		return nil, fmt.Errorf("formatv2: get %q: %w", key, err)
	}
	if ref == nil {
		return nil, fmt.Errorf("formatv2: get %q: %w", key, ErrKeyNotFound)
	}
	return s.repo.readChunk(ctx, key, ref)
}

// readChunk returns the bytes of an inline or native chunk reference.
func (r *Repository) readChunk(ctx context.Context, key string, ref *ChunkRef) ([]byte, error) {
	switch ref.Kind {
	case ChunkInline:
		return bytes.Clone(ref.Inline), nil
	case ChunkNative:
		objKey := chunkKey(ref.ChunkID)
		data, _, err := r.store.Get(ctx, objKey)
		if err != nil {
			return nil, fmt.Errorf("formatv2: get %q: read %s: %w", key, objKey, err)
		}
		end := ref.Offset + ref.Length
		if end < ref.Offset || end > uint64(len(data)) {
			return nil, fmt.Errorf("formatv2: get %q: %s: %w: %d bytes, reference wants offset %d length %d",
				key, objKey, ErrCorrupt, len(data), ref.Offset, ref.Length)
		}
		if ref.Offset == 0 && end == uint64(len(data)) {
			return data, nil
		}
		return bytes.Clone(data[ref.Offset:end]), nil
	case ChunkVirtual:
		return nil, &VirtualChunkError{Key: key, Location: ref.Location, Offset: ref.Offset, Length: ref.Length}
	}
	return nil, fmt.Errorf("formatv2: get %q: %w: chunk reference of unknown kind %d", key, ErrCorrupt, ref.Kind)
}

// Exists reports whether a Zarr key has a value (a virtual chunk exists).
func (s *Session) Exists(ctx context.Context, key string) (bool, error) {
	if err := s.repo.usable(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := parseKey(key)
	if err != nil {
		return false, err
	}
	n, ok := s.node(k.NodePath)
	if k.Kind == zarr.KeyMetadata {
		return ok, nil
	}
	if !ok || n.Type != NodeArray {
		return false, nil
	}
	ref, err := s.chunkRef(ctx, n, k.Coords)
	if err != nil {
		return false, fmt.Errorf("formatv2: exists %q: %w", key, err)
	}
	return ref != nil, nil
}

func (s *Session) checkWritable(op, key string) error {
	if s.readOnly {
		return fmt.Errorf("formatv2: %s %q: %w", op, key, ErrReadOnly)
	}
	return nil
}

// Set writes a value at a Zarr key.
//
// A zarr.json creates the group or array its node_type says, or replaces
// the document of the node already there (identical bytes are no change);
// a group document where an array is, or the other way round, is
// ErrNodeExists. Parent groups need not exist (as upstream). Changing an
// array's shape drops its chunks outside the new chunk grid.
//
// A chunk key needs an existing array (ErrNodeNotFound) and coordinates
// inside its chunk grid (ErrInvalidKey). Chunks of at most the configured
// inline threshold are kept inline (upstream's rule: only chunks longer
// than the threshold are written as objects); larger ones are written at
// once to chunks/<random id>.
func (s *Session) Set(ctx context.Context, key string, value []byte) error {
	if err := s.repo.usable(); err != nil {
		return err
	}
	if err := s.checkWritable("set", key); err != nil {
		return err
	}
	k, err := parseKey(key)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k.Kind == zarr.KeyMetadata {
		return s.setMetadata(key, k.NodePath, value)
	}
	n, err := s.chunkTarget(key, k)
	if err != nil {
		return err
	}
	ref := &ChunkRef{Index: slices.Clone(k.Coords)}
	if len(value) <= s.repo.Config().InlineChunkThresholdBytes() {
		ref.Kind = ChunkInline
		ref.Inline = bytes.Clone(value)
		if ref.Inline == nil {
			ref.Inline = []byte{}
		}
	} else {
		id, err := s.repo.newObjectID()
		if err != nil {
			return fmt.Errorf("formatv2: set %q: %w", key, err)
		}
		if _, err := s.repo.store.PutIfAbsent(ctx, chunkKey(id), value); err != nil {
			return fmt.Errorf("formatv2: set %q: write %s: %w", key, chunkKey(id), err)
		}
		ref.Kind, ref.ChunkID, ref.Length = ChunkNative, id, uint64(len(value))
	}
	s.cs.setChunk(n.ID, k.Coords, ref)
	return nil
}

// SetVirtualRef points a chunk key at bytes outside the repository (a URL
// such as s3://bucket/file, an offset and a length). The same checks as Set
// apply.
func (s *Session) SetVirtualRef(ctx context.Context, key, location string, offset, length uint64) error {
	if err := s.repo.usable(); err != nil {
		return err
	}
	if err := s.checkWritable("set virtual ref", key); err != nil {
		return err
	}
	k, err := parseKey(key)
	if err != nil {
		return err
	}
	if k.Kind != zarr.KeyChunk {
		return fmt.Errorf("formatv2: set virtual ref %q: %w: not a chunk key", key, ErrInvalidKey)
	}
	if location == "" {
		return fmt.Errorf("formatv2: set virtual ref %q: %w: empty location", key, ErrInvalidKey)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.chunkTarget(key, k)
	if err != nil {
		return err
	}
	s.cs.setChunk(n.ID, k.Coords, &ChunkRef{
		Index: slices.Clone(k.Coords), Kind: ChunkVirtual, Location: location, Offset: offset, Length: length,
	})
	return nil
}

// chunkTarget returns the array a chunk key addresses, checking the
// coordinates against its chunk grid.
func (s *Session) chunkTarget(key string, k zarr.Key) (Node, error) {
	n, err := s.arrayNode(k.NodePath)
	if err != nil {
		return Node{}, fmt.Errorf("formatv2: key %q: %w", key, err)
	}
	if !inGrid(n.Shape, k.Coords) {
		return Node{}, fmt.Errorf("formatv2: key %q: %w: chunk %v is outside the chunk grid %v of %s",
			key, ErrInvalidKey, k.Coords, numChunks(n.Shape), n.Path)
	}
	return n, nil
}

// setMetadata creates or updates the node at path from a zarr.json.
func (s *Session) setMetadata(key, path string, doc []byte) error {
	meta, err := zarr.ParseMetadata(key, doc)
	if err != nil {
		return fmt.Errorf("formatv2: set %q: %w: %w", key, ErrInvalidKey, err)
	}
	doc = bytes.Clone(doc)
	existing, exists := s.node(path)
	if meta.IsGroup() {
		if exists && existing.Type != NodeGroup {
			return fmt.Errorf("formatv2: set %q: %w: %s is an array", key, ErrNodeExists, path)
		}
		if exists {
			if sameBytes(existing.UserData, doc) {
				return nil
			}
			if g, ok := s.cs.newGroups[path]; ok {
				g.userData = doc
			} else {
				s.cs.updatedGroups[existing.ID] = doc
			}
			return nil
		}
		id, err := s.repo.newNodeID()
		if err != nil {
			return fmt.Errorf("formatv2: set %q: %w", key, err)
		}
		s.cs.newGroups[path] = &groupData{id: id, userData: doc}
		return nil
	}

	a := meta.Array
	if len(a.Shape) != len(a.ChunkShape) {
		return fmt.Errorf("formatv2: set %q: %w: shape %v and chunk shape %v differ in length", key, ErrInvalidKey, a.Shape, a.ChunkShape)
	}
	shape := make([]DimensionShape, len(a.Shape))
	for i := range a.Shape {
		if a.ChunkShape[i] == 0 {
			return fmt.Errorf("formatv2: set %q: %w: chunk shape %v has a zero", key, ErrInvalidKey, a.ChunkShape)
		}
		shape[i] = DimensionShape{ArrayLength: a.Shape[i], ChunkLength: a.ChunkShape[i]}
	}
	data := &arrayData{userData: doc, shape: shape, dimensionNames: cloneNames(a.DimensionNames)}
	if exists && existing.Type != NodeArray {
		return fmt.Errorf("formatv2: set %q: %w: %s is a group", key, ErrNodeExists, path)
	}
	if exists {
		if sameBytes(existing.UserData, doc) {
			return nil
		}
		data.id = existing.ID
		if _, ok := s.cs.newArrays[path]; ok {
			s.cs.newArrays[path] = data
		} else {
			s.cs.updatedArrays[existing.ID] = data
		}
		s.cs.dropChunksOutside(existing.ID, shape)
		return nil
	}
	id, err := s.repo.newNodeID()
	if err != nil {
		return fmt.Errorf("formatv2: set %q: %w", key, err)
	}
	data.id = id
	s.cs.newArrays[path] = data
	return nil
}

func cloneNames(names []*string) []*string {
	if names == nil {
		return nil
	}
	out := make([]*string, len(names))
	for i, p := range names {
		if p != nil {
			v := *p
			out[i] = &v
		}
	}
	return out
}

// Delete removes the value at a Zarr key. Deleting a zarr.json deletes the
// node and every node below it (nothing happens if there is no node).
// Deleting a chunk records a deletion (also for a chunk that was never
// set, as upstream does); it needs an existing array and coordinates inside
// its chunk grid.
func (s *Session) Delete(ctx context.Context, key string) error {
	if err := s.repo.usable(); err != nil {
		return err
	}
	if err := s.checkWritable("delete", key); err != nil {
		return err
	}
	k, err := parseKey(key)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k.Kind == zarr.KeyMetadata {
		if _, ok := s.node(k.NodePath); !ok {
			return nil
		}
		for _, n := range s.nodes() {
			if isUnder(n.Path, k.NodePath) {
				s.deleteNode(n)
			}
		}
		return nil
	}
	n, err := s.chunkTarget(key, k)
	if err != nil {
		return err
	}
	s.cs.setChunk(n.ID, k.Coords, nil)
	return nil
}

// deleteNode removes one node (not its children) from the session's view.
func (s *Session) deleteNode(n Node) {
	delete(s.cs.chunks, n.ID)
	if s.isNew(n) {
		delete(s.cs.newGroups, n.Path)
		delete(s.cs.newArrays, n.Path)
		return
	}
	delete(s.cs.updatedGroups, n.ID)
	delete(s.cs.updatedArrays, n.ID)
	s.cs.deleted[n.ID] = n.Path
}

// keys lists the session's keys, sorted. Chunk keys (default encoding, "/"
// separator) are listed only for arrays for which needChunks is true, to
// spare reading manifests that cannot contribute.
func (s *Session) keys(ctx context.Context, needChunks func(arrayKeyPrefix string) bool) ([]string, error) {
	var out []string
	for _, n := range s.nodes() {
		out = append(out, zarr.MetadataKey(n.Path))
		if n.Type != NodeArray {
			continue
		}
		prefix := zarr.KeyPrefix(n.Path)
		if prefix != "" {
			prefix += "/"
		}
		if !needChunks(prefix) {
			continue
		}
		refs, err := s.allChunkRefs(ctx, n)
		if err != nil {
			return nil, err
		}
		for _, ref := range refs {
			out = append(out, zarr.ChunkKey(n.Path, ref.Index, zarr.DefaultChunkKeyEncoding))
		}
	}
	sort.Strings(out)
	return out, nil
}

// List returns every key of the session, sorted: each node's zarr.json and
// each chunk that is set (chunk keys use the default "c/i/j" encoding).
func (s *Session) List(ctx context.Context) ([]string, error) {
	if err := s.repo.usable(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, err := s.keys(ctx, func(string) bool { return true })
	if err != nil {
		return nil, fmt.Errorf("formatv2: list: %w", err)
	}
	return keys, nil
}

// ListPrefix returns the keys that start with prefix (a plain string
// prefix, as Zarr stores define it), sorted.
func (s *Session) ListPrefix(ctx context.Context, prefix string) ([]string, error) {
	if err := s.repo.usable(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, err := s.keys(ctx, func(ap string) bool {
		return strings.HasPrefix(ap, prefix) || strings.HasPrefix(prefix, ap)
	})
	if err != nil {
		return nil, fmt.Errorf("formatv2: list prefix %q: %w", prefix, err)
	}
	out := keys[:0]
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out, nil
}

// ListDir returns the immediate children of a directory of the key space,
// sorted: keys directly in it ("zarr.json", a chunk's last coordinate) and
// sub-directories with a trailing slash ("group1/", "c/"). prefix may be ""
// for the root, with or without a trailing slash. An array without chunks
// has no "c/".
func (s *Session) ListDir(ctx context.Context, prefix string) ([]string, error) {
	if err := s.repo.usable(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := strings.Trim(prefix, "/")
	if dir != "" {
		dir += "/"
	}
	keys, err := s.keys(ctx, func(ap string) bool { return strings.HasPrefix(dir, ap) })
	if err != nil {
		return nil, fmt.Errorf("formatv2: list dir %q: %w", prefix, err)
	}
	seen := map[string]bool{}
	out := []string{}
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, dir)
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i+1]
		}
		if !seen[rest] {
			seen[rest] = true
			out = append(out, rest)
		}
	}
	sort.Strings(out)
	return out, nil
}
