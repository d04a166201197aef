package source

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Part selects the dimensions [Source.ReadParts] produces.
type Part uint8

// Parts of a read.
const (
	// PartTimestamp produces the timestamp coordinate and its float64 and
	// int32 variables.
	PartTimestamp Part = 1 << iota
	// PartHighRes produces the high-res coordinate and its wind variables.
	PartHighRes
	// PartWaveforms produces the waveform variables. It implies
	// PartTimestamp: waveforms are drawn from the per-timestamp fit values.
	PartWaveforms
	// PartAll produces everything; [Source.Read] uses it.
	PartAll = PartTimestamp | PartHighRes | PartWaveforms
)

// Read span limits, to refuse giant allocations.
const (
	// MaxReadSpan is the longest range one read accepts.
	MaxReadSpan = 31 * 24 * time.Hour
	// MaxWaveformReadSpan is the longest range a read including
	// [PartWaveforms] accepts (a day is about 60 480 × 740 × 2 float32s).
	MaxWaveformReadSpan = 24 * time.Hour
)

// ErrInvalidParts reports a [Part] set that is empty or has unknown bits.
var ErrInvalidParts = errors.New("invalid read parts")

// Batch is the data of one read of (From, Until], as columns. Slices of one
// dimension have equal lengths; every requested column is present (possibly
// empty) and columns of parts not requested are nil.
type Batch struct {
	// From and Until are the read's bounds (UTC).
	From, Until time.Time
	// Parts is the set of parts the batch holds (PartWaveforms implies
	// PartTimestamp).
	Parts Part
	// Timestamps are the [DimTimestamp] sample times in nanoseconds since
	// the epoch (whole microseconds), strictly increasing.
	Timestamps []int64
	// Float64 and Int32 hold the [DimTimestamp] variables by name.
	Float64 map[string][]float64
	Int32   map[string][]int32
	// HighResTimestamps are the [DimHighRes] sample times, like Timestamps.
	HighResTimestamps []int64
	// HighRes holds the [DimHighRes] variables by name.
	HighRes map[string][]float64
	// Waveforms holds the waveform variables by name, row-major: the
	// [WaveformSamples] points of timestamp i are [i*740, (i+1)*740).
	Waveforms map[string][]float32
}

// Len is the number of [DimTimestamp] samples.
func (b *Batch) Len() int { return len(b.Timestamps) }

// HighResLen is the number of [DimHighRes] samples.
func (b *Batch) HighResLen() int { return len(b.HighResTimestamps) }

// WaveformRow returns the waveform of the named variable at timestamp index i,
// or nil when there is no such variable or row. The slice aliases the batch.
func (b *Batch) WaveformRow(name string, i int) []float32 {
	w, ok := b.Waveforms[name]
	if !ok || i < 0 || i >= b.Len() {
		return nil
	}
	return w[i*WaveformSamples : (i+1)*WaveformSamples : (i+1)*WaveformSamples]
}

// Append appends next, the batch of the range that starts where b ends, to b
// and extends b.Until. Reads of (a, b] and (b, c] appended give exactly the
// read of (a, c]. It fails, leaving b unchanged, when next does not start at
// b.Until or holds other parts.
func (b *Batch) Append(next *Batch) error {
	if next == nil {
		return fmt.Errorf("source: append: nil batch: %w", ErrInvalidRange)
	}
	if !next.From.Equal(b.Until) {
		return fmt.Errorf("source: append batch (%s, %s] to batch ending %s: not contiguous: %w",
			next.From.Format(time.RFC3339Nano), next.Until.Format(time.RFC3339Nano), b.Until.Format(time.RFC3339Nano), ErrInvalidRange)
	}
	if next.Parts != b.Parts {
		return fmt.Errorf("source: append batch with parts %#x to batch with parts %#x: %w", next.Parts, b.Parts, ErrInvalidParts)
	}
	b.Until = next.Until
	b.Timestamps = appendNonNil(b.Timestamps, next.Timestamps)
	b.HighResTimestamps = appendNonNil(b.HighResTimestamps, next.HighResTimestamps)
	for k, v := range next.Float64 {
		b.Float64[k] = append(b.Float64[k], v...)
	}
	for k, v := range next.Int32 {
		b.Int32[k] = append(b.Int32[k], v...)
	}
	for k, v := range next.HighRes {
		b.HighRes[k] = append(b.HighRes[k], v...)
	}
	for k, v := range next.Waveforms {
		b.Waveforms[k] = append(b.Waveforms[k], v...)
	}
	return nil
}

func appendNonNil[T any](a, b []T) []T {
	if a == nil && b == nil {
		return nil
	}
	return append(a, b...)
}

// Read returns every sample of every dimension whose timestamp t satisfies
// from < t <= until: a sample exactly at from is excluded, one exactly at
// until is included. Reading a range in one call or as consecutive
// sub-ranges gives identical data. from == until gives an empty batch; until
// before from, a bound outside [MinTime, MaxTime] or a range longer than
// [MaxWaveformReadSpan] is an error.
func (s *Source) Read(from, until time.Time) (*Batch, error) {
	return s.ReadParts(from, until, PartAll)
}

// ReadParts is [Source.Read] restricted to the given parts. Without
// [PartWaveforms] the range may be up to [MaxReadSpan] long.
func (s *Source) ReadParts(from, until time.Time, parts Part) (*Batch, error) {
	if parts == 0 || parts&^PartAll != 0 {
		return nil, fmt.Errorf("source: read parts %#x: %w", parts, ErrInvalidParts)
	}
	if parts&PartWaveforms != 0 {
		parts |= PartTimestamp
	}
	from, until = from.UTC(), until.UTC()
	rng := fmt.Sprintf("(%s, %s]", from.Format(time.RFC3339Nano), until.Format(time.RFC3339Nano))
	if from.Before(MinTime) || until.After(MaxTime) || until.Before(MinTime) || from.After(MaxTime) {
		return nil, fmt.Errorf("source: read %s: outside [%s, %s]: %w", rng,
			MinTime.Format(time.RFC3339), MaxTime.Format(time.RFC3339), ErrInvalidRange)
	}
	if until.Before(from) {
		return nil, fmt.Errorf("source: read %s: until is before from: %w", rng, ErrInvalidRange)
	}
	limit := MaxReadSpan
	if parts&PartWaveforms != 0 {
		limit = MaxWaveformReadSpan
	}
	if span := until.Sub(from); span > limit {
		return nil, fmt.Errorf("source: read %s: span %s exceeds the limit %s for parts %#x: %w",
			rng, span, limit, parts, ErrRangeTooLarge)
	}
	b := &Batch{From: from, Until: until, Parts: parts}
	fromNS, untilNS := from.UnixNano(), until.UnixNano()
	if parts&PartTimestamp != 0 {
		ks := s.ts.indices(nil, fromNS, untilNS, s.outages)
		c := s.timestampColumns(ks)
		b.Timestamps, b.Float64, b.Int32 = c.ts, c.f64, c.i32
		if parts&PartWaveforms != 0 {
			b.Waveforms = s.waveforms(c)
		}
	}
	if parts&PartHighRes != 0 {
		ks := s.hr.indices(nil, fromNS, untilNS, s.outages)
		c := s.highResColumns(ks)
		b.HighResTimestamps, b.HighRes = c.ts, c.f64
	}
	return b, nil
}

// columns is the work area of one dimension of one read.
type columns struct {
	ks, ts     []int64
	cosT, sinT []float64 // time of day as an angle
	f64        map[string][]float64
	i32        map[string][]int32
	retro      []int32
}

const nanosPerDay = 86400e9

func (s *Source) newColumns(ks []int64, c clock) *columns {
	n := len(ks)
	col := &columns{
		ks: ks, ts: make([]int64, n),
		cosT: make([]float64, n), sinT: make([]float64, n),
		f64: make(map[string][]float64),
	}
	for i, k := range ks {
		ns := c.nanos(k)
		col.ts[i] = ns
		a := 2 * math.Pi * float64(floorMod(ns, nanosPerDay)) / nanosPerDay
		col.sinT[i], col.cosT[i] = math.Sincos(a)
	}
	return col
}

func (s *Source) timestampColumns(ks []int64) *columns {
	c := s.newColumns(ks, s.ts)
	n := len(ks)
	nr := int64(s.retro.Len())
	retro, valid := make([]int32, n), make([]int32, n)
	vkey := streamKey(s.seed, varValidity, "noise")
	for i, k := range ks {
		dwell := floorDiv(k, retroDwell)
		retro[i] = int32(floorMod(dwell, nr))
		valid[i] = 1
		if k-dwell*retroDwell == 0 || at(vkey, k)%1000 < invalidPerMille {
			valid[i] = 0
		}
	}
	c.retro = retro
	c.i32 = map[string][]int32{varValidity: valid, varRetroIndex: retro}
	s.fillModels(c, s.tsModels, tsSlowKnot, tsFastKnot)
	return c
}

func (s *Source) highResColumns(ks []int64) *columns {
	c := s.newColumns(ks, s.hr)
	s.fillModels(c, s.hrModels, hrSlowKnot, hrFastKnot)
	return c
}

// fillModels fills the independent models first, then the derived ones in
// table order (a derived model reads only columns before it or independent).
func (s *Source) fillModels(c *columns, ms []*model, slowKnot, fastKnot int64) {
	for _, m := range ms {
		c.f64[m.name] = make([]float64, len(c.ks))
		if m.derive == nil {
			m.fill(c, c.f64[m.name], slowKnot, fastKnot)
		}
	}
	for _, m := range ms {
		if m.derive != nil {
			m.derive(s, m, c, c.f64[m.name])
		}
	}
}

func (m *model) fill(c *columns, dst []float64, slowKnot, fastKnot int64) {
	slow := smoothNoise{key: m.slowKey, knot: slowKnot}
	fast := smoothNoise{key: m.fastKey, knot: fastKnot}
	sp, cp := math.Sincos(2 * math.Pi * m.peak / 24)
	for i, k := range c.ks {
		v := m.base
		if m.slow != 0 {
			v += m.slow * slow.value(k)
		}
		if m.fast != 0 {
			v += m.fast * fast.value(k)
		}
		if m.diurnal != 0 {
			v += m.diurnal * (c.cosT[i]*cp + c.sinT[i]*sp) // cos(time of day − peak)
		}
		if m.noise != 0 {
			v += m.noise * gauss(at(m.noiseKey, k))
		}
		dst[i] = m.bound(v)
	}
}

// bound wraps or clamps v into the model's range.
func (m *model) bound(v float64) float64 {
	switch {
	case m.wrap > 0:
		v = math.Mod(v, m.wrap)
		if v < 0 {
			v += m.wrap
		}
	case m.lo < m.hi:
		v = min(max(v, m.lo), m.hi)
	}
	return v
}

// noiseAt is the model's own noise term at sample k.
func (m *model) noiseAt(k int64) float64 {
	if m.noise == 0 {
		return 0
	}
	return m.noise * gauss(at(m.noiseKey, k))
}

func deriveCH4Dry(_ *Source, m *model, c *columns, dst []float64) {
	ch4, h2o := c.f64["ch4"], c.f64["h2o"]
	for i := range dst {
		dst[i] = m.bound(ch4[i] / (1 - h2o[i]/100))
	}
}

func derivePathLength(s *Source, m *model, c *columns, dst []float64) {
	for i, k := range c.ks {
		dst[i] = m.bound(s.site.path[c.retro[i]] + m.noiseAt(k))
	}
}

func deriveCH4Path(_ *Source, _ *model, c *columns, dst []float64) {
	ch4, path := c.f64["ch4"], c.f64["path_length"]
	for i := range dst {
		dst[i] = ch4[i] * path[i]
	}
}

// lineCentre is the nominal waveform index of the methane line.
const lineCentre = WaveformSamples / 2

func derivePeakPosition(_ *Source, _ *model, c *columns, dst []float64) {
	shift := c.f64["shift"]
	for i := range dst {
		dst[i] = lineCentre + shift[i]
	}
}

func deriveAirDensity(_ *Source, _ *model, c *columns, dst []float64) {
	p, t := c.f64["ambient_pressure"], c.f64["ambient_temperature"]
	for i := range dst {
		dst[i] = p[i] * 100 / (8.314462618 * (t[i] + 273.15))
	}
}

func derivePan(s *Source, m *model, c *columns, dst []float64) {
	for i, k := range c.ks {
		dst[i] = s.site.azimuth[c.retro[i]] + m.noiseAt(k)
	}
}

func deriveTilt(s *Source, m *model, c *columns, dst []float64) {
	for i, k := range c.ks {
		dst[i] = s.site.elevation[c.retro[i]] + m.noiseAt(k)
	}
}

func deriveScanDuration(s *Source, _ *model, c *columns, dst []float64) {
	for i, k := range c.ks {
		dst[i] = float64(c.ts[i]-s.ts.nanos(k-1)) / 1e9
	}
}

func deriveGPSLat(s *Source, m *model, c *columns, dst []float64) {
	for i, k := range c.ks {
		dst[i] = s.site.lat + m.noiseAt(k)
	}
}

func deriveGPSLon(s *Source, m *model, c *columns, dst []float64) {
	for i, k := range c.ks {
		dst[i] = s.site.lon + m.noiseAt(k)
	}
}

func deriveGPSAlt(s *Source, m *model, c *columns, dst []float64) {
	for i, k := range c.ks {
		dst[i] = s.site.alt + m.noiseAt(k)
	}
}

// Wind components follow the meteorological convention: bearing is where the
// wind blows from, so a wind from the north (0°) has a negative windy.
func deriveWindX(_ *Source, _ *model, c *columns, dst []float64) {
	speed, bearing := c.f64["speed"], c.f64["bearing"]
	for i := range dst {
		dst[i] = -speed[i] * math.Sin(bearing[i]*math.Pi/180)
	}
}

func deriveWindY(_ *Source, _ *model, c *columns, dst []float64) {
	speed, bearing := c.f64["speed"], c.f64["bearing"]
	for i := range dst {
		dst[i] = -speed[i] * math.Cos(bearing[i]*math.Pi/180)
	}
}

// lorentz is a unit-height Lorentzian line of half width w at distance d.
func lorentz(d, w float64) float64 {
	x := d / w
	return 1 / (1 + x*x)
}

// waveforms draws the waveform variables from the timestamp columns: a laser
// ramp times (1 − methane line − water line) plus noise for the signal, and a
// ramp with a fixed-depth line for the reference cell.
func (s *Source) waveforms(c *columns) map[string][]float32 {
	n := len(c.ks)
	sig := make([]float32, n*WaveformSamples)
	ref := make([]float32, n*WaveformSamples)
	sm, rm := s.waveModels[0], s.waveModels[1]
	ch4p, h2o, path := c.f64["ch4_path_integrated"], c.f64["h2o"], c.f64["path_length"]
	shift, width, level, rms := c.f64["shift"], c.f64["peak_width"], c.f64["signal_level"], c.f64["residual_rms"]
	const h2oCentre = 180
	for i, k := range c.ks {
		centre := lineCentre + shift[i]
		hw := width[i] / 2
		depth := ch4p[i] * 2.5e-5
		depthW := h2o[i] * path[i] * 1e-5
		sh, rh := at(sm.noiseKey, k), at(rm.noiseKey, k)
		row, rrow := sig[i*WaveformSamples:(i+1)*WaveformSamples], ref[i*WaveformSamples:(i+1)*WaveformSamples]
		for j := range row {
			fj := float64(j)
			x := (fj - lineCentre) / lineCentre
			absorb := depth*lorentz(fj-centre, hw) + depthW*lorentz(fj-h2oCentre-shift[i], 11)
			row[j] = float32(level[i]*(1+0.35*x)*(1-absorb) + rms[i]*gauss(mix64(sh+uint64(j)*golden)))
			rrow[j] = float32(1.8*(1+0.3*x)*(1-0.3*lorentz(fj-centre, 12)) + 0.0005*gauss(mix64(rh+uint64(j)*golden)))
		}
	}
	return map[string][]float32{sm.name: sig, rm.name: ref}
}
