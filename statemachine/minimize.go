package statemachine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/icerig/icerig/actors"
)

// Minimize shrinks a failing trace further than rapid does, the way a
// metamorphic test reduces its op log. It deletes runs of ops (halves,
// quarters, ... single ops), drops single chunk writes, replaces
// snapshot-relative cutoffs by clock-relative ones, points ops at the
// initial snapshot and moves crash points earlier, keeping a change when
// a lenient replay still fails the same way (a divergence of the same
// actor on the same thing, or a panic). The lenient replay skips the ops
// a deletion left without what they need (a session, a snapshot) and keeps
// the trace's snapshot labels, so deletions compose. It stops when
// nothing more goes or the budget is spent and returns the smallest
// failing trace, relabelled (s1, s2, ... again), lines renumbered,
// outcomes filled in, with its failure (checked by a strict replay). A
// trace that does not fail is returned unchanged with a nil error.
func Minimize(ctx context.Context, tr *Trace, acts []actors.Actor, budget time.Duration) (*Trace, error) {
	deadline := time.Now().Add(budget)
	ran, want := replayCatching(ctx, tr, acts, true)
	if want == nil {
		return tr, nil
	}
	best := &Trace{Seed: tr.Seed, Actors: tr.Actors, Spec: tr.Spec, Steps: ran}
	try := func(steps []Step) bool {
		cand := &Trace{Seed: tr.Seed, Actors: tr.Actors, Spec: tr.Spec, Steps: steps}
		ran, err := replayCatching(ctx, cand, acts, true)
		if err == nil || !sameFailure(want, err) {
			return false
		}
		best.Steps = ran
		return true
	}
	for progress := true; progress && time.Now().Before(deadline); {
		before := len(best.Format())
		deleteRuns(best, try, deadline)
		shrinkWrites(best, try, deadline)
		simplifyCutoffs(best, try, deadline)
		simplifyLabels(best, try, deadline)
		simplifyCrashes(best, try, deadline)
		progress = len(best.Format()) != before
	}
	final := relabel(best)
	ran, err := replayCatching(ctx, final, acts, false)
	if err == nil || !sameFailure(want, err) {
		// The relabelled trace should fail as the lenient one did; if it
		// does not, fall back to what rapid found.
		return tr, want
	}
	final.Steps = ran
	final.renumber()
	return final, err
}

// deleteRuns deletes runs of ops: halves, then quarters, ... then single
// ops, each size swept once through the trace. The failing op stays last.
func deleteRuns(best *Trace, try func([]Step) bool, deadline time.Time) {
	for size := len(best.Steps) / 2; size >= 1; size /= 2 {
		for i := 0; i+size < len(best.Steps) && time.Now().Before(deadline); {
			cand := append(append([]Step(nil), best.Steps[:i]...), best.Steps[i+size:]...)
			if !try(cand) {
				i += size
			}
		}
	}
}

// shrinkWrites drops single chunk writes of write ops.
func shrinkWrites(best *Trace, try func([]Step) bool, deadline time.Time) {
	for i := 0; i < len(best.Steps) && time.Now().Before(deadline); i++ {
		w, ok := best.Steps[i].Op.(*WriteOp)
		if !ok || len(w.Writes) < 2 {
			continue
		}
		for j := 0; j < len(w.Writes) && len(w.Writes) > 1 && time.Now().Before(deadline); {
			smaller := &WriteOp{Writes: append(append([]ChunkWrite(nil), w.Writes[:j]...), w.Writes[j+1:]...)}
			cand := append([]Step(nil), best.Steps...)
			cand[i] = Step{Line: best.Steps[i].Line, Op: smaller, Outcome: best.Steps[i].Outcome}
			if try(cand) {
				if i >= len(best.Steps) {
					return
				}
				if w, ok = best.Steps[i].Op.(*WriteOp); !ok {
					break
				}
				continue
			}
			j++
		}
	}
}

// simplifyCutoffs tries cutoffs relative to the clock instead of a
// snapshot, so the commit that made the snapshot may go.
func simplifyCutoffs(best *Trace, try func([]Step) bool, deadline time.Time) {
	for i := 0; i < len(best.Steps) && time.Now().Before(deadline); i++ {
		for _, x := range []TimeExpr{{Base: "now"}, {Base: "now", Offset: -time.Second}, {Base: "now", Offset: time.Second}} {
			var op Op
			switch o := best.Steps[i].Op.(type) {
			case *ExpireOp:
				if o.OlderThan.Base == "now" {
					continue
				}
				c := *o
				c.OlderThan = x
				op = &c
			case *GCOp:
				if o.OlderThan.Base == "now" {
					continue
				}
				c := *o
				c.OlderThan = x
				op = &c
			default:
				continue
			}
			cand := append([]Step(nil), best.Steps...)
			cand[i] = Step{Line: best.Steps[i].Line, Op: op, Outcome: best.Steps[i].Outcome}
			if try(cand) {
				break
			}
		}
	}
}

// simplifyLabels points ops that name a later snapshot (create-tag at=s3,
// checkout ref=snapshot:s3, ...) at the initial snapshot s0 instead, so
// the commits that made the later one may go.
func simplifyLabels(best *Trace, try func([]Step) bool, deadline time.Time) {
	toInitial := func(l string) string {
		if isLabel(l) {
			return "s0"
		}
		return l
	}
	for i := 0; i < len(best.Steps) && time.Now().Before(deadline); i++ {
		op := best.Steps[i].Op
		simpler := relabelOp(op, toInitial)
		if simpler.String() == op.String() {
			continue
		}
		cand := append([]Step(nil), best.Steps...)
		cand[i] = Step{Line: best.Steps[i].Line, Op: simpler, Outcome: best.Steps[i].Outcome}
		try(cand)
	}
}

// simplifyCrashes moves crash points earlier, so the ops that made the
// commit long enough to reach the later one may go.
func simplifyCrashes(best *Trace, try func([]Step) bool, deadline time.Time) {
	for i := 0; i < len(best.Steps) && time.Now().Before(deadline); i++ {
		for {
			o, ok := best.Steps[i].Op.(*CrashOp)
			if !ok || o.After <= 1 || !time.Now().Before(deadline) {
				break
			}
			cand := append([]Step(nil), best.Steps...)
			cand[i] = Step{Line: best.Steps[i].Line, Op: &CrashOp{After: o.After - 1, Applied: o.Applied}, Outcome: best.Steps[i].Outcome}
			if !try(cand) {
				break
			}
		}
	}
}

// relabel renames the snapshot labels of a trace whose commits created
// sparse labels (outcome "-> s7") to consecutive ones (s1, s2, ...), and
// renumbers its lines.
func relabel(tr *Trace) *Trace {
	names := map[string]string{"s0": "s0"}
	next := 1
	for _, s := range tr.Steps {
		if l := outcomeLabel(s.Outcome); l != "" {
			names[l] = "s" + fmt.Sprint(next)
			next++
		}
	}
	name := func(l string) string {
		if n, ok := names[l]; ok {
			return n
		}
		return l
	}
	out := &Trace{Seed: tr.Seed, Actors: tr.Actors, Spec: tr.Spec}
	for _, s := range tr.Steps {
		out.Steps = append(out.Steps, Step{Op: relabelOp(s.Op, name)})
	}
	out.renumber()
	return out
}

// relabelOp returns op with its snapshot labels renamed.
func relabelOp(op Op, name func(string) string) Op {
	relabelTime := func(x TimeExpr) TimeExpr {
		if x.Base != "now" {
			x.Base = name(x.Base)
		}
		return x
	}
	relabelRef := func(ref string) string {
		if l, ok := strings.CutPrefix(ref, "snapshot:"); ok {
			return "snapshot:" + name(l)
		}
		return ref
	}
	switch o := op.(type) {
	case *RefOp:
		c := *o
		if c.At != "" {
			c.At = name(o.At)
		}
		return &c
	case *CheckoutOp:
		c := *o
		c.Ref = relabelRef(o.Ref)
		return &c
	case *GetOp:
		c := *o
		c.Ref = relabelRef(o.Ref)
		return &c
	case *ExpireOp:
		c := *o
		c.OlderThan = relabelTime(o.OlderThan)
		return &c
	case *GCOp:
		c := *o
		c.OlderThan = relabelTime(o.OlderThan)
		return &c
	}
	return op
}

// renumber gives the steps the lines Format writes them on.
func (t *Trace) renumber() {
	for i := range t.Steps {
		t.Steps[i].Line = headerLines + i + 1
	}
}

// replayCatching replays without outcome checks (leniently or not),
// turning a panic into an error.
func replayCatching(ctx context.Context, tr *Trace, acts []actors.Actor, lenient bool) (ran []Step, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return replay(ctx, tr, acts, ReplayOptions{IgnoreOutcomes: true}, lenient)
}

// sameFailure reports whether err fails the way want does.
func sameFailure(want, err error) bool {
	var dw, de *Divergence
	if errors.As(want, &dw) {
		return errors.As(err, &de) && de.Actor == dw.Actor && de.What == dw.What && de.Invariant == dw.Invariant
	}
	return strings.HasPrefix(want.Error(), "panic:") && strings.HasPrefix(err.Error(), "panic:")
}
