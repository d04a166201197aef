package actors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/zarr"
)

// V2 is the actor of formatv2, the current line of the library: it reads
// and writes spec-1 and spec-2 repositories, creates spec 2 by default,
// migrates spec 1 to spec 2 and amends commits (at spec 2). Its Repos
// implement [Spec2Reader]. The zero value is ready to use.
type V2 struct{}

// v2Name is V2's actor name.
const v2Name = "v2"

// v2Kinds maps formatv2's sentinels to kinds; order decides the primary
// kind of an error carrying several (the most specific first, as in
// kinds).
var v2Kinds = []kindMapping{
	{formatv2.ErrHandleInvalid, ErrHandleInvalid},
	{formatv2.ErrAlreadyMigrated, ErrAlreadyUpgraded},
	{formatv2.ErrMigrationDiverged, ErrUpgradeDiverged},
	{formatv2.ErrSpec2Only, ErrSpec2Only},
	{formatv2.ErrRepositoryExists, ErrRepositoryExists},
	{formatv2.ErrUnsupportedSpec, ErrUnsupportedSpec},
	{formatv2.ErrNotARepository, ErrNotARepository},
	{formatv2.ErrRepositoryNotOnline, ErrRepositoryNotOnline},
	{formatv2.ErrConflict, ErrConflict},
	{formatv2.ErrCannotAmendInitial, ErrCannotAmendInitial},
	{formatv2.ErrFlushTimeNotIncreasing, ErrFlushTimeNotIncreasing},
	{formatv2.ErrRefNotFound, ErrRefNotFound},
	{formatv2.ErrBranchExists, ErrBranchExists},
	{formatv2.ErrTagExists, ErrTagExists},
	{formatv2.ErrCannotDeleteMain, ErrCannotDeleteMain},
	{formatv2.ErrInvalidRefName, ErrInvalidRefName},
	{formatv2.ErrInvalidVersionRef, ErrInvalidRefName},
	{formatv2.ErrReadOnly, ErrReadOnly},
	{formatv2.ErrNoChanges, ErrNoChanges},
	{formatv2.ErrNodeExists, ErrNodeExists},
	{formatv2.ErrNotAncestor, ErrNotAncestor},
	{formatv2.ErrVirtualChunk, ErrVirtualChunk},
	{formatv2.ErrKeyNotFound, ErrKeyNotFound},
	{formatv2.ErrNodeNotFound, ErrKeyNotFound},
	{formatv2.ErrInvalidKey, ErrInvalidKey},
	{formatv2.ErrCorrupt, ErrCorrupt},
	{formatv2.ErrInvalidID, ErrInvalidRefName},
}

// Name returns "v2".
func (V2) Name() string { return v2Name }

// Capabilities: specs 1 and 2 (spec 2 by default), migration and amend.
func (V2) Capabilities() Capabilities {
	return Capabilities{Specs: []int{1, 2}, DefaultSpec: 2, Upgrade: true, Amend: true}
}

func v2Options(opts Options) formatv2.Options {
	return formatv2.Options{Clock: opts.Clock, Rand: opts.Rand, Logger: opts.Logger}
}

// Create creates a repository of opts.SpecVersion (0 means spec 2). A
// configuration is written only when opts.InlineThreshold is set (at spec
// 1 as config.yaml, at spec 2 inside the repo object).
func (V2) Create(ctx context.Context, store objstore.Store, opts Options) (Handle, error) {
	const op = "create"
	if opts.SpecVersion != 0 && opts.SpecVersion != 1 && opts.SpecVersion != 2 {
		return nil, v2Err(op, fmt.Errorf("%w: formatv2 writes spec 1 or 2, not spec %d", ErrUnsupportedSpec, opts.SpecVersion))
	}
	if opts.InlineThreshold < 0 {
		return nil, v2Err(op, fmt.Errorf("negative inline threshold %d", opts.InlineThreshold))
	}
	create := formatv2.CreateOptions{SpecVersion: opts.SpecVersion}
	if opts.InlineThreshold > 0 {
		create.Config = formatv2.DefaultConfig()
		create.Config.SetInlineChunkThresholdBytes(opts.InlineThreshold)
	}
	r, err := formatv2.Create(ctx, store, create, v2Options(opts))
	if err != nil {
		if errors.Is(err, formatv2.ErrRepositoryExists) {
			// formatv2 explains a spec-2 repository in the store with its
			// "unsupported spec" check; for this actor, which reads spec
			// 2, the store simply holds a repository.
			return nil, &Error{Kind: ErrRepositoryExists, Actor: v2Name, Op: op, Err: err}
		}
		return nil, v2Err(op, err)
	}
	return &v2Repo{r: r}, nil
}

// Open opens a spec-1 or spec-2 repository.
func (V2) Open(ctx context.Context, store objstore.Store, opts Options) (Handle, error) {
	r, err := formatv2.Open(ctx, store, v2Options(opts))
	if err != nil {
		return nil, v2Err("open", err)
	}
	return &v2Repo{r: r}, nil
}

func v2Err(op string, err error) error { return normalize(v2Name, op, err, v2Kinds) }

// v2Repo is a formatv2 repository behind the Handle and Spec2Reader
// interfaces.
type v2Repo struct {
	r *formatv2.Repository
}

func (v *v2Repo) Actor() string    { return v2Name }
func (v *v2Repo) SpecVersion() int { return v.r.SpecVersion() }

// versionRef converts a Ref; a malformed snapshot id is ErrInvalidRefName.
func (v *v2Repo) versionRef(ref Ref) (formatv2.VersionRef, error) {
	if err := ref.validate(); err != nil {
		return formatv2.VersionRef{}, err
	}
	switch ref.Kind {
	case RefBranch:
		return formatv2.BranchRef(ref.Name), nil
	case RefTag:
		return formatv2.TagRef(ref.Name), nil
	}
	id, err := formatv2.ParseObjectID(ref.Name)
	if err != nil {
		return formatv2.VersionRef{}, fmt.Errorf("ref %s: %w: %w", ref, ErrInvalidRefName, err)
	}
	return formatv2.SnapshotRef(id), nil
}

func (v *v2Repo) resolve(ctx context.Context, ref Ref) (formatv2.ObjectID, error) {
	vr, err := v.versionRef(ref)
	if err != nil {
		return formatv2.ObjectID{}, err
	}
	return v.r.ResolveRef(ctx, vr)
}

func (v *v2Repo) session(ctx context.Context, ref Ref) (*formatv2.Session, error) {
	vr, err := v.versionRef(ref)
	if err != nil {
		return nil, err
	}
	return v.r.ReadonlySession(ctx, vr)
}

func (v *v2Repo) Resolve(ctx context.Context, ref Ref) (string, error) {
	id, err := v.resolve(ctx, ref)
	if err != nil {
		return "", v2Err("resolve "+ref.String(), err)
	}
	return id.String(), nil
}

func (v *v2Repo) Branches(ctx context.Context) (map[string]string, error) {
	m, err := v.r.ListBranches(ctx)
	if err != nil {
		return nil, v2Err("list branches", err)
	}
	return idMap(m), nil
}

func (v *v2Repo) Tags(ctx context.Context) (map[string]string, error) {
	m, err := v.r.ListTags(ctx)
	if err != nil {
		return nil, v2Err("list tags", err)
	}
	return idMap(m), nil
}

func (v *v2Repo) DeletedTags(ctx context.Context) ([]string, error) {
	names, err := v.r.ListDeletedTags(ctx)
	if err != nil {
		return nil, v2Err("list deleted tags", err)
	}
	out := append([]string{}, names...)
	sort.Strings(out)
	return out, nil
}

func (v *v2Repo) Ancestry(ctx context.Context, ref Ref) ([]SnapshotInfo, error) {
	op := "ancestry of " + ref.String()
	id, err := v.resolve(ctx, ref)
	if err != nil {
		return nil, v2Err(op, err)
	}
	snaps, err := v.r.Ancestry(ctx, id)
	if err != nil {
		return nil, v2Err(op, err)
	}
	out := make([]SnapshotInfo, 0, len(snaps))
	for _, s := range snaps {
		info, err := v2SnapshotInfo(s)
		if err != nil {
			return nil, v2Err(op, err)
		}
		out = append(out, info)
	}
	return out, nil
}

// v2SnapshotInfo describes a snapshot of an ancestry (whose ParentID
// formatv2 set from the repository's records). Metadata values decode as
// the snapshot file's spec stores them: msgpack at spec 1, FlexBuffers at
// spec 2 (a migrated repository holds both).
func v2SnapshotInfo(s *formatv2.Snapshot) (SnapshotInfo, error) {
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
		val, err := formatv2.DecodeCommitMetadataValue(s.SpecVersion, item.Value)
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

func (v *v2Repo) Nodes(ctx context.Context, ref Ref) ([]NodeInfo, error) {
	op := "nodes of " + ref.String()
	sess, err := v.session(ctx, ref)
	if err != nil {
		return nil, v2Err(op, err)
	}
	nodes, err := sess.Nodes(ctx)
	if err != nil {
		return nil, v2Err(op, err)
	}
	out := make([]NodeInfo, 0, len(nodes))
	for _, n := range nodes {
		info := NodeInfo{Path: n.Path, ZarrJSON: n.UserData, Type: zarr.NodeGroup}
		if n.Type == formatv2.NodeArray {
			info.Type = zarr.NodeArray
			refs, err := sess.ArrayChunkRefs(ctx, n.Path)
			if err != nil {
				return nil, v2Err(op, err)
			}
			for _, cr := range refs {
				switch cr.Kind {
				case formatv2.ChunkNative:
					info.Chunks.Native++
				case formatv2.ChunkInline:
					info.Chunks.Inline++
				case formatv2.ChunkVirtual:
					info.Chunks.Virtual++
				default:
					return nil, v2Err(op, fmt.Errorf("array %s: chunk %v: %w: reference of unknown kind %d", n.Path, cr.Index, ErrCorrupt, cr.Kind))
				}
			}
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (v *v2Repo) Get(ctx context.Context, ref Ref, key string) ([]byte, error) {
	op := fmt.Sprintf("get %q at %s", key, ref)
	sess, err := v.session(ctx, ref)
	if err != nil {
		return nil, v2Err(op, err)
	}
	data, err := sess.Get(ctx, key)
	if err != nil {
		return nil, v2Err(op, err)
	}
	return data, nil
}

func (v *v2Repo) Fsck(ctx context.Context) ([]Finding, error) {
	fs, err := v.r.Fsck(ctx)
	if err != nil {
		return nil, v2Err("fsck", err)
	}
	out := make([]Finding, 0, len(fs))
	for _, f := range fs {
		out = append(out, Finding{Object: f.Object, Problem: f.Problem})
	}
	return out, nil
}

func (v *v2Repo) ExpireSnapshots(ctx context.Context, olderThan time.Time, deleteExpiredBranches, deleteExpiredTags bool) (ExpireResult, error) {
	res, err := v.r.ExpireSnapshots(ctx, olderThan, deleteExpiredBranches, deleteExpiredTags)
	if err != nil {
		return ExpireResult{}, v2Err("expire snapshots", err)
	}
	return ExpireResult{
		ReleasedSnapshots: idStrings(res.ReleasedSnapshots),
		EditedSnapshots:   idStrings(res.EditedSnapshots),
		DeletedBranches:   append([]string{}, res.DeletedBranches...),
		DeletedTags:       append([]string{}, res.DeletedTags...),
	}, nil
}

func (v *v2Repo) GarbageCollect(ctx context.Context, olderThan time.Time, dryRun bool) (GCResult, error) {
	sum, err := v.r.GarbageCollect(ctx, olderThan, dryRun)
	if err != nil {
		return GCResult{}, v2Err("garbage collect", err)
	}
	return GCResult{
		SnapshotsDeleted:       sum.SnapshotsDeleted,
		ManifestsDeleted:       sum.ManifestsDeleted,
		ChunksDeleted:          sum.ChunksDeleted,
		TransactionLogsDeleted: sum.TransactionLogsDeleted,
		BytesDeleted:           sum.BytesDeleted,
	}, nil
}

// OpsLog lists the ops log of a spec-2 repository, newest first, every
// entry typed as opsLogTypes names it (ErrSpec2Only at spec 1).
func (v *v2Repo) OpsLog(ctx context.Context) ([]OpsLogEntry, error) {
	const op = "ops log"
	ups, err := v.r.OpsLog(ctx)
	if err != nil {
		return nil, v2Err(op, err)
	}
	out := make([]OpsLogEntry, 0, len(ups))
	for i, u := range ups {
		e, err := opsLogEntry(u)
		if err != nil {
			return nil, v2Err(op, fmt.Errorf("entry %d: %w", i, err))
		}
		out = append(out, e)
	}
	return out, nil
}

// Status is the status of a spec-2 repository (ErrSpec2Only at spec 1).
func (v *v2Repo) Status(ctx context.Context) (RepoStatus, error) {
	st, err := v.r.Status(ctx)
	if err != nil {
		return RepoStatus{}, v2Err("status", err)
	}
	return repoStatus(st)
}

// The ops log entry types, as OpsLogEntry.Type names them: upstream's
// update kinds in snake case, without "Update".
const (
	OpRepoInitialized     = "repo_initialized"
	OpRepoMigrated        = "repo_migrated"
	OpConfigChanged       = "config_changed"
	OpMetadataChanged     = "metadata_changed"
	OpTagCreated          = "tag_created"
	OpTagDeleted          = "tag_deleted"
	OpBranchCreated       = "branch_created"
	OpBranchDeleted       = "branch_deleted"
	OpBranchReset         = "branch_reset"
	OpNewCommit           = "new_commit"
	OpCommitAmended       = "commit_amended"
	OpNewDetachedSnapshot = "new_detached_snapshot"
	OpGCRan               = "gc_ran"
	OpExpirationRan       = "expiration_ran"
	OpFeatureFlagChanged  = "feature_flag_changed"
	OpRepoStatusChanged   = "repo_status_changed"
)

// opsLogTypes names formatv2's update kinds.
var opsLogTypes = map[formatv2.UpdateType]string{
	formatv2.UpdateRepoInitialized:     OpRepoInitialized,
	formatv2.UpdateRepoMigrated:        OpRepoMigrated,
	formatv2.UpdateConfigChanged:       OpConfigChanged,
	formatv2.UpdateMetadataChanged:     OpMetadataChanged,
	formatv2.UpdateTagCreated:          OpTagCreated,
	formatv2.UpdateTagDeleted:          OpTagDeleted,
	formatv2.UpdateBranchCreated:       OpBranchCreated,
	formatv2.UpdateBranchDeleted:       OpBranchDeleted,
	formatv2.UpdateBranchReset:         OpBranchReset,
	formatv2.UpdateNewCommit:           OpNewCommit,
	formatv2.UpdateCommitAmended:       OpCommitAmended,
	formatv2.UpdateNewDetachedSnapshot: OpNewDetachedSnapshot,
	formatv2.UpdateGCRan:               OpGCRan,
	formatv2.UpdateExpirationRan:       OpExpirationRan,
	formatv2.UpdateFeatureFlagChanged:  OpFeatureFlagChanged,
	formatv2.UpdateRepoStatusChanged:   OpRepoStatusChanged,
}

// statusTimeLayout renders times inside ops log fields as the reports do:
// RFC 3339, UTC, six fractional digits.
const statusTimeLayout = "2006-01-02T15:04:05.000000Z"

// opsLogEntry types one formatv2 update. Its fields are named as in
// upstream's schema: "name" (branch or tag), "branch" (of a commit),
// "previous_snap_id", "new_snap_id", "from_version"/"to_version",
// "status" ({"availability", "set_at", "limited_availability_reason"}),
// "id"/"new_value"/"is_set" (feature flags); "backup_path" names the
// backup under overwritten/ of the repo object the update produced, when
// there is one.
func opsLogEntry(u formatv2.Update) (OpsLogEntry, error) {
	typ, ok := opsLogTypes[u.Type]
	if !ok {
		return OpsLogEntry{}, fmt.Errorf("%w: unknown update kind %d", ErrCorrupt, u.Type)
	}
	e := OpsLogEntry{Type: typ, UpdatedAt: time.UnixMicro(int64(u.UpdatedAt)).UTC(), Fields: map[string]any{}}
	f := e.Fields
	switch u.Type {
	case formatv2.UpdateRepoMigrated:
		f["from_version"], f["to_version"] = int(u.FromVersion), int(u.ToVersion)
	case formatv2.UpdateTagCreated, formatv2.UpdateBranchCreated:
		f["name"] = u.Name
	case formatv2.UpdateTagDeleted, formatv2.UpdateBranchDeleted, formatv2.UpdateBranchReset:
		f["name"], f["previous_snap_id"] = u.Name, u.PreviousSnapshot.String()
	case formatv2.UpdateNewCommit:
		f["branch"], f["new_snap_id"] = u.Name, u.NewSnapshot.String()
	case formatv2.UpdateCommitAmended:
		f["branch"], f["previous_snap_id"], f["new_snap_id"] = u.Name, u.PreviousSnapshot.String(), u.NewSnapshot.String()
	case formatv2.UpdateNewDetachedSnapshot:
		f["new_snap_id"] = u.NewSnapshot.String()
	case formatv2.UpdateFeatureFlagChanged:
		f["id"], f["new_value"], f["is_set"] = int(u.FlagID), u.FlagNewValue, u.FlagIsSet
	case formatv2.UpdateRepoStatusChanged:
		st, err := repoStatus(u.Status)
		if err != nil {
			return OpsLogEntry{}, err
		}
		f["status"] = map[string]any{
			"availability":                st.Availability,
			"set_at":                      st.SetAt.Format(statusTimeLayout),
			"limited_availability_reason": st.LimitedAvailabilityReason,
		}
	}
	if u.BackupPath != "" {
		f["backup_path"] = u.BackupPath
	}
	if len(f) == 0 {
		e.Fields = nil
	}
	return e, nil
}

// repoStatus converts a formatv2 status; availabilities are named as
// upstream's Python API names them ("online", "read_only", "offline").
func repoStatus(st formatv2.RepoStatus) (RepoStatus, error) {
	var avail string
	switch st.Availability {
	case formatv2.RepoOnline:
		avail = "online"
	case formatv2.RepoReadOnly:
		avail = "read_only"
	case formatv2.RepoOffline:
		avail = "offline"
	default:
		return RepoStatus{}, fmt.Errorf("%w: unknown repository availability %d", ErrCorrupt, st.Availability)
	}
	return RepoStatus{
		Availability:              avail,
		SetAt:                     time.UnixMicro(int64(st.SetAt)).UTC(),
		LimitedAvailabilityReason: st.LimitedAvailabilityReason,
	}, nil
}
