package supervisor

import (
	"context"
	"testing"
	"time"
)

func fired(tm Timer) (time.Time, bool) {
	select {
	case at := <-tm.C():
		return at, true
	default:
		return time.Time{}, false
	}
}

func TestFakeClockTimers(t *testing.T) {
	checkLeaks(t)
	c := NewFakeClock(t0)
	long := c.NewTimer(3 * time.Second)
	short := c.NewTimer(time.Second)
	stopped := c.NewTimer(2 * time.Second)
	now := c.NewTimer(0)
	if n := c.Timers(); n != 3 {
		t.Fatalf("Timers() = %d, want 3 (a zero timer fires at once)", n)
	}
	if at, ok := fired(now); !ok || !at.Equal(t0) {
		t.Errorf("zero timer: fired=%v at %v, want at %v", ok, at, t0)
	}
	if next, ok := c.NextDeadline(); !ok || !next.Equal(t0.Add(time.Second)) {
		t.Errorf("NextDeadline = %v, %v", next, ok)
	}
	if !stopped.Stop() || stopped.Stop() {
		t.Error("Stop of a pending timer must report true once, then false")
	}

	c.Advance(999 * time.Millisecond)
	if _, ok := fired(short); ok {
		t.Error("timer fired early")
	}
	c.Advance(time.Millisecond)
	if at, ok := fired(short); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Errorf("short: fired=%v at %v", ok, at)
	}
	if short.Stop() {
		t.Error("Stop of a fired timer reported true")
	}
	c.Advance(time.Hour)
	if _, ok := fired(long); !ok {
		t.Error("long timer did not fire")
	}
	if _, ok := fired(stopped); ok {
		t.Error("stopped timer fired")
	}
	if _, ok := c.NextDeadline(); ok || c.Timers() != 0 {
		t.Error("timers left after everything fired")
	}
	if got, want := c.Now(), t0.Add(time.Hour+time.Second); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
}

func TestFakeClockBlockUntil(t *testing.T) {
	checkLeaks(t)
	c := NewFakeClock(t0)
	done := make(chan error, 1)
	go func() { done <- c.BlockUntil(context.Background(), 2) }()
	c.NewTimer(time.Second)
	select {
	case err := <-done:
		t.Fatalf("BlockUntil(2) returned %v with one timer", err)
	case <-time.After(10 * time.Millisecond):
	}
	c.NewTimer(time.Second)
	if err := recv(t, done, "BlockUntil"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.BlockUntil(ctx, 5); err == nil {
		t.Error("BlockUntil ignored its context")
	}
}

func TestSystemClock(t *testing.T) {
	var c Clock = systemClock{}
	tm := c.NewTimer(time.Millisecond)
	select {
	case <-tm.C():
	case <-time.After(5 * time.Second):
		t.Fatal("system timer did not fire")
	}
	if time.Since(c.Now()) > time.Minute {
		t.Error("system clock is off")
	}
}
