// Package formatv2 is the current line of icerig's Icechunk library. It
// reads and writes repositories in Icechunk on-disk format spec version 1
// (byte compatible with upstream Icechunk 1.x, and never leaving a spec-1
// repository in a state formatv1 misreads) and spec version 2 (upstream
// Icechunk 2.x), and migrates spec-1 repositories to spec 2.
//
// A spec-1 repository lives in an objstore.Store as:
//
//	config.yaml                        optional configuration (Config)
//	refs/branch.<name>/ref.json        {"snapshot":"<ID>"}, moved by compare-and-swap
//	refs/tag.<name>/ref.json           created only if absent, never changed
//	refs/tag.<name>/ref.json.deleted   empty tombstone of a deleted tag
//	snapshots/<ID>                     node tree, parent id, message, manifest list
//	manifests/<ID>                     chunk references per array
//	transactions/<snapshot ID>         what the commit of that snapshot changed
//	chunks/<ID>                        raw chunk bytes
//
// A spec-2 repository replaces refs/ and config.yaml with one mutable
// object, updated by compare-and-swap with a backup of every overwritten
// version:
//
//	repo                               branches, tags, deleted tags, every live
//	                                   snapshot with its parent, status, config,
//	                                   feature flags, ops log
//	overwritten/repo.<14 digits>.<ID>  earlier versions of repo
//	snapshots/, manifests/, transactions/, chunks/   as at spec 1 (spec-2
//	                                   snapshots carry no parent id)
//
// Open detects the spec (a `repo` object means spec 2, whatever refs/ files
// remain; otherwise refs/branch.main/ref.json means spec 1); Create writes
// either (spec 2 by default). On a spec-1 repository every operation does
// exactly what formatv1 does, writing spec-1 objects only.
//
// Work through a Session: a Zarr v3 key/value view of one snapshot
// ("zarr.json", "group1/zarr.json", "group1/big_chunks/c/0/1").
// ReadonlySession serves a branch tip, a tag or a snapshot (see
// VersionRef); WritableSession records changes on a branch until Commit
// writes chunks, manifests, transaction log and snapshot, in that order,
// and then moves the branch (ErrConflict if it moved meanwhile). Amend
// (spec 2 only) replaces the branch tip instead. Refs are managed on the
// Repository (CreateBranch, ResetBranch, DeleteBranch, CreateTag,
// DeleteTag, List*, Lookup*), history with Ancestry and Diff. Maintenance
// (ExpireSnapshots, GarbageCollect, Fsck) follows upstream semantics of the
// repository's spec. Spec 2 adds OpsLog, RepoInfo, Status and SetStatus.
// Upgrade migrates a spec-1 repository to spec 2.
//
// Every error wraps one of the package's sentinel errors (ErrRefNotFound,
// ErrConflict, ErrCorrupt, ErrUnsupportedSpec, ErrSpec2Only, ...) with
// context naming the object, ref or key; match them with errors.Is.
package formatv2
