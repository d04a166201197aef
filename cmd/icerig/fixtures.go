package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/fixtures"
)

// fixturesSynopsis is the argument part of the usage line of `icerig fixtures`.
const fixturesSynopsis = "save --version X [--dir fixtures/repos] | verify [--dir fixtures/repos] [--upstream DIR] [--actors A,B] [--json] [--transitions FILE]"

// Subcommands of `icerig fixtures`.
var (
	fixturesSave = &command{
		name:     "fixtures save",
		synopsis: "--version X [--dir fixtures/repos]",
		summary:  "write a new golden fixture set for release X into DIR/X (refused if it exists) and list it in DIR/index.json",
	}
	fixturesVerify = &command{
		name:     "fixtures verify",
		synopsis: "[--dir fixtures/repos] [--upstream DIR] [--actors A,B] [--json] [--transitions FILE]",
		summary: "read every listed fixture and the upstream Icechunk repositories with every actor; " +
			"each must reproduce the expected facts or refuse the spec cleanly (exit 1 on a mismatch or a missing fixture)",
	}
)

// runFixtures is `icerig fixtures save|verify`.
func runFixtures(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 {
		return c.fail("want a subcommand: save or verify (run '%s -h' for usage)", c.name)
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprintf(c.stdout, "usage:\n  %s %s\n  %s %s\n\n", c.name, "save "+fixturesSave.synopsis, c.name, "verify "+fixturesVerify.synopsis)
		fmt.Fprintf(c.stdout, "save: %s.\nverify: %s.\n\nRun '%s save -h' or '%s verify -h' for their flags.\n",
			fixturesSave.summary, fixturesVerify.summary, c.name, c.name)
		return exitOK
	case "save":
		return runFixturesSave(ctx, fixturesCLI(c, fixturesSave, "save"), args[1:])
	case "verify":
		return runFixturesVerify(ctx, fixturesCLI(c, fixturesVerify, "verify"), args[1:])
	}
	return c.fail("unknown subcommand %q: want save or verify (run '%s -h' for usage)", args[0], c.name)
}

// fixturesCLI is the cli of a subcommand of c: its errors and usage name
// it ("icerig fixtures save").
func fixturesCLI(c *cli, cmd *command, word string) *cli {
	return &cli{stdout: c.stdout, stderr: c.stderr, name: c.name + " " + word, cmd: cmd}
}

// runFixturesSave is `icerig fixtures save --version X [--dir DIR]`: exit 0
// when the set was saved, 1 when a new fixture did not verify, 2 for bad
// usage or a version that exists.
func runFixturesSave(ctx context.Context, c *cli, args []string) int {
	fs := c.flags()
	version := fs.String("version", "", "the release the set is saved for, such as 0.1.0 (required; a saved version is never overwritten)")
	dir := fs.String("dir", "", "the fixture tree (default fixtures/repos under the module root, else under the working directory)")
	if _, code, ok := c.parse(fs, args); !ok {
		return code
	}
	if *version == "" {
		return c.fail("--version is required (such as 0.1.0)")
	}
	root := *dir
	if root == "" {
		root = fixtures.DefaultDir()
	}
	err := fixtures.Save(ctx, root, *version)
	switch {
	case errors.Is(err, fixtures.ErrSavedSetInvalid):
		c.errorLine("%v", err)
		return exitFinding
	case err != nil:
		return c.fail("%v", err)
	}
	idx, err := fixtures.ReadIndex(root)
	if err != nil {
		return c.fail("%v", err)
	}
	for _, v := range idx.Versions {
		if v.Version == *version {
			fmt.Fprintf(c.stdout, "saved %d fixtures of version %s in %s\n", len(v.Fixtures), *version, filepath.Join(root, *version))
		}
	}
	return exitOK
}

// runFixturesVerify is `icerig fixtures verify`: it prints the report (text
// or --json), writes the transition cells when asked, and exits 1 when a
// fixture is missing, unlisted, misread or wrongly refused.
func runFixturesVerify(ctx context.Context, c *cli, args []string) int {
	fs := c.flags()
	dir := fs.String("dir", "", "the fixture tree (default fixtures/repos under the module root, else under the working directory)")
	upstream := fs.String("upstream", "", "the upstream Icechunk fixtures (default $ICECHUNK_FIXTURES, else ../shared/icechunk-fixtures next to the module root)")
	list := fs.String("actors", strings.Join(actors.Names(), ","), "comma-separated actors that read every fixture")
	asJSON := jsonFlag(fs, false)
	cells := fs.String("transitions", "", "write the transition cells exercised (JSON) to this file")
	if _, code, ok := c.parse(fs, args); !ok {
		return code
	}
	acts, err := actors.LookupList(*list)
	if err != nil {
		return c.fail("--actors: %v", err)
	}
	root := *dir
	if root == "" {
		root = fixtures.DefaultDir()
	}
	rep, err := fixtures.Verify(ctx, root, *upstream, acts)
	if err != nil {
		return c.fail("%v", err)
	}
	if *cells != "" {
		if err := rep.Transitions().WriteFile(*cells); err != nil {
			return c.fail("%v", err)
		}
	}
	if *asJSON {
		if code := c.writeJSON(rep, false); code != exitOK {
			return code
		}
	} else {
		fmt.Fprint(c.stdout, rep.Text())
	}
	if !rep.OK() {
		bad := 0
		for _, r := range rep.Results {
			if r.Outcome != fixtures.OutcomeRead && r.Outcome != fixtures.OutcomeRefused {
				bad++
			}
		}
		c.errorLine("%d failing result(s) and %d set problem(s) in %s", bad, len(rep.Problems), root)
		return exitFinding
	}
	return exitOK
}
