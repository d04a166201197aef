// Package local is an objstore.Store on a local directory.
//
// Each key maps to a file under the root directory, its slash-separated
// segments becoming path segments ("refs/branch.main/ref.json" is
// <root>/refs/branch.main/ref.json). A key cannot name both an object and a
// "directory" of other keys ("a" and "a/b"); writing the second one fails with
// an error naming the key.
//
// Writes are atomic: the bytes go to a temporary file in the target directory,
// which gets its modification time from the store's clock, is fsynced and then
// renamed (or hard-linked, for PutIfAbsent) into place, after which the
// directory is fsynced. Every mutation of a key (Put, PutIfAbsent,
// PutIfVersionMatches, Delete) runs under an exclusive flock(2) on a per-key
// lock file, so conditional writes are safe across goroutines and processes
// that use this package on the same directory.
//
// Temporary and lock files carry a backslash in their names (".tmp\…",
// ".lock\…"). objstore.ValidateKey rejects backslashes, so these names can
// never collide with an object key, and List never reports them. Temporary
// files left behind by a crashed process are therefore invisible, and lock
// files are removed when their operation ends. Because these names extend
// the object's file name, a key's last segment should stay under about 230
// bytes (file names are limited to 255); longer ones fail with an error.
//
// Versions are derived from the file's identity and content: inode number,
// size, modification time, status-change time (ctime, set by the kernel on
// every write) and a SHA-256 prefix of the bytes. Each write creates a new
// inode, so two writes of identical bytes normally get different versions; an
// A-B-A sequence can only repeat a version when the same bytes land on a
// recycled inode with the same mtime within one kernel timestamp tick, in
// which case the object is byte-for-byte what the caller read, so a
// compare-and-swap that succeeds on it is still sound.
//
// Modification times (ObjectInfo.ModTime) are the files' real mtimes, which
// the store sets from its clock, so copies that preserve times (such as those
// made by github.com/otiai10/copy) keep them.
package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/icerig/icerig/objstore"
)

const (
	// tmpPrefix starts the names of temporary files. The backslash makes the
	// name an invalid key, so it can never shadow an object.
	tmpPrefix = ".tmp\\"
	// lockPrefix starts the names of per-key lock files.
	lockPrefix = ".lock\\"
)

// Store is an object store rooted at a local directory.
// It is safe for concurrent use by goroutines and by processes.
type Store struct {
	dir   string
	clock objstore.Clock
}

var _ objstore.Store = (*Store)(nil)

// Open returns a store rooted at dir, creating the directory if it is missing.
// Writes stamp modification times from clock (objstore.RealClock when nil).
func Open(dir string, clock objstore.Clock) (*Store, error) {
	if clock == nil {
		clock = objstore.RealClock{}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local store %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("local store %q: %w", abs, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("local store %q: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("local store %q: not a directory", abs)
	}
	return &Store{dir: abs, clock: clock}, nil
}

// Dir returns the absolute root directory of the store.
func (s *Store) Dir() string { return s.dir }

// String names the store by its root directory.
func (s *Store) String() string { return s.dir }

func (s *Store) errorf(op objstore.Op, key string, format string, args ...any) error {
	return fmt.Errorf("local store %s: %s %q: "+format, append([]any{s.dir, op, key}, args...)...)
}

// check validates key and ctx and returns the object's directory and file name.
func (s *Store) check(ctx context.Context, op objstore.Op, key string) (dir, name string, err error) {
	if err := objstore.ValidateKey(key); err != nil {
		return "", "", s.errorf(op, key, "%w", err)
	}
	if err := ctx.Err(); err != nil {
		return "", "", s.errorf(op, key, "%w", err)
	}
	p := filepath.Join(s.dir, filepath.FromSlash(key))
	return filepath.Dir(p), filepath.Base(p), nil
}

// Get returns the object's bytes and version.
func (s *Store) Get(ctx context.Context, key string) ([]byte, objstore.Version, error) {
	dir, name, err := s.check(ctx, objstore.OpGet, key)
	if err != nil {
		return nil, "", err
	}
	data, v, err := readObject(filepath.Join(dir, name))
	if err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return nil, "", s.errorf(objstore.OpGet, key, "%w", objstore.ErrNotFound)
		}
		return nil, "", s.errorf(objstore.OpGet, key, "%w", err)
	}
	return data, v, nil
}

// Put writes the object unconditionally.
func (s *Store) Put(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	return s.write(ctx, objstore.OpPut, key, data, "")
}

// PutIfAbsent creates the object only if no object exists at key.
func (s *Store) PutIfAbsent(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	return s.write(ctx, objstore.OpPutIfAbsent, key, data, "")
}

// PutIfVersionMatches replaces the object only if its current version is v.
func (s *Store) PutIfVersionMatches(ctx context.Context, key string, data []byte, v objstore.Version) (objstore.Version, error) {
	return s.write(ctx, objstore.OpPutIfVersionMatches, key, data, v)
}

func (s *Store) write(ctx context.Context, op objstore.Op, key string, data []byte, want objstore.Version) (objstore.Version, error) {
	dir, name, err := s.check(ctx, op, key)
	if err != nil {
		return "", err
	}
	if op == objstore.OpPutIfVersionMatches && want == "" {
		return "", s.errorf(op, key, "empty version: %w", objstore.ErrPreconditionFailed)
	}
	if err := s.ensureDir(dir); err != nil {
		return "", s.errorf(op, key, "%w", err)
	}
	f, tmp, err := s.writeTemp(dir, name, data)
	if err != nil {
		return "", s.errorf(op, key, "%w", err)
	}
	defer func() {
		f.Close()
		if tmp != "" {
			os.Remove(tmp)
		}
	}()
	target := filepath.Join(dir, name)
	unlock, err := lockKey(dir, name)
	if err != nil {
		return "", s.errorf(op, key, "%w", err)
	}
	defer unlock()

	switch op {
	case objstore.OpPutIfAbsent:
		if err := linkNew(tmp, target); err != nil {
			if errors.Is(err, objstore.ErrPreconditionFailed) {
				return "", s.errorf(op, key, "object exists: %w", err)
			}
			return "", s.errorf(op, key, "%w", err)
		}
		// The object now lives at target; drop the temporary name (already
		// gone if linkNew had to fall back to a rename).
		if err := os.Remove(tmp); err != nil && !isNotExist(err) {
			return "", s.errorf(op, key, "%w", err)
		}
		tmp = ""
	case objstore.OpPutIfVersionMatches:
		cur, err := currentVersion(target, want)
		if errors.Is(err, objstore.ErrNotFound) {
			return "", s.errorf(op, key, "object does not exist: %w", objstore.ErrPreconditionFailed)
		}
		if err != nil {
			return "", s.errorf(op, key, "%w", err)
		}
		if cur != want {
			return "", s.errorf(op, key, "version %q is not current: %w", want, objstore.ErrPreconditionFailed)
		}
		fallthrough
	default:
		if err := os.Rename(tmp, target); err != nil {
			return "", s.errorf(op, key, "%w", describeConflict(target, err))
		}
		tmp = ""
	}
	// Take the version only now: renaming and unlinking change the ctime.
	fi, err := f.Stat()
	if err != nil {
		return "", s.errorf(op, key, "%w", err)
	}
	v := versionOf(fi, sha256.Sum256(data))
	if err := syncDir(dir); err != nil {
		return "", s.errorf(op, key, "%w", err)
	}
	return v, nil
}

// Delete removes the object; deleting a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	dir, name, err := s.check(ctx, objstore.OpDelete, key)
	if err != nil {
		return err
	}
	target := filepath.Join(dir, name)
	if _, err := os.Lstat(dir); err != nil {
		if isNotExist(err) {
			return nil
		}
		return s.errorf(objstore.OpDelete, key, "%w", err)
	}
	unlock, err := lockKey(dir, name)
	if err != nil {
		if isNotExist(err) {
			return nil // the directory vanished: nothing to delete
		}
		return s.errorf(objstore.OpDelete, key, "%w", err)
	}
	defer unlock()
	fi, err := os.Lstat(target)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return s.errorf(objstore.OpDelete, key, "%w", err)
	}
	if fi.IsDir() {
		return nil // a "directory" of other keys is not an object
	}
	if err := os.Remove(target); err != nil && !isNotExist(err) {
		return s.errorf(objstore.OpDelete, key, "%w", err)
	}
	if err := syncDir(dir); err != nil {
		return s.errorf(objstore.OpDelete, key, "%w", err)
	}
	return nil
}

// List returns every object whose key starts with prefix, sorted by key.
func (s *Store) List(ctx context.Context, prefix string) ([]objstore.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.errorf(objstore.OpList, prefix, "%w", err)
	}
	out := make([]objstore.ObjectInfo, 0)
	// Walk only the deepest directory the prefix names completely.
	root := s.dir
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		if objstore.ValidateKey(prefix[:i]) != nil {
			return out, nil // no valid key can start with this prefix
		}
		root = filepath.Join(s.dir, filepath.FromSlash(prefix[:i]))
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if isNotExist(err) {
				return nil // missing or concurrently removed
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if strings.ContainsRune(d.Name(), '\\') {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil // temporary or lock file
		}
		rel, err := filepath.Rel(s.dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if p == root {
				return nil
			}
			dk := key + "/"
			if !strings.HasPrefix(dk, prefix) && !strings.HasPrefix(prefix, dk) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(key, prefix) || objstore.ValidateKey(key) != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if isNotExist(err) {
				return nil // deleted while listing
			}
			return err
		}
		out = append(out, objstore.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, s.errorf(objstore.OpList, prefix, "%w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// ensureDir creates dir and any missing parents below the store root,
// fsyncing each parent after creating a child so the new path is durable.
func (s *Store) ensureDir(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is an object, not a directory of objects", dir)
		}
		return nil
	}
	if !isNotExist(err) || dir == s.dir {
		return err
	}
	parent := filepath.Dir(dir)
	if err := s.ensureDir(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

// writeTemp writes data to a new temporary file in dir, stamps its times from
// the store's clock and fsyncs it. The file is returned open.
func (s *Store) writeTemp(dir, name string, data []byte) (*os.File, string, error) {
	f, err := os.CreateTemp(dir, tmpPrefix+name+"\\*")
	if err != nil {
		return nil, "", err
	}
	tmp := f.Name()
	fail := func(err error) (*os.File, string, error) {
		f.Close()
		os.Remove(tmp)
		return nil, "", err
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	now := s.clock.Now()
	if err := os.Chtimes(tmp, now, now); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	return f, tmp, nil
}

// lockKey takes the exclusive per-key lock for the object name in dir and
// returns the function that releases it.
//
// The lock file is removed by its holder before unlocking, so lock files do
// not accumulate. A waiter that obtains a lock on a file that has meanwhile
// been removed (or replaced) notices that the path no longer names the file
// it locked and starts over.
func lockKey(dir, name string) (func(), error) {
	p := filepath.Join(dir, lockPrefix+name)
	for {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		if err := flock(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		held, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		now, err := os.Lstat(p)
		if err == nil && os.SameFile(held, now) {
			return func() {
				os.Remove(p)
				f.Close() // releases the flock
			}, nil
		}
		f.Close()
		if err != nil && !isNotExist(err) {
			return nil, err
		}
	}
}

// flock takes an exclusive lock on f, retrying when interrupted by a signal.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

// linkNew makes target a new name of the file at tmp, failing with
// ErrPreconditionFailed if target exists. The caller holds the key's lock;
// link(2) makes the create-if-absent atomic even against writers that do not.
func linkNew(tmp, target string) error {
	err := os.Link(tmp, target)
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Lstat(target); serr == nil && fi.IsDir() {
			return describeConflict(target, err)
		}
		return objstore.ErrPreconditionFailed
	}
	var errno syscall.Errno
	if errors.As(err, &errno) && (errno == syscall.EPERM || errno == syscall.ENOTSUP || errno == syscall.ENOSYS) {
		// The file system has no hard links: fall back to check-then-rename,
		// which the key lock makes safe among users of this package.
		if _, serr := os.Lstat(target); serr == nil {
			return objstore.ErrPreconditionFailed
		} else if !isNotExist(serr) {
			return serr
		}
		return os.Rename(tmp, target)
	}
	return err
}

// describeConflict explains a failed write to a path that is a directory.
func describeConflict(target string, err error) error {
	if fi, serr := os.Lstat(target); serr == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory of other objects; the local store cannot hold an object at the same key: %w", target, err)
	}
	return err
}

// readObject reads the file at p and computes its version.
func readObject(p string) ([]byte, objstore.Version, error) {
	f, err := os.Open(p)
	if err != nil {
		if isNotExist(err) {
			return nil, "", objstore.ErrNotFound
		}
		return nil, "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	if !fi.Mode().IsRegular() {
		return nil, "", objstore.ErrNotFound // a directory of other keys
	}
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()) + 512)
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, "", err
	}
	// Writers never modify a file in place, so this fstat still describes
	// the bytes just read.
	fi, err = f.Stat()
	if err != nil {
		return nil, "", err
	}
	data := buf.Bytes()
	return data, versionOf(fi, sha256.Sum256(data)), nil
}

// currentVersion returns the version of the file at p. It reads and hashes
// the file only when its metadata agrees with want.
func currentVersion(p string, want objstore.Version) (objstore.Version, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		if isNotExist(err) {
			return "", objstore.ErrNotFound
		}
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", objstore.ErrNotFound
	}
	if !strings.HasPrefix(string(want), statPart(fi)) {
		return objstore.Version(statPart(fi)), nil // differs: no need to hash
	}
	_, v, err := readObject(p)
	return v, err
}

// statPart is the metadata part of a version.
func statPart(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Sprintf("s%x.m%x.", fi.Size(), fi.ModTime().UnixNano())
	}
	ctime := time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)).UnixNano()
	return fmt.Sprintf("i%x.s%x.m%x.c%x.", st.Ino, fi.Size(), fi.ModTime().UnixNano(), ctime)
}

// versionOf combines file metadata and a content hash into a version.
func versionOf(fi fs.FileInfo, sum [sha256.Size]byte) objstore.Version {
	return objstore.Version(statPart(fi) + hex.EncodeToString(sum[:12]))
}

// syncDir fsyncs a directory so renames and removals in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return err
	}
	return nil
}

// isNotExist reports whether err means a path (or one of its parents) is missing.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
