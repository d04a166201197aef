package source

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestReadSameSeedSameBytes(t *testing.T) {
	from, until := base, base.Add(20*time.Minute)
	a := mustNew(t, testConfig(1))
	b := mustNew(t, testConfig(1))
	ea := encode(a, mustRead(t, a, from, until, PartAll))
	eb := encode(b, mustRead(t, b, from, until, PartAll))
	if !bytes.Equal(ea, eb) {
		t.Fatal("two sources with seed 1 produced different data")
	}
	if again := encode(a, mustRead(t, a, from, until, PartAll)); !bytes.Equal(ea, again) {
		t.Fatal("reading the same range twice produced different data")
	}
	if len(ea) < 1_000_000 {
		t.Fatalf("encoded 20 minutes is only %d bytes; expected waveforms", len(ea))
	}
}

func TestReadDifferentSeedsDiffer(t *testing.T) {
	from, until := base, base.Add(10*time.Minute)
	a := mustRead(t, mustNew(t, testConfig(1)), from, until, PartAll)
	b := mustRead(t, mustNew(t, testConfig(2)), from, until, PartAll)
	if slices.Equal(a.Timestamps, b.Timestamps) {
		t.Error("seeds 1 and 2 have identical timestamps")
	}
	if slices.Equal(a.HighResTimestamps, b.HighResTimestamps) {
		t.Error("seeds 1 and 2 have identical high-res timestamps")
	}
	n := min(a.Len(), b.Len())
	if slices.Equal(a.Float64["ch4"][:n], b.Float64["ch4"][:n]) {
		t.Error("seeds 1 and 2 have identical ch4")
	}
	if slices.Equal(a.HighRes["speed"][:10], b.HighRes["speed"][:10]) {
		t.Error("seeds 1 and 2 have identical wind speed")
	}
}

// TestReadSplitEquivalence is the crash-resume property: reading (from,
// until] in one call equals reading it as consecutive sub-ranges split
// anywhere, including exactly on sample timestamps.
func TestReadSplitEquivalence(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		cfg := testConfig(rapid.Uint64().Draw(rt, "seed"))
		// Leave room before start and after the end for outages.
		start := MinTime.Add(time.Hour + time.Duration(rapid.Int64Range(0, int64(MaxTime.Sub(MinTime)-4*24*time.Hour)).Draw(rt, "start")))
		parts := rapid.SampledFrom([]Part{PartTimestamp, PartHighRes, PartTimestamp | PartHighRes, PartAll}).Draw(rt, "parts")
		maxSpan := 2 * 24 * time.Hour
		if parts&PartWaveforms != 0 {
			maxSpan = 15 * time.Minute
		}
		span := time.Duration(rapid.Int64Range(0, int64(maxSpan)).Draw(rt, "span"))
		from, until := start, start.Add(span)
		for i := range rapid.IntRange(0, 2).Draw(rt, "outages") {
			of := from.Add(time.Duration(rapid.Int64Range(-int64(time.Hour), int64(span)).Draw(rt, fmt.Sprintf("outage%d.from", i))))
			ou := of.Add(time.Duration(rapid.Int64Range(1, int64(6*time.Hour)).Draw(rt, fmt.Sprintf("outage%d.len", i))))
			cfg.Outages = append(cfg.Outages, Outage{From: of, Until: ou})
		}
		s, err := New(cfg)
		if err != nil {
			rt.Fatalf("New: %v", err)
		}
		whole := mustRead(rt, s, from, until, parts)
		// Split points: arbitrary instants, or exactly a sample timestamp.
		stamps := append(slices.Clone(whole.Timestamps), whole.HighResTimestamps...)
		var cuts []time.Time
		for i := range rapid.IntRange(0, 6).Draw(rt, "cuts") {
			if len(stamps) > 0 && rapid.Bool().Draw(rt, fmt.Sprintf("cut%d.onSample", i)) {
				cuts = append(cuts, TimeOf(stamps[rapid.IntRange(0, len(stamps)-1).Draw(rt, fmt.Sprintf("cut%d.sample", i))]))
			} else {
				cuts = append(cuts, from.Add(time.Duration(rapid.Int64Range(0, int64(span)).Draw(rt, fmt.Sprintf("cut%d.at", i)))))
			}
		}
		slices.SortFunc(cuts, time.Time.Compare)
		cuts = append(cuts, until)
		joined := mustRead(rt, s, from, cuts[0], parts)
		for i := 1; i < len(cuts); i++ {
			if err := joined.Append(mustRead(rt, s, cuts[i-1], cuts[i], parts)); err != nil {
				rt.Fatalf("Append: %v", err)
			}
		}
		if !joined.Until.Equal(until) {
			rt.Fatalf("joined batch ends %s, want %s", joined.Until, until)
		}
		if joined.Len() != whole.Len() || joined.HighResLen() != whole.HighResLen() {
			rt.Fatalf("split read has %d/%d samples, whole read %d/%d", joined.Len(), joined.HighResLen(), whole.Len(), whole.HighResLen())
		}
		if !bytes.Equal(encode(s, joined), encode(s, whole)) {
			rt.Fatalf("split read at %v differs from the whole read", cuts)
		}
		for _, ns := range append(slices.Clone(whole.Timestamps), whole.HighResTimestamps...) {
			for _, o := range cfg.Outages {
				if ns > o.From.UnixNano() && ns <= o.Until.UnixNano() {
					rt.Fatalf("sample at %s lies in outage (%s, %s]", TimeOf(ns), o.From, o.Until)
				}
			}
		}
	})
}

func TestReadBoundarySemantics(t *testing.T) {
	s := mustNew(t, testConfig(3))
	whole := mustRead(t, s, base, base.Add(time.Minute), PartTimestamp|PartHighRes)
	check := func(name string, stamps []int64, get func(*Batch) []int64) {
		t.Helper()
		if len(stamps) < 3 {
			t.Fatalf("%s: only %d samples in a minute", name, len(stamps))
		}
		prev, cur, next := TimeOf(stamps[0]), TimeOf(stamps[1]), TimeOf(stamps[2])
		// (prev, cur] holds cur only: from excluded, until included.
		if got := get(mustRead(t, s, prev, cur, PartTimestamp|PartHighRes)); !slices.Equal(got, []int64{stamps[1]}) {
			t.Errorf("%s: read (prev, cur] = %v, want [%d]", name, got, stamps[1])
		}
		// (cur-1ns, cur] holds cur.
		if got := get(mustRead(t, s, cur.Add(-time.Nanosecond), cur, PartTimestamp|PartHighRes)); !slices.Equal(got, []int64{stamps[1]}) {
			t.Errorf("%s: read (cur-1ns, cur] = %v, want [%d]", name, got, stamps[1])
		}
		// (cur, next-1ns] is empty.
		if got := get(mustRead(t, s, cur, next.Add(-time.Nanosecond), PartTimestamp|PartHighRes)); len(got) != 0 {
			t.Errorf("%s: read (cur, next-1ns] = %v, want none", name, got)
		}
		// (cur, cur] is empty.
		if got := get(mustRead(t, s, cur, cur, PartTimestamp|PartHighRes)); len(got) != 0 {
			t.Errorf("%s: read (cur, cur] = %v, want none", name, got)
		}
		// (cur, next] holds next only.
		if got := get(mustRead(t, s, cur, next, PartTimestamp|PartHighRes)); !slices.Equal(got, []int64{stamps[2]}) {
			t.Errorf("%s: read (cur, next] = %v, want [%d]", name, got, stamps[2])
		}
	}
	check(DimTimestamp, whole.Timestamps, func(b *Batch) []int64 { return b.Timestamps })
	check(DimHighRes, whole.HighResTimestamps, func(b *Batch) []int64 { return b.HighResTimestamps })
}

func TestReadEmptyRangeHasEveryColumn(t *testing.T) {
	s := mustNew(t, testConfig(4))
	b := mustRead(t, s, base, base, PartAll)
	if b.Len() != 0 || b.HighResLen() != 0 {
		t.Fatalf("empty range gave %d/%d samples", b.Len(), b.HighResLen())
	}
	for _, v := range s.Variables() {
		var ok bool
		switch {
		case v.Dimensions[0] == DimHighRes:
			_, ok = b.HighRes[v.Name]
		case len(v.Dimensions) == 2:
			_, ok = b.Waveforms[v.Name]
		case v.DType == "int32":
			_, ok = b.Int32[v.Name]
		default:
			_, ok = b.Float64[v.Name]
		}
		if !ok {
			t.Errorf("empty batch lacks column %s", v.Name)
		}
	}
}

func TestReadBadInput(t *testing.T) {
	s := mustNew(t, testConfig(5))
	cases := []struct {
		name        string
		from, until time.Time
		parts       Part
		want        error
	}{
		{"until before from", base, base.Add(-time.Nanosecond), PartAll, ErrInvalidRange},
		{"zero times", time.Time{}, time.Time{}, PartAll, ErrInvalidRange},
		{"before MinTime", MinTime.Add(-time.Second), MinTime.Add(time.Second), PartTimestamp, ErrInvalidRange},
		{"after MaxTime", MaxTime.Add(-time.Second), MaxTime.Add(time.Second), PartTimestamp, ErrInvalidRange},
		{"over 31 days", base, base.Add(MaxReadSpan + time.Nanosecond), PartTimestamp, ErrRangeTooLarge},
		{"waveforms over a day", base, base.Add(MaxWaveformReadSpan + time.Nanosecond), PartAll, ErrRangeTooLarge},
		{"waveforms only over a day", base, base.Add(25 * time.Hour), PartWaveforms, ErrRangeTooLarge},
		{"no parts", base, base.Add(time.Hour), 0, ErrInvalidParts},
		{"unknown part", base, base.Add(time.Hour), 0x80 | PartTimestamp, ErrInvalidParts},
	}
	for _, c := range cases {
		b, err := s.ReadParts(c.from, c.until, c.parts)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			continue
		}
		if b != nil {
			t.Errorf("%s: got a batch with the error", c.name)
		}
		if c.want != ErrInvalidParts && !strings.Contains(err.Error(), c.from.UTC().Format(time.RFC3339Nano)) {
			t.Errorf("%s: error %q does not name the range", c.name, err)
		}
	}
	// Without waveforms a 25-hour read is fine.
	if _, err := s.ReadParts(base, base.Add(25*time.Hour), PartHighRes); err != nil {
		t.Errorf("25-hour high-res read: %v", err)
	}
}

func TestAppendRejectsGapsAndPartMismatch(t *testing.T) {
	s := mustNew(t, testConfig(6))
	a := mustRead(t, s, base, base.Add(time.Minute), PartTimestamp)
	gap := mustRead(t, s, base.Add(2*time.Minute), base.Add(3*time.Minute), PartTimestamp)
	if err := a.Append(gap); !errors.Is(err, ErrInvalidRange) {
		t.Errorf("append with a gap: err = %v, want ErrInvalidRange", err)
	}
	other := mustRead(t, s, base.Add(time.Minute), base.Add(2*time.Minute), PartHighRes)
	if err := a.Append(other); !errors.Is(err, ErrInvalidParts) {
		t.Errorf("append of other parts: err = %v, want ErrInvalidParts", err)
	}
	if err := a.Append(nil); !errors.Is(err, ErrInvalidRange) {
		t.Errorf("append nil: err = %v, want ErrInvalidRange", err)
	}
	if !a.Until.Equal(base.Add(time.Minute)) {
		t.Errorf("failed appends moved Until to %s", a.Until)
	}
}

// TestReadRates checks the sample rates over a day and the timestamp grid.
func TestReadRates(t *testing.T) {
	s := mustNew(t, testConfig(7))
	b := mustRead(t, s, base, base.Add(24*time.Hour), PartTimestamp|PartHighRes)
	check := func(name string, stamps []int64, hz float64, period time.Duration) {
		want := 86400 * hz
		if got := float64(len(stamps)); math.Abs(got-want)/want > 0.01 {
			t.Errorf("%s: %v samples in a day, want %v ± 1%%", name, got, want)
		}
		lo, hi := period-period/4, period+period/4
		for i, ns := range stamps {
			if ns%1000 != 0 {
				t.Fatalf("%s: timestamp %d is not a whole microsecond", name, ns)
			}
			if ns <= base.UnixNano() || ns > base.Add(24*time.Hour).UnixNano() {
				t.Fatalf("%s: timestamp %s outside the read range", name, TimeOf(ns))
			}
			if i > 0 {
				d := time.Duration(ns - stamps[i-1])
				if d < lo || d > hi {
					t.Fatalf("%s: step %s at %d outside [%s, %s]", name, d, i, lo, hi)
				}
			}
		}
	}
	check(DimTimestamp, b.Timestamps, 0.7, TimestampPeriod)
	check(DimHighRes, b.HighResTimestamps, 2.2, HighResPeriod)
}

func TestReadOutageIsEmpty(t *testing.T) {
	cfg := testConfig(8)
	cfg.Outages = []Outage{{From: base.Add(time.Hour), Until: base.Add(2 * time.Hour)}}
	s := mustNew(t, cfg)
	if b := mustRead(t, s, base.Add(time.Hour), base.Add(2*time.Hour), PartAll); b.Len() != 0 || b.HighResLen() != 0 {
		t.Errorf("read inside the outage gave %d/%d samples", b.Len(), b.HighResLen())
	}
	b := mustRead(t, s, base, base.Add(3*time.Hour), PartTimestamp)
	if n := b.Len(); n < 4900 || n > 5200 {
		t.Errorf("3 hours with a 1-hour outage gave %d samples, want about 5040", n)
	}
}

func TestVariablesPresentAndInRange(t *testing.T) {
	s := mustNew(t, testConfig(9))
	b := mustRead(t, s, base, base.Add(24*time.Hour), PartTimestamp|PartHighRes)
	n, nh := b.Len(), b.HighResLen()
	seen := map[string]bool{}
	for _, v := range s.Variables() {
		if len(v.Dimensions) == 2 {
			continue // waveforms: TestWaveforms
		}
		seen[v.Name] = true
		var col []float64
		switch {
		case v.Dimensions[0] == DimHighRes:
			col = b.HighRes[v.Name]
			if len(col) != nh {
				t.Errorf("%s: %d values for %d samples", v.Name, len(col), nh)
			}
		case v.DType == "int32":
			ic := b.Int32[v.Name]
			if len(ic) != n {
				t.Errorf("%s: %d values for %d samples", v.Name, len(ic), n)
			}
			for _, x := range ic {
				col = append(col, float64(x))
			}
		default:
			col = b.Float64[v.Name]
			if len(col) != n {
				t.Errorf("%s: %d values for %d samples", v.Name, len(col), n)
			}
		}
		lo, hasLo := v.Attributes["valid_min"]
		hi := v.Attributes["valid_max"]
		for i, x := range col {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("%s[%d] = %v", v.Name, i, x)
			}
			if hasLo && (x < toF(lo) || x > toF(hi)) {
				t.Fatalf("%s[%d] = %v outside [%v, %v]", v.Name, i, x, lo, hi)
			}
		}
		if v.Name != "integration_time" && stddev(col) == 0 {
			t.Errorf("%s is constant over a day", v.Name)
		}
	}
	for name := range b.Float64 {
		if !seen[name] {
			t.Errorf("batch has undeclared float64 column %s", name)
		}
	}
	for name := range b.HighRes {
		if !seen[name] {
			t.Errorf("batch has undeclared high-res column %s", name)
		}
	}

	within := func(name string, col []float64, lo, hi float64) {
		t.Helper()
		mn, mx := slices.Min(col), slices.Max(col)
		if mn < lo || mx > hi {
			t.Errorf("%s spans [%v, %v], want within [%v, %v]", name, mn, mx, lo, hi)
		}
	}
	within("ch4", b.Float64["ch4"], 1.9, 2.1)
	within("h2o", b.Float64["h2o"], 0.5, 2)
	within("ch4_dry", b.Float64["ch4_dry"], 1.9, 2.15)
	within("path_length", b.Float64["path_length"], 300, 2500)
	within("scan_duration", b.Float64["scan_duration"], 1.07, 1.79)
	within("bearing", b.HighRes["bearing"], 0, 359.999999)
	within("speed", b.HighRes["speed"], 0, 25)
	within("sonictemp", b.HighRes["sonictemp"], -30, 45)
	within("ambient_temperature", b.Float64["ambient_temperature"], -30, 45)
	// ch4 drifts slowly (range over a day) and is noisy (sample to sample).
	ch4 := b.Float64["ch4"]
	if spread := slices.Max(ch4) - slices.Min(ch4); spread < 0.03 {
		t.Errorf("ch4 spread over a day is %v; expected drift", spread)
	}
	if d := stddev(diffs(ch4)); d < 0.003 || d > 0.03 {
		t.Errorf("ch4 sample-to-sample stddev %v, want noise about 0.006·√2", d)
	}
	// Wind components agree with speed and bearing.
	sp, wx, wy := b.HighRes["speed"], b.HighRes["windx"], b.HighRes["windy"]
	for i := range sp {
		if math.Abs(math.Hypot(wx[i], wy[i])-sp[i]) > 1e-9 {
			t.Fatalf("wind %d: |(%v, %v)| != speed %v", i, wx[i], wy[i], sp[i])
		}
	}
	// Validity: mostly 1, some 0.
	valid := b.Int32[varValidity]
	ones := 0
	for _, v := range valid {
		if v != 0 && v != 1 {
			t.Fatalf("measurement_validity value %d", v)
		}
		ones += int(v)
	}
	if f := float64(ones) / float64(len(valid)); f < 0.9 || f > 0.97 {
		t.Errorf("valid fraction %v, want about 0.94", f)
	}
	// The beam visits every retro in a day.
	visited := map[int32]bool{}
	for _, r := range b.Int32[varRetroIndex] {
		visited[r] = true
	}
	if len(visited) != s.Retro().Len() {
		t.Errorf("a day visits %d of %d retros", len(visited), s.Retro().Len())
	}
}

func TestWaveforms(t *testing.T) {
	s := mustNew(t, testConfig(10))
	b := mustRead(t, s, base, base.Add(5*time.Minute), PartWaveforms)
	if b.Parts != PartTimestamp|PartWaveforms {
		t.Errorf("Parts = %#x, want timestamp|waveforms", b.Parts)
	}
	if b.Len() < 200 {
		t.Fatalf("5 minutes gave %d samples", b.Len())
	}
	for _, name := range []string{"waveform_signal", "waveform_reference"} {
		if got := len(b.Waveforms[name]); got != b.Len()*WaveformSamples {
			t.Fatalf("%s has %d points for %d samples", name, got, b.Len())
		}
	}
	pos := b.Float64["peak_position"]
	for i := range b.Len() {
		row := b.WaveformRow("waveform_signal", i)
		if len(row) != WaveformSamples {
			t.Fatalf("row %d has %d points", i, len(row))
		}
		// Methane line minimum relative to the ramp, near peak_position.
		best, bestJ := math.Inf(1), -1
		for j, v := range row {
			if math.IsNaN(float64(v)) {
				t.Fatalf("row %d point %d is NaN", i, j)
			}
			ramp := 1 + 0.35*(float64(j)-lineCentre)/lineCentre
			if r := float64(v) / ramp; j > 250 && r < best {
				best, bestJ = r, j
			}
		}
		if math.Abs(float64(bestJ)-pos[i]) > 12 {
			t.Errorf("row %d: line minimum at %d, peak_position %v", i, bestJ, pos[i])
		}
	}
	if b.WaveformRow("waveform_signal", b.Len()) != nil || b.WaveformRow("nope", 0) != nil {
		t.Error("WaveformRow out of range or unknown name returned data")
	}
}

func toF(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int32:
		return float64(x)
	}
	panic(fmt.Sprintf("unexpected attribute type %T", v))
}

func stddev(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var m float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	var v float64
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return math.Sqrt(v / float64(len(xs)))
}

func diffs(xs []float64) []float64 {
	out := make([]float64, 0, len(xs))
	for i := 1; i < len(xs); i++ {
		out = append(out, xs[i]-xs[i-1])
	}
	return out
}
