package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"cpe/internal/clock"
)

// unit is one named component across its instances and restarts. Its
// fields are guarded by Supervisor.mu.
type unit struct {
	spec    Spec
	log     *slog.Logger
	invalid error     // why spec cannot start; nil when it can
	inst    *instance // set and cleared only under applyMu
	comp    Component // the component whose Run is active, for Health
	attempt int       // counts runs, so a late Ready cannot promote a later run

	state       State
	since       time.Time
	restarts    int
	lastErr     error
	lastErrAt   time.Time
	nextRestart time.Time
	backoff     time.Duration // base of the next delay; 0 means the initial one
	startedAt   time.Time     // when the current run began, zero if none
}

func (u *unit) setState(now time.Time, st State) {
	if u.state != st {
		u.state, u.since = st, now
	}
}

func (u *unit) setError(now time.Time, err error) {
	u.lastErr, u.lastErrAt = err, now
}

// instance is one start of a unit, from Apply or Run to its stop: the
// goroutine that keeps it running across failures, and how to end it.
type instance struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when keep returns
	err    error         // what the last Run returned once cancelled; read after done
}

var errGoexit = errors.New("supervisor: component called runtime.Goexit")

// keep runs one instance: wait for dependencies, build, run, back off,
// again, until the instance is cancelled or the component is done.
func (s *Supervisor) keep(u *unit, in *instance) {
	finished := false
	defer func() {
		if !finished {
			// runtime.Goexit inside Run (a misused t.FailNow, say) unwinds
			// past every return path; the goroutine is lost, say so.
			if s.update(u, in, func(now time.Time) {
				u.comp = nil
				u.setState(now, StateFailed)
				u.setError(now, errGoexit)
			}) {
				u.log.Error("goroutine ended by runtime.Goexit; not restarted")
			}
		}
		close(in.done)
	}()
	for {
		if !s.awaitDeps(u, in) {
			finished = true
			return
		}
		err := s.runOnce(u, in)
		if in.ctx.Err() != nil {
			in.err = err
			finished = true
			return
		}
		if errors.Is(err, ErrDone) {
			if s.update(u, in, func(now time.Time) {
				u.comp = nil
				u.setState(now, StateExited)
			}) {
				u.log.Info("done")
			}
			finished = true
			return
		}
		if err == nil {
			err = errReturned
		}
		t, d := s.fail(u, in, err)
		if t == nil {
			finished = true
			return
		}
		u.log.Error("failed", "err", err, "restart_in", d)
		select {
		case <-t.C():
		case <-in.ctx.Done():
			t.Stop()
			finished = true
			return
		}
		s.update(u, in, func(now time.Time) {
			u.restarts++
			u.nextRestart = time.Time{}
			u.setState(now, StateStarting)
		})
	}
}

// update runs f under the lock if in is still u's instance, and reports
// whether it did. A goroutine left behind after a stop deadline finds out
// here that it no longer owns the unit.
func (s *Supervisor) update(u *unit, in *instance, f func(now time.Time)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.inst != in {
		return false
	}
	f(s.clock.Now())
	s.notifyLocked()
	return true
}

// awaitDeps waits until every dependency is running or done, and reports
// false if the instance was cancelled first.
func (s *Supervisor) awaitDeps(u *unit, in *instance) bool {
	for {
		s.mu.Lock()
		if u.inst != in {
			s.mu.Unlock()
			return false
		}
		ready := true
		for _, dep := range u.spec.After {
			d := s.units[dep]
			if d == nil || d.state != StateRunning && d.state != StateExited {
				ready = false
				break
			}
		}
		changed := s.changed
		s.mu.Unlock()
		if ready {
			return true
		}
		select {
		case <-changed:
		case <-in.ctx.Done():
			return false
		}
	}
}

// runOnce builds a fresh component and runs it until it returns.
func (s *Supervisor) runOnce(u *unit, in *instance) error {
	s.mu.Lock()
	newComp := u.spec.New
	s.mu.Unlock()
	comp, err := build(newComp)
	if err != nil {
		return err
	}
	ready, isReadier, err := readyOf(comp)
	if err != nil {
		return err
	}

	s.mu.Lock()
	if u.inst != in {
		s.mu.Unlock()
		return nil // stopped meanwhile; in.ctx is cancelled
	}
	u.attempt++
	attempt := u.attempt
	u.comp = comp
	u.startedAt = s.clock.Now()
	if !isReadier {
		u.setState(u.startedAt, StateRunning)
	}
	s.notifyLocked()
	s.mu.Unlock()
	u.log.Info("started")

	if isReadier {
		returned := make(chan struct{})
		defer close(returned)
		go func() {
			select {
			case <-ready:
				s.update(u, in, func(now time.Time) {
					if u.attempt == attempt && u.state == StateStarting {
						u.setState(now, StateRunning)
					}
				})
			case <-returned:
			}
		}()
	}
	return runProtected(in.ctx, comp)
}

// fail records err, moves u to backoff and arms the restart timer. It
// returns a nil Timer if in is no longer u's instance.
func (s *Supervisor) fail(u *unit, in *instance, err error) (clock.Timer, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.inst != in {
		return nil, 0
	}
	now := s.clock.Now()
	if !u.startedAt.IsZero() && now.Sub(u.startedAt) >= s.opts.StableAfter {
		u.backoff = 0
	}
	u.startedAt = time.Time{}
	base := u.backoff
	if base <= 0 {
		base = s.opts.InitialBackoff
	}
	d := time.Duration(float64(base) * (1 + s.opts.Jitter*(2*s.rand.Float64()-1)))
	d = min(max(d, 0), s.opts.MaxBackoff)
	u.backoff = min(time.Duration(float64(base)*s.opts.BackoffFactor), s.opts.MaxBackoff)
	u.comp = nil
	u.setError(now, err)
	u.nextRestart = now.Add(d)
	u.setState(now, StateBackoff)
	s.notifyLocked()
	// Armed under the lock: whoever sees StateBackoff sees the timer too.
	return s.clock.NewTimer(d), d
}

// PanicError is what a panic in a component becomes.
type PanicError struct {
	Value any
	Stack string // innermost frames first, from the panic down to the supervisor
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("supervisor: panic: %v\n%s", e.Value, e.Stack)
}

// Unwrap exposes a panic value that is itself an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

func runProtected(ctx context.Context, c Component) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: panicStack()}
		}
	}()
	return c.Run(ctx)
}

func build(newComp func() Component) (c Component, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: panicStack()}
		}
	}()
	if c = newComp(); c == nil {
		return nil, errors.New("supervisor: New returned nil")
	}
	return c, nil
}

func readyOf(c Component) (ch <-chan struct{}, ok bool, err error) {
	r, ok := c.(Readier)
	if !ok {
		return nil, false, nil
	}
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: panicStack()}
		}
	}()
	return r.Ready(), true, nil
}

const maxPanicFrames = 8

// panicStack, called by a deferred function that recovered, returns the
// frames between the panic and the function that deferred: the part of the
// stack that says where the component went wrong.
func panicStack() string {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(2, pcs) // from the deferred function
	frames := runtime.CallersFrames(pcs[:n])
	deferred, more := frames.Next()
	stop := deferred.Function
	if i := strings.LastIndex(stop, ".func"); i >= 0 {
		stop = stop[:i]
	}
	var b strings.Builder
	inPanic, count := false, 0
	for more {
		var f runtime.Frame
		f, more = frames.Next()
		switch {
		case !inPanic:
			inPanic = f.Function == "runtime.gopanic"
			continue
		case f.Function == stop:
			return b.String()
		case strings.HasPrefix(f.Function, "runtime."):
			continue // panicmem, sigpanic, panicIndex: how, not where
		case count == maxPanicFrames:
			b.WriteString("...\n")
			return b.String()
		}
		fmt.Fprintf(&b, "%s\n\t%s:%d\n", f.Function, f.File, f.Line)
		count++
	}
	return b.String()
}
