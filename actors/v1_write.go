package actors

import (
	"context"
	"errors"
	"fmt"

	"github.com/icerig/icerig/formatv1"
	"github.com/icerig/icerig/objstore"
)

// The write side of the V1 adapter: sessions, ref updates and the
// operations formatv1 does not have.

// snapshotID parses a snapshot id argument (ErrInvalidRefName when it is
// not one).
func snapshotID(id string) (formatv1.ObjectID, error) {
	if err := checkSnapshotID(id); err != nil {
		return formatv1.ObjectID{}, fmt.Errorf("%w: %v", ErrInvalidRefName, err)
	}
	oid, err := formatv1.ParseObjectID(id)
	if err != nil {
		return formatv1.ObjectID{}, fmt.Errorf("%w: %w", ErrInvalidRefName, err)
	}
	return oid, nil
}

// missingSnapshot gives a missing snapshot object the kind of a missing
// ref: the libraries' ref updates report it as the store's not-found
// error. libRefNotFound is the library's own ref-not-found sentinel.
func missingSnapshot(err, libRefNotFound error) error {
	if err != nil && errors.Is(err, objstore.ErrNotFound) && !errors.Is(err, libRefNotFound) {
		return fmt.Errorf("%w: %w", ErrRefNotFound, err)
	}
	return err
}

func (v *v1Repo) Session(ctx context.Context, ref Ref) (Session, error) {
	op := "session on " + ref.String()
	s, err := v.session(ctx, ref)
	if err != nil {
		return nil, v1Err(op, err)
	}
	return &v1Session{s: s}, nil
}

func (v *v1Repo) WritableSession(ctx context.Context, branch string) (Session, error) {
	s, err := v.r.WritableSession(ctx, branch)
	if err != nil {
		return nil, v1Err(fmt.Sprintf("writable session on branch %q", branch), err)
	}
	return &v1Session{s: s}, nil
}

// refUpdate runs one ref update that names a snapshot.
func (v *v1Repo) refUpdate(op, snapshot string, update func(formatv1.ObjectID) error) error {
	id, err := snapshotID(snapshot)
	if err != nil {
		return v1Err(op, err)
	}
	return v1Err(op, missingSnapshot(update(id), formatv1.ErrRefNotFound))
}

func (v *v1Repo) CreateBranch(ctx context.Context, name, snapshot string) error {
	return v.refUpdate(fmt.Sprintf("create branch %q at %s", name, snapshot), snapshot, func(id formatv1.ObjectID) error {
		return v.r.CreateBranch(ctx, name, id)
	})
}

func (v *v1Repo) ResetBranch(ctx context.Context, name, snapshot string) error {
	return v.refUpdate(fmt.Sprintf("reset branch %q to %s", name, snapshot), snapshot, func(id formatv1.ObjectID) error {
		return v.r.ResetBranch(ctx, name, id)
	})
}

func (v *v1Repo) DeleteBranch(ctx context.Context, name string) error {
	return v1Err(fmt.Sprintf("delete branch %q", name), v.r.DeleteBranch(ctx, name))
}

func (v *v1Repo) CreateTag(ctx context.Context, name, snapshot string) error {
	return v.refUpdate(fmt.Sprintf("create tag %q at %s", name, snapshot), snapshot, func(id formatv1.ObjectID) error {
		return v.r.CreateTag(ctx, name, id)
	})
}

func (v *v1Repo) DeleteTag(ctx context.Context, name string) error {
	return v1Err(fmt.Sprintf("delete tag %q", name), v.r.DeleteTag(ctx, name))
}

// Upgrade is ErrUnsupportedOperation: the 1.x line cannot migrate.
func (v *v1Repo) Upgrade(context.Context, bool, bool) (UpgradeResult, error) {
	return UpgradeResult{}, v1Err("upgrade", fmt.Errorf("%w: formatv1 cannot migrate a repository to spec 2", ErrUnsupportedOperation))
}

// v1Session is a formatv1 session behind the Session interface.
type v1Session struct {
	s *formatv1.Session
}

func (s *v1Session) Actor() string    { return v1Name }
func (s *v1Session) Branch() string   { return s.s.Branch() }
func (s *v1Session) ReadOnly() bool   { return s.s.ReadOnly() }
func (s *v1Session) Base() string     { return s.s.BaseSnapshot().String() }
func (s *v1Session) HasChanges() bool { return s.s.HasChanges() }

func (s *v1Session) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := s.s.Get(ctx, key)
	if err != nil {
		return nil, v1Err(fmt.Sprintf("session get %q", key), err)
	}
	return data, nil
}

func (s *v1Session) Set(ctx context.Context, key string, value []byte) error {
	return v1Err(fmt.Sprintf("set %q", key), s.s.Set(ctx, key, value))
}

func (s *v1Session) Delete(ctx context.Context, key string) error {
	return v1Err(fmt.Sprintf("delete %q", key), s.s.Delete(ctx, key))
}

func (s *v1Session) List(ctx context.Context) ([]string, error) {
	keys, err := s.s.List(ctx)
	if err != nil {
		return nil, v1Err("list", err)
	}
	if keys == nil {
		keys = []string{}
	}
	return keys, nil
}

func (s *v1Session) Commit(ctx context.Context, message string, metadata map[string]any) (string, error) {
	id, err := s.s.Commit(ctx, message, metadata)
	if err != nil {
		return "", v1Err(fmt.Sprintf("commit to branch %q", s.s.Branch()), err)
	}
	return id.String(), nil
}

// Amend is ErrUnsupportedOperation: the 1.x line has no amend.
func (s *v1Session) Amend(context.Context, string, map[string]any) (string, error) {
	return "", v1Err("amend", fmt.Errorf("%w: formatv1 has no amend", ErrUnsupportedOperation))
}

func (s *v1Session) Discard(context.Context) error {
	s.s.Discard()
	return nil
}
