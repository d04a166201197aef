package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/icerig/icerig/gate"
	"github.com/icerig/icerig/internal/modroot"
	"github.com/icerig/icerig/internal/testfixtures"
)

// gateSynopsis is the argument part of the usage line of `icerig gate`.
const gateSynopsis = "[--budget F] [--out DIR] [--module DIR] [--fixtures DIR] [--upstream DIR] [--icerig PATH] [--skip STEP,...]"

// gateSteps builds the gate's steps; tests replace it with fake steps.
var gateSteps = gate.DefaultSteps

// runGate is `icerig gate`: the release gate (package gate). It runs every
// step from the module root, writes gate-report.json, junit.xml and
// summary.md into --out, prints the summary on stdout (progress on
// stderr), and exits 0 when the gate passed, 1 when it failed (a step
// failed or was skipped, a required cell, actor or fixture is missing),
// 2 on bad usage or when it could not run.
//
// Unless --icerig names a binary, the gate builds icerig from the module
// source into OUT/bin/icerig (its first step) and runs the fixture and
// oracle steps with that build, so the binary under test is always the
// source under test (the running executable may be stale).
func runGate(ctx context.Context, c *cli, args []string) int {
	fs := c.flags()
	budget := fs.Float64("budget", 1.0, fmt.Sprintf("work scale: the machines run round(%d × F) rapid checks", gate.MachineChecksPerBudget))
	out := fs.String("out", "", "output directory (default MODULE/"+gate.DefaultOutDir+")")
	module := fs.String("module", "", "module root (default: the go.mod directory above the working directory)")
	fixturesDir := fs.String("fixtures", "", "our golden fixture sets (default MODULE/fixtures/repos)")
	upstream := fs.String("upstream", "", "upstream Icechunk fixtures (default $"+testfixtures.Env+", else MODULE/../shared/icechunk-fixtures)")
	icerigBin := fs.String("icerig", "", "icerig binary for the fixture and oracle steps (default: build one from the module)")
	skip := fs.String("skip", "", "comma-separated steps not to run; each is reported as skipped and FAILS the gate "+
		"(steps: "+strings.Join(gate.StepNames(gate.DefaultSteps(gate.Config{ModuleDir: "."})), ", ")+")")
	if _, code, ok := c.parse(fs, args); !ok {
		return code
	}
	if math.IsNaN(*budget) || math.IsInf(*budget, 0) || *budget <= 0 {
		return c.fail("--budget must be a positive number, got %v", *budget)
	}

	var root string
	if *module != "" {
		root = absOr(*module, "")
		if fi, err := os.Stat(filepath.Join(root, "go.mod")); err != nil || !fi.Mode().IsRegular() {
			return c.fail("--module %s: no go.mod there", *module)
		}
	} else {
		var err error
		if root, err = modroot.Find(); err != nil {
			return c.fail("%v (run from the module or give --module)", err)
		}
	}
	cfg := gate.Config{
		ModuleDir:   root,
		OutDir:      absOr(*out, filepath.Join(root, gate.DefaultOutDir)),
		Budget:      *budget,
		FixturesDir: absOr(*fixturesDir, filepath.Join(root, "fixtures", "repos")),
		UpstreamDir: absOr(*upstream, os.Getenv(testfixtures.Env)),
		Icerig:      absOr(*icerigBin, ""),
		Progress:    c.stderr,
	}
	if cfg.UpstreamDir == "" {
		cfg.UpstreamDir = filepath.Clean(filepath.Join(root, "..", "shared", "icechunk-fixtures"))
	}
	if cfg.Icerig != "" {
		if fi, err := os.Stat(cfg.Icerig); err != nil || fi.IsDir() {
			return c.fail("--icerig %s: not a file", cfg.Icerig)
		}
	}
	if *skip != "" {
		for _, s := range strings.Split(*skip, ",") {
			cfg.Skip = append(cfg.Skip, strings.TrimSpace(s))
		}
	}
	cfg.Steps = gateSteps(cfg)

	rep, err := gate.Run(ctx, cfg)
	if err != nil {
		if errors.Is(err, gate.ErrConfig) || rep == nil {
			return c.fail("%v", err)
		}
		// The gate ran but a report file could not be written: still
		// print what it found.
		c.errorLine("%v", err)
	}
	fmt.Fprint(c.stdout, rep.Summary())
	if !rep.Pass {
		shown := rep.Problems
		if len(shown) > 5 {
			shown = append(shown[:5:5], fmt.Sprintf("and %d more (see %s)", len(rep.Problems)-5, filepath.Join(cfg.OutDir, gate.SummaryFile)))
		}
		c.errorLine("FAILED: %s", strings.Join(shown, "; "))
		return exitFinding
	}
	if err != nil {
		return exitUsage
	}
	return exitOK
}

// absOr makes p absolute, or returns def when p is empty.
func absOr(p, def string) string {
	if p == "" {
		return def
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
