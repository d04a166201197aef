package formatv2

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/icerig/icerig/objstore"
)

// UpgradeResult reports what Upgrade did (or, in a dry run, would do).
type UpgradeResult struct {
	// DryRun is true when nothing was written.
	DryRun bool
	// Resumed is true when the repository was spec 2 already and the call
	// only deleted spec-1 files an earlier migration left behind.
	Resumed bool
	// Branches, Tags and DeletedTags are the refs the `repo` object holds.
	Branches    map[string]ObjectID
	Tags        map[string]ObjectID
	DeletedTags []string
	// Snapshots is the number of snapshots the `repo` object lists: every
	// snapshot reachable from a branch or tag.
	Snapshots int
	// OpsLog is the ops log of the new `repo` object, newest first: "repo
	// migrated 1->2" on top of the history reconstructed from the refs and
	// snapshots.
	OpsLog []Update
	// DeletedV1Files are the spec-1 objects deleted (or, in a dry run, that
	// would be), in deletion order: refs/branch.main/ref.json, the rest of
	// refs/, config.yaml.
	DeletedV1Files []string
}

// migrationPlan is the `repo` object a migration writes and what it holds.
type migrationPlan struct {
	info     *RepoInfo
	branches map[string]ObjectID
	tags     map[string]ObjectID
	deleted  []string
}

// Upgrade migrates a spec-1 repository to spec 2, as upstream's
// migrate_1_to_2 does:
//
//  1. refuse unless the repository is spec 1 (ErrAlreadyMigrated);
//  2. collect the branches, tags and deleted tags, and every snapshot
//     reachable from a branch or tag (tags first, then branches);
//  3. build the `repo` object: refs, deleted tags, the snapshots with the
//     parents their files record, the configuration, status online, and an
//     ops log reconstructed from the snapshot history (repo initialized,
//     commits, branch and tag creations, tag deletions) under a final "repo
//     migrated 1->2" entry;
//  4. with dryRun, stop there and report;
//  5. write `repo` create-if-absent: from then on the repository is spec 2
//     (formatv1 refuses it, also when refs/ remains) and this handle is
//     invalid (ErrHandleInvalid);
//  6. reopen the repository and check that it is spec 2 and holds the refs
//     collected, and that no spec-1 writer moved a ref meanwhile
//     (ErrMigrationDiverged: then the `repo` object is removed again and the
//     repository stays spec 1);
//  7. if deleteUnusedV1Files, delete refs/branch.main/ref.json first (so a
//     spec-1 client fails fast), then the rest of refs/, then config.yaml.
//
// Snapshots, manifests, chunks and transaction logs are never rewritten: a
// migrated repository mixes spec-1 and spec-2 objects.
//
// A crash at any point leaves either the spec-1 repository untouched (run
// Upgrade again) or a complete spec-2 repository, possibly with spec-1
// files left; Upgrade with deleteUnusedV1Files on a handle opened on such a
// repository deletes them (Resumed). On a spec-2 repository with nothing
// left to delete Upgrade fails with ErrAlreadyMigrated.
func (r *Repository) Upgrade(ctx context.Context, dryRun, deleteUnusedV1Files bool) (*UpgradeResult, error) {
	if err := r.usable(); err != nil {
		return nil, fmt.Errorf("formatv2: upgrade: %w", err)
	}
	if r.spec == SpecVersion2 {
		return r.resumeUpgrade(ctx, dryRun, deleteUnusedV1Files)
	}
	if err := r.checkNotV2(ctx); err != nil {
		if errors.Is(err, ErrUnsupportedSpec) {
			return nil, fmt.Errorf("formatv2: upgrade %s: %w: another client migrated it since this handle opened it", r.store, ErrAlreadyMigrated)
		}
		return nil, fmt.Errorf("formatv2: upgrade %s: %w", r.store, err)
	}
	plan, err := r.planMigration(ctx)
	if err != nil {
		return nil, fmt.Errorf("formatv2: upgrade %s: %w", r.store, err)
	}
	res := &UpgradeResult{
		DryRun:      dryRun,
		Branches:    plan.branches,
		Tags:        plan.tags,
		DeletedTags: plan.deleted,
		Snapshots:   len(plan.info.Snapshots),
		OpsLog:      slices.Clone(plan.info.LatestUpdates),
	}
	if dryRun {
		if deleteUnusedV1Files {
			files, err := r.v1Files(ctx)
			if err != nil {
				return nil, fmt.Errorf("formatv2: upgrade %s: %w", r.store, err)
			}
			res.DeletedV1Files = files
		}
		return res, nil
	}

	data, err := EncodeRepoInfo(plan.info)
	if err != nil {
		return nil, fmt.Errorf("formatv2: upgrade %s: encode %s: %w", r.store, repoInfoKey, err)
	}
	written, err := r.store.PutIfAbsent(ctx, repoInfoKey, data)
	if err != nil {
		if errors.Is(err, objstore.ErrPreconditionFailed) {
			return nil, fmt.Errorf("formatv2: upgrade %s: %w: another client wrote %s first", r.store, ErrAlreadyMigrated, repoInfoKey)
		}
		return nil, fmt.Errorf("formatv2: upgrade %s: write %s: %w", r.store, repoInfoKey, err)
	}
	r.invalidate("it was used to migrate the repository to spec 2")
	r.log.Debug("migration: repo object written", "store", r.store.String(), "snapshots", len(plan.info.Snapshots))

	if err := r.verifyMigration(ctx, plan); err != nil {
		if errors.Is(err, ErrMigrationDiverged) {
			// Roll back, unless a spec-2 client already changed the object.
			if _, v, gerr := r.store.Get(ctx, repoInfoKey); gerr == nil && v == written {
				if derr := r.store.Delete(ctx, repoInfoKey); derr != nil {
					return nil, fmt.Errorf("formatv2: upgrade %s: %w (and removing %s failed: %v)", r.store, err, repoInfoKey, derr)
				}
				return nil, fmt.Errorf("formatv2: upgrade %s: %w; %s removed again, the repository is still spec 1", r.store, err, repoInfoKey)
			}
		}
		return nil, fmt.Errorf("formatv2: upgrade %s: %w", r.store, err)
	}
	if deleteUnusedV1Files {
		deleted, err := r.deleteV1Files(ctx)
		res.DeletedV1Files = deleted
		if err != nil {
			return res, fmt.Errorf("formatv2: upgrade %s: the repository is spec 2, but deleting spec-1 files failed (run Upgrade again to finish): %w", r.store, err)
		}
	}
	return res, nil
}

// resumeUpgrade handles Upgrade on a spec-2 repository: it deletes the
// spec-1 files an earlier migration left, when asked and when there are
// some; otherwise the repository is simply already migrated.
func (r *Repository) resumeUpgrade(ctx context.Context, dryRun, deleteUnusedV1Files bool) (*UpgradeResult, error) {
	files, err := r.v1Files(ctx)
	if err != nil {
		return nil, fmt.Errorf("formatv2: upgrade %s: %w", r.store, err)
	}
	if len(files) == 0 || !deleteUnusedV1Files {
		left := ""
		if len(files) > 0 {
			left = fmt.Sprintf(" (%d spec-1 files remain; Upgrade with deleteUnusedV1Files removes them)", len(files))
		}
		return nil, fmt.Errorf("formatv2: upgrade %s: %w%s", r.store, ErrAlreadyMigrated, left)
	}
	st, err := r.loadState(ctx)
	if err != nil {
		return nil, fmt.Errorf("formatv2: upgrade %s: %w", r.store, err)
	}
	res := &UpgradeResult{
		DryRun:      dryRun,
		Resumed:     true,
		Branches:    maps.Clone(st.branches),
		Tags:        maps.Clone(st.tags),
		DeletedTags: slices.Sorted(mapKeysOf(st.deletedTags)),
		Snapshots:   len(st.snaps),
	}
	if dryRun {
		res.DeletedV1Files = files
		return res, nil
	}
	deleted, err := r.deleteV1Files(ctx)
	res.DeletedV1Files = deleted
	if err != nil {
		return res, fmt.Errorf("formatv2: upgrade %s: %w", r.store, err)
	}
	return res, nil
}

// planMigration reads the spec-1 repository and builds its `repo` object.
func (r *Repository) planMigration(ctx context.Context) (*migrationPlan, error) {
	branches, err := r.listBranchesV1(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := branches[mainBranch]; !ok {
		return nil, fmt.Errorf("%w: no main branch", ErrNotARepository)
	}
	tags, err := r.listTagsV1(ctx)
	if err != nil {
		return nil, err
	}
	deleted, err := r.deletedTagsV1(ctx)
	if err != nil {
		return nil, err
	}

	// Every snapshot reachable from a ref: tags first, then branches, each
	// by name; a walk stops at a snapshot already collected.
	st := &repoState{branches: branches, tags: tags, deletedTags: map[string]bool{}, snaps: map[ObjectID]*snapEntry{}}
	for _, name := range deleted {
		st.deletedTags[name] = true
	}
	for _, tips := range []map[string]ObjectID{tags, branches} {
		for _, name := range sortedNames(tips) {
			seen := map[ObjectID]bool{}
			for id := tips[name]; st.snaps[id] == nil; {
				if seen[id] {
					return nil, fmt.Errorf("ancestry of %s: %w: parent cycle at %s", tips[name], ErrCorrupt, id)
				}
				seen[id] = true
				s, err := r.ReadSnapshot(ctx, id)
				if err != nil {
					return nil, fmt.Errorf("ancestry of %q: %w", name, err)
				}
				e := &snapEntry{info: SnapshotInfo{ID: id, FlushedAt: s.FlushedAt, Message: s.Message,
					Metadata: migrateMetadata(r.log, id, s.Metadata)}}
				if s.ParentID != nil {
					p := *s.ParentID
					e.parent = &p
				}
				st.snaps[id] = e
				if s.ParentID == nil {
					break
				}
				id = *s.ParentID
			}
		}
	}

	mainAnc, err := st.ancestry(branches[mainBranch])
	if err != nil {
		return nil, err
	}
	root := st.snaps[mainAnc[len(mainAnc)-1]]
	deletedTips := map[string]ObjectID{}
	for _, name := range deleted {
		// The deleted tag's ref.json stays beside its tombstone; it dates the
		// synthetic creation and deletion entries.
		if id, _, err := r.readRef(ctx, "tag", name, tagKey(name)); err == nil {
			deletedTips[name] = id
		}
	}
	history, err := syntheticOpsLog(st, mainAnc, deletedTips)
	if err != nil {
		return nil, err
	}

	// config.yaml, if there is one, moves into the repo object.
	var cfgBytes []byte
	r.cfgMu.RLock()
	hasConfig := r.cfgVersion != ""
	r.cfgMu.RUnlock()
	if hasConfig {
		if cfgBytes, _, err = configForRepoInfo(r.Config()); err != nil {
			return nil, fmt.Errorf("%s: %w", ConfigKey, err)
		}
	}
	base := &RepoInfo{
		SpecVersion:   SpecVersion2,
		Status:        RepoStatus{Availability: RepoOnline, SetAt: root.info.FlushedAt},
		LatestUpdates: history,
		Config:        cfgBytes,
	}
	info, err := st.build(base)
	if err != nil {
		return nil, err
	}
	pushUpdate(info, Update{
		Type: UpdateRepoMigrated, UpdatedAt: timeToMicros(r.clock.Now()),
		FromVersion: SpecVersion1, ToVersion: SpecVersion2,
	}, "", max(len(history)+1, r.updatesPerFile))
	return &migrationPlan{info: info, branches: branches, tags: tags, deleted: deleted}, nil
}

// syntheticMillis is the offset (in microseconds) of synthetic ref events
// after the snapshot they point at.
const syntheticMillis = 1000

// syntheticOpsLog reconstructs an ops log (newest first) from a spec-1
// history, as upstream's migration does: "repo initialized" at the root's
// flush time; a new commit on main for every other snapshot of main's
// ancestry; per other branch (by name) a creation 1 ms after its tip and a
// new commit for every snapshot of its ancestry not yet attributed; a
// creation 1 ms after its snapshot per tag; for a deleted tag a creation
// and, 1 ms later, a deletion. Entries are ordered by time (stable), times
// made strictly increasing by bumping collisions 1 µs.
func syntheticOpsLog(st *repoState, mainAnc []ObjectID, deletedTips map[string]ObjectID) ([]Update, error) {
	type entry struct {
		u Update
		t uint64
	}
	root := st.snaps[mainAnc[len(mainAnc)-1]]
	rootTime := root.info.FlushedAt
	timeOf := func(id ObjectID) uint64 {
		if e := st.snaps[id]; e != nil {
			return e.info.FlushedAt
		}
		return rootTime
	}
	var entries []entry
	entries = append(entries, entry{Update{Type: UpdateRepoInitialized}, rootTime})
	emitted := map[ObjectID]bool{}
	for _, id := range mainAnc {
		emitted[id] = true
	}
	for i := len(mainAnc) - 2; i >= 0; i-- {
		id := mainAnc[i]
		entries = append(entries, entry{Update{Type: UpdateNewCommit, Name: mainBranch, NewSnapshot: id}, timeOf(id)})
	}
	for _, name := range sortedNames(st.branches) {
		if name == mainBranch {
			continue
		}
		anc, err := st.ancestry(st.branches[name])
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry{Update{Type: UpdateBranchCreated, Name: name}, timeOf(anc[0]) + syntheticMillis})
		for i := len(anc) - 1; i >= 0; i-- {
			if id := anc[i]; !emitted[id] {
				emitted[id] = true
				entries = append(entries, entry{Update{Type: UpdateNewCommit, Name: name, NewSnapshot: id}, timeOf(id)})
			}
		}
	}
	for _, name := range sortedNames(st.tags) {
		entries = append(entries, entry{Update{Type: UpdateTagCreated, Name: name}, timeOf(st.tags[name]) + syntheticMillis})
	}
	for _, name := range sortedNames(deletedTips) {
		id := deletedTips[name]
		t := timeOf(id)
		entries = append(entries,
			entry{Update{Type: UpdateTagCreated, Name: name}, t + syntheticMillis},
			entry{Update{Type: UpdateTagDeleted, Name: name, PreviousSnapshot: id}, t + 2*syntheticMillis})
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].t < entries[j].t })
	for i := 1; i < len(entries); i++ {
		if entries[i].t <= entries[i-1].t {
			entries[i].t = entries[i-1].t + 1
		}
	}
	out := make([]Update, len(entries))
	for i, e := range entries {
		u := e.u
		u.UpdatedAt = e.t
		out[len(entries)-1-i] = u
	}
	return out, nil
}

// verifyMigration reopens the store and checks that it is a spec-2
// repository holding exactly the planned refs, and that the spec-1 refs
// still say the same (ErrMigrationDiverged otherwise).
func (r *Repository) verifyMigration(ctx context.Context, plan *migrationPlan) error {
	nr, err := Open(ctx, r.store, Options{Clock: r.clock, Logger: r.log})
	if err != nil {
		return fmt.Errorf("reopen after writing %s: %w", repoInfoKey, err)
	}
	if nr.SpecVersion() != SpecVersion2 {
		return fmt.Errorf("reopened repository is spec %d, want 2", nr.SpecVersion())
	}
	st, err := nr.loadState(ctx)
	if err != nil {
		return fmt.Errorf("reopen after writing %s: %w", repoInfoKey, err)
	}
	if !maps.Equal(st.branches, plan.branches) || !maps.Equal(st.tags, plan.tags) ||
		!slices.Equal(slices.Sorted(mapKeysOf(st.deletedTags)), plan.deleted) {
		return fmt.Errorf("reopened repository does not hold the migrated refs")
	}
	for _, tips := range []map[string]ObjectID{st.tags, st.branches} {
		for _, name := range sortedNames(tips) {
			if _, err := nr.Ancestry(ctx, tips[name]); err != nil {
				return fmt.Errorf("reopened repository: ancestry of %q: %w", name, err)
			}
		}
	}
	branches, err := r.listBranchesV1(ctx)
	if err != nil {
		return err
	}
	tags, err := r.listTagsV1(ctx)
	if err != nil {
		return err
	}
	deleted, err := r.deletedTagsV1(ctx)
	if err != nil {
		return err
	}
	if !maps.Equal(branches, plan.branches) || !maps.Equal(tags, plan.tags) || !slices.Equal(deleted, plan.deleted) {
		return fmt.Errorf("%w: a spec-1 client changed refs/ while the migration ran", ErrMigrationDiverged)
	}
	return nil
}

// v1Files lists the spec-1 files a migration deletes, in deletion order.
func (r *Repository) v1Files(ctx context.Context) ([]string, error) {
	objs, err := r.store.List(ctx, refsPrefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", refsPrefix, err)
	}
	var out []string
	mainKey := branchKey(mainBranch)
	for _, o := range objs {
		if o.Key == mainKey {
			out = append([]string{mainKey}, out...)
		} else {
			out = append(out, o.Key)
		}
	}
	if ok, err := r.exists(ctx, ConfigKey); err != nil {
		return nil, err
	} else if ok {
		out = append(out, ConfigKey)
	}
	return out, nil
}

// deleteV1Files deletes the spec-1 files of a migrated repository: main's
// ref first (spec-1 clients then fail fast), then the rest of refs/
// (checking that none remains), then config.yaml. It returns what it
// deleted.
func (r *Repository) deleteV1Files(ctx context.Context) ([]string, error) {
	var deleted []string
	mainKey := branchKey(mainBranch)
	if ok, err := r.exists(ctx, mainKey); err != nil {
		return deleted, err
	} else if ok {
		if err := r.store.Delete(ctx, mainKey); err != nil {
			return deleted, fmt.Errorf("delete %s: %w", mainKey, err)
		}
		deleted = append(deleted, mainKey)
	}
	objs, err := r.store.List(ctx, refsPrefix)
	if err != nil {
		return deleted, fmt.Errorf("list %s: %w", refsPrefix, err)
	}
	for _, o := range objs {
		if err := r.store.Delete(ctx, o.Key); err != nil {
			return deleted, fmt.Errorf("delete %s: %w", o.Key, err)
		}
		deleted = append(deleted, o.Key)
	}
	left, err := r.store.List(ctx, refsPrefix)
	if err != nil {
		return deleted, fmt.Errorf("list %s: %w", refsPrefix, err)
	}
	if len(left) > 0 {
		keys := make([]string, len(left))
		for i, o := range left {
			keys[i] = o.Key
		}
		return deleted, fmt.Errorf("spec-1 refs remain after deletion: %s", strings.Join(keys, ", "))
	}
	if ok, err := r.exists(ctx, ConfigKey); err != nil {
		return deleted, err
	} else if ok {
		if err := r.store.Delete(ctx, ConfigKey); err != nil {
			return deleted, fmt.Errorf("delete %s: %w", ConfigKey, err)
		}
		deleted = append(deleted, ConfigKey)
	}
	return deleted, nil
}
