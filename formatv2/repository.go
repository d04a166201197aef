package formatv2

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
	// overwrittenPrefix holds the backups of overwritten `repo` objects.
	overwrittenPrefix = "overwritten/"
)

// Spec versions this library writes.
const (
	// SpecVersion1 is the on-disk format of upstream Icechunk 1.x: refs/
	// files, config.yaml, parent ids in snapshots, msgpack metadata.
	SpecVersion1 = 1
	// SpecVersion2 is the format of upstream Icechunk 2.x: one mutable `repo`
	// object holding refs, snapshot list, config and ops log.
	SpecVersion2 = 2
	// DefaultSpecVersion is what Create writes when not told otherwise.
	DefaultSpecVersion = SpecVersion2
)

// InitialSnapshotID is the well-known id of the initial snapshot of a
// repository created at spec 2 ("1CECHNKREP0F1RSTCMT0"). Spec-1 and migrated
// repositories have a random initial id: never assume this one when
// reading.
var InitialSnapshotID = ObjectID{0x0b, 0x1c, 0xc8, 0xd6, 0x78, 0x75, 0x80, 0xf0, 0xe3, 0x3a, 0x65, 0x34}

// Options tunes a Repository handle. The zero value is the production
// setting.
type Options struct {
	// Clock gives commit flush times and ops log times; nil means the wall
	// clock.
	Clock objstore.Clock
	// Rand is the source of snapshot, manifest, chunk and node ids (and of
	// the random part of `overwritten/` backup names); nil means
	// crypto/rand. Reads are serialised, so a seeded source shared by
	// several sessions stays deterministic per call order.
	Rand io.Reader
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// UpdatesPerRepoFile bounds the ops log kept inside a spec-2 `repo`
	// object; older entries stay reachable through the backups. 0 means
	// DefaultUpdatesPerRepoFile.
	UpdatesPerRepoFile int
}

// DefaultUpdatesPerRepoFile is the default bound of the ops log kept in a
// spec-2 `repo` object (upstream's default).
const DefaultUpdatesPerRepoFile = 1000

// CreateOptions are the choices Create makes once for a new repository.
type CreateOptions struct {
	// SpecVersion is the on-disk format: SpecVersion1 or SpecVersion2; 0
	// means DefaultSpecVersion (2).
	SpecVersion int
	// Config is the initial configuration; nil means none (defaults). At
	// spec 1 it is written as config.yaml.
	Config *Config
}

// Repository is a handle on an Icechunk repository (spec 1 or spec 2) in
// an object store. It is safe for concurrent use; each Session must be used
// by one goroutine at a time.
type Repository struct {
	store objstore.Store
	clock objstore.Clock
	log   *slog.Logger
	spec  int

	updatesPerFile int

	randMu sync.Mutex
	rand   io.Reader

	cfgMu      sync.RWMutex
	cfg        *Config
	cfgVersion objstore.Version // spec 1: "" when config.yaml did not exist

	cache   *objectCache
	repoObj repoObjectCache // spec 2: the last `repo` object decoded

	invalidMu sync.RWMutex
	invalid   error // set once the handle was used for a migration
}

func newRepository(store objstore.Store, opts Options) *Repository {
	r := &Repository{store: store, clock: opts.Clock, rand: opts.Rand, log: opts.Logger, cache: newObjectCache(),
		updatesPerFile: opts.UpdatesPerRepoFile}
	if r.clock == nil {
		r.clock = objstore.RealClock{}
	}
	if r.rand == nil {
		r.rand = rand.Reader
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.updatesPerFile <= 0 {
		r.updatesPerFile = DefaultUpdatesPerRepoFile
	}
	return r
}

// Create initialises a new repository in store.
//
// At spec 1: config.yaml (only when a config is given), an initial snapshot
// without parent or nodes (message "Repository initialized", metadata
// {"__root": true} as upstream 1.x writes, a random id, the clock's time)
// and then the main branch, created only if absent — exactly what formatv1
// writes.
//
// At spec 2: the initial snapshot with the well-known id
// 1CECHNKREP0F1RSTCMT0 and its (empty) transaction log, then the `repo`
// object, created only if absent, with main pointing at it and an ops log of
// one "repo initialized" entry.
//
// It refuses a store that already holds a repository of either spec,
// wrapping ErrRepositoryExists.
func Create(ctx context.Context, store objstore.Store, create CreateOptions, opts Options) (*Repository, error) {
	spec := create.SpecVersion
	if spec == 0 {
		spec = DefaultSpecVersion
	}
	r := newRepository(store, opts)
	switch spec {
	case SpecVersion1:
		r.spec = SpecVersion1
		if err := r.createV1(ctx, create.Config); err != nil {
			return nil, fmt.Errorf("formatv2: create spec-1 repository in %s: %w", store, err)
		}
	case SpecVersion2:
		r.spec = SpecVersion2
		if err := r.createV2(ctx, create.Config); err != nil {
			return nil, fmt.Errorf("formatv2: create spec-2 repository in %s: %w", store, err)
		}
	default:
		return nil, fmt.Errorf("formatv2: create repository in %s: %w: spec version %d (want 1 or 2)", store, ErrUnsupportedSpec, spec)
	}
	r.log.Debug("repository created", "store", store.String(), "spec", spec)
	return r, nil
}

// checkStoreEmpty fails with ErrRepositoryExists when the store holds a
// repository of either spec.
func (r *Repository) checkStoreEmpty(ctx context.Context) error {
	if err := r.checkNotV2(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrRepositoryExists, err)
	}
	if _, _, err := r.store.Get(ctx, branchKey(mainBranch)); err == nil {
		return fmt.Errorf("%w: %s exists (a spec-1 repository)", ErrRepositoryExists, branchKey(mainBranch))
	} else if !errors.Is(err, objstore.ErrNotFound) {
		return fmt.Errorf("read %s: %w", branchKey(mainBranch), err)
	}
	return nil
}

func (r *Repository) createV1(ctx context.Context, cfg *Config) error {
	store := r.store
	if err := r.checkStoreEmpty(ctx); err != nil {
		return err
	}
	if cfg != nil {
		data, err := cfg.Marshal()
		if err != nil {
			return fmt.Errorf("encode %s: %w", ConfigKey, err)
		}
		v, err := store.Put(ctx, ConfigKey, data)
		if err != nil {
			return fmt.Errorf("write %s: %w", ConfigKey, err)
		}
		// Keep our own parsed copy so later edits by the caller do not leak in.
		parsed, err := ParseConfig(ConfigKey, data)
		if err != nil {
			return err
		}
		r.cfg, r.cfgVersion = parsed, v
	} else {
		r.cfg = DefaultConfig()
	}

	id, err := r.newObjectID()
	if err != nil {
		return err
	}
	root, err := EncodeMetadataValue(true)
	if err != nil {
		return err
	}
	initial := &Snapshot{
		ID:          id,
		SpecVersion: SpecVersion1,
		FlushedAt:   timeToMicros(r.clock.Now()),
		Message:     initialCommitMessage,
		// Upstream 1.x marks its initial snapshot with {"__root": true}.
		Metadata: []MetadataItem{{Name: "__root", Value: root}},
	}
	if err := r.writeSnapshot(ctx, initial); err != nil {
		return err
	}
	if err := r.checkNotV2(ctx); err != nil {
		return err
	}
	if _, err := store.PutIfAbsent(ctx, branchKey(mainBranch), encodeRef(id)); err != nil {
		if errors.Is(err, objstore.ErrPreconditionFailed) {
			return fmt.Errorf("%w: another client created %s first", ErrRepositoryExists, branchKey(mainBranch))
		}
		return fmt.Errorf("write %s: %w", branchKey(mainBranch), err)
	}
	return nil
}

// Open opens the repository in store, detecting its spec: a `repo` object
// makes it spec 2 (any refs/ files or config.yaml left beside it are
// ignored); otherwise refs/branch.main/ref.json makes it spec 1 (config.yaml
// is read when present); otherwise it is ErrNotARepository. A `repo` object
// of another spec version is ErrUnsupportedSpec; one that does not decode
// is ErrCorrupt.
func Open(ctx context.Context, store objstore.Store, opts Options) (*Repository, error) {
	r := newRepository(store, opts)
	data, v, err := store.Get(ctx, repoInfoKey)
	switch {
	case err == nil:
		info, err := decodeRepoObject(repoInfoKey, data)
		if err != nil {
			return nil, fmt.Errorf("formatv2: open repository %s: %w", store, err)
		}
		// The first lookup through the handle will most likely read this
		// very object. A bad index is left for that lookup to report.
		if st, err := stateOf(repoInfoKey, info); err == nil {
			r.repoObj.put(v, data, info, st)
		}
		r.spec = SpecVersion2
		r.cfg = configFromRepoInfo(r.log, info)
		return r, nil
	case !errors.Is(err, objstore.ErrNotFound):
		return nil, fmt.Errorf("formatv2: open repository %s: read %s: %w", store, repoInfoKey, err)
	}
	r.spec = SpecVersion1
	if _, _, err := store.Get(ctx, branchKey(mainBranch)); err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return nil, fmt.Errorf("formatv2: open repository %s: %w: neither a %q object nor %s", store, ErrNotARepository, repoInfoKey, branchKey(mainBranch))
		}
		return nil, fmt.Errorf("formatv2: open repository %s: read %s: %w", store, branchKey(mainBranch), err)
	}
	data, v, err = store.Get(ctx, ConfigKey)
	switch {
	case err == nil:
		cfg, err := ParseConfig(ConfigKey, data)
		if err != nil {
			return nil, fmt.Errorf("formatv2: open repository %s: %w", store, err)
		}
		r.cfg, r.cfgVersion = cfg, v
	case errors.Is(err, objstore.ErrNotFound):
		r.cfg = DefaultConfig()
	default:
		return nil, fmt.Errorf("formatv2: open repository %s: read %s: %w", store, ConfigKey, err)
	}
	// A migration may have finished between the two reads.
	if err := r.checkNotV2(ctx); err != nil {
		if errors.Is(err, ErrUnsupportedSpec) {
			return Open(ctx, store, opts)
		}
		return nil, fmt.Errorf("formatv2: open repository %s: %w", store, err)
	}
	return r, nil
}

// SpecVersion returns the on-disk spec of the repository: 1 or 2.
func (r *Repository) SpecVersion() int { return r.spec }

// Store returns the object store the repository lives in.
func (r *Repository) Store() objstore.Store { return r.store }

// Clock returns the clock commits take their flush time from.
func (r *Repository) Clock() objstore.Clock { return r.clock }

// Config returns the repository configuration: at spec 1 the parsed
// config.yaml (DefaultConfig when there is none); at spec 2 the
// configuration kept in the `repo` object when this handle opened it
// (DefaultConfig when it holds none this library can read). The result is
// shared: do not modify it, pass an edited copy to SaveConfig instead.
func (r *Repository) Config() *Config {
	r.cfgMu.RLock()
	defer r.cfgMu.RUnlock()
	return r.cfg
}

// SaveConfig makes cfg the repository configuration.
//
// At spec 1 it writes config.yaml, conditional on config.yaml being
// unchanged since this handle read or wrote it (ErrConflict otherwise). At
// spec 2 it stores the configuration in the `repo` object with a "config
// changed" ops log entry.
func (r *Repository) SaveConfig(ctx context.Context, cfg *Config) error {
	if err := r.usable(); err != nil {
		return err
	}
	if cfg == nil {
		return fmt.Errorf("formatv2: save config: nil config")
	}
	if r.spec == SpecVersion2 {
		return r.saveConfigV2(ctx, cfg)
	}
	data, err := cfg.Marshal()
	if err != nil {
		return fmt.Errorf("formatv2: save %s: %w", ConfigKey, err)
	}
	parsed, err := ParseConfig(ConfigKey, data)
	if err != nil {
		return fmt.Errorf("formatv2: save %s: re-read: %w", ConfigKey, err)
	}
	if err := r.checkNotV2(ctx); err != nil {
		return fmt.Errorf("formatv2: save %s: %w", ConfigKey, err)
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
			return fmt.Errorf("formatv2: save %s: %w: changed by another client since it was read", ConfigKey, ErrConflict)
		}
		return fmt.Errorf("formatv2: save %s: %w", ConfigKey, err)
	}
	r.cfg, r.cfgVersion = parsed, v
	return nil
}

// checkNotV2 fails with ErrUnsupportedSpec when the store holds a spec-2
// `repo` object. Spec-1 writes call it before every ref update so that a
// handle opened before a migration can never write spec-1 refs the
// migrated repository would ignore.
func (r *Repository) checkNotV2(ctx context.Context) error {
	_, _, err := r.store.Get(ctx, repoInfoKey)
	switch {
	case err == nil:
		return fmt.Errorf("repository %s became spec 2 (it has a %q object); open it again: %w", r.store, repoInfoKey, ErrUnsupportedSpec)
	case errors.Is(err, objstore.ErrNotFound):
		return nil
	default:
		return fmt.Errorf("check for %q object: %w", repoInfoKey, err)
	}
}

// usable fails with ErrHandleInvalid once the handle was used to migrate
// the repository.
func (r *Repository) usable() error {
	r.invalidMu.RLock()
	defer r.invalidMu.RUnlock()
	return r.invalid
}

// invalidate marks the handle unusable.
func (r *Repository) invalidate(reason string) {
	r.invalidMu.Lock()
	defer r.invalidMu.Unlock()
	if r.invalid == nil {
		r.invalid = fmt.Errorf("formatv2: repository %s: %w: %s; open the repository again", r.store, ErrHandleInvalid, reason)
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
