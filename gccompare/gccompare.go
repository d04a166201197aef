// Package gccompare is the rig's GC oracle: it runs snapshot expiration
// and/or garbage collection with two library versions on two identical
// copies of one repository — the "replica" actor (v1 by default) on a copy,
// the "original" actor (v2 by default) on the repository itself — with the
// same arguments and the same clock time, and compares what they did:
// both fail (with the same normalized error kind) or neither; the
// expiration results; the GC counts per object kind; the keys left under
// each top-level prefix and the bytes of those both keep (chunks aside,
// ignoring the writer's name in metadata headers); and, afterwards, each
// repository's refs, tag tombstones, ancestries and integrity check.
//
// Known, intended differences live in one declarative list
// (DefaultAccepted, accepted.go). A difference an entry explains is
// reported apart; an entry that no longer explains anything is stale and
// fails the run (Report.StaleAccepted for one comparison, Tally over many),
// so the list cannot silently outlive the differences it excuses.
//
// Compare works on two stores the caller prepared (CopyStore fills the
// replica); CompareURL takes a repository argument (local path, file:///
// or az://container/prefix), makes the copy itself and always removes it.
package gccompare

import (
	"context"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/objstore"
)

// Default actor names of the two sides.
const (
	// DefaultOriginal is the actor that runs on the original repository
	// when Options.Original is nil: the current library line.
	DefaultOriginal = "v2"
	// DefaultReplica is the actor that runs on the copy when
	// Options.Replica is nil: the frozen 1.x line.
	DefaultReplica = "v1"
)

// ExpireArgs are the arguments of snapshot expiration
// (actors.Repo.ExpireSnapshots).
type ExpireArgs struct {
	// OlderThan is the cutoff: snapshots flushed before it expire.
	OlderThan time.Time `json:"older_than"`
	// DeleteExpiredBranches deletes branches whose tip expired.
	DeleteExpiredBranches bool `json:"delete_expired_branches"`
	// DeleteExpiredTags deletes tags whose snapshot expired.
	DeleteExpiredTags bool `json:"delete_expired_tags"`
}

// GCArgs are the arguments of garbage collection
// (actors.Repo.GarbageCollect).
type GCArgs struct {
	// OlderThan is the cutoff: only objects written before it are deleted.
	OlderThan time.Time `json:"older_than"`
	// DryRun counts what would be deleted and deletes nothing.
	DryRun bool `json:"dry_run"`
}

// Args says what both sides run: expiration, then GC, each when non-nil.
// At least one must be set.
type Args struct {
	// Expire, when set, runs snapshot expiration first.
	Expire *ExpireArgs `json:"expire,omitempty"`
	// GC, when set, runs garbage collection (after expiration).
	GC *GCArgs `json:"gc,omitempty"`
}

// ErrNoOperation is returned (wrapped) by Compare for Args that ask for
// neither expiration nor GC.
var ErrNoOperation = errors.New("nothing to compare: ask for expiration, GC or both")

// Options tunes a comparison. The zero value compares v1 (on the copy)
// with v2 (on the original) against DefaultAccepted on the wall clock.
type Options struct {
	// Original runs on the original store; nil means the DefaultOriginal
	// actor.
	Original actors.Actor
	// Replica runs on the copy; nil means the DefaultReplica actor, or the
	// original actor when the default replica cannot read the repository's
	// spec version (the report says so in Notes). An actor given here is
	// always used: one that cannot read the spec fails, and that failure
	// is a mismatch.
	Replica actors.Actor
	// Accepted lists the known, accepted differences; nil means
	// DefaultAccepted, an empty non-nil list accepts nothing.
	Accepted []Accepted
	// Clock gives both sides their time (actors.Options.Clock when they
	// open the repository). Compare reads it once and starts both sides at
	// that same instant: an *objstore.VirtualClock is set back to it
	// before each side (so stores stamping modification times from that
	// clock stamp both sides alike) and left at the later of the two end
	// times; any other clock is read once and each side gets a virtual
	// clock starting there. nil means the wall clock.
	Clock objstore.Clock
	// Scenario names the comparison for reports and for accepted entries'
	// scenario= conditions (CompareURL uses the repository argument when
	// it is empty).
	Scenario string
	// Rand seeds the ids both sides draw (spec-2 maintenance names
	// backups and ops with random ids): Compare reads 32 bytes from it once
	// and gives each side its own ChaCha8 stream from that seed, so both
	// draw the same ids. nil means crypto/rand; a seeded source makes the
	// comparison deterministic.
	Rand io.Reader
	// SkipFsck leaves out the integrity check of each repository after the
	// run (it reads every object the refs reach).
	SkipFsck bool
}

// Failure is an error one side met: the step it failed at, the
// normalized error kind and the error text.
type Failure struct {
	// Step is "open", "expire", "gc" (the run) or "list" (reading the
	// state afterwards).
	Step string `json:"step"`
	// Kind is the normalized kind's name (actors.KindName), or
	// "unclassified" for an error without kind (a storage failure).
	Kind string `json:"kind"`
	// Message is the error text.
	Message string `json:"message"`
}

// String renders "STEP: KIND".
func (f *Failure) String() string {
	if f == nil {
		return "ok"
	}
	return f.Step + ": " + f.Kind
}

// State is a repository as one actor sees it after the run.
type State struct {
	// Error is set when the repository no longer opens or a read failed;
	// the fields below hold what was read before.
	Error *Failure `json:"error,omitempty"`
	// SpecVersion is the repository's spec version.
	SpecVersion int `json:"spec_version"`
	// Branches and Tags map each ref to its snapshot.
	Branches map[string]string `json:"branches"`
	Tags     map[string]string `json:"tags"`
	// DeletedTags are the tag tombstones, sorted.
	DeletedTags []string `json:"deleted_tags"`
	// Ancestry maps "branch:NAME" and "tag:NAME" to the snapshot ids of the
	// ref's ancestry, newest first.
	Ancestry map[string][]string `json:"ancestry"`
	// Fsck holds the integrity problems found ("OBJECT: PROBLEM"); nil
	// when the check was skipped.
	Fsck []string `json:"fsck"`
}

// Side is what one actor did on its repository.
type Side struct {
	// Actor names the actor ("v1").
	Actor string `json:"actor"`
	// Store names the store it ran on.
	Store string `json:"store"`
	// Expire is the expiration result, nil when expiration was not asked
	// for or did not complete.
	Expire *actors.ExpireResult `json:"expire,omitempty"`
	// GC is the GC result, nil when GC was not asked for or did not
	// complete.
	GC *actors.GCResult `json:"gc,omitempty"`
	// Error is the failure that stopped the run, nil when it completed.
	Error *Failure `json:"error,omitempty"`
	// Keys holds every key the store holds after the run, by top-level
	// prefix ("chunks/", "refs/", "config.yaml"), sorted. It is left out
	// of the JSON form (KeyCounts summarises it).
	Keys map[string][]string `json:"-"`
	// KeyCounts counts Keys by prefix.
	KeyCounts map[string]int `json:"key_counts"`
	// After is the repository as the side's actor sees it after the run.
	After State `json:"after"`
}

// Mismatch is one difference between the two sides.
type Mismatch struct {
	// Field names what differs: "error", "expire.released_snapshots",
	// "gc.chunks_deleted", "keys[chunks/]", "after.tags",
	// "after.ancestry[branch:main]", "cross.tags", ...
	Field string `json:"field"`
	// Original and Replica render each side's value.
	Original string `json:"original"`
	Replica  string `json:"replica"`
	// AcceptedBy is the accepted entry that explains the difference (set
	// in Report.Accepted only).
	AcceptedBy *Accepted `json:"accepted_by,omitempty"`
}

// String renders "FIELD: original ORIGINAL, replica REPLICA".
func (m Mismatch) String() string {
	return fmt.Sprintf("%s: original %s, replica %s", m.Field, m.Original, m.Replica)
}

// Report is the outcome of one comparison.
type Report struct {
	// Scenario is Options.Scenario.
	Scenario string `json:"scenario,omitempty"`
	// Args are what both sides ran.
	Args Args `json:"args"`
	// SpecVersion is the repository's spec version before the run as the
	// original actor read it (0 when it could not open the repository).
	SpecVersion int `json:"spec_version"`
	// Original and Replica are the two sides.
	Original Side `json:"original"`
	Replica  Side `json:"replica"`
	// Cross is the original repository read by the replica actor after
	// the run (nil when both sides use the same actor, or the replica
	// cannot read the spec); it must equal Replica.After ("cross.*"
	// fields): what the original actor left is what a replica-actor reader
	// would have seen had it done the work itself.
	Cross *State `json:"cross,omitempty"`
	// Notes say things a reader must know (an actor fallback, an actor
	// that cannot read the spec, integrity problems both sides share).
	Notes []string `json:"notes"`
	// Mismatches are the differences no accepted entry explains.
	Mismatches []Mismatch `json:"mismatches"`
	// Accepted are the differences an accepted entry explains.
	Accepted []Mismatch `json:"accepted"`
	// StaleAccepted are the accepted entries whose When applies to this
	// comparison but that explained no difference.
	StaleAccepted []Accepted `json:"stale_accepted"`
}

// OK reports whether the two sides agree: no mismatch beyond the accepted
// ones. It ignores stale entries, which only a run of many comparisons
// can judge fairly (Tally); Passed counts them too.
func (r *Report) OK() bool { return len(r.Mismatches) == 0 }

// Passed reports whether the comparison passes on its own: OK and no
// stale accepted entry (an applicable entry that explained nothing). The
// CLI's exit status follows it.
func (r *Report) Passed() bool { return r.OK() && len(r.StaleAccepted) == 0 }

// Compare runs Args with opts.Replica on replica — a store that already
// holds a copy of original (CopyDir, CopyStore) — and with opts.Original
// on original, then compares the outcomes. Expiration runs before GC.
//
// A library error on either side is part of the report; an error from
// Compare means the comparison could not run (bad arguments, an invalid
// accepted list, a store that cannot be listed, a cancelled context).
func Compare(ctx context.Context, original, replica objstore.Store, args Args, opts Options) (*Report, error) {
	if args.Expire == nil && args.GC == nil {
		return nil, ErrNoOperation
	}
	if original == nil || replica == nil {
		return nil, errors.New("gccompare: both an original and a replica store are needed")
	}
	list := opts.Accepted
	if list == nil {
		list = DefaultAccepted
	}
	if err := ValidateAccepted(list); err != nil {
		return nil, fmt.Errorf("gccompare: %w", err)
	}
	origActor, err := actorOr(opts.Original, DefaultOriginal)
	if err != nil {
		return nil, err
	}
	repActor, err := actorOr(opts.Replica, DefaultReplica)
	if err != nil {
		return nil, err
	}

	var seed [32]byte
	src := opts.Rand
	if src == nil {
		src = cryptorand.Reader
	}
	if _, err := io.ReadFull(src, seed[:]); err != nil {
		return nil, fmt.Errorf("gccompare: seed the id source: %w", err)
	}
	clocks := newSideClocks(opts.Clock)
	r := &Report{Scenario: opts.Scenario, Args: args, Notes: []string{}}

	// The original side runs first: its open tells the spec version, which
	// decides whether the default replica actor can take part.
	origSide, spec, err := runSide(ctx, origActor, original, args, sideOptions(clocks.start(), seed), opts.SkipFsck)
	if err != nil {
		return nil, err
	}
	clocks.end()
	r.SpecVersion = spec
	if spec != 0 && !repActor.Capabilities().Reads(spec) {
		if opts.Replica == nil {
			r.Notes = append(r.Notes, fmt.Sprintf("the default replica actor %s cannot read spec-%d repositories; the replica side ran %s instead",
				repActor.Name(), spec, origActor.Name()))
			repActor = origActor
		} else {
			r.Notes = append(r.Notes, fmt.Sprintf("the replica actor %s cannot read spec-%d repositories (it reads spec %s); its side is expected to fail",
				repActor.Name(), spec, joinInts(repActor.Capabilities().Specs)))
		}
	}
	repSide, _, err := runSide(ctx, repActor, replica, args, sideOptions(clocks.start(), seed), opts.SkipFsck)
	if err != nil {
		return nil, err
	}
	clocks.end()
	clocks.finish()
	r.Original, r.Replica = origSide, repSide

	if repActor.Name() != origActor.Name() && origSide.After.SpecVersion != 0 && repActor.Capabilities().Reads(origSide.After.SpecVersion) {
		cross := readState(ctx, repActor, original, sideOptions(clocks.fixed(), seed), opts.SkipFsck)
		r.Cross = &cross
	}

	content, err := diffContent(ctx, original, replica, r.Original.Keys, r.Replica.Keys)
	if err != nil {
		return nil, err
	}
	r.Mismatches = diffReport(r, content)
	for _, s := range []struct {
		name string
		side Side
	}{{"original", r.Original}, {"replica", r.Replica}} {
		if len(s.side.After.Fsck) > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("the %s repository has %d integrity problem(s) after the run (%s): %s",
				s.name, len(s.side.After.Fsck), s.side.Actor, abbreviate(s.side.After.Fsck, 5)))
		}
	}
	applyAccepted(r, list, facts{spec: spec, original: origActor.Name(), replica: repActor.Name(), args: args, scenario: opts.Scenario})
	if r.Accepted == nil {
		r.Accepted = []Mismatch{}
	}
	if r.StaleAccepted == nil {
		r.StaleAccepted = []Accepted{}
	}
	return r, nil
}

// actorOr returns a, or the built-in actor name when a is nil.
func actorOr(a actors.Actor, name string) (actors.Actor, error) {
	if a != nil {
		return a, nil
	}
	a, err := actors.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("gccompare: %w", err)
	}
	return a, nil
}

// sideClocks gives both sides the same start instant (see Options.Clock).
type sideClocks struct {
	virtual *objstore.VirtualClock // the caller's virtual clock, or nil
	at      time.Time              // the instant both sides start at
	latest  time.Time              // the latest end time seen
}

func newSideClocks(c objstore.Clock) *sideClocks {
	if c == nil {
		c = objstore.RealClock{}
	}
	if vc, ok := c.(*objstore.VirtualClock); ok {
		t := vc.Peek()
		return &sideClocks{virtual: vc, at: t, latest: t}
	}
	t := c.Now()
	return &sideClocks{at: t, latest: t}
}

// sideTick is how far a side's own virtual clock advances per reading, so
// that consecutive readings differ.
const sideTick = time.Microsecond

// start returns the clock of the next side, at the start instant.
func (s *sideClocks) start() objstore.Clock {
	if s.virtual != nil {
		s.virtual.Set(s.at)
		return s.virtual
	}
	return objstore.NewVirtualClock(s.at, sideTick)
}

// end records the time a side ended at (virtual clocks only).
func (s *sideClocks) end() {
	if s.virtual != nil {
		if t := s.virtual.Peek(); t.After(s.latest) {
			s.latest = t
		}
	}
}

// finish leaves a virtual clock at the latest end time.
func (s *sideClocks) finish() {
	if s.virtual != nil {
		s.virtual.Set(s.latest)
	}
}

// fixed returns a clock for reads after the run.
func (s *sideClocks) fixed() objstore.Clock {
	if s.virtual != nil {
		return s.virtual
	}
	return objstore.NewVirtualClock(s.latest, sideTick)
}

// sideOptions are the actor options of one side: its clock and an id
// stream from seed.
func sideOptions(clock objstore.Clock, seed [32]byte) actors.Options {
	return actors.Options{Clock: clock, Rand: rand.NewChaCha8(seed)}
}

// runSide opens store with actor, runs args and records the outcome. It
// returns the spec version the open saw (0 if it failed) and an error only
// when the comparison cannot go on (the store cannot be listed, the
// context ended).
func runSide(ctx context.Context, actor actors.Actor, store objstore.Store, args Args, aopts actors.Options, skipFsck bool) (Side, int, error) {
	side := Side{Actor: actor.Name(), Store: store.String()}
	spec := 0
	fail := func(step string, err error) {
		side.Error = failure(step, err)
	}
	h, err := actor.Open(ctx, store, aopts)
	if err != nil {
		fail("open", err)
	} else {
		spec = h.SpecVersion()
		if args.Expire != nil {
			res, err := h.ExpireSnapshots(ctx, args.Expire.OlderThan, args.Expire.DeleteExpiredBranches, args.Expire.DeleteExpiredTags)
			if err != nil {
				fail("expire", err)
			} else {
				side.Expire = &res
			}
		}
		if args.GC != nil && side.Error == nil {
			res, err := h.GarbageCollect(ctx, args.GC.OlderThan, args.GC.DryRun)
			if err != nil {
				fail("gc", err)
			} else {
				side.GC = &res
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return side, spec, fmt.Errorf("gccompare: %s on %s: %w", actor.Name(), store, err)
	}
	keys, err := listKeys(ctx, store)
	if err != nil {
		return side, spec, err
	}
	side.Keys = keys
	side.KeyCounts = make(map[string]int, len(keys))
	for p, ks := range keys {
		side.KeyCounts[p] = len(ks)
	}
	side.After = readState(ctx, actor, store, aopts, skipFsck)
	if err := ctx.Err(); err != nil {
		return side, spec, fmt.Errorf("gccompare: %s on %s: %w", actor.Name(), store, err)
	}
	return side, spec, nil
}

// failure describes err met at step.
func failure(step string, err error) *Failure {
	kind := "unclassified"
	if k := actors.KindOf(err); k != nil {
		kind = actors.KindName(k)
	}
	return &Failure{Step: step, Kind: kind, Message: err.Error()}
}

// listKeys lists every key of store by top-level prefix.
func listKeys(ctx context.Context, store objstore.Store) (map[string][]string, error) {
	objs, err := store.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("gccompare: list the keys of %s: %w", store, err)
	}
	out := map[string][]string{}
	for _, o := range objs {
		p := topPrefix(o.Key)
		out[p] = append(out[p], o.Key)
	}
	for _, ks := range out {
		sort.Strings(ks)
	}
	return out, nil
}

// topPrefix is a key's first segment with its slash ("chunks/"), or the
// whole key when it has no slash ("config.yaml").
func topPrefix(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i+1]
	}
	return key
}

// readState opens store afresh with actor and reads its refs, tombstones,
// ancestries and (unless skipFsck) integrity.
func readState(ctx context.Context, actor actors.Actor, store objstore.Store, aopts actors.Options, skipFsck bool) State {
	st := State{Branches: map[string]string{}, Tags: map[string]string{}, DeletedTags: []string{}, Ancestry: map[string][]string{}}
	h, err := actor.Open(ctx, store, aopts)
	if err != nil {
		st.Error = failure("open", err)
		return st
	}
	st.SpecVersion = h.SpecVersion()
	if st.Branches, err = h.Branches(ctx); err != nil {
		st.Error = failure("branches", err)
		return st
	}
	if st.Tags, err = h.Tags(ctx); err != nil {
		st.Error = failure("tags", err)
		return st
	}
	if st.DeletedTags, err = h.DeletedTags(ctx); err != nil {
		st.Error = failure("deleted tags", err)
		return st
	}
	var refs []actors.Ref
	for _, name := range sortedKeys(st.Branches) {
		refs = append(refs, actors.Branch(name))
	}
	for _, name := range sortedKeys(st.Tags) {
		refs = append(refs, actors.Tag(name))
	}
	for _, ref := range refs {
		anc, err := h.Ancestry(ctx, ref)
		if err != nil {
			st.Error = failure("ancestry of "+ref.String(), err)
			return st
		}
		ids := make([]string, len(anc))
		for i, s := range anc {
			ids[i] = s.ID
		}
		st.Ancestry[ref.String()] = ids
	}
	if !skipFsck {
		findings, err := h.Fsck(ctx)
		if err != nil {
			st.Error = failure("fsck", err)
			return st
		}
		st.Fsck = make([]string, len(findings))
		for i, f := range findings {
			st.Fsck[i] = f.String()
		}
		sort.Strings(st.Fsck)
	}
	return st
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
