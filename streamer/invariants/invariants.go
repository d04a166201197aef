// Package invariants holds the runtime invariants of the streamer as pure
// predicates over timestamps and row counts. The streamer checks them after
// every commit, and the rig's state machine checks the same predicates
// against its model, so both agree on what "no sample twice, none skipped"
// means.
//
// Timestamps are int64 nanoseconds (or any other integer unit, as long as
// one check uses one unit throughout). Every predicate returns nil when the
// invariant holds and otherwise an error wrapping ErrViolation that names the
// dimension and the offending position.
package invariants

import (
	"errors"
	"fmt"
)

// ErrViolation is wrapped by every error this package returns.
var ErrViolation = errors.New("streamer invariant violated")

// StrictlyIncreasing checks that ts[i-1] < ts[i] for every i: time moves
// forward and no timestamp repeats. dim names the dimension in the error.
func StrictlyIncreasing(dim string, ts []int64) error {
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			return fmt.Errorf("%w: %s: timestamps not strictly increasing at row %d: %d after %d", ErrViolation, dim, i, ts[i], ts[i-1])
		}
	}
	return nil
}

// NoDuplicates checks that no timestamp occurs twice, whatever the order.
func NoDuplicates(dim string, ts []int64) error {
	seen := make(map[int64]int, len(ts))
	for i, t := range ts {
		if j, ok := seen[t]; ok {
			return fmt.Errorf("%w: %s: timestamp %d at rows %d and %d", ErrViolation, dim, t, j, i)
		}
		seen[t] = i
	}
	return nil
}

// RowsMatch checks that a commit added exactly as many rows as the source
// produced for its window.
func RowsMatch(dim string, committed, produced int) error {
	if committed != produced {
		return fmt.Errorf("%w: %s: %d rows committed for a window the source produced %d rows for", ErrViolation, dim, committed, produced)
	}
	return nil
}

// WithinWindow checks that every timestamp lies in the window (from, until]
// (from excluded, until included), the read interval of the source.
func WithinWindow(dim string, ts []int64, from, until int64) error {
	for i, t := range ts {
		if t <= from || t > until {
			return fmt.Errorf("%w: %s: row %d timestamp %d outside the window (%d, %d]", ErrViolation, dim, i, t, from, until)
		}
	}
	return nil
}

// Continues checks that appended rows start strictly after the last row
// committed before (when there was one): a resumed window neither repeats
// nor reorders data.
func Continues(dim string, prevLast int64, hadPrev bool, appended []int64) error {
	if !hadPrev || len(appended) == 0 {
		return nil
	}
	if appended[0] <= prevLast {
		return fmt.Errorf("%w: %s: first appended timestamp %d is not after the last committed one %d", ErrViolation, dim, appended[0], prevLast)
	}
	return nil
}

// Commit describes what one commit did to one dimension.
type Commit struct {
	// Dim names the dimension ("timestamp", "high_res_timestamp").
	Dim string
	// From and Until are the window bounds, in the timestamps' unit.
	From, Until int64
	// Produced is the number of rows the source produced for the window.
	Produced int
	// RowsBefore and RowsAfter are the dimension's lengths before and after
	// the commit.
	RowsBefore, RowsAfter int
	// Tail holds the committed timestamps from row max(RowsBefore-1, 0) to
	// RowsAfter: the last row before the commit (when there was one)
	// followed by every appended row.
	Tail []int64
}

// CheckCommit applies every invariant to one commit: rows committed equal
// rows produced, the tail read back has the right length, is strictly
// increasing (hence free of duplicates) across the old/new boundary, and
// the appended rows lie in the window.
func CheckCommit(c Commit) error {
	if err := RowsMatch(c.Dim, c.RowsAfter-c.RowsBefore, c.Produced); err != nil {
		return err
	}
	want := c.RowsAfter - c.RowsBefore
	hadPrev := c.RowsBefore > 0
	if hadPrev {
		want++
	}
	if len(c.Tail) != want {
		return fmt.Errorf("%w: %s: read back %d timestamps, want %d", ErrViolation, c.Dim, len(c.Tail), want)
	}
	if err := StrictlyIncreasing(c.Dim, c.Tail); err != nil {
		return err
	}
	appended := c.Tail
	if hadPrev {
		appended = c.Tail[1:]
		if err := Continues(c.Dim, c.Tail[0], true, appended); err != nil {
			return err
		}
	}
	return WithinWindow(c.Dim, appended, c.From, c.Until)
}
