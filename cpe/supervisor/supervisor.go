// Package supervisor owns the component tree: it starts long-lived
// components in dependency order, restarts them with backoff when they fail
// or panic, reconciles them against new specs, and stops them in reverse
// order with deadlines, so that no component can take PID 1 down.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"sync"
	"time"

	"cpe/internal/clock"
)

// Component is a long-lived part of the system. Run returns when ctx ends,
// and it owns every goroutine it starts.
type Component interface {
	Run(ctx context.Context) error
}

// HealthChecker is implemented by components that can tell whether they
// work, beyond merely running. Health must be quick and must not block:
// Status calls it.
type HealthChecker interface {
	Health() error
}

// Readier is implemented by components whose dependents must wait until
// they have set something up (a socket bound, a first reconcile applied),
// not merely until their Run has been called. The component stays in
// StateStarting until the channel is closed.
type Readier interface {
	Ready() <-chan struct{}
}

// ErrDone, returned by Run, says the component has finished its work and
// must not be restarted (a one-shot setup step, say).
var ErrDone = errors.New("supervisor: component done")

// errReturned stands for a nil return before the component was told to
// stop: components are meant to run until cancelled.
var errReturned = errors.New("supervisor: component returned before it was stopped")

// Spec describes one component.
type Spec struct {
	Name string
	// After lists the components that must be running (or done) before
	// this one starts. A restart of one of them restarts this one.
	After []string
	// Key describes the component's configuration: when it changes
	// (reflect.DeepEqual), Apply restarts the component.
	Key any
	// New makes a fresh component for every start and restart.
	New func() Component
	// StopTimeout overrides Options.StopTimeout for this component.
	StopTimeout time.Duration
}

// State is where a component is in its life.
type State string

const (
	// StateStarting: waiting for its dependencies, or for Ready.
	StateStarting State = "starting"
	StateRunning  State = "running"
	// StateBackoff: it failed, panicked or returned, and will be started
	// again at NextRestart.
	StateBackoff State = "backoff"
	// StateStopped: not running because the supervisor is not running.
	StateStopped State = "stopped"
	// StateExited: it returned ErrDone and stays finished until its Key
	// changes or the supervisor runs again.
	StateExited State = "exited"
	// StateFailed: it cannot start (bad spec, see LastError) or it ignored
	// its stop deadline and was abandoned.
	StateFailed State = "failed"
)

// Status is a snapshot of one component.
type Status struct {
	Name        string
	State       State
	Restarts    int // restarts after failures, not the ones Apply asked for
	LastError   error
	LastErrorAt time.Time
	Since       time.Time // when it entered State
	Health      error     // from HealthChecker while running
	NextRestart time.Time // zero unless State is StateBackoff
}

// Options configure a Supervisor; zero values take the defaults.
type Options struct {
	Logger *slog.Logger // default slog.Default()
	Clock  clock.Clock  // default the system clock; tests pass a clock.Fake
	// Rand draws the backoff jitter; seed it for reproducible delays.
	// The supervisor serializes its use.
	Rand *rand.Rand

	InitialBackoff time.Duration // default 500 ms
	MaxBackoff     time.Duration // default 60 s; delays never exceed it
	BackoffFactor  float64       // default 2
	// Jitter spreads each delay uniformly over ±Jitter of it: default 0.2,
	// negative for none.
	Jitter float64
	// StableAfter is how long a run must last for the next failure to
	// start again from InitialBackoff. Default 60 s.
	StableAfter time.Duration
	// StopTimeout is how long a cancelled component may take to return
	// before it is abandoned. Default 5 s.
	StopTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 60 * time.Second
	}
	if o.BackoffFactor < 1 {
		o.BackoffFactor = 2
	}
	switch {
	case o.Jitter == 0:
		o.Jitter = 0.2
	case o.Jitter < 0:
		o.Jitter = 0
	case o.Jitter > 1:
		o.Jitter = 1
	}
	if o.StableAfter <= 0 {
		o.StableAfter = 60 * time.Second
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 5 * time.Second
	}
	return o
}

// Supervisor runs a set of components. Its methods are safe for concurrent use.
type Supervisor struct {
	opts  Options
	clock clock.Clock

	// applyMu serializes Apply with Run's start and shutdown, which are
	// the only places instances are created and taken away.
	applyMu sync.Mutex
	runCtx  context.Context // parent of instances while Run is active, nil otherwise

	mu      sync.Mutex // guards everything below, and the units' fields
	rand    *rand.Rand
	units   map[string]*unit
	order   []string      // names as last applied, for Status
	changed chan struct{} // closed and replaced on every state change
}

// New returns a Supervisor with no components.
func New(opts Options) *Supervisor {
	opts = opts.withDefaults()
	return &Supervisor{
		opts:    opts,
		clock:   opts.Clock,
		rand:    opts.Rand,
		units:   map[string]*unit{},
		changed: make(chan struct{}),
	}
}

// Apply makes specs the set of components. It stops removed components
// (dependents first), restarts those whose Key changed together with
// everything depending on them, starts new ones, and leaves the rest
// running. Specs that cannot start (unknown dependency, cycle, no New, or a
// dependency on such a spec) are reported in the returned error and shown
// as failed; the others proceed. Before Run, Apply only records specs.
// Apply returns once stops are done; starts happen in the background.
func (s *Supervisor) Apply(specs []Spec) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	c := check(specs)

	s.mu.Lock()
	var changed map[string]bool
	for _, name := range c.names {
		u := s.units[name]
		if u != nil && c.bad[name] == nil && u.invalid == nil && !reflect.DeepEqual(u.spec.Key, c.specs[name].Key) {
			if changed == nil {
				changed = map[string]bool{}
			}
			changed[name] = true
		}
	}
	restart := dependents(c.names, func(n string) []string {
		if c.bad[n] != nil {
			return nil
		}
		return c.specs[n].After
	}, changed)
	var stop []string
	for _, name := range s.order {
		if c.bad[name] != nil || restart[name] {
			stop = append(stop, name)
		} else if _, ok := c.specs[name]; !ok {
			stop = append(stop, name)
		}
	}
	s.mu.Unlock()

	errs := append([]error(nil), c.problems...)
	errs = append(errs, s.stopInOrder(stop)...)

	s.mu.Lock()
	units := make(map[string]*unit, len(c.names))
	for _, name := range c.names {
		sp := c.specs[name]
		u := s.units[name]
		if u == nil {
			u = &unit{state: StateStopped, since: s.clock.Now(), log: s.opts.Logger.With("component", name)}
		}
		if bad := c.bad[name]; bad != nil {
			if u.invalid == nil || u.invalid.Error() != bad.Error() {
				u.setState(s.clock.Now(), StateFailed)
				u.setError(s.clock.Now(), bad)
				u.log.Error("cannot start", "err", bad)
			}
			u.invalid = bad
		} else {
			if u.invalid != nil {
				u.setState(s.clock.Now(), StateStopped)
			}
			u.invalid = nil
		}
		u.spec = sp
		units[name] = u
	}
	s.units = units
	s.order = c.names
	s.notifyLocked()
	s.mu.Unlock()

	s.startIdle()
	return errors.Join(errs...)
}

// Run starts the components and keeps them running until ctx ends; then
// it stops them in reverse dependency order, abandoning any that miss
// their stop deadline, and returns an error naming those. Only one Run
// may be active at a time; Apply may be called before and during it.
func (s *Supervisor) Run(ctx context.Context) error {
	s.applyMu.Lock()
	if s.runCtx != nil {
		s.applyMu.Unlock()
		return errors.New("supervisor: Run is already active")
	}
	// Instances must not see ctx's cancellation: shutdown cancels them one
	// by one, in order. Values (trace ids, loggers) still flow through.
	s.runCtx = context.WithoutCancel(ctx)
	s.startIdle()
	s.applyMu.Unlock()

	<-ctx.Done()

	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.mu.Lock()
	names := append([]string(nil), s.order...)
	s.mu.Unlock()
	errs := s.stopInOrder(names)
	s.runCtx = nil
	return errors.Join(errs...)
}

// Status returns a snapshot of every component, in the order last applied.
func (s *Supervisor) Status() []Status {
	s.mu.Lock()
	out := make([]Status, len(s.order))
	checkers := make([]HealthChecker, len(s.order))
	for i, name := range s.order {
		u := s.units[name]
		out[i] = Status{
			Name:        name,
			State:       u.state,
			Restarts:    u.restarts,
			LastError:   u.lastErr,
			LastErrorAt: u.lastErrAt,
			Since:       u.since,
			NextRestart: u.nextRestart,
		}
		if hc, ok := u.comp.(HealthChecker); ok && u.state == StateRunning {
			checkers[i] = hc
		}
	}
	s.mu.Unlock()
	// Health runs outside the lock: a slow one must not stall the supervisor.
	for i, hc := range checkers {
		if hc != nil {
			out[i].Health = health(hc)
		}
	}
	return out
}

// Healthy reports whether every component is running or done and none
// reports itself unhealthy. With no components it is true.
func (s *Supervisor) Healthy() bool {
	for _, st := range s.Status() {
		if st.State != StateRunning && st.State != StateExited || st.Health != nil {
			return false
		}
	}
	return true
}

func health(hc HealthChecker) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("supervisor: Health panicked: %v", v)
		}
	}()
	return hc.Health()
}

// startIdle starts every startable component that has no instance, in
// dependency order, if Run is active. The caller holds applyMu.
func (s *Supervisor) startIdle() {
	if s.runCtx == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var idle []string
	for _, name := range s.order {
		if u := s.units[name]; u.invalid == nil && u.inst == nil {
			idle = append(idle, name)
		}
	}
	for _, name := range topoOrder(idle, s.afterLocked) {
		u := s.units[name]
		ctx, cancel := context.WithCancel(s.runCtx)
		in := &instance{ctx: ctx, cancel: cancel, done: make(chan struct{})}
		u.inst = in
		u.backoff = 0
		u.nextRestart = time.Time{}
		u.setState(s.clock.Now(), StateStarting)
		go s.keep(u, in)
	}
	s.notifyLocked()
}

// stopInOrder stops the named components, dependents before their
// dependencies, one at a time, and returns the abandonment errors. The
// caller holds applyMu.
func (s *Supervisor) stopInOrder(names []string) []error {
	s.mu.Lock()
	order := topoOrder(names, s.afterLocked)
	s.mu.Unlock()
	var errs []error
	for i := len(order) - 1; i >= 0; i-- {
		if err := s.stop(s.unitFor(order[i])); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func (s *Supervisor) unitFor(name string) *unit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.units[name]
}

// stop cancels u's instance and waits for it up to the stop deadline.
func (s *Supervisor) stop(u *unit) error {
	s.mu.Lock()
	in := u.inst
	timeout := u.spec.StopTimeout
	s.mu.Unlock()
	if in == nil {
		return nil
	}
	if timeout <= 0 {
		timeout = s.opts.StopTimeout
	}
	in.cancel()
	t := s.clock.NewTimer(timeout)
	select {
	case <-in.done:
		t.Stop() // before the state change, so no one who sees it sees a live timer
		s.mu.Lock()
		u.inst, u.comp = nil, nil
		u.nextRestart = time.Time{}
		u.setState(s.clock.Now(), StateStopped)
		s.notifyLocked()
		s.mu.Unlock()
		if in.err != nil && !errors.Is(in.err, context.Canceled) {
			u.log.Info("stopped", "err", in.err)
		} else {
			u.log.Info("stopped")
		}
		return nil
	case <-t.C():
		// Nothing can end a goroutine from outside: leave it behind, and
		// let it find on return that it is no longer the unit's instance.
		err := fmt.Errorf("supervisor: %s did not stop within %v; abandoned", u.spec.Name, timeout)
		s.mu.Lock()
		u.inst, u.comp = nil, nil
		u.nextRestart = time.Time{}
		u.setState(s.clock.Now(), StateFailed)
		u.setError(s.clock.Now(), err)
		s.notifyLocked()
		s.mu.Unlock()
		u.log.Error("abandoned: did not stop in time", "timeout", timeout)
		return err
	}
}

func (s *Supervisor) afterLocked(name string) []string {
	if u := s.units[name]; u != nil {
		return u.spec.After
	}
	return nil
}

func (s *Supervisor) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}
