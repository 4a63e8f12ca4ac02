// Package testutil holds what the tests of both services share.
package testutil

import (
	"sync"
	"time"
)

// Clock is a fake clock: Now reads the time it was set to, which moves only
// when told (Set, Advance) or, after Step, by the step on every reading, so
// code that measures an interval between two readings sees the step pass.
// Pass its Now method where a service takes a clock. It is safe for
// concurrent use.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

// NewClock returns a clock standing at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time, then moves it on by the step, if any.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.step)
	return t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Step makes every later reading move the clock on by d; 0 stops it again.
func (c *Clock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.step = d
}
