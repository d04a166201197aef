package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/storeurl"
)

// Exit statuses.
const (
	exitOK      = 0 // success
	exitFinding = 1 // a finding: fsck problems
	exitUsage   = 2 // bad usage or unreadable input
)

// libraries are the library versions built into this binary, by --lib
// name: the actors registry.
var libraries = actors.Registry()

// knownLibraries are the --lib names of the CLI contract, whether built in
// or not.
var knownLibraries = []string{"v1", "v2"}

// defaultLibrary is the --lib default: the current library line.
const defaultLibrary = "v2"

// upgradeLibrary is the library `icerig upgrade` migrates with.
const upgradeLibrary = "v2"

// command is one subcommand.
type command struct {
	name string
	// synopsis is the argument part of the usage line.
	synopsis string
	// summary is the one-line description of `icerig help`.
	summary string
	run     func(ctx context.Context, c *cli, args []string) int
}

var commands = []*command{
	{"inspect", "[--lib L] [--ref branch:NAME|tag:NAME|snapshot:ID] [--json] REPO",
		"print refs, history, nodes and object counts as JSON", runInspect},
	{"read", "[--lib L] [--ref R] [--virtual=error|null] [--json] REPO ARRAY_PATH",
		"print a whole array as JSON, flat in C order", runRead},
	{"fsck", "[--lib L] REPO",
		"check that every referenced object exists and decodes (exit 1 on problems)", runFsck},
	{"expire", "--older-than RFC3339 [--delete-expired-branches] [--delete-expired-tags] [--json] [--lib L] REPO",
		"detach history older than a time from every branch and tag", runExpire},
	{"gc", "--older-than RFC3339 [--dry-run] [--json] [--lib L] REPO",
		"delete unreachable objects written before a time", runGC},
	{"upgrade", "[--dry-run] [--keep-v1-files] [--json] REPO",
		"migrate a spec-1 repository to spec 2 (always with the " + upgradeLibrary + " library)", runUpgrade},
	{"replay", "[--actors A,B] [--backend memory|local] [-v] TRACE",
		"re-run a state-machine trace, stop at the first divergence (exit 1)", runReplay},
	{"gc-compare", gcCompareSynopsis,
		"run expiration and/or GC with v1 on a copy and v2 on the repository; compare (exit 1 on a mismatch)", runGCCompare},
	{"fixtures", fixturesSynopsis,
		"save a golden fixture set, or verify every fixture with every actor (exit 1 on a mismatch)", runFixtures},
	{"gate", gateSynopsis,
		"the release gate: vet, tests, machines, fixtures, oracle, traces; reports (exit 1 on failure)", runGate},
}

func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// usage is the text of `icerig help`.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: icerig <command> [flags] [arguments]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString("\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  icerig %s %s\n", c.name, c.synopsis)
	}
	fmt.Fprintf(&b, `
REPO is a local path, file:///abs/path or az://<container>/<prefix>
(Azure credentials from %s).
--lib picks the library version that performs the command: %s (default %s);
upgrade always uses %s.
Flags may come before or after the arguments.
Exit status: 0 success, 1 finding (fsck problems), 2 bad usage or unreadable input.
Run 'icerig help <command>' or 'icerig <command> -h' for a command's flags.
`, storeurl.ConnectionStringEnv, strings.Join(knownLibraries, "|"), defaultLibrary, upgradeLibrary)
	return b.String()
}

// run executes one icerig invocation (args without the program name) and
// returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, name: "icerig"}
	if len(args) == 0 {
		return c.fail("missing command; run 'icerig help' for usage")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" {
			cmd := findCommand(args[1])
			if cmd == nil {
				return c.fail("unknown command %q; run 'icerig help' for usage", args[1])
			}
			sub := &cli{stdout: stdout, stderr: stderr, name: "icerig " + cmd.name, cmd: cmd}
			return cmd.run(ctx, sub, []string{"-h"})
		}
		fmt.Fprint(stdout, usage())
		return exitOK
	}
	cmd := findCommand(args[0])
	if cmd == nil {
		return c.fail("unknown command %q; run 'icerig help' for usage", args[0])
	}
	sub := &cli{stdout: stdout, stderr: stderr, name: "icerig " + cmd.name, cmd: cmd}
	return cmd.run(ctx, sub, args[1:])
}

// cli is the output side of one command run.
type cli struct {
	stdout, stderr io.Writer
	// name prefixes error lines ("icerig read").
	name string
	cmd  *command
}

// fail prints one error line on stderr and returns exitUsage.
func (c *cli) fail(format string, args ...any) int {
	c.errorLine(format, args...)
	return exitUsage
}

// errorLine prints "NAME: MESSAGE" on one line of stderr.
func (c *cli) errorLine(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	msg = strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", " ")), " ")
	fmt.Fprintf(c.stderr, "%s: %s\n", c.name, msg)
}

// flags starts a command's flag set; commonFlags adds --lib.
func (c *cli) flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func libFlag(fs *flag.FlagSet) *string {
	return fs.String("lib", defaultLibrary, "library version that performs the command: "+strings.Join(knownLibraries, " or "))
}

// parse parses flags and positional arguments, which may be interspersed
// ("REPO --ref tag:x"), and checks the number of positional arguments
// against the names in want. ok is false when the command must stop with
// code (help printed, or a usage error reported).
func (c *cli) parse(fs *flag.FlagSet, args []string, want ...string) (pos []string, code int, ok bool) {
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(c.stdout, "usage: %s %s\n\n%s.\n\nflags:\n", c.name, c.cmd.synopsis, c.cmd.summary)
			fs.SetOutput(c.stdout)
			fs.PrintDefaults()
			return nil, exitOK, false
		}
		if err != nil {
			return nil, c.fail("%v (run '%s -h' for usage)", err, c.name), false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// Parse stopped at a positional argument, or after a "--" that
		// ends the flags.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) != len(want) {
		return nil, c.fail("want %d argument(s) %s, got %d (run '%s -h' for usage)",
			len(want), strings.Join(want, " "), len(pos), c.name), false
	}
	return pos, exitOK, true
}

// lookupLibrary returns the built-in actor of a --lib name.
func lookupLibrary(name string) (actors.Actor, error) {
	if a, ok := libraries[name]; ok {
		return a, nil
	}
	var built []string
	for n := range libraries {
		built = append(built, n)
	}
	sort.Strings(built)
	for _, n := range knownLibraries {
		if n == name {
			return nil, fmt.Errorf("library %s is not available in this build (built in: %s)", name, strings.Join(built, ", "))
		}
	}
	return nil, fmt.Errorf("unknown library %q (want %s)", name, strings.Join(knownLibraries, " or "))
}

// openRepo opens the repository at a REPO argument with a --lib library.
// A local directory must exist (it is never created).
func openRepo(ctx context.Context, lib, raw string) (actors.Handle, objstore.Store, error) {
	actor, err := lookupLibrary(lib)
	if err != nil {
		return nil, nil, err
	}
	loc, err := storeurl.Parse(raw)
	if err != nil {
		return nil, nil, err
	}
	if loc.Kind == storeurl.Local {
		fi, err := os.Stat(loc.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, nil, fmt.Errorf("repository %s: no such directory", loc.Path)
		case err != nil:
			return nil, nil, fmt.Errorf("repository %s: %w", loc.Path, err)
		case !fi.IsDir():
			return nil, nil, fmt.Errorf("repository %s: not a directory", loc.Path)
		}
	}
	store, err := loc.Open(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	repo, err := actor.Open(ctx, store, actors.Options{})
	if err != nil {
		return nil, nil, err
	}
	return repo, store, nil
}

// writeJSON prints v as JSON: indented, or on one line when compact
// (array values, which can be long).
func (c *cli) writeJSON(v any, compact bool) int {
	enc := json.NewEncoder(c.stdout)
	if !compact {
		enc.SetIndent("", "  ")
	}
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return c.fail("write JSON: %v", err)
	}
	return exitOK
}

// parseOlderThan reads the --older-than time.
func parseOlderThan(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("--older-than is required (an RFC 3339 time such as 2025-01-31T00:00:00Z)")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--older-than %q is not an RFC 3339 time such as 2025-01-31T00:00:00Z", s)
	}
	return t, nil
}
