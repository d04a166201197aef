package statemachine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/gccompare"
	"github.com/icerig/icerig/internal/transitions"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/faults"
	"github.com/icerig/icerig/objstore/local"
	"github.com/icerig/icerig/objstore/memory"
)

// Epoch is the virtual clock's time when a run starts.
var Epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Backend names the object store a run uses.
type Backend string

// The backends.
const (
	// BackendMemory is the in-memory store (the default).
	BackendMemory Backend = "memory"
	// BackendLocal is the local-filesystem store; the virtual clock
	// stamps the files' modification times.
	BackendLocal Backend = "local"
)

// EnvOptions configures an Env.
type EnvOptions struct {
	// Actors are the actors the run may use; the invariant checks every
	// one of them.
	Actors []actors.Actor
	// Seed seeds the id source shared by every actor.
	Seed uint64
	// Backend is the object store (default memory).
	Backend Backend
	// Dir is the local backend's root directory (required for it).
	Dir string
	// Transitions, when set, counts the cross-version transitions the
	// run exercised (see internal/transitions).
	Transitions *transitions.Set
}

// Env runs ops: it holds the model, the store, the virtual clock, the id
// source, the active actor's handle and session, and the binding of
// snapshot labels to the ids the actors returned.
type Env struct {
	ctx    context.Context
	model  *Model
	clock  *objstore.VirtualClock
	store  objstore.Store
	rand   io.Reader
	actors map[string]actors.Actor
	names  []string // actor names in the order given

	// active is the store the active actor's handle works through: the
	// run's store behind a faults wrapper the crash action arms.
	active  *faults.Store
	handle  actors.Handle
	session actors.Session
	ids     map[string]string // label -> id
	labels  map[string]string // id -> label

	line   int
	opText string
	// lastFail is the last failure kind an op was expected to fail with
	// ("" when it succeeded), for the coverage counts.
	lastFail string
	// note refines a successful outcome for the coverage counts ("ok,
	// edited").
	note string
	// nextLabel, when set, names the snapshot the next commit creates
	// (lenient replays keep a trace's own labels).
	nextLabel string

	// cells counts exercised transitions (nil: not counted); writer is
	// the actor that last changed the repository.
	cells  *transitions.Set
	writer string
}

// exercised counts a transition: the active actor (or reader) did op on
// the repository the last writer left; ops that change the repository
// make the actor the last writer.
func (e *Env) exercised(reader, op string, writes bool) {
	if e.cells != nil && e.writer != "" {
		e.cells.Add(transitions.Cell{Writer: e.writer, Reader: reader, Op: op, Spec: e.model.Spec})
	}
	if writes {
		e.writer = reader
	}
}

// Divergence is a difference between what the model expects and what an
// actor did or shows: the first one stops a run.
type Divergence struct {
	// Line is the trace line of the op that diverged, or of the last op
	// before the invariant check that found it (0: before any op).
	Line int
	// Op is that op's text form ("" before any op).
	Op string
	// Invariant is true when the invariant check (not the op) found it.
	Invariant bool
	// Actor names the actor that diverged.
	Actor string
	// What says what was compared.
	What string
	// Expected and Seen are the model's and the actor's view.
	Expected, Seen string
}

// Error renders "line N (OP): actor A: WHAT: expected X, seen Y".
func (d *Divergence) Error() string {
	where := fmt.Sprintf("line %d", d.Line)
	if d.Op != "" {
		where += " (" + d.Op + ")"
	}
	if d.Invariant {
		where += ", invariant after it"
	}
	return fmt.Sprintf("%s: actor %s: %s: expected %s, seen %s", where, d.Actor, d.What, d.Expected, d.Seen)
}

// TraceError reports a trace that cannot be run: a line naming an actor
// that is not available, a label that was never created, an op that needs
// a session when there is none.
type TraceError struct {
	Line int
	Op   string
	Err  error
}

// Error renders "line N (OP): PROBLEM".
// Error renders "line N (OP): PROBLEM".
func (e *TraceError) Error() string { return fmt.Sprintf("line %d (%s): %v", e.Line, e.Op, e.Err) }

// Unwrap returns the problem.
func (e *TraceError) Unwrap() error { return e.Err }

// lockedReader serialises reads of a shared id source.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// NewEnv prepares an empty store with a virtual clock at Epoch.
func NewEnv(ctx context.Context, opts EnvOptions) (*Env, error) {
	if len(opts.Actors) == 0 {
		return nil, errors.New("statemachine: no actors")
	}
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], opts.Seed)
	e := &Env{
		ctx:    ctx,
		model:  NewModel(Epoch),
		clock:  objstore.NewVirtualClock(Epoch, 0),
		rand:   &lockedReader{r: rand.NewChaCha8(seed)},
		actors: map[string]actors.Actor{},
		ids:    map[string]string{},
		labels: map[string]string{},
		cells:  opts.Transitions,
	}
	for _, a := range opts.Actors {
		if _, dup := e.actors[a.Name()]; dup {
			return nil, fmt.Errorf("statemachine: actor %s given twice", a.Name())
		}
		e.actors[a.Name()] = a
		e.names = append(e.names, a.Name())
	}
	switch opts.Backend {
	case BackendMemory, "":
		e.store = memory.New(e.clock)
	case BackendLocal:
		if opts.Dir == "" {
			return nil, errors.New("statemachine: the local backend needs a directory")
		}
		st, err := local.Open(opts.Dir, e.clock)
		if err != nil {
			return nil, fmt.Errorf("statemachine: %w", err)
		}
		e.store = st
	default:
		return nil, fmt.Errorf("statemachine: unknown backend %q", opts.Backend)
	}
	e.active = faults.New(e.store)
	return e, nil
}

// Model returns the env's model (read it, do not change it).
func (e *Env) Model() *Model { return e.model }

// Store returns the object store of the run.
func (e *Env) Store() objstore.Store { return e.store }

// Run applies one op (at trace line line) and compares the outcomes. It
// returns the outcome's short description, a *Divergence or a *TraceError.
func (e *Env) Run(op Op, line int) (string, error) {
	e.line, e.opText = line, op.String()
	e.lastFail, e.note = "", ""
	out, err := op.run(e)
	var te traceErr
	if errors.As(err, &te) {
		return "", &TraceError{Line: line, Op: e.opText, Err: te.error}
	}
	return out, err
}

// traceErr marks an error of the trace itself inside run.
type traceErr struct{ error }

func badTrace(format string, args ...any) error { return traceErr{fmt.Errorf(format, args...)} }

func (e *Env) options() actors.Options {
	return actors.Options{Clock: e.clock, Rand: e.rand}
}

func (e *Env) actor(name string) (actors.Actor, error) {
	a, ok := e.actors[name]
	if !ok {
		return nil, badTrace("actor %s is not available (have %s)", name, strings.Join(e.names, ", "))
	}
	return a, nil
}

func (e *Env) activeActor() actors.Actor { return e.actors[e.model.Actor] }

// diverge reports a divergence of the active actor on the current op.
func (e *Env) diverge(what, expected, seen string) error {
	return &Divergence{Line: e.line, Op: e.opText, Actor: e.model.Actor, What: what, Expected: expected, Seen: seen}
}

// describe renders an error as "KIND: MESSAGE".
func describe(err error) string {
	if err == nil {
		return "ok"
	}
	return actors.KindName(actors.KindOf(err)) + " (" + err.Error() + ")"
}

// expectAs compares an outcome with the model's kind for actor.
func (e *Env) expectAs(actor, what, want string, err error) error {
	d := func(expected, seen string) error {
		return &Divergence{Line: e.line, Op: e.opText, Actor: actor, What: what, Expected: expected, Seen: seen}
	}
	if want == KindOK {
		if err != nil {
			return d("ok", describe(err))
		}
		return nil
	}
	e.lastFail = want
	kind, ok := actors.ParseKindName(want)
	if !ok {
		panic("statemachine: model kind " + want + " is not an actors kind")
	}
	if err == nil {
		return d(want, "ok")
	}
	if !errors.Is(err, kind) {
		return d(want, describe(err))
	}
	return nil
}

func (e *Env) expect(what, want string, err error) error {
	return e.expectAs(e.model.Actor, what, want, err)
}

// outcome is the trace comment of an expected outcome.
func outcome(kind string) string {
	if kind == KindOK {
		return "ok"
	}
	return kind
}

// bind ties a new snapshot label to the id an actor returned.
func (e *Env) bind(label, id string) error {
	if other, ok := e.labels[id]; ok {
		return e.diverge("new snapshot id", "a new id for "+label, id+", already the id of "+other)
	}
	e.ids[label], e.labels[id] = id, label
	return nil
}

// newLabel binds the snapshot a commit just created, id, to the next
// label (or, in a lenient replay, to the trace's own label) and returns it.
func (e *Env) newLabel(id string) (string, error) {
	label := e.model.NextLabel()
	if e.nextLabel != "" {
		label = e.nextLabel
	}
	return label, e.bind(label, id)
}

// label names an id by its label ("?ID" when unknown).
func (e *Env) label(id string) string {
	if l, ok := e.labels[id]; ok {
		return l
	}
	if id == "" {
		return "-"
	}
	return "?" + id
}

// idOf returns the id of a label (a trace error when it was never
// created).
func (e *Env) idOf(label string) (string, error) {
	id, ok := e.ids[label]
	if !ok {
		return "", badTrace("snapshot %s was never created", label)
	}
	return id, nil
}

// resolveTime evaluates a time expression.
func (e *Env) resolveTime(x TimeExpr) (time.Time, error) {
	if x.Base == "now" {
		return e.model.Now.Add(x.Offset), nil
	}
	s, ok := e.model.Snapshots[x.Base]
	if !ok {
		return time.Time{}, badTrace("snapshot %s was never created", x.Base)
	}
	return s.FlushedAt.Add(x.Offset), nil
}

func (e *Env) needSession() error {
	if e.model.Session == nil {
		return badTrace("no session (checkout one first)")
	}
	return nil
}

func (e *Env) needRepo() error {
	if !e.model.Initialized() {
		return badTrace("no repository (init first)")
	}
	return nil
}

// actorRef converts a checkout ref to an actors.Ref.
func (e *Env) actorRef(ref string) (actors.Ref, error) {
	kind, name, _ := strings.Cut(ref, ":")
	switch kind {
	case "branch":
		return actors.Branch(name), nil
	case "tag":
		return actors.Tag(name), nil
	}
	id, err := e.idOf(name)
	if err != nil {
		return actors.Ref{}, err
	}
	if e.model.Unreadable(name) {
		return actors.Ref{}, badTrace("snapshot %s lost a manifest or chunk to GC; the model does not read it", name)
	}
	return actors.Snapshot(id), nil
}

// openSession opens a session on ref through the active handle and, when
// the model expects it, makes it the session. It returns the outcome.
func (e *Env) openSession(ref string, readOnly bool) (string, error) {
	m := e.model
	kind, name, _ := strings.Cut(ref, ":")
	if kind != "branch" {
		readOnly = true
	}
	r, err := e.actorRef(ref)
	if err != nil {
		return "", err
	}
	label, want := m.ResolveRef(ref)
	var s actors.Session
	if readOnly {
		s, err = e.handle.Session(e.ctx, r)
	} else {
		s, err = e.handle.WritableSession(e.ctx, name)
	}
	what := "open session on " + ref
	if d := e.expect(what, want, err); d != nil {
		return "", d
	}
	if want != KindOK {
		return want, nil
	}
	if got := s.Base(); got != e.ids[label] {
		return "", e.diverge(what+": base snapshot", label, e.label(got))
	}
	branch := ""
	if !readOnly {
		branch = name
	}
	m.OpenSession(ref, branch, label)
	e.session = s
	return "ok", nil
}

// reopenSession reopens the model's session (at its ref, without its
// changes) through the active handle; if its ref no longer resolves, the
// session is closed.
func (e *Env) reopenSession() (string, error) {
	m := e.model
	if m.Session == nil {
		return "ok", nil
	}
	ref, readOnly := m.Session.Ref, m.Session.ReadOnly()
	out, err := e.openSession(ref, readOnly)
	if err != nil || out == "ok" {
		return out, err
	}
	e.closeSession()
	return "ok, session closed: " + out, nil
}

func (e *Env) closeSession() {
	e.model.Session = nil
	e.session = nil
}

// ---------------------------------------------------------------------------
// The ops.

func (o *InitOp) run(e *Env) (string, error) {
	m := e.model
	a, err := e.actor(o.Actor)
	if err != nil {
		return "", err
	}
	want := KindOK
	switch {
	case !a.Capabilities().Reads(o.Spec):
		want = KindUnsupportedSpec
	case m.Initialized():
		want = KindRepositoryExists
	}
	opts := e.options()
	opts.SpecVersion, opts.InlineThreshold = o.Spec, o.Inline
	h, err := a.Create(e.ctx, e.active, opts)
	if d := e.expectAs(a.Name(), "create", want, err); d != nil {
		return "", d
	}
	if want != KindOK {
		return want, nil
	}
	m.Init(o.Spec, o.Inline)
	m.Actor = a.Name()
	e.writer = a.Name()
	e.handle = h
	id, err := h.Resolve(e.ctx, actors.MainBranch)
	if d := e.expect("resolve branch:main", KindOK, err); d != nil {
		return "", d
	}
	if d := e.bind("s0", id); d != nil {
		return "", d
	}
	return e.openSession("branch:"+MainBranch, false)
}

// switchTo makes actor the active one with a fresh handle.
func (e *Env) switchTo(a actors.Actor) (string, error) {
	m := e.model
	want := KindOK
	if !a.Capabilities().Reads(m.Spec) {
		want = KindUnsupportedSpec
	}
	h, err := a.Open(e.ctx, e.active, e.options())
	if d := e.expectAs(a.Name(), "open", want, err); d != nil {
		return "", d
	}
	if want != KindOK {
		return want, nil
	}
	e.handle = h
	m.Actor = a.Name()
	return e.reopenSession()
}

func (o *SwitchOp) run(e *Env) (string, error) {
	if err := e.needRepo(); err != nil {
		return "", err
	}
	a, err := e.actor(o.Actor)
	if err != nil {
		return "", err
	}
	return e.switchTo(a)
}

func (o *ReopenOp) run(e *Env) (string, error) {
	if err := e.needRepo(); err != nil {
		return "", err
	}
	return e.switchTo(e.activeActor())
}

func (e *Env) setMetadata(path string, doc []byte, group bool, p ArrayParams) (string, error) {
	if err := e.needSession(); err != nil {
		return "", err
	}
	want := e.model.SetMetadata(path, doc, group, p.Shape, p.ChunkShape)
	key := MetadataKey(path)
	err := e.session.Set(e.ctx, key, doc)
	if d := e.expect("set "+key, want, err); d != nil {
		return "", d
	}
	return outcome(want), nil
}

func (o *SetGroupOp) run(e *Env) (string, error) {
	return e.setMetadata(o.Path, GroupDoc(o.Attrs), true, ArrayParams{})
}

func (o *SetArrayOp) run(e *Env) (string, error) {
	return e.setMetadata(o.Path, o.Params.Doc(), false, o.Params)
}

func (o *ResizeOp) run(e *Env) (string, error) {
	if err := e.needSession(); err != nil {
		return "", err
	}
	p, ok := e.model.Session.ArrayDoc(o.Path)
	if !ok {
		return "", badTrace("no array at /%s to resize", o.Path)
	}
	if len(p.Shape) != len(o.Shape) {
		return "", badTrace("array /%s has %d dimensions, not %d", o.Path, len(p.Shape), len(o.Shape))
	}
	p.Shape = slices.Clone(o.Shape)
	return e.setMetadata(o.Path, p.Doc(), false, p)
}

func (o *WriteOp) run(e *Env) (string, error) {
	if err := e.needSession(); err != nil {
		return "", err
	}
	for i, w := range o.Writes {
		path, coords, _ := ParseChunkKey(w.Key)
		value := w.Value.Bytes()
		want := e.model.WriteChunk(path, coords, value)
		err := e.session.Set(e.ctx, w.Key, value)
		if d := e.expect("set "+w.Key, want, err); d != nil {
			return "", d
		}
		if want != KindOK {
			return fmt.Sprintf("%s (write %d of %d)", want, i+1, len(o.Writes)), nil
		}
	}
	return "ok", nil
}

func (o *DeleteOp) run(e *Env) (string, error) {
	if err := e.needSession(); err != nil {
		return "", err
	}
	var want string
	if path, ok := ParseMetadataKey(o.Key); ok {
		want = e.model.DeleteKey(path, nil, true)
	} else {
		path, coords, _ := ParseChunkKey(o.Key)
		want = e.model.DeleteKey(path, coords, false)
	}
	err := e.session.Delete(e.ctx, o.Key)
	if d := e.expect("delete "+o.Key, want, err); d != nil {
		return "", d
	}
	return outcome(want), nil
}

func (o *GetOp) run(e *Env) (string, error) {
	m := e.model
	var keys map[string][]byte
	var data []byte
	var err error
	want := KindOK
	if o.Ref == "" {
		if err := e.needSession(); err != nil {
			return "", err
		}
		keys = m.Session.KeySpace()
		if _, ok := keys[o.Key]; !ok {
			want = KindKeyNotFound
		}
		data, err = e.session.Get(e.ctx, o.Key)
	} else {
		if err := e.needRepo(); err != nil {
			return "", err
		}
		r, terr := e.actorRef(o.Ref)
		if terr != nil {
			return "", terr
		}
		label, kind := m.ResolveRef(o.Ref)
		want = kind
		if kind == KindOK {
			if _, ok := m.Snapshots[label].KeySpace()[o.Key]; !ok {
				want = KindKeyNotFound
			}
			keys = m.Snapshots[label].KeySpace()
		}
		data, err = e.handle.Get(e.ctx, r, o.Key)
	}
	if d := e.expect("get "+o.Key, want, err); d != nil {
		return "", d
	}
	if want != KindOK {
		return want, nil
	}
	if !bytes.Equal(data, keys[o.Key]) {
		return "", e.diverge("get "+o.Key, valueText(keys[o.Key]), valueText(data))
	}
	return "= " + valueText(data), nil
}

func (o *CommitOp) run(e *Env) (string, error) {
	if err := e.needSession(); err != nil {
		return "", err
	}
	m := e.model
	var want string
	switch {
	case o.Amend && !e.activeActor().Capabilities().Amend:
		want = KindUnsupportedOp
	case o.Amend && m.Spec < 2:
		want = KindSpec2Only
	default:
		want = m.CommitKind(o.Amend)
	}
	meta := map[string]any{}
	for k, v := range o.Metadata {
		meta[k] = v
	}
	var id string
	var err error
	if o.Amend {
		id, err = e.session.Amend(e.ctx, o.Message, meta)
	} else {
		id, err = e.session.Commit(e.ctx, o.Message, meta)
	}
	if d := e.expect(o.Action(), want, err); d != nil {
		return "", d
	}
	if want == KindConflict {
		e.exercised(m.Actor, transitions.OpConflict, false)
	}
	if want != KindOK {
		return want, nil
	}
	label, d := e.newLabel(id)
	if d != nil {
		return "", d
	}
	m.Commit(label, o.Message, o.Metadata, o.Amend)
	if o.Amend {
		e.exercised(m.Actor, transitions.OpAmend, true)
	} else {
		e.exercised(m.Actor, transitions.OpCommit, true)
	}
	if got := e.session.Base(); got != id {
		return "", e.diverge("session base after "+o.Action(), label, e.label(got))
	}
	return "-> " + label, nil
}

func (o *DiscardOp) run(e *Env) (string, error) {
	if err := e.needSession(); err != nil {
		return "", err
	}
	e.model.Discard()
	if d := e.expect("discard", KindOK, e.session.Discard(e.ctx)); d != nil {
		return "", d
	}
	return "ok", nil
}

func (o *CheckoutOp) run(e *Env) (string, error) {
	if err := e.needRepo(); err != nil {
		return "", err
	}
	return e.openSession(o.Ref, o.ReadOnly)
}

func (o *RefOp) run(e *Env) (string, error) {
	if err := e.needRepo(); err != nil {
		return "", err
	}
	m, h, ctx := e.model, e.handle, e.ctx
	var id string
	if o.At != "" {
		var err error
		if id, err = e.idOf(o.At); err != nil {
			return "", err
		}
		if m.Damaged(o.At) {
			return "", badTrace("snapshot %s lost an ancestor, manifest or chunk to GC; the model does not follow refs to it", o.At)
		}
	}
	var want string
	var err error
	switch o.Verb {
	case ActCreateBranch:
		want = m.CreateBranch(o.Name, o.At)
		err = h.CreateBranch(ctx, o.Name, id)
	case ActResetBranch:
		want = m.ResetBranch(o.Name, o.At)
		err = h.ResetBranch(ctx, o.Name, id)
	case ActDeleteBranch:
		want = m.DeleteBranch(o.Name)
		err = h.DeleteBranch(ctx, o.Name)
	case ActCreateTag:
		want = m.CreateTag(o.Name, o.At)
		err = h.CreateTag(ctx, o.Name, id)
	case ActDeleteTag:
		want = m.DeleteTag(o.Name)
		err = h.DeleteTag(ctx, o.Name)
	default:
		return "", badTrace("unknown ref action %q", o.Verb)
	}
	if d := e.expect(o.Verb, want, err); d != nil {
		return "", d
	}
	if want == KindOK {
		op := transitions.OpBranch
		if o.Verb == ActCreateTag || o.Verb == ActDeleteTag {
			op = transitions.OpTag
		}
		e.exercised(m.Actor, op, true)
	}
	return outcome(want), nil
}

// labelList maps ids to labels, sorted.
func (e *Env) labelList(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = e.label(id)
	}
	sort.Strings(out)
	return out
}

func (o *ExpireOp) run(e *Env) (string, error) {
	if err := e.needRepo(); err != nil {
		return "", err
	}
	m := e.model
	cutoff, err := e.resolveTime(o.OlderThan)
	if err != nil {
		return "", err
	}
	var want ExpireOutcome
	if m.Spec == 1 {
		want = m.Expire(cutoff, o.DeleteBranches, o.DeleteTags)
	} else {
		want = m.Expire2(cutoff, o.DeleteBranches, o.DeleteTags)
	}
	var res actors.ExpireResult
	args := gccompare.Args{Expire: &gccompare.ExpireArgs{OlderThan: cutoff, DeleteExpiredBranches: o.DeleteBranches, DeleteExpiredTags: o.DeleteTags}}
	if side, done, err := e.throughOracle(args); done {
		if err != nil {
			return "", err
		}
		res = *side.Expire
	} else {
		res, err = e.handle.ExpireSnapshots(e.ctx, cutoff, o.DeleteBranches, o.DeleteTags)
		if d := e.expect("expire", KindOK, err); d != nil {
			return "", d
		}
	}
	for _, c := range []struct {
		what       string
		want, seen []string
	}{
		{"released snapshots", want.Released, e.labelList(res.ReleasedSnapshots)},
		{"edited snapshots", want.Edited, e.labelList(res.EditedSnapshots)},
		{"deleted branches", want.DeletedBranches, res.DeletedBranches},
		{"deleted tags", want.DeletedTags, res.DeletedTags},
	} {
		if !slices.Equal(c.want, c.seen) {
			return "", e.diverge("expire: "+c.what, listText(c.want), listText(c.seen))
		}
	}
	e.exercised(m.Actor, transitions.OpExpire, true)
	switch {
	case len(want.DeletedBranches)+len(want.DeletedTags) > 0:
		e.note = "ok, deleted refs"
	case len(want.Edited) > 0:
		e.note = "ok, edited"
	default:
		e.note = "ok, nothing to do"
	}
	return fmt.Sprintf("released %s edited %s", listText(want.Released), listText(want.Edited)), nil
}

// throughOracle runs a spec-1 expiration or GC through the GC oracle when
// another actor of the run reads spec 1: the active actor on the
// repository, the other on a copy (modification times kept), and any
// difference between them is a divergence. It returns the active side
// (done false: no other actor, run it directly).
func (e *Env) throughOracle(args gccompare.Args) (gccompare.Side, bool, error) {
	m := e.model
	if m.Spec != 1 {
		return gccompare.Side{}, false, nil
	}
	var replica actors.Actor
	for _, name := range e.names {
		if a := e.actors[name]; name != m.Actor && a.Capabilities().Reads(1) {
			replica = a
			break
		}
	}
	if replica == nil {
		return gccompare.Side{}, false, nil
	}
	what := "expire"
	if args.GC != nil {
		what = "gc"
	}
	copyClock := objstore.NewVirtualClock(e.clock.Peek(), 0)
	copyStore := memory.New(copyClock)
	if err := gccompare.CopyStore(e.ctx, copyStore, e.store, copyClock); err != nil {
		return gccompare.Side{}, true, fmt.Errorf("statemachine: copy for the GC oracle: %w", err)
	}
	rep, err := gccompare.Compare(e.ctx, e.store, copyStore, args, gccompare.Options{
		Original: e.activeActor(), Replica: replica, Clock: e.clock, Rand: e.rand, Accepted: []gccompare.Accepted{},
	})
	if err != nil {
		return gccompare.Side{}, true, fmt.Errorf("statemachine: GC oracle: %w", err)
	}
	if !rep.OK() {
		var seen []string
		for _, mm := range rep.Mismatches {
			seen = append(seen, fmt.Sprintf("%s: %s=%s, %s=%s", mm.Field, m.Actor, mm.Original, replica.Name(), mm.Replica))
		}
		return gccompare.Side{}, true, &Divergence{Line: e.line, Op: e.opText, Actor: m.Actor + " vs " + replica.Name(),
			What: what + " (GC oracle: " + replica.Name() + " on a copy)", Expected: "both versions alike", Seen: strings.Join(seen, "; ")}
	}
	side := rep.Original
	if side.Error != nil {
		return side, true, e.diverge(what, "ok", side.Error.Kind+" ("+side.Error.Message+")")
	}
	if (args.GC != nil && side.GC == nil) || (args.Expire != nil && side.Expire == nil) {
		return side, true, e.diverge(what, "a result", "none")
	}
	return side, true, nil
}

func listText(l []string) string { return "[" + strings.Join(l, " ") + "]" }

// String renders the counts as "snapshots=N manifests=N chunks=N
// transactions=N".
func (g GCOutcome) String() string {
	return fmt.Sprintf("snapshots=%d manifests=%d chunks=%d transactions=%d", g.Snapshots, g.Manifests, g.Chunks, g.TransactionLogs)
}

func (o *GCOp) run(e *Env) (string, error) {
	if err := e.needRepo(); err != nil {
		return "", err
	}
	m := e.model
	cutoff, err := e.resolveTime(o.OlderThan)
	if err != nil {
		return "", err
	}
	var want GCOutcome
	if m.Spec == 1 {
		want = m.GC(cutoff, o.DryRun)
	} else {
		want = m.GC2(cutoff, o.DryRun)
	}
	var res actors.GCResult
	if side, done, err := e.throughOracle(gccompare.Args{GC: &gccompare.GCArgs{OlderThan: cutoff, DryRun: o.DryRun}}); done {
		if err != nil {
			return "", err
		}
		res = *side.GC
	} else {
		res, err = e.handle.GarbageCollect(e.ctx, cutoff, o.DryRun)
		if d := e.expect("gc", KindOK, err); d != nil {
			return "", d
		}
	}
	seen := GCOutcome{Snapshots: res.SnapshotsDeleted, Manifests: res.ManifestsDeleted, Chunks: res.ChunksDeleted, TransactionLogs: res.TransactionLogsDeleted}
	if seen != want {
		return "", e.diverge("gc: deleted", want.String(), seen.String())
	}
	if (want == GCOutcome{}) != (res.BytesDeleted == 0) || res.BytesDeleted < 0 {
		return "", e.diverge("gc: bytes deleted", fmt.Sprintf("positive iff objects were deleted (%s)", want), fmt.Sprint(res.BytesDeleted))
	}
	e.exercised(m.Actor, transitions.OpGC, !o.DryRun)
	out := "deleted " + want.String()
	switch {
	case want == GCOutcome{}:
		e.note = "ok, nothing"
	case o.DryRun:
		e.note = "ok, dry run counted"
	default:
		e.note = "ok, deleted"
	}
	if !o.DryRun && !m.SessionIntact() {
		e.closeSession()
		out += ", session closed (it needed a deleted object)"
	}
	return out, nil
}

func (o *UpgradeOp) run(e *Env) (string, error) {
	if err := e.needRepo(); err != nil {
		return "", err
	}
	m := e.model
	a := e.activeActor()
	want := KindUnsupportedOp
	if a.Capabilities().Upgrade {
		want = m.UpgradeKind(o.DeleteV1Files)
	}
	res, err := e.handle.Upgrade(e.ctx, o.DryRun, o.DeleteV1Files)
	if d := e.expect("upgrade", want, err); d != nil {
		return "", d
	}
	if want != KindOK {
		return want, nil
	}
	if got, exp := e.labelMap(res.Branches), refText(m.Branches); got != exp {
		return "", e.diverge("upgrade: branches", exp, got)
	}
	if got, exp := e.labelMap(res.Tags), refText(m.Tags); got != exp {
		return "", e.diverge("upgrade: tags", exp, got)
	}
	if got, exp := listText(res.DeletedTags), listText(SortedNames(m.DeletedTags)); got != exp {
		return "", e.diverge("upgrade: deleted tags", exp, got)
	}
	if o.DryRun {
		return "ok (dry run)", nil
	}
	if m.Spec == 1 {
		e.exercised(m.Actor, transitions.OpUpgrade, true)
	}
	m.Upgrade(o.DeleteV1Files)
	// The handle that migrated is invalid: open the repository again.
	out, err := e.switchTo(a)
	if err != nil {
		return "", err
	}
	return "ok, spec 2; reopened: " + out, nil
}

func (o *AdvanceOp) run(e *Env) (string, error) {
	e.clock.Advance(o.By)
	e.model.Now = e.model.Now.Add(o.By)
	return "now " + e.model.Now.Format(time.RFC3339Nano), nil
}

// labelMap renders a name -> id map as "{name:label ...}".
func (e *Env) labelMap(m map[string]string) string {
	conv := make(map[string]string, len(m))
	for k, id := range m {
		conv[k] = e.label(id)
	}
	return refText(conv)
}

// refText renders a name -> label map as "{name:label ...}", sorted.
func refText(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range SortedNames(m) {
		parts = append(parts, fmt.Sprintf("%q:%s", k, m[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}
