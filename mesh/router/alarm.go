package router

import (
	"sync"
	"time"

	"cpe/internal/clock"
)

// alarm calls its fire function when the deadline it was set for comes,
// on a goroutine of its own. A stale firing (one set was replaced just as
// it went off) may still come; the engine then ticks early, which does
// nothing.
type alarm interface {
	// set arms the alarm to fire once, d from now (at once when d <= 0),
	// replacing whatever was armed.
	set(d time.Duration)
	// close disarms the alarm and returns once no firing is running.
	close()
}

// newAlarm returns a kernel timer when the router keeps real time, and a
// timer of the configured clock otherwise (a fake one in tests).
func (r *Router) newAlarm(fire func()) alarm {
	if r.cfg.Clock == nil {
		a, err := newKernelAlarm(fire)
		if err == nil {
			return a
		}
		r.log.Debug("no kernel timer; using the runtime's", "err", err)
	}
	return &clockAlarm{clk: r.clk, fire: fire}
}

// clockAlarm is an alarm on a clock.Clock's timers, each waited for by a
// goroutine of its own.
type clockAlarm struct {
	clk  clock.Clock
	fire func()
	wg   sync.WaitGroup

	mu     sync.Mutex
	t      clock.Timer
	stop   chan struct{} // closed to end the current wait
	closed bool
}

// disarm ends the current wait; a.mu is held.
func (a *clockAlarm) disarm() {
	if a.stop != nil {
		a.t.Stop()
		close(a.stop)
		a.t, a.stop = nil, nil
	}
}

func (a *clockAlarm) set(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.disarm()
	t, stop := a.clk.NewTimer(d), make(chan struct{})
	a.t, a.stop = t, stop
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		select {
		case <-t.C():
			// A timer replaced just as it fired is not a firing.
			select {
			case <-stop:
			default:
				a.fire()
			}
		case <-stop:
		}
	}()
}

func (a *clockAlarm) close() {
	a.mu.Lock()
	a.closed = true
	a.disarm()
	a.mu.Unlock()
	a.wg.Wait()
}
