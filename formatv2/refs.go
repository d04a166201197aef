package formatv2

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/icerig/icerig/objstore"
)

// Ref layout. A branch lives at refs/branch.<name>/ref.json, a tag at
// refs/tag.<name>/ref.json, both holding exactly {"snapshot":"<ID>"} (no
// spaces, no newline, as upstream's serde_json writes it). Deleting a tag
// leaves its ref.json in place and creates an empty tombstone
// refs/tag.<name>/ref.json.deleted next to it, so the name can never be
// reused; deleting a branch removes its ref.json.
const (
	refsPrefix      = "refs/"
	branchDirPrefix = "branch."
	tagDirPrefix    = "tag."
	refFileName     = "ref.json"
	tombstoneName   = "ref.json.deleted"
	mainBranch      = "main"

	// maxRefCASAttempts bounds the retries of a branch compare-and-swap that
	// lost a race to a write that left the tip unchanged.
	maxRefCASAttempts = 16
)

func branchKey(name string) string    { return refsPrefix + branchDirPrefix + name + "/" + refFileName }
func tagKey(name string) string       { return refsPrefix + tagDirPrefix + name + "/" + refFileName }
func tombstoneKey(name string) string { return refsPrefix + tagDirPrefix + name + "/" + tombstoneName }

// ValidateRefName reports an error wrapping ErrInvalidRefName unless name can
// name a branch or tag: not empty, no '/', no "..", no backslash, no control
// characters. Spaces and punctuation are allowed (upstream has a tag named
// "it works!").
func ValidateRefName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("formatv2: %w: empty name", ErrInvalidRefName)
	case strings.Contains(name, "/"):
		return fmt.Errorf("formatv2: %w: %q contains '/'", ErrInvalidRefName, name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("formatv2: %w: %q contains \"..\"", ErrInvalidRefName, name)
	case strings.Contains(name, "\\"):
		return fmt.Errorf("formatv2: %w: %q contains a backslash", ErrInvalidRefName, name)
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			return fmt.Errorf("formatv2: %w: %q contains a control character", ErrInvalidRefName, name)
		}
	}
	return nil
}

// encodeRef is the exact content of a ref file.
func encodeRef(id ObjectID) []byte {
	return []byte(`{"snapshot":"` + id.String() + `"}`)
}

// decodeRef parses a ref file; key names it in errors.
func decodeRef(key string, data []byte) (ObjectID, error) {
	var doc struct {
		Snapshot *string `json:"snapshot"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return ObjectID{}, fmt.Errorf("formatv2: ref %s: %w: not a JSON object: %v", key, ErrCorrupt, err)
	}
	if doc.Snapshot == nil {
		return ObjectID{}, fmt.Errorf("formatv2: ref %s: %w: no \"snapshot\" member", key, ErrCorrupt)
	}
	id, err := ParseObjectID(*doc.Snapshot)
	if err != nil {
		return ObjectID{}, fmt.Errorf("formatv2: ref %s: %w: %w", key, ErrCorrupt, err)
	}
	return id, nil
}

// readRef reads and parses one ref file, with its version. A missing file
// is ErrRefNotFound.
func (r *Repository) readRef(ctx context.Context, kind, name, key string) (ObjectID, objstore.Version, error) {
	data, v, err := r.store.Get(ctx, key)
	if err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return ObjectID{}, "", fmt.Errorf("formatv2: %s %q: %w", kind, name, ErrRefNotFound)
		}
		return ObjectID{}, "", fmt.Errorf("formatv2: %s %q: read %s: %w", kind, name, key, err)
	}
	id, err := decodeRef(key, data)
	if err != nil {
		return ObjectID{}, "", err
	}
	return id, v, nil
}

// exists reports whether an object exists at key.
func (r *Repository) exists(ctx context.Context, key string) (bool, error) {
	_, _, err := r.store.Get(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, objstore.ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("formatv2: read %s: %w", key, err)
	}
}

// refDirs lists refs/ and returns, per directory name ("branch.x",
// "tag.y"), which of ref.json and the tombstone it holds.
func (r *Repository) refDirs(ctx context.Context) (map[string]*refDir, error) {
	objs, err := r.store.List(ctx, refsPrefix)
	if err != nil {
		return nil, fmt.Errorf("formatv2: list %s: %w", refsPrefix, err)
	}
	dirs := map[string]*refDir{}
	for _, o := range objs {
		rest := strings.TrimPrefix(o.Key, refsPrefix)
		dir, file, ok := strings.Cut(rest, "/")
		if !ok || strings.Contains(file, "/") {
			r.log.Debug("ignoring foreign object under refs/", "key", o.Key)
			continue
		}
		d := dirs[dir]
		if d == nil {
			d = &refDir{}
			dirs[dir] = d
		}
		switch file {
		case refFileName:
			d.ref = true
		case tombstoneName:
			d.tombstone = true
		default:
			r.log.Debug("ignoring foreign object under refs/", "key", o.Key)
		}
	}
	return dirs, nil
}

type refDir struct{ ref, tombstone bool }

// ListBranches returns every branch with its tip.
func (r *Repository) ListBranches(ctx context.Context) (map[string]ObjectID, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	if r.spec == SpecVersion2 {
		st, err := r.loadState(ctx)
		if err != nil {
			return nil, err
		}
		return maps.Clone(st.branches), nil
	}
	return r.listBranchesV1(ctx)
}

func (r *Repository) listBranchesV1(ctx context.Context) (map[string]ObjectID, error) {
	dirs, err := r.refDirs(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]ObjectID{}
	for dir, d := range dirs {
		name, ok := strings.CutPrefix(dir, branchDirPrefix)
		if !ok || !d.ref {
			continue
		}
		id, _, err := r.readRef(ctx, "branch", name, branchKey(name))
		if errors.Is(err, ErrRefNotFound) {
			continue // deleted between list and read
		}
		if err != nil {
			return nil, err
		}
		out[name] = id
	}
	return out, nil
}

// ListTags returns every live tag with its snapshot; deleted tags are left
// out.
func (r *Repository) ListTags(ctx context.Context) (map[string]ObjectID, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	if r.spec == SpecVersion2 {
		st, err := r.loadState(ctx)
		if err != nil {
			return nil, err
		}
		return maps.Clone(st.tags), nil
	}
	return r.listTagsV1(ctx)
}

func (r *Repository) listTagsV1(ctx context.Context) (map[string]ObjectID, error) {
	dirs, err := r.refDirs(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]ObjectID{}
	for dir, d := range dirs {
		name, ok := strings.CutPrefix(dir, tagDirPrefix)
		if !ok || !d.ref || d.tombstone {
			continue
		}
		id, _, err := r.readRef(ctx, "tag", name, tagKey(name))
		if errors.Is(err, ErrRefNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[name] = id
	}
	return out, nil
}

// ListDeletedTags returns the names of deleted tags, sorted (spec 1: those
// with a tombstone; spec 2: the repo object's deleted tags).
func (r *Repository) ListDeletedTags(ctx context.Context) ([]string, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	if r.spec == SpecVersion2 {
		st, err := r.loadState(ctx)
		if err != nil {
			return nil, err
		}
		return slices.Sorted(mapKeysOf(st.deletedTags)), nil
	}
	return r.deletedTagsV1(ctx)
}

// deletedTagsV1 lists the tags with a tombstone under refs/, sorted.
func (r *Repository) deletedTagsV1(ctx context.Context) ([]string, error) {
	dirs, err := r.refDirs(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for dir, d := range dirs {
		if name, ok := strings.CutPrefix(dir, tagDirPrefix); ok && d.tombstone {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// LookupBranch returns the tip of a branch (ErrRefNotFound if there is no
// such branch).
func (r *Repository) LookupBranch(ctx context.Context, name string) (ObjectID, error) {
	if err := r.usable(); err != nil {
		return ObjectID{}, err
	}
	if err := ValidateRefName(name); err != nil {
		return ObjectID{}, err
	}
	if r.spec == SpecVersion2 {
		st, err := r.loadState(ctx)
		if err != nil {
			return ObjectID{}, err
		}
		return st.branch(name)
	}
	id, _, err := r.readRef(ctx, "branch", name, branchKey(name))
	return id, err
}

// LookupTag returns the snapshot a tag points at. A deleted tag is
// ErrRefNotFound, like a tag that never existed.
func (r *Repository) LookupTag(ctx context.Context, name string) (ObjectID, error) {
	if err := r.usable(); err != nil {
		return ObjectID{}, err
	}
	if err := ValidateRefName(name); err != nil {
		return ObjectID{}, err
	}
	if r.spec == SpecVersion2 {
		st, err := r.loadState(ctx)
		if err != nil {
			return ObjectID{}, err
		}
		return st.tag(name)
	}
	deleted, err := r.exists(ctx, tombstoneKey(name))
	if err != nil {
		return ObjectID{}, err
	}
	if deleted {
		return ObjectID{}, fmt.Errorf("formatv2: tag %q: %w: it was deleted", name, ErrRefNotFound)
	}
	id, _, err := r.readRef(ctx, "tag", name, tagKey(name))
	return id, err
}

// branch returns the tip of a branch of the repo object.
func (st *repoState) branch(name string) (ObjectID, error) {
	id, ok := st.branches[name]
	if !ok {
		return ObjectID{}, fmt.Errorf("formatv2: branch %q: %w", name, ErrRefNotFound)
	}
	return id, nil
}

// tag returns the snapshot of a live tag of the repo object.
func (st *repoState) tag(name string) (ObjectID, error) {
	if st.deletedTags[name] {
		return ObjectID{}, fmt.Errorf("formatv2: tag %q: %w: it was deleted", name, ErrRefNotFound)
	}
	id, ok := st.tags[name]
	if !ok {
		return ObjectID{}, fmt.Errorf("formatv2: tag %q: %w", name, ErrRefNotFound)
	}
	return id, nil
}

// requireLive fails unless snap is a live snapshot of the repo object (a
// missing one wraps objstore.ErrNotFound, as a missing snapshot file does
// at spec 1).
func (st *repoState) requireLive(snap ObjectID) error {
	if st.snaps[snap] == nil {
		return fmt.Errorf("snapshot %s: %w: not in the %s object", snap, objstore.ErrNotFound, repoInfoKey)
	}
	return nil
}

// requireSnapshot fails unless the snapshot exists in storage and decodes
// (a missing one wraps objstore.ErrNotFound).
func (r *Repository) requireSnapshot(ctx context.Context, id ObjectID) error {
	_, err := r.ReadSnapshot(ctx, id)
	return err
}

// CreateBranch creates a branch at an existing snapshot (at spec 2, one
// the repo object lists). A branch of that name that already exists is
// ErrBranchExists.
func (r *Repository) CreateBranch(ctx context.Context, name string, snap ObjectID) error {
	if err := r.usable(); err != nil {
		return err
	}
	if err := ValidateRefName(name); err != nil {
		return err
	}
	if r.spec == SpecVersion2 {
		_, err := r.updateRepo(ctx, repoChange{
			what: fmt.Sprintf("create branch %q", name),
			mutate: func(st *repoState, _ *RepoInfo) (Update, error) {
				// The snapshot first, then the name, as upstream checks
				// them (and as spec 1 does).
				if err := st.requireLive(snap); err != nil {
					return Update{}, fmt.Errorf("formatv2: create branch %q: %w", name, err)
				}
				if _, ok := st.branches[name]; ok {
					return Update{}, fmt.Errorf("formatv2: create branch %q: %w", name, ErrBranchExists)
				}
				st.branches[name] = snap
				return Update{Type: UpdateBranchCreated, Name: name}, nil
			},
		})
		return err
	}
	if err := r.requireSnapshot(ctx, snap); err != nil {
		return fmt.Errorf("formatv2: create branch %q: %w", name, err)
	}
	if err := r.checkNotV2(ctx); err != nil {
		return fmt.Errorf("formatv2: create branch %q: %w", name, err)
	}
	if _, err := r.store.PutIfAbsent(ctx, branchKey(name), encodeRef(snap)); err != nil {
		if errors.Is(err, objstore.ErrPreconditionFailed) {
			return fmt.Errorf("formatv2: create branch %q: %w", name, ErrBranchExists)
		}
		return fmt.Errorf("formatv2: create branch %q: write %s: %w", name, branchKey(name), err)
	}
	return nil
}

// ResetBranch points an existing branch at another existing snapshot. If
// the branch moves between reading it and writing it, the reset fails with
// ErrConflict (as upstream does).
func (r *Repository) ResetBranch(ctx context.Context, name string, snap ObjectID) error {
	if err := r.usable(); err != nil {
		return err
	}
	if err := ValidateRefName(name); err != nil {
		return err
	}
	if r.spec == SpecVersion2 {
		tip, err := r.LookupBranch(ctx, name)
		if err != nil {
			return fmt.Errorf("formatv2: reset branch: %w", err)
		}
		_, err = r.updateRepo(ctx, repoChange{
			what: fmt.Sprintf("reset branch %q", name),
			mutate: func(st *repoState, _ *RepoInfo) (Update, error) {
				cur, ok := st.branches[name]
				if !ok {
					return Update{}, fmt.Errorf("formatv2: reset branch %q: %w: expected tip %s, the branch no longer exists", name, ErrConflict, tip)
				}
				if cur != tip {
					return Update{}, fmt.Errorf("formatv2: reset branch %q: %w: expected tip %s, found %s", name, ErrConflict, tip, cur)
				}
				if err := st.requireLive(snap); err != nil {
					return Update{}, fmt.Errorf("formatv2: reset branch %q: %w", name, err)
				}
				st.branches[name] = snap
				return Update{Type: UpdateBranchReset, Name: name, PreviousSnapshot: cur}, nil
			},
		})
		return err
	}
	if err := r.requireSnapshot(ctx, snap); err != nil {
		return fmt.Errorf("formatv2: reset branch %q: %w", name, err)
	}
	tip, err := r.LookupBranch(ctx, name)
	if err != nil {
		return fmt.Errorf("formatv2: reset branch: %w", err)
	}
	if err := r.updateBranch(ctx, name, tip, snap); err != nil {
		return fmt.Errorf("formatv2: reset branch: %w", err)
	}
	return nil
}

// DeleteBranch removes a branch. main cannot be deleted
// (ErrCannotDeleteMain); a missing branch is ErrRefNotFound.
func (r *Repository) DeleteBranch(ctx context.Context, name string) error {
	if err := r.usable(); err != nil {
		return err
	}
	if err := ValidateRefName(name); err != nil {
		return err
	}
	if name == mainBranch {
		return fmt.Errorf("formatv2: delete branch %q: %w", name, ErrCannotDeleteMain)
	}
	if r.spec == SpecVersion2 {
		_, err := r.updateRepo(ctx, repoChange{
			what: fmt.Sprintf("delete branch %q", name),
			mutate: func(st *repoState, _ *RepoInfo) (Update, error) {
				prev, err := st.branch(name)
				if err != nil {
					return Update{}, fmt.Errorf("formatv2: delete branch: %w", err)
				}
				delete(st.branches, name)
				return Update{Type: UpdateBranchDeleted, Name: name, PreviousSnapshot: prev}, nil
			},
		})
		return err
	}
	if _, err := r.LookupBranch(ctx, name); err != nil {
		return fmt.Errorf("formatv2: delete branch: %w", err)
	}
	if err := r.checkNotV2(ctx); err != nil {
		return fmt.Errorf("formatv2: delete branch %q: %w", name, err)
	}
	if err := r.store.Delete(ctx, branchKey(name)); err != nil {
		return fmt.Errorf("formatv2: delete branch %q: delete %s: %w", name, branchKey(name), err)
	}
	return nil
}

// CreateTag creates a tag at an existing snapshot, only if no tag of that
// name exists or ever existed (ErrTagExists otherwise: deleted tag names are
// never reused).
func (r *Repository) CreateTag(ctx context.Context, name string, snap ObjectID) error {
	if err := r.usable(); err != nil {
		return err
	}
	if err := ValidateRefName(name); err != nil {
		return err
	}
	if r.spec == SpecVersion2 {
		_, err := r.updateRepo(ctx, repoChange{
			what: fmt.Sprintf("create tag %q", name),
			mutate: func(st *repoState, _ *RepoInfo) (Update, error) {
				// The snapshot first, then the name, as upstream checks
				// them (and as spec 1 does).
				if err := st.requireLive(snap); err != nil {
					return Update{}, fmt.Errorf("formatv2: create tag %q: %w", name, err)
				}
				if st.deletedTags[name] {
					return Update{}, fmt.Errorf("formatv2: create tag %q: %w: the name belonged to a deleted tag and cannot be reused", name, ErrTagExists)
				}
				if _, ok := st.tags[name]; ok {
					return Update{}, fmt.Errorf("formatv2: create tag %q: %w", name, ErrTagExists)
				}
				st.tags[name] = snap
				return Update{Type: UpdateTagCreated, Name: name}, nil
			},
		})
		return err
	}
	if err := r.requireSnapshot(ctx, snap); err != nil {
		return fmt.Errorf("formatv2: create tag %q: %w", name, err)
	}
	deleted, err := r.exists(ctx, tombstoneKey(name))
	if err != nil {
		return fmt.Errorf("formatv2: create tag %q: %w", name, err)
	}
	if deleted {
		return fmt.Errorf("formatv2: create tag %q: %w: the name belonged to a deleted tag and cannot be reused", name, ErrTagExists)
	}
	if err := r.checkNotV2(ctx); err != nil {
		return fmt.Errorf("formatv2: create tag %q: %w", name, err)
	}
	if _, err := r.store.PutIfAbsent(ctx, tagKey(name), encodeRef(snap)); err != nil {
		if errors.Is(err, objstore.ErrPreconditionFailed) {
			return fmt.Errorf("formatv2: create tag %q: %w", name, ErrTagExists)
		}
		return fmt.Errorf("formatv2: create tag %q: write %s: %w", name, tagKey(name), err)
	}
	return nil
}

// DeleteTag deletes a live tag; its name can never be used again. At spec 1
// it writes the tombstone refs/tag.<name>/ref.json.deleted (created only if
// absent) and leaves ref.json in place, as upstream 1.x does; at spec 2 the
// tag leaves the repo object and its name joins the deleted tags. A missing
// or already deleted tag is ErrRefNotFound.
func (r *Repository) DeleteTag(ctx context.Context, name string) error {
	if err := r.usable(); err != nil {
		return err
	}
	if err := ValidateRefName(name); err != nil {
		return err
	}
	if r.spec == SpecVersion2 {
		_, err := r.updateRepo(ctx, repoChange{
			what: fmt.Sprintf("delete tag %q", name),
			mutate: func(st *repoState, _ *RepoInfo) (Update, error) {
				prev, err := st.tag(name)
				if err != nil {
					return Update{}, fmt.Errorf("formatv2: delete tag: %w", err)
				}
				delete(st.tags, name)
				st.deletedTags[name] = true
				return Update{Type: UpdateTagDeleted, Name: name, PreviousSnapshot: prev}, nil
			},
		})
		return err
	}
	if _, err := r.LookupTag(ctx, name); err != nil {
		return fmt.Errorf("formatv2: delete tag: %w", err)
	}
	if err := r.checkNotV2(ctx); err != nil {
		return fmt.Errorf("formatv2: delete tag %q: %w", name, err)
	}
	if _, err := r.store.PutIfAbsent(ctx, tombstoneKey(name), []byte{}); err != nil {
		if errors.Is(err, objstore.ErrPreconditionFailed) {
			return fmt.Errorf("formatv2: delete tag %q: %w: deleted concurrently", name, ErrRefNotFound)
		}
		return fmt.Errorf("formatv2: delete tag %q: write %s: %w", name, tombstoneKey(name), err)
	}
	return nil
}

// updateBranch moves branch name from expectedTip to newTip with a
// compare-and-swap on its ref file. If the branch does not point at
// expectedTip (or no longer exists) it fails with ErrConflict. A lost race
// is re-read: it is a conflict unless the tip is still expectedTip.
func (r *Repository) updateBranch(ctx context.Context, name string, expectedTip, newTip ObjectID) error {
	key := branchKey(name)
	for attempt := 0; ; attempt++ {
		tip, v, err := r.readRef(ctx, "branch", name, key)
		if errors.Is(err, ErrRefNotFound) {
			return fmt.Errorf("formatv2: branch %q: %w: expected tip %s, the branch no longer exists", name, ErrConflict, expectedTip)
		}
		if err != nil {
			return err
		}
		if tip != expectedTip {
			return fmt.Errorf("formatv2: branch %q: %w: expected tip %s, found %s", name, ErrConflict, expectedTip, tip)
		}
		if err := r.checkNotV2(ctx); err != nil {
			return fmt.Errorf("formatv2: update branch %q: %w", name, err)
		}
		_, err = r.store.PutIfVersionMatches(ctx, key, encodeRef(newTip), v)
		if err == nil {
			return nil
		}
		if !errors.Is(err, objstore.ErrPreconditionFailed) {
			return fmt.Errorf("formatv2: branch %q: write %s: %w", name, key, err)
		}
		if attempt+1 >= maxRefCASAttempts {
			return fmt.Errorf("formatv2: branch %q: %w: lost %d compare-and-swap races", name, ErrConflict, maxRefCASAttempts)
		}
	}
}
