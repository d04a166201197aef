package formatv2

// Tests of ExpireSnapshots and GarbageCollect on hand-built histories driven
// by a virtual clock, checked against the semantics of upstream Icechunk
// 1.1.21 (icechunk/src/ops/gc.rs: expire_ref, expire, garbage_collect;
// icechunk/src/ops/mod.rs: pointed_snapshots; icechunk/src/refs.rs:
// list_refs, delete_tag), and on copies of the upstream fixtures.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/local"
	"github.com/icerig/icerig/objstore/memory"
)

// mtEpoch is where the maintenance tests' virtual clocks start.
var mtEpoch = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// mtRand is a deterministic id source.
func mtRand(seed uint64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

const mtGroupDoc = `{"zarr_format":3,"node_type":"group","attributes":{}}`

// mtArrayDoc is an 8-element uint8 array with one element per chunk.
const mtArrayDoc = `{"zarr_format":3,"node_type":"array","shape":[8],"data_type":"uint8",` +
	`"chunk_grid":{"name":"regular","configuration":{"chunk_shape":[1]}},` +
	`"chunk_key_encoding":{"name":"default","configuration":{"separator":"/"}},` +
	`"fill_value":0,"codecs":[{"name":"bytes","configuration":{"endian":"little"}}],"attributes":{}}`

// mtInlineThreshold: values up to this many bytes are stored inline in the
// manifest, longer ones as chunk objects.
const mtInlineThreshold = 8

// mtNative returns a value long enough to become a chunk object.
func mtNative(label, key string) string { return label + "|" + key + "|native chunk bytes" }

// mtOp is one change of a commit.
type mtOp struct {
	kind     byte // 's' set, 'd' delete, 'v' virtual ref
	key, val string
}

func mtSet(key, val string) mtOp  { return mtOp{kind: 's', key: key, val: val} }
func mtDel(key string) mtOp       { return mtOp{kind: 'd', key: key} }
func mtVirt(key, loc string) mtOp { return mtOp{kind: 'v', key: key, val: loc} }

// mtHist builds a history step by step on a virtual clock that moves only
// when told (one minute per step), and remembers, per step label, the
// snapshot it made, its time and every object it created.
type mtHist struct {
	t        *testing.T
	ctx      context.Context
	backend  string
	clock    *objstore.VirtualClock
	st       objstore.Store
	r        *Repository
	ids      map[string]ObjectID
	labels   map[ObjectID]string
	at       map[string]time.Time
	written  map[string][]string
	expireAt time.Time
}

func newMtHist(t *testing.T, backend string) *mtHist {
	t.Helper()
	clock := objstore.NewVirtualClock(mtEpoch, 0)
	var st objstore.Store
	switch backend {
	case "memory":
		st = memory.New(clock)
	case "local":
		ls, err := local.Open(t.TempDir(), clock)
		if err != nil {
			t.Fatal(err)
		}
		st = ls
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	cfg := DefaultConfig()
	cfg.SetInlineChunkThresholdBytes(mtInlineThreshold)
	ctx := context.Background()
	r, err := Create(ctx, st, CreateOptions{SpecVersion: SpecVersion1, Config: cfg}, Options{Clock: clock, Rand: mtRand(7)})
	if err != nil {
		t.Fatal(err)
	}
	h := &mtHist{
		t: t, ctx: ctx, backend: backend, clock: clock, st: st, r: r,
		ids: map[string]ObjectID{}, labels: map[ObjectID]string{},
		at: map[string]time.Time{}, written: map[string][]string{},
	}
	init, err := r.LookupBranch(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	h.ids["init"], h.labels[init], h.at["init"] = init, "init", mtEpoch
	return h
}

// fresh opens a new handle on the same store (no cached objects).
func (h *mtHist) fresh() *Repository {
	h.t.Helper()
	r, err := Open(h.ctx, h.st, Options{Clock: h.clock, Rand: mtRand(99)})
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// step moves the clock one minute on.
func (h *mtHist) step() { h.clock.Advance(time.Minute) }

func (h *mtHist) listing() map[string]objstore.ObjectInfo {
	h.t.Helper()
	objs, err := h.st.List(h.ctx, "")
	if err != nil {
		h.t.Fatal(err)
	}
	out := make(map[string]objstore.ObjectInfo, len(objs))
	for _, o := range objs {
		out[o.Key] = o
	}
	return out
}

// record remembers the objects created since before under label.
func (h *mtHist) record(label string, before map[string]objstore.ObjectInfo) {
	h.t.Helper()
	if _, dup := h.at[label]; dup {
		h.t.Fatalf("label %q used twice", label)
	}
	h.at[label] = h.clock.Peek()
	var created []string
	for k := range h.listing() {
		if _, ok := before[k]; !ok {
			created = append(created, k)
		}
	}
	sort.Strings(created)
	h.written[label] = created
}

// commit applies ops on a branch and commits them with label as message.
func (h *mtHist) commit(branch, label string, ops ...mtOp) ObjectID {
	h.t.Helper()
	h.step()
	before := h.listing()
	s, err := h.r.WritableSession(h.ctx, branch)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, op := range ops {
		switch op.kind {
		case 's':
			err = s.Set(h.ctx, op.key, []byte(op.val))
		case 'd':
			err = s.Delete(h.ctx, op.key)
		case 'v':
			err = s.SetVirtualRef(h.ctx, op.key, op.val, 0, 16)
		}
		if err != nil {
			h.t.Fatalf("%s: %c %s: %v", label, op.kind, op.key, err)
		}
	}
	id, err := s.Commit(h.ctx, label, nil)
	if err != nil {
		h.t.Fatalf("commit %s: %v", label, err)
	}
	h.record(label, before)
	h.ids[label], h.labels[id] = id, label
	snap, err := h.r.ReadSnapshot(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	if got := microsToTime(snap.FlushedAt); !got.Equal(h.at[label]) {
		h.t.Fatalf("%s flushed at %s, want the clock's %s", label, got, h.at[label])
	}
	return id
}

// orphan writes a chunk in a session that is then discarded: the chunk
// object stays in storage, referenced by nothing (like a failed commit's).
func (h *mtHist) orphan(branch, label, key, val string) {
	h.t.Helper()
	h.step()
	before := h.listing()
	s, err := h.r.WritableSession(h.ctx, branch)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := s.Set(h.ctx, key, []byte(val)); err != nil {
		h.t.Fatal(err)
	}
	s.Discard()
	h.record(label, before)
	if len(h.written[label]) != 1 || !strings.HasPrefix(h.written[label][0], chunksPrefix) {
		h.t.Fatalf("orphan %s wrote %v, want one chunk", label, h.written[label])
	}
}

func (h *mtHist) branch(name, at string) {
	h.t.Helper()
	if err := h.r.CreateBranch(h.ctx, name, h.ids[at]); err != nil {
		h.t.Fatal(err)
	}
}

func (h *mtHist) tag(name, at string) {
	h.t.Helper()
	if err := h.r.CreateTag(h.ctx, name, h.ids[at]); err != nil {
		h.t.Fatal(err)
	}
}

func (h *mtHist) dropBranch(name string) {
	h.t.Helper()
	if err := h.r.DeleteBranch(h.ctx, name); err != nil {
		h.t.Fatal(err)
	}
}

func (h *mtHist) dropTag(name string) {
	h.t.Helper()
	if err := h.r.DeleteTag(h.ctx, name); err != nil {
		h.t.Fatal(err)
	}
}

// names maps snapshot ids to labels, sorted.
func (h *mtHist) names(ids []ObjectID) []string {
	out := []string{}
	for _, id := range ids {
		l, ok := h.labels[id]
		if !ok {
			l = "?" + id.String()
		}
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// ancestries returns, for every live ref ("branch:x", "tag:y"), the labels
// of its ancestry, newest first.
func (h *mtHist) ancestries(r *Repository) map[string][]string {
	h.t.Helper()
	out := map[string][]string{}
	for ref, tip := range mtLiveRefs(h.t, r) {
		anc, err := r.Ancestry(h.ctx, tip)
		if err != nil {
			h.t.Fatalf("ancestry of %s: %v", ref, err)
		}
		var ls []string
		for _, s := range anc {
			l, ok := h.labels[s.ID]
			if !ok {
				l = "?" + s.ID.String()
			}
			ls = append(ls, l)
		}
		out[ref] = ls
	}
	return out
}

// objects resolves specs "kind:label" (kind snap, tx, man, chunk or all) to
// the keys of the objects step label created.
func (h *mtHist) objects(specs []string) map[string]bool {
	h.t.Helper()
	prefixes := map[string]string{"snap": snapshotsPrefix, "tx": transactionsPrefix, "man": manifestsPrefix, "chunk": chunksPrefix, "all": ""}
	out := map[string]bool{}
	for _, spec := range specs {
		kind, label, ok := strings.Cut(spec, ":")
		prefix, known := prefixes[kind]
		if !ok || !known {
			h.t.Fatalf("bad object spec %q", spec)
		}
		n := 0
		for _, k := range h.written[label] {
			if strings.HasPrefix(k, prefix) {
				out[k] = true
				n++
			}
		}
		if n == 0 {
			h.t.Fatalf("object spec %q names no object (step %s wrote %v)", spec, label, h.written[label])
		}
	}
	return out
}

// mtLiveRefs lists live branches and tags as "branch:x"/"tag:y" -> tip.
func mtLiveRefs(t testing.TB, r *Repository) map[string]ObjectID {
	t.Helper()
	ctx := context.Background()
	branches, err := r.ListBranches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := r.ListTags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]ObjectID{}
	for n, id := range branches {
		out["branch:"+n] = id
	}
	for n, id := range tags {
		out["tag:"+n] = id
	}
	return out
}

func mtVersionRef(ref string) VersionRef {
	if name, ok := strings.CutPrefix(ref, "tag:"); ok {
		return TagRef(name)
	}
	return BranchRef(strings.TrimPrefix(ref, "branch:"))
}

// mtReadAll reads every key of a version: key -> value (virtual chunks as
// "virtual:<location>").
func mtReadAll(t testing.TB, r *Repository, ref VersionRef) map[string]string {
	t.Helper()
	ctx := context.Background()
	s, err := r.ReadonlySession(ctx, ref)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	keys, err := s.List(ctx)
	if err != nil {
		t.Fatalf("%s: list: %v", ref, err)
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		v, err := s.Get(ctx, k)
		var vce *VirtualChunkError
		switch {
		case errors.As(err, &vce):
			out[k] = "virtual:" + vce.Location
		case err != nil:
			t.Fatalf("%s: get %s: %v", ref, k, err)
		default:
			out[k] = string(v)
		}
	}
	return out
}

// mtRefData reads every live ref completely.
func mtRefData(t testing.TB, r *Repository) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for ref := range mtLiveRefs(t, r) {
		out[ref] = mtReadAll(t, r, mtVersionRef(ref))
	}
	return out
}

func mtFsckClean(t testing.TB, r *Repository, when string) {
	t.Helper()
	findings, err := r.Fsck(context.Background())
	if err != nil {
		t.Fatalf("fsck %s: %v", when, err)
	}
	if len(findings) > 0 {
		t.Fatalf("fsck %s: %d findings: %v", when, len(findings), findings)
	}
}

// mtCutoff computes a cutoff time from the history.
type mtCutoff func(h *mtHist) time.Time

// mtBetween is halfway between two steps.
func mtBetween(a, b string) mtCutoff {
	return func(h *mtHist) time.Time { return h.at[a].Add(h.at[b].Sub(h.at[a]) / 2) }
}

// mtAt is exactly a step's time (its snapshot's flush time).
func mtAt(label string) mtCutoff { return func(h *mtHist) time.Time { return h.at[label] } }

// mtJustAfter is one microsecond (the flush-time resolution) after a step.
func mtJustAfter(label string) mtCutoff {
	return func(h *mtHist) time.Time { return h.at[label].Add(time.Microsecond) }
}

// mtNow is the clock's current time: after every object written so far.
func mtNow(h *mtHist) time.Time { return h.clock.Peek() }

// mtExpireTime is the time ExpireSnapshots ran (its rewrites carry it).
func mtExpireTime(h *mtHist) time.Time { return h.expireAt }

// mtBeforeAll is before the repository was created.
func mtBeforeAll(*mtHist) time.Time { return mtEpoch.Add(-time.Hour) }

// mtGCStep is one GarbageCollect run and exactly the objects it must delete.
type mtGCStep struct {
	cutoff  mtCutoff
	deleted []string // object specs, see mtHist.objects
}

type mtScenario struct {
	name string
	// local: also run on the local-directory backend (the cases where
	// storage modification times matter; fsyncs make it slower).
	local                        bool
	build                        func(h *mtHist)
	cutoff                       mtCutoff
	delBranches, delTags         bool
	released, edited             []string
	deletedBranches, deletedTags []string
	// ancestry is every live ref after expiration with its ancestry labels.
	ancestry map[string][]string
	gc       []mtGCStep
}

// mtLinear commits c1..cN on main (N <= 5):
//
//	c1: root group, array a, chunk a/c/0 (native)
//	c2: a/c/1 (native)
//	c3: a/c/0 overwritten (native; c1's chunk object is only in c1's and c2's manifests now)
//	c4: a/c/2 inline, a/c/3 virtual (no chunk object)
//	c5: a/c/1 deleted (c2's chunk object is only in older manifests now)
func mtLinear(h *mtHist, n int) {
	steps := [][]mtOp{
		{mtSet("zarr.json", mtGroupDoc), mtSet("a/zarr.json", mtArrayDoc), mtSet("a/c/0", mtNative("c1", "a/c/0"))},
		{mtSet("a/c/1", mtNative("c2", "a/c/1"))},
		{mtSet("a/c/0", mtNative("c3", "a/c/0"))},
		{mtSet("a/c/2", "in-c4"), mtVirt("a/c/3", "s3://bucket/c4-virtual")},
		{mtDel("a/c/1")},
	}
	for i := range n {
		h.commit("main", fmt.Sprintf("c%d", i+1), steps[i]...)
	}
}

func mtAll(labels ...string) []string {
	var out []string
	for _, l := range labels {
		out = append(out, "all:"+l)
	}
	return out
}

func mtMeta(labels ...string) []string {
	var out []string
	for _, l := range labels {
		out = append(out, "snap:"+l, "tx:"+l, "man:"+l)
	}
	return out
}

func mtJoin(parts ...[]string) []string { return slices.Concat(parts...) }

func mtScenarios() []mtScenario {
	linear5 := func(h *mtHist) { mtLinear(h, 5) }
	// The old-tags history: tags on c2 (expired) and c4 (kept).
	oldTags := func(h *mtHist) {
		mtLinear(h, 5)
		h.tag("t-old", "c2")
		h.tag("t-mid", "c4")
	}
	// The expired-branch history: branch old forks at c1 and stops at d1;
	// main stops at c2; branch fresh continues from c2 with f1.
	expiredBranch := func(h *mtHist) {
		mtLinear(h, 1)
		h.branch("old", "c1")
		h.commit("old", "d1", mtSet("a/c/3", mtNative("d1", "a/c/3")))
		h.commit("main", "c2", mtSet("a/c/1", mtNative("c2", "a/c/1")))
		h.branch("fresh", "c2")
		h.commit("fresh", "f1", mtSet("a/c/4", mtNative("f1", "a/c/4")))
	}
	atInitial := func(h *mtHist) {
		h.branch("empty", "init")
		h.tag("t0", "init")
		mtLinear(h, 2)
	}
	return []mtScenario{
		{
			// gc.rs expire_ref: the oldest non-expired snapshot (c4) is
			// rewritten with the initial snapshot as parent; the expired ones
			// between them (all expired but the root, gc.rs:617-630) are released.
			name:     "linear, cutoff between c3 and c4",
			local:    true,
			build:    linear5,
			cutoff:   mtBetween("c3", "c4"),
			released: []string{"c1", "c2", "c3"},
			edited:   []string{"c4"},
			ancestry: map[string][]string{"branch:main": {"c5", "c4", "init"}},
			gc: []mtGCStep{{cutoff: mtNow, deleted: mtJoin(
				mtAll("c1"),        // c1's chunk was overwritten by c3
				mtMeta("c2", "c3"), // their chunks are still in c4's manifest
			)}},
		},
		{
			// Strict cutoff (gc.rs:618 keeps flushed_at >= older_than): c4,
			// flushed exactly at the cutoff, is not expired.
			name:     "linear, cutoff exactly at c4's flush time",
			build:    linear5,
			cutoff:   mtAt("c4"),
			released: []string{"c1", "c2", "c3"},
			edited:   []string{"c4"},
			ancestry: map[string][]string{"branch:main": {"c5", "c4", "init"}},
			gc:       []mtGCStep{{cutoff: mtNow, deleted: mtJoin(mtAll("c1"), mtMeta("c2", "c3"))}},
		},
		{
			name:     "linear, cutoff one microsecond after c4",
			build:    linear5,
			cutoff:   mtJustAfter("c4"),
			released: []string{"c1", "c2", "c3", "c4"},
			edited:   []string{"c5"},
			ancestry: map[string][]string{"branch:main": {"c5", "init"}},
			gc: []mtGCStep{{cutoff: mtNow, deleted: mtJoin(
				mtAll("c1", "c2", "c4"), // c2's chunk was deleted by c5; c4 wrote no chunk
				mtMeta("c3"),            // c3's chunk is in c5's manifest
			)}},
		},
		{
			// Upstream quirk: when the tip itself is expired, editable_snap
			// stays the tip (gc.rs:599), so the tip is rewritten with the
			// root as parent (gc.rs:656-657) and, being expired, is reported
			// among the released snapshots (gc.rs:624, only the root is
			// removed at gc.rs:630). main is never deleted (gc.rs:752-753).
			name:        "linear, cutoff after every commit (tip expired)",
			build:       linear5,
			cutoff:      mtNow,
			delBranches: true,
			delTags:     true,
			released:    []string{"c1", "c2", "c3", "c4", "c5"},
			edited:      []string{"c5"},
			ancestry:    map[string][]string{"branch:main": {"c5", "init"}},
			gc:          []mtGCStep{{cutoff: mtNow, deleted: mtJoin(mtAll("c1", "c2", "c4"), mtMeta("c3"))}},
		},
		{
			name:     "linear, cutoff before the repository existed",
			build:    linear5,
			cutoff:   mtBeforeAll,
			ancestry: map[string][]string{"branch:main": {"c5", "c4", "c3", "c2", "c1", "init"}},
			gc:       []mtGCStep{{cutoff: mtNow}},
		},
		{
			// Refs are visited tags, then branches, each sorted
			// (refs.rs:68-71 orders Tag before Branch; list_refs returns a
			// BTreeSet): branch a rewrites c3, then b and main find c3's
			// parent already the root and do nothing (gc.rs:635-644).
			name: "branches sharing main's tip",
			build: func(h *mtHist) {
				mtLinear(h, 4)
				h.branch("a", "c4")
				h.branch("b", "c4")
			},
			cutoff:   mtBetween("c2", "c3"),
			released: []string{"c1", "c2"},
			edited:   []string{"c3"},
			ancestry: map[string][]string{
				"branch:main": {"c4", "c3", "init"},
				"branch:a":    {"c4", "c3", "init"},
				"branch:b":    {"c4", "c3", "init"},
			},
			gc: []mtGCStep{{cutoff: mtNow, deleted: mtJoin(mtAll("c1"), mtMeta("c2"))}},
		},
		{
			// Tag t-mid is visited first and rewrites c4; tag t-old's tip c2
			// is expired, so c2 itself is rewritten and released (the tip
			// quirk above) although the tag keeps it alive.
			name:     "tags on old snapshots, expired tag kept",
			build:    oldTags,
			cutoff:   mtBetween("c3", "c4"),
			released: []string{"c1", "c2", "c3"},
			edited:   []string{"c2", "c4"},
			ancestry: map[string][]string{
				"branch:main": {"c5", "c4", "init"},
				"tag:t-mid":   {"c4", "init"},
				"tag:t-old":   {"c2", "init"},
			},
			// c1's chunk is still in c2's manifest, kept by t-old.
			gc: []mtGCStep{{cutoff: mtNow, deleted: mtMeta("c1", "c3")}},
		},
		{
			name:        "tags on old snapshots, expired tag deleted",
			local:       true,
			build:       oldTags,
			cutoff:      mtBetween("c3", "c4"),
			delTags:     true,
			released:    []string{"c1", "c2", "c3"},
			edited:      []string{"c2", "c4"},
			deletedTags: []string{"t-old"},
			ancestry: map[string][]string{
				"branch:main": {"c5", "c4", "init"},
				"tag:t-mid":   {"c4", "init"},
			},
			gc: []mtGCStep{
				// Upstream quirk: c2's snapshot file was rewritten by the
				// expiration, so its storage time is the expiration's and a
				// GC cutoff at that time keeps it (upstream's own test notes
				// it: icechunk-python/tests/test_timetravel.py:684 "FIXME").
				// Its transaction log and manifest are old and go.
				{cutoff: mtExpireTime, deleted: mtJoin(
					mtAll("c1"), []string{"tx:c2", "man:c2"}, mtMeta("c3"),
				)},
				{cutoff: mtNow, deleted: []string{"snap:c2"}},
			},
		},
		{
			// Visiting order fresh, main, old. main's tip c2 is expired and
			// rewritten, but main is never deleted; old's tip d1 is expired,
			// rewritten, released, and old is deleted.
			name:            "expired branch deleted, main never",
			local:           true,
			build:           expiredBranch,
			cutoff:          mtBetween("c2", "f1"),
			delBranches:     true,
			delTags:         true,
			released:        []string{"c1", "c2", "d1"},
			edited:          []string{"c2", "d1", "f1"},
			deletedBranches: []string{"old"},
			ancestry: map[string][]string{
				"branch:main":  {"c2", "init"},
				"branch:fresh": {"f1", "init"},
			},
			// c1's chunk is in c2's and f1's manifests.
			gc: []mtGCStep{{cutoff: mtNow, deleted: mtJoin(mtMeta("c1"), mtAll("d1"))}},
		},
		{
			name:     "expired branch kept without deleteExpiredBranches",
			build:    expiredBranch,
			cutoff:   mtBetween("c2", "f1"),
			delTags:  true,
			released: []string{"c1", "c2", "d1"},
			edited:   []string{"c2", "d1", "f1"},
			ancestry: map[string][]string{
				"branch:main":  {"c2", "init"},
				"branch:fresh": {"f1", "init"},
				"branch:old":   {"d1", "init"},
			},
			gc: []mtGCStep{{cutoff: mtNow, deleted: mtMeta("c1")}},
		},
		{
			// Spec-1 quirk (unlike spec 2): a ref at the initial snapshot is
			// expired when the initial snapshot is (gc.rs:609-615 looks only
			// at the tip), nothing is rewritten for it (gc.rs:635-644), and it
			// is deleted when asked (gc.rs:740-762).
			name:            "refs at the initial snapshot, deletion asked",
			build:           atInitial,
			cutoff:          mtBetween("c1", "c2"),
			delBranches:     true,
			delTags:         true,
			released:        []string{"c1"},
			edited:          []string{"c2"},
			deletedBranches: []string{"empty"},
			deletedTags:     []string{"t0"},
			ancestry:        map[string][]string{"branch:main": {"c2", "init"}},
			// c1's chunk a/c/0 is still in c2's manifest.
			gc: []mtGCStep{{cutoff: mtNow, deleted: mtMeta("c1")}},
		},
		{
			name:     "refs at the initial snapshot, kept",
			build:    atInitial,
			cutoff:   mtBetween("c1", "c2"),
			released: []string{"c1"},
			edited:   []string{"c2"},
			ancestry: map[string][]string{
				"branch:main":  {"c2", "init"},
				"branch:empty": {"init"},
				"tag:t0":       {"init"},
			},
			gc: []mtGCStep{{cutoff: mtNow, deleted: mtMeta("c1")}},
		},
		{
			// GC compares storage times strictly (gc.rs:138-160): an
			// unreachable chain goes only once it is older than the cutoff.
			name:  "chains reachable from no ref",
			local: true,
			build: func(h *mtHist) {
				mtLinear(h, 1)
				h.branch("tmp", "c1")
				h.commit("tmp", "t1", mtSet("a/c/3", mtNative("t1", "a/c/3")))
				h.commit("tmp", "t2", mtSet("a/c/4", mtNative("t2", "a/c/4")))
				h.dropBranch("tmp")
				h.orphan("main", "o1", "a/c/5", mtNative("o1", "a/c/5"))
				h.commit("main", "c2", mtSet("a/c/1", mtNative("c2", "a/c/1")))
			},
			cutoff:   mtBeforeAll,
			ancestry: map[string][]string{"branch:main": {"c2", "c1", "init"}},
			gc: []mtGCStep{
				{cutoff: mtBetween("t1", "t2"), deleted: mtAll("t1")},
				{cutoff: mtAt("o1"), deleted: mtAll("t2")},
				{cutoff: mtJustAfter("o1"), deleted: mtAll("o1")},
				{cutoff: mtNow},
			},
		},
		{
			// GC roots are the live refs (ops/mod.rs all_roots uses
			// list_refs, which drops deleted tags): a live tag keeps its
			// whole chain, a deleted tag keeps nothing.
			name: "GC keeps what a live tag reaches, not a deleted tag",
			build: func(h *mtHist) {
				mtLinear(h, 1)
				h.branch("feat", "c1")
				h.commit("feat", "f1", mtSet("a/c/3", mtNative("f1", "a/c/3")))
				h.commit("feat", "f2", mtSet("a/c/4", mtNative("f2", "a/c/4")))
				h.tag("keep", "f2")
				h.dropBranch("feat")
				h.branch("gone", "c1")
				h.commit("gone", "g1", mtSet("a/c/5", mtNative("g1", "a/c/5")))
				h.tag("gone-tag", "g1")
				h.dropBranch("gone")
				h.dropTag("gone-tag")
				h.commit("main", "c2", mtSet("a/c/1", mtNative("c2", "a/c/1")))
			},
			cutoff: mtBeforeAll,
			ancestry: map[string][]string{
				"branch:main": {"c2", "c1", "init"},
				"tag:keep":    {"f2", "f1", "c1", "init"},
			},
			gc: []mtGCStep{{cutoff: mtNow, deleted: mtAll("g1")}},
		},
	}
}

func TestExpireAndGC(t *testing.T) {
	for _, backend := range []string{"memory", "local"} {
		for _, sc := range mtScenarios() {
			if backend == "local" && !sc.local {
				continue
			}
			t.Run(backend+"/"+sc.name, func(t *testing.T) { mtRun(t, backend, sc) })
		}
	}
}

func mtSorted(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

func mtSameStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(mtSorted(got), mtSorted(want)) {
		t.Errorf("%s = %v, want %v", what, mtSorted(got), mtSorted(want))
	}
}

func mtRun(t *testing.T, backend string, sc mtScenario) {
	h := newMtHist(t, backend)
	ctx := h.ctx
	sc.build(h)
	init := h.ids["init"]

	dataBefore := mtRefData(t, h.fresh())
	snapsBefore := map[string]*Snapshot{}
	for l, id := range h.ids {
		s, err := h.r.ReadSnapshot(ctx, id)
		noErrMt(t, err)
		snapsBefore[l] = s
	}
	mtFsckClean(t, h.fresh(), "before expiration")

	// --- Expiration.
	h.step()
	h.expireAt = h.clock.Peek()
	olderThan := sc.cutoff(h)
	listBefore := h.listing()
	res, err := h.r.ExpireSnapshots(ctx, olderThan, sc.delBranches, sc.delTags)
	if err != nil {
		t.Fatalf("expire: %v", err)
	}
	mtSameStrings(t, "released", h.names(res.ReleasedSnapshots), sc.released)
	mtSameStrings(t, "edited", h.names(res.EditedSnapshots), sc.edited)
	mtSameStrings(t, "deleted branches", res.DeletedBranches, sc.deletedBranches)
	mtSameStrings(t, "deleted tags", res.DeletedTags, sc.deletedTags)

	// Only the edited snapshots and the refs of deleted refs changed.
	listAfter := h.listing()
	editedKeys := map[string]bool{}
	for _, l := range sc.edited {
		editedKeys[snapshotKey(h.ids[l])] = true
	}
	wantGone := map[string]bool{}
	for _, b := range sc.deletedBranches {
		wantGone[branchKey(b)] = true
	}
	wantNew := map[string]bool{}
	for _, tg := range sc.deletedTags {
		wantNew[tombstoneKey(tg)] = true
	}
	for k, bi := range listBefore {
		ai, ok := listAfter[k]
		switch {
		case wantGone[k]:
			if ok {
				t.Errorf("expire kept %s", k)
			}
		case !ok:
			t.Errorf("expire deleted %s", k)
		case editedKeys[k]:
			if !ai.ModTime.Equal(h.expireAt) {
				t.Errorf("rewritten %s has time %s, want the expiration's %s", k, ai.ModTime, h.expireAt)
			}
		case ai.Size != bi.Size || !ai.ModTime.Equal(bi.ModTime):
			t.Errorf("expire changed %s (%d bytes at %s -> %d bytes at %s)", k, bi.Size, bi.ModTime, ai.Size, ai.ModTime)
		}
	}
	for k := range listAfter {
		if _, ok := listBefore[k]; !ok && !wantNew[k] {
			t.Errorf("expire created %s", k)
		}
	}
	for k := range wantNew {
		if _, ok := listAfter[k]; !ok {
			t.Errorf("expire did not write %s", k)
		}
	}

	fr := h.fresh()
	// Rewritten snapshots: identical but for the parent, now the initial snapshot.
	for _, l := range sc.edited {
		got, err := fr.ReadSnapshot(ctx, h.ids[l])
		noErrMt(t, err)
		want := *snapsBefore[l]
		want.ParentID = &init
		if !reflect.DeepEqual(got, &want) {
			t.Errorf("rewritten %s differs from the original beyond its parent:\n got %+v\nwant %+v", l, got, &want)
		}
	}
	// Released snapshots stay readable until GC (upstream test_timetravel.py
	// looks them up after expiring).
	for _, l := range sc.released {
		if _, err := fr.ReadonlySession(ctx, SnapshotRef(h.ids[l])); err != nil {
			t.Errorf("released %s unreadable before GC: %v", l, err)
		}
	}
	mtCheckRefs(t, h, fr, sc, dataBefore)

	// Deleted refs.
	for _, b := range sc.deletedBranches {
		if _, err := fr.LookupBranch(ctx, b); !errors.Is(err, ErrRefNotFound) {
			t.Errorf("deleted branch %s: lookup error %v, want ErrRefNotFound", b, err)
		}
	}
	deletedTags, err := fr.ListDeletedTags(ctx)
	noErrMt(t, err)
	for _, tg := range sc.deletedTags {
		if !slices.Contains(deletedTags, tg) {
			t.Errorf("expired tag %s not listed as deleted: %v", tg, deletedTags)
		}
		if _, err := fr.LookupTag(ctx, tg); !errors.Is(err, ErrRefNotFound) {
			t.Errorf("deleted tag %s: lookup error %v, want ErrRefNotFound", tg, err)
		}
		if err := fr.CreateTag(ctx, tg, init); !errors.Is(err, ErrTagExists) {
			t.Errorf("re-creating deleted tag %s: error %v, want ErrTagExists", tg, err)
		}
		// As delete_tag (refs.rs:305-330) does, only a tombstone is added.
		if _, ok := listAfter[tagKey(tg)]; !ok {
			t.Errorf("deleted tag %s lost its ref.json", tg)
		}
	}
	if _, err := fr.LookupBranch(ctx, "main"); err != nil {
		t.Errorf("main is gone: %v", err)
	}
	mtFsckClean(t, fr, "after expiration")

	// Idempotence: a second run changes nothing.
	h.step()
	again, err := h.r.ExpireSnapshots(ctx, olderThan, sc.delBranches, sc.delTags)
	noErrMt(t, err)
	if len(again.ReleasedSnapshots)+len(again.EditedSnapshots)+len(again.DeletedBranches)+len(again.DeletedTags) > 0 {
		t.Errorf("second expiration did something: %+v", again)
	}
	if got := h.listing(); !reflect.DeepEqual(mtInfos(got), mtInfos(listAfter)) {
		t.Errorf("second expiration changed storage")
	}

	// --- Garbage collection, step by step.
	for i, step := range sc.gc {
		h.step()
		cutoff := step.cutoff(h)
		want := h.objects(step.deleted)
		before := h.listing()
		var wantSum GCSummary
		for k := range want {
			info, ok := before[k]
			if !ok {
				t.Fatalf("gc step %d: %s should be deleted but is already gone", i, k)
			}
			wantSum.BytesDeleted += info.Size
			switch {
			case strings.HasPrefix(k, snapshotsPrefix):
				wantSum.SnapshotsDeleted++
			case strings.HasPrefix(k, transactionsPrefix):
				wantSum.TransactionLogsDeleted++
			case strings.HasPrefix(k, manifestsPrefix):
				wantSum.ManifestsDeleted++
			case strings.HasPrefix(k, chunksPrefix):
				wantSum.ChunksDeleted++
			default:
				t.Fatalf("gc step %d: expects deletion of %s, not an object GC handles", i, k)
			}
		}
		dry, err := h.r.GarbageCollect(ctx, cutoff, true)
		noErrMt(t, err)
		if *dry != wantSum {
			t.Errorf("gc step %d dry run: %+v, want %+v", i, *dry, wantSum)
		}
		if got := h.listing(); !reflect.DeepEqual(mtInfos(got), mtInfos(before)) {
			t.Fatalf("gc step %d: dry run changed storage", i)
		}
		sum, err := h.r.GarbageCollect(ctx, cutoff, false)
		noErrMt(t, err)
		if *sum != wantSum {
			t.Errorf("gc step %d: %+v, want %+v", i, *sum, wantSum)
		}
		after := h.listing()
		for k := range before {
			_, kept := after[k]
			if want[k] && kept {
				t.Errorf("gc step %d kept %s", i, k)
			}
			if !want[k] && !kept {
				t.Errorf("gc step %d deleted %s", i, k)
			}
		}
		if len(after) != len(before)-len(want) {
			t.Errorf("gc step %d: %d objects -> %d, want %d deleted", i, len(before), len(after), len(want))
		}
		fr := h.fresh()
		for k := range want {
			if id, ok := strings.CutPrefix(k, snapshotsPrefix); ok {
				oid, err := ParseObjectID(id)
				noErrMt(t, err)
				if _, err := fr.ReadonlySession(ctx, SnapshotRef(oid)); !errors.Is(err, ErrRefNotFound) {
					t.Errorf("gc step %d: collected snapshot %s still opens (error %v)", i, h.labels[oid], err)
				}
			}
		}
		// Data safety: every ref reads what it read before, on a fresh
		// handle and on the handle that ran the maintenance.
		mtCheckRefs(t, h, fr, sc, dataBefore)
		mtCheckRefs(t, h, h.r, sc, dataBefore)
		mtFsckClean(t, fr, fmt.Sprintf("after gc step %d", i))
	}
	// GC is idempotent too.
	if n := len(sc.gc); n > 0 {
		h.step()
		sum, err := h.r.GarbageCollect(ctx, sc.gc[n-1].cutoff(h), false)
		noErrMt(t, err)
		if *sum != (GCSummary{}) {
			t.Errorf("repeated gc deleted %+v", *sum)
		}
	}
}

// mtCheckRefs checks the live refs, their ancestries and their data.
func mtCheckRefs(t *testing.T, h *mtHist, r *Repository, sc mtScenario, dataBefore map[string]map[string]string) {
	t.Helper()
	anc := h.ancestries(r)
	if !reflect.DeepEqual(anc, sc.ancestry) {
		t.Errorf("live refs and ancestries = %v, want %v", anc, sc.ancestry)
	}
	for ref := range anc {
		got := mtReadAll(t, r, mtVersionRef(ref))
		want, ok := dataBefore[ref]
		if !ok {
			t.Errorf("ref %s did not exist before", ref)
			continue
		}
		if len(want) == 0 && ref == "branch:main" && len(h.ids) > 1 {
			t.Errorf("main read nothing before maintenance: the data check is void")
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ref %s reads %v, read %v before maintenance", ref, got, want)
		}
	}
}

type mtInfo struct {
	Size    int64
	ModTime int64
}

func mtInfos(m map[string]objstore.ObjectInfo) map[string]mtInfo {
	out := make(map[string]mtInfo, len(m))
	for k, o := range m {
		out[k] = mtInfo{o.Size, o.ModTime.UnixNano()}
	}
	return out
}

func noErrMt(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestExpireVisitsTagsBeforeBranches pins the order maintenance visits refs
// in: every tag before every branch (refs.rs:68-71 declares Tag before
// Branch and list_refs returns a BTreeSet<Ref>), each group by name, deleted
// tags left out.
func TestExpireVisitsTagsBeforeBranches(t *testing.T) {
	h := newMtHist(t, "memory")
	mtLinear(h, 2)
	h.branch("a", "c2")
	h.branch("zz", "c1")
	h.tag("z", "c2")
	h.tag("m", "c1")
	h.tag("dead", "c1")
	h.dropTag("dead")
	order, tips, err := h.r.orderedRefs(h.ctx)
	noErrMt(t, err)
	var got []string
	for _, r := range order {
		got = append(got, r.String()+"@"+h.labels[tips[r]])
	}
	want := []string{"tag m@c1", "tag z@c2", "branch a@c2", "branch main@c2", "branch zz@c1"}
	if !slices.Equal(got, want) {
		t.Errorf("visit order %v, want %v", got, want)
	}
}

// ---------------------------------------------------------------------------
// Upstream fixtures.

// mtMessages maps snapshot ids of every live ref's ancestry to messages.
func mtMessages(t *testing.T, r *Repository) map[ObjectID]string {
	t.Helper()
	out := map[ObjectID]string{}
	for ref, tip := range mtLiveRefs(t, r) {
		anc, err := r.Ancestry(context.Background(), tip)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		for _, s := range anc {
			out[s.ID] = s.Message
		}
	}
	return out
}

func mtAncestryMessages(t *testing.T, r *Repository) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for ref, tip := range mtLiveRefs(t, r) {
		anc, err := r.Ancestry(context.Background(), tip)
		noErrMt(t, err)
		for _, s := range anc {
			out[ref] = append(out[ref], s.Message)
		}
	}
	return out
}

// mtChunkKey splits a chunk key "<array>/c/i/j" into the array path and
// the chunk coordinates.
func mtChunkKey(t *testing.T, key string) (string, []uint32) {
	t.Helper()
	array, rest, ok := strings.Cut(key, "/c/")
	if !ok {
		t.Fatalf("%q is not a chunk key", key)
	}
	var out []uint32
	for _, p := range strings.Split(rest, "/") {
		var n uint32
		if _, err := fmt.Sscan(p, &n); err != nil {
			t.Fatalf("%q: %v", key, err)
		}
		out = append(out, n)
	}
	return array, out
}

func TestMaintenanceFixtures(t *testing.T) {
	const initMsg = "Repository initialized"
	cases := []struct {
		name string
		// After expiring everything: released and edited (by message), the
		// ancestries, and what GC then deletes.
		released, edited []string
		ancestry         map[string][]string
		gc               GCSummary
		// goneChunk names a chunk (snapshot message, Zarr key) whose object
		// only expired snapshots referenced: GC must delete it.
		goneChunk [2]string
	}{
		{
			name:     "test-repo-v1",
			released: []string{"empty structure", "fill data", "set virtual chunk", "delete a chunk", "some more structure"},
			// Tags first: "it also works!" rewrites its tip, "it works!"
			// its tip, main its tip; my-branch then finds its tip (the
			// tip of "it also works!") already re-parented.
			edited: []string{"some more structure", "delete a chunk", "set virtual chunk"},
			ancestry: map[string][]string{
				"branch:main":        {"set virtual chunk", initMsg},
				"branch:my-branch":   {"some more structure", initMsg},
				"tag:it also works!": {"some more structure", initMsg},
				"tag:it works!":      {"delete a chunk", initMsg},
			},
			// "fill data"'s manifest and its native chunk c/0/0, which "set
			// virtual chunk" replaced by a virtual reference, are referenced
			// by the two collected snapshots only.
			gc:        GCSummary{SnapshotsDeleted: 2, TransactionLogsDeleted: 2, ManifestsDeleted: 1, ChunksDeleted: 1},
			goneChunk: [2]string{"fill data", "group1/big_chunks/c/0/0"},
		},
		{
			name: "split-repo-v1",
			// main's tip is expired too: it is rewritten and reported
			// released (the upstream quirk, gc.rs:599 and 624).
			released: []string{"empty structure", "write data", "write data again", "write data again with more splits"},
			edited:   []string{"write data again with more splits"},
			ancestry: map[string][]string{
				"branch:main": {"write data again with more splits", initMsg},
			},
			// The tip keeps its 17 manifests and the 16 chunks of its
			// last full rewrite of group1/split; the 9+9 manifests and
			// 2x16 chunks of the two older writes go.
			gc: GCSummary{SnapshotsDeleted: 3, TransactionLogsDeleted: 3, ManifestsDeleted: 18, ChunksDeleted: 32},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			// Fsck in place: it only reads.
			inPlace := fixtureStore(t, tc.name)
			r0, err := Open(ctx, inPlace, Options{})
			noErrMt(t, err)
			mtFsckClean(t, r0, "on the fixture")

			// Everything else on a copy, on a virtual clock an hour past
			// the newest object.
			st := copyFixture(t, tc.name, nil)
			objs, err := st.List(ctx, "")
			noErrMt(t, err)
			var newest time.Time
			for _, o := range objs {
				if o.ModTime.After(newest) {
					newest = o.ModTime
				}
			}
			clock := objstore.NewVirtualClock(newest.Add(time.Hour), 0)
			st, err = local.Open(st.Dir(), clock)
			noErrMt(t, err)
			r, err := Open(ctx, st, Options{Clock: clock})
			noErrMt(t, err)
			messages := mtMessages(t, r)
			var lastFlush time.Time
			for id := range messages {
				s, err := r.ReadSnapshot(ctx, id)
				noErrMt(t, err)
				if ft := microsToTime(s.FlushedAt); ft.After(lastFlush) {
					lastFlush = ft
				}
			}
			var goneChunkKey string
			if tc.goneChunk[0] != "" {
				var snap ObjectID
				for id, m := range messages {
					if m == tc.goneChunk[0] {
						snap = id
					}
				}
				s, err := r.ReadonlySession(ctx, SnapshotRef(snap))
				noErrMt(t, err)
				array, coords := mtChunkKey(t, tc.goneChunk[1])
				ref, ok, err := s.GetChunkRef(ctx, array, coords)
				noErrMt(t, err)
				if !ok || ref.Kind != ChunkNative {
					t.Fatalf("%s at %q: %+v, want a native chunk", tc.goneChunk[1], tc.goneChunk[0], ref)
				}
				goneChunkKey = chunkKey(ref.ChunkID)
			}
			dataBefore := mtRefData(t, r)
			nonEmpty := 0
			for _, d := range dataBefore {
				nonEmpty += len(d)
			}
			if nonEmpty == 0 {
				t.Fatal("the fixture's refs read nothing: the data check is void")
			}

			// GC from the fixture state: everything is reachable.
			dry, err := r.GarbageCollect(ctx, clock.Peek(), true)
			noErrMt(t, err)
			if *dry != (GCSummary{}) {
				t.Errorf("dry-run GC of the untouched fixture would delete %+v", *dry)
			}

			// Expire with a cutoff after every commit.
			res, err := r.ExpireSnapshots(ctx, lastFlush.Add(time.Second), false, false)
			noErrMt(t, err)
			msgs := func(ids []ObjectID) []string {
				var out []string
				for _, id := range ids {
					out = append(out, messages[id])
				}
				return out
			}
			mtSameStrings(t, "released", msgs(res.ReleasedSnapshots), tc.released)
			mtSameStrings(t, "edited", msgs(res.EditedSnapshots), tc.edited)
			if len(res.DeletedBranches)+len(res.DeletedTags) > 0 {
				t.Errorf("refs deleted without being asked: %+v", res)
			}
			fr, err := Open(ctx, st, Options{Clock: clock})
			noErrMt(t, err)
			if got := mtAncestryMessages(t, fr); !reflect.DeepEqual(got, tc.ancestry) {
				t.Errorf("ancestries after expiration = %v, want %v", got, tc.ancestry)
			}
			mtFsckClean(t, fr, "after expiration")

			clock.Advance(time.Minute)
			sum, err := fr.GarbageCollect(ctx, clock.Peek(), false)
			noErrMt(t, err)
			got := *sum
			got.BytesDeleted = 0
			if got != tc.gc {
				t.Errorf("GC after expiration deleted %+v, want counts %+v", *sum, tc.gc)
			}
			if goneChunkKey != "" {
				if _, _, err := st.Get(ctx, goneChunkKey); !errors.Is(err, objstore.ErrNotFound) {
					t.Errorf("%s survived GC (error %v)", goneChunkKey, err)
				}
			}
			fr, err = Open(ctx, st, Options{Clock: clock})
			noErrMt(t, err)
			for ref, want := range dataBefore {
				if _, live := tc.ancestry[ref]; !live {
					continue
				}
				if got := mtReadAll(t, fr, mtVersionRef(ref)); !reflect.DeepEqual(got, want) {
					t.Errorf("%s reads %v after expire+GC, read %v before", ref, got, want)
				}
			}
			mtFsckClean(t, fr, "after expiration and GC")

			// On a second copy, with deletion of expired refs asked: every
			// ref is expired, all go but main, which reads as before.
			st2 := copyFixture(t, tc.name, clock)
			r2, err := Open(ctx, st2, Options{Clock: clock})
			noErrMt(t, err)
			res2, err := r2.ExpireSnapshots(ctx, lastFlush.Add(time.Second), true, true)
			noErrMt(t, err)
			var wantBranches, wantTags []string
			for ref := range tc.ancestry {
				if name, ok := strings.CutPrefix(ref, "tag:"); ok {
					wantTags = append(wantTags, name)
				} else if ref != "branch:main" {
					wantBranches = append(wantBranches, strings.TrimPrefix(ref, "branch:"))
				}
			}
			mtSameStrings(t, "deleted branches", res2.DeletedBranches, wantBranches)
			mtSameStrings(t, "deleted tags", res2.DeletedTags, wantTags)
			r2, err = Open(ctx, st2, Options{Clock: clock})
			noErrMt(t, err)
			if got := mtLiveRefs(t, r2); len(got) != 1 {
				t.Errorf("live refs after expiring with deletion: %v, want only main", got)
			}
			if got := mtReadAll(t, r2, BranchRef("main")); !reflect.DeepEqual(got, dataBefore["branch:main"]) {
				t.Errorf("main reads %v after expiring with deletion, read %v before", got, dataBefore["branch:main"])
			}
			mtFsckClean(t, r2, "after expiring with deletion")
		})
	}
}

// ---------------------------------------------------------------------------
// GC safety details.

// TestGCKeepsManifestsNodesPointAt: a snapshot whose manifest list omits a
// manifest its nodes use (not something upstream writes) loses nothing to
// GC; upstream's find_retained (gc.rs:189-206) would keep only the listed
// ones.
func TestGCKeepsManifestsNodesPointAt(t *testing.T) {
	h := newMtHist(t, "memory")
	mtLinear(h, 2)
	before := mtRefData(t, h.fresh())
	s, err := h.r.ReadSnapshot(h.ctx, h.ids["c2"])
	noErrMt(t, err)
	if len(s.ManifestFiles) != 1 {
		t.Fatalf("c2 lists %d manifests, want 1", len(s.ManifestFiles))
	}
	s.ManifestFiles = nil
	data, err := EncodeSnapshot(s)
	noErrMt(t, err)
	_, err = h.st.Put(h.ctx, snapshotKey(s.ID), data)
	noErrMt(t, err)
	h.step()
	sum, err := h.fresh().GarbageCollect(h.ctx, h.clock.Peek(), false)
	noErrMt(t, err)
	if *sum != (GCSummary{}) {
		t.Errorf("GC deleted %+v from a repository where everything is reachable", *sum)
	}
	if got := mtReadAll(t, h.fresh(), BranchRef("main")); !reflect.DeepEqual(got, before["branch:main"]) {
		t.Errorf("main reads %v after GC, read %v before", got, before["branch:main"])
	}
}

// TestGCForgetsWhatItDeletes: the handle that ran GC does not serve
// collected snapshots or manifests from its cache.
func TestGCForgetsWhatItDeletes(t *testing.T) {
	h := newMtHist(t, "memory")
	mtLinear(h, 3)
	c1, err := h.r.ReadSnapshot(h.ctx, h.ids["c1"])
	noErrMt(t, err)
	man := c1.ManifestFiles[0].ID
	if _, err := h.r.ReadManifest(h.ctx, man); err != nil {
		t.Fatal(err) // now cached
	}
	h.step()
	_, err = h.r.ExpireSnapshots(h.ctx, h.clock.Peek(), false, false)
	noErrMt(t, err)
	h.step()
	sum, err := h.r.GarbageCollect(h.ctx, h.clock.Peek(), false)
	noErrMt(t, err)
	if sum.ManifestsDeleted != 2 || sum.SnapshotsDeleted != 2 {
		t.Fatalf("GC deleted %+v, want c1 and c2 with their manifests", *sum)
	}
	if _, err := h.r.ReadManifest(h.ctx, man); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("collected manifest %s still readable on the GC handle (error %v)", man, err)
	}
	if _, err := h.r.ReadonlySession(h.ctx, SnapshotRef(h.ids["c1"])); !errors.Is(err, ErrRefNotFound) {
		t.Errorf("collected snapshot c1 still opens on the GC handle (error %v)", err)
	}
}

// TestMaintenanceRefusesBrokenHistory: when a ref's ancestry cannot be
// read, expiration and GC fail naming the snapshot, and delete or rewrite
// nothing.
func TestMaintenanceRefusesBrokenHistory(t *testing.T) {
	h := newMtHist(t, "memory")
	mtLinear(h, 3)
	h.branch("side", "c1")
	h.commit("side", "s1", mtSet("a/c/4", mtNative("s1", "a/c/4")))
	noErrMt(t, h.st.Delete(h.ctx, snapshotKey(h.ids["c2"])))
	h.step()
	before := mtInfos(h.listing())
	_, err := h.r.ExpireSnapshots(h.ctx, h.clock.Peek(), true, true)
	if !errors.Is(err, objstore.ErrNotFound) || !strings.Contains(err.Error(), h.ids["c2"].String()) {
		t.Errorf("expire over a missing ancestor: error %v, want ErrNotFound naming %s", err, h.ids["c2"])
	}
	// Refs are visited in order branch main, branch side: main fails first,
	// so side's history must not have been rewritten either.
	if got := mtInfos(h.listing()); !reflect.DeepEqual(got, before) {
		t.Errorf("a failed expiration changed storage")
	}
	for _, dry := range []bool{true, false} {
		_, err := h.r.GarbageCollect(h.ctx, h.clock.Peek(), dry)
		if !errors.Is(err, objstore.ErrNotFound) || !strings.Contains(err.Error(), h.ids["c2"].String()) {
			t.Errorf("gc (dry run %v) over a missing ancestor: error %v, want ErrNotFound naming %s", dry, err, h.ids["c2"])
		}
	}
	if got := mtInfos(h.listing()); !reflect.DeepEqual(got, before) {
		t.Errorf("a failed GC changed storage")
	}
}

// TestGCLeavesForeignObjects: objects under the GC'd prefixes whose names
// are not object ids are never deleted.
func TestGCLeavesForeignObjects(t *testing.T) {
	h := newMtHist(t, "memory")
	mtLinear(h, 1)
	foreign := []string{"chunks/README", "manifests/x", "snapshots/" + strings.Repeat("U", 20), "transactions/notes.txt"}
	for _, k := range foreign {
		_, err := h.st.Put(h.ctx, k, []byte("not ours"))
		noErrMt(t, err)
	}
	h.step()
	sum, err := h.r.GarbageCollect(h.ctx, h.clock.Peek(), false)
	noErrMt(t, err)
	if *sum != (GCSummary{}) {
		t.Errorf("GC deleted %+v", *sum)
	}
	for _, k := range foreign {
		if _, _, err := h.st.Get(h.ctx, k); err != nil {
			t.Errorf("foreign object %s: %v", k, err)
		}
	}
}
