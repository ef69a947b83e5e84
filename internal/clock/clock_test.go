package clock

import (
	"context"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func fired(tm Timer) (time.Time, bool) {
	select {
	case at := <-tm.C():
		return at, true
	default:
		return time.Time{}, false
	}
}

func TestFakeTimers(t *testing.T) {
	c := NewFake(t0)
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

func TestFakeBlockUntil(t *testing.T) {
	c := NewFake(t0)
	done := make(chan error, 1)
	go func() { done <- c.BlockUntil(context.Background(), 2) }()
	c.NewTimer(time.Second)
	select {
	case err := <-done:
		t.Fatalf("BlockUntil(2) returned %v with one timer", err)
	case <-time.After(10 * time.Millisecond):
	}
	c.NewTimer(time.Second)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("BlockUntil(2) did not return with two timers")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.BlockUntil(ctx, 5); err == nil {
		t.Error("BlockUntil ignored its context")
	}
}

func TestFakeAdvanceToNext(t *testing.T) {
	c := NewFake(t0)
	late := c.NewTimer(2 * time.Second)
	early := c.NewTimer(time.Second)
	at, err := c.AdvanceToNext(context.Background())
	if err != nil || !at.Equal(t0.Add(time.Second)) || !c.Now().Equal(at) {
		t.Fatalf("AdvanceToNext = %v, %v; Now %v", at, err, c.Now())
	}
	if _, ok := fired(early); !ok {
		t.Error("earliest timer did not fire")
	}
	if _, ok := fired(late); ok {
		t.Error("later timer fired too")
	}

	// With nothing pending it waits for the next timer to be armed.
	late.Stop()
	done := make(chan time.Time, 1)
	go func() {
		at, _ := c.AdvanceToNext(context.Background())
		done <- at
	}()
	select {
	case at := <-done:
		t.Fatalf("AdvanceToNext returned %v with no timer", at)
	case <-time.After(10 * time.Millisecond):
	}
	armed := c.NewTimer(time.Minute)
	select {
	case at := <-done:
		if !at.Equal(t0.Add(time.Second + time.Minute)) {
			t.Errorf("moved to %v", at)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("AdvanceToNext did not see the new timer")
	}
	if _, ok := fired(armed); !ok {
		t.Error("armed timer did not fire")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.AdvanceToNext(ctx); err == nil {
		t.Error("AdvanceToNext ignored its context")
	}
}

func TestSystem(t *testing.T) {
	var c Clock = System{}
	tm := c.NewTimer(time.Millisecond)
	select {
	case <-tm.C():
	case <-time.After(5 * time.Second):
		t.Fatal("system timer did not fire")
	}
	if time.Since(c.Now()) > time.Minute {
		t.Error("system clock is off")
	}
	if c.NewTimer(time.Hour).Stop() != true {
		t.Error("Stop of a pending system timer reported false")
	}
}

// TestDeadline: a deadline fires at its time, a passed one at once, and a
// zero one never; setting it again replaces the time before.
func TestDeadline(t *testing.T) {
	var d Deadline
	defer d.Stop()
	if c := d.At(time.Time{}, time.Now()); c != nil {
		t.Fatal("a zero deadline gave a channel")
	}
	now := time.Now()
	c := d.At(now.Add(time.Hour), now)
	c = d.At(now.Add(-time.Second), now) // replaces the hour
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatal("a passed deadline did not fire at once")
	}
	now = time.Now()
	c = d.At(now.Add(50*time.Millisecond), now)
	select {
	case <-c:
		if gone := time.Since(now); gone < 50*time.Millisecond {
			t.Errorf("fired after %v, before its time", gone)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the deadline did not fire")
	}
	if c := d.At(time.Time{}, time.Now()); c != nil {
		t.Error("disarmed, and still a channel")
	}
}
