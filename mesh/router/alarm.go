package router

import (
	"time"

	"cpe/internal/clock"
)

// alarm is Run's one timer, set again for each deadline. A stale firing
// (the alarm went off while Run was woken by something else) may still
// come; Run then ticks the engine early, which does nothing.
type alarm interface {
	// set arms the alarm to fire once, d from now (at once when d <= 0),
	// replacing whatever was armed.
	set(d time.Duration)
	C() <-chan time.Time
	close()
}

// newAlarm returns a kernel timer when the router keeps real time, and a
// timer of the configured clock otherwise (a fake one in tests).
func (r *Router) newAlarm() alarm {
	if r.cfg.Clock == nil {
		a, err := newKernelAlarm()
		if err == nil {
			return a
		}
		r.log.Debug("no kernel timer; using the runtime's", "err", err)
	}
	return &clockAlarm{clk: r.clk}
}

// clockAlarm is an alarm on a clock.Clock's timers.
type clockAlarm struct {
	clk clock.Clock
	t   clock.Timer
}

func (a *clockAlarm) set(d time.Duration) {
	if a.t != nil {
		a.t.Stop()
	}
	a.t = a.clk.NewTimer(d)
}

func (a *clockAlarm) C() <-chan time.Time { return a.t.C() }

func (a *clockAlarm) close() {
	if a.t != nil {
		a.t.Stop()
	}
}
