package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/statemachine"
)

// runReplay is `icerig replay [--actors A,B] [--backend memory|local] [-v]
// TRACE`: it re-runs a state-machine trace without rapid, checking the
// model after every line, and stops at the first divergence (exit 1).
func runReplay(ctx context.Context, c *cli, args []string) int {
	fs := c.flags()
	list := fs.String("actors", "", "comma-separated actors to replay with and check (default: those the trace names; built in: "+strings.Join(actors.Names(), ",")+")")
	backend := fs.String("backend", string(statemachine.BackendMemory), "object store: memory or local (a temporary directory)")
	verbose := fs.Bool("v", false, "print every line with its outcome")
	pos, code, ok := c.parse(fs, args, "TRACE")
	if !ok {
		return code
	}
	var acts []actors.Actor
	if *list != "" {
		var err error
		if acts, err = actors.LookupList(*list); err != nil {
			return c.fail("--actors: %v", err)
		}
	}
	b := statemachine.Backend(*backend)
	if b != statemachine.BackendMemory && b != statemachine.BackendLocal {
		return c.fail("--backend %q: want memory or local", *backend)
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return c.fail("%v", err)
	}
	tr, err := statemachine.ParseTrace(data)
	if err != nil {
		return c.fail("%s: %v", pos[0], err)
	}
	if acts == nil {
		if len(tr.Actors) == 0 {
			return c.fail("%s: the trace names no actors; give --actors", pos[0])
		}
		if acts, err = actors.LookupList(strings.Join(tr.Actors, ",")); err != nil {
			return c.fail("%s: %v", pos[0], err)
		}
	}
	opts := statemachine.ReplayOptions{Backend: b}
	if *verbose {
		opts.Step = func(s statemachine.Step, outcome string) {
			fmt.Fprintf(c.stdout, "%d: %s  # %s\n", s.Line, s.Op, outcome)
		}
	}
	names := make([]string, len(acts))
	for i, a := range acts {
		names[i] = a.Name()
	}
	err = statemachine.Replay(ctx, tr, acts, opts)
	var div *statemachine.Divergence
	switch {
	case errors.As(err, &div):
		c.errorLine("%s: %v", pos[0], div)
		return exitFinding
	case err != nil:
		return c.fail("%s: %v", pos[0], err)
	}
	fmt.Fprintf(c.stdout, "%s: %d lines replayed with %s: no divergence\n", pos[0], len(tr.Steps), strings.Join(names, ","))
	return exitOK
}
