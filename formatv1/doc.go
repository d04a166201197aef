// Package formatv1 is the 1.x line of icerig's Icechunk library: it reads
// and writes repositories in Icechunk on-disk format spec version 1, byte
// compatible with upstream Icechunk 1.x, and refuses spec-2 repositories
// ("repository is spec 2, upgrade your library").
//
// A repository lives in an objstore.Store:
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
// Open or Create a Repository, then work through a Session: a Zarr v3
// key/value view of one snapshot ("zarr.json", "group1/zarr.json",
// "group1/big_chunks/c/0/1"). ReadonlySession serves a branch tip, a tag or
// a snapshot (see VersionRef); WritableSession records changes on a branch
// until Commit writes chunks, manifests, transaction log and snapshot, in
// that order, and moves the branch with a compare-and-swap (ErrConflict if
// it moved meanwhile). Refs are managed on the Repository (CreateBranch,
// ResetBranch, DeleteBranch, CreateTag, DeleteTag, List*, Lookup*), history
// with Ancestry and Diff. Maintenance (ExpireSnapshots, GarbageCollect,
// Fsck) follows upstream 1.x semantics.
//
// Every error wraps one of the package's sentinel errors (ErrRefNotFound,
// ErrConflict, ErrCorrupt, ErrUnsupportedSpec, ...) with context naming the
// object, ref or key; match them with errors.Is.
package formatv1
