package webhooks

import (
	"math/rand/v2"
	"time"
)

// Backoff spaces retries: exponential, capped, with full jitter (each wait
// is uniform between zero and the exponential bound), so receivers coming
// back after an outage are not hit by every sender at the same instant.
type Backoff struct {
	Base time.Duration // the bound after the first failure
	Max  time.Duration // the largest bound
	// Rand returns a number in [0, 1); nil uses math/rand.
	Rand func() float64
}

// DefaultBackoff: bounds of 10s, 20s, 40s … up to an hour.
var DefaultBackoff = Backoff{Base: 10 * time.Second, Max: time.Hour}

// Delay is the wait after the attempt-th failed attempt (1-based).
func (b Backoff) Delay(attempt int) time.Duration {
	bound := b.Max
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 30 {
		if d := b.Base << (attempt - 1); d > 0 && d < b.Max {
			bound = d
		}
	}
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	return time.Duration(r() * float64(bound))
}

// Next is when to try again after the attempt-th failure at now, or
// false when the deadline has passed. The last retry happens at the
// deadline itself rather than being skipped.
func (b Backoff) Next(attempt int, now, deadline time.Time) (time.Time, bool) {
	if !now.Before(deadline) {
		return time.Time{}, false
	}
	next := now.Add(b.Delay(attempt))
	if next.After(deadline) {
		next = deadline
	}
	return next, true
}
