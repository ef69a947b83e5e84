package dhcp6

import (
	"context"
	"cpe/internal/ratelimit"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"cpe/internal/clock"
)

// Conn carries DHCPv6 payloads (UDP to port 547, replies from it) on one
// LAN interface. NewConn returns the real one on Linux; tests use a fake.
type Conn interface {
	// Receive blocks for the next message to port 547, copies its UDP
	// payload into buf and says where it came from. After Close it
	// returns an error.
	Receive(buf []byte) (n int, ifname string, src netip.AddrPort, err error)
	// Send transmits r.Data to r.To out of r.Interface.
	Send(r *Reply) error
	Close() error
}

// Options wire a Driver to the rest of the box.
type Options struct {
	// Conn is required; Run closes it when it returns.
	Conn Conn
	// Clock defaults to the system clock.
	Clock clock.Clock
	// OnPersist saves the bindings (atomically, in the state directory).
	// It is called at most once per PersistEvery while they change, and
	// once more when Run ends with unsaved changes; on error it is retried
	// after PersistEvery.
	OnPersist func(State) error
	// PersistEvery defaults to 1 s.
	PersistEvery time.Duration
	// OnRoutes is told the delegated prefixes to route (Server.Routes)
	// whenever they change: a binding made, renewed, released or expired,
	// or lost to a new plan. It is called from Run's goroutine.
	OnRoutes func([]Route)
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Driver runs a Server against a Conn and a Clock: the only part of the
// package with goroutines and I/O.
type Driver struct {
	s   *Server
	o   Options
	log *slog.Logger
}

// NewDriver returns a driver for s; call Run once.
func NewDriver(s *Server, o Options) *Driver {
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if o.PersistEvery <= 0 {
		o.PersistEvery = time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Driver{s: s, o: o, log: log.With("component", "dhcp6-server", "interface", s.cfg.Interface)}
}

// Server returns the engine, for Snapshot, Update and Counters.
func (d *Driver) Server() *Server { return d.s }

// Run serves until ctx ends and returns nil, or returns the Conn's error.
// Packets are handled on the receiving goroutine (the Server locks for
// itself); Run's own goroutine expires bindings on time, reports routes
// and schedules the saves.
func (d *Driver) Run(ctx context.Context) error {
	rxErr := make(chan error, 1)
	var closing sync.Once
	closeConn := func() {
		closing.Do(func() {
			if err := d.o.Conn.Close(); err != nil {
				d.log.Warn("close", "err", err)
			}
		})
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rxErr <- d.receive(ctx)
	}()
	defer func() {
		closeConn()
		wg.Wait()
		if d.s.Dirty() {
			d.persist()
		}
	}()

	var (
		saveTimer, expTimer clock.Timer
		saveC, expC         <-chan time.Time
		lastSave            time.Time
		expAt               time.Time
		routesVer           uint64
		routesSent          bool
	)
	defer func() {
		for _, t := range []clock.Timer{saveTimer, expTimer} {
			if t != nil {
				t.Stop()
			}
		}
	}()
	// check looks at the server after a change: schedules a save, reports
	// routes, re-arms the expiry timer.
	check := func() {
		now := d.o.Clock.Now()
		if d.s.Dirty() && saveC == nil {
			wait := d.o.PersistEvery - now.Sub(lastSave)
			if lastSave.IsZero() || wait <= 0 {
				wait = 0
			}
			saveTimer = d.o.Clock.NewTimer(wait)
			saveC = saveTimer.C()
		}
		if v := d.s.RoutesVersion(); (v != routesVer || !routesSent) && d.o.OnRoutes != nil {
			routesVer, routesSent = v, true
			d.o.OnRoutes(d.s.Routes(now))
		}
		if next := d.s.NextExpiry(); !next.Equal(expAt) {
			if expTimer != nil {
				expTimer.Stop()
				expTimer, expC = nil, nil
			}
			expAt = next
			if !next.IsZero() {
				expTimer = d.o.Clock.NewTimer(next.Sub(now))
				expC = expTimer.C()
			}
		}
	}
	check()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-rxErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("dhcp6: %s: %w", d.s.cfg.Interface, err)
		case <-d.s.Changed():
			check()
		case <-expC:
			expTimer, expC, expAt = nil, nil, time.Time{}
			d.s.Expire(d.o.Clock.Now())
			check()
		case <-saveC:
			saveTimer, saveC = nil, nil
			lastSave = d.o.Clock.Now()
			if !d.persist() {
				d.s.setDirty()
			}
			check()
		}
	}
}

// persist saves the table and reports success; a failure leaves it dirty.
func (d *Driver) persist() bool {
	if d.o.OnPersist == nil {
		d.s.mu.Lock()
		d.s.dirty = false
		d.s.mu.Unlock()
		return true
	}
	if err := d.o.OnPersist(d.s.State()); err != nil { // State clears Dirty
		d.log.Warn("save bindings", "err", err)
		return false
	}
	return true
}

func (d *Driver) receive(ctx context.Context) error {
	buf := make([]byte, 65536)
	var sendLim, decodeLim ratelimit.Every
	for {
		n, ifname, src, err := d.o.Conn.Receive(buf)
		if err != nil {
			return err
		}
		now := d.o.Clock.Now()
		r, err := d.s.Handle(now, buf[:n], ifname, src)
		if err != nil && decodeLim.Allow(now, 10*time.Second) {
			d.log.Debug("dropped", "err", err)
		}
		if r != nil {
			if err := d.o.Conn.Send(r); err != nil && !errors.Is(ctx.Err(), context.Canceled) && sendLim.Allow(now, 10*time.Second) {
				d.log.Warn("send", "to", r.To, "type", r.Type, "err", err)
			}
		}
	}
}
