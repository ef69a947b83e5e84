package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Fake is a Clock whose time moves only when Advance is called.
// It is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	pending map[*fakeTimer]struct{}
	// changed is closed and replaced whenever a timer is created, fires or
	// is stopped, so BlockUntil can wait for goroutines to arm their timers.
	changed chan struct{}
}

// NewFake returns a Fake reading start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, pending: map[*fakeTimer]struct{}{}, changed: make(chan struct{})}
}

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires once Advance has moved the clock d
// past the current time; d <= 0 fires at once.
func (c *Fake) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, when: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.pending[t] = struct{}{}
	c.notifyLocked()
	return t
}

// Advance moves the clock forward by d and fires, in deadline order, every
// timer that is due.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked(c.now.Add(d))
}

// AdvanceToNext waits until a timer is pending (or ctx ends), moves the
// clock to the earliest deadline, fires what is due then, and returns the
// new time. A driver that re-arms a timer after each firing can be stepped
// with it one event at a time.
func (c *Fake) AdvanceToNext(ctx context.Context) (time.Time, error) {
	for {
		if err := c.BlockUntil(ctx, 1); err != nil {
			return time.Time{}, err
		}
		c.mu.Lock()
		next, ok := c.nextLocked()
		if ok {
			c.advanceLocked(next)
			now := c.now
			c.mu.Unlock()
			return now, nil
		}
		// Stopped between BlockUntil and here: wait for the next one.
		c.mu.Unlock()
	}
}

func (c *Fake) advanceLocked(to time.Time) {
	c.now = to
	var due []*fakeTimer
	for t := range c.pending {
		if !t.when.After(c.now) {
			due = append(due, t)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].when.Before(due[j].when) })
	for _, t := range due {
		delete(c.pending, t)
		t.ch <- c.now // cannot block: each timer fires at most once into a buffer of one
	}
	if len(due) > 0 {
		c.notifyLocked()
	}
}

// Timers returns the number of timers that have not yet fired or been stopped.
func (c *Fake) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// NextDeadline returns the earliest deadline among pending timers.
func (c *Fake) NextDeadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nextLocked()
}

func (c *Fake) nextLocked() (time.Time, bool) {
	var next time.Time
	for t := range c.pending {
		if next.IsZero() || t.when.Before(next) {
			next = t.when
		}
	}
	return next, !next.IsZero()
}

// BlockUntil waits until at least n timers are pending, or ctx ends.
func (c *Fake) BlockUntil(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		got, changed := len(c.pending), c.changed
		c.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *Fake) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

type fakeTimer struct {
	clock *Fake
	when  time.Time
	ch    chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pending[t]; !ok {
		return false
	}
	delete(c.pending, t)
	c.notifyLocked()
	return true
}
