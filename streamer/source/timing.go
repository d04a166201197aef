package source

import (
	"math"
	"time"
)

// Dimension names of the instrument data model.
const (
	// DimTimestamp is the main measurement dimension (~0.7 Hz).
	DimTimestamp = "timestamp"
	// DimHighRes is the sonic anemometer dimension (~2.2 Hz).
	DimHighRes = "high_res_timestamp"
	// DimSample is the waveform sample dimension ([WaveformSamples] long).
	DimSample = "sample"
	// DimRetro is the retro-reflector dimension (14 to 32 entries).
	DimRetro = "retro"
)

// Nominal sample periods. Actual timestamps add a deterministic jitter in
// [0, period/4) to the nominal grid (see the package documentation).
const (
	// TimestampPeriod is the nominal period of [DimTimestamp] (1/0.7 s).
	TimestampPeriod = 1428571 * time.Microsecond
	// HighResPeriod is the nominal period of [DimHighRes] (1/2.2 s).
	HighResPeriod = 454545 * time.Microsecond
)

// TimestampUnits describes the timestamp columns of a [Batch].
const TimestampUnits = "nanoseconds since 1970-01-01T00:00:00Z"

// The range of times the source accepts. Inside it every sample timestamp,
// held as float64 seconds since the epoch, round-trips exactly through
// [NanosToSeconds] and [SecondsToNanos].
var (
	// MinTime is the earliest time accepted by the source.
	MinTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	// MaxTime is the latest time accepted by the source.
	MaxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// NanosToSeconds converts a timestamp (nanoseconds since the epoch) to float64
// seconds since the epoch, the form a float64 zarr array stores. For the
// timestamps the source produces (whole microseconds between [MinTime] and
// [MaxTime]) [SecondsToNanos] recovers the exact value.
func NanosToSeconds(ns int64) float64 {
	sec := floorDiv(ns, 1e9)
	return float64(sec) + float64(ns-sec*1e9)/1e9
}

// SecondsToNanos converts float64 seconds since the epoch back to nanoseconds,
// rounded to the nearest whole microsecond (the resolution of the source's
// timestamps). Non-finite input or input outside the int64 nanosecond range
// yields false.
func SecondsToNanos(s float64) (int64, bool) {
	if math.IsNaN(s) || math.IsInf(s, 0) || math.Abs(s) > 9.2e9 {
		return 0, false
	}
	whole := math.Floor(s)
	frac := s - whole // exact: whole and s share their exponent range
	us := int64(whole)*1e6 + int64(math.Round(frac*1e6))
	return us * 1e3, true
}

// NanosToMicros converts nanoseconds since the epoch to whole microseconds,
// the form an int64 microsecond zarr array stores (exact for source timestamps).
func NanosToMicros(ns int64) int64 { return floorDiv(ns, 1e3) }

// MicrosToNanos converts microseconds since the epoch to nanoseconds.
func MicrosToNanos(us int64) int64 { return us * 1e3 }

// TimeOf converts nanoseconds since the epoch to a UTC time.Time.
func TimeOf(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// clock is the sample grid of one dimension: sample k lies at
// offset + k*period + jitter(k) microseconds, with jitter(k) in [0, jitter).
// Because jitter < period, timestamps strictly increase with k.
type clock struct {
	period int64 // µs
	jitter int64 // µs, exclusive bound
	offset int64 // µs, in [0, period)
	key    uint64
}

func newClock(seed uint64, dim string, period time.Duration) clock {
	p := period.Microseconds()
	return clock{
		period: p,
		jitter: p / 4,
		offset: int64(at(streamKey(seed, dim, "offset"), 0) % uint64(p)),
		key:    streamKey(seed, dim, "jitter"),
	}
}

// nanos is the timestamp of sample k in nanoseconds since the epoch.
func (c clock) nanos(k int64) int64 {
	j := int64(at(c.key, k) % uint64(c.jitter))
	return (c.offset + k*c.period + j) * 1e3
}

// firstAfter is the smallest k whose timestamp is strictly after ns.
func (c clock) firstAfter(ns int64) int64 {
	// Every sample at or below k0 lies strictly before floorDiv(ns, 1000) µs.
	k := floorDiv(floorDiv(ns, 1e3)-c.offset-c.jitter, c.period)
	for c.nanos(k) <= ns {
		k++
	}
	return k
}

// indices appends the sample indices whose timestamps fall in (from, until]
// (nanoseconds) and outside every outage, in increasing order.
func (c clock) indices(dst []int64, from, until int64, outages []outage) []int64 {
	for _, piece := range subtract(from, until, outages) {
		for k, end := c.firstAfter(piece[0]), c.firstAfter(piece[1]); k < end; k++ {
			dst = append(dst, k)
		}
	}
	return dst
}

// count is the number of samples indices would produce.
func (c clock) count(from, until int64, outages []outage) int64 {
	var n int64
	for _, piece := range subtract(from, until, outages) {
		n += c.firstAfter(piece[1]) - c.firstAfter(piece[0])
	}
	return n
}

// outage is a half-open interval (from, until] in nanoseconds.
type outage struct{ from, until int64 }

// subtract returns the pieces of (from, until] outside the outages, which are
// sorted by start and do not overlap. Each piece is a half-open (a, b].
func subtract(from, until int64, outages []outage) [][2]int64 {
	var out [][2]int64
	cur := from
	for _, o := range outages {
		if o.until <= cur {
			continue
		}
		if o.from >= until {
			break
		}
		if o.from > cur {
			out = append(out, [2]int64{cur, o.from})
		}
		cur = o.until
		if cur >= until {
			return out
		}
	}
	if cur < until {
		out = append(out, [2]int64{cur, until})
	}
	return out
}
