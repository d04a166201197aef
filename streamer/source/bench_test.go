package source

import (
	"testing"
	"time"
)

// batchBytes is the in-memory size of a batch's columns.
func batchBytes(b *Batch) int64 {
	n := int64(8 * (len(b.Timestamps) + len(b.HighResTimestamps)))
	for _, c := range b.Float64 {
		n += int64(8 * len(c))
	}
	for _, c := range b.Int32 {
		n += int64(4 * len(c))
	}
	for _, c := range b.HighRes {
		n += int64(8 * len(c))
	}
	for _, c := range b.Waveforms {
		n += int64(4 * len(c))
	}
	return n
}

func benchRead(b *testing.B, span time.Duration, parts Part) {
	s := mustNew(b, testConfig(1))
	first := mustRead(b, s, base, base.Add(span), parts)
	b.SetBytes(batchBytes(first))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.ReadParts(base, base.Add(span), parts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(first.Len()), "timestamps/op")
	b.ReportMetric(float64(first.HighResLen()), "highres/op")
}

// One day of the minimal per-timestamp variables (no high-res, no waveforms).
func BenchmarkReadDayTimestamp(b *testing.B) { benchRead(b, 24*time.Hour, PartTimestamp) }

// One day of the per-timestamp and high-res variables.
func BenchmarkReadDayTimestampHighRes(b *testing.B) {
	benchRead(b, 24*time.Hour, PartTimestamp|PartHighRes)
}

// One hour of everything, waveforms included.
func BenchmarkReadHourAll(b *testing.B) { benchRead(b, time.Hour, PartAll) }

// One default streaming window (15 minutes) of everything.
func BenchmarkReadWindowAll(b *testing.B) { benchRead(b, 15*time.Minute, PartAll) }
