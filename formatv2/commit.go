package formatv2

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
// transactions/<new id>, the snapshot snapshots/<new id>, then the branch
// update: at spec 1 a compare-and-swap of the branch ref file, at spec 2 an
// update of the `repo` object adding the snapshot (with the session's base
// as parent) and moving the branch ("new commit" in the ops log). Every
// object written carries the repository's spec version. metadata values
// (nil, bools, numbers, strings, []byte, slices and maps with string keys)
// are encoded as msgpack at spec 1 and as FlexBuffers at spec 2, as
// upstream does; read them back with DecodeCommitMetadataValue.
//
// Each array whose chunks or shape changed gets new manifests, one per
// manifest split (the whole chunk grid unless config.yaml configures
// manifest splitting) that changed, holding that array's merged refs;
// unchanged splits and unchanged arrays keep their manifest refs. This is
// what upstream writes.
//
// Errors: ErrReadOnly; ErrNoChanges; ErrFlushTimeNotIncreasing when the
// clock is not past the parent's flush time; ErrConflict when the branch no
// longer points at the session's base snapshot (objects written by the
// failed commit stay unreferenced); ErrUnsupportedSpec when a spec-1
// repository was migrated to spec 2 meanwhile; ErrRepositoryNotOnline when
// a spec-2 repository's status refuses writes. After a successful commit
// the session continues, writable, from the new snapshot.
func (s *Session) Commit(ctx context.Context, message string, metadata map[string]any) (ObjectID, error) {
	return s.commitOrAmend(ctx, "commit", message, metadata, false)
}

// Amend replaces the tip of the session's branch (the session's base
// snapshot) with a new snapshot holding the base's content plus the
// session's changes, the given message and metadata, and the base's parent
// as parent, as upstream's amend does. Its transaction log merges the
// base's with the session's changes. The replaced snapshot leaves the
// branch's history but stays in the repository (tags may point at it) until
// expiration or GC remove it; the ops log records "commit amended".
//
// Amend exists only at spec 2 (ErrSpec2Only at spec 1). The initial
// snapshot cannot be amended (ErrCannotAmendInitial). Other errors as
// Commit.
func (s *Session) Amend(ctx context.Context, message string, metadata map[string]any) (ObjectID, error) {
	if err := s.repo.usable(); err != nil {
		return ObjectID{}, err
	}
	if s.repo.spec != SpecVersion2 {
		return ObjectID{}, fmt.Errorf("formatv2: amend on branch %q: %w: repository %s is spec %d (amend exists only at spec 2)",
			s.branch, ErrSpec2Only, s.repo.store, s.repo.spec)
	}
	return s.commitOrAmend(ctx, "amend", message, metadata, true)
}

func (s *Session) commitOrAmend(ctx context.Context, op, message string, metadata map[string]any, amend bool) (ObjectID, error) {
	if err := s.repo.usable(); err != nil {
		return ObjectID{}, err
	}
	if s.readOnly {
		return ObjectID{}, fmt.Errorf("formatv2: %s: %w", op, ErrReadOnly)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cs.isEmpty() {
		return ObjectID{}, fmt.Errorf("formatv2: %s to branch %q: %w", op, s.branch, ErrNoChanges)
	}
	snap, err := s.commit(ctx, message, metadata, amend)
	if err != nil {
		return ObjectID{}, fmt.Errorf("formatv2: %s to branch %q: %w", op, s.branch, err)
	}
	cachePut(s.repo.cache, s.repo.cache.snapshots, snap.ID, snap)
	s.useSnapshot(snap)
	return snap.ID, nil
}

func (s *Session) commit(ctx context.Context, message string, metadata map[string]any, amend bool) (*Snapshot, error) {
	r := s.repo
	// Detect a moved branch before writing anything.
	var amended *TransactionLog
	if r.spec == SpecVersion2 {
		st, err := r.loadState(ctx)
		if err != nil {
			return nil, err
		}
		tip, ok := st.branches[s.branch]
		if !ok {
			return nil, fmt.Errorf("%w: the branch no longer exists", ErrConflict)
		}
		if tip != s.base {
			return nil, fmt.Errorf("%w: session is based on %s, the branch is at %s", ErrConflict, s.base, tip)
		}
		if amend {
			if st.snaps[s.base] == nil || st.parentOf(s.base) == nil {
				return nil, fmt.Errorf("%w: %s is the repository's initial snapshot", ErrCannotAmendInitial, s.base)
			}
			tl, err := r.ReadTransactionLog(ctx, s.base)
			if err != nil {
				return nil, fmt.Errorf("amend %s: %w", s.base, err)
			}
			amended = tl
		}
	} else {
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
	}
	flushedAt := timeToMicros(r.clock.Now())
	if flushedAt <= s.snap.FlushedAt {
		return nil, fmt.Errorf("%w: clock gives %s, parent %s was flushed at %s", ErrFlushTimeNotIncreasing,
			microsToTime(flushedAt).Format(time.RFC3339Nano), s.base, microsToTime(s.snap.FlushedAt).Format(time.RFC3339Nano))
	}
	items, err := metadataItems(r.spec, metadata)
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
			n.Manifests, n.Shape, n.ShapeV2, n.DimensionNames = nil, nil, nil, nil
			continue
		}
		refs, err := w.arrayManifests(ctx, *n)
		if err != nil {
			return nil, err
		}
		n.Manifests = refs
		if r.spec == SpecVersion2 {
			n.Shape, n.ShapeV2 = nil, shapeToV2(n.Shape)
		}
	}
	if r.spec == SpecVersion1 {
		// Spec 1 has no room for spec-2 reserved bytes (a migrated
		// repository never comes back to spec 1, so this only drops what
		// was never there).
		for i := range nodes {
			nodes[i].Extra = nil
		}
	}

	files := make([]ManifestFileInfo, 0, len(w.files))
	for _, f := range w.files {
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b ManifestFileInfo) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	parent := s.base
	snap := &Snapshot{
		ID:            id,
		SpecVersion:   uint8(r.spec),
		Nodes:         nodes,
		FlushedAt:     flushedAt,
		Message:       message,
		Metadata:      items,
		ManifestFiles: files,
	}
	if r.spec == SpecVersion1 {
		// Spec 2 keeps parentage in the repo object only.
		snap.ParentID = &parent
	}

	tl := s.transactionLog(id)
	if amended != nil {
		tl = mergeTransactionLogs(id, amended, tl)
	}
	txData, err := EncodeTransactionLog(tl)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", transactionLogKey(id), err)
	}
	if _, err := r.store.PutIfAbsent(ctx, transactionLogKey(id), txData); err != nil {
		return nil, fmt.Errorf("write %s: %w", transactionLogKey(id), err)
	}
	if err := r.writeSnapshot(ctx, snap); err != nil {
		return nil, err
	}
	if r.spec == SpecVersion2 {
		if err := r.commitV2(ctx, s.branch, s.base, snap, amend); err != nil {
			return nil, err
		}
	} else if err := r.updateBranch(ctx, s.branch, s.base, id); err != nil {
		return nil, err
	}
	r.log.Debug("committed", "branch", s.branch, "snapshot", id.String(), "parent", parent.String(),
		"amend", amend, "manifests_written", w.written)
	return snap, nil
}

// commitV2 records a new snapshot in the `repo` object and moves branch to
// it, failing with ErrConflict unless the branch still points at base. A
// new commit's parent is base; an amend's is base's parent, and it inherits
// base's pruned-ancestor transaction logs.
func (r *Repository) commitV2(ctx context.Context, branch string, base ObjectID, snap *Snapshot, amend bool) error {
	_, err := r.updateRepo(ctx, repoChange{
		what: fmt.Sprintf("commit to branch %q", branch),
		mutate: func(st *repoState, _ *RepoInfo) (Update, error) {
			tip, ok := st.branches[branch]
			if !ok {
				return Update{}, fmt.Errorf("%w: the branch no longer exists", ErrConflict)
			}
			if tip != base {
				return Update{}, fmt.Errorf("%w: session is based on %s, the branch is at %s", ErrConflict, base, tip)
			}
			baseEntry := st.snaps[base]
			if baseEntry == nil {
				return Update{}, fmt.Errorf("%w: base snapshot %s is not in the %s object", ErrConflict, base, repoInfoKey)
			}
			if _, dup := st.snaps[snap.ID]; dup {
				return Update{}, fmt.Errorf("%w: snapshot id %s is already in the %s object", ErrCorrupt, snap.ID, repoInfoKey)
			}
			e := &snapEntry{info: SnapshotInfo{
				ID: snap.ID, FlushedAt: snap.FlushedAt, Message: snap.Message, Metadata: snap.Metadata,
			}}
			u := Update{Type: UpdateNewCommit, Name: branch, NewSnapshot: snap.ID}
			if amend {
				if baseEntry.parent == nil {
					return Update{}, fmt.Errorf("%w: %s is the repository's initial snapshot", ErrCannotAmendInitial, base)
				}
				p := *baseEntry.parent
				e.parent = &p
				e.info.PrunedAncestorTxLogs = slices.Clone(baseEntry.info.PrunedAncestorTxLogs)
				u = Update{Type: UpdateCommitAmended, Name: branch, PreviousSnapshot: base, NewSnapshot: snap.ID}
			} else {
				b := base
				e.parent = &b
			}
			st.snaps[snap.ID] = e
			st.branches[branch] = snap.ID
			return u, nil
		},
	})
	return err
}

// microsToTime converts a flush time to a UTC time.
func microsToTime(us uint64) time.Time { return time.UnixMicro(int64(us)).UTC() }

// metadataItems encodes commit metadata for a snapshot of the given spec
// (msgpack at spec 1, FlexBuffers at spec 2), sorted by name.
func metadataItems(spec int, metadata map[string]any) ([]MetadataItem, error) {
	names := make([]string, 0, len(metadata))
	for k := range metadata {
		names = append(names, k)
	}
	sort.Strings(names)
	items := make([]MetadataItem, 0, len(names))
	for _, k := range names {
		v, err := encodeCommitMetadataValue(spec, metadata[k])
		if err != nil {
			return nil, fmt.Errorf("commit metadata %q: %w", k, err)
		}
		items = append(items, MetadataItem{Name: k, Value: v})
	}
	return items, nil
}

// transactionLog records what the session changed.
func (s *Session) transactionLog(id ObjectID) *TransactionLog {
	tl := &TransactionLog{ID: id, SpecVersion: uint8(s.repo.spec)}
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
				if ref.CompressedLocation != nil {
					if ref.Location == "" {
						// The location needs its manifest's dictionary, which
						// a new manifest would not carry.
						return ManifestRef{}, false, fmt.Errorf("manifest %s: chunk %v of %s: %w: virtual location compressed with the manifest's dictionary cannot be moved to a new manifest",
							mr.ID, ref.Index, n.Path, ErrCorrupt)
					}
					ref.CompressedLocation = nil
				}
				if s.repo.spec == SpecVersion1 {
					ref.Extra = nil
				}
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
	m := &Manifest{ID: id, SpecVersion: uint8(s.repo.spec), Arrays: []ArrayManifest{{NodeID: n.ID, Refs: refs}}}
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
