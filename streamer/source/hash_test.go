package source

import (
	"math"
	"testing"

	"pgregory.net/rapid"
)

// TestSmoothNoiseCacheAgreesWithFresh: the knot cache never changes a value,
// whatever the walk (steps within a knot, to the next knot, or far jumps as
// across an outage, backwards too).
func TestSmoothNoiseCacheAgreesWithFresh(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		key := rapid.Uint64().Draw(rt, "key")
		knot := rapid.Int64Range(1, 5000).Draw(rt, "knot")
		cached := smoothNoise{key: key, knot: knot}
		k := rapid.Int64Range(-1, 1<<40).Draw(rt, "start")
		for i := range rapid.IntRange(1, 50).Draw(rt, "steps") {
			fresh := smoothNoise{key: key, knot: knot}
			got, want := cached.value(k), fresh.value(k)
			if got != want {
				rt.Fatalf("step %d: k=%d cached %v, fresh %v", i, k, got, want)
			}
			if got < -1 || got >= 1 {
				rt.Fatalf("k=%d: noise %v outside [-1, 1)", k, got)
			}
			k += rapid.Int64Range(-knot, 20*knot).Draw(rt, "step")
		}
	})
}

func TestGaussMoments(t *testing.T) {
	const n = 200000
	var sum, sq float64
	for i := range int64(n) {
		g := gauss(at(12345, i))
		if math.Abs(g) > gaussLimit {
			t.Fatalf("gauss %v beyond ±%v", g, gaussLimit)
		}
		sum += g
		sq += g * g
	}
	mean, variance := sum/n, sq/n-(sum/n)*(sum/n)
	if math.Abs(mean) > 0.01 || math.Abs(variance-1) > 0.02 {
		t.Errorf("gauss mean %v variance %v, want 0 and 1", mean, variance)
	}
}

func TestFloorDivMod(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		a := rapid.Int64Range(-1<<50, 1<<50).Draw(rt, "a")
		b := rapid.Int64Range(1, 1<<20).Draw(rt, "b")
		q, m := floorDiv(a, b), floorMod(a, b)
		if m < 0 || m >= b || q*b+m != a {
			rt.Fatalf("floorDiv/Mod(%d, %d) = %d, %d", a, b, q, m)
		}
	})
}
