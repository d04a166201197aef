package actors

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/icerig/icerig/formatv1"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/zarr"
)

// V1 is the actor of formatv1, the 1.x line of the library: it reads and
// writes spec-1 repositories only. The zero value is ready to use.
type V1 struct{}

// v1Name is V1's actor name.
const v1Name = "v1"

// v1Kinds maps formatv1's sentinels to kinds; order decides the primary
// kind of an error carrying several.
var v1Kinds = []kindMapping{
	{formatv1.ErrUnsupportedSpec, ErrUnsupportedSpec},
	{formatv1.ErrNotARepository, ErrNotARepository},
	{formatv1.ErrRepositoryExists, ErrRepositoryExists},
	{formatv1.ErrConflict, ErrConflict},
	{formatv1.ErrRefNotFound, ErrRefNotFound},
	{formatv1.ErrBranchExists, ErrBranchExists},
	{formatv1.ErrTagExists, ErrTagExists},
	{formatv1.ErrCannotDeleteMain, ErrCannotDeleteMain},
	{formatv1.ErrInvalidRefName, ErrInvalidRefName},
	{formatv1.ErrInvalidVersionRef, ErrInvalidRefName},
	{formatv1.ErrReadOnly, ErrReadOnly},
	{formatv1.ErrNoChanges, ErrNoChanges},
	{formatv1.ErrVirtualChunk, ErrVirtualChunk},
	{formatv1.ErrKeyNotFound, ErrKeyNotFound},
	{formatv1.ErrNodeNotFound, ErrKeyNotFound},
	{formatv1.ErrInvalidKey, ErrInvalidKey},
	{formatv1.ErrNodeExists, ErrNodeExists},
	{formatv1.ErrFlushTimeNotIncreasing, ErrFlushTimeNotIncreasing},
	{formatv1.ErrNotAncestor, ErrNotAncestor},
	{formatv1.ErrCorrupt, ErrCorrupt},
	{formatv1.ErrInvalidID, ErrInvalidRefName},
}

// Name returns "v1".
func (V1) Name() string { return v1Name }

// Capabilities: spec 1 only, no migration, no amend.
func (V1) Capabilities() Capabilities {
	return Capabilities{Specs: []int{1}, DefaultSpec: 1}
}

func v1Options(opts Options) formatv1.Options {
	return formatv1.Options{Clock: opts.Clock, Rand: opts.Rand, Logger: opts.Logger}
}

// Create creates a spec-1 repository (opts.SpecVersion must be 0 or 1),
// writing config.yaml only when opts.InlineThreshold is set.
func (V1) Create(ctx context.Context, store objstore.Store, opts Options) (Handle, error) {
	const op = "create"
	if opts.SpecVersion != 0 && opts.SpecVersion != 1 {
		return nil, v1Err(op, fmt.Errorf("%w: formatv1 writes spec 1, not spec %d", ErrUnsupportedSpec, opts.SpecVersion))
	}
	if opts.InlineThreshold < 0 {
		return nil, v1Err(op, fmt.Errorf("negative inline threshold %d", opts.InlineThreshold))
	}
	var cfg *formatv1.Config
	if opts.InlineThreshold > 0 {
		cfg = formatv1.DefaultConfig()
		cfg.SetInlineChunkThresholdBytes(opts.InlineThreshold)
	}
	r, err := formatv1.Create(ctx, store, cfg, v1Options(opts))
	if err != nil {
		return nil, v1Err(op, err)
	}
	return &v1Repo{r: r}, nil
}

// Open opens a spec-1 repository; a spec-2 one is ErrUnsupportedSpec.
func (V1) Open(ctx context.Context, store objstore.Store, opts Options) (Handle, error) {
	r, err := formatv1.Open(ctx, store, v1Options(opts))
	if err != nil {
		return nil, v1Err("open", err)
	}
	return &v1Repo{r: r}, nil
}

func v1Err(op string, err error) error { return normalize(v1Name, op, err, v1Kinds) }

// v1Repo is a formatv1 repository behind the Handle interface.
type v1Repo struct {
	r *formatv1.Repository
}

func (v *v1Repo) Actor() string    { return v1Name }
func (v *v1Repo) SpecVersion() int { return 1 }

// versionRef converts a Ref; a malformed snapshot id is ErrInvalidRefName.
func (v *v1Repo) versionRef(ref Ref) (formatv1.VersionRef, error) {
	if err := ref.validate(); err != nil {
		return formatv1.VersionRef{}, err
	}
	switch ref.Kind {
	case RefBranch:
		return formatv1.BranchRef(ref.Name), nil
	case RefTag:
		return formatv1.TagRef(ref.Name), nil
	}
	id, err := formatv1.ParseObjectID(ref.Name)
	if err != nil {
		return formatv1.VersionRef{}, fmt.Errorf("ref %s: %w: %w", ref, ErrInvalidRefName, err)
	}
	return formatv1.SnapshotRef(id), nil
}

func (v *v1Repo) resolve(ctx context.Context, ref Ref) (formatv1.ObjectID, error) {
	vr, err := v.versionRef(ref)
	if err != nil {
		return formatv1.ObjectID{}, err
	}
	return v.r.ResolveRef(ctx, vr)
}

func (v *v1Repo) session(ctx context.Context, ref Ref) (*formatv1.Session, error) {
	vr, err := v.versionRef(ref)
	if err != nil {
		return nil, err
	}
	return v.r.ReadonlySession(ctx, vr)
}

func (v *v1Repo) Resolve(ctx context.Context, ref Ref) (string, error) {
	id, err := v.resolve(ctx, ref)
	if err != nil {
		return "", v1Err("resolve "+ref.String(), err)
	}
	return id.String(), nil
}

// idMap renders the ids of a name -> id map (of any library version) as
// text.
func idMap[ID fmt.Stringer](m map[string]ID) map[string]string {
	out := make(map[string]string, len(m))
	for name, id := range m {
		out[name] = id.String()
	}
	return out
}

func (v *v1Repo) Branches(ctx context.Context) (map[string]string, error) {
	m, err := v.r.ListBranches(ctx)
	if err != nil {
		return nil, v1Err("list branches", err)
	}
	return idMap(m), nil
}

func (v *v1Repo) Tags(ctx context.Context) (map[string]string, error) {
	m, err := v.r.ListTags(ctx)
	if err != nil {
		return nil, v1Err("list tags", err)
	}
	return idMap(m), nil
}

func (v *v1Repo) DeletedTags(ctx context.Context) ([]string, error) {
	names, err := v.r.ListDeletedTags(ctx)
	if err != nil {
		return nil, v1Err("list deleted tags", err)
	}
	out := append([]string{}, names...)
	sort.Strings(out)
	return out, nil
}

func (v *v1Repo) Ancestry(ctx context.Context, ref Ref) ([]SnapshotInfo, error) {
	op := "ancestry of " + ref.String()
	id, err := v.resolve(ctx, ref)
	if err != nil {
		return nil, v1Err(op, err)
	}
	snaps, err := v.r.Ancestry(ctx, id)
	if err != nil {
		return nil, v1Err(op, err)
	}
	out := make([]SnapshotInfo, 0, len(snaps))
	for _, s := range snaps {
		info, err := v1SnapshotInfo(s)
		if err != nil {
			return nil, v1Err(op, err)
		}
		out = append(out, info)
	}
	return out, nil
}

func v1SnapshotInfo(s *formatv1.Snapshot) (SnapshotInfo, error) {
	info := SnapshotInfo{
		ID:            s.ID.String(),
		Message:       s.Message,
		FlushedAt:     time.UnixMicro(int64(s.FlushedAt)).UTC(),
		ManifestFiles: len(s.ManifestFiles),
	}
	if s.ParentID != nil {
		info.ParentID = s.ParentID.String()
	}
	for _, item := range s.Metadata {
		val, err := formatv1.DecodeMetadataValue(item.Value)
		if err != nil {
			return SnapshotInfo{}, fmt.Errorf("snapshot %s: metadata %q: %w: %w", s.ID, item.Name, ErrCorrupt, err)
		}
		if info.Metadata == nil {
			info.Metadata = map[string]any{}
		}
		info.Metadata[item.Name] = val
	}
	return info, nil
}

func (v *v1Repo) Nodes(ctx context.Context, ref Ref) ([]NodeInfo, error) {
	op := "nodes of " + ref.String()
	sess, err := v.session(ctx, ref)
	if err != nil {
		return nil, v1Err(op, err)
	}
	nodes, err := sess.Nodes(ctx)
	if err != nil {
		return nil, v1Err(op, err)
	}
	out := make([]NodeInfo, 0, len(nodes))
	for _, n := range nodes {
		info := NodeInfo{Path: n.Path, ZarrJSON: n.UserData, Type: zarr.NodeGroup}
		if n.Type == formatv1.NodeArray {
			info.Type = zarr.NodeArray
			refs, err := sess.ArrayChunkRefs(ctx, n.Path)
			if err != nil {
				return nil, v1Err(op, err)
			}
			for _, cr := range refs {
				switch cr.Kind {
				case formatv1.ChunkNative:
					info.Chunks.Native++
				case formatv1.ChunkInline:
					info.Chunks.Inline++
				case formatv1.ChunkVirtual:
					info.Chunks.Virtual++
				default:
					return nil, v1Err(op, fmt.Errorf("array %s: chunk %v: %w: reference of unknown kind %d", n.Path, cr.Index, ErrCorrupt, cr.Kind))
				}
			}
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (v *v1Repo) Get(ctx context.Context, ref Ref, key string) ([]byte, error) {
	op := fmt.Sprintf("get %q at %s", key, ref)
	sess, err := v.session(ctx, ref)
	if err != nil {
		return nil, v1Err(op, err)
	}
	data, err := sess.Get(ctx, key)
	if err != nil {
		return nil, v1Err(op, err)
	}
	return data, nil
}

func (v *v1Repo) Fsck(ctx context.Context) ([]Finding, error) {
	fs, err := v.r.Fsck(ctx)
	if err != nil {
		return nil, v1Err("fsck", err)
	}
	out := make([]Finding, 0, len(fs))
	for _, f := range fs {
		out = append(out, Finding{Object: f.Object, Problem: f.Problem})
	}
	return out, nil
}

// idStrings renders ids (of any library version) as text.
func idStrings[ID fmt.Stringer](ids []ID) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, id.String())
	}
	return out
}

func (v *v1Repo) ExpireSnapshots(ctx context.Context, olderThan time.Time, deleteExpiredBranches, deleteExpiredTags bool) (ExpireResult, error) {
	res, err := v.r.ExpireSnapshots(ctx, olderThan, deleteExpiredBranches, deleteExpiredTags)
	if err != nil {
		return ExpireResult{}, v1Err("expire snapshots", err)
	}
	return ExpireResult{
		ReleasedSnapshots: idStrings(res.ReleasedSnapshots),
		EditedSnapshots:   idStrings(res.EditedSnapshots),
		DeletedBranches:   append([]string{}, res.DeletedBranches...),
		DeletedTags:       append([]string{}, res.DeletedTags...),
	}, nil
}

func (v *v1Repo) GarbageCollect(ctx context.Context, olderThan time.Time, dryRun bool) (GCResult, error) {
	sum, err := v.r.GarbageCollect(ctx, olderThan, dryRun)
	if err != nil {
		return GCResult{}, v1Err("garbage collect", err)
	}
	return GCResult{
		SnapshotsDeleted:       sum.SnapshotsDeleted,
		ManifestsDeleted:       sum.ManifestsDeleted,
		ChunksDeleted:          sum.ChunksDeleted,
		TransactionLogsDeleted: sum.TransactionLogsDeleted,
		BytesDeleted:           sum.BytesDeleted,
	}, nil
}
