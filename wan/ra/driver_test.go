package ra

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"cpe/internal/clock"
)

// waitLimit bounds every wait on the driver's goroutine, so a broken driver
// fails the test instead of hanging it. Nothing sleeps for it.
const waitLimit = 5 * time.Second

type fakePacket struct {
	data []byte
	to   netip.Addr
}

// fakeConn is a Conn fed by the test.
type fakeConn struct {
	in  chan received
	out chan fakePacket

	mu       sync.Mutex
	expired  chan struct{} // closed while the read deadline is in the past
	readErr  error
	writeErr error
	closed   bool
}

func newFakeConn() *fakeConn {
	return &fakeConn{in: make(chan received, 16), out: make(chan fakePacket, 64), expired: make(chan struct{})}
}

func (c *fakeConn) ReadFrom(b []byte) (int, netip.Addr, int, error) {
	c.mu.Lock()
	expired, rerr := c.expired, c.readErr
	c.mu.Unlock()
	if rerr != nil {
		return 0, netip.Addr{}, 0, rerr
	}
	select {
	case p := <-c.in:
		return copy(b, p.data), p.from, p.hopLimit, nil
	case <-expired:
		return 0, netip.Addr{}, 0, os.ErrDeadlineExceeded
	}
}

func (c *fakeConn) WriteTo(b []byte, to netip.Addr) error {
	c.mu.Lock()
	err := c.writeErr
	c.mu.Unlock()
	c.out <- fakePacket{append([]byte(nil), b...), to}
	return err
}

func (c *fakeConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	past := !t.IsZero() && t.Before(time.Now())
	select {
	case <-c.expired:
		if !past {
			c.expired = make(chan struct{})
		}
	default:
		if past {
			close(c.expired)
		}
	}
	return nil
}

func (c *fakeConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

// fire waits until the driver sets a timer, moves the clock to the
// earliest deadline and fires it.
func (dt *driverTest) fire() time.Time {
	dt.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	at, err := dt.clock.AdvanceToNext(ctx)
	if err != nil {
		dt.t.Fatal("no timer set")
	}
	return at
}

// waitTimer waits until the driver sets a timer. Fired timers are no
// longer pending, so after fire this means the driver acted on the firing.
func (dt *driverTest) waitTimer() {
	dt.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := dt.clock.BlockUntil(ctx, 1); err != nil {
		dt.t.Fatal("driver set no timer")
	}
}

type driverTest struct {
	t      *testing.T
	d      *Driver
	conn   *fakeConn
	clock  *clock.Fake
	facts  chan Facts
	done   chan error
	cancel context.CancelFunc

	stopOnce sync.Once
	err      error
}

// stop cancels Run and waits for it to return.
func (dt *driverTest) stop() error {
	dt.stopOnce.Do(func() {
		dt.cancel()
		select {
		case dt.err = <-dt.done:
		case <-time.After(waitLimit):
			dt.t.Fatal("Run did not return after cancel")
		}
	})
	return dt.err
}

// startDriver runs a Driver; open, when not nil, replaces the socket.
func startDriver(t *testing.T, open func(string) (Conn, error)) *driverTest {
	t.Helper()
	base := runtime.NumGoroutine()
	r, err := New(Options{Config: testCfg, Rand: seeded(1)})
	if err != nil {
		t.Fatal(err)
	}
	dt := &driverTest{t: t, conn: newFakeConn(), clock: clock.NewFake(t0), facts: make(chan Facts, 64), done: make(chan error, 1)}
	dt.d = &Driver{Receiver: r, Interface: "wan0", Clock: dt.clock, OnFacts: func(f Facts) { dt.facts <- f }}
	if open != nil {
		dt.d.Open = open
	} else {
		dt.d.Conn = dt.conn
	}
	ctx, cancel := context.WithCancel(context.Background())
	dt.cancel = cancel
	go func() { dt.done <- dt.d.Run(ctx) }()
	t.Cleanup(func() {
		dt.stop()
		// Run waits for its reader; only the test's own goroutines may be left.
		deadline := time.Now().Add(waitLimit)
		for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
			runtime.Gosched()
		}
		if n := runtime.NumGoroutine(); n > base {
			t.Errorf("%d goroutines leaked", n-base)
		}
	})
	return dt
}

// nextRS fires timers until a solicitation comes out. The driver sends
// before it sets its next timer, so once that timer is there, so is the
// packet.
func (dt *driverTest) nextRS() (fakePacket, time.Time) {
	dt.t.Helper()
	for range 50 {
		at := dt.fire()
		dt.waitTimer()
		select {
		case p := <-dt.conn.out:
			return p, at
		default:
		}
	}
	dt.t.Fatal("no solicitation")
	return fakePacket{}, time.Time{}
}

func (dt *driverTest) waitFacts(ok func(Facts) bool) Facts {
	dt.t.Helper()
	for {
		select {
		case f := <-dt.facts:
			if ok(f) {
				return f
			}
		case <-time.After(waitLimit):
			dt.t.Fatal("expected facts did not come")
		}
	}
}

func TestDriver(t *testing.T) {
	dt := startDriver(t, nil)
	p, at := dt.nextRS()
	if p.to != allRouters || len(p.data) != 16 || p.data[0] != 133 || at.Sub(t0) >= time.Second {
		t.Fatalf("first packet %x to %v at %v", p.data, p.to, at.Sub(t0))
	}
	// A bad packet is counted, a good one becomes facts.
	dt.conn.in <- received{data: fullRA(t), from: rtr1, hopLimit: 64}
	dt.conn.in <- received{data: fullRA(t), from: rtr1, hopLimit: 255}
	f := dt.waitFacts(func(f Facts) bool { return len(f.Routers) == 1 })
	if f.Routers[0].Addr != rtr1 || len(f.Addresses) != 1 || f.MTU != 1492 {
		t.Fatalf("facts %+v", f)
	}
	snap, c := dt.d.Snapshot()
	if len(snap.Routers) != 1 || c.BadHopLimit != 1 || c.Accepted != 1 || c.Solicitations != 1 || snap.LastError == "" {
		t.Fatalf("snapshot %+v %+v", snap, c)
	}

	// Carrier loss keeps the facts; carrier back solicits again.
	dt.d.LinkDown()
	dt.d.LinkUp()
	p, _ = dt.nextRS()
	if p.data[0] != 133 {
		t.Fatalf("after link up sent %x", p.data)
	}
	if snap, _ := dt.d.Snapshot(); len(snap.Routers) != 1 {
		t.Fatal("link flap lost the router")
	}

	// DAD failure on our address: a new one comes out.
	old := f.Addresses[0].Addr
	dt.d.DADFailed(old)
	f = dt.waitFacts(func(f Facts) bool { return len(f.Addresses) == 1 && f.Addresses[0].Addr != old })
	if f.Addresses[0].DADCounter != 1 {
		t.Fatalf("after DAD failure: %+v", f.Addresses)
	}
}

func TestDriverExpiry(t *testing.T) {
	dt := startDriver(t, nil)
	dt.nextRS()
	dt.conn.in <- received{data: ra(t, 60, rdnss(30, "2001:db8::53")), from: rtr1, hopLimit: 255}
	f := dt.waitFacts(func(f Facts) bool { return len(f.DNS) == 1 })
	got := f.LastRA
	if at := dt.fire(); !at.Equal(got.Add(30 * time.Second)) {
		t.Fatalf("first expiry at %v after the RA", at.Sub(got))
	}
	dt.waitFacts(func(f Facts) bool { return len(f.DNS) == 0 && len(f.Routers) == 1 })
	if at := dt.fire(); !at.Equal(got.Add(time.Minute)) {
		t.Fatalf("router expiry at %v after the RA", at.Sub(got))
	}
	dt.waitFacts(func(f Facts) bool { return len(f.Routers) == 0 })
	// With the router gone, solicitations start again.
	if p, _ := dt.nextRS(); p.data[0] != 133 {
		t.Fatal("no RS after the router left")
	}
}

func TestDriverOpenRetry(t *testing.T) {
	var (
		mu    sync.Mutex
		tries []time.Time
	)
	var dt *driverTest
	conn := newFakeConn()
	dt = startDriver(t, func(ifname string) (Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		if ifname != "wan0" {
			return nil, errors.New("wrong interface")
		}
		tries = append(tries, dt.clock.Now())
		if len(tries) < 4 {
			return nil, errNoLinkLocalTest
		}
		return conn, nil
	})
	dt.conn = conn
	// Link events before the socket is open are kept.
	dt.d.LinkDown()
	dt.d.LinkUp()
	p, _ := dt.nextRS()
	if p.data[0] != 133 {
		t.Fatal("no RS once the socket opened")
	}
	mu.Lock()
	var gaps []time.Duration
	for i := 1; i < len(tries); i++ {
		gaps = append(gaps, tries[i].Sub(tries[i-1]))
	}
	mu.Unlock()
	if len(gaps) != 3 || gaps[0] != time.Second || gaps[1] != 2*time.Second || gaps[2] != 4*time.Second {
		t.Fatalf("retries after %v, want 1s 2s 4s", gaps)
	}
	// The driver opened the socket, so it closes it.
	if err := dt.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	conn.mu.Lock()
	defer conn.mu.Unlock()
	if !conn.closed {
		t.Error("opened socket not closed")
	}
}

var errNoLinkLocalTest = errors.New("no link-local address yet")

func TestDriverReadError(t *testing.T) {
	dt := startDriver(t, nil)
	dt.conn.mu.Lock()
	dt.conn.readErr = errors.New("interface gone")
	dt.conn.mu.Unlock()
	// Wake the reader, which then meets the error.
	dt.conn.in <- received{data: []byte{1}, from: rtr1, hopLimit: 255}
	select {
	case err := <-dt.done:
		dt.stopOnce.Do(func() { dt.err = err })
		if err == nil {
			t.Fatal("Run returned nil on a read error")
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return on a read error")
	}
	if dt.conn.closed {
		t.Fatal("driver closed a socket it did not open")
	}
}

func TestDriverWithoutReceiver(t *testing.T) {
	if err := (&Driver{}).Run(context.Background()); err == nil {
		t.Fatal("Run without a receiver succeeded")
	}
}
