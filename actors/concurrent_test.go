package actors_test

// The cross-version concurrency tests: two versions of the library (the V1
// and V2 actors) work on one repository at the same time, each writer with
// its own handle and its own store value (like separate processes), on the
// memory, local and Azurite (real azblob) backends. Afterwards fresh
// handles of every actor that reads the spec must find every successful
// commit exactly once, every byte written, and nothing for Fsck to report.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/internal/azurite"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/azure"
	"github.com/icerig/icerig/objstore/local"
	"github.com/icerig/icerig/objstore/memory"
	"github.com/icerig/icerig/zarr"
)

// TestMain stops the Azurite emulator azurite.Shared may have started.
func TestMain(m *testing.M) { os.Exit(azurite.Main(m)) }

// ccAzuriteHint says how to provide the emulator the Azure rows need.
const ccAzuriteHint = "the Azure rows of the concurrency tests need the Azurite emulator: " +
	"run them as `go run ./internal/azurite/cmd/with-azurite -- go test ./actors/` from the module root, " +
	"or set " + azurite.EndpointEnv + "=http://127.0.0.1:10000/devstoreaccount1 to use a running one " +
	"(install it with `npm ci` in the module root)"

// ccMaxAttempts bounds the tries of one commit (a livelock guard: every
// conflict means another writer's commit went through, so a commit never
// needs more tries than there are commits in the run).
const ccMaxAttempts = 500

// ccEpoch is where every test's virtual clock starts.
var ccEpoch = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// ccArray is the array every writer writes chunks of.
const ccArray = "data"

// ccBackend is one object-store backend of the table.
type ccBackend struct {
	name string
	// location prepares an empty repository location and returns its
	// opener: every call gives a new Store value on that location where
	// the backend has more than one (local, Azure), as another process
	// would open it.
	location func(t *testing.T, clock objstore.Clock) func(t *testing.T) objstore.Store
}

// ccBackends lists the backends every test runs on.
func ccBackends() []ccBackend {
	return []ccBackend{
		{name: "memory", location: func(t *testing.T, clock objstore.Clock) func(t *testing.T) objstore.Store {
			st := ccYieldStore{memory.New(clock)}
			return func(*testing.T) objstore.Store { return st }
		}},
		{name: "local", location: func(t *testing.T, clock objstore.Clock) func(t *testing.T) objstore.Store {
			dir := t.TempDir()
			return func(t *testing.T) objstore.Store {
				t.Helper()
				st, err := local.Open(dir, clock)
				require.NoError(t, err, "open local store %s", dir)
				return st
			}
		}},
		{name: "azure", location: func(t *testing.T, clock objstore.Clock) func(t *testing.T) objstore.Store {
			srv := azurite.Shared(ccHintTB{TB: t, hint: ccAzuriteHint})
			container := srv.Container(t)
			return func(t *testing.T) objstore.Store {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				st, err := azure.Open(ctx, srv.ConnectionString(), container, "repo", clock)
				require.NoError(t, err, "open az://%s/repo at %s: %s", container, srv.Endpoint(), ccAzuriteHint)
				return st
			}
		}},
	}
}

// ccYieldStore yields the processor before every operation of its store.
// The memory store answers without ever blocking, so without it one
// writer's whole commit tends to run before the next goroutine is
// scheduled and the writers hardly interleave.
type ccYieldStore struct{ objstore.Store }

func (s ccYieldStore) Get(ctx context.Context, key string) ([]byte, objstore.Version, error) {
	runtime.Gosched()
	return s.Store.Get(ctx, key)
}

func (s ccYieldStore) Put(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	runtime.Gosched()
	return s.Store.Put(ctx, key, data)
}

func (s ccYieldStore) PutIfAbsent(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	runtime.Gosched()
	return s.Store.PutIfAbsent(ctx, key, data)
}

func (s ccYieldStore) PutIfVersionMatches(ctx context.Context, key string, data []byte, v objstore.Version) (objstore.Version, error) {
	runtime.Gosched()
	return s.Store.PutIfVersionMatches(ctx, key, data, v)
}

func (s ccYieldStore) Delete(ctx context.Context, key string) error {
	runtime.Gosched()
	return s.Store.Delete(ctx, key)
}

func (s ccYieldStore) List(ctx context.Context, prefix string) ([]objstore.ObjectInfo, error) {
	runtime.Gosched()
	return s.Store.List(ctx, prefix)
}

// ccHintTB adds a hint to the Fatalf messages of a TB (azurite.Shared
// fails a test with Fatalf).
type ccHintTB struct {
	testing.TB
	hint string
}

func (h ccHintTB) Fatalf(format string, args ...any) {
	h.TB.Helper()
	h.TB.Fatalf(format+"\n%s", append(args, h.hint)...)
}

// ccEachBackend runs f as a subtest per backend, with a fresh virtual
// clock shared by every handle and store of the subtest. The clock ticks
// one millisecond per reading, so flush times are strictly increasing: a
// commit reads the clock after it has seen its parent as the branch tip,
// which is after the parent read the clock.
func ccEachBackend(t *testing.T, f func(t *testing.T, clock *objstore.VirtualClock, open func(t *testing.T) objstore.Store)) {
	for _, b := range ccBackends() {
		t.Run(b.name, func(t *testing.T) {
			clock := objstore.NewVirtualClock(ccEpoch, time.Millisecond)
			f(t, clock, b.location(t, clock))
		})
	}
}

// ccActor looks up a registered actor.
func ccActor(t *testing.T, name string) actors.Actor {
	t.Helper()
	a, err := actors.Lookup(name)
	require.NoError(t, err)
	return a
}

// ccOpen opens the repository with actor a on a new store value.
func ccOpen(t *testing.T, a actors.Actor, open func(t *testing.T) objstore.Store, clock objstore.Clock) actors.Handle {
	t.Helper()
	h, err := a.Open(context.Background(), open(t), actors.Options{Clock: clock})
	require.NoError(t, err, "%s opens the repository", a.Name())
	require.Equal(t, a.Name(), h.Actor())
	return h
}

// ccArrayDoc is the zarr.json of a one-dimensional uint8 array of n chunks
// of one element each.
func ccArrayDoc(t *testing.T, n int) []byte {
	t.Helper()
	doc, err := zarr.NewArray(&zarr.ArrayMetadata{
		Shape: []uint64{uint64(n)}, ChunkShape: []uint64{1}, DataType: zarr.Uint8, FillValue: zarr.IntFill(0),
	})
	require.NoError(t, err)
	return doc
}

// ccChunkKey is the key of chunk i of the array.
func ccChunkKey(i int) string { return fmt.Sprintf("%s/c/%d", ccArray, i) }

// ccValue is the distinct value writer writes in its commit k: every
// second one is long enough to be a chunk object rather than an inline
// chunk.
func ccValue(writer string, k int) []byte {
	v := fmt.Sprintf("%s commit %d;", writer, k)
	if k%2 == 1 {
		v = strings.Repeat(v, 1+1024/len(v))
	}
	return []byte(v)
}

// ccSetup commits the array (n chunks) to main through h and returns the
// ids of the setup commit and of the initial snapshot.
func ccSetup(t *testing.T, h actors.Handle, n int) (setup, initial string) {
	t.Helper()
	ctx := context.Background()
	initial, err := h.Resolve(ctx, actors.MainBranch)
	require.NoError(t, err)
	s, err := h.WritableSession(ctx, "main")
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, ccArray+"/zarr.json", ccArrayDoc(t, n)))
	setup, err = s.Commit(ctx, "setup", nil)
	require.NoError(t, err)
	return setup, initial
}

// ccWriter is one concurrent writer: its own handle, a branch and the
// chunks it writes, one per commit.
type ccWriter struct {
	name   string // "v1-0": actor and number
	h      actors.Handle
	branch string
	chunks []int
}

// ccCommit is one successful commit.
type ccCommit struct {
	writer  string
	seq     int // the writer's commit number
	id      string
	message string
	key     string
	value   []byte
}

// ccResult is what one writer did.
type ccResult struct {
	commits   []ccCommit
	conflicts int
	err       error
}

// ccWrite waits for start, then commits each of w's chunks to its branch,
// opening a new session on the tip and retrying after every ErrConflict.
// Any other error ends it.
func ccWrite(ctx context.Context, w ccWriter, start <-chan struct{}) (res ccResult) {
	<-start
	for k, chunk := range w.chunks {
		c := ccCommit{writer: w.name, seq: k, message: fmt.Sprintf("%s commit %d", w.name, k), key: ccChunkKey(chunk), value: ccValue(w.name, k)}
		for attempt := 1; ; attempt++ {
			if attempt > ccMaxAttempts {
				res.err = fmt.Errorf("%s: %q still conflicts after %d attempts", w.name, c.message, ccMaxAttempts)
				return res
			}
			s, err := w.h.WritableSession(ctx, w.branch)
			if err != nil {
				res.err = fmt.Errorf("%s: writable session on %q: %w", w.name, w.branch, err)
				return res
			}
			if err := s.Set(ctx, c.key, c.value); err != nil {
				res.err = fmt.Errorf("%s: set %s: %w", w.name, c.key, err)
				return res
			}
			id, err := s.Commit(ctx, c.message, map[string]any{"writer": w.name})
			if errors.Is(err, actors.ErrConflict) {
				res.conflicts++
				continue
			}
			if err != nil {
				res.err = fmt.Errorf("%s: %q (attempt %d): kind %q: %w", w.name, c.message, attempt, actors.KindName(actors.KindOf(err)), err)
				return res
			}
			c.id = id
			res.commits = append(res.commits, c)
			break
		}
	}
	return res
}

// ccRun runs the writers at the same time and returns their results, in
// writer order. A writer's error fails the test.
func ccRun(t *testing.T, writers []ccWriter) []ccResult {
	t.Helper()
	ctx := context.Background()
	results := make([]ccResult, len(writers))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = ccWrite(ctx, w, start)
		}()
	}
	close(start)
	wg.Wait()
	for i, r := range results {
		require.NoError(t, r.err, "writer %s", writers[i].name)
		require.Len(t, r.commits, len(writers[i].chunks), "writer %s", writers[i].name)
	}
	return results
}

// ccWant is what a branch must hold after a run.
type ccWant struct {
	branch string
	// commits are the run's commits on the branch, in any order
	// (ordered says whether they must be in exactly this order, oldest
	// first); each writer's own commits must keep their order.
	commits []ccCommit
	ordered bool
	// tail is the ancestry below the run's commits, newest first (setup,
	// initial snapshot).
	tail []string
	// data maps every key the branch holds to its bytes.
	data map[string][]byte
}

// ccVerify checks a branch through h: its ancestry is exactly the run's
// commits (each once, messages and metadata intact, per-writer order kept,
// a consistent parent chain with increasing flush times) on top of the
// tail, and it holds exactly want.data.
func ccVerify(t *testing.T, h actors.Handle, want ccWant) {
	t.Helper()
	ctx := context.Background()
	ref := actors.Branch(want.branch)
	who := fmt.Sprintf("%s reading %s", h.Actor(), ref)
	anc, err := h.Ancestry(ctx, ref)
	require.NoError(t, err, who)
	ids := make([]string, len(anc))
	for i, s := range anc {
		ids[i] = s.ID
	}
	var missing []string
	for _, c := range want.commits {
		if !slices.Contains(ids, c.id) {
			missing = append(missing, fmt.Sprintf("%s (%q)", c.id, c.message))
		}
	}
	assert.Empty(t, missing, "%s: successful commits missing from the ancestry %v", who, ids)
	assert.Len(t, ids, len(want.commits)+len(want.tail),
		"%s: ancestry is the %d commits of the run on %d older snapshots", who, len(want.commits), len(want.tail))
	require.GreaterOrEqual(t, len(ids), len(want.tail), "%s: ancestry %v", who, ids)
	assert.Equal(t, want.tail, ids[len(ids)-len(want.tail):], "%s: the history below the run", who)
	tip, err := h.Resolve(ctx, ref)
	require.NoError(t, err, who)
	assert.Equal(t, ids[0], tip, "%s: the tip starts the ancestry", who)

	pos := map[string]int{}
	for i, id := range ids {
		_, dup := pos[id]
		assert.False(t, dup, "%s: snapshot %s appears twice in the ancestry", who, id)
		pos[id] = i
	}
	for i := 0; i+1 < len(anc); i++ {
		assert.Equal(t, anc[i+1].ID, anc[i].ParentID, "%s: parent of %s", who, anc[i].ID)
		assert.True(t, anc[i].FlushedAt.After(anc[i+1].FlushedAt), "%s: %s flushed at %s, not after its parent's %s",
			who, anc[i].ID, anc[i].FlushedAt, anc[i+1].FlushedAt)
	}
	assert.Empty(t, anc[len(anc)-1].ParentID, "%s: the initial snapshot has no parent", who)

	lastPos := map[string]int{} // writer -> ancestry position of its previous commit
	for i, c := range want.commits {
		p, ok := pos[c.id]
		if !ok {
			continue // reported above
		}
		assert.Less(t, p, len(ids)-len(want.tail), "%s: commit %s (%q) is below the setup", who, c.id, c.message)
		assert.Equal(t, c.message, anc[p].Message, "%s: message of %s", who, c.id)
		assert.Equal(t, map[string]any{"writer": c.writer}, anc[p].Metadata, "%s: metadata of %s", who, c.id)
		if want.ordered {
			assert.Equal(t, len(want.commits)-1-i, p, "%s: %q is not where its order puts it", who, c.message)
		}
		if prev, ok := lastPos[c.writer]; ok {
			assert.Less(t, p, prev, "%s: %q is older than the writer's commit before it", who, c.message)
		}
		lastPos[c.writer] = p
	}

	for key, value := range want.data {
		got, err := h.Get(ctx, ref, key)
		if assert.NoError(t, err, "%s: get %s", who, key) {
			assert.Equal(t, string(value), string(got), "%s: bytes of %s", who, key)
		}
	}
	s, err := h.Session(ctx, ref)
	require.NoError(t, err, who)
	listed, err := s.List(ctx)
	require.NoError(t, err, who)
	wantKeys := make([]string, 0, len(want.data))
	for key := range want.data {
		wantKeys = append(wantKeys, key)
	}
	slices.Sort(wantKeys)
	assert.Equal(t, wantKeys, listed, "%s: the keys of the version", who)
}

// ccFsck checks that Fsck through h finds nothing.
func ccFsck(t *testing.T, h actors.Handle) {
	t.Helper()
	findings, err := h.Fsck(context.Background())
	require.NoError(t, err, "%s: fsck", h.Actor())
	assert.Empty(t, findings, "%s: fsck findings", h.Actor())
}

// ccAllCommits flattens the results; ccData maps the keys they wrote (and
// the array document) to their bytes.
func ccAllCommits(results []ccResult) []ccCommit {
	var out []ccCommit
	for _, r := range results {
		out = append(out, r.commits...)
	}
	return out
}

func ccData(t *testing.T, chunks int, commits []ccCommit) map[string][]byte {
	t.Helper()
	data := map[string][]byte{ccArray + "/zarr.json": ccArrayDoc(t, chunks)}
	for _, c := range commits {
		data[c.key] = c.value
	}
	return data
}

func ccConflicts(results []ccResult) int {
	n := 0
	for _, r := range results {
		n += r.conflicts
	}
	return n
}

// ccMainWriters makes writers for the named actors ("v1", "v2", ...), each
// with its own handle on main, writing perWriter distinct chunks.
func ccMainWriters(t *testing.T, names []string, perWriter int, open func(t *testing.T) objstore.Store, clock objstore.Clock) []ccWriter {
	t.Helper()
	writers := make([]ccWriter, len(names))
	for i, name := range names {
		w := ccWriter{name: fmt.Sprintf("%s-%d", name, i), h: ccOpen(t, ccActor(t, name), open, clock), branch: "main"}
		for k := 0; k < perWriter; k++ {
			w.chunks = append(w.chunks, i*perWriter+k)
		}
		writers[i] = w
	}
	return writers
}

// TestCrossVersionConcurrentCommitsSpec1: V1 and V2 writers commit to main
// of one spec-1 repository at the same time; every successful commit
// lands exactly once and both versions read the same, intact history.
func TestCrossVersionConcurrentCommitsSpec1(t *testing.T) {
	names := []string{"v1", "v2", "v1", "v2", "v1", "v2"}
	const perWriter = 3
	chunks := len(names) * perWriter
	ccEachBackend(t, func(t *testing.T, clock *objstore.VirtualClock, open func(t *testing.T) objstore.Store) {
		ctx := context.Background()
		_, err := ccActor(t, "v1").Create(ctx, open(t), actors.Options{Clock: clock, SpecVersion: 1})
		require.NoError(t, err)
		// The array comes from the other version than the repository.
		setup, initial := ccSetup(t, ccOpen(t, ccActor(t, "v2"), open, clock), chunks)

		results := ccRun(t, ccMainWriters(t, names, perWriter, open, clock))
		commits := ccAllCommits(results)
		t.Logf("%d commits, %d conflicts retried", len(commits), ccConflicts(results))

		want := ccWant{branch: "main", commits: commits, tail: []string{setup, initial}, data: ccData(t, chunks, commits)}
		for _, name := range []string{"v1", "v2"} {
			h := ccOpen(t, ccActor(t, name), open, clock)
			assert.Equal(t, 1, h.SpecVersion())
			ccVerify(t, h, want)
			ccFsck(t, h)
			branches, err := h.Branches(ctx)
			require.NoError(t, err)
			assert.Equal(t, []string{"main"}, slices.Sorted(maps.Keys(branches)), "%s: branches", name)
		}
	})
}

// TestCrossVersionConcurrentCommitsSpec2: V2 writers commit to main of one
// spec-2 repository at the same time while V1 keeps trying to open it;
// V1 always refuses it as an unsupported spec, every successful commit
// lands exactly once, in the history and in the ops log.
func TestCrossVersionConcurrentCommitsSpec2(t *testing.T) {
	names := []string{"v2", "v2", "v2", "v2", "v2"}
	const perWriter = 3
	chunks := len(names) * perWriter
	ccEachBackend(t, func(t *testing.T, clock *objstore.VirtualClock, open func(t *testing.T) objstore.Store) {
		ctx := context.Background()
		v1, v2 := ccActor(t, "v1"), ccActor(t, "v2")
		creator, err := v2.Create(ctx, open(t), actors.Options{Clock: clock, SpecVersion: 2})
		require.NoError(t, err)
		setup, initial := ccSetup(t, creator, chunks)

		v1Open := func() error {
			_, err := v1.Open(ctx, open(t), actors.Options{Clock: clock})
			return err
		}
		err = v1Open()
		require.Equal(t, actors.ErrUnsupportedSpec, actors.KindOf(err), "v1 opens a spec-2 repository: %v", err)

		// V1 keeps trying while the writers run; each try must be refused
		// the same way, whatever state of the repo object it catches.
		done := make(chan struct{})
		refusals := make(chan []error, 1)
		stores := make([]objstore.Store, 20)
		for i := range stores {
			stores[i] = open(t)
		}
		go func() {
			var errs []error
			for _, st := range stores {
				select {
				case <-done:
					refusals <- errs
					return
				default:
				}
				_, err := v1.Open(ctx, st, actors.Options{Clock: clock})
				errs = append(errs, err)
			}
			refusals <- errs
		}()
		results := ccRun(t, ccMainWriters(t, names, perWriter, open, clock))
		close(done)
		errs := <-refusals
		require.NotEmpty(t, errs, "v1 tried to open the repository at least once")
		for i, err := range errs {
			assert.Equal(t, actors.ErrUnsupportedSpec, actors.KindOf(err), "v1 open %d during the writes: %v", i, err)
		}
		commits := ccAllCommits(results)
		t.Logf("%d commits, %d conflicts retried, v1 refused %d times during the writes", len(commits), ccConflicts(results), len(errs))

		want := ccWant{branch: "main", commits: commits, tail: []string{setup, initial}, data: ccData(t, chunks, commits)}
		h := ccOpen(t, v2, open, clock)
		assert.Equal(t, 2, h.SpecVersion())
		ccVerify(t, h, want)
		ccFsck(t, h)

		// Every commit is one new_commit entry of the ops log.
		sr, ok := h.(actors.Spec2Reader)
		require.True(t, ok, "v2 repositories implement Spec2Reader")
		log, err := sr.OpsLog(ctx)
		require.NoError(t, err)
		logged := map[string]int{}
		for _, e := range log {
			if e.Type == actors.OpNewCommit {
				assert.Equal(t, "main", e.Fields["branch"], "ops log entry %v", e)
				id, _ := e.Fields["new_snap_id"].(string)
				logged[id]++
			}
		}
		wantLogged := map[string]int{setup: 1}
		for _, c := range commits {
			wantLogged[c.id] = 1
		}
		assert.Equal(t, wantLogged, logged, "new_commit entries of the ops log, by snapshot")
		assert.Len(t, log, len(commits)+2, "ops log: the initialization, the setup and the run's commits")
	})
}

// TestCrossVersionConcurrentCommitsOwnBranches: V1 and V2 writers commit
// to their own branches of one spec-1 repository at the same time; they
// never conflict and every branch holds exactly its own commits.
func TestCrossVersionConcurrentCommitsOwnBranches(t *testing.T) {
	names := []string{"v1", "v2", "v1", "v2"}
	const perWriter = 4
	chunks := len(names) * perWriter
	ccEachBackend(t, func(t *testing.T, clock *objstore.VirtualClock, open func(t *testing.T) objstore.Store) {
		ctx := context.Background()
		creator, err := ccActor(t, "v1").Create(ctx, open(t), actors.Options{Clock: clock, SpecVersion: 1})
		require.NoError(t, err)
		setup, initial := ccSetup(t, creator, chunks)

		writers := ccMainWriters(t, names, perWriter, open, clock)
		for i := range writers {
			writers[i].branch = "own-" + writers[i].name
			// Branches made by the other version than the writer's.
			maker := ccActor(t, map[string]string{"v1": "v2", "v2": "v1"}[names[i]])
			require.NoError(t, ccOpen(t, maker, open, clock).CreateBranch(ctx, writers[i].branch, setup))
		}
		results := ccRun(t, writers)
		for i, r := range results {
			assert.Zero(t, r.conflicts, "writer %s conflicted on its own branch", writers[i].name)
		}

		for _, name := range []string{"v1", "v2"} {
			h := ccOpen(t, ccActor(t, name), open, clock)
			for i, w := range writers {
				ccVerify(t, h, ccWant{
					branch: w.branch, commits: results[i].commits, ordered: true,
					tail: []string{setup, initial}, data: ccData(t, chunks, results[i].commits),
				})
			}
			ccVerify(t, h, ccWant{branch: "main", tail: []string{setup, initial}, data: ccData(t, chunks, nil)})
			branches, err := h.Branches(ctx)
			require.NoError(t, err)
			assert.Len(t, branches, len(writers)+1, "%s: branches %v", name, branches)
			ccFsck(t, h)
		}
	})
}

// ccRace runs op(i) for every i < n at the same moment and returns the
// errors, by i.
func ccRace(n int, op func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = op(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// ccOneWinner checks that exactly one racer succeeded and every other one
// failed with kind; it returns the winner.
func ccOneWinner(t *testing.T, what string, errs []error, racers []actors.Handle, kind error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("%s: racers %d (%s) and %d (%s) both succeeded", what, winner, racers[winner].Actor(), i, racers[i].Actor())
		case err == nil:
			winner = i
		default:
			assert.Equal(t, kind, actors.KindOf(err), "%s: racer %d (%s) fails with kind %q: %v", what, i, racers[i].Actor(), actors.KindName(kind), err)
			assert.ErrorIs(t, err, kind, "%s: racer %d (%s)", what, i, racers[i].Actor())
		}
	}
	require.GreaterOrEqual(t, winner, 0, "%s: no racer succeeded: %v", what, errs)
	return winner
}

// TestCrossVersionConcurrentRefRaces: many handles (of V1 and V2 on spec
// 1, of V2 on spec 2) create the same branch, the same tag, delete that
// tag and create it again, each step at the same moment: one creator and
// one deleter win, the others fail with the right kind, a deleted tag's
// name is never reused, and every version agrees on the outcome.
func TestCrossVersionConcurrentRefRaces(t *testing.T) {
	for _, spec := range []int{1, 2} {
		t.Run(fmt.Sprintf("spec%d", spec), func(t *testing.T) {
			racerActors := []string{"v1", "v2"}
			if spec == 2 {
				racerActors = []string{"v2"}
			}
			const racers, snaps = 8, 3
			ccEachBackend(t, func(t *testing.T, clock *objstore.VirtualClock, open func(t *testing.T) objstore.Store) {
				ctx := context.Background()
				creator, err := ccActor(t, "v2").Create(ctx, open(t), actors.Options{Clock: clock, SpecVersion: spec})
				require.NoError(t, err)
				// A few snapshots, so each racer can point at its own one.
				s, err := creator.WritableSession(ctx, "main")
				require.NoError(t, err)
				require.NoError(t, s.Set(ctx, ccArray+"/zarr.json", ccArrayDoc(t, snaps)))
				var ids []string
				for k := 0; k < snaps; k++ {
					require.NoError(t, s.Set(ctx, ccChunkKey(k), ccValue("setup", k)))
					id, err := s.Commit(ctx, fmt.Sprintf("snapshot %d", k), nil)
					require.NoError(t, err)
					ids = append(ids, id)
				}
				mainTip := ids[len(ids)-1]
				target := func(i int) string { return ids[i%len(ids)] }

				handles := make([]actors.Handle, racers)
				for i := range handles {
					handles[i] = ccOpen(t, ccActor(t, racerActors[i%len(racerActors)]), open, clock)
				}
				const branch, tag = "racer", "v-race"
				errs := ccRace(racers, func(i int) error { return handles[i].CreateBranch(ctx, branch, target(i)) })
				branchWinner := ccOneWinner(t, "create branch "+branch, errs, handles, actors.ErrBranchExists)
				errs = ccRace(racers, func(i int) error { return handles[i].CreateTag(ctx, tag, target(i+1)) })
				tagWinner := ccOneWinner(t, "create tag "+tag, errs, handles, actors.ErrTagExists)
				t.Logf("branch won by racer %d (%s), tag by racer %d (%s)",
					branchWinner, handles[branchWinner].Actor(), tagWinner, handles[tagWinner].Actor())

				readers := make([]actors.Handle, 0, 2)
				for _, a := range actors.Registered() {
					if a.Capabilities().Reads(spec) {
						readers = append(readers, ccOpen(t, a, open, clock))
					}
				}
				require.NotEmpty(t, readers)
				for _, h := range readers {
					got, err := h.Resolve(ctx, actors.Branch(branch))
					require.NoError(t, err, h.Actor())
					assert.Equal(t, target(branchWinner), got, "%s: the branch points where its creator put it", h.Actor())
					got, err = h.Resolve(ctx, actors.Tag(tag))
					require.NoError(t, err, h.Actor())
					assert.Equal(t, target(tagWinner+1), got, "%s: the tag points where its creator put it", h.Actor())
					tags, err := h.Tags(ctx)
					require.NoError(t, err, h.Actor())
					assert.Equal(t, map[string]string{tag: target(tagWinner + 1)}, tags, h.Actor())
				}

				errs = ccRace(racers, func(i int) error { return handles[i].DeleteTag(ctx, tag) })
				deleter := ccOneWinner(t, "delete tag "+tag, errs, handles, actors.ErrRefNotFound)
				errs = ccRace(racers, func(i int) error { return handles[i].CreateTag(ctx, tag, target(i)) })
				for i, err := range errs {
					assert.Equal(t, actors.ErrTagExists, actors.KindOf(err),
						"racer %d (%s) re-creates the deleted tag %s: %v", i, handles[i].Actor(), tag, err)
				}
				t.Logf("tag deleted by racer %d (%s)", deleter, handles[deleter].Actor())

				for _, h := range readers {
					branches, err := h.Branches(ctx)
					require.NoError(t, err, h.Actor())
					assert.Equal(t, map[string]string{"main": mainTip, branch: target(branchWinner)}, branches, "%s: branches", h.Actor())
					tags, err := h.Tags(ctx)
					require.NoError(t, err, h.Actor())
					assert.Empty(t, tags, "%s: no live tag", h.Actor())
					deleted, err := h.DeletedTags(ctx)
					require.NoError(t, err, h.Actor())
					assert.Equal(t, []string{tag}, deleted, "%s: deleted tags", h.Actor())
					_, err = h.Resolve(ctx, actors.Tag(tag))
					assert.Equal(t, actors.ErrRefNotFound, actors.KindOf(err), "%s resolves the deleted tag: %v", h.Actor(), err)
					ccFsck(t, h)
				}
			})
		})
	}
}
