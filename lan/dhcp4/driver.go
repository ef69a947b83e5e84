package dhcp4

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

// Conn carries DHCP payloads (UDP to port 67, replies from it) on one LAN
// interface. NewConn returns the real one on Linux; tests use a fake.
type Conn interface {
	// Receive blocks for the next message to port 67, copies its UDP
	// payload into buf and says where it came from. After Close it
	// returns an error.
	Receive(buf []byte) (n int, ifname string, src netip.AddrPort, err error)
	// Send transmits r.Data as r says.
	Send(r *Reply) error
	Close() error
}

// Options wire a Driver to the rest of the box.
type Options struct {
	// Conn is required; Run closes it when it returns.
	Conn Conn
	// Clock defaults to the system clock.
	Clock clock.Clock
	// OnPersist saves the lease table (atomically, in the state
	// directory). It is called at most once per PersistEvery while leases
	// change, and once more when Run ends with unsaved changes; on error
	// it is retried after PersistEvery.
	OnPersist func(State) error
	// PersistEvery defaults to 1 s.
	PersistEvery time.Duration
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
	return &Driver{s: s, o: o, log: log.With("component", "dhcp4-server", "interface", s.cfg.Interface)}
}

// Server returns the engine, for Snapshot and Counters.
func (d *Driver) Server() *Server { return d.s }

// Run serves until ctx ends and returns nil, or returns the Conn's error.
// Packets are handled on the receiving goroutine (the Server locks for
// itself); Run's own goroutine only schedules the saves.
func (d *Driver) Run(ctx context.Context) error {
	dirty := make(chan struct{}, 1)
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
		rxErr <- d.receive(ctx, dirty)
	}()
	defer func() {
		closeConn()
		wg.Wait()
		if d.s.Dirty() {
			d.persist()
		}
	}()

	var (
		timer    clock.Timer
		fire     <-chan time.Time
		lastSave time.Time
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-rxErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("dhcp4: %s: %w", d.s.cfg.Interface, err)
		case <-dirty:
			if fire != nil {
				continue // a save is already scheduled
			}
			wait := d.o.PersistEvery - d.o.Clock.Now().Sub(lastSave)
			if lastSave.IsZero() || wait <= 0 {
				wait = 0
			}
			timer = d.o.Clock.NewTimer(wait)
			fire = timer.C()
		case <-fire:
			timer, fire = nil, nil
			lastSave = d.o.Clock.Now()
			if !d.persist() {
				select {
				case dirty <- struct{}{}:
				default:
				}
			}
		}
	}
}

// persist saves the table and reports success; a failure leaves it dirty.
func (d *Driver) persist() bool {
	if d.o.OnPersist == nil {
		d.s.State() // clears Dirty
		return true
	}
	if err := d.o.OnPersist(d.s.State()); err != nil {
		d.s.mu.Lock()
		d.s.dirty = true
		d.s.mu.Unlock()
		d.log.Warn("save leases", "err", err)
		return false
	}
	return true
}

func (d *Driver) receive(ctx context.Context, dirty chan<- struct{}) error {
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
				d.log.Warn("send", "to", r.To, "dest", r.Dest, "err", err)
			}
		}
		if d.s.Dirty() {
			select {
			case dirty <- struct{}{}:
			default:
			}
		}
	}
}
