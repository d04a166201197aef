package statemachine

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"pgregory.net/rapid"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/internal/transitions"
	"github.com/icerig/icerig/objstore/faults"
)

// The `crash` action: the active actor's process dies in the middle of a
// commit. The active handle works through a faults store; the op arms it
// to crash at the commit's Nth storage operation (the write landing or
// not), and from then on every operation of that handle fails, as if the
// process had been killed. The actor then restarts (a fresh handle) and
// the op checks what a crash may leave:
//
//   - the commit happened entirely or not at all: the branch is at the
//     old tip, or at a new snapshot holding exactly the session's changes
//     (the invariant compares every key with the model);
//   - a commit the actor reported as done is on the branch;
//   - nothing stored before was changed or deleted; what the dead commit
//     wrote and no ref names (snapshot file, transaction log, manifests,
//     chunks) is garbage the model records as leftovers, which garbage
//     collection must delete once they are older than its cutoff.
//
// The session's uncommitted changes die with the process.

// CrashOp commits the active session and crashes the active actor at the
// commit's After-th storage operation (with Applied, that operation's
// write lands before the crash).
type CrashOp struct {
	After   int
	Applied bool
}

// Action returns the op's action name.
func (o *CrashOp) Action() string { return ActCrash }

// String renders the op as ParseOp reads it.
func (o *CrashOp) String() string {
	return fmt.Sprintf("crash after=%d applied=%t", o.After, o.Applied)
}

// parseCrash reads the fields of a crash line.
func parseCrash(fs *fieldSet) *CrashOp {
	o := &CrashOp{After: fs.int("after", true), Applied: fs.bool("applied")}
	if fs.err == nil && o.After == 0 {
		fs.fail("after must be 1 or more (the storage operation of the commit that crashes)")
	}
	return o
}

// maxCrashAfter bounds the crash point the generator draws: past a small
// commit's last operation, so some crash ops commit without crashing.
const maxCrashAfter = 14

func genCrash(mc *machine, t *rapid.T) []Op {
	m := mc.env.model
	if m.Session == nil {
		mc.skip(t, ActCrash)
	}
	var ops []Op
	switch m.CommitKind(false) {
	case KindOK:
	case KindFlushTime:
		ops = append(ops, &AdvanceOp{By: time.Second})
	default:
		mc.skip(t, ActCrash)
	}
	return append(ops, &CrashOp{
		After:   rapid.IntRange(1, maxCrashAfter).Draw(t, "crash after"),
		Applied: oneIn(t, 3, "write lands"),
	})
}

// Leftover is a snapshot file and/or transaction log a crashed commit
// wrote that no ref and no repo object names: garbage.
type Leftover struct {
	Label            string // "x1", "x2", ...: never a snapshot label
	Snapshot, TxLog  bool   // still stored
	Written, TxWrote time.Time
}

// addLeftover records a crashed commit's unreferenced snapshot file and
// transaction log (either may be missing) under a new leftover label.
func (m *Model) addLeftover(snapshot, txLog bool) *Leftover {
	l := &Leftover{Label: "x" + strconv.Itoa(len(m.Leftovers)+1), Snapshot: snapshot, TxLog: txLog, Written: m.Now, TxWrote: m.Now}
	m.Leftovers = append(m.Leftovers, l)
	return l
}

// addLeftoverObjects records n unreferenced manifest or chunk objects.
func (m *Model) addLeftoverObjects(objs map[string]*Object, prefix string, next *int, n int) {
	for range n {
		*next++
		objs[prefix+strconv.Itoa(*next)] = &Object{Written: m.Now, Stored: true}
	}
}

func (o *CrashOp) run(e *Env) (string, error) {
	if err := e.needSession(); err != nil {
		return "", err
	}
	m := e.model
	if want := m.CommitKind(false); want != KindOK {
		return "", badTrace("crash: the session's commit would fail (%s) before it could crash", want)
	}
	branch, base := m.Session.Branch, m.Session.Base
	before := m.StoredCounts()
	if err := e.active.AddRule(faults.Rule{Nth: o.After, Crash: true, AfterApply: o.Applied}); err != nil {
		return "", fmt.Errorf("statemachine: arm the crash: %w", err)
	}
	message := "crash at " + strconv.Itoa(o.After)
	id, commitErr := e.session.Commit(e.ctx, message, nil)
	crashed := e.active.Crashed()
	e.active.ClearRules()
	if !crashed {
		// The commit needed fewer operations: an ordinary commit.
		if d := e.expect("commit (no crash)", KindOK, commitErr); d != nil {
			return "", d
		}
		label, d := e.commitLanded(id, message)
		if d != nil {
			return "", d
		}
		e.note = "ok, no crash"
		return fmt.Sprintf("no crash (fewer operations) -> %s", label), nil
	}

	// The process died: a fresh handle sees what the store holds.
	e.exercised(m.Actor, transitions.OpCrash, false)
	e.active = faults.New(e.store)
	h, err := e.activeActor().Open(e.ctx, e.active, e.options())
	if d := e.expect("open after the crash", KindOK, err); d != nil {
		return "", d
	}
	tip, err := h.Resolve(e.ctx, actors.Branch(branch))
	if d := e.expect("resolve branch:"+branch+" after the crash", KindOK, err); d != nil {
		return "", d
	}
	var out string
	switch {
	case tip == e.ids[base]:
		if commitErr == nil {
			return "", e.diverge("commit before the crash", "a commit on branch:"+branch, "reported "+e.label(id)+" but the branch is still at "+base)
		}
		m.Discard()
		out, e.note = "crashed, not committed", "ok, crashed before the commit point"
	case commitErr == nil && tip != id:
		return "", e.diverge("branch:"+branch+" after the crash", "the reported commit "+id, e.label(tip))
	default:
		label, d := e.commitLanded(tip, message)
		if d != nil {
			return "", d
		}
		out, e.note = "crashed, committed -> "+label, "ok, crashed after the commit point"
	}
	left, d := e.takeLeftovers(before)
	if d != nil {
		return "", d
	}
	out += left
	e.handle = h
	if _, err := e.reopenSession(); err != nil {
		return "", err
	}
	return out, nil
}

// commitLanded takes in the active session's commit as snapshot id.
func (e *Env) commitLanded(id, message string) (string, error) {
	m := e.model
	label, d := e.newLabel(id)
	if d != nil {
		return "", d
	}
	m.Commit(label, message, nil, false)
	e.exercised(m.Actor, transitions.OpCommit, true)
	return label, nil
}

// takeLeftovers compares the store's objects with the model's after a
// crash: objects may only have been added (the dead commit's), never
// changed or removed; the snapshot file and transaction log of an unknown
// id, and any extra manifests and chunks, become the model's leftovers.
// It returns the outcome's description of them. A difference is the
// crashed actor's: what a dead writer leaves is its library's doing.
func (e *Env) takeLeftovers(before GCOutcome) (string, error) {
	m := e.model
	want := m.StoredCounts()
	got, ids, err := e.listObjects(m.Actor, " after the crash")
	if err != nil {
		return "", err
	}
	unknown := map[string]map[string]bool{}
	for _, prefix := range []string{"snapshots/", "transactions/"} {
		for _, id := range ids[prefix] {
			if _, known := e.labels[id]; !known {
				if unknown[id] == nil {
					unknown[id] = map[string]bool{}
				}
				unknown[id][prefix] = true
			}
		}
	}
	if got.Manifests < want.Manifests || got.Chunks < want.Chunks || got.Snapshots < want.Snapshots || got.TransactionLogs < want.TransactionLogs {
		return "", e.diverge("objects after a crash (only additions)", "at least "+want.String()+" (before: "+before.String()+")", got.String())
	}
	if len(unknown) > 1 {
		return "", e.diverge("snapshots after a crash", "at most one unreferenced snapshot", fmt.Sprint(len(unknown)))
	}
	var parts []string
	for id, where := range unknown {
		l := m.addLeftover(where["snapshots/"], where["transactions/"])
		e.ids[l.Label], e.labels[id] = id, l.Label
		var kinds []string
		if l.Snapshot {
			kinds = append(kinds, "snapshot")
		}
		if l.TxLog {
			kinds = append(kinds, "tx log")
		}
		parts = append(parts, l.Label+" ("+strings.Join(kinds, ", ")+")")
	}
	if n := got.Manifests - want.Manifests; n > 0 {
		m.addLeftoverObjects(m.Manifests, "xm", &m.nextManifest, n)
		parts = append(parts, plural(n, "manifest"))
	}
	if n := got.Chunks - want.Chunks; n > 0 {
		m.addLeftoverObjects(m.Chunks, "xk", &m.nextChunk, n)
		parts = append(parts, plural(n, "chunk"))
	}
	if len(parts) == 0 {
		return "", nil
	}
	sort.Strings(parts)
	return ", left " + strings.Join(parts, ", "), nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
