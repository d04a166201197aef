package gccompare

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	cp "github.com/otiai10/copy"

	"github.com/icerig/icerig/objstore"
)

// CopyStore copies every object of src into dst, keeping modification
// times: for each object, in List order, it sets clock to the object's
// ModTime and Puts it into dst, so dst must stamp modification times from
// clock (memory.New(clock), local.Open(dir, clock), azure.Open(...,
// clock)). Afterwards clock is set back to the time it had before, even
// when the copy fails. dst must be empty: a copy mixed with other objects
// is not a copy. Nothing else may use clock while the copy runs.
func CopyStore(ctx context.Context, dst, src objstore.Store, clock *objstore.VirtualClock) error {
	if clock == nil {
		return fmt.Errorf("copy %s to %s: a clock is needed to keep modification times", src, dst)
	}
	before := clock.Peek()
	defer clock.Set(before)
	existing, err := dst.List(ctx, "")
	if err != nil {
		return fmt.Errorf("copy %s to %s: list the destination: %w", src, dst, err)
	}
	if len(existing) > 0 {
		return fmt.Errorf("copy %s to %s: the destination is not empty (it holds %q and %d other object(s))", src, dst, existing[0].Key, len(existing)-1)
	}
	objs, err := src.List(ctx, "")
	if err != nil {
		return fmt.Errorf("copy %s to %s: list the source: %w", src, dst, err)
	}
	for _, o := range objs {
		data, _, err := src.Get(ctx, o.Key)
		if err != nil {
			return fmt.Errorf("copy %s to %s: read %q: %w", src, dst, o.Key, err)
		}
		clock.Set(o.ModTime)
		if _, err := dst.Put(ctx, o.Key, data); err != nil {
			return fmt.Errorf("copy %s to %s: write %q: %w", src, dst, o.Key, err)
		}
	}
	return nil
}

// CopyDir copies the local repository directory src to dst with
// github.com/otiai10/copy, keeping modification times and adding owner
// write permission (so copies of read-only fixtures can be collected).
// dst must not exist.
func CopyDir(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("copy %s to %s: %s is not a directory", src, dst, src)
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("copy %s to %s: %s exists already", src, dst, dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	err = cp.Copy(src, dst, cp.Options{
		PreserveTimes:     true,
		PermissionControl: cp.AddPermission(0o200),
	})
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}
