package dhcp4

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"cpe/internal/clock"
)

// fakeConn is a link where the test plays the server.
type fakeConn struct {
	sent      chan Packet
	in        chan []byte
	closed    chan struct{}
	closeOnce sync.Once
	recvErr   error
}

func newFakeConn() *fakeConn {
	return &fakeConn{sent: make(chan Packet, 16), in: make(chan []byte), closed: make(chan struct{})}
}

func (c *fakeConn) Send(p Packet) error {
	select {
	case c.sent <- p:
		return nil
	default:
		return errors.New("fake: too many packets unread")
	}
}

func (c *fakeConn) Receive(buf []byte) (int, error) {
	if c.recvErr != nil {
		return 0, c.recvErr
	}
	select {
	case b := <-c.in:
		return copy(buf, b), nil
	case <-c.closed:
		return 0, io.EOF
	}
}

func (c *fakeConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) next(t *testing.T) Packet {
	t.Helper()
	select {
	case p := <-c.sent:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("driver sent nothing")
		return Packet{}
	}
}

func (c *fakeConn) reply(t *testing.T, b []byte) {
	t.Helper()
	select {
	case c.in <- b:
	case <-time.After(5 * time.Second):
		t.Fatal("driver does not read")
	}
}

type harness struct {
	clock    *clock.Fake
	conn     *fakeConn
	d        *Driver
	leases   chan Lease
	persists chan Lease
	cancel   context.CancelFunc
	done     chan error
}

func startDriver(t *testing.T, saved *Lease) *harness {
	t.Helper()
	h := &harness{clock: clock.NewFake(t0), conn: newFakeConn(), leases: make(chan Lease, 64),
		persists: make(chan Lease, 64), done: make(chan error, 1)}
	h.d = NewDriver(newClient(t), Options{
		Conn:      h.conn,
		Clock:     h.clock,
		Saved:     saved,
		OnLease:   func(l Lease) { h.leases <- l },
		OnPersist: func(l Lease) { h.persists <- l },
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		h.wait(t)
	})
	return h
}

// wait returns Run's result.
func (h *harness) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.done:
		h.done <- err // for the next caller
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// leaseIn waits for facts in state s.
func (h *harness) leaseIn(t *testing.T, s State) Lease {
	t.Helper()
	for {
		select {
		case l := <-h.leases:
			if l.State == s {
				return l
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no facts in state %s", s)
		}
	}
}

func TestDriver(t *testing.T) {
	before := runtime.NumGoroutine()
	h := startDriver(t, nil)

	p := h.conn.next(t)
	if msgType(t, p) != dhcpv4.MessageTypeDiscover {
		t.Fatalf("first packet %v", msgType(t, p))
	}
	h.conn.reply(t, answer(t, p.Data, dhcpv4.MessageTypeOffer))
	p = h.conn.next(t)
	h.conn.reply(t, answer(t, p.Data, dhcpv4.MessageTypeAck))
	l := h.leaseIn(t, StateBound)
	if l.Address.Addr() != leaseIP {
		t.Fatalf("bound to %v", l.Address)
	}
	if saved := <-h.persists; saved.Address != l.Address || !saved.Expiry.Equal(l.Expiry) {
		t.Errorf("persisted %+v", saved)
	}
	if st, n := h.d.Status(); st.State != StateBound || n.Acks != 1 {
		t.Errorf("status %s, counters %+v", st.State, n)
	}

	// T1: the timer fires and a unicast REQUEST goes to the server.
	h.clock.Advance(l.T1.Sub(h.clock.Now()))
	p = h.conn.next(t)
	if msgType(t, p) != dhcpv4.MessageTypeRequest || p.Broadcast || p.To != serverIP {
		t.Fatalf("at T1 sent %v to %v", msgType(t, p), p.To)
	}
	h.leaseIn(t, StateRenewing)
	h.conn.reply(t, answer(t, p.Data, dhcpv4.MessageTypeAck))
	if l := h.leaseIn(t, StateBound); !l.Start.Equal(h.clock.Now()) {
		t.Errorf("renewed from %v", l.Start)
	}

	// Console renew, then link events.
	if err := h.d.ForceRenew(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := h.conn.next(t); p.To != serverIP {
		t.Errorf("forced renew to %v", p.To)
	}
	if err := h.d.LinkDown(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.leaseIn(t, StateLinkDown)
	if err := h.d.LinkUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	p = h.conn.next(t)
	if r := decode(t, p.Data); !r.RequestedIPAddress().Equal(leaseIP.AsSlice()) || !p.Broadcast {
		t.Errorf("after link up sent %v", r.MessageType())
	}

	// Release: a RELEASE to the server, the saved lease deleted, Run ends.
	if err := h.d.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := h.conn.next(t); msgType(t, p) != dhcpv4.MessageTypeRelease || p.To != serverIP {
		t.Errorf("released with %v to %v", msgType(t, p), p.To)
	}
	if err := h.wait(t); err != nil {
		t.Errorf("Run after Release: %v", err)
	}
	var last Lease
	for len(h.persists) > 0 {
		last = <-h.persists
	}
	if last.Bound() {
		t.Errorf("saved lease not deleted on release: %+v", last)
	}
	select {
	case <-h.conn.closed:
	default:
		t.Error("conn not closed")
	}
	if err := h.d.ForceRenew(context.Background()); err == nil {
		t.Error("event accepted after Run returned")
	}
	checkGoroutines(t, before)
}

func TestDriverCancelKeepsLease(t *testing.T) {
	h := startDriver(t, nil)
	p := h.conn.next(t)
	h.conn.reply(t, answer(t, p.Data, dhcpv4.MessageTypeOffer))
	h.conn.reply(t, answer(t, h.conn.next(t).Data, dhcpv4.MessageTypeAck))
	h.leaseIn(t, StateBound)
	h.cancel()
	if err := h.wait(t); err != nil {
		t.Errorf("Run: %v", err)
	}
	select {
	case p := <-h.conn.sent:
		t.Errorf("sent %v on shutdown; a restart must not release (RFC 9096 WPD-9 spirit)", msgType(t, p))
	default:
	}
	for len(h.persists) > 0 {
		if l := <-h.persists; !l.Bound() {
			t.Error("saved lease deleted on shutdown")
		}
	}
}

func TestDriverStartsWithSavedLease(t *testing.T) {
	saved := &Lease{Address: netip.MustParsePrefix("192.0.2.10/24"), ServerID: serverIP, Start: t0, T1: at(1800), T2: at(3150), Expiry: at(3600)}
	h := startDriver(t, saved)
	p := h.conn.next(t)
	if r := decode(t, p.Data); r.MessageType() != dhcpv4.MessageTypeRequest || !r.RequestedIPAddress().Equal(leaseIP.AsSlice()) {
		t.Fatalf("first packet %v", r.MessageType())
	}
	// The server is silent: retransmissions follow the fake clock.
	for i := 0; i < 3; i++ {
		h.clock.Advance(40 * time.Second)
		if p := h.conn.next(t); msgType(t, p) != dhcpv4.MessageTypeRequest {
			t.Fatalf("retransmission %d: %v", i, msgType(t, p))
		}
	}
}

func TestDriverReceiveError(t *testing.T) {
	clock := clock.NewFake(t0)
	conn := newFakeConn()
	conn.recvErr = errors.New("interface gone")
	d := NewDriver(newClient(t), Options{Conn: conn, Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	err := d.Run(context.Background())
	if err == nil || !errors.Is(err, conn.recvErr) {
		t.Errorf("Run = %v, want the conn's error wrapped", err)
	}
}

func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}
