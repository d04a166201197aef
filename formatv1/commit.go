package formatv1

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"time"
)

// timeToMicros converts a time to the microseconds since the Unix epoch a
// snapshot records (0 for times before the epoch).
func timeToMicros(t time.Time) uint64 {
	us := t.UnixMicro()
	if us < 0 {
		return 0
	}
	return uint64(us)
}

// Commit writes the session's changes as a new snapshot on its branch and
// moves the branch there, in the order the format requires: chunk objects
// (already written by Set), new manifests, the transaction log
// transactions/<new id>, the snapshot snapshots/<new id>, then a
// compare-and-swap of the branch ref. metadata values must be encodable by
// EncodeMetadataValue.
//
// Each array whose chunks or shape changed gets new manifests, one per
// manifest split (the whole chunk grid unless config.yaml configures
// manifest splitting) that changed, holding that array's merged refs;
// unchanged splits and unchanged arrays keep their manifest refs. This is
// what upstream 1.x writes.
//
// Errors: ErrReadOnly; ErrNoChanges; ErrFlushTimeNotIncreasing when the
// clock is not past the parent's flush time; ErrConflict when the branch no
// longer points at the session's base snapshot (objects written by the
// failed commit stay unreferenced); ErrUnsupportedSpec when the repository
// was migrated to spec 2. After a successful commit the session continues,
// writable, from the new snapshot.
func (s *Session) Commit(ctx context.Context, message string, metadata map[string]any) (ObjectID, error) {
	if s.readOnly {
		return ObjectID{}, fmt.Errorf("formatv1: commit: %w", ErrReadOnly)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cs.isEmpty() {
		return ObjectID{}, fmt.Errorf("formatv1: commit to branch %q: %w", s.branch, ErrNoChanges)
	}
	snap, err := s.commit(ctx, message, metadata)
	if err != nil {
		return ObjectID{}, fmt.Errorf("formatv1: commit to branch %q: %w", s.branch, err)
	}
	cachePut(s.repo.cache, s.repo.cache.snapshots, snap.ID, snap)
	s.useSnapshot(snap)
	return snap.ID, nil
}

func (s *Session) commit(ctx context.Context, message string, metadata map[string]any) (*Snapshot, error) {
	r := s.repo
	// Detect a moved branch before writing anything.
	tip, err := r.LookupBranch(ctx, s.branch)
	if errors.Is(err, ErrRefNotFound) {
		return nil, fmt.Errorf("%w: the branch no longer exists", ErrConflict)
	}
	if err != nil {
		return nil, err
	}
	if tip != s.base {
		return nil, fmt.Errorf("%w: session is based on %s, the branch is at %s", ErrConflict, s.base, tip)
	}
	flushedAt := timeToMicros(r.clock.Now())
	if flushedAt <= s.snap.FlushedAt {
		return nil, fmt.Errorf("%w: clock gives %s, parent %s was flushed at %s", ErrFlushTimeNotIncreasing,
			microsToTime(flushedAt).Format(time.RFC3339Nano), s.base, microsToTime(s.snap.FlushedAt).Format(time.RFC3339Nano))
	}
	items, err := metadataItems(metadata)
	if err != nil {
		return nil, err
	}
	id, err := r.newObjectID()
	if err != nil {
		return nil, err
	}

	w := &manifestWriter{s: s, files: map[ObjectID]ManifestFileInfo{}}
	nodes := s.nodes()
	for i := range nodes {
		nodes[i] = cloneNode(nodes[i])
		n := &nodes[i]
		if n.Type != NodeArray {
			n.Manifests, n.Shape, n.DimensionNames = nil, nil, nil
			continue
		}
		refs, err := w.arrayManifests(ctx, *n)
		if err != nil {
			return nil, err
		}
		n.Manifests = refs
	}

	files := make([]ManifestFileInfo, 0, len(w.files))
	for _, f := range w.files {
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b ManifestFileInfo) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	parent := s.base
	snap := &Snapshot{
		ID:            id,
		ParentID:      &parent,
		Nodes:         nodes,
		FlushedAt:     flushedAt,
		Message:       message,
		Metadata:      items,
		ManifestFiles: files,
	}

	txData, err := EncodeTransactionLog(s.transactionLog(id))
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", transactionLogKey(id), err)
	}
	if _, err := r.store.PutIfAbsent(ctx, transactionLogKey(id), txData); err != nil {
		return nil, fmt.Errorf("write %s: %w", transactionLogKey(id), err)
	}
	if err := r.writeSnapshot(ctx, snap); err != nil {
		return nil, err
	}
	if err := r.updateBranch(ctx, s.branch, s.base, id); err != nil {
		return nil, err
	}
	r.log.Debug("committed", "branch", s.branch, "snapshot", id.String(), "parent", parent.String(), "manifests_written", w.written)
	return snap, nil
}

// microsToTime converts a flush time to a UTC time.
func microsToTime(us uint64) time.Time { return time.UnixMicro(int64(us)).UTC() }

// metadataItems encodes commit metadata, sorted by name.
func metadataItems(metadata map[string]any) ([]MetadataItem, error) {
	names := make([]string, 0, len(metadata))
	for k := range metadata {
		names = append(names, k)
	}
	sort.Strings(names)
	items := make([]MetadataItem, 0, len(names))
	for _, k := range names {
		v, err := EncodeMetadataValue(metadata[k])
		if err != nil {
			return nil, fmt.Errorf("commit metadata %q: %w", k, err)
		}
		items = append(items, MetadataItem{Name: k, Value: v})
	}
	return items, nil
}

// transactionLog records what the session changed.
func (s *Session) transactionLog(id ObjectID) *TransactionLog {
	tl := &TransactionLog{ID: id}
	for _, g := range s.cs.newGroups {
		tl.NewGroups = append(tl.NewGroups, g.id)
	}
	for _, a := range s.cs.newArrays {
		tl.NewArrays = append(tl.NewArrays, a.id)
	}
	for nid, path := range s.cs.deleted {
		if n, ok := s.byPath[path]; ok && n.Type == NodeGroup {
			tl.DeletedGroups = append(tl.DeletedGroups, nid)
		} else {
			tl.DeletedArrays = append(tl.DeletedArrays, nid)
		}
	}
	for nid := range s.cs.updatedGroups {
		tl.UpdatedGroups = append(tl.UpdatedGroups, nid)
	}
	for nid := range s.cs.updatedArrays {
		tl.UpdatedArrays = append(tl.UpdatedArrays, nid)
	}
	shapes := map[NodeID][]DimensionShape{}
	for _, n := range s.nodes() {
		if n.Type == NodeArray {
			shapes[n.ID] = n.Shape
		}
	}
	for nid := range s.cs.chunks {
		shape, ok := shapes[nid]
		if !ok {
			continue
		}
		var coords [][]uint32
		for _, ch := range s.cs.sortedChunkChanges(nid) {
			if inGrid(shape, ch.coords) {
				coords = append(coords, slices.Clone(ch.coords))
			}
		}
		if len(coords) > 0 {
			tl.UpdatedChunks = append(tl.UpdatedChunks, ArrayUpdatedChunks{NodeID: nid, Chunks: coords})
		}
	}
	for _, l := range []*[]NodeID{&tl.NewGroups, &tl.NewArrays, &tl.DeletedGroups, &tl.DeletedArrays, &tl.UpdatedGroups, &tl.UpdatedArrays} {
		slices.SortFunc(*l, func(a, b NodeID) int { return bytes.Compare(a[:], b[:]) })
	}
	slices.SortFunc(tl.UpdatedChunks, func(a, b ArrayUpdatedChunks) int { return bytes.Compare(a.NodeID[:], b.NodeID[:]) })
	return tl
}

// manifestWriter builds the manifest refs of a new snapshot.
type manifestWriter struct {
	s       *Session
	files   map[ObjectID]ManifestFileInfo
	written int
}

// arrayManifests returns the manifest refs an array gets in the new
// snapshot, writing new manifests where its chunks changed.
func (w *manifestWriter) arrayManifests(ctx context.Context, n Node) ([]ManifestRef, error) {
	s := w.s
	isNew := s.isNew(n)
	_, updated := s.cs.updatedArrays[n.ID]
	changes := s.cs.sortedChunkChanges(n.ID)
	if !isNew && !updated && len(changes) == 0 {
		// Untouched array: keep its manifests.
		for _, mr := range n.Manifests {
			if err := w.keep(ctx, mr.ID); err != nil {
				return nil, fmt.Errorf("array %s: %w", n.Path, err)
			}
		}
		return n.Manifests, nil
	}
	var old []ManifestRef
	if !isNew {
		old = n.Manifests
	}
	var out []ManifestRef
	for _, split := range splitExtents(s.repo.Config(), n.Path, n.Shape, n.DimensionNames) {
		modified := false
		for _, ch := range changes {
			if extentsContain(split, ch.coords) {
				modified = true
				break
			}
		}
		var complete []ManifestRef
		partial := false
		for _, mr := range old {
			switch overlap(mr.Extents, split) {
			case overlapComplete:
				complete = append(complete, mr)
			case overlapPartial:
				partial = true
			}
		}
		if !modified && !partial {
			for _, mr := range complete {
				if err := w.keep(ctx, mr.ID); err != nil {
					return nil, fmt.Errorf("array %s: %w", n.Path, err)
				}
				out = append(out, ManifestRef{ID: mr.ID, Extents: slices.Clone(mr.Extents)})
			}
			continue
		}
		ref, ok, err := w.rewriteSplit(ctx, n, old, split, changes)
		if err != nil {
			return nil, fmt.Errorf("array %s: %w", n.Path, err)
		}
		if ok {
			out = append(out, ref)
		}
	}
	return out, nil
}

// rewriteSplit writes a manifest holding the array's chunk refs inside one
// split: the old manifests' refs with the session's changes applied. ok is
// false when the split holds no chunk.
func (w *manifestWriter) rewriteSplit(ctx context.Context, n Node, old []ManifestRef, split []ChunkIndexRange, changes []*chunkChange) (ManifestRef, bool, error) {
	s := w.s
	merged := map[string]ChunkRef{}
	for _, mr := range old {
		if overlap(mr.Extents, split) == overlapNone {
			continue
		}
		refs, err := s.manifestRefs(ctx, mr.ID, n.ID)
		if err != nil {
			return ManifestRef{}, false, err
		}
		for _, ref := range refs {
			if extentsContain(split, ref.Index) && inGrid(n.Shape, ref.Index) {
				k := coordKey(ref.Index)
				if _, dup := merged[k]; !dup {
					merged[k] = ref
				}
			}
		}
	}
	for _, ch := range changes {
		if !extentsContain(split, ch.coords) || !inGrid(n.Shape, ch.coords) {
			continue
		}
		k := coordKey(ch.coords)
		if ch.ref == nil {
			delete(merged, k)
		} else {
			merged[k] = *ch.ref
		}
	}
	if len(merged) == 0 {
		return ManifestRef{}, false, nil
	}
	refs := make([]ChunkRef, 0, len(merged))
	for _, ref := range merged {
		refs = append(refs, ref)
	}
	slices.SortFunc(refs, func(a, b ChunkRef) int { return compareCoords(a.Index, b.Index) })

	// Extents: the bounding box of the chunks present, as upstream records.
	ext := make([]ChunkIndexRange, len(n.Shape))
	for i := range ext {
		ext[i] = ChunkIndexRange{From: refs[0].Index[i], To: refs[0].Index[i] + 1}
	}
	for _, ref := range refs[1:] {
		for i, c := range ref.Index {
			ext[i].From = min(ext[i].From, c)
			ext[i].To = max(ext[i].To, c+1)
		}
	}

	id, err := s.repo.newObjectID()
	if err != nil {
		return ManifestRef{}, false, err
	}
	m := &Manifest{ID: id, Arrays: []ArrayManifest{{NodeID: n.ID, Refs: refs}}}
	data, err := EncodeManifest(m)
	if err != nil {
		return ManifestRef{}, false, fmt.Errorf("encode %s: %w", manifestKey(id), err)
	}
	if _, err := s.repo.store.PutIfAbsent(ctx, manifestKey(id), data); err != nil {
		return ManifestRef{}, false, fmt.Errorf("write %s: %w", manifestKey(id), err)
	}
	cachePut(s.repo.cache, s.repo.cache.manifests, id, m)
	w.files[id] = ManifestFileInfo{ID: id, SizeBytes: uint64(len(data)), NumChunkRefs: uint32(len(refs))}
	w.written++
	return ManifestRef{ID: id, Extents: ext}, true, nil
}

// keep lists an existing manifest in the new snapshot's manifest files,
// with the size and ref count the parent snapshot recorded (or, if the
// parent lacks the entry, measured from the object).
func (w *manifestWriter) keep(ctx context.Context, id ObjectID) error {
	if _, ok := w.files[id]; ok {
		return nil
	}
	for _, f := range w.s.snap.ManifestFiles {
		if f.ID == id {
			w.files[id] = f
			return nil
		}
	}
	data, _, err := w.s.repo.store.Get(ctx, manifestKey(id))
	if err != nil {
		return fmt.Errorf("read %s: %w", manifestKey(id), err)
	}
	m, err := DecodeManifest(manifestKey(id), data)
	if err != nil {
		return err
	}
	count := 0
	for _, a := range m.Arrays {
		count += len(a.Refs)
	}
	w.files[id] = ManifestFileInfo{ID: id, SizeBytes: uint64(len(data)), NumChunkRefs: uint32(count)}
	return nil
}

// Overlap of a manifest's extents with a split (upstream's asymmetric
// relation: complete means the extents lie inside the split).
type overlapKind int

const (
	overlapNone overlapKind = iota
	overlapPartial
	overlapComplete
)

func overlap(ext, split []ChunkIndexRange) overlapKind {
	if len(ext) != len(split) {
		return overlapPartial // a redefined array: rewrite, dropping what no longer fits
	}
	res := overlapComplete
	for i := range ext {
		a, b := ext[i], split[i]
		if a.To <= b.From || a.From >= b.To {
			return overlapNone
		}
		if !(a.From >= b.From && a.To <= b.To) {
			res = overlapPartial
		}
	}
	return res
}

// splitExtents divides an array's chunk grid into manifest splits with
// upstream 1.x's rules: every dimension starts unsplit; the config's rules
// are visited in order and, for each rule whose condition matches the path,
// each dimension not yet decided takes the split size of the first of the
// rule's dimension selectors that matches it (by axis, by dimension name
// regex, or any). The splits are listed in C order.
func splitExtents(cfg *Config, path string, shape []DimensionShape, names []*string) [][]ChunkIndexRange {
	nc := numChunks(shape)
	edges := make([][]uint32, len(shape))
	for i := range edges {
		edges[i] = []uint32{0, nc[i]}
	}
	if rules, ok := cfg.ManifestSplitting(); ok {
		decided := make([]bool, len(shape))
		for _, rule := range rules {
			if !rule.Condition.Matches(path) {
				continue
			}
			for axis := range shape {
				if decided[axis] {
					continue
				}
				var name *string
				if names != nil {
					if axis >= len(names) {
						continue // upstream walks only the named dimensions
					}
					name = names[axis]
				}
				for _, d := range rule.Dims {
					if dimMatches(d, axis, name) {
						edges[axis] = uniformEdges(nc[axis], d.NumChunks)
						decided[axis] = true
						break
					}
				}
			}
		}
	}
	out := [][]ChunkIndexRange{{}}
	for _, e := range edges {
		var next [][]ChunkIndexRange
		for _, prefix := range out {
			for j := 0; j+1 < len(e); j++ {
				ext := append(slices.Clone(prefix), ChunkIndexRange{From: e[j], To: e[j+1]})
				next = append(next, ext)
			}
		}
		out = next
	}
	return out
}

func dimMatches(d SplitDim, axis int, name *string) bool {
	switch d.Kind {
	case SplitDimAxis:
		return d.Axis == axis
	case SplitDimDimensionName:
		if name == nil {
			return false
		}
		re, err := regexp.Compile(d.DimensionName)
		return err == nil && re.MatchString(*name)
	case SplitDimAny:
		return true
	}
	return false
}

// uniformEdges cuts [0, n) into pieces of size chunks (the last one
// shorter).
func uniformEdges(n, size uint32) []uint32 {
	if size == 0 || size >= n {
		return []uint32{0, n}
	}
	var out []uint32
	for e := uint64(0); e <= uint64(n); e += uint64(size) {
		out = append(out, uint32(e))
	}
	if n%size != 0 {
		out = append(out, n)
	}
	return out
}
