package dhcp6

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"

	"cpe/internal/clock"
)

type fakeConn struct {
	in     chan []byte
	out    chan *Reply
	closed chan struct{}
	once   sync.Once
	fail   chan error
}

func newFakeConn() *fakeConn {
	return &fakeConn{in: make(chan []byte), out: make(chan *Reply, 16), closed: make(chan struct{}), fail: make(chan error, 1)}
}

func (c *fakeConn) Receive(buf []byte) (int, string, netip.AddrPort, error) {
	select {
	case b := <-c.in:
		return copy(buf, b), "lan0", src, nil
	case err := <-c.fail:
		return 0, "", src, err
	case <-c.closed:
		return 0, "", src, errors.New("closed")
	}
}

func (c *fakeConn) Send(r *Reply) error { c.out <- r; return nil }
func (c *fakeConn) Close() error        { c.once.Do(func() { close(c.closed) }); return nil }

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s", what)
		panic("unreachable")
	}
}

// waitRoutes reads route reports until one has n routes.
func waitRoutes(t *testing.T, ch <-chan []Route, n int) []Route {
	t.Helper()
	for {
		if r := wait(t, ch, "routes"); len(r) == n {
			return r
		}
	}
}

type driverHarness struct {
	clk    *clock.Fake
	conn   *fakeConn
	d      *Driver
	p      *planner
	saves  chan State
	routes chan []Route
	done   chan error
	cancel context.CancelFunc
}

func startDriver(t *testing.T, persist func(State) error) *driverHarness {
	s, p := std(t)
	h := &driverHarness{clk: clock.NewFake(t0), conn: newFakeConn(), p: p, saves: make(chan State, 16),
		routes: make(chan []Route, 16), done: make(chan error, 1)}
	if persist == nil {
		persist = func(st State) error { h.saves <- st; return nil }
	}
	h.d = NewDriver(s, Options{Conn: h.conn, Clock: h.clk, Logger: slog.New(slog.DiscardHandler), OnPersist: persist,
		OnRoutes: func(r []Route) { h.routes <- r }})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		wait(t, h.done, "Run to return")
	})
	return h
}

func (h *driverHarness) exchange(t *testing.T, b []byte) *Reply {
	t.Helper()
	h.conn.in <- b
	return wait(t, h.conn.out, "reply")
}

func TestDriver(t *testing.T) {
	h := startDriver(t, nil)
	if r := wait(t, h.routes, "first routes"); len(r) != 0 {
		t.Errorf("first report %+v", r)
	}
	adv := h.exchange(t, msg(dhcpv6.MessageTypeSolicit, clientDUID(1), pd(1)))
	if adv.Type != dhcpv6.MessageTypeAdvertise || adv.To != src {
		t.Fatalf("got %s to %s", adv.Type, adv.To)
	}
	if rep := h.exchange(t, msg(dhcpv6.MessageTypeRequest, clientDUID(1), ours, pd(1))); rep.Type != dhcpv6.MessageTypeReply {
		t.Fatalf("got %s", rep.Type)
	}
	if r := waitRoutes(t, h.routes, 1); r[0].Prefix != topSlot || r[0].Via != src.Addr() {
		t.Errorf("routes %+v", r)
	}
	if st := wait(t, h.saves, "first save"); len(st.Leases) != 1 {
		t.Errorf("saved %+v", st)
	}
	// The binding runs out with nobody renewing: the route is withdrawn on
	// time, by the driver's timer, and the table saved.
	h.clk.Advance(5400 * time.Second)
	waitRoutes(t, h.routes, 0)
	for st := wait(t, h.saves, "save after expiry"); len(st.Leases) != 0; st = wait(t, h.saves, "save after expiry") {
	}
}

func TestDriverUpdate(t *testing.T) {
	h := startDriver(t, nil)
	h.exchange(t, msg(dhcpv6.MessageTypeSolicit, clientDUID(1), rapid, pd(1)))
	waitRoutes(t, h.routes, 1)
	// The delegation goes: the route goes with it, at once.
	h.p.in.Delegations = nil
	h.p.replan(t0)
	if err := h.d.Server().Update(h.p.config(), t0); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, h.routes, 0)
}

// Unsaved changes are saved when Run ends, and saves are spaced by
// PersistEvery.
func TestDriverSaves(t *testing.T) {
	h := startDriver(t, nil)
	h.exchange(t, msg(dhcpv6.MessageTypeSolicit, clientDUID(1), rapid, pd(1)))
	wait(t, h.saves, "first save")
	h.exchange(t, msg(dhcpv6.MessageTypeSolicit, clientDUID(2), rapid, pd(1)))
	waitRoutes(t, h.routes, 2)
	select {
	case st := <-h.saves:
		t.Fatalf("saved again within a second: %+v", st)
	default:
	}
	h.cancel()
	if err := wait(t, h.done, "Run to return"); err != nil {
		t.Errorf("Run: %v", err)
	}
	h.done <- nil // for the cleanup
	if st := wait(t, h.saves, "final save"); len(st.Leases) != 2 {
		t.Errorf("final save %+v", st)
	}
}

func TestDriverSaveRetry(t *testing.T) {
	calls := make(chan int, 8)
	n := 0
	h := startDriver(t, func(State) error {
		n++
		calls <- n
		if n == 1 {
			return errors.New("disk full")
		}
		return nil
	})
	h.exchange(t, msg(dhcpv6.MessageTypeSolicit, clientDUID(1), rapid, pd(1)))
	wait(t, calls, "first save")
	if err := h.clk.BlockUntil(context.Background(), 2); err != nil { // the retry and the expiry timers
		t.Fatal(err)
	}
	h.clk.Advance(time.Second)
	if got := wait(t, calls, "retry"); got != 2 {
		t.Errorf("call %d", got)
	}
}

func TestDriverConnError(t *testing.T) {
	s, _ := std(t)
	conn := newFakeConn()
	d := NewDriver(s, Options{Conn: conn, Clock: clock.NewFake(t0)})
	conn.fail <- errors.New("socket gone")
	if err := d.Run(context.Background()); err == nil || err.Error() != "dhcp6: lan0: socket gone" {
		t.Errorf("Run = %v", err)
	}
	select {
	case <-conn.closed:
	default:
		t.Error("Conn not closed")
	}
}
