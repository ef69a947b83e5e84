package dhcp6

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"cpe/internal/clock"
)

// Conn is the uplink's DHCPv6 client socket (UDP port 546). Destinations
// come without a zone; the connection knows its interface.
type Conn interface {
	ReadFrom(b []byte) (n int, from netip.AddrPort, err error)
	WriteTo(b []byte, to netip.AddrPort) (int, error)
	// SetReadDeadline makes a blocked or later ReadFrom return an error
	// satisfying errors.Is(err, os.ErrDeadlineExceeded) once t has passed.
	SetReadDeadline(t time.Time) error
	Close() error
}

// Driver runs a Client on a socket: packets, timers and commands in,
// packets, lease and persistence callbacks out.
type Driver struct {
	Client    *Client
	Interface string      // the uplink: opened with Listen when Conn is nil; named in logs
	Conn      Conn        // nil: Listen(Interface), closed when Run returns
	Clock     clock.Clock // nil: the system clock
	Logger    *slog.Logger
	// OnLease gets every change of the lease facts; OnPersist every change
	// of what must be saved in the state directory. Both are called from
	// Run's goroutine and should not block for long.
	OnLease   func(Lease)
	OnPersist func(Persist)

	once sync.Once
	cmds chan command

	mu       sync.Mutex
	lease    Lease
	counters Counters
}

type command struct {
	kind cmdKind
	done chan struct{}
}

type cmdKind uint8

const (
	cmdRenew cmdKind = iota
	cmdLinkUp
	cmdLinkDown
	cmdRelease
)

func (d *Driver) init() { d.once.Do(func() { d.cmds = make(chan command, 16) }) }

// Renew asks for a Renew now (console "renew wan N"). It does not wait.
func (d *Driver) Renew() { d.post(command{kind: cmdRenew}) }

// SetLink reports the uplink's carrier (from the netlink watcher).
func (d *Driver) SetLink(up bool) {
	if up {
		d.post(command{kind: cmdLinkUp})
	} else {
		d.post(command{kind: cmdLinkDown})
	}
}

func (d *Driver) post(c command) {
	d.init()
	select {
	case d.cmds <- c:
	default: // a burst of commands: the ones already queued do the work
	}
}

// Release gives the leases back and waits until the server answered or the
// client gave up (RFC 8415 18.2.7: at most 4 transmissions). Call it only
// when the configuration removes the uplink (RFC 9096 WPD-9), while Run
// runs; Run keeps running, released, until its context ends.
func (d *Driver) Release(ctx context.Context) error {
	d.init()
	c := command{kind: cmdRelease, done: make(chan struct{})}
	select {
	case d.cmds <- c:
	case <-ctx.Done():
		return fmt.Errorf("dhcp6: release on %s: %w", d.Interface, ctx.Err())
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("dhcp6: release on %s: %w", d.Interface, ctx.Err())
	}
}

// Snapshot returns the last lease facts and counters, for "show wan".
func (d *Driver) Snapshot() (Lease, Counters) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lease.Clone(), d.counters
}

type received struct {
	data []byte
	from netip.AddrPort
}

// Run drives the client until ctx ends. Stopping is not a release: the
// leases stay saved for the next start to Rebind (RFC 9096 WPD-9).
func (d *Driver) Run(ctx context.Context) error {
	d.init()
	if d.Client == nil {
		return errors.New("dhcp6: driver without a client")
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "dhcp6", "interface", d.Interface)
	clk := d.Clock
	if clk == nil {
		clk = clock.System{}
	}
	conn := d.Conn
	if conn == nil {
		c, err := Listen(d.Interface)
		if err != nil {
			return fmt.Errorf("dhcp6: %s: %w", d.Interface, err)
		}
		conn = c
		defer conn.Close()
	}
	_ = conn.SetReadDeadline(time.Time{})

	ctx, cancel := context.WithCancel(ctx)
	packets := make(chan received)
	readErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		readLoop(ctx, conn, packets, readErr)
	}()
	defer func() {
		cancel()
		// Unblock the reader without closing a Conn we may not own.
		_ = conn.SetReadDeadline(time.Unix(1, 0))
		wg.Wait()
	}()

	var (
		timer     clock.Timer
		timerC    <-chan time.Time
		releasing []chan struct{}
		lastState = d.Client.State()
		writeErr  string
	)
	apply := func(out Output) {
		for _, p := range out.Send {
			if _, err := conn.WriteTo(p.Data, p.To); err != nil {
				// The engine retransmits; log each new kind of failure once
				// (a link without a usable source address fails every send).
				if err.Error() != writeErr {
					writeErr = err.Error()
					log.Warn("dhcp6 send failed", "type", p.Type.String(), "to", p.To.String(), "err", err)
				}
			} else {
				writeErr = ""
			}
		}
		if out.Lease != nil {
			if out.Lease.State != lastState {
				lastState = out.Lease.State
				log.Info("dhcp6 state", "state", lastState.String(), "addresses", len(out.Lease.Addresses),
					"prefixes", fmt.Sprint(prefixList(out.Lease.Prefixes)), "last_error", out.Lease.LastError)
			}
			if d.OnLease != nil {
				d.OnLease(out.Lease.Clone())
			}
		}
		if out.Persist != nil && d.OnPersist != nil {
			d.OnPersist(out.Persist.Clone())
		}
		d.mu.Lock()
		d.lease, d.counters = d.Client.Lease(), d.Client.Counters()
		d.mu.Unlock()
		if timer != nil {
			timer.Stop()
			timer, timerC = nil, nil
		}
		if !out.Deadline.IsZero() {
			timer = clk.NewTimer(max(out.Deadline.Sub(clk.Now()), 0))
			timerC = timer.C()
		}
		if len(releasing) > 0 && d.Client.State() != StateReleasing {
			for _, ch := range releasing {
				close(ch)
			}
			releasing = nil
		}
	}
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()

	apply(d.Client.Start(clk.Now()))
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			return fmt.Errorf("dhcp6: %s: read: %w", d.Interface, err)
		case p := <-packets:
			apply(d.Client.Receive(clk.Now(), p.data, p.from))
		case <-timerC:
			apply(d.Client.Timer(clk.Now()))
		case c := <-d.cmds:
			now := clk.Now()
			switch c.kind {
			case cmdRenew:
				log.Info("dhcp6 renew requested")
				apply(d.Client.ForceRenew(now))
			case cmdLinkUp:
				apply(d.Client.LinkUp(now))
			case cmdLinkDown:
				apply(d.Client.LinkDown(now))
			case cmdRelease:
				log.Info("dhcp6 releasing leases")
				releasing = append(releasing, c.done)
				apply(d.Client.Release(now))
			}
		}
	}
}

// maxPacket is larger than any DHCPv6 message a server sends over UDP
// without fragmentation worries; longer datagrams are cut and fail to parse.
const maxPacket = 4096

func readLoop(ctx context.Context, conn Conn, out chan<- received, errc chan<- error) {
	buf := make([]byte, maxPacket)
	for {
		n, from, err := conn.ReadFrom(buf)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			errc <- err
			return
		}
		select {
		case out <- received{data: append([]byte(nil), buf[:n]...), from: from}:
		case <-ctx.Done():
			return
		}
	}
}

func prefixList(ps []Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Prefix)
	}
	return out
}
