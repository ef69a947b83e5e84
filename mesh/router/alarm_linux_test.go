package router

import (
	"log/slog"
	"testing"
	"time"

	"cpe/internal/clock"
	"cpe/internal/leaktest"
)

func TestKernelAlarm(t *testing.T) {
	leaktest.Check(t)
	fired := make(chan struct{}, 100)
	a, err := newKernelAlarm(func() { fired <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	fires := func(within time.Duration) bool {
		select {
		case <-fired:
			return true
		case <-time.After(within):
			return false
		}
	}

	start := time.Now()
	a.set(20 * time.Millisecond)
	if !fires(5 * time.Second) {
		t.Fatal("armed for 20ms, did not fire")
	}
	if took := time.Since(start); took < 20*time.Millisecond {
		t.Errorf("fired after %v, armed for 20ms", took)
	}

	// Zero is at once, not disarmed.
	a.set(0)
	if !fires(5 * time.Second) {
		t.Error("armed for 0, did not fire")
	}

	// Arming again replaces the deadline, both ways.
	a.set(time.Hour)
	a.set(10 * time.Millisecond)
	if !fires(5 * time.Second) {
		t.Error("moved from an hour to 10ms, did not fire")
	}
	a.set(10 * time.Millisecond)
	a.set(time.Hour)
	if fires(200 * time.Millisecond) {
		t.Error("moved from 10ms to an hour, fired anyway")
	}

	// Every arming fires, however many came before: no expiry is lost
	// between one wait and the next.
	for i := range 50 {
		a.set(time.Duration(i%3) * time.Millisecond)
		if !fires(5 * time.Second) {
			t.Fatalf("arming %d did not fire", i)
		}
	}
}

// A router on real time keeps its deadline in the kernel alarm, one on
// a configured clock in that clock's timers; closing either stops what
// it started (leaktest).
func TestNewAlarm(t *testing.T) {
	leaktest.Check(t)
	sys := &Router{log: slog.New(slog.DiscardHandler), clk: clock.System{}}
	a := sys.newAlarm(func() {})
	defer a.close()
	if _, ok := a.(*kernelAlarm); !ok {
		t.Errorf("newAlarm with no clock configured = %T, want the kernel's", a)
	}
	fake := clock.NewFake(t0)
	faked := &Router{cfg: Config{Clock: fake}, log: slog.New(slog.DiscardHandler), clk: fake}
	fired := make(chan struct{}, 10)
	b := faked.newAlarm(func() { fired <- struct{}{} })
	defer b.close()
	if _, ok := b.(*clockAlarm); !ok {
		t.Errorf("newAlarm with a fake clock = %T, want the clock's", b)
	}
	fires := func() bool {
		select {
		case <-fired:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	}
	b.set(time.Second)
	fake.Advance(time.Second)
	if !fires() {
		t.Error("the clock's alarm did not fire when the fake clock reached it")
	}
	// Arming again replaces the deadline.
	b.set(2 * time.Second)
	b.set(time.Hour)
	fake.Advance(2 * time.Second)
	if fires() {
		t.Error("moved from 2s to an hour, fired at 2s")
	}
	b.set(time.Second)
	b.close()
	fake.Advance(time.Second)
	if fires() {
		t.Error("fired after close")
	}
}
