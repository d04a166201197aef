package memory_test

import (
	"testing"

	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/memory"
	"github.com/icerig/icerig/objstore/storetest"
)

func newStore(t testing.TB, clock objstore.Clock) objstore.Store { return memory.New(clock) }

func TestConformance(t *testing.T) {
	storetest.TestStore(t, newStore, storetest.Options{ManyObjects: 1000, PagedObjects: 6000})
}

func BenchmarkMemory(b *testing.B) { storetest.BenchmarkStore(b, newStore) }
