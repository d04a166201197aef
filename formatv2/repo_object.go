package formatv2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/icerig/icerig/objstore"
)

// The spec-2 `repo` object: the one mutable object of a spec-2 repository.
// Every change (commit, ref change, expiration, GC, status, config) is a
// read-modify-write of it:
//
//  1. read `repo` with its version and decode it;
//  2. refuse if the repository is not online (except for status changes);
//  3. apply the change to the decoded state, checking its preconditions on
//     that fresh state (a commit fails with ErrConflict if its branch moved);
//  4. push an ops log entry, giving the previous newest entry the name of
//     the backup about to be written;
//  5. copy the bytes read in 1 to overwritten/repo.<14 digits>.<random id>
//     (create-if-absent);
//  6. write the new object only if `repo` is still at the version read.
//
// A lost race in 6 (another client changed `repo`) starts over at 1, so a
// concurrent change that does not conflict (another branch moved) is
// retried transparently, while one that does (this branch moved) surfaces
// from step 3 as an error.

// maxRepoUpdateAttempts bounds the retries of a `repo` update that keeps
// losing compare-and-swap races.
const maxRepoUpdateAttempts = 64

// year3000Millis is 3000-01-01T00:00:00Z in milliseconds since the epoch;
// backup names count down from it so that a listing shows the newest first.
const year3000Millis = 32503680000000

// errRepoMoved reports that the `repo` object is no longer at the version
// an operation (expiration, GC) computed its change from.
var errRepoMoved = errors.New("repo object changed since it was read")

// decodeRepoObject decodes a `repo` object and checks that it is spec 2.
func decodeRepoObject(key string, data []byte) (*RepoInfo, error) {
	info, err := DecodeRepoInfo(key, data)
	if err != nil {
		return nil, err
	}
	if info.SpecVersion != SpecVersion2 {
		return nil, fmt.Errorf("formatv2: %s: %w: repo object of spec version %d", key, ErrUnsupportedSpec, info.SpecVersion)
	}
	return info, nil
}

// repoState is a mutable, index-free view of a RepoInfo: refs and parents
// by snapshot id. Changes are made on it and turned back into a RepoInfo
// by build.
type repoState struct {
	branches    map[string]ObjectID
	tags        map[string]ObjectID
	deletedTags map[string]bool
	snaps       map[ObjectID]*snapEntry
}

// snapEntry is one live snapshot of a repoState.
type snapEntry struct {
	info   SnapshotInfo // ParentIndex is not maintained here
	parent *ObjectID    // nil for a root
}

// stateOf indexes a decoded RepoInfo, checking that every index points
// inside the snapshot list. key names the object in errors.
func stateOf(key string, info *RepoInfo) (*repoState, error) {
	n := len(info.Snapshots)
	st := &repoState{
		branches:    make(map[string]ObjectID, len(info.Branches)),
		tags:        make(map[string]ObjectID, len(info.Tags)),
		deletedTags: make(map[string]bool, len(info.DeletedTags)),
		snaps:       make(map[ObjectID]*snapEntry, n),
	}
	for i, s := range info.Snapshots {
		if _, dup := st.snaps[s.ID]; dup {
			return nil, fmt.Errorf("formatv2: %s: %w: snapshot %s listed twice", key, ErrCorrupt, s.ID)
		}
		e := &snapEntry{info: s}
		switch {
		case s.ParentIndex == -1:
		case s.ParentIndex < 0 || s.ParentIndex >= n || s.ParentIndex == i:
			return nil, fmt.Errorf("formatv2: %s: %w: snapshot %s has parent index %d of %d snapshots", key, ErrCorrupt, s.ID, s.ParentIndex, n)
		default:
			p := info.Snapshots[s.ParentIndex].ID
			e.parent = &p
		}
		st.snaps[s.ID] = e
	}
	for _, group := range []struct {
		kind string
		refs []RefEntry
		into map[string]ObjectID
	}{{"branch", info.Branches, st.branches}, {"tag", info.Tags, st.tags}} {
		for _, ref := range group.refs {
			if int64(ref.SnapshotIndex) >= int64(n) {
				return nil, fmt.Errorf("formatv2: %s: %w: %s %q points at snapshot index %d of %d", key, ErrCorrupt, group.kind, ref.Name, ref.SnapshotIndex, n)
			}
			if _, dup := group.into[ref.Name]; dup {
				return nil, fmt.Errorf("formatv2: %s: %w: %s %q listed twice", key, ErrCorrupt, group.kind, ref.Name)
			}
			group.into[ref.Name] = info.Snapshots[ref.SnapshotIndex].ID
		}
	}
	for _, name := range info.DeletedTags {
		st.deletedTags[name] = true
	}
	return st, nil
}

// build turns the state back into a RepoInfo: snapshots sorted by id bytes
// (as upstream sorts them, so that readers can binary-search), refs and
// deleted tags sorted by name, every other field (status, config, feature
// flags, metadata, ops log, reserved bytes) taken from base.
func (st *repoState) build(base *RepoInfo) (*RepoInfo, error) {
	out := *base
	ids := make([]ObjectID, 0, len(st.snaps))
	for id := range st.snaps {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b ObjectID) int { return bytes.Compare(a[:], b[:]) })
	index := make(map[ObjectID]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	out.Snapshots = make([]SnapshotInfo, len(ids))
	for i, id := range ids {
		e := st.snaps[id]
		si := e.info
		si.ID = id
		si.ParentIndex = -1
		if e.parent != nil {
			p, ok := index[*e.parent]
			if !ok {
				return nil, fmt.Errorf("formatv2: build %s: snapshot %s has parent %s, which is not in the repo object", repoInfoKey, id, *e.parent)
			}
			si.ParentIndex = p
		}
		out.Snapshots[i] = si
	}
	refs := func(kind string, m map[string]ObjectID) ([]RefEntry, error) {
		names := slices.Sorted(mapKeysOf(m))
		entries := make([]RefEntry, 0, len(names))
		for _, name := range names {
			i, ok := index[m[name]]
			if !ok {
				return nil, fmt.Errorf("formatv2: build %s: %s %q points at snapshot %s, which is not in the repo object", repoInfoKey, kind, name, m[name])
			}
			entries = append(entries, RefEntry{Name: name, SnapshotIndex: uint32(i)})
		}
		return entries, nil
	}
	var err error
	if out.Branches, err = refs("branch", st.branches); err != nil {
		return nil, err
	}
	if out.Tags, err = refs("tag", st.tags); err != nil {
		return nil, err
	}
	out.DeletedTags = slices.Sorted(mapKeysOf(st.deletedTags))
	out.LatestUpdates = slices.Clone(base.LatestUpdates)
	return &out, nil
}

// mapKeysOf iterates the keys of a map.
func mapKeysOf[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// parentOf returns the parent of a live snapshot (nil for a root or an
// unknown snapshot).
func (st *repoState) parentOf(id ObjectID) *ObjectID {
	if e := st.snaps[id]; e != nil {
		return e.parent
	}
	return nil
}

// ancestry lists id and its ancestors, newest first, following the parents
// recorded in the repo object. An unknown snapshot is ErrRefNotFound; a
// cycle or a missing ancestor is ErrCorrupt.
func (st *repoState) ancestry(id ObjectID) ([]ObjectID, error) {
	if st.snaps[id] == nil {
		return nil, fmt.Errorf("%w: snapshot %s is not in the %s object (never committed, expired or garbage collected)", ErrRefNotFound, id, repoInfoKey)
	}
	var out []ObjectID
	seen := map[ObjectID]bool{}
	for cur := &id; cur != nil; {
		if seen[*cur] {
			return nil, fmt.Errorf("%w: %s object: parent cycle at snapshot %s", ErrCorrupt, repoInfoKey, *cur)
		}
		seen[*cur] = true
		e := st.snaps[*cur]
		if e == nil {
			return nil, fmt.Errorf("%w: %s object: snapshot %s has unknown parent %s", ErrCorrupt, repoInfoKey, out[len(out)-1], *cur)
		}
		out = append(out, *cur)
		cur = e.parent
	}
	return out, nil
}

// readRepoShared reads the `repo` object and decodes it (or takes the
// decoding of the same object from the handle's cache): the decoded info,
// its indexed state, the raw bytes and the version. The info and state are
// shared with other readers: the caller must not modify them, nor anything
// they hold (use readRepo to get copies to edit).
func (r *Repository) readRepoShared(ctx context.Context) (*RepoInfo, *repoState, []byte, objstore.Version, error) {
	data, v, err := r.store.Get(ctx, repoInfoKey)
	if err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return nil, nil, nil, "", fmt.Errorf("formatv2: read %s: %w: the spec-2 repository object is gone", repoInfoKey, err)
		}
		return nil, nil, nil, "", fmt.Errorf("formatv2: read %s: %w", repoInfoKey, err)
	}
	info, st, err := r.decodeRepoShared(v, data)
	if err != nil {
		return nil, nil, nil, "", err
	}
	return info, st, data, v, nil
}

// readRepo is readRepoShared returning copies of the info and the state,
// which the caller may edit.
func (r *Repository) readRepo(ctx context.Context) (*RepoInfo, *repoState, []byte, objstore.Version, error) {
	info, st, data, v, err := r.readRepoShared(ctx)
	if err != nil {
		return nil, nil, nil, "", err
	}
	return info.clone(), st.clone(), data, v, nil
}

// loadState reads the `repo` object and returns its indexed state. The
// state is shared (see readRepoShared): the caller must not modify it.
func (r *Repository) loadState(ctx context.Context) (*repoState, error) {
	_, st, _, _, err := r.readRepoShared(ctx)
	return st, err
}

// repoChange is one update of the `repo` object.
type repoChange struct {
	// what names the operation in errors.
	what string
	// anyStatus lets the change through when the repository is not online
	// (status changes).
	anyStatus bool
	// ifVersion, when set, makes the change fail with errRepoMoved unless
	// `repo` is still at this version.
	ifVersion objstore.Version
	// mutate checks its preconditions against the fresh state and info and
	// edits them (refs, snapshots in st; status, config, flags in info). It
	// returns the ops log entry describing the change (UpdatedAt is filled
	// in). It may run several times, once per attempt.
	mutate func(st *repoState, info *RepoInfo) (Update, error)
}

// updateRepo performs one change of the `repo` object with the protocol
// described above, retrying lost races. It returns the object written.
func (r *Repository) updateRepo(ctx context.Context, ch repoChange) (*RepoInfo, error) {
	for attempt := 1; ; attempt++ {
		info, st, raw, v, err := r.readRepo(ctx)
		if err != nil {
			return nil, err
		}
		if ch.ifVersion != "" && v != ch.ifVersion {
			return nil, errRepoMoved
		}
		if !ch.anyStatus && info.Status.Availability != RepoOnline {
			return nil, fmt.Errorf("formatv2: %s: %w: status is %s%s", ch.what, ErrRepositoryNotOnline,
				availabilityName(info.Status.Availability), reasonSuffix(info.Status.LimitedAvailabilityReason))
		}
		u, err := ch.mutate(st, info)
		if err != nil {
			return nil, err
		}
		next, err := st.build(info)
		if err != nil {
			return nil, fmt.Errorf("formatv2: %s: %w", ch.what, err)
		}
		now := r.clock.Now()
		bid, err := r.newObjectID()
		if err != nil {
			return nil, fmt.Errorf("formatv2: %s: %w", ch.what, err)
		}
		backup := backupName(now, bid)
		u.UpdatedAt = timeToMicros(now)
		pushUpdate(next, u, backup, r.updatesPerFile)
		data, err := EncodeRepoInfo(next)
		if err != nil {
			return nil, fmt.Errorf("formatv2: %s: encode %s: %w", ch.what, repoInfoKey, err)
		}
		if _, err := r.store.PutIfAbsent(ctx, overwrittenPrefix+backup, raw); err != nil {
			if !errors.Is(err, objstore.ErrPreconditionFailed) {
				return nil, fmt.Errorf("formatv2: %s: back up %s to %s: %w", ch.what, repoInfoKey, overwrittenPrefix+backup, err)
			}
		} else {
			_, err = r.store.PutIfVersionMatches(ctx, repoInfoKey, data, v)
			if err == nil {
				r.log.Debug("repo object updated", "op", ch.what, "backup", backup, "attempt", attempt)
				return next, nil
			}
			if !errors.Is(err, objstore.ErrPreconditionFailed) {
				return nil, fmt.Errorf("formatv2: %s: write %s: %w", ch.what, repoInfoKey, err)
			}
		}
		if ch.ifVersion != "" {
			return nil, errRepoMoved
		}
		if attempt >= maxRepoUpdateAttempts {
			return nil, fmt.Errorf("formatv2: %s: %w: lost %d compare-and-swap races on %s", ch.what, ErrConflict, attempt, repoInfoKey)
		}
	}
}

// backupName is the name (under overwritten/) of the backup of a `repo`
// object overwritten at now: "repo.", the 14-digit count of milliseconds
// from now to 3000-01-01, ".", a random id.
func backupName(now time.Time, id ObjectID) string {
	d := year3000Millis - now.UnixMilli()
	if d < 0 {
		d = 0
	}
	return fmt.Sprintf("repo.%014d.%s", d, id)
}

// pushUpdate puts u on top of the ops log of info. The previous newest
// entry gets backup, the backup of the object it produced (which is being
// overwritten now); u gets a time strictly after it. The log is cut to
// limit entries at the first older entry that names a backup, which
// becomes RepoBeforeUpdates (the chain to the older history); entries
// without a backup (synthetic migration entries) are never cut.
func pushUpdate(info *RepoInfo, u Update, backup string, limit int) {
	old := info.LatestUpdates
	if len(old) > 0 && u.UpdatedAt <= old[0].UpdatedAt {
		u.UpdatedAt = old[0].UpdatedAt + 1
	}
	u.BackupPath = ""
	all := make([]Update, 0, min(len(old)+1, limit+1))
	all = append(all, u)
	for i, e := range old {
		if i == 0 && backup != "" {
			e.BackupPath = backup
		}
		if len(all) >= limit && e.BackupPath != "" {
			info.RepoBeforeUpdates = e.BackupPath
			break
		}
		all = append(all, e)
	}
	info.LatestUpdates = all
}

func availabilityName(a RepoAvailability) string {
	switch a {
	case RepoOnline:
		return "online"
	case RepoReadOnly:
		return "read-only"
	case RepoOffline:
		return "offline"
	}
	return fmt.Sprintf("availability(%d)", a)
}

func reasonSuffix(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}

// requireSpec2 fails with ErrSpec2Only on a spec-1 repository.
func (r *Repository) requireSpec2(op string) error {
	if err := r.usable(); err != nil {
		return err
	}
	if r.spec != SpecVersion2 {
		return fmt.Errorf("formatv2: %s: %w: repository %s is spec %d", op, ErrSpec2Only, r.store, r.spec)
	}
	return nil
}

// RepoInfo returns the decoded `repo` object of a spec-2 repository, read
// from storage now (ErrSpec2Only on spec 1). The result is the caller's.
func (r *Repository) RepoInfo(ctx context.Context) (*RepoInfo, error) {
	if err := r.requireSpec2("repo info"); err != nil {
		return nil, err
	}
	info, _, _, _, err := r.readRepoShared(ctx)
	if err != nil {
		return nil, err
	}
	return info.clone(), nil
}

// maxOpsLogFiles bounds how many backups OpsLog follows.
const maxOpsLogFiles = 10000

// OpsLog returns the ops log of a spec-2 repository, newest first: the
// entries kept in `repo` followed by the older ones reachable through its
// chain of backups (RepoBeforeUpdates). Every entry but the newest names
// the backup (under overwritten/) of the object it produced. A broken
// chain is an error naming the missing backup. ErrSpec2Only on spec 1.
func (r *Repository) OpsLog(ctx context.Context) ([]Update, error) {
	if err := r.requireSpec2("ops log"); err != nil {
		return nil, err
	}
	info, _, _, _, err := r.readRepoShared(ctx)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(info.LatestUpdates)
	seen := map[string]bool{}
	for next := info.RepoBeforeUpdates; next != ""; {
		if seen[next] || len(seen) >= maxOpsLogFiles {
			return nil, fmt.Errorf("formatv2: ops log: %w: backup chain loops at %s", ErrCorrupt, overwrittenPrefix+next)
		}
		seen[next] = true
		key := overwrittenPrefix + next
		data, _, err := r.store.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("formatv2: ops log: read %s: %w", key, err)
		}
		older, err := DecodeRepoInfo(key, data)
		if err != nil {
			return nil, fmt.Errorf("formatv2: ops log: %w", err)
		}
		for i, u := range older.LatestUpdates {
			if i == 0 && u.BackupPath == "" {
				u.BackupPath = next
			}
			out = append(out, u)
		}
		next = older.RepoBeforeUpdates
	}
	return out, nil
}

// createV2 writes a new spec-2 repository: initial snapshot, its
// transaction log, then the `repo` object (create-if-absent).
func (r *Repository) createV2(ctx context.Context, cfg *Config) error {
	if err := r.checkStoreEmpty(ctx); err != nil {
		return err
	}
	now := r.clock.Now()
	micros := timeToMicros(now)
	meta := initialMetadataV2()
	initial := &Snapshot{
		ID:          InitialSnapshotID,
		SpecVersion: SpecVersion2,
		FlushedAt:   micros,
		Message:     initialCommitMessage,
		Metadata:    meta,
	}
	snapData, err := EncodeSnapshot(initial)
	if err != nil {
		return fmt.Errorf("encode %s: %w", snapshotKey(InitialSnapshotID), err)
	}
	txData, err := EncodeTransactionLog(&TransactionLog{ID: InitialSnapshotID, SpecVersion: SpecVersion2})
	if err != nil {
		return fmt.Errorf("encode %s: %w", transactionLogKey(InitialSnapshotID), err)
	}
	// The initial objects have a fixed id: a crashed earlier Create may have
	// left them. The `repo` object is the commit point, so they are
	// overwritten unless a repository exists.
	for _, obj := range []struct {
		key  string
		data []byte
	}{{transactionLogKey(InitialSnapshotID), txData}, {snapshotKey(InitialSnapshotID), snapData}} {
		if _, err := r.store.PutIfAbsent(ctx, obj.key, obj.data); err != nil {
			if !errors.Is(err, objstore.ErrPreconditionFailed) {
				return fmt.Errorf("write %s: %w", obj.key, err)
			}
			if err := r.checkStoreEmpty(ctx); err != nil {
				return err
			}
			if _, err := r.store.Put(ctx, obj.key, obj.data); err != nil {
				return fmt.Errorf("write %s: %w", obj.key, err)
			}
		}
	}
	cfgBytes, parsed, err := configForRepoInfo(cfg)
	if err != nil {
		return err
	}
	info := &RepoInfo{
		SpecVersion: SpecVersion2,
		Branches:    []RefEntry{{Name: mainBranch, SnapshotIndex: 0}},
		Snapshots: []SnapshotInfo{{
			ID: InitialSnapshotID, ParentIndex: -1, FlushedAt: micros, Message: initialCommitMessage, Metadata: meta,
		}},
		Status:        RepoStatus{Availability: RepoOnline, SetAt: micros},
		LatestUpdates: []Update{{Type: UpdateRepoInitialized, UpdatedAt: micros}},
		Config:        cfgBytes,
	}
	data, err := EncodeRepoInfo(info)
	if err != nil {
		return fmt.Errorf("encode %s: %w", repoInfoKey, err)
	}
	if err := r.checkStoreEmpty(ctx); err != nil {
		return err
	}
	if _, err := r.store.PutIfAbsent(ctx, repoInfoKey, data); err != nil {
		if errors.Is(err, objstore.ErrPreconditionFailed) {
			return fmt.Errorf("%w: another client created %s first", ErrRepositoryExists, repoInfoKey)
		}
		return fmt.Errorf("write %s: %w", repoInfoKey, err)
	}
	r.cfg = parsed
	return nil
}

// saveConfigV2 stores cfg in the `repo` object ("config changed").
func (r *Repository) saveConfigV2(ctx context.Context, cfg *Config) error {
	cfgBytes, parsed, err := configForRepoInfo(cfg)
	if err != nil {
		return fmt.Errorf("formatv2: save config: %w", err)
	}
	_, err = r.updateRepo(ctx, repoChange{
		what: "save config",
		mutate: func(_ *repoState, info *RepoInfo) (Update, error) {
			info.Config = cfgBytes
			return Update{Type: UpdateConfigChanged}, nil
		},
	})
	if err != nil {
		return err
	}
	r.cfgMu.Lock()
	r.cfg = parsed
	r.cfgMu.Unlock()
	return nil
}

// Status returns the status of a spec-2 repository (ErrSpec2Only on spec 1).
func (r *Repository) Status(ctx context.Context) (RepoStatus, error) {
	if err := r.requireSpec2("status"); err != nil {
		return RepoStatus{}, err
	}
	info, _, _, _, err := r.readRepoShared(ctx)
	if err != nil {
		return RepoStatus{}, err
	}
	return info.Status, nil
}

// SetStatus sets the availability of a spec-2 repository, with a reason
// for a limited availability, and records a "repo status changed" ops log
// entry. It is the one update allowed while the repository is not online.
// A repository that is not online refuses every other update with
// ErrRepositoryNotOnline. ErrSpec2Only on spec 1.
func (r *Repository) SetStatus(ctx context.Context, availability RepoAvailability, reason string) error {
	if err := r.requireSpec2("set status"); err != nil {
		return err
	}
	switch availability {
	case RepoOnline, RepoReadOnly, RepoOffline:
	default:
		return fmt.Errorf("formatv2: set status: unknown availability %d", availability)
	}
	if availability == RepoOnline {
		reason = ""
	}
	_, err := r.updateRepo(ctx, repoChange{
		what:      "set status",
		anyStatus: true,
		mutate: func(_ *repoState, info *RepoInfo) (Update, error) {
			st := RepoStatus{Availability: availability, SetAt: timeToMicros(r.clock.Now()), LimitedAvailabilityReason: reason}
			info.Status = st
			return Update{Type: UpdateRepoStatusChanged, Status: st}, nil
		},
	})
	return err
}

// UpdateTypeName returns the upstream name of an ops log entry kind
// ("NewCommitUpdate", "BranchCreatedUpdate", ...).
func UpdateTypeName(t UpdateType) string {
	names := map[UpdateType]string{
		UpdateRepoInitialized:     "RepoInitializedUpdate",
		UpdateRepoMigrated:        "RepoMigratedUpdate",
		UpdateConfigChanged:       "ConfigChangedUpdate",
		UpdateMetadataChanged:     "MetadataChangedUpdate",
		UpdateTagCreated:          "TagCreatedUpdate",
		UpdateTagDeleted:          "TagDeletedUpdate",
		UpdateBranchCreated:       "BranchCreatedUpdate",
		UpdateBranchDeleted:       "BranchDeletedUpdate",
		UpdateBranchReset:         "BranchResetUpdate",
		UpdateNewCommit:           "NewCommitUpdate",
		UpdateCommitAmended:       "CommitAmendedUpdate",
		UpdateNewDetachedSnapshot: "NewDetachedSnapshotUpdate",
		UpdateGCRan:               "GCRanUpdate",
		UpdateExpirationRan:       "ExpirationRanUpdate",
		UpdateFeatureFlagChanged:  "FeatureFlagChanged",
		UpdateRepoStatusChanged:   "RepoStatusChangedUpdate",
	}
	if n, ok := names[t]; ok {
		return n
	}
	return fmt.Sprintf("UpdateType(%d)", t)
}

// describeUpdate renders an ops log entry for messages and tests.
func describeUpdate(u Update) string {
	var b strings.Builder
	b.WriteString(UpdateTypeName(u.Type))
	switch u.Type {
	case UpdateTagCreated, UpdateBranchCreated:
		fmt.Fprintf(&b, " %q", u.Name)
	case UpdateTagDeleted, UpdateBranchDeleted, UpdateBranchReset:
		fmt.Fprintf(&b, " %q (was %s)", u.Name, u.PreviousSnapshot)
	case UpdateNewCommit:
		fmt.Fprintf(&b, " %q %s", u.Name, u.NewSnapshot)
	case UpdateCommitAmended:
		fmt.Fprintf(&b, " %q %s -> %s", u.Name, u.PreviousSnapshot, u.NewSnapshot)
	case UpdateRepoMigrated:
		fmt.Fprintf(&b, " %d->%d", u.FromVersion, u.ToVersion)
	}
	return b.String()
}

// sortedNames returns the keys of a ref map, sorted.
func sortedNames(m map[string]ObjectID) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
