package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

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
