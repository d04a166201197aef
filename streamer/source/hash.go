package source

import "math"

// The generator is counter-based: every random quantity is a pure function of
// a 64-bit stream key (derived from the seed, a name and a purpose) and an
// integer counter (a sample index, a knot index, a waveform point). Nothing
// is drawn from a sequential stream, so any range costs O(range) and two
// reads of overlapping ranges agree sample for sample.

// golden is 2^64 divided by the golden ratio, the splitmix64 increment.
const golden = 0x9E3779B97F4A7C15

// mix64 is the splitmix64 finalizer: a bijective avalanche of 64 bits.
func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xBF58476D1CE4E5B9
	z ^= z >> 27
	z *= 0x94D049BB133111EB
	z ^= z >> 31
	return z
}

// fnv64 is FNV-1a over s, used to turn names into stream identifiers.
func fnv64(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return h
}

// streamKey derives the key of one random stream from the seed, an object
// name (a variable or dimension) and a purpose ("noise", "slow", ...).
func streamKey(seed uint64, name, purpose string) uint64 {
	return mix64(mix64(seed+golden) ^ mix64(fnv64(name)^mix64(fnv64(purpose))))
}

// at is the random 64-bit word of stream key at counter k.
func at(key uint64, k int64) uint64 {
	return mix64(key + uint64(k)*golden)
}

// unit maps a random word to [0, 1).
func unit(h uint64) float64 {
	return float64(h>>11) * (1.0 / (1 << 53))
}

// signedUnit maps a random word to [-1, 1).
func signedUnit(h uint64) float64 {
	return 2*unit(h) - 1
}

// gaussLimit is the largest magnitude gauss can return.
var gaussLimit = 2 * math.Sqrt(3)

// gauss maps a random word to an approximately standard normal value: the
// Irwin–Hall sum of its four 16-bit fields, centred and scaled to unit
// variance. It is bounded by ±gaussLimit, so model values stay in range.
func gauss(h uint64) float64 {
	s := float64(h&0xffff) + float64((h>>16)&0xffff) + float64((h>>32)&0xffff) + float64(h>>48)
	return (s/65536 - 2) * math.Sqrt(3)
}

// floorDiv is a/b rounded towards negative infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// floorMod is a - b*floorDiv(a, b), in [0, b) (b > 0).
func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// smoothNoise is value noise over integer counters: random values in [-1, 1)
// at knots every knot counters, joined by a smoothstep. It caches the current
// knot pair, so walking increasing counters costs one hash per knot.
type smoothNoise struct {
	key  uint64
	knot int64
	j    int64
	a, b float64
	ok   bool
}

// value returns the noise at counter k.
func (s *smoothNoise) value(k int64) float64 {
	j := floorDiv(k, s.knot)
	if !s.ok || j != s.j {
		if s.ok && j == s.j+1 {
			s.a = s.b
		} else {
			s.a = signedUnit(at(s.key, j))
		}
		s.b = signedUnit(at(s.key, j+1))
		s.j, s.ok = j, true
	}
	f := float64(k-j*s.knot) / float64(s.knot)
	f = f * f * (3 - 2*f)
	return s.a + (s.b-s.a)*f
}
