package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/icerig/icerig/gccompare"
)

// gcCompareSynopsis is the argument part of the usage line of `icerig gc-compare`.
const gcCompareSynopsis = "[--expire-older-than RFC3339 [--delete-expired-branches] [--delete-expired-tags]] " +
	"[--gc-older-than RFC3339 [--dry-run]] [--original L] [--replica L] [--json] REPO"

// runGCCompare is `icerig gc-compare`: the GC oracle over one repository.
// It copies REPO, runs expiration and/or GC with the replica library on
// the copy and with the original library on REPO itself, and compares.
// Exit 0 when both agree, 1 on a mismatch or a stale accepted difference,
// 2 on bad usage or a repository the original library cannot open.
func runGCCompare(ctx context.Context, c *cli, args []string) int {
	fs := c.flags()
	expireText := fs.String("expire-older-than", "", "expire snapshots flushed before this RFC 3339 time (runs first)")
	delBranches := fs.Bool("delete-expired-branches", false, "with --expire-older-than: delete branches whose tip expired (never main)")
	delTags := fs.Bool("delete-expired-tags", false, "with --expire-older-than: delete tags whose snapshot expired")
	gcText := fs.String("gc-older-than", "", "collect unreachable objects written before this RFC 3339 time (runs after expiration)")
	dryRun := fs.Bool("dry-run", false, "with --gc-older-than: count what GC would delete, delete nothing")
	origName := fs.String("original", gccompare.DefaultOriginal, "library that runs on REPO itself")
	repName := fs.String("replica", gccompare.DefaultReplica, "library that runs on the copy (by default "+gccompare.DefaultReplica+
		", or the original library when "+gccompare.DefaultReplica+" cannot read REPO's spec version)")
	asJSON := jsonFlag(fs, false)
	pos, code, ok := c.parse(fs, args, "REPO")
	if !ok {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var cmpArgs gccompare.Args
	if set["expire-older-than"] {
		t, err := parseGCCompareTime("expire-older-than", *expireText)
		if err != nil {
			return c.fail("%v", err)
		}
		cmpArgs.Expire = &gccompare.ExpireArgs{OlderThan: t, DeleteExpiredBranches: *delBranches, DeleteExpiredTags: *delTags}
	} else if set["delete-expired-branches"] || set["delete-expired-tags"] {
		return c.fail("--delete-expired-branches and --delete-expired-tags need --expire-older-than")
	}
	if set["gc-older-than"] {
		t, err := parseGCCompareTime("gc-older-than", *gcText)
		if err != nil {
			return c.fail("%v", err)
		}
		cmpArgs.GC = &gccompare.GCArgs{OlderThan: t, DryRun: *dryRun}
	} else if set["dry-run"] {
		return c.fail("--dry-run needs --gc-older-than")
	}
	if cmpArgs.Expire == nil && cmpArgs.GC == nil {
		return c.fail("nothing to compare: give --expire-older-than, --gc-older-than or both (RFC 3339 times such as 2025-01-31T00:00:00Z)")
	}

	var opts gccompare.Options
	original, err := lookupLibrary(*origName)
	if err != nil {
		return c.fail("--original: %v", err)
	}
	opts.Original = original
	if set["replica"] {
		// An explicit replica is always used, even where it cannot read
		// the spec (that is then a mismatch).
		replica, err := lookupLibrary(*repName)
		if err != nil {
			return c.fail("--replica: %v", err)
		}
		opts.Replica = replica
	}

	rep, err := gccompare.CompareURL(ctx, pos[0], cmpArgs, opts)
	if err != nil {
		if rep != nil {
			printGCCompareReport(c, rep, *asJSON)
		}
		return c.fail("%v", err)
	}
	if e := rep.Original.Error; e != nil && e.Step == "open" {
		return c.fail("cannot open %s with %s: %s", pos[0], rep.Original.Actor, e.Message)
	}
	if code := printGCCompareReport(c, rep, *asJSON); code != exitOK {
		return code
	}
	if !rep.Passed() {
		return exitFinding
	}
	return exitOK
}

// printGCCompareReport prints a comparison report as text or JSON.
func printGCCompareReport(c *cli, rep *gccompare.Report, asJSON bool) int {
	if asJSON {
		return c.writeJSON(rep, false)
	}
	fmt.Fprint(c.stdout, rep.Text())
	return exitOK
}

// parseGCCompareTime reads an RFC 3339 time flag.
func parseGCCompareTime(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q is not an RFC 3339 time such as 2025-01-31T00:00:00Z", name, s)
	}
	return t, nil
}
