package gate

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/icerig/icerig/internal/transitions"
)

// Marks of the coverage table.
const (
	// MarkMissing marks a required cell that was never exercised.
	MarkMissing = "**MISSING**"
	// MarkNotApplicable marks a cell that is not required and was not
	// exercised.
	MarkNotApplicable = "—"
)

// maxListedFailures bounds the failures the summary lists per step.
const maxListedFailures = 25

// Summary renders the report as Markdown: the verdict, a table of the
// steps, what is missing, the failures, and the transition-coverage
// table (one per spec version).
func (r *Report) Summary() string {
	var b strings.Builder
	verdict := "PASSED"
	if !r.Pass {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "# icerig release gate: %s\n\n", verdict)
	fmt.Fprintf(&b, "Started %s, took %s, budget %g, module `%s`. Reports in `%s`: %s, %s, command logs in %s/.\n\n",
		r.Started.Format("2006-01-02 15:04:05Z"), formatDuration(r.DurationSeconds), r.Budget, r.ModuleDir,
		r.OutDir, ReportFile, JUnitFile, LogDir)

	b.WriteString("## Steps\n\n| step | status | time | tests | failures | commands |\n|---|---|---:|---|---:|---|\n")
	for _, s := range r.Steps {
		status := string(s.Status)
		if s.Status != StatusPass {
			status = "**" + strings.ToUpper(status) + "**"
		}
		var cmds []string
		for _, c := range s.Commands {
			cmds = append(cmds, c.Command)
		}
		cmd := ""
		switch {
		case len(cmds) == 1:
			cmd = "`" + mdCell(cmds[0]) + "`"
		case len(cmds) > 1:
			cmd = fmt.Sprintf("%d commands, first `%s`", len(cmds), mdCell(cmds[0]))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s |\n", s.Name, status, formatDuration(s.DurationSeconds),
			s.Tests, len(s.Failures), cmd)
	}
	b.WriteString("\n")

	if len(r.Problems) > 0 {
		b.WriteString("## Why the gate failed\n\n")
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "- %s\n", mdLine(p))
		}
		b.WriteString("\n")
	}

	var failing []*StepResult
	for _, s := range r.Steps {
		if len(s.Failures) > 0 {
			failing = append(failing, s)
		}
	}
	if len(failing) > 0 {
		b.WriteString("## Failures\n\n")
		for _, s := range failing {
			fmt.Fprintf(&b, "### %s\n\n", s.Name)
			for i, f := range s.Failures {
				if i == maxListedFailures {
					fmt.Fprintf(&b, "- ... and %d more (see %s)\n", len(s.Failures)-i, ReportFile)
					break
				}
				what := ""
				if f.Test != "" {
					what = "`" + mdCell(f.Test) + "`"
					if f.Package != "" {
						what += " (" + mdCell(f.Package) + ")"
					}
					what += ": "
				}
				fmt.Fprintf(&b, "- %s%s\n", what, mdLine(firstLine(f.Message)))
			}
			b.WriteString("\n")
		}
	}

	b.WriteString(r.CoverageTable())
	return b.String()
}

// CoverageTable renders the transition-coverage table: per spec version,
// rows writer → reader, columns the operations, each cell the number of
// times it was exercised, MarkMissing for a required cell never
// exercised and MarkNotApplicable for one neither required nor
// exercised. A row is shown for every actor writing the spec times every
// actor, and for any other pair that exercised a cell (the upstream
// fixtures' writer).
func (r *Report) CoverageTable() string {
	counts := map[transitions.Cell]int{}
	specSet := map[int]bool{}
	for _, e := range r.Cells {
		counts[e.Cell] += e.Count
		specSet[e.Spec] = true
	}
	required := map[transitions.Cell]bool{}
	writes := map[string]map[int]bool{}
	for _, c := range r.RequiredCells {
		required[c] = true
		specSet[c.Spec] = true
		if writes[c.Writer] == nil {
			writes[c.Writer] = map[int]bool{}
		}
		writes[c.Writer][c.Spec] = true
	}
	var specs []int
	for s := range specSet {
		specs = append(specs, s)
	}
	sort.Ints(specs)

	var b strings.Builder
	b.WriteString("## Transition coverage\n\n")
	fmt.Fprintf(&b, "Rows: writer → reader (the version that last wrote the repository → the version that did the operation). "+
		"Each cell: how many times it was exercised; %s: required but never exercised; %s: not required and not exercised. "+
		"%d of %d required cells exercised.\n\n", MarkMissing, MarkNotApplicable,
		len(r.RequiredCells)-len(r.MissingCells), len(r.RequiredCells))
	for _, spec := range specs {
		type pair struct{ w, r string }
		var rows []pair
		seen := map[pair]bool{}
		add := func(p pair) {
			if !seen[p] {
				seen[p] = true
				rows = append(rows, p)
			}
		}
		for _, w := range r.Actors {
			if writes[w][spec] {
				for _, rd := range r.Actors {
					add(pair{w, rd})
				}
			}
		}
		var extra []pair
		for c, n := range counts {
			if c.Spec == spec && n > 0 && !seen[pair{c.Writer, c.Reader}] && !slices.Contains(extra, pair{c.Writer, c.Reader}) {
				extra = append(extra, pair{c.Writer, c.Reader})
			}
		}
		sort.Slice(extra, func(i, j int) bool {
			if extra[i].w != extra[j].w {
				return extra[i].w < extra[j].w
			}
			return extra[i].r < extra[j].r
		})
		for _, p := range extra {
			add(p)
		}
		fmt.Fprintf(&b, "### Spec %d\n\n| writer → reader |", spec)
		for _, op := range transitions.Ops {
			fmt.Fprintf(&b, " %s |", op)
		}
		b.WriteString("\n|---|")
		for range transitions.Ops {
			b.WriteString("---:|")
		}
		b.WriteString("\n")
		if len(rows) == 0 {
			b.WriteString("| (no writer) |" + strings.Repeat(" "+MarkNotApplicable+" |", len(transitions.Ops)) + "\n")
		}
		for _, p := range rows {
			fmt.Fprintf(&b, "| %s → %s |", mdCell(p.w), mdCell(p.r))
			for _, op := range transitions.Ops {
				c := transitions.Cell{Writer: p.w, Reader: p.r, Op: op, Spec: spec}
				switch n := counts[c]; {
				case n > 0:
					fmt.Fprintf(&b, " %d |", n)
				case required[c]:
					b.WriteString(" " + MarkMissing + " |")
				default:
					b.WriteString(" " + MarkNotApplicable + " |")
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	if len(r.MissingCells) > 0 {
		b.WriteString("Missing cells:\n\n")
		for _, c := range r.MissingCells {
			fmt.Fprintf(&b, "- %s %s\n", MarkMissing, c)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// mdCell makes text safe inside a Markdown table cell or code span.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "`", "'")
}

// mdLine makes text safe as one Markdown list item.
func mdLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
}
