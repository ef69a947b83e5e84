package supervisor

import (
	"bytes"
	"context"
	"cpe/internal/leaktest"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"cpe/internal/clock"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newTest(t *testing.T, opts Options) (*Supervisor, *clock.Fake) {
	t.Helper()
	clock := clock.NewFake(t0)
	if opts.Clock == nil {
		opts.Clock = clock
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(1, 2))
	}
	return New(opts), clock
}

// runner is a Run in the background.
type runner struct {
	t      *testing.T
	cancel context.CancelFunc
	errc   chan error
	once   sync.Once
	err    error
}

func start(t *testing.T, s *Supervisor) *runner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{t: t, cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- s.Run(ctx) }()
	t.Cleanup(func() { r.stop() })
	return r
}

// stop cancels Run and returns what it returned.
func (r *runner) stop() error {
	r.cancel()
	return r.wait()
}

func (r *runner) wait() error {
	r.once.Do(func() {
		select {
		case r.err = <-r.errc:
		case <-time.After(10 * time.Second):
			r.t.Fatal("Run did not return")
		}
	})
	return r.err
}

// waitFor waits until cond holds for the status, woken by state changes.
func waitFor(t *testing.T, s *Supervisor, what string, cond func(map[string]Status) bool) map[string]Status {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		st := statusMap(s.Status())
		if cond(st) {
			return st
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("timed out waiting for %s; status: %+v", what, st)
		}
	}
}

func statusMap(sts []Status) map[string]Status {
	m := make(map[string]Status, len(sts))
	for _, st := range sts {
		m[st.Name] = st
	}
	return m
}

// allIn reports whether every named component is in state st.
func allIn(st State, names ...string) func(map[string]Status) bool {
	return func(m map[string]Status) bool {
		for _, n := range names {
			if m[n].State != st {
				return false
			}
		}
		return true
	}
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// events is a log of what test components did, in order.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, s)
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.list)
}

func (e *events) count(s string) int {
	n := 0
	for _, x := range e.all() {
		if x == s {
			n++
		}
	}
	return n
}

// index returns the position of the last occurrence of s, or -1.
func (e *events) index(s string) int {
	l := e.all()
	for i := len(l) - 1; i >= 0; i-- {
		if l[i] == s {
			return i
		}
	}
	return -1
}

// steady records its construction, start and stop, says it is ready once
// started, and runs until cancelled.
type steady struct {
	name  string
	ev    *events
	ready chan struct{}
}

func newSteady(name string, ev *events) func() Component {
	return func() Component {
		ev.add("new " + name)
		return &steady{name: name, ev: ev, ready: make(chan struct{})}
	}
}

func (c *steady) Ready() <-chan struct{} { return c.ready }

func (c *steady) Run(ctx context.Context) error {
	c.ev.add("start " + c.name)
	close(c.ready)
	<-ctx.Done()
	c.ev.add("stop " + c.name)
	return nil
}

// compFunc is a component made of a function.
type compFunc func(ctx context.Context) error

func (f compFunc) Run(ctx context.Context) error { return f(ctx) }

func newFunc(f func(ctx context.Context) error) func() Component {
	return func() Component { return compFunc(f) }
}

// syncBuffer is a bytes.Buffer safe for the supervisor's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func checkLeaks(t *testing.T) { leaktest.Check(t) }
