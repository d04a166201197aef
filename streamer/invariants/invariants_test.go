package invariants

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPredicates(t *testing.T) {
	require.NoError(t, StrictlyIncreasing("timestamp", nil))
	require.NoError(t, StrictlyIncreasing("timestamp", []int64{1, 2, 5}))
	err := StrictlyIncreasing("timestamp", []int64{1, 3, 3})
	require.ErrorIs(t, err, ErrViolation)
	assert.Contains(t, err.Error(), "row 2")
	require.ErrorIs(t, StrictlyIncreasing("timestamp", []int64{4, 2}), ErrViolation)

	require.NoError(t, NoDuplicates("timestamp", []int64{3, 1, 2}))
	err = NoDuplicates("high_res_timestamp", []int64{3, 1, 3})
	require.ErrorIs(t, err, ErrViolation)
	assert.Contains(t, err.Error(), "rows 0 and 2")
	assert.Contains(t, err.Error(), "high_res_timestamp")

	require.NoError(t, RowsMatch("timestamp", 630, 630))
	require.ErrorIs(t, RowsMatch("timestamp", 629, 630), ErrViolation)

	require.NoError(t, WithinWindow("timestamp", []int64{11, 20}, 10, 20))
	require.ErrorIs(t, WithinWindow("timestamp", []int64{10}, 10, 20), ErrViolation, "from is excluded")
	require.ErrorIs(t, WithinWindow("timestamp", []int64{21}, 10, 20), ErrViolation)

	require.NoError(t, Continues("timestamp", 5, true, []int64{6}))
	require.NoError(t, Continues("timestamp", 5, false, []int64{1}))
	require.ErrorIs(t, Continues("timestamp", 5, true, []int64{5}), ErrViolation)
}

func TestCheckCommit(t *testing.T) {
	ok := Commit{Dim: "timestamp", From: 10, Until: 20, Produced: 2, RowsBefore: 3, RowsAfter: 5, Tail: []int64{9, 12, 20}}
	require.NoError(t, CheckCommit(ok))
	first := Commit{Dim: "timestamp", From: 0, Until: 20, Produced: 2, RowsBefore: 0, RowsAfter: 2, Tail: []int64{1, 2}}
	require.NoError(t, CheckCommit(first))
	empty := Commit{Dim: "timestamp", From: 10, Until: 20, Produced: 0, RowsBefore: 3, RowsAfter: 3, Tail: []int64{9}}
	require.NoError(t, CheckCommit(empty))

	for name, mod := range map[string]func(c *Commit){
		"rows lost":        func(c *Commit) { c.RowsAfter = 4; c.Tail = c.Tail[:2] },
		"rows doubled":     func(c *Commit) { c.Produced = 1 },
		"short tail":       func(c *Commit) { c.Tail = c.Tail[1:] },
		"repeat":           func(c *Commit) { c.Tail = []int64{12, 12, 20} },
		"before window":    func(c *Commit) { c.Tail = []int64{1, 9, 20} },
		"after window":     func(c *Commit) { c.Tail = []int64{9, 12, 21} },
		"decreasing":       func(c *Commit) { c.Tail = []int64{9, 20, 12} },
		"overlaps history": func(c *Commit) { c.Tail = []int64{15, 12, 20} },
	} {
		c := ok
		c.Tail = append([]int64(nil), ok.Tail...)
		mod(&c)
		require.ErrorIs(t, CheckCommit(c), ErrViolation, name)
	}
}
