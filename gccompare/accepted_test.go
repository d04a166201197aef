package gccompare

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/internal/testfixtures"
)

// miscountEntry is a test-only accepted difference: the planted
// gcMiscounts actor reports one byte too many.
var miscountEntry = Accepted{
	Field:  "gc.bytes_deleted",
	When:   "spec=1 replica=v1-miscounts gc=true",
	Reason: "test only: the planted actor counts one byte too many",
	Link:   "gccompare/accepted_test.go",
}

func compareMiscount(t *testing.T, accepted []Accepted, replica bool) *Report {
	t.Helper()
	o, r, clock := memoryPair(t, testfixtures.TestRepoV1)
	opts := Options{Clock: clock, Accepted: accepted}
	if replica {
		opts.Replica = gcMiscounts
	}
	rep, err := Compare(context.Background(), o, r, Args{GC: &GCArgs{OlderThan: future, DryRun: true}}, opts)
	require.NoError(t, err)
	return rep
}

func TestDefaultAcceptedIsValid(t *testing.T) {
	require.NoError(t, ValidateAccepted(DefaultAccepted))
	require.NoError(t, ValidateAccepted([]Accepted{miscountEntry}))
}

// TestUnacceptedDifferenceFails is the baseline: without an entry the
// planted difference is a mismatch of exactly one field.
func TestUnacceptedDifferenceFails(t *testing.T) {
	rep := compareMiscount(t, []Accepted{}, true)
	assert.False(t, rep.OK())
	assert.False(t, rep.Passed())
	require.Len(t, rep.Mismatches, 1, rep.Text())
	assert.Equal(t, "gc.bytes_deleted", rep.Mismatches[0].Field)
	assert.Empty(t, rep.Accepted)
}

// TestMatchingEntryMovesTheDifference: an applicable entry explains the
// difference, which moves to Accepted; the tally sees it used.
func TestMatchingEntryMovesTheDifference(t *testing.T) {
	for _, entry := range []Accepted{
		miscountEntry,
		{Field: "gc.*", When: "replica=v1-miscounts", Reason: "test: prefix field", Link: "x"},
	} {
		rep := compareMiscount(t, []Accepted{entry}, true)
		assert.True(t, rep.OK(), rep.Text())
		assert.True(t, rep.Passed(), rep.Text())
		assert.Empty(t, rep.Mismatches)
		require.Len(t, rep.Accepted, 1)
		assert.Equal(t, "gc.bytes_deleted", rep.Accepted[0].Field)
		require.NotNil(t, rep.Accepted[0].AcceptedBy)
		assert.Equal(t, entry, *rep.Accepted[0].AcceptedBy)
		assert.Empty(t, rep.StaleAccepted)
		assert.Contains(t, rep.Text(), "accepted differences: 1")
		assert.Contains(t, rep.Text(), "because: "+entry.Reason)

		tally := NewTally([]Accepted{entry})
		tally.Add(rep)
		assert.Equal(t, 1, tally.Matches(entry))
		assert.Empty(t, tally.Stale())
		assert.NoError(t, tally.Check())
	}
}

// TestStaleEntryFails: an entry whose condition applies but whose
// difference no longer shows is stale: the report does not pass, and a
// tally over the run fails.
func TestStaleEntryFails(t *testing.T) {
	stale := miscountEntry
	stale.When = "spec=1 gc=true" // applies to the honest v1 too
	rep := compareMiscount(t, []Accepted{stale}, false)
	assert.True(t, rep.OK(), "no difference")
	assert.False(t, rep.Passed(), "but a stale entry")
	assert.Equal(t, []Accepted{stale}, rep.StaleAccepted)
	assert.Contains(t, rep.Text(), "stale accepted entries")
	assert.Contains(t, rep.Text(), "result: STALE ACCEPTED ENTRIES")

	tally := NewTally([]Accepted{stale})
	tally.Add(rep)
	assert.Equal(t, []Accepted{stale}, tally.Stale())
	err := tally.Check()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"gc.bytes_deleted" when "spec=1 gc=true"`)

	// Once another comparison needs it, the entry is no longer stale.
	tally.Add(compareMiscount(t, []Accepted{stale}, true))
	assert.NoError(t, tally.Check())
}

// TestEntryThatDoesNotApply: an entry whose condition does not hold is
// neither used nor stale in the report, but a tally over a run in which
// it never explained anything reports it.
func TestEntryThatDoesNotApply(t *testing.T) {
	spec2 := miscountEntry
	spec2.When = "spec=2"
	rep := compareMiscount(t, []Accepted{spec2}, true)
	assert.False(t, rep.OK(), "a spec-2 entry does not explain a spec-1 difference")
	assert.Empty(t, rep.StaleAccepted)
	tally := NewTally([]Accepted{spec2})
	tally.Add(rep)
	assert.Equal(t, []Accepted{spec2}, tally.Stale())
}

func TestWhenConditions(t *testing.T) {
	f := facts{spec: 1, original: "v2", replica: "v1", scenario: "/tmp/x/test-repo-v1",
		args: Args{Expire: &ExpireArgs{DeleteExpiredTags: true}, GC: &GCArgs{DryRun: true}}}
	for when, want := range map[string]bool{
		"":                               true,
		"spec=1":                         true,
		"spec=2":                         false,
		"original=v2 replica=v1":         true,
		"replica=v2":                     false,
		"expire=true gc=true":            true,
		"gc=false":                       false,
		"dry_run=true":                   true,
		"delete_expired_tags=true":       true,
		"delete_expired_branches=true":   false,
		"delete_expired_branches=false":  true,
		"scenario=*/test-repo-v1":        true,
		"scenario=*/split-repo-v1":       false,
		"spec=1 scenario=*/test-repo-v1": true,
		"scenario=/tmp/*":                true,
		"scenario=*tmp*repo*":            true,
		"scenario=*repo":                 false,
		"scenario=/tmp/x/test-repo-v1":   true,
	} {
		a := Accepted{Field: "x", When: when, Reason: "r", Link: "l"}
		require.NoError(t, a.Validate(), when)
		assert.Equal(t, want, a.applies(f), "When %q", when)
	}
	noGC := facts{spec: 1, args: Args{Expire: &ExpireArgs{}}}
	assert.True(t, Accepted{When: "dry_run=false gc=false"}.applies(noGC))
}

func TestWildcardMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true}, {"", "a", false}, {"*", "", true}, {"*", "a/b", true},
		{"a*", "abc", true}, {"*c", "abc", true}, {"a*c", "abc", true}, {"a*c", "ac", true},
		{"a*c", "ab", false}, {"ab*bc", "abc", false}, {"a*b*c", "a/x/b/y/c", true}, {"a*b*c", "acb", false},
		{"[", "[", true},
	} {
		assert.Equal(t, tc.want, wildcardMatch(tc.pattern, tc.s), "%q ~ %q", tc.pattern, tc.s)
	}
}

func TestValidateAcceptedRejects(t *testing.T) {
	ok := Accepted{Field: "gc.*", When: "spec=1", Reason: "r", Link: "l"}
	for name, tc := range map[string]struct {
		list []Accepted
		want string
	}{
		"empty field":     {[]Accepted{{When: "spec=1", Reason: "r", Link: "l"}}, "empty Field"},
		"empty reason":    {[]Accepted{{Field: "x", Link: "l"}}, "empty Reason"},
		"empty link":      {[]Accepted{{Field: "x", Reason: "r"}}, "empty Link"},
		"not key=value":   {[]Accepted{{Field: "x", When: "spec", Reason: "r", Link: "l"}}, "not KEY=VALUE"},
		"unknown key":     {[]Accepted{{Field: "x", When: "colour=red", Reason: "r", Link: "l"}}, `unknown key "colour"`},
		"bad spec":        {[]Accepted{{Field: "x", When: "spec=one", Reason: "r", Link: "l"}}, "spec="},
		"bad bool":        {[]Accepted{{Field: "x", When: "gc=yes", Reason: "r", Link: "l"}}, "true or false"},
		"empty scenario":  {[]Accepted{{Field: "x", When: "scenario=", Reason: "r", Link: "l"}}, "scenario= needs a value"},
		"listed twice":    {[]Accepted{ok, ok}, "listed twice"},
		"names the entry": {[]Accepted{ok, {Field: "y"}}, `entry 1: accepted difference "y" when "always"`},
	} {
		err := ValidateAccepted(tc.list)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
	}
	// Compare refuses to run with an invalid list.
	o, r, clock := memoryPair(t, testfixtures.TestRepoV1)
	_, err := Compare(context.Background(), o, r, Args{GC: &GCArgs{OlderThan: future}}, Options{Clock: clock, Accepted: []Accepted{{Field: "x"}}})
	assert.ErrorContains(t, err, "empty Reason")
}

func TestReportJSON(t *testing.T) {
	rep := compareMiscount(t, []Accepted{miscountEntry}, true)
	data, err := json.Marshal(rep)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(data, &got))
	for _, key := range []string{"ok", "passed", "args", "spec_version", "original", "replica", "notes", "mismatches", "accepted", "stale_accepted", "cross"} {
		assert.Contains(t, got, key)
	}
	assert.Equal(t, true, got["ok"])
	orig := got["original"].(map[string]any)
	for _, key := range []string{"actor", "store", "gc", "key_counts", "after"} {
		assert.Contains(t, orig, key)
	}
	assert.NotContains(t, orig, "keys", "the full key lists stay out of the JSON")
	assert.Equal(t, float64(0), orig["gc"].(map[string]any)["chunks_deleted"])
	acc := got["accepted"].([]any)[0].(map[string]any)
	assert.Equal(t, "gc.bytes_deleted", acc["field"])
	assert.Equal(t, miscountEntry.Reason, acc["accepted_by"].(map[string]any)["reason"])
	assert.Equal(t, map[string]any{"older_than": "2100-01-01T00:00:00Z", "dry_run": true}, got["args"].(map[string]any)["gc"])
}
