package formatv1

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/icerig/icerig/objstore"
)

// Keys of the repository-level objects.
const (
	// repoInfoKey is the spec-2 repository object. A store holding it is a
	// spec-2 repository, whatever else it holds.
	repoInfoKey = "repo"
)

// Options tunes a Repository handle. The zero value is the production
// setting.
type Options struct {
	// Clock gives commit flush times; nil means the wall clock.
	Clock objstore.Clock
	// Rand is the source of snapshot, manifest, chunk and node ids; nil
	// means crypto/rand. Reads are serialised, so a seeded source shared by
	// several sessions stays deterministic per call order.
	Rand io.Reader
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Repository is a handle on a spec-1 Icechunk repository in an object store.
// It is safe for concurrent use; each Session must be used by one goroutine
// at a time.
type Repository struct {
	store objstore.Store
	clock objstore.Clock
	log   *slog.Logger

	randMu sync.Mutex
	rand   io.Reader

	cfgMu      sync.RWMutex
	cfg        *Config
	cfgVersion objstore.Version // "" when config.yaml did not exist

	cache *objectCache
}

func newRepository(store objstore.Store, opts Options) *Repository {
	r := &Repository{store: store, clock: opts.Clock, rand: opts.Rand, log: opts.Logger, cache: newObjectCache()}
	if r.clock == nil {
		r.clock = objstore.RealClock{}
	}
	if r.rand == nil {
		r.rand = rand.Reader
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// Create initialises a new spec-1 repository in store: config.yaml (only when
// cfg is not nil), an initial snapshot without parent or nodes (message
// "Repository initialized", metadata {"__root": true} as upstream writes, a
// random id, the clock's time) and then the main
// branch, created only if absent. It refuses a store that already holds a
// repository of either spec, wrapping ErrRepositoryExists (and
// ErrUnsupportedSpec for a spec-2 one).
func Create(ctx context.Context, store objstore.Store, cfg *Config, opts Options) (*Repository, error) {
	r := newRepository(store, opts)
	if err := r.checkNotV2(ctx); err != nil {
		return nil, fmt.Errorf("formatv1: create repository in %s: %w: %w", store, ErrRepositoryExists, err)
	}
	if _, _, err := store.Get(ctx, branchKey(mainBranch)); err == nil {
		return nil, fmt.Errorf("formatv1: create repository in %s: %w: %s exists", store, ErrRepositoryExists, branchKey(mainBranch))
	} else if !errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("formatv1: create repository in %s: read %s: %w", store, branchKey(mainBranch), err)
	}

	if cfg != nil {
		data, err := cfg.Marshal()
		if err != nil {
			return nil, fmt.Errorf("formatv1: create repository in %s: encode %s: %w", store, ConfigKey, err)
		}
		v, err := store.Put(ctx, ConfigKey, data)
		if err != nil {
			return nil, fmt.Errorf("formatv1: create repository in %s: write %s: %w", store, ConfigKey, err)
		}
		// Keep our own parsed copy so later edits by the caller do not leak in.
		parsed, err := ParseConfig(ConfigKey, data)
		if err != nil {
			return nil, fmt.Errorf("formatv1: create repository in %s: %w", store, err)
		}
		r.cfg, r.cfgVersion = parsed, v
	} else {
		r.cfg = DefaultConfig()
	}

	id, err := r.newObjectID()
	if err != nil {
		return nil, fmt.Errorf("formatv1: create repository in %s: %w", store, err)
	}
	root, err := EncodeMetadataValue(true)
	if err != nil {
		return nil, fmt.Errorf("formatv1: create repository in %s: %w", store, err)
	}
	initial := &Snapshot{
		ID:        id,
		FlushedAt: timeToMicros(r.clock.Now()),
		Message:   initialCommitMessage,
		// Upstream marks its initial snapshot with {"__root": true}.
		Metadata: []MetadataItem{{Name: "__root", Value: root}},
	}
	if err := r.writeSnapshot(ctx, initial); err != nil {
		return nil, fmt.Errorf("formatv1: create repository in %s: %w", store, err)
	}
	if err := r.checkNotV2(ctx); err != nil {
		return nil, fmt.Errorf("formatv1: create repository in %s: %w", store, err)
	}
	if _, err := store.PutIfAbsent(ctx, branchKey(mainBranch), encodeRef(id)); err != nil {
		if errors.Is(err, objstore.ErrPreconditionFailed) {
			return nil, fmt.Errorf("formatv1: create repository in %s: %w: another client created %s first", store, ErrRepositoryExists, branchKey(mainBranch))
		}
		return nil, fmt.Errorf("formatv1: create repository in %s: write %s: %w", store, branchKey(mainBranch), err)
	}
	r.log.Debug("repository created", "store", store.String(), "initial_snapshot", id.String())
	return r, nil
}

// Open opens the spec-1 repository in store. A store holding a spec-2 `repo`
// object is refused with an error wrapping ErrUnsupportedSpec, even when
// spec-1 refs remain beside it; a store without refs/branch.main/ref.json is
// ErrNotARepository. config.yaml is read when present (DefaultConfig
// otherwise).
func Open(ctx context.Context, store objstore.Store, opts Options) (*Repository, error) {
	r := newRepository(store, opts)
	if err := r.checkNotV2(ctx); err != nil {
		return nil, fmt.Errorf("formatv1: open repository %s: %w", store, err)
	}
	if _, _, err := store.Get(ctx, branchKey(mainBranch)); err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return nil, fmt.Errorf("formatv1: open repository %s: %w: no %s", store, ErrNotARepository, branchKey(mainBranch))
		}
		return nil, fmt.Errorf("formatv1: open repository %s: read %s: %w", store, branchKey(mainBranch), err)
	}
	data, v, err := store.Get(ctx, ConfigKey)
	switch {
	case err == nil:
		cfg, err := ParseConfig(ConfigKey, data)
		if err != nil {
			return nil, fmt.Errorf("formatv1: open repository %s: %w", store, err)
		}
		r.cfg, r.cfgVersion = cfg, v
	case errors.Is(err, objstore.ErrNotFound):
		r.cfg = DefaultConfig()
	default:
		return nil, fmt.Errorf("formatv1: open repository %s: read %s: %w", store, ConfigKey, err)
	}
	return r, nil
}

// Store returns the object store the repository lives in.
func (r *Repository) Store() objstore.Store { return r.store }

// Clock returns the clock commits take their flush time from.
func (r *Repository) Clock() objstore.Clock { return r.clock }

// Config returns the repository configuration: the parsed config.yaml, or
// DefaultConfig when there is none. The result is shared: do not modify it,
// pass an edited copy to SaveConfig instead.
func (r *Repository) Config() *Config {
	r.cfgMu.RLock()
	defer r.cfgMu.RUnlock()
	return r.cfg
}

// SaveConfig writes cfg as config.yaml and makes it this handle's
// configuration. The write is conditional on config.yaml being unchanged
// since this handle read or wrote it; if another client changed it the save
// fails with ErrConflict.
func (r *Repository) SaveConfig(ctx context.Context, cfg *Config) error {
	if cfg == nil {
		return fmt.Errorf("formatv1: save %s: nil config", ConfigKey)
	}
	data, err := cfg.Marshal()
	if err != nil {
		return fmt.Errorf("formatv1: save %s: %w", ConfigKey, err)
	}
	parsed, err := ParseConfig(ConfigKey, data)
	if err != nil {
		return fmt.Errorf("formatv1: save %s: re-read: %w", ConfigKey, err)
	}
	r.cfgMu.Lock()
	defer r.cfgMu.Unlock()
	var v objstore.Version
	if r.cfgVersion == "" {
		v, err = r.store.PutIfAbsent(ctx, ConfigKey, data)
	} else {
		v, err = r.store.PutIfVersionMatches(ctx, ConfigKey, data, r.cfgVersion)
	}
	if err != nil {
		if errors.Is(err, objstore.ErrPreconditionFailed) {
			return fmt.Errorf("formatv1: save %s: %w: changed by another client since it was read", ConfigKey, ErrConflict)
		}
		return fmt.Errorf("formatv1: save %s: %w", ConfigKey, err)
	}
	r.cfg, r.cfgVersion = parsed, v
	return nil
}

// checkNotV2 fails with ErrUnsupportedSpec when the store holds a spec-2
// `repo` object (the repository was created at or migrated to spec 2).
func (r *Repository) checkNotV2(ctx context.Context) error {
	_, _, err := r.store.Get(ctx, repoInfoKey)
	switch {
	case err == nil:
		return fmt.Errorf("repository %s is spec 2 (it has a %q object), upgrade your library: %w", r.store, repoInfoKey, ErrUnsupportedSpec)
	case errors.Is(err, objstore.ErrNotFound):
		return nil
	default:
		return fmt.Errorf("check for %q object: %w", repoInfoKey, err)
	}
}

// newObjectID draws a fresh snapshot, manifest or chunk id.
func (r *Repository) newObjectID() (ObjectID, error) {
	r.randMu.Lock()
	defer r.randMu.Unlock()
	return NewObjectID(r.rand)
}

// newNodeID draws a fresh node id.
func (r *Repository) newNodeID() (NodeID, error) {
	r.randMu.Lock()
	defer r.randMu.Unlock()
	return NewNodeID(r.rand)
}

// logger returns the handle's logger (never nil).
func (r *Repository) logger() *slog.Logger { return r.log }

// forgetSnapshot drops a snapshot from the cache; maintenance calls it after
// rewriting or deleting the snapshot file.
func (r *Repository) forgetSnapshot(id ObjectID) { r.cache.forgetSnapshot(id) }
