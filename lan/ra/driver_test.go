package ra

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"cpe/internal/clock"
)

const waitLimit = 5 * time.Second

type fakePacket struct {
	data []byte
	to   netip.Addr
}

// fakeConn is a Conn fed by the test.
type fakeConn struct {
	in  chan received
	out chan fakePacket

	mu      sync.Mutex
	expired chan struct{} // closed while the read deadline is in the past
	closed  bool
}

func newFakeConn() *fakeConn {
	return &fakeConn{in: make(chan received, 16), out: make(chan fakePacket, 64), expired: make(chan struct{})}
}

func (c *fakeConn) ReadFrom(b []byte) (int, netip.Addr, int, error) {
	c.mu.Lock()
	expired := c.expired
	c.mu.Unlock()
	select {
	case p := <-c.in:
		return copy(b, p.data), p.from, p.hopLimit, nil
	case <-expired:
		return 0, netip.Addr{}, 0, os.ErrDeadlineExceeded
	}
}

func (c *fakeConn) WriteTo(b []byte, to netip.Addr) error {
	c.out <- fakePacket{append([]byte(nil), b...), to}
	return nil
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

func (c *fakeConn) next(t *testing.T) fakePacket {
	t.Helper()
	select {
	case p := <-c.out:
		return p
	case <-time.After(waitLimit):
		t.Fatal("no RA written")
		return fakePacket{}
	}
}

func (c *fakeConn) none(t *testing.T) {
	t.Helper()
	select {
	case p := <-c.out:
		t.Fatalf("unexpected RA %x", p.data)
	case <-time.After(20 * time.Millisecond):
	}
}

// startDriver runs d; stop cancels it and moves the fake clock on until
// Run returns, since the final RA may wait for MinDelayBetweenRAs.
func startDriver(t *testing.T, d *Driver, clk *clock.Fake) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return func() error {
		cancel()
		limit := time.After(waitLimit)
		for {
			select {
			case err := <-done:
				return err
			case <-limit:
				t.Fatal("Run did not return")
				return nil
			case <-time.After(time.Millisecond):
				clk.Advance(time.Second)
			}
		}
	}
}

func TestDriver(t *testing.T) {
	clk := clock.NewFake(t0)
	conn := newFakeConn()
	d := &Driver{Advertiser: New(Options{Rand: seeded(1)}), Interface: "lan0", Conn: conn, Clock: clk}
	stop := startDriver(t, d, clk)
	conn.none(t) // nothing before a config

	d.SetConfig(normalCfg())
	p := conn.next(t)
	if p.to != AllNodes || parse(t, p.data).RouterLifetime != 1800*time.Second {
		t.Fatalf("first RA to %v: %x", p.to, p.data)
	}
	waitStatus(t, d, "first RA", func(s Status) bool {
		return s.Last.Reason == ReasonInitial && s.Last.Sent.Equal(t0) && s.Counters.Sent == 1
	})

	// The two other initial RAs come on the timer.
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		at, err := clk.AdvanceToNext(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		conn.next(t)
		if gap := at.Sub(t0); gap > 2*MaxInitialRtrAdvertInterval {
			t.Errorf("initial RA at +%v", gap)
		}
	}

	// An RS is answered within 0.5 s of fake time.
	if err := clk.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	rsAt := clk.Now()
	conn.in <- received{data: validRS, from: host, hopLimit: 255}
	waitStatus(t, d, "RS seen", func(s Status) bool { return s.Counters.Solicitations == 1 })
	clk.Advance(MaxRADelayTime)
	conn.next(t)
	waitStatus(t, d, "RS answered", func(s Status) bool {
		return s.Last.Reason == ReasonSolicited && s.Last.Sent.Sub(rsAt) <= MaxRADelayTime
	})

	// A refused config is reported and the old one kept.
	bad := normalCfg()
	bad.MTU = 1
	d.SetConfig(bad)
	waitStatus(t, d, "config refused", func(s Status) bool { return s.ConfigError != "" })

	// Shutdown: a final RA with router lifetime 0.
	clk.Advance(time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	p = conn.next(t)
	if ra := parse(t, p.data); ra.RouterLifetime != 0 {
		t.Errorf("final RA router lifetime %v", ra.RouterLifetime)
	}
	if conn.closed {
		t.Error("Run closed a Conn it was given")
	}
}

func TestDriverFinalWaitsForMinDelay(t *testing.T) {
	clk := clock.NewFake(t0)
	conn := newFakeConn()
	d := &Driver{Advertiser: New(Options{Rand: seeded(2)}), Conn: conn, Clock: clk}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	d.SetConfig(normalCfg())
	conn.next(t)
	if err := clk.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	// Run waits for 3 s of fake time since the first RA.
	if err := clk.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	conn.none(t)
	clk.Advance(MinDelayBetweenRAs)
	if ra := parse(t, conn.next(t).data); ra.RouterLifetime != 0 {
		t.Errorf("final RA router lifetime %v", ra.RouterLifetime)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestDriverOpensAndRetries(t *testing.T) {
	clk := clock.NewFake(t0)
	conn := newFakeConn()
	var mu sync.Mutex
	tries := 0
	d := &Driver{Advertiser: New(Options{Rand: seeded(3)}), Interface: "lan0", Clock: clk,
		Open: func(ifname string) (Conn, error) {
			mu.Lock()
			defer mu.Unlock()
			tries++
			if tries < 3 {
				return nil, errors.New("tentative")
			}
			return conn, nil
		}}
	d.SetConfig(normalCfg())
	stop := startDriver(t, d, clk)
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		if _, err := clk.AdvanceToNext(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	conn.next(t)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	conn.next(t) // final
	if !conn.closed {
		t.Error("Run did not close the Conn it opened")
	}
}

func TestDriverReadError(t *testing.T) {
	clk := clock.NewFake(t0)
	d := &Driver{Advertiser: New(Options{}), Clock: clk, Conn: errConn{}}
	if err := d.Run(context.Background()); err == nil {
		t.Error("Run returned nil on a broken socket")
	}
	if err := (&Driver{}).Run(context.Background()); err == nil {
		t.Error("Run without an Advertiser returned nil")
	}
}

type errConn struct{}

func (errConn) ReadFrom([]byte) (int, netip.Addr, int, error) {
	return 0, netip.Addr{}, 0, errors.New("boom")
}
func (errConn) WriteTo([]byte, netip.Addr) error { return nil }
func (errConn) SetReadDeadline(time.Time) error  { return nil }
func (errConn) Close() error                     { return nil }

// waitStatus waits until Run's goroutine has published a Status meeting
// ok; Run updates it right after writing, so a test that saw the packet
// may be a moment early.
func waitStatus(t *testing.T, d *Driver, what string, ok func(Status) bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !ok(d.Snapshot()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %+v", what, d.Snapshot())
		}
		time.Sleep(time.Millisecond)
	}
}
