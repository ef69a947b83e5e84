package dhcp4

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

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
		return copy(buf, b), "lan0", noSrc, nil
	case err := <-c.fail:
		return 0, "", noSrc, err
	case <-c.closed:
		return 0, "", noSrc, errors.New("closed")
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

func TestDriver(t *testing.T) {
	clk := clock.NewFake(t0)
	conn := newFakeConn()
	saves := make(chan State, 8)
	d := NewDriver(newServer(t, testConfig()), Options{Conn: conn, Clock: clk,
		OnPersist: func(st State) error { saves <- st; return nil }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	exchange := func(i int) {
		conn.in <- msg(t, dhcpv4.MessageTypeDiscover, mac(i))
		offer := wait(t, conn.out, "OFFER")
		m, _ := dhcpv4.FromBytes(offer.Data)
		conn.in <- msg(t, dhcpv4.MessageTypeRequest, mac(i), ours, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(m.YourIPAddr)))
		if ack := wait(t, conn.out, "ACK"); ack.Type != dhcpv4.MessageTypeAck {
			t.Fatalf("got %s", ack.Type)
		}
	}
	exchange(1)
	if st := wait(t, saves, "first save"); len(st.Leases) != 1 {
		t.Errorf("first save: %+v", st)
	}
	// Changes within the next second are saved together, a second later.
	exchange(2)
	exchange(3)
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-saves:
		t.Fatalf("saved again within a second: %+v", st)
	default:
	}
	clk.Advance(time.Second)
	if st := wait(t, saves, "second save"); len(st.Leases) != 3 {
		t.Errorf("second save: %d leases, want 3", len(st.Leases))
	}
	// Unsaved changes are saved when Run ends.
	exchange(4)
	cancel()
	if err := wait(t, done, "Run to return"); err != nil {
		t.Errorf("Run: %v", err)
	}
	if st := wait(t, saves, "final save"); len(st.Leases) != 4 {
		t.Errorf("final save: %d leases", len(st.Leases))
	}
	if l := d.Server().Snapshot(clk.Now()); len(l) != 4 {
		t.Errorf("Snapshot: %d", len(l))
	}
}

func TestDriverConnError(t *testing.T) {
	conn := newFakeConn()
	d := NewDriver(newServer(t, testConfig()), Options{Conn: conn, Clock: clock.NewFake(t0)})
	conn.fail <- errors.New("socket gone")
	err := d.Run(context.Background())
	if err == nil || err.Error() != "dhcp4: lan0: socket gone" {
		t.Errorf("Run = %v", err)
	}
	select {
	case <-conn.closed:
	default:
		t.Error("Conn not closed")
	}
}

func TestDriverSaveRetry(t *testing.T) {
	clk := clock.NewFake(t0)
	conn := newFakeConn()
	calls := make(chan int, 8)
	n := 0
	d := NewDriver(newServer(t, testConfig()), Options{Conn: conn, Clock: clk, Logger: slog.New(slog.DiscardHandler), OnPersist: func(State) error {
		n++
		calls <- n
		if n == 1 {
			return errors.New("disk full")
		}
		return nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	conn.in <- msg(t, dhcpv4.MessageTypeRequest, mac(1), ciaddr("192.168.1.100"))
	wait(t, conn.out, "ACK")
	wait(t, calls, "first save")
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if got := wait(t, calls, "retry"); got != 2 {
		t.Errorf("call %d", got)
	}
	cancel()
	wait(t, done, "Run to return")
	if d.Server().Dirty() {
		t.Error("still dirty after a successful retry")
	}
}
