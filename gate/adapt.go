package gate

// This file holds everything the gate assumes about the JSON other parts
// of the project print or write, so that a change there is one change
// here. It decodes with those packages' own types:
//
//   - a fixture's expected.json: fixtures.ParseExpected;
//   - `icerig fixtures verify --json`: a fixtures.Report;
//   - `icerig gc-compare --json`: a gccompare.Report;
//   - `icerig inspect --json`: the CLI contract (spec_version, ancestry).
//
// The statemachine's -transitions file and the --transitions file of
// fixtures verify are read with internal/transitions.ReadFile.

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/icerig/icerig/fixtures"
	"github.com/icerig/icerig/gccompare"
	"github.com/icerig/icerig/internal/transitions"
)

// upstreamWriter names the writer of an upstream Icechunk repository of a
// spec version in transition cells, as fixture verification does.
func upstreamWriter(spec int) string {
	if spec >= 2 {
		return fixtures.WriterUpstream2
	}
	return fixtures.WriterUpstream1
}

// repoMeta is what the oracle needs to know about a fixture repository.
type repoMeta struct {
	// Writer is the actor that wrote the repository last ("" when
	// unknown).
	Writer string
	// Spec is the repository's spec version now (0 when unknown).
	Spec int
	// Flushes are the flush times of its snapshots, ascending, without
	// duplicates.
	Flushes []time.Time
}

// readExpected reads the last writer (Expected.LastWriter), the spec
// version (facts.spec_version) and the flush times of an expected.json.
func readExpected(path string) (repoMeta, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return repoMeta{}, fmt.Errorf("fixture facts: %w", err)
	}
	e, err := fixtures.ParseExpected(path, data)
	if err != nil {
		return repoMeta{}, fmt.Errorf("fixture facts: %w", err)
	}
	m := repoMeta{Writer: e.LastWriter(), Spec: e.Facts.SpecVersion}
	if m.Writer == "" || m.Spec == 0 {
		return repoMeta{}, fmt.Errorf("fixture facts %s: no writer or spec version", path)
	}
	var times []string
	for _, ref := range e.Facts.Refs {
		for _, s := range ref.Ancestry {
			times = append(times, s.FlushedAt)
		}
	}
	m.Flushes, err = parseFlushes(path, times)
	return m, err
}

// inspectJSON is the part of `icerig inspect --json` the gate reads.
type inspectJSON struct {
	SpecVersion int `json:"spec_version"`
	Ancestry    map[string][]struct {
		FlushedAt string `json:"flushed_at"`
	} `json:"ancestry"`
}

// parseInspect reads the spec version and flush times from `icerig
// inspect --json` output of an upstream repository; name names it in
// errors.
func parseInspect(name string, stdout []byte) (repoMeta, error) {
	var in inspectJSON
	if err := json.Unmarshal(stdout, &in); err != nil {
		return repoMeta{}, fmt.Errorf("inspect %s: %w", name, err)
	}
	if in.SpecVersion == 0 {
		return repoMeta{}, fmt.Errorf("inspect %s: no spec_version", name)
	}
	var times []string
	for _, anc := range in.Ancestry {
		for _, s := range anc {
			times = append(times, s.FlushedAt)
		}
	}
	fl, err := parseFlushes(name, times)
	return repoMeta{Writer: upstreamWriter(in.SpecVersion), Spec: in.SpecVersion, Flushes: fl}, err
}

// parseFlushes parses RFC 3339 flush times, sorted and deduplicated.
func parseFlushes(name string, times []string) ([]time.Time, error) {
	seen := map[time.Time]bool{}
	var out []time.Time
	for _, s := range times {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("%s: flush time %q: %w", name, s, err)
		}
		t = t.UTC()
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out, nil
}

// gcCompareOutcome is what the gate takes from one comparison.
type gcCompareOutcome struct {
	// Spec is the repository's spec version (0 when unknown).
	Spec int
	// Done lists, as cells without writer, the operations each side's
	// actor completed.
	Done []transitions.Cell
	// Problems render the mismatches and the stale accepted entries.
	Problems []string
}

// parseGCCompare reads `icerig gc-compare --json` output: one
// gccompare.Report. Each side whose expiration (or GC) result is present
// (it completed) counts one expire (or gc) cell with that side's actor as
// the reader; when both sides ran the same actor (a spec-2 repository) it
// counts twice.
func parseGCCompare(name string, stdout []byte) (gcCompareOutcome, error) {
	var r gccompare.Report
	if err := json.Unmarshal(stdout, &r); err != nil {
		return gcCompareOutcome{}, fmt.Errorf("gc-compare %s: %w", name, err)
	}
	if r.Original.Actor == "" && r.Replica.Actor == "" {
		return gcCompareOutcome{}, fmt.Errorf("gc-compare %s: no sides in the output", name)
	}
	o := gcCompareOutcome{Spec: r.SpecVersion}
	for _, s := range []gccompare.Side{r.Original, r.Replica} {
		if s.Actor == "" {
			continue
		}
		if s.Expire != nil {
			o.Done = append(o.Done, transitions.Cell{Reader: s.Actor, Op: transitions.OpExpire, Spec: r.SpecVersion})
		}
		if s.GC != nil {
			o.Done = append(o.Done, transitions.Cell{Reader: s.Actor, Op: transitions.OpGC, Spec: r.SpecVersion})
		}
	}
	for _, m := range r.Mismatches {
		o.Problems = append(o.Problems, m.String())
	}
	for _, a := range r.StaleAccepted {
		o.Problems = append(o.Problems, fmt.Sprintf("stale accepted entry: %s when %q", a.Field, a.When))
	}
	return o, nil
}

// parseFixturesVerify reads `icerig fixtures verify --json` output: one
// fixtures.Report. A result passes when its outcome is read or refused.
func parseFixturesVerify(stdout []byte) (*fixtures.Report, error) {
	var r fixtures.Report
	if err := json.Unmarshal(stdout, &r); err != nil {
		return nil, fmt.Errorf("fixtures verify output: %w", err)
	}
	if len(r.Results) == 0 && len(r.Problems) == 0 {
		return nil, fmt.Errorf("fixtures verify output: no results and no problems")
	}
	return &r, nil
}
