package gccompare

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// MarshalJSON encodes the report with snake_case keys, adding "ok" (OK)
// and "passed" (Passed).
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report // without methods: no recursion
	return json.Marshal(struct {
		OK     bool `json:"ok"`
		Passed bool `json:"passed"`
		plain
	}{r.OK(), r.Passed(), plain(r)})
}

// Text renders the report for people: the arguments, what each side did,
// the notes, the accepted differences, stale accepted entries, the
// mismatches and a one-line verdict.
func (r *Report) Text() string {
	var b strings.Builder
	title := "gc-compare"
	if r.Scenario != "" {
		title += " " + r.Scenario
	}
	fmt.Fprintf(&b, "%s (spec %d)\n", title, r.SpecVersion)
	if e := r.Args.Expire; e != nil {
		fmt.Fprintf(&b, "  expire: older than %s, delete expired branches: %s, delete expired tags: %s\n",
			timeText(e.OlderThan), yesNo(e.DeleteExpiredBranches), yesNo(e.DeleteExpiredTags))
	}
	if g := r.Args.GC; g != nil {
		fmt.Fprintf(&b, "  gc: older than %s, dry run: %s\n", timeText(g.OlderThan), yesNo(g.DryRun))
	}
	sideText(&b, "original", r.Original, r.Args)
	sideText(&b, "replica", r.Replica, r.Args)
	if r.Cross != nil {
		fmt.Fprintf(&b, "cross check: the original repository read by %s afterwards", r.Replica.Actor)
		if r.Cross.Error != nil {
			fmt.Fprintf(&b, " fails: %s: %s\n", r.Cross.Error, r.Cross.Error.Message)
		} else {
			b.WriteString(" opens\n")
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if len(r.Accepted) > 0 {
		fmt.Fprintf(&b, "accepted differences: %d\n", len(r.Accepted))
		for _, m := range r.Accepted {
			fmt.Fprintf(&b, "  %s\n", m)
			if a := m.AcceptedBy; a != nil {
				fmt.Fprintf(&b, "    because: %s (%s)\n", a.Reason, a.Link)
			}
		}
	}
	if len(r.StaleAccepted) > 0 {
		fmt.Fprintf(&b, "stale accepted entries (they apply here but explain no difference; remove them): %d\n", len(r.StaleAccepted))
		for _, a := range r.StaleAccepted {
			fmt.Fprintf(&b, "  %s: %s (%s)\n", a, a.Reason, a.Link)
		}
	}
	fmt.Fprintf(&b, "mismatches: %d\n", len(r.Mismatches))
	for _, m := range r.Mismatches {
		fmt.Fprintf(&b, "  %s\n", m)
	}
	switch {
	case !r.OK():
		fmt.Fprintf(&b, "result: MISMATCH (%s on the original and %s on the replica differ)\n", r.Original.Actor, r.Replica.Actor)
	case !r.Passed():
		b.WriteString("result: STALE ACCEPTED ENTRIES\n")
	default:
		fmt.Fprintf(&b, "result: EQUAL (%s on the original and %s on the replica agree)\n", r.Original.Actor, r.Replica.Actor)
	}
	return b.String()
}

// sideText renders one side.
func sideText(b *strings.Builder, name string, s Side, args Args) {
	fmt.Fprintf(b, "%s (%s on %s):\n", name, s.Actor, s.Store)
	if s.Error != nil {
		fmt.Fprintf(b, "  error at %s: %s: %s\n", s.Error.Step, s.Error.Kind, s.Error.Message)
	}
	if e := s.Expire; e != nil {
		fmt.Fprintf(b, "  expire: released snapshots %s, edited snapshots %s, deleted branches %s, deleted tags %s\n",
			listText(e.ReleasedSnapshots), listText(e.EditedSnapshots), listText(e.DeletedBranches), listText(e.DeletedTags))
	} else if args.Expire != nil {
		b.WriteString("  expire: did not complete\n")
	}
	if g := s.GC; g != nil {
		verb := "deleted"
		if args.GC != nil && args.GC.DryRun {
			verb = "would delete"
		}
		fmt.Fprintf(b, "  gc: %s snapshots %d, transaction logs %d, manifests %d, chunks %d, bytes %d\n",
			verb, g.SnapshotsDeleted, g.TransactionLogsDeleted, g.ManifestsDeleted, g.ChunksDeleted, g.BytesDeleted)
	} else if args.GC != nil {
		b.WriteString("  gc: did not complete\n")
	}
	parts := make([]string, 0, len(s.KeyCounts))
	for _, p := range sortedKeys(s.KeyCounts) {
		parts = append(parts, fmt.Sprintf("%s %d", p, s.KeyCounts[p]))
	}
	fmt.Fprintf(b, "  keys after: %s\n", strings.Join(parts, ", "))
	a := s.After
	if a.Error != nil {
		fmt.Fprintf(b, "  afterwards: %s: %s\n", a.Error, a.Error.Message)
		return
	}
	fmt.Fprintf(b, "  afterwards: spec %d, branches %s, tags %s, deleted tags %s", a.SpecVersion, mapText(a.Branches), mapText(a.Tags), listText(a.DeletedTags))
	if a.Fsck != nil {
		fmt.Fprintf(b, ", integrity problems %d", len(a.Fsck))
	}
	b.WriteString("\n")
}

func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}
