package webhook

import (
	"math/rand/v2"
	"time"
)

// Schedule is the delay before each attempt after the first, as the
// Standard Webhooks spec suggests: immediately, then 5 s, 5 min, 30 min,
// 2 h, 5 h, 10 h and 10 h. After the last attempt the message is failed
// and the endpoint disabled.
var Schedule = []time.Duration{
	0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// Jitter is the most a delay is moved either way, as a fraction of it,
// so that receivers coming back from an outage are not hit all at once.
const Jitter = 0.1

// NextDelay returns the delay before attempt next (1-based; attempt 1 is
// immediate), jittered by rnd in [0,1), and whether there is such an
// attempt. retryAfter, when the receiver asked for it, is a floor.
func NextDelay(next int, retryAfter time.Duration, rnd float64) (time.Duration, bool) {
	if next < 1 || next > len(Schedule) {
		return 0, false
	}
	d := Schedule[next-1]
	d += time.Duration(float64(d) * Jitter * (2*rnd - 1))
	return max(d, retryAfter), true
}

// randFloat is the jitter source; tests pass their own.
func randFloat() float64 { return rand.Float64() }
