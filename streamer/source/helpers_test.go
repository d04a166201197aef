package source

import (
	"encoding/binary"
	"math"
	"testing"
	"time"
)

// base is a fixed reference time for tests.
var base = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

func testConfig(seed uint64) Config {
	return Config{Seed: seed, Instrument: "lgr01", Project: "permafrost", GasID: 7}
}

func mustNew(t testing.TB, cfg Config) *Source {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// fataler is the part of testing.TB and *rapid.T the helpers use.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

func mustRead(t fataler, s *Source, from, until time.Time, parts Part) *Batch {
	t.Helper()
	b, err := s.ReadParts(from, until, parts)
	if err != nil {
		t.Fatalf("ReadParts(%s, %s, %#x): %v", from, until, parts, err)
	}
	return b
}

// encode serializes a batch canonically: every column of the source's
// variables in Variables order, each length-prefixed, values by their bits.
// Two batches encode equally iff they hold the same data.
func encode(s *Source, b *Batch) []byte {
	var out []byte
	u64 := func(v uint64) { out = binary.LittleEndian.AppendUint64(out, v) }
	i64s := func(name string, vs []int64) {
		out = append(out, name...)
		u64(uint64(len(vs)))
		for _, v := range vs {
			u64(uint64(v))
		}
	}
	i64s("timestamp", b.Timestamps)
	i64s("high_res_timestamp", b.HighResTimestamps)
	for _, v := range s.Variables() {
		out = append(out, v.Name...)
		switch {
		case v.Dimensions[0] == DimHighRes:
			col, ok := b.HighRes[v.Name]
			u64(uint64(len(col)))
			if ok {
				out = append(out, 1)
			}
			for _, x := range col {
				u64(math.Float64bits(x))
			}
		case len(v.Dimensions) == 2:
			col, ok := b.Waveforms[v.Name]
			u64(uint64(len(col)))
			if ok {
				out = append(out, 1)
			}
			for _, x := range col {
				out = binary.LittleEndian.AppendUint32(out, math.Float32bits(x))
			}
		case v.DType == "int32":
			col, ok := b.Int32[v.Name]
			u64(uint64(len(col)))
			if ok {
				out = append(out, 1)
			}
			for _, x := range col {
				out = binary.LittleEndian.AppendUint32(out, uint32(x))
			}
		default:
			col, ok := b.Float64[v.Name]
			u64(uint64(len(col)))
			if ok {
				out = append(out, 1)
			}
			for _, x := range col {
				u64(math.Float64bits(x))
			}
		}
	}
	return out
}
