package statemachine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/icerig/icerig/actors"
)

// ReplayOptions tunes Replay.
type ReplayOptions struct {
	// Backend is the object store (default memory).
	Backend Backend
	// Dir is the local backend's directory (default: a temporary one,
	// removed afterwards).
	Dir string
	// Step, when set, is called after each line ran and was checked.
	Step func(s Step, outcome string)
	// IgnoreOutcomes skips comparing each line's outcome with the
	// "# outcome" comment the trace gives it (a line marked "DIVERGED" is
	// never compared).
	IgnoreOutcomes bool
}

// Replay runs a trace without rapid: every line is applied to the model
// and the actor the trace makes active, and the invariant is checked
// before the first line and after every line, with every actor of acts.
// A line's outcome must match its "# outcome" comment, when it has one
// (hand-written traces state what must happen: "# conflict", "# -> s2").
// It stops at the first divergence and returns it as a *Divergence naming
// the line, the actor, and the expected and seen state; a trace that
// cannot run (an actor missing from acts, a label never created) is a
// *TraceError.
func Replay(ctx context.Context, tr *Trace, acts []actors.Actor, opts ReplayOptions) error {
	_, err := replay(ctx, tr, acts, opts, false)
	return err
}

// replay runs a trace. Lenient, it skips the lines that cannot run (a
// *TraceError: the session or snapshot they need is gone) and keeps the
// trace's own snapshot labels (a commit with outcome "-> s7" creates s7),
// as trace minimization needs; it returns the steps that ran, each with
// its outcome, the failing one marked DIVERGED.
func replay(ctx context.Context, tr *Trace, acts []actors.Actor, opts ReplayOptions, lenient bool) ([]Step, error) {
	eo := EnvOptions{Actors: acts, Seed: tr.Seed, Backend: opts.Backend, Dir: opts.Dir}
	if eo.Backend == BackendLocal && eo.Dir == "" {
		dir, err := os.MkdirTemp("", "icerig-replay-")
		if err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
		defer os.RemoveAll(dir)
		eo.Dir = dir
	}
	env, err := NewEnv(ctx, eo)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	if err := env.Check(); err != nil {
		return nil, err
	}
	var ran []Step
	for _, s := range tr.Steps {
		env.nextLabel = ""
		if l := outcomeLabel(s.Outcome); lenient && l != "" {
			if _, taken := env.ids[l]; !taken {
				env.nextLabel = l
			}
		}
		out, err := env.Run(s.Op, s.Line)
		var te *TraceError
		if lenient && errors.As(err, &te) {
			continue
		}
		if err != nil {
			ran = append(ran, Step{Line: s.Line, Op: s.Op, Outcome: "DIVERGED: " + err.Error()})
			return ran, err
		}
		ran = append(ran, Step{Line: s.Line, Op: s.Op, Outcome: out})
		if want := strings.TrimSpace(s.Outcome); !opts.IgnoreOutcomes && want != "" && !strings.HasPrefix(want, "DIVERGED") && want != strings.TrimSpace(out) {
			return ran, &Divergence{Line: s.Line, Op: s.Op.String(), Actor: env.model.Actor, What: "outcome (the trace's comment)", Expected: s.Outcome, Seen: out}
		}
		if err := env.Check(); err != nil {
			ran[len(ran)-1].Outcome = "DIVERGED: " + err.Error()
			return ran, err
		}
		if opts.Step != nil {
			opts.Step(s, out)
		}
	}
	return ran, nil
}

// ReplayFile parses and replays a trace file with acts (nil: the actors
// its header names, from the registry).
func ReplayFile(ctx context.Context, path string, acts []actors.Actor, opts ReplayOptions) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	tr, err := ParseTrace(data)
	if err != nil {
		return fmt.Errorf("replay %s: %w", path, err)
	}
	if acts == nil {
		if len(tr.Actors) == 0 {
			return fmt.Errorf("replay %s: the trace names no actors (its header lacks \"# actors: ...\")", path)
		}
		for _, name := range tr.Actors {
			a, err := actors.Lookup(name)
			if err != nil {
				return fmt.Errorf("replay %s: %w", path, err)
			}
			acts = append(acts, a)
		}
	}
	if err := Replay(ctx, tr, acts, opts); err != nil {
		return fmt.Errorf("replay %s: %w", path, err)
	}
	return nil
}

// outcomeLabel returns the label of the snapshot an outcome says was
// created ("-> s3", "-> s3 (12 rows)", "active conflict, rival -> s3"),
// or "".
func outcomeLabel(outcome string) string {
	_, after, ok := strings.Cut(outcome, "-> ")
	if !ok {
		return ""
	}
	l, _, _ := strings.Cut(after, " ")
	l = strings.TrimSuffix(l, ",")
	if !isLabel(l) {
		return ""
	}
	return l
}
