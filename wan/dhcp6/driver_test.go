package dhcp6

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"

	"cpe/internal/clock"
)

// waitLimit bounds every wait on the driver's goroutine, so a broken driver
// fails the test instead of hanging it. Nothing sleeps for it.
const waitLimit = 5 * time.Second

type fakePacket struct {
	data []byte
	to   netip.AddrPort
}

// fakeConn is a Conn fed by the test.
type fakeConn struct {
	in  chan received
	out chan fakePacket

	mu       sync.Mutex
	expired  chan struct{} // closed when the read deadline is in the past
	writeErr error
	readErr  error
}

func newFakeConn() *fakeConn {
	return &fakeConn{in: make(chan received, 16), out: make(chan fakePacket, 64), expired: make(chan struct{})}
}

func (c *fakeConn) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	c.mu.Lock()
	expired, rerr := c.expired, c.readErr
	c.mu.Unlock()
	if rerr != nil {
		return 0, netip.AddrPort{}, rerr
	}
	select {
	case p := <-c.in:
		return copy(b, p.data), p.from, nil
	case <-expired:
		return 0, netip.AddrPort{}, os.ErrDeadlineExceeded
	}
}

func (c *fakeConn) WriteTo(b []byte, to netip.AddrPort) (int, error) {
	c.mu.Lock()
	err := c.writeErr
	c.mu.Unlock()
	c.out <- fakePacket{append([]byte(nil), b...), to}
	if err != nil {
		return 0, err
	}
	return len(b), nil
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

func (c *fakeConn) Close() error { return nil }

type driverTest struct {
	t      *testing.T
	d      *Driver
	conn   *fakeConn
	clock  *clock.Fake
	leases chan Lease
	saved  chan Persist
	cancel context.CancelFunc
	done   chan error
}

func startDriver(t *testing.T, cfg Config) *driverTest {
	t.Helper()
	base := runtime.NumGoroutine()
	c, err := New(Options{Config: cfg, HardwareAddr: testMAC, Rand: seeded(1)})
	if err != nil {
		t.Fatal(err)
	}
	dt := &driverTest{t: t, conn: newFakeConn(), clock: clock.NewFake(t0),
		leases: make(chan Lease, 64), saved: make(chan Persist, 64), done: make(chan error, 1)}
	dt.d = &Driver{Client: c, Interface: "wan0", Conn: dt.conn, Clock: dt.clock,
		OnLease: func(l Lease) { dt.leases <- l }, OnPersist: func(p Persist) { dt.saved <- p }}
	ctx, cancel := context.WithCancel(context.Background())
	dt.cancel = cancel
	go func() { dt.done <- dt.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-dt.done:
		case <-time.After(waitLimit):
			t.Fatal("Run did not return after cancel")
		}
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

// fire moves the clock to the driver's next deadline, waiting for the
// driver to set one, and fires it.
func (dt *driverTest) fire() {
	dt.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if _, err := dt.clock.AdvanceToNext(ctx); err != nil {
		dt.t.Fatal("driver set no timer")
	}
}

// sent waits for the next packet the driver writes.
func (dt *driverTest) sent() sent {
	dt.t.Helper()
	select {
	case p := <-dt.conn.out:
		m, err := dhcpv6.MessageFromBytes(p.data)
		if err != nil {
			dt.t.Fatal(err)
		}
		return sent{at: dt.clock.Now(), to: p.to, raw: p.data, m: m}
	case <-time.After(waitLimit):
		dt.t.Fatal("driver sent nothing")
		return sent{}
	}
}

func (dt *driverTest) lease(want State) Lease {
	dt.t.Helper()
	for {
		select {
		case l := <-dt.leases:
			if l.State == want {
				return l
			}
		case <-time.After(waitLimit):
			dt.t.Fatalf("no lease in state %s", want)
		}
	}
}

func (dt *driverTest) deliver(m *dhcpv6.Message) {
	dt.conn.in <- received{data: m.ToBytes(), from: serverAddr}
}

func TestDriverBindsAndStops(t *testing.T) {
	dt := startDriver(t, both)
	dt.fire() // the initial delay
	sol := dt.sent()
	if sol.m.MessageType != dhcpv6.MessageTypeSolicit || sol.to != allServers {
		t.Fatalf("sent %s to %v", sol.m.MessageType, sol.to)
	}
	var id [4]byte
	copy(id[:], testMAC[2:])
	dt.deliver(srv.advertise(sol, dhcpv6.OptPreference(255),
		iaNA(id, 1800, 2880, addr(stdAddr, 3600, 7200)), iaPD(id, 1800, 2880, pfx(stdPrefix, 3600, 7200))))
	req := dt.sent()
	if req.m.MessageType != dhcpv6.MessageTypeRequest {
		t.Fatalf("sent %s", req.m.MessageType)
	}
	dt.deliver(srv.reply(req, iaNA(id, 1800, 2880, addr(stdAddr, 3600, 7200)), iaPD(id, 1800, 2880, pfx(stdPrefix, 3600, 7200))))
	l := dt.lease(StateBound)
	if len(l.Prefixes) != 1 || !l.T1.Equal(t0.Add(l.T1.Sub(t0))) {
		t.Errorf("lease %+v", l)
	}
	var p Persist
	for p.Lease == nil {
		select {
		case p = <-dt.saved:
		case <-time.After(waitLimit):
			t.Fatal("binding never persisted")
		}
	}
	if got, _ := dt.d.Snapshot(); got.State != StateBound {
		t.Errorf("snapshot state %s", got.State)
	}

	// Renew on command.
	dt.d.Renew()
	ren := dt.sent()
	if ren.m.MessageType != dhcpv6.MessageTypeRenew {
		t.Fatalf("Renew command sent %s", ren.m.MessageType)
	}
	dt.deliver(srv.reply(ren, iaNA(id, 1800, 2880, addr(stdAddr, 3600, 7200)), iaPD(id, 1800, 2880, pfx(stdPrefix, 3600, 7200))))
	dt.lease(StateBound)

	// Stopping sends nothing (no Release on restart) and returns nil.
	dt.cancel()
	select {
	case err := <-dt.done:
		dt.done <- err
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not stop")
	}
	select {
	case p := <-dt.conn.out:
		t.Errorf("sent a packet while stopping: %x", p.data)
	default:
	}
}

func TestDriverRelease(t *testing.T) {
	dt := startDriver(t, Config{IAPD: true})
	dt.fire()
	sol := dt.sent()
	var id [4]byte
	copy(id[:], testMAC[2:])
	dt.deliver(srv.advertise(sol, dhcpv6.OptPreference(255), iaPD(id, 0, 0, pfx(stdPrefix, 3600, 7200))))
	dt.deliver(srv.reply(dt.sent(), iaPD(id, 0, 0, pfx(stdPrefix, 3600, 7200))))
	dt.lease(StateBound)

	released := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		released <- dt.d.Release(ctx)
	}()
	rel := dt.sent()
	if rel.m.MessageType != dhcpv6.MessageTypeRelease {
		t.Fatalf("sent %s", rel.m.MessageType)
	}
	select {
	case err := <-released:
		t.Fatalf("Release returned before the Reply: %v", err)
	default:
	}
	dt.deliver(srv.reply(rel, status(iana.StatusSuccess)))
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	if l := dt.lease(StateReleased); l.Bound() {
		t.Errorf("lease after release: %+v", l)
	}
}

func TestDriverLinkAndWriteErrors(t *testing.T) {
	dt := startDriver(t, both)
	dt.conn.mu.Lock()
	dt.conn.writeErr = errors.New("sendto: network is unreachable")
	dt.conn.mu.Unlock()
	dt.fire()
	first := dt.sent()
	dt.fire()
	if again := dt.sent(); again.m.TransactionID != first.m.TransactionID {
		t.Error("a failed send restarted the exchange")
	}
	dt.d.SetLink(false)
	dt.lease(StateLinkDown)
	dt.d.SetLink(true)
	dt.lease(StateSoliciting)
}

func TestDriverReadError(t *testing.T) {
	c, _ := New(Options{Config: both, HardwareAddr: testMAC, Rand: seeded(1)})
	conn := newFakeConn()
	conn.readErr = errors.New("recvfrom: bad file descriptor")
	d := &Driver{Client: c, Interface: "wan0", Conn: conn, Clock: clock.NewFake(t0)}
	done := make(chan error, 1)
	go func() { done <- d.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, conn.readErr) {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run ignored a read error")
	}
}

func TestDriverWithoutClient(t *testing.T) {
	if err := (&Driver{}).Run(context.Background()); err == nil {
		t.Error("Run without a client succeeded")
	}
}
