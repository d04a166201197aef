package gccompare

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Accepted is one known, accepted difference between the two sides of a
// comparison: what differs (Field), in which comparisons (When), why that
// is intended (Reason) and where it is documented (Link).
//
// A mismatch an entry explains is reported under Report.Accepted instead
// of Report.Mismatches. An entry that explains nothing where it applies is
// stale (Report.StaleAccepted, Tally.Stale): the difference went away, so
// the entry must go too.
type Accepted struct {
	// Field is the mismatch field the entry explains, exactly
	// ("gc.chunks_deleted", "keys[chunks/]"), or every field starting with
	// the text before a final "*" ("gc.*", "keys[*").
	Field string `json:"field"`
	// When says in which comparisons the entry applies: space-separated
	// KEY=VALUE terms (no spaces inside) that must all hold; "" means every
	// comparison. The keys are spec=N (the repository's spec version),
	// original=NAME and replica=NAME (the actors of the two sides),
	// expire=BOOL and gc=BOOL (whether expiration / GC ran), dry_run=BOOL,
	// delete_expired_branches=BOOL, delete_expired_tags=BOOL, and
	// scenario=PATTERN (Options.Scenario matches PATTERN, in which "*"
	// stands for any text, slashes included; the CLI's scenario is its
	// REPO argument). BOOL is true or false. Example: "spec=1 gc=true".
	When string `json:"when"`
	// Reason explains why the difference is intended.
	Reason string `json:"reason"`
	// Link points at the issue or document that records the difference.
	Link string `json:"link"`
}

// DefaultAccepted is the declarative list of known, intended differences
// between the replica (v1) and the original (v2) actor. It is empty: on
// every upstream spec-1 fixture and every argument combination tried
// (TestSpec1Grid), v1 and v2 expire and collect identically — same
// results, same keys left, same bytes apart from the writer's name in
// metadata headers, which the comparison ignores by design. Add an entry
// only for a documented, intended difference; the tests fail on an entry
// that no comparison needs.
var DefaultAccepted = []Accepted{}

// conditionKeys are the keys When understands, with a checker of their
// values.
var conditionKeys = map[string]func(value string) error{
	"spec": func(v string) error {
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			return fmt.Errorf("spec=%q: want a spec version (1, 2, ...)", v)
		}
		return nil
	},
	"original":                nonEmpty("original"),
	"replica":                 nonEmpty("replica"),
	"expire":                  isBool("expire"),
	"gc":                      isBool("gc"),
	"dry_run":                 isBool("dry_run"),
	"delete_expired_branches": isBool("delete_expired_branches"),
	"delete_expired_tags":     isBool("delete_expired_tags"),
	"scenario":                nonEmpty("scenario"),
}

func nonEmpty(key string) func(string) error {
	return func(v string) error {
		if v == "" {
			return fmt.Errorf("%s= needs a value", key)
		}
		return nil
	}
}

func isBool(key string) func(string) error {
	return func(v string) error {
		if v != "true" && v != "false" {
			return fmt.Errorf("%s=%q: want true or false", key, v)
		}
		return nil
	}
}

// Validate checks that the entry is complete (Field, Reason and Link set)
// and that When parses.
func (a Accepted) Validate() error {
	var errs []error
	if a.Field == "" {
		errs = append(errs, errors.New("empty Field"))
	}
	if strings.TrimSpace(a.Reason) == "" {
		errs = append(errs, errors.New("empty Reason: say why the difference is intended"))
	}
	if strings.TrimSpace(a.Link) == "" {
		errs = append(errs, errors.New("empty Link: name the issue or document that records it"))
	}
	if _, err := parseWhen(a.When); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("accepted difference %s: %w", a, err)
	}
	return nil
}

// String renders the entry as `FIELD when WHEN`.
func (a Accepted) String() string {
	when := a.When
	if when == "" {
		when = "always"
	}
	return fmt.Sprintf("%q when %q", a.Field, when)
}

// ValidateAccepted checks every entry of a list (see Accepted.Validate)
// and that no entry appears twice.
func ValidateAccepted(list []Accepted) error {
	var errs []error
	seen := map[Accepted]bool{}
	for i, a := range list {
		if err := a.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("entry %d: %w", i, err))
		}
		if seen[a] {
			errs = append(errs, fmt.Errorf("entry %d: %s is listed twice", i, a))
		}
		seen[a] = true
	}
	return errors.Join(errs...)
}

// term is one KEY=VALUE condition of When.
type term struct{ key, value string }

// parseWhen splits When into its terms, checking keys and values.
func parseWhen(when string) ([]term, error) {
	var out []term
	for _, f := range strings.Fields(when) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("When %q: term %q is not KEY=VALUE", when, f)
		}
		check, known := conditionKeys[k]
		if !known {
			return nil, fmt.Errorf("When %q: unknown key %q (known: spec, original, replica, expire, gc, dry_run, delete_expired_branches, delete_expired_tags, scenario)", when, k)
		}
		if err := check(v); err != nil {
			return nil, fmt.Errorf("When %q: %w", when, err)
		}
		out = append(out, term{k, v})
	}
	return out, nil
}

// facts are what When conditions test about one comparison.
type facts struct {
	spec              int
	original, replica string
	args              Args
	scenario          string
}

// applies reports whether the entry's When holds for f. An unparsable
// When never applies (Compare validates the list first).
func (a Accepted) applies(f facts) bool {
	terms, err := parseWhen(a.When)
	if err != nil {
		return false
	}
	for _, t := range terms {
		var ok bool
		switch t.key {
		case "spec":
			ok = strconv.Itoa(f.spec) == t.value
		case "original":
			ok = f.original == t.value
		case "replica":
			ok = f.replica == t.value
		case "expire":
			ok = strconv.FormatBool(f.args.Expire != nil) == t.value
		case "gc":
			ok = strconv.FormatBool(f.args.GC != nil) == t.value
		case "dry_run":
			ok = strconv.FormatBool(f.args.GC != nil && f.args.GC.DryRun) == t.value
		case "delete_expired_branches":
			ok = strconv.FormatBool(f.args.Expire != nil && f.args.Expire.DeleteExpiredBranches) == t.value
		case "delete_expired_tags":
			ok = strconv.FormatBool(f.args.Expire != nil && f.args.Expire.DeleteExpiredTags) == t.value
		case "scenario":
			ok = wildcardMatch(t.value, f.scenario)
		}
		if !ok {
			return false
		}
	}
	return true
}

// wildcardMatch reports whether s matches pattern, in which "*" stands
// for any text and every other character for itself.
func wildcardMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// explains reports whether the entry's Field covers a mismatch field.
func (a Accepted) explains(field string) bool {
	if p, ok := strings.CutSuffix(a.Field, "*"); ok {
		return strings.HasPrefix(field, p)
	}
	return a.Field == field
}

// applyAccepted moves the mismatches an applicable entry explains from
// r.Mismatches to r.Accepted and records the applicable entries that
// explained nothing in r.StaleAccepted.
func applyAccepted(r *Report, list []Accepted, f facts) {
	var applicable []Accepted
	for _, a := range list {
		if a.applies(f) {
			applicable = append(applicable, a)
		}
	}
	used := map[Accepted]bool{}
	var left []Mismatch
	for _, m := range r.Mismatches {
		explained := false
		for _, a := range applicable {
			if a.explains(m.Field) {
				entry := a
				m.AcceptedBy = &entry
				r.Accepted = append(r.Accepted, m)
				used[a] = true
				explained = true
				break
			}
		}
		if !explained {
			left = append(left, m)
		}
	}
	r.Mismatches = left
	if r.Mismatches == nil {
		r.Mismatches = []Mismatch{}
	}
	for _, a := range applicable {
		if !used[a] {
			r.StaleAccepted = append(r.StaleAccepted, a)
		}
	}
}

// Tally collects, over a run of many comparisons, which accepted entries
// explained a difference, so that a run can fail on entries that never
// did (Stale). It is safe for concurrent use.
type Tally struct {
	mu      sync.Mutex
	entries []Accepted
	matched map[Accepted]int
}

// NewTally starts a tally of entries (nil: DefaultAccepted). Reports added
// to it should come from comparisons that used the same list.
func NewTally(entries []Accepted) *Tally {
	if entries == nil {
		entries = DefaultAccepted
	}
	return &Tally{entries: append([]Accepted(nil), entries...), matched: map[Accepted]int{}}
}

// Add counts the accepted entries that explained a difference in r.
func (t *Tally) Add(r *Report) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range r.Accepted {
		if m.AcceptedBy != nil {
			t.matched[*m.AcceptedBy]++
		}
	}
}

// Matches is how many differences entry a explained in the reports added
// so far.
func (t *Tally) Matches(a Accepted) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.matched[a]
}

// Stale lists the tally's entries that explained no difference in any
// report added so far, in list order. An entry whose When never applied
// in the run is stale too: the run did not show that it is still needed.
func (t *Tally) Stale() []Accepted {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Accepted
	for _, a := range t.entries {
		if t.matched[a] == 0 {
			out = append(out, a)
		}
	}
	return out
}

// Check returns an error naming every stale entry (see Stale), nil when
// there is none.
func (t *Tally) Check() error {
	stale := t.Stale()
	if len(stale) == 0 {
		return nil
	}
	names := make([]string, len(stale))
	for i, a := range stale {
		names[i] = a.String()
	}
	return fmt.Errorf("%d accepted difference(s) no longer reproduce; remove them from the list: %s", len(stale), strings.Join(names, "; "))
}
