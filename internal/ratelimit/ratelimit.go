// Package ratelimit holds the per-client token buckets the LAN servers use
// to answer a flooding client less often than a quiet one.
package ratelimit

import "time"

// Limiter is a token bucket per client identity. A client that has been
// quiet long enough to fill its bucket is the same as one never seen, so
// full buckets are swept away when the table reaches its size; if a sweep
// frees less than a quarter (a flood of made-up identities), the table is
// cleared. Either way a sweep is paid for by the inserts since the last
// one, and memory stays bounded.
type Limiter struct {
	rate, burst float64
	max         int
	m           map[string]bucket
}

type bucket struct {
	tokens float64
	last   int64 // UnixNano of the last refill
}

const maxBuckets = 1 << 14

// New returns a Limiter refilling rate tokens a second, up to burst.
func New(rate float64, burst int) *Limiter {
	return &Limiter{rate: rate, burst: float64(burst), max: maxBuckets, m: make(map[string]bucket)}
}

func (l *Limiter) refill(b *bucket, t int64) {
	if t > b.last {
		b.tokens = min(l.burst, b.tokens+float64(t-b.last)*l.rate/1e9)
	}
	// A clock stepped back restarts the refill from now instead of
	// starving the client until it catches up.
	b.last = t
}

// Allow takes a token from key's bucket and reports whether there was one.
func (l *Limiter) Allow(key string, now time.Time) bool {
	t := now.UnixNano()
	b, ok := l.m[key]
	if ok {
		l.refill(&b, t)
	} else {
		if len(l.m) >= l.max {
			l.sweep(t)
		}
		b = bucket{tokens: l.burst, last: t}
	}
	allowed := b.tokens >= 1
	if allowed {
		b.tokens--
	}
	l.m[key] = b
	return allowed
}

func (l *Limiter) sweep(t int64) {
	before := len(l.m)
	for k, b := range l.m {
		l.refill(&b, t)
		if b.tokens >= l.burst {
			delete(l.m, k)
		}
	}
	if before-len(l.m) < l.max/4 {
		clear(l.m)
	}
}

// Every lets one event through per period: for logs that a packet can
// trigger, so a flood does not flood the log. The zero value is ready.
type Every struct{ last time.Time }

// Allow reports whether an event at now may go through.
func (e *Every) Allow(now time.Time, period time.Duration) bool {
	if !e.last.IsZero() && now.Sub(e.last) < period {
		return false
	}
	e.last = now
	return true
}
