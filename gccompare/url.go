package gccompare

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/local"
	"github.com/icerig/icerig/objstore/storeurl"
)

// CopySuffix is inserted between an az:// repository's prefix and a random
// tag to name the sibling prefix CompareURL copies it to
// ("data/repo" -> "data/repo-gccompare-1a2b3c4d").
const CopySuffix = "-gccompare-"

// cleanupTimeout bounds the removal of a copy (it runs even when ctx has
// ended).
const cleanupTimeout = 2 * time.Minute

// CompareURL compares at a repository argument (see storeurl): a local
// path or file:/// URL is copied with CopyDir into a temporary directory;
// an az://container/prefix location is copied with CopyStore to the
// sibling prefix "<prefix>-gccompare-<random>" of the same container
// (modification times kept in the azure backend's clock metadata). Then it
// runs Compare with the original at the argument and the replica on the
// copy, and always removes the copy. Both stores stamp writes from the
// comparison's clock (see Options.Clock); opts.Scenario defaults to raw.
//
// A repository at the root of a container (az://container/) cannot be
// compared: its sibling prefix would lie inside it. A failure to remove
// the copy is returned as an error together with the report.
func CompareURL(ctx context.Context, raw string, args Args, opts Options) (*Report, error) {
	if args.Expire == nil && args.GC == nil {
		return nil, ErrNoOperation
	}
	loc, err := storeurl.Parse(raw)
	if err != nil {
		return nil, err
	}
	if opts.Scenario == "" {
		opts.Scenario = raw
	}
	clock, ok := opts.Clock.(*objstore.VirtualClock)
	if !ok {
		c := opts.Clock
		if c == nil {
			c = objstore.RealClock{}
		}
		clock = objstore.NewVirtualClock(c.Now(), sideTick)
	}
	opts.Clock = clock
	switch loc.Kind {
	case storeurl.Local:
		return compareDir(ctx, loc.Path, args, opts, clock)
	case storeurl.Azure:
		return compareAzure(ctx, loc, args, opts, clock)
	}
	return nil, fmt.Errorf("%w: %s: unknown kind %q", storeurl.ErrBadLocation, raw, loc.Kind)
}

// compareDir compares a local repository directory with a copy in a
// temporary directory.
func compareDir(ctx context.Context, dir string, args Args, opts Options, clock *objstore.VirtualClock) (rep *Report, err error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("repository %s: no such directory", dir)
	case err != nil:
		return nil, fmt.Errorf("repository %s: %w", dir, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("repository %s: not a directory", dir)
	}
	tmp, err := os.MkdirTemp("", "icerig-gccompare-*")
	if err != nil {
		return nil, fmt.Errorf("repository %s: make a directory for the copy: %w", dir, err)
	}
	defer func() {
		if rmErr := os.RemoveAll(tmp); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove the copy %s: %w", tmp, rmErr))
		}
	}()
	copyDir := filepath.Join(tmp, "repo")
	if err := CopyDir(dir, copyDir); err != nil {
		return nil, err
	}
	original, err := local.Open(dir, clock)
	if err != nil {
		return nil, err
	}
	replica, err := local.Open(copyDir, clock)
	if err != nil {
		return nil, err
	}
	return Compare(ctx, original, replica, args, opts)
}

// compareAzure compares an Azure prefix with a copy at a sibling prefix.
func compareAzure(ctx context.Context, loc storeurl.Location, args Args, opts Options, clock *objstore.VirtualClock) (rep *Report, err error) {
	if loc.Prefix == "" {
		return nil, fmt.Errorf("%s: the repository is the whole container; gc-compare needs a repository under a prefix (it copies it to a sibling prefix)", loc)
	}
	var tag [4]byte
	if _, err := rand.Read(tag[:]); err != nil {
		return nil, fmt.Errorf("%s: random copy name: %w", loc, err)
	}
	sib := loc
	sib.Prefix = loc.Prefix + CopySuffix + hex.EncodeToString(tag[:])
	original, err := loc.Open(ctx, clock)
	if err != nil {
		return nil, err
	}
	replica, err := sib.Open(ctx, clock)
	if err != nil {
		return nil, err
	}
	// Never clean up what we did not write: the sibling must start empty.
	existing, err := replica.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("copy %s: list %s: %w", loc, sib, err)
	}
	if len(existing) > 0 {
		return nil, fmt.Errorf("copy %s: %s is not empty (it holds %q); not touching it", loc, sib, existing[0].Key)
	}
	defer func() {
		if rmErr := removeAll(ctx, replica); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
	}()
	if err := CopyStore(ctx, replica, original, clock); err != nil {
		return nil, err
	}
	return Compare(ctx, original, replica, args, opts)
}

// removeAll deletes every object of store, even after ctx has ended.
func removeAll(ctx context.Context, store objstore.Store) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	objs, err := store.List(ctx, "")
	if err != nil {
		return fmt.Errorf("remove the copy %s: %w", store, err)
	}
	var errs []error
	for _, o := range objs {
		if err := store.Delete(ctx, o.Key); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove the copy %s: %w", store, err)
	}
	return nil
}
