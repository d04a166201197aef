package objstore

import (
	"sync"
	"time"
)

// Clock tells the time. Backends stamp modification times from it, and the
// format libraries take flush times from it, so tests can run on virtual time.
type Clock interface {
	Now() time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns the current wall-clock time.
func (RealClock) Now() time.Time { return time.Now() }

// VirtualClock is a manually advanced clock for deterministic tests.
// Each call to Now returns the current virtual time and then advances it by
// the tick (zero by default), so consecutive readings can be made distinct.
// It is safe for concurrent use.
type VirtualClock struct {
	mu   sync.Mutex
	now  time.Time
	tick time.Duration
}

// NewVirtualClock returns a clock that starts at start and advances by tick
// after every reading.
func NewVirtualClock(start time.Time, tick time.Duration) *VirtualClock {
	return &VirtualClock{now: start, tick: tick}
}

// Now returns the virtual time and advances it by the tick.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.tick)
	return t
}

// Advance moves the clock forward by d.
func (c *VirtualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *VirtualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Peek returns the virtual time without advancing it.
func (c *VirtualClock) Peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}
