package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/inspect"
)

// jsonFlag adds --json. inspect and read print JSON only, so for them the
// flag is accepted for the contract's sake and changes nothing.
func jsonFlag(fs *flag.FlagSet, only bool) *bool {
	if only {
		return fs.Bool("json", false, "print JSON (the default and only output format)")
	}
	return fs.Bool("json", false, "print the result as JSON instead of text")
}

func runInspect(ctx context.Context, c *cli, args []string) int {
	fs := c.flags()
	lib := libFlag(fs)
	refText := fs.String("ref", actors.MainBranch.String(), "version whose nodes to list: branch:NAME, tag:NAME or snapshot:ID")
	jsonFlag(fs, true)
	pos, code, ok := c.parse(fs, args, "REPO")
	if !ok {
		return code
	}
	ref, err := actors.ParseRef(*refText)
	if err != nil {
		return c.fail("--ref: %v", err)
	}
	repo, store, err := openRepo(ctx, *lib, pos[0])
	if err != nil {
		return c.fail("%v", err)
	}
	rep, err := inspect.Inspect(ctx, store, repo, ref)
	if err != nil {
		return c.fail("%v", err)
	}
	return c.writeJSON(rep, false)
}

func runRead(ctx context.Context, c *cli, args []string) int {
	fs := c.flags()
	lib := libFlag(fs)
	refText := fs.String("ref", actors.MainBranch.String(), "version to read: branch:NAME, tag:NAME or snapshot:ID")
	virtualText := fs.String("virtual", string(inspect.VirtualError), "virtual chunks: error (fail the read) or null (read their elements as null)")
	jsonFlag(fs, true)
	pos, code, ok := c.parse(fs, args, "REPO", "ARRAY_PATH")
	if !ok {
		return code
	}
	ref, err := actors.ParseRef(*refText)
	if err != nil {
		return c.fail("--ref: %v", err)
	}
	mode, err := inspect.ParseVirtualMode(*virtualText)
	if err != nil {
		return c.fail("--virtual: %v", err)
	}
	repo, _, err := openRepo(ctx, *lib, pos[0])
	if err != nil {
		return c.fail("%v", err)
	}
	res, err := inspect.Read(ctx, repo, ref, pos[1], mode)
	if errors.Is(err, actors.ErrVirtualChunk) {
		return c.fail("%v (use --virtual=null to read its elements as null)", err)
	}
	if err != nil {
		return c.fail("%v", err)
	}
	return c.writeJSON(res, true)
}

func runFsck(ctx context.Context, c *cli, args []string) int {
	fs := c.flags()
	lib := libFlag(fs)
	pos, code, ok := c.parse(fs, args, "REPO")
	if !ok {
		return code
	}
	repo, _, err := openRepo(ctx, *lib, pos[0])
	if err != nil {
		return c.fail("%v", err)
	}
	findings, err := repo.Fsck(ctx)
	if err != nil {
		return c.fail("%v", err)
	}
	for _, f := range findings {
		fmt.Fprintln(c.stdout, f.String())
	}
	if len(findings) > 0 {
		c.errorLine("%d problem(s) found in %s", len(findings), pos[0])
		return exitFinding
	}
	fmt.Fprintf(c.stdout, "no problems found in %s\n", pos[0])
	return exitOK
}

func runExpire(ctx context.Context, c *cli, args []string) int {
	fs := c.flags()
	lib := libFlag(fs)
	olderThan := fs.String("older-than", "", "expire snapshots flushed before this RFC 3339 time (required)")
	delBranches := fs.Bool("delete-expired-branches", false, "delete branches whose tip expired (never main)")
	delTags := fs.Bool("delete-expired-tags", false, "delete tags whose snapshot expired")
	asJSON := jsonFlag(fs, false)
	pos, code, ok := c.parse(fs, args, "REPO")
	if !ok {
		return code
	}
	cutoff, err := parseOlderThan(*olderThan)
	if err != nil {
		return c.fail("%v", err)
	}
	repo, _, err := openRepo(ctx, *lib, pos[0])
	if err != nil {
		return c.fail("%v", err)
	}
	res, err := repo.ExpireSnapshots(ctx, cutoff, *delBranches, *delTags)
	if err != nil {
		return c.fail("%v", err)
	}
	if *asJSON {
		return c.writeJSON(res, false)
	}
	for _, group := range []struct {
		what  string
		items []string
	}{
		{"released snapshots", res.ReleasedSnapshots},
		{"edited snapshots", res.EditedSnapshots},
		{"deleted branches", res.DeletedBranches},
		{"deleted tags", res.DeletedTags},
	} {
		printList(c.stdout, group.what, group.items)
	}
	return exitOK
}

func printList(w io.Writer, what string, items []string) {
	fmt.Fprintf(w, "%s: %d\n", what, len(items))
	for _, it := range items {
		fmt.Fprintf(w, "  %s\n", it)
	}
}

// gcReport is the JSON `icerig gc --json` prints.
type gcReport struct {
	DryRun bool `json:"dry_run"`
	actors.GCResult
}

func runGC(ctx context.Context, c *cli, args []string) int {
	fs := c.flags()
	lib := libFlag(fs)
	olderThan := fs.String("older-than", "", "delete only unreachable objects written before this RFC 3339 time (required)")
	dryRun := fs.Bool("dry-run", false, "count what would be deleted, delete nothing")
	asJSON := jsonFlag(fs, false)
	pos, code, ok := c.parse(fs, args, "REPO")
	if !ok {
		return code
	}
	cutoff, err := parseOlderThan(*olderThan)
	if err != nil {
		return c.fail("%v", err)
	}
	repo, _, err := openRepo(ctx, *lib, pos[0])
	if err != nil {
		return c.fail("%v", err)
	}
	res, err := repo.GarbageCollect(ctx, cutoff, *dryRun)
	if err != nil {
		return c.fail("%v", err)
	}
	if *asJSON {
		return c.writeJSON(gcReport{DryRun: *dryRun, GCResult: res}, false)
	}
	verb := "deleted"
	if *dryRun {
		verb = "would delete"
	}
	fmt.Fprintf(c.stdout, "%s snapshots: %d\n", verb, res.SnapshotsDeleted)
	fmt.Fprintf(c.stdout, "%s transaction logs: %d\n", verb, res.TransactionLogsDeleted)
	fmt.Fprintf(c.stdout, "%s manifests: %d\n", verb, res.ManifestsDeleted)
	fmt.Fprintf(c.stdout, "%s chunks: %d\n", verb, res.ChunksDeleted)
	fmt.Fprintf(c.stdout, "%s bytes: %d\n", verb, res.BytesDeleted)
	return exitOK
}

// upgradeReport is the JSON `icerig upgrade --json` prints: what the
// migration did (or, with --dry-run, would do), and the repository's spec
// version afterwards.
type upgradeReport struct {
	actors.UpgradeResult
	// Resumed is true when the repository was spec 2 already and the
	// command only deleted the spec-1 files an earlier migration kept.
	Resumed bool `json:"resumed"`
	// SpecVersion is the repository's spec version after the command.
	SpecVersion int `json:"spec_version"`
}

// runUpgrade is `icerig upgrade [--dry-run] [--keep-v1-files] [--json]
// REPO`: it migrates a spec-1 repository to spec 2 with the v2 library,
// deleting the spec-1 refs and config unless --keep-v1-files. On a
// repository migrated earlier with --keep-v1-files it deletes those files;
// otherwise a spec-2 repository is a usage error (exit 2).
func runUpgrade(ctx context.Context, c *cli, args []string) int {
	fs := c.flags()
	dryRun := fs.Bool("dry-run", false, "report what the migration would do, write nothing")
	keep := fs.Bool("keep-v1-files", false, "keep the spec-1 refs/ and config.yaml after the migration (spec-1 clients still refuse the repository)")
	asJSON := jsonFlag(fs, false)
	pos, code, ok := c.parse(fs, args, "REPO")
	if !ok {
		return code
	}
	h, _, err := openRepo(ctx, upgradeLibrary, pos[0])
	if err != nil {
		return c.fail("%v", err)
	}
	before := h.SpecVersion()
	res, err := h.Upgrade(ctx, *dryRun, !*keep)
	if errors.Is(err, actors.ErrAlreadyUpgraded) && *keep {
		return c.fail("%v (spec-1 files an earlier migration kept are deleted by 'icerig upgrade' without --keep-v1-files)", err)
	}
	if err != nil {
		return c.fail("%v", err)
	}
	rep := upgradeReport{UpgradeResult: res, Resumed: before == 2, SpecVersion: 2}
	if *dryRun {
		rep.SpecVersion = before
	}
	if *asJSON {
		return c.writeJSON(rep, false)
	}
	w := c.stdout
	switch {
	case rep.Resumed && *dryRun:
		fmt.Fprintf(w, "dry run: %s is spec 2 already; the spec-1 files an earlier migration kept would be deleted\n", pos[0])
	case rep.Resumed:
		fmt.Fprintf(w, "%s is spec 2 already; deleted the spec-1 files an earlier migration kept\n", pos[0])
	case *dryRun:
		fmt.Fprintf(w, "dry run: %s would be migrated from spec 1 to spec 2 (nothing written)\n", pos[0])
	default:
		fmt.Fprintf(w, "migrated %s from spec 1 to spec 2\n", pos[0])
	}
	fmt.Fprintf(w, "snapshots: %d\n", res.Snapshots)
	printRefs(w, "branches", res.Branches)
	printRefs(w, "tags", res.Tags)
	printList(w, "deleted tags", res.DeletedTags)
	switch {
	case *keep:
		fmt.Fprintln(w, "spec-1 files: kept (--keep-v1-files); spec-1 clients refuse the repository all the same")
	case *dryRun:
		printList(w, "spec-1 files to delete", res.DeletedV1Files)
	default:
		printList(w, "deleted spec-1 files", res.DeletedV1Files)
	}
	return exitOK
}

// printRefs prints a name -> snapshot id map, sorted by name.
func printRefs(w io.Writer, what string, refs map[string]string) {
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "%s: %d\n", what, len(names))
	for _, n := range names {
		fmt.Fprintf(w, "  %s %s\n", n, refs[n])
	}
}
