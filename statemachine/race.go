package statemachine

import (
	"fmt"

	"pgregory.net/rapid"

	"github.com/icerig/icerig/internal/transitions"
)

// The `race` action: two writers on one branch at once, as two processes
// (one on each library version) would be. A rival actor opens its own
// handle and a writable session on the tip of the active session's
// branch, sets one group document and commits, either before the active
// session commits (the active session is left behind the branch: its next
// commit must be refused as a conflict, whatever version wrote the
// rival's snapshot) or after it (the rival's commit must be refused, and
// nothing the active session committed may be lost). The model gives the
// rival a session of its own and predicts both outcomes, so the invariant
// then checks that the loser changed nothing.

// RaceOp lets a rival actor commit to the active session's branch while
// the active session is open.
type RaceOp struct {
	// Actor is the rival: a name of the run (it may be the active actor
	// itself, through a second handle).
	Actor string
	// Path and Attrs are the group document the rival sets.
	Path  string
	Attrs int
	// ActiveFirst commits the active session before the rival's commit;
	// otherwise the rival commits first and the active session stays open.
	ActiveFirst bool
}

// Action returns the op's action name.
func (o *RaceOp) Action() string { return ActRace }

// String renders the op as ParseOp reads it.
func (o *RaceOp) String() string {
	first := "rival"
	if o.ActiveFirst {
		first = "active"
	}
	return fmt.Sprintf("race actor=%s path=%s attrs=%d first=%s", quote(o.Actor), quote("/"+o.Path), o.Attrs, first)
}

// parseRace reads the fields of a race line.
func parseRace(fs *fieldSet) *RaceOp {
	o := &RaceOp{Actor: fs.str("actor", true), Path: fs.path("path"), Attrs: fs.int("attrs", false)}
	switch first := fs.str("first", true); first {
	case "rival":
	case "active":
		o.ActiveFirst = true
	default:
		fs.fail("first=%q is not rival or active", first)
	}
	return o
}

func genRace(mc *machine, t *rapid.T) []Op {
	m := mc.env.model
	if m.Session == nil || m.Session.ReadOnly() {
		mc.skip(t, ActRace)
	}
	var ops []Op
	if !m.Now.After(m.Session.base.FlushedAt) || oneIn(t, 3, "advance") {
		ops = append(ops, &AdvanceOp{By: rapid.SampledFrom(advances[:3]).Draw(t, "advance")})
	}
	return append(ops, &RaceOp{
		Actor:       rapid.SampledFrom(mc.env.names).Draw(t, "rival"),
		Path:        drawPath(t, groupPaths),
		Attrs:       rapid.IntRange(0, 9).Draw(t, "attrs"),
		ActiveFirst: rapid.Bool().Draw(t, "active first"),
	})
}

func (o *RaceOp) run(e *Env) (string, error) {
	if err := e.needSession(); err != nil {
		return "", err
	}
	m := e.model
	branch := m.Session.Branch
	if branch == "" {
		return "", badTrace("race: the session is read-only (check out a branch first)")
	}
	a, err := e.actor(o.Actor)
	if err != nil {
		return "", err
	}
	rival := a.Name()
	want := KindOK
	if !a.Capabilities().Reads(m.Spec) {
		want = KindUnsupportedSpec
	}
	h, err := a.Open(e.ctx, e.store, e.options())
	if d := e.expectAs(rival, "rival open", want, err); d != nil {
		return "", d
	}
	if want != KindOK {
		return "rival " + want, nil
	}
	ref := "branch:" + branch
	label, want := m.ResolveRef(ref)
	rs, err := h.WritableSession(e.ctx, branch)
	if d := e.expectAs(rival, "rival session on "+ref, want, err); d != nil {
		return "", d
	}
	if want != KindOK {
		return "rival " + want, nil
	}
	if got := rs.Base(); got != e.ids[label] {
		return "", e.diverge("rival session on "+ref+": base snapshot", label, e.label(got))
	}
	active := m.Session
	m.OpenSession(ref, branch, label)
	rivalSession := m.Session
	m.Session = active

	var out string
	if o.ActiveFirst {
		if out, err = (&CommitOp{Message: "race: active first"}).run(e); err != nil {
			return "", err
		}
		out = "active " + out + ", "
	}

	// The rival's change and commit, against its own model session.
	m.Session = rivalSession
	defer func() { m.Session = active }()
	key := MetadataKey(o.Path)
	want = m.SetMetadata(o.Path, GroupDoc(o.Attrs), true, nil, nil)
	if d := e.expectAs(rival, "rival set "+key, want, rs.Set(e.ctx, key, GroupDoc(o.Attrs))); d != nil {
		return "", d
	}
	want = m.CommitKind(false)
	message := "race: " + rival
	id, err := rs.Commit(e.ctx, message, nil)
	if d := e.expectAs(rival, "rival commit", want, err); d != nil {
		return "", d
	}
	if want != KindOK {
		if want == KindConflict {
			e.exercised(rival, transitions.OpConflict, false)
		}
		return out + "rival " + want, nil
	}
	label, d := e.newLabel(id)
	if d != nil {
		return "", d
	}
	m.Commit(label, message, nil, false)
	e.exercised(rival, transitions.OpCommit, true)
	return out + "rival -> " + label, nil
}
