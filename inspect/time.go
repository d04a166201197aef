package inspect

import (
	"encoding/json"
	"fmt"
	"time"
)

// TimeLayout is the layout of every time in the reports: RFC 3339 in UTC
// with exactly six fractional digits.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// Time is a time.Time whose JSON form is TimeLayout
// ("2024-10-29T15:49:32.123456Z"). Decoding accepts any RFC 3339 time.
type Time struct {
	time.Time
}

// FormatTime renders t in TimeLayout (converted to UTC, truncated to
// microseconds).
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// MarshalJSON writes the time as a TimeLayout string.
func (t Time) MarshalJSON() ([]byte, error) {
	return json.Marshal(FormatTime(t.Time))
}

// UnmarshalJSON reads an RFC 3339 string.
func (t *Time) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("time: want an RFC 3339 string: %w", err)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("time %q: %w", s, err)
	}
	t.Time = v.UTC()
	return nil
}
