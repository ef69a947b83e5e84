package supervisor

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPanickingComponentBacksOffWhileOthersRunUndisturbed(t *testing.T) {
	checkLeaks(t)
	s, clock := newTest(t, Options{})
	starts := make(chan time.Time, 100)
	var steadyNew, steadyCancelled atomic.Int32
	err := s.Apply([]Spec{
		{Name: "steady", New: func() Component {
			steadyNew.Add(1)
			return compFunc(func(ctx context.Context) error {
				<-ctx.Done()
				steadyCancelled.Add(1)
				return nil
			})
		}},
		{Name: "crasher", New: newFunc(func(ctx context.Context) error {
			starts <- clock.Now()
			panic("boom")
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, s)
	waitFor(t, s, "steady running", allIn(StateRunning, "steady"))

	const rounds = 12 // 0.5 s doubling reaches the 60 s cap after 7
	var times []time.Time
	for i := 0; i < rounds; i++ {
		times = append(times, recv(t, starts, "crasher start"))
		st := waitFor(t, s, "crasher in backoff", func(m map[string]Status) bool {
			return m["crasher"].State == StateBackoff && m["crasher"].Restarts == i
		})
		c := st["crasher"]
		var pe *PanicError
		if !errors.As(c.LastError, &pe) || pe.Value != "boom" {
			t.Fatalf("round %d: LastError = %v, want a PanicError with value boom", i, c.LastError)
		}
		if !c.LastErrorAt.Equal(clock.Now()) {
			t.Errorf("round %d: LastErrorAt = %v, want %v", i, c.LastErrorAt, clock.Now())
		}
		if st["steady"].State != StateRunning {
			t.Fatalf("round %d: steady is %s", i, st["steady"].State)
		}
		if s.Healthy() {
			t.Errorf("round %d: Healthy() with crasher in backoff", i)
		}
		clock.Advance(c.NextRestart.Sub(clock.Now()))
	}
	times = append(times, recv(t, starts, "crasher start"))

	base, max := 500*time.Millisecond, 60*time.Second
	var prev, prevBase time.Duration
	jittered := false
	for i := 1; i < len(times); i++ {
		got := times[i].Sub(times[i-1])
		lo := time.Duration(float64(base) * 0.8)
		hi := min(time.Duration(float64(base)*1.2), max)
		if got < lo || got > hi {
			t.Errorf("interval %d = %v, want within [%v, %v]", i, got, lo, hi)
		}
		if i > 1 && prevBase < max && got < prev {
			t.Errorf("interval %d = %v shorter than the one before (%v) below the cap", i, got, prev)
		}
		if got != base {
			jittered = true
		}
		prev, prevBase, base = got, base, min(2*base, max)
	}
	if !jittered {
		t.Error("every interval equals its base: no jitter")
	}

	st := statusMap(s.Status())["steady"]
	if st.State != StateRunning || st.Restarts != 0 || st.LastError != nil || !st.Since.Equal(t0) {
		t.Errorf("steady = %+v, want running since %v with no restarts or errors", st, t0)
	}
	if n, c := steadyNew.Load(), steadyCancelled.Load(); n != 1 || c != 0 {
		t.Errorf("steady: built %d times, cancelled %d times; want 1 and 0", n, c)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if c := steadyCancelled.Load(); c != 1 {
		t.Errorf("steady cancelled %d times at shutdown, want 1", c)
	}
}

func TestBackoffResetsAfterStableRun(t *testing.T) {
	checkLeaks(t)
	s, clock := newTest(t, Options{})
	started := make(chan struct{}, 10)
	result := make(chan error)
	if err := s.Apply([]Spec{{Name: "flaky", New: newFunc(func(ctx context.Context) error {
		started <- struct{}{}
		select {
		case err := <-result:
			return err
		case <-ctx.Done():
			return nil
		}
	})}}); err != nil {
		t.Fatal(err)
	}
	start(t, s)

	// fail runs for ranFor and fails it; it returns the delay chosen.
	round := 0
	fail := func(ranFor time.Duration) time.Duration {
		t.Helper()
		recv(t, started, "flaky start")
		clock.Advance(ranFor)
		result <- errors.New("flaky: lost carrier")
		st := waitFor(t, s, "flaky in backoff", func(m map[string]Status) bool {
			return m["flaky"].State == StateBackoff && m["flaky"].Restarts == round
		})["flaky"]
		round++
		d := st.NextRestart.Sub(clock.Now())
		clock.Advance(d)
		return d
	}
	within := func(what string, d, base time.Duration) {
		t.Helper()
		if lo, hi := base*8/10, base*12/10; d < lo || d > hi {
			t.Errorf("%s: delay %v, want within [%v, %v]", what, d, lo, hi)
		}
	}
	within("first failure", fail(0), 500*time.Millisecond)
	within("second failure", fail(time.Second), time.Second)
	within("third failure", fail(0), 2*time.Second)
	within("after 59 s of running", fail(59*time.Second), 4*time.Second)
	within("after 60 s of running", fail(60*time.Second), 500*time.Millisecond)
	within("quick failure after the reset", fail(0), time.Second)
}

func TestStartFollowsAfterAndShutdownIsReverse(t *testing.T) {
	checkLeaks(t)
	s, _ := newTest(t, Options{})
	ev := &events{}
	specs := []Spec{
		{Name: "dhcp6", After: []string{"kernel", "wan0"}, New: newSteady("dhcp6", ev)},
		{Name: "ra", After: []string{"dhcp6"}, New: newSteady("ra", ev)},
		{Name: "wan0", After: []string{"kernel"}, New: newSteady("wan0", ev)},
		{Name: "kernel", New: newSteady("kernel", ev)},
		{Name: "console", New: newSteady("console", ev)},
	}
	if err := s.Apply(specs); err != nil {
		t.Fatal(err)
	}
	r := start(t, s)
	waitFor(t, s, "all running", allIn(StateRunning, "dhcp6", "ra", "wan0", "kernel", "console"))
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s, "all stopped", allIn(StateStopped, "dhcp6", "ra", "wan0", "kernel", "console"))

	t.Logf("events: %q", ev.all())
	for _, sp := range specs {
		for _, dep := range sp.After {
			if ev.index("start "+dep) > ev.index("new "+sp.Name) {
				t.Errorf("%s was built before %s had started", sp.Name, dep)
			}
			if ev.index("start "+dep) > ev.index("start "+sp.Name) {
				t.Errorf("%s started before %s", sp.Name, dep)
			}
			if ev.index("stop "+dep) < ev.index("stop "+sp.Name) {
				t.Errorf("%s stopped before its dependent %s", dep, sp.Name)
			}
		}
		if ev.count("start "+sp.Name) != 1 || ev.count("stop "+sp.Name) != 1 {
			t.Errorf("%s: started %d and stopped %d times, want once each", sp.Name, ev.count("start "+sp.Name), ev.count("stop "+sp.Name))
		}
	}
}

func TestDependentWaitsWhileDependencyBacksOff(t *testing.T) {
	checkLeaks(t)
	s, clock := newTest(t, Options{})
	ev := &events{}
	var runs atomic.Int32
	if err := s.Apply([]Spec{
		// link fails before it is ready on its first run.
		{Name: "link", New: func() Component {
			return &readyFunc{ready: make(chan struct{}), run: func(ctx context.Context, ready chan struct{}) error {
				if runs.Add(1) == 1 {
					return errors.New("link: no carrier")
				}
				ev.add("start link")
				close(ready)
				<-ctx.Done()
				return nil
			}}
		}},
		{Name: "dhcp4", After: []string{"link"}, New: newSteady("dhcp4", ev)},
	}); err != nil {
		t.Fatal(err)
	}
	start(t, s)
	st := waitFor(t, s, "link in backoff", func(m map[string]Status) bool { return m["link"].State == StateBackoff })
	if got := st["dhcp4"].State; got != StateStarting {
		t.Errorf("dhcp4 is %s while link backs off, want starting", got)
	}
	if n := ev.count("new dhcp4"); n != 0 {
		t.Errorf("dhcp4 built %d times before link ran", n)
	}
	clock.Advance(st["link"].NextRestart.Sub(clock.Now()))
	waitFor(t, s, "both running", allIn(StateRunning, "link", "dhcp4"))
	if ev.index("start link") > ev.index("start dhcp4") {
		t.Errorf("events %q: dhcp4 started before link", ev.all())
	}
}

type readyFunc struct {
	ready chan struct{}
	run   func(ctx context.Context, ready chan struct{}) error
}

func (c *readyFunc) Ready() <-chan struct{}        { return c.ready }
func (c *readyFunc) Run(ctx context.Context) error { return c.run(ctx, c.ready) }

func TestApplyRestartsOnlyChangedAndDependents(t *testing.T) {
	checkLeaks(t)
	s, _ := newTest(t, Options{})
	ev := &events{}
	spec := func(name string, key any, after ...string) Spec {
		return Spec{Name: name, After: after, Key: key, New: newSteady(name, ev)}
	}
	type wanCfg struct {
		Iface string
		Hint  int
	}
	v1 := []Spec{
		spec("kernel", map[string]int{"mtu": 1500}),
		spec("dhcp6", wanCfg{"wan0", 56}, "kernel"),
		spec("ra", []string{"lan0"}, "dhcp6"),
		spec("babel", 1),
		spec("wifi", 1, "babel"),
	}
	if err := s.Apply(v1); err != nil {
		t.Fatal(err)
	}
	start(t, s)
	waitFor(t, s, "v1 running", allIn(StateRunning, "kernel", "dhcp6", "ra", "babel", "wifi"))

	v2 := []Spec{
		spec("kernel", map[string]int{"mtu": 1500}), // a new map, equal by DeepEqual
		spec("dhcp6", wanCfg{"wan0", 60}, "kernel"),
		spec("ra", []string{"lan0"}, "dhcp6"),
		spec("babel", 1),
		spec("firewall", "v1", "kernel"),
	}
	if err := s.Apply(v2); err != nil {
		t.Fatal(err)
	}
	// Apply returns once the stops are done.
	if got := ev.count("stop wifi"); got != 1 {
		t.Errorf("removed wifi stopped %d times by the time Apply returned", got)
	}
	if ev.index("stop ra") > ev.index("stop dhcp6") {
		t.Errorf("events %q: ra (the dependent) stopped after dhcp6", ev.all())
	}
	waitFor(t, s, "v2 running", allIn(StateRunning, "kernel", "dhcp6", "ra", "babel", "firewall"))

	for name, want := range map[string]int{"kernel": 1, "dhcp6": 2, "ra": 2, "babel": 1, "wifi": 1, "firewall": 1} {
		if got := ev.count("new " + name); got != want {
			t.Errorf("%s built %d times, want %d", name, got, want)
		}
	}
	for name, want := range map[string]int{"kernel": 0, "dhcp6": 1, "ra": 1, "babel": 0, "wifi": 1} {
		if got := ev.count("stop " + name); got != want {
			t.Errorf("%s stopped %d times, want %d", name, got, want)
		}
	}
	if ev.index("start dhcp6") > ev.index("start ra") {
		t.Errorf("events %q: ra restarted before dhcp6", ev.all())
	}
	var names []string
	for _, st := range s.Status() {
		names = append(names, st.Name)
	}
	if got, want := strings.Join(names, " "), "kernel dhcp6 ra babel firewall"; got != want {
		t.Errorf("Status names = %q, want %q", got, want)
	}

	// The same specs again change nothing.
	before := len(ev.all())
	if err := s.Apply(v2); err != nil {
		t.Fatal(err)
	}
	if after := ev.all(); len(after) != before {
		t.Errorf("applying the same specs twice did something: %q", after[before:])
	}
}

func TestErrDoneIsNotRestarted(t *testing.T) {
	checkLeaks(t)
	s, clock := newTest(t, Options{})
	ev := &events{}
	var runs atomic.Int32
	if err := s.Apply([]Spec{
		{Name: "modules", New: newFunc(func(ctx context.Context) error {
			runs.Add(1)
			return ErrDone
		})},
		{Name: "kernel", After: []string{"modules"}, New: newSteady("kernel", ev)},
	}); err != nil {
		t.Fatal(err)
	}
	r := start(t, s)
	st := waitFor(t, s, "modules done and kernel running", func(m map[string]Status) bool {
		return m["modules"].State == StateExited && m["kernel"].State == StateRunning
	})
	if m := st["modules"]; m.Restarts != 0 || m.LastError != nil || !m.NextRestart.IsZero() {
		t.Errorf("modules = %+v, want no restart, no error", m)
	}
	if n := clock.Timers(); n != 0 {
		t.Errorf("%d timers pending, want none (no restart scheduled)", n)
	}
	clock.Advance(time.Hour)
	if n := runs.Load(); n != 1 {
		t.Errorf("modules ran %d times, want 1", n)
	}
	if !s.Healthy() {
		t.Error("Healthy() = false with a done component and a running one")
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}

func TestNilReturnIsRestartedWithBackoff(t *testing.T) {
	checkLeaks(t)
	s, clock := newTest(t, Options{})
	runs := make(chan struct{}, 10)
	if err := s.Apply([]Spec{{Name: "quitter", New: newFunc(func(ctx context.Context) error {
		runs <- struct{}{}
		return nil
	})}}); err != nil {
		t.Fatal(err)
	}
	start(t, s)
	recv(t, runs, "first run")
	st := waitFor(t, s, "quitter in backoff", allIn(StateBackoff, "quitter"))["quitter"]
	if !errors.Is(st.LastError, errReturned) {
		t.Errorf("LastError = %v, want %v", st.LastError, errReturned)
	}
	clock.Advance(st.NextRestart.Sub(clock.Now()))
	recv(t, runs, "second run")
}

func TestShutdownAbandonsStuckComponent(t *testing.T) {
	checkLeaks(t)
	s, clock := newTest(t, Options{StopTimeout: 5 * time.Second})
	ev := &events{}
	release := make(chan struct{})
	defer close(release) // after Run: the abandoned goroutine can end, for the leak check
	if err := s.Apply([]Spec{
		{Name: "kernel", New: newSteady("kernel", ev)},
		{Name: "stuck", After: []string{"kernel"}, New: newFunc(func(ctx context.Context) error {
			<-release // ignores ctx
			return nil
		})},
		{Name: "ra", After: []string{"stuck"}, New: newSteady("ra", ev)},
	}); err != nil {
		t.Fatal(err)
	}
	r := start(t, s)
	waitFor(t, s, "all running", allIn(StateRunning, "kernel", "stuck", "ra"))

	r.cancel()
	waitFor(t, s, "ra stopped", allIn(StateStopped, "ra"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.BlockUntil(ctx, 1); err != nil {
		t.Fatal("no stop deadline armed for stuck:", err)
	}
	if ev.count("stop kernel") != 0 {
		t.Fatal("kernel stopped while its dependent stuck was still running")
	}
	clock.Advance(5 * time.Second)
	err := r.wait()
	if err == nil || !strings.Contains(err.Error(), "stuck did not stop within 5s; abandoned") {
		t.Errorf("Run returned %v, want the abandonment of stuck", err)
	}
	st := statusMap(s.Status())
	if st["stuck"].State != StateFailed || st["stuck"].LastError == nil {
		t.Errorf("stuck = %+v, want failed with the abandonment error", st["stuck"])
	}
	if st["kernel"].State != StateStopped || ev.count("stop kernel") != 1 {
		t.Errorf("kernel = %+v, want stopped after stuck was abandoned", st["kernel"])
	}
}

func TestApplyRemovingStuckComponentProceeds(t *testing.T) {
	checkLeaks(t)
	s, clock := newTest(t, Options{})
	ev := &events{}
	release := make(chan struct{})
	defer close(release)
	if err := s.Apply([]Spec{
		{Name: "stuck", StopTimeout: time.Second, New: newFunc(func(ctx context.Context) error {
			<-release
			return nil
		})},
		{Name: "babel", New: newSteady("babel", ev)},
	}); err != nil {
		t.Fatal(err)
	}
	r := start(t, s)
	waitFor(t, s, "all running", allIn(StateRunning, "stuck", "babel"))
	errc := make(chan error, 1)
	go func() { errc <- s.Apply([]Spec{{Name: "babel", New: newSteady("babel", ev)}}) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second) // the spec's own StopTimeout, not the 5 s default
	err := recv(t, errc, "Apply")
	if err == nil || !strings.Contains(err.Error(), "stuck did not stop within 1s") {
		t.Errorf("Apply returned %v, want the abandonment of stuck", err)
	}
	st := s.Status()
	if len(st) != 1 || st[0].Name != "babel" || st[0].State != StateRunning {
		t.Errorf("Status = %+v, want babel alone, running", st)
	}
	if ev.count("stop babel") != 0 {
		t.Error("babel was disturbed")
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}

func TestApplyReportsBadSpecsAndStartsTheRest(t *testing.T) {
	checkLeaks(t)
	s, _ := newTest(t, Options{})
	ev := &events{}
	specs := []Spec{
		{Name: "kernel", New: newSteady("kernel", ev)},
		{Name: "dhcp6", After: []string{"kernle"}, New: newSteady("dhcp6", ev)},
		{Name: "ra", After: []string{"dhcp6"}, New: newSteady("ra", ev)},
		{Name: "a", After: []string{"b"}, New: newSteady("a", ev)},
		{Name: "b", After: []string{"a"}, New: newSteady("b", ev)},
	}
	err := s.Apply(specs)
	for _, want := range []string{
		`dhcp6: depends on unknown component "kernle"`,
		"ra: depends on dhcp6, which cannot start",
		"a: dependency cycle a -> b -> a",
		"b: dependency cycle b -> a -> b",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Apply error %v does not contain %q", err, want)
		}
	}
	start(t, s)
	st := waitFor(t, s, "kernel running", allIn(StateRunning, "kernel"))
	for _, name := range []string{"dhcp6", "ra", "a", "b"} {
		if st[name].State != StateFailed || st[name].LastError == nil {
			t.Errorf("%s = %+v, want failed with its error", name, st[name])
		}
	}
	if s.Healthy() {
		t.Error("Healthy() = true with components that cannot start")
	}

	specs[1].After = []string{"kernel"}
	specs[4].After = nil
	if err := s.Apply(specs); err != nil {
		t.Fatalf("Apply of the fixed specs: %v", err)
	}
	waitFor(t, s, "all running", allIn(StateRunning, "kernel", "dhcp6", "ra", "a", "b"))
	if n := ev.count("new kernel"); n != 1 {
		t.Errorf("kernel built %d times, want 1", n)
	}
}

type healthComp struct {
	mu  sync.Mutex
	err error
	bad bool // panic in Health
}

func (c *healthComp) Run(ctx context.Context) error { <-ctx.Done(); return nil }

func (c *healthComp) Health() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bad {
		panic("health: nil map")
	}
	return c.err
}

func (c *healthComp) set(err error, bad bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err, c.bad = err, bad
}

func TestHealthyReflectsBackoffAndHealth(t *testing.T) {
	checkLeaks(t)
	s, clock := newTest(t, Options{})
	uplink := &healthComp{}
	var runs atomic.Int32
	if err := s.Apply([]Spec{
		{Name: "uplink", New: func() Component { return uplink }},
		{Name: "flaky", New: newFunc(func(ctx context.Context) error {
			if runs.Add(1) == 1 {
				return errors.New("flaky: first try fails")
			}
			<-ctx.Done()
			return nil
		})},
	}); err != nil {
		t.Fatal(err)
	}
	if s.Healthy() {
		t.Error("Healthy() before Run")
	}
	start(t, s)
	st := waitFor(t, s, "flaky in backoff", allIn(StateBackoff, "flaky"))
	if s.Healthy() {
		t.Error("Healthy() with flaky in backoff")
	}
	clock.Advance(st["flaky"].NextRestart.Sub(clock.Now()))
	waitFor(t, s, "all running", allIn(StateRunning, "uplink", "flaky"))
	if !s.Healthy() {
		t.Errorf("Healthy() = false with everything running: %+v", s.Status())
	}

	down := errors.New("uplink: no route to the ISP")
	uplink.set(down, false)
	if s.Healthy() {
		t.Error("Healthy() with uplink reporting an error")
	}
	if got := statusMap(s.Status())["uplink"].Health; got != down {
		t.Errorf("uplink Health = %v, want %v", got, down)
	}
	uplink.set(nil, true)
	if h := statusMap(s.Status())["uplink"].Health; h == nil || !strings.Contains(h.Error(), "Health panicked") {
		t.Errorf("uplink Health = %v, want the panic as an error", h)
	}
	uplink.set(nil, false)
	if !s.Healthy() {
		t.Error("Healthy() = false after uplink recovered")
	}
}

func TestPanicErrorCarriesValueAndShortStack(t *testing.T) {
	checkLeaks(t)
	s, _ := newTest(t, Options{})
	sentinel := errors.New("dhcp6: bad option length")
	if err := s.Apply([]Spec{
		{Name: "parser", New: newFunc(func(ctx context.Context) error { return parseOption(sentinel) })},
		{Name: "nilmap", New: newFunc(func(ctx context.Context) error {
			var m map[string]int
			m["x"]++
			return nil
		})},
		{Name: "badnew", New: func() Component { panic("cannot build") }},
		{Name: "nilnew", New: func() Component { return nil }},
	}); err != nil {
		t.Fatal(err)
	}
	start(t, s)
	st := waitFor(t, s, "all in backoff", allIn(StateBackoff, "parser", "nilmap", "badnew", "nilnew"))

	err := st["parser"].LastError
	if !errors.Is(err, sentinel) {
		t.Errorf("parser: %v does not unwrap to the panic value", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "dhcp6: bad option length") || !strings.Contains(msg, "supervisor.parseOption") {
		t.Errorf("parser error lacks value or panic site:\n%s", msg)
	}
	if strings.Contains(msg, "runProtected") || strings.Contains(msg, "gopanic") || strings.Contains(msg, "(*Supervisor).keep") {
		t.Errorf("stack is not trimmed to the component:\n%s", msg)
	}
	if got := strings.Count(msg, "\n\t"); got == 0 || got > maxPanicFrames {
		t.Errorf("stack has %d frames, want 1..%d:\n%s", got, maxPanicFrames, msg)
	}
	if msg := st["nilmap"].LastError.Error(); !strings.Contains(msg, "assignment to entry in nil map") {
		t.Errorf("nilmap error = %s", msg)
	}
	if msg := st["badnew"].LastError.Error(); !strings.Contains(msg, "cannot build") {
		t.Errorf("badnew error = %s", msg)
	}
	if msg := st["nilnew"].LastError.Error(); !strings.Contains(msg, "New returned nil") {
		t.Errorf("nilnew error = %s", msg)
	}
}

//go:noinline
func parseOption(err error) error { panic(err) }

func TestGoexitInComponentIsContained(t *testing.T) {
	checkLeaks(t)
	s, _ := newTest(t, Options{})
	ev := &events{}
	if err := s.Apply([]Spec{
		{Name: "goexit", New: newFunc(func(ctx context.Context) error { runtime.Goexit(); return nil })},
		{Name: "babel", New: newSteady("babel", ev)},
	}); err != nil {
		t.Fatal(err)
	}
	r := start(t, s)
	st := waitFor(t, s, "goexit failed", func(m map[string]Status) bool {
		return m["goexit"].State == StateFailed && m["babel"].State == StateRunning
	})
	if !errors.Is(st["goexit"].LastError, errGoexit) {
		t.Errorf("LastError = %v, want %v", st["goexit"].LastError, errGoexit)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}

func TestApplyBeforeAndDuringRun(t *testing.T) {
	checkLeaks(t)
	s, _ := newTest(t, Options{})
	ev := &events{}
	if err := s.Apply([]Spec{{Name: "kernel", New: newSteady("kernel", ev)}}); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); len(st) != 1 || st[0].State != StateStopped {
		t.Fatalf("Status before Run = %+v, want kernel stopped", st)
	}
	if n := ev.count("new kernel"); n != 0 {
		t.Fatalf("kernel built %d times before Run", n)
	}
	r := start(t, s)
	waitFor(t, s, "kernel running", allIn(StateRunning, "kernel"))
	if err := s.Run(context.Background()); err == nil {
		t.Error("a second concurrent Run did not fail")
	}
	if err := s.Apply([]Spec{
		{Name: "kernel", New: newSteady("kernel", ev)},
		{Name: "console", After: []string{"kernel"}, New: newSteady("console", ev)},
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s, "both running", allIn(StateRunning, "kernel", "console"))
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	// A Run after the first one starts everything again.
	r = start(t, s)
	waitFor(t, s, "both running again", allIn(StateRunning, "kernel", "console"))
	if n := ev.count("start kernel"); n != 2 {
		t.Errorf("kernel started %d times over two Runs, want 2", n)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentApplyStatusAndFailures(t *testing.T) {
	checkLeaks(t)
	s, clock := newTest(t, Options{})
	ev := &events{}
	specs := func(k int) []Spec {
		return []Spec{
			{Name: "kernel", New: newSteady("kernel", ev)},
			{Name: "crasher", After: []string{"kernel"}, Key: k % 2, New: newFunc(func(ctx context.Context) error { panic("boom") })},
			{Name: "ra", After: []string{"crasher"}, Key: k % 3, New: newSteady("ra", ev)},
		}
	}
	r := start(t, s)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Go(func() {
			for k := 0; k < 25; k++ {
				_ = s.Apply(specs(g + k))
				_ = s.Status()
				_ = s.Healthy()
				clock.Advance(time.Second)
			}
		})
	}
	wg.Wait()
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	for _, st := range s.Status() {
		if st.State != StateStopped {
			t.Errorf("%s is %s after Run returned, want stopped", st.Name, st.State)
		}
	}
}

func TestLogsNameTheComponent(t *testing.T) {
	checkLeaks(t)
	var buf syncBuffer
	s, clock := newTest(t, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err := s.Apply([]Spec{{Name: "crasher", New: newFunc(func(ctx context.Context) error { panic("boom") })}}); err != nil {
		t.Fatal(err)
	}
	start(t, s)
	st := waitFor(t, s, "crasher in backoff", allIn(StateBackoff, "crasher"))
	// The failure is logged before the restart timer is awaited.
	clock.Advance(st["crasher"].NextRestart.Sub(clock.Now()))
	waitFor(t, s, "crasher restarted", func(m map[string]Status) bool { return m["crasher"].Restarts == 1 })
	var line string
	for l := range strings.Lines(buf.String()) {
		if strings.Contains(l, "msg=failed") {
			line = l
		}
	}
	for _, want := range []string{"level=ERROR", "component=crasher", "boom", "restart_in="} {
		if !strings.Contains(line, want) {
			t.Errorf("failure log %q lacks %q; log:\n%s", line, want, buf.String())
		}
	}
}
