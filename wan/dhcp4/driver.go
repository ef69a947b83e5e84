package dhcp4

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"cpe/internal/clock"
)

// Conn carries DHCP payloads (UDP data, port 68 to 67 and back) on one
// interface. NewConn returns the real one on Linux; tests use a fake.
type Conn interface {
	// Send transmits p.Data as described by p.
	Send(p Packet) error
	// Receive blocks until a payload addressed to UDP port 68 arrives,
	// copies it into buf and returns its length. After Close it returns an
	// error.
	Receive(buf []byte) (int, error)
	Close() error
}

// Options wire a Driver to the rest of the box.
type Options struct {
	// Conn is required; Run closes it when it returns.
	Conn Conn
	// Clock defaults to the system clock.
	Clock clock.Clock
	// Saved is the lease read from the state directory, nil if none.
	Saved *Lease
	// OnLease receives the facts whenever they change.
	OnLease func(Lease)
	// OnPersist receives the lease to save in the state directory; one
	// without an Address means delete the saved lease.
	OnPersist func(Lease)
	// Logger defaults to slog.Default(); a component attribute is added.
	Logger *slog.Logger
}

// Driver runs a Client against a Conn and a Clock: the only part of this
// package with goroutines and I/O.
type Driver struct {
	c   *Client
	o   Options
	log *slog.Logger

	events  chan event
	running chan struct{} // closed when Run returns

	// Used by the Run goroutine only.
	logged   Lease
	errLimit rateLimit

	mu       sync.Mutex
	lease    Lease
	counters Counters
}

type eventKind int

const (
	evLinkUp eventKind = iota
	evLinkDown
	evForceRenew
	evRelease
	evDecline
)

type event struct {
	kind eventKind
	done chan struct{}
}

// NewDriver returns a driver for c; call Run once.
func NewDriver(c *Client, o Options) *Driver {
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "dhcp4", "interface", c.cfg.Interface)
	return &Driver{c: c, o: o, log: log, events: make(chan event), running: make(chan struct{}),
		errLimit: rateLimit{every: 10 * time.Second}}
}

// Run starts the client and serves it until ctx ends or Release is called.
// Cancelling ctx does not release the lease: a restarted client picks it up
// again with INIT-REBOOT. Run returns an error only when the Conn fails.
func (d *Driver) Run(ctx context.Context) error {
	defer close(d.running)

	type packet struct {
		data []byte
		err  error
	}
	rx := make(chan packet)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			buf := make([]byte, 2048)
			n, err := d.o.Conn.Receive(buf)
			select {
			case rx <- packet{buf[:n], err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		close(stop)
		if err := d.o.Conn.Close(); err != nil {
			d.log.Warn("close", "err", err)
		}
		wg.Wait()
	}()

	out := d.c.Start(d.o.Clock.Now(), d.o.Saved)
	var timer clock.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	lim := rateLimit{every: time.Minute}
	for {
		d.apply(out, &lim)
		if timer != nil {
			timer.Stop()
			timer = nil
		}
		var fire <-chan time.Time
		if !out.Deadline.IsZero() {
			timer = d.o.Clock.NewTimer(out.Deadline.Sub(d.o.Clock.Now()))
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
			return nil
		case p := <-rx:
			if p.err != nil {
				return fmt.Errorf("dhcp4: %s: receive: %w", d.c.cfg.Interface, p.err)
			}
			out = d.c.Receive(d.o.Clock.Now(), p.data)
		case <-fire:
			out = d.c.Timer(d.o.Clock.Now())
		case ev := <-d.events:
			now := d.o.Clock.Now()
			switch ev.kind {
			case evLinkUp:
				out = d.c.LinkUp(now)
			case evLinkDown:
				out = d.c.LinkDown(now)
			case evForceRenew:
				out = d.c.ForceRenew(now)
			case evDecline:
				out = d.c.Decline(now)
			case evRelease:
				out = d.c.Release(now)
				d.apply(out, &lim)
				close(ev.done)
				return nil
			}
			close(ev.done)
		}
	}
}

// apply carries out one Output.
func (d *Driver) apply(out Output, lim *rateLimit) {
	for _, p := range out.Send {
		if err := d.o.Conn.Send(p); err != nil && lim.allow(d.o.Clock.Now()) {
			// A down link or a missing route makes every retransmission
			// fail the same way; say it once a minute.
			d.log.Warn("send", "to", p.To, "err", err)
		}
	}
	if out.Persist != nil && d.o.OnPersist != nil {
		d.o.OnPersist(*out.Persist)
	}
	d.mu.Lock()
	if out.Lease != nil {
		d.lease = out.Lease.clone()
	}
	d.counters = d.c.Counters()
	d.mu.Unlock()
	if out.Lease != nil {
		l := *out.Lease
		d.logLease(l)
		if d.o.OnLease != nil {
			d.o.OnLease(l)
		}
	}
}

// logLease logs state and address changes, and new errors at most every
// ten seconds: a stream of rejected replies changes LastError each time.
func (d *Driver) logLease(l Lease) {
	changed := l.State != d.logged.State || l.Address != d.logged.Address
	if !changed && (l.LastError == d.logged.LastError || !d.errLimit.allow(d.o.Clock.Now())) {
		return
	}
	d.logged = l
	attrs := []any{"state", l.State}
	if l.Bound() {
		attrs = append(attrs, "address", l.Address, "expiry", l.Expiry)
	}
	if l.LastError != "" {
		attrs = append(attrs, "error", l.LastError)
	}
	d.log.Info("lease", attrs...)
}

// Status returns the facts and counters as of the last event; safe to call
// from any goroutine.
func (d *Driver) Status() (Lease, Counters) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lease.clone(), d.counters
}

// LinkUp reports carrier gained (a network attachment event).
func (d *Driver) LinkUp(ctx context.Context) error { return d.send(ctx, evLinkUp) }

// LinkDown reports carrier lost.
func (d *Driver) LinkDown(ctx context.Context) error { return d.send(ctx, evLinkDown) }

// ForceRenew renews now (the console's "renew").
func (d *Driver) ForceRenew(ctx context.Context) error { return d.send(ctx, evForceRenew) }

// Decline refuses the lease because its address is in use (an ARP probe
// found another owner).
func (d *Driver) Decline(ctx context.Context) error { return d.send(ctx, evDecline) }

// Release sends a DHCPRELEASE and makes Run return. Only for an uplink that
// is being removed from the config.
func (d *Driver) Release(ctx context.Context) error { return d.send(ctx, evRelease) }

func (d *Driver) send(ctx context.Context, k eventKind) error {
	ev := event{kind: k, done: make(chan struct{})}
	select {
	case d.events <- ev:
	case <-d.running:
		return errors.New("dhcp4: " + d.c.cfg.Interface + ": not running")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ev.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// rateLimit lets one event through per period.
type rateLimit struct {
	every time.Duration
	last  time.Time
}

func (r *rateLimit) allow(now time.Time) bool {
	if !r.last.IsZero() && now.Sub(r.last) < r.every {
		return false
	}
	r.last = now
	return true
}
