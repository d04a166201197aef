package actors

import (
	"context"
	"fmt"
	"sort"

	"github.com/icerig/icerig/formatv2"
)

// The write side of the V2 adapter: sessions, ref updates, amend and
// migration.

// snapshotIDv2 parses a snapshot id argument (ErrInvalidRefName when it is
// not one).
func snapshotIDv2(id string) (formatv2.ObjectID, error) {
	if err := checkSnapshotID(id); err != nil {
		return formatv2.ObjectID{}, fmt.Errorf("%w: %v", ErrInvalidRefName, err)
	}
	oid, err := formatv2.ParseObjectID(id)
	if err != nil {
		return formatv2.ObjectID{}, fmt.Errorf("%w: %w", ErrInvalidRefName, err)
	}
	return oid, nil
}

func (v *v2Repo) Session(ctx context.Context, ref Ref) (Session, error) {
	op := "session on " + ref.String()
	s, err := v.session(ctx, ref)
	if err != nil {
		return nil, v2Err(op, err)
	}
	return &v2Session{s: s}, nil
}

func (v *v2Repo) WritableSession(ctx context.Context, branch string) (Session, error) {
	s, err := v.r.WritableSession(ctx, branch)
	if err != nil {
		return nil, v2Err(fmt.Sprintf("writable session on branch %q", branch), err)
	}
	return &v2Session{s: s}, nil
}

// refUpdate runs one ref update that names a snapshot.
func (v *v2Repo) refUpdate(op, snapshot string, update func(formatv2.ObjectID) error) error {
	id, err := snapshotIDv2(snapshot)
	if err != nil {
		return v2Err(op, err)
	}
	return v2Err(op, missingSnapshot(update(id), formatv2.ErrRefNotFound))
}

func (v *v2Repo) CreateBranch(ctx context.Context, name, snapshot string) error {
	return v.refUpdate(fmt.Sprintf("create branch %q at %s", name, snapshot), snapshot, func(id formatv2.ObjectID) error {
		return v.r.CreateBranch(ctx, name, id)
	})
}

func (v *v2Repo) ResetBranch(ctx context.Context, name, snapshot string) error {
	return v.refUpdate(fmt.Sprintf("reset branch %q to %s", name, snapshot), snapshot, func(id formatv2.ObjectID) error {
		return v.r.ResetBranch(ctx, name, id)
	})
}

func (v *v2Repo) DeleteBranch(ctx context.Context, name string) error {
	return v2Err(fmt.Sprintf("delete branch %q", name), v.r.DeleteBranch(ctx, name))
}

func (v *v2Repo) CreateTag(ctx context.Context, name, snapshot string) error {
	return v.refUpdate(fmt.Sprintf("create tag %q at %s", name, snapshot), snapshot, func(id formatv2.ObjectID) error {
		return v.r.CreateTag(ctx, name, id)
	})
}

func (v *v2Repo) DeleteTag(ctx context.Context, name string) error {
	return v2Err(fmt.Sprintf("delete tag %q", name), v.r.DeleteTag(ctx, name))
}

// Upgrade migrates a spec-1 repository to spec 2 (formatv2's Upgrade).
// After a migration that wrote the repo object the handle is invalid
// (ErrHandleInvalid): open the repository again. On a spec-2 repository it
// only deletes the spec-1 files an earlier migration left, when asked and
// when there are some; otherwise it is ErrAlreadyUpgraded.
func (v *v2Repo) Upgrade(ctx context.Context, dryRun, deleteV1Files bool) (UpgradeResult, error) {
	res, err := v.r.Upgrade(ctx, dryRun, deleteV1Files)
	if err != nil {
		return UpgradeResult{}, v2Err("upgrade", err)
	}
	out := UpgradeResult{
		DryRun:         res.DryRun,
		Branches:       idMap(res.Branches),
		Tags:           idMap(res.Tags),
		DeletedTags:    append([]string{}, res.DeletedTags...),
		Snapshots:      res.Snapshots,
		DeletedV1Files: append([]string{}, res.DeletedV1Files...),
	}
	sort.Strings(out.DeletedTags)
	return out, nil
}

// v2Session is a formatv2 session behind the Session interface.
type v2Session struct {
	s *formatv2.Session
}

func (s *v2Session) Actor() string    { return v2Name }
func (s *v2Session) Branch() string   { return s.s.Branch() }
func (s *v2Session) ReadOnly() bool   { return s.s.ReadOnly() }
func (s *v2Session) Base() string     { return s.s.BaseSnapshot().String() }
func (s *v2Session) HasChanges() bool { return s.s.HasChanges() }

func (s *v2Session) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := s.s.Get(ctx, key)
	if err != nil {
		return nil, v2Err(fmt.Sprintf("session get %q", key), err)
	}
	return data, nil
}

func (s *v2Session) Set(ctx context.Context, key string, value []byte) error {
	return v2Err(fmt.Sprintf("set %q", key), s.s.Set(ctx, key, value))
}

func (s *v2Session) Delete(ctx context.Context, key string) error {
	return v2Err(fmt.Sprintf("delete %q", key), s.s.Delete(ctx, key))
}

func (s *v2Session) List(ctx context.Context) ([]string, error) {
	keys, err := s.s.List(ctx)
	if err != nil {
		return nil, v2Err("list", err)
	}
	if keys == nil {
		keys = []string{}
	}
	return keys, nil
}

func (s *v2Session) Commit(ctx context.Context, message string, metadata map[string]any) (string, error) {
	id, err := s.s.Commit(ctx, message, metadata)
	if err != nil {
		return "", v2Err(fmt.Sprintf("commit to branch %q", s.s.Branch()), err)
	}
	return id.String(), nil
}

// Amend replaces the branch tip (spec 2 only: ErrSpec2Only at spec 1).
func (s *v2Session) Amend(ctx context.Context, message string, metadata map[string]any) (string, error) {
	id, err := s.s.Amend(ctx, message, metadata)
	if err != nil {
		return "", v2Err(fmt.Sprintf("amend on branch %q", s.s.Branch()), err)
	}
	return id.String(), nil
}

func (s *v2Session) Discard(context.Context) error {
	s.s.Discard()
	return nil
}
