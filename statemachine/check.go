package statemachine

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/internal/transitions"
)

// Check is the invariant: every actor sees exactly the model. An actor
// that can read the repository's spec opens it afresh and must show the
// spec version, branches, tags, deleted tags, the ancestry of every ref
// (labels, parents, messages, flush times, metadata, manifest counts), the
// full key space and values at every ref, which snapshots are still
// stored, and a clean Fsck; the active actor's own handle (with its
// caches) must show the same, and the active session its view. An actor
// that cannot read the spec must refuse to open the repository with
// ErrUnsupportedSpec (before initialization: ErrNotARepository). At spec 1
// the store must hold exactly the snapshot, manifest, chunk and
// transaction-log objects the model holds.
func (e *Env) Check() error {
	m := e.model
	if !e.clock.Peek().Equal(m.Now) {
		return e.invariant("(clock)", "virtual time", m.Now.String(), e.clock.Peek().String())
	}
	for _, name := range e.names {
		a := e.actors[name]
		want := KindOK
		switch {
		case !m.Initialized():
			want = KindNotARepository
		case !a.Capabilities().Reads(m.Spec):
			want = KindUnsupportedSpec
		}
		h, err := a.Open(e.ctx, e.store, e.options())
		if d := e.expectAs(name, "open", want, err); d != nil {
			return asInvariant(d)
		}
		if want == KindUnsupportedSpec {
			e.exercised(name, transitions.OpRefuse, false)
		}
		if want != KindOK {
			continue
		}
		if err := e.checkHandle(name, h, true); err != nil {
			return err
		}
		e.exercised(name, transitions.OpRead, false)
	}
	if !m.Initialized() {
		return nil
	}
	// The active handle, with its caches: refs, histories and key spaces
	// (the stored-snapshot and Fsck checks read storage only, the fresh
	// handle did them).
	if err := e.checkHandle(m.Actor+" (active handle)", e.handle, false); err != nil {
		return err
	}
	if err := e.checkSession(); err != nil {
		return err
	}
	return e.checkObjects()
}

func asInvariant(err error) error {
	if d, ok := err.(*Divergence); ok {
		d.Invariant = true
	}
	return err
}

func (e *Env) invariant(actor, what, expected, seen string) error {
	return &Divergence{Line: e.line, Op: e.opText, Invariant: true, Actor: actor, What: what, Expected: expected, Seen: seen}
}

// failed reports an unexpected error of a read as a divergence.
func (e *Env) failed(actor, what string, err error) error {
	return e.invariant(actor, what, "ok", describe(err))
}

// checkHandle compares what a handle shows with the model; full adds Fsck
// (which reads storage only).
func (e *Env) checkHandle(actor string, h actors.Handle, full bool) error {
	m, ctx := e.model, e.ctx
	if got := h.SpecVersion(); got != m.Spec {
		return e.invariant(actor, "spec version", fmt.Sprint(m.Spec), fmt.Sprint(got))
	}
	branches, err := h.Branches(ctx)
	if err != nil {
		return e.failed(actor, "branches", err)
	}
	if got, want := e.labelMap(branches), refText(m.Branches); got != want {
		return e.invariant(actor, "branches", want, got)
	}
	tags, err := h.Tags(ctx)
	if err != nil {
		return e.failed(actor, "tags", err)
	}
	if got, want := e.labelMap(tags), refText(m.Tags); got != want {
		return e.invariant(actor, "tags", want, got)
	}
	deleted, err := h.DeletedTags(ctx)
	if err != nil {
		return e.failed(actor, "deleted tags", err)
	}
	if got, want := listText(deleted), listText(SortedNames(m.DeletedTags)); got != want {
		return e.invariant(actor, "deleted tags", want, got)
	}

	// Every ref resolves to its tip; the history and the key space of
	// each distinct tip are read through the first ref naming it.
	type ref struct {
		ref actors.Ref
		tip string
	}
	var refs []ref
	for _, n := range SortedNames(m.Branches) {
		refs = append(refs, ref{actors.Branch(n), m.Branches[n]})
	}
	for _, n := range SortedNames(m.Tags) {
		refs = append(refs, ref{actors.Tag(n), m.Tags[n]})
	}
	checked := map[string]bool{}
	for _, r := range refs {
		id, err := h.Resolve(ctx, r.ref)
		if err != nil {
			return e.failed(actor, "resolve "+r.ref.String(), err)
		}
		if got := e.label(id); got != r.tip {
			return e.invariant(actor, "resolve "+r.ref.String(), r.tip, got)
		}
		if checked[r.tip] {
			continue
		}
		checked[r.tip] = true
		if err := e.checkAncestry(actor, h, r.ref, r.tip); err != nil {
			return err
		}
		s, err := h.Session(ctx, r.ref)
		if err != nil {
			return e.failed(actor, "session on "+r.ref.String(), err)
		}
		if err := e.checkKeySpace(actor, "key space at "+r.ref.String(), s, m.Snapshots[r.tip].KeySpace()); err != nil {
			return err
		}
	}
	if !full {
		return nil
	}

	findings, err := h.Fsck(ctx)
	if err != nil {
		return e.failed(actor, "fsck", err)
	}
	if len(findings) > 0 {
		var lines []string
		for _, f := range findings {
			lines = append(lines, f.String())
		}
		return e.invariant(actor, "fsck", "no findings", strings.Join(lines, "; "))
	}
	return nil
}

// metaStrings renders commit metadata as the invariant compares it:
// strings as they are, other values with their Go type ("int64(3)").
func metaStrings(md map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range md {
		out[k] = fmt.Sprintf("%v", v)
		if _, ok := v.(string); !ok {
			out[k] = fmt.Sprintf("%T(%v)", v, v)
		}
	}
	return out
}

// snapshotText renders one snapshot of an ancestry for comparison.
func snapshotText(label, parent, message string, flushed time.Time, meta map[string]string, manifests int) string {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var md []string
	for _, k := range keys {
		md = append(md, k+"="+meta[k])
	}
	if parent == "" {
		parent = "-"
	}
	return fmt.Sprintf("%s(parent %s, %q, %s, {%s}, %d manifests)", label, parent, message,
		flushed.UTC().Format(time.RFC3339Nano), strings.Join(md, " "), manifests)
}

func (e *Env) checkAncestry(actor string, h actors.Handle, ref actors.Ref, tip string) error {
	anc, err := h.Ancestry(e.ctx, ref)
	if err != nil {
		return e.failed(actor, "ancestry of "+ref.String(), err)
	}
	var want, got []string
	for _, s := range e.model.Ancestry(tip) {
		meta := s.Metadata
		if s.Label == "s0" {
			// The initial snapshot's own metadata is the library's
			// business (spec 1 marks it {"__root": true}).
			meta = nil
		}
		want = append(want, snapshotText(s.Label, s.Parent, s.Message, s.FlushedAt, meta, s.ManifestFiles()))
	}
	for _, s := range anc {
		meta := metaStrings(s.Metadata)
		l := e.label(s.ID)
		if l == "s0" {
			meta = nil
		}
		got = append(got, snapshotText(l, e.labelOrEmpty(s.ParentID), s.Message, s.FlushedAt, meta, s.ManifestFiles))
	}
	if w, g := strings.Join(want, " <- "), strings.Join(got, " <- "); w != g {
		return e.invariant(actor, "ancestry of "+ref.String(), w, g)
	}
	return nil
}

func (e *Env) labelOrEmpty(id string) string {
	if id == "" {
		return ""
	}
	return e.label(id)
}

func (e *Env) checkKeySpace(actor, what string, s actors.Session, want map[string][]byte) error {
	keys, err := s.List(e.ctx)
	if err != nil {
		return e.failed(actor, what+": list", err)
	}
	wantKeys := SortedNames(want)
	got := append([]string(nil), keys...)
	sort.Strings(got)
	if g, w := strings.Join(got, " "), strings.Join(wantKeys, " "); g != w {
		return e.invariant(actor, what+": keys", "["+w+"]", "["+g+"]")
	}
	for _, k := range wantKeys {
		v, err := s.Get(e.ctx, k)
		if err != nil {
			return e.failed(actor, what+": get "+k, err)
		}
		if !bytes.Equal(v, want[k]) {
			return e.invariant(actor, what+": value of "+k, valueText(want[k]), valueText(v))
		}
	}
	return nil
}

// valueText shows a value briefly.
func valueText(v []byte) string {
	if len(v) == 0 {
		return "0 bytes"
	}
	if len(v) <= 16 {
		return fmt.Sprintf("%d bytes %x", len(v), v)
	}
	return fmt.Sprintf("%d bytes %x...", len(v), v[:16])
}

func (e *Env) checkSession() error {
	m := e.model
	if (m.Session == nil) != (e.session == nil) {
		return e.invariant(m.Actor, "session", fmt.Sprint(m.Session != nil), fmt.Sprint(e.session != nil))
	}
	if m.Session == nil {
		return nil
	}
	ms, s := m.Session, e.session
	actor := m.Actor + " (session)"
	if s.ReadOnly() != ms.ReadOnly() || s.Branch() != ms.Branch {
		return e.invariant(actor, "session kind", fmt.Sprintf("read-only %t branch %q", ms.ReadOnly(), ms.Branch),
			fmt.Sprintf("read-only %t branch %q", s.ReadOnly(), s.Branch()))
	}
	if got := e.label(s.Base()); got != ms.Base {
		return e.invariant(actor, "session base", ms.Base, got)
	}
	if s.HasChanges() != ms.HasChanges() {
		return e.invariant(actor, "session has changes", fmt.Sprint(ms.HasChanges()), fmt.Sprint(s.HasChanges()))
	}
	return e.checkKeySpace(actor, "session key space", s, ms.KeySpace())
}

// listObjects lists the store's snapshot, manifest, chunk and transaction
// log objects: how many of each kind, and their ids (keys without the
// prefix) under each prefix. A failed listing is a divergence of actor
// (when describes the moment, e.g. " after the crash").
func (e *Env) listObjects(actor, when string) (GCOutcome, map[string][]string, error) {
	var got GCOutcome
	ids := map[string][]string{}
	for _, p := range []struct {
		prefix string
		n      *int
	}{{"snapshots/", &got.Snapshots}, {"manifests/", &got.Manifests}, {"chunks/", &got.Chunks}, {"transactions/", &got.TransactionLogs}} {
		objs, err := e.store.List(e.ctx, p.prefix)
		if err != nil {
			return got, nil, e.failed(actor, "list "+p.prefix+when, err)
		}
		*p.n = len(objs)
		for _, o := range objs {
			ids[p.prefix] = append(ids[p.prefix], strings.TrimPrefix(o.Key, p.prefix))
		}
	}
	return got, ids, nil
}

// checkObjects compares the store's metadata and chunk objects with the
// model's (spec 1): exactly the snapshot files and transaction logs of the
// snapshots the model holds (by id), and as many manifests and chunks.
func (e *Env) checkObjects() error {
	m := e.model
	got, ids, err := e.listObjects("(store)", "")
	if err != nil {
		return err
	}
	keys := map[string][]string{}
	for prefix, l := range ids {
		for _, id := range l {
			keys[prefix] = append(keys[prefix], e.label(id))
		}
	}
	var snaps, txs []string
	for _, l := range m.order {
		if m.Snapshots[l].Stored {
			snaps = append(snaps, l)
		}
		if m.Snapshots[l].TxLog {
			txs = append(txs, l)
		}
	}
	for _, l := range m.Leftovers {
		if l.Snapshot {
			snaps = append(snaps, l.Label)
		}
		if l.TxLog {
			txs = append(txs, l.Label)
		}
	}
	for _, c := range []struct {
		prefix string
		want   []string
	}{{"snapshots/", snaps}, {"transactions/", txs}} {
		have := keys[c.prefix]
		sort.Strings(have)
		want := append([]string(nil), c.want...)
		sort.Strings(want)
		if listText(have) != listText(want) {
			return e.invariant("(store)", "objects under "+c.prefix, listText(want), listText(have))
		}
	}
	if want := m.StoredCounts(); got != want {
		return e.invariant("(store)", "stored objects", want.String(), got.String())
	}
	return nil
}
