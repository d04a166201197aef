package statemachine

import (
	"testing"

	"pgregory.net/rapid"
)

// BenchmarkCrossVersionMachine measures the CrossVersion machine (both
// library versions on a spec-1 repository) per backend: one rapid check
// of defaultSteps actions per iteration, each followed by the invariant
// over every actor. It reports steps/s (ops and invariant checks counted
// together as the trace's lines).
func BenchmarkCrossVersionMachine(b *testing.B) {
	for _, backend := range []Backend{BackendMemory, BackendLocal} {
		b.Run(string(backend), func(b *testing.B) {
			cfg := Config{Actors: crossActors(b), Specs: []int{1}, Backend: backend}
			if err := cfg.normalize(); err != nil {
				b.Fatal(err)
			}
			withFlag(b, "rapid.checks", "1", true)
			rec := &Recorder{}
			steps := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rapid.Check(b, cfg.property(rec))
				if tr := rec.LastRun(); tr != nil {
					steps += len(tr.Steps)
				}
			}
			b.ReportMetric(float64(steps)/b.Elapsed().Seconds(), "steps/s")
			b.ReportMetric(float64(steps)/float64(b.N), "steps/run")
		})
	}
}
