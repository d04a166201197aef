package statemachine

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/icerig/icerig/actors"
)

var soak = flag.Duration("soak", 0, "run TestSoak for this long (make soak DURATION=10m)")

// TestSoak drives the machines round after round with fresh seeds: every
// actor alone and all of them together, on the memory and local backends,
// until -soak is spent. Without -soak it runs one small round.
func TestSoak(t *testing.T) {
	deadline := time.Now().Add(*soak)
	if *soak == 0 {
		withFlag(t, "rapid.checks", "3", false)
	} else {
		withFlag(t, "rapid.seed", "0", true) // a fresh seed every round
	}
	type machine struct {
		name string
		cfg  Config
	}
	var machines []machine
	for _, a := range actors.Registered() {
		machines = append(machines, machine{"single-" + a.Name(), Config{Actors: []actors.Actor{a}}})
	}
	machines = append(machines, machine{"cross", Config{Actors: actors.Registered(), Specs: []int{1}}})
	cov := NewCoverage()
	rounds := 0
	runs := 0
	for more := true; more; rounds++ {
		for _, m := range machines {
			for _, backend := range []Backend{BackendMemory, BackendLocal} {
				cfg := m.cfg
				cfg.Backend, cfg.Coverage = backend, cov
				t.Run(fmt.Sprintf("%s/%s/%d", m.name, backend, rounds), func(t *testing.T) {
					if backend == BackendLocal && *soak == 0 {
						withFlag(t, "rapid.checks", "1", false)
					}
					Run(t, cfg)
				})
				runs++
				if t.Failed() {
					return
				}
				if more = time.Now().Before(deadline); !more {
					break
				}
			}
			if !more {
				break
			}
		}
	}
	if cov.Ran(ActInit) == 0 {
		t.Fatalf("no run initialized a repository:\n%s", cov.Table())
	}
	t.Logf("%d machine run(s) in %d round(s) (-soak=%v); action coverage:\n%s", runs, rounds, *soak, cov.Table())
}
