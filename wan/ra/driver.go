package ra

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

// Conn is the uplink's ICMPv6 socket for Router Discovery. Addresses come
// without a zone; the connection knows its interface.
type Conn interface {
	// ReadFrom reads one ICMPv6 message (from its type byte on) into b and
	// returns its source and the IP hop limit it arrived with.
	ReadFrom(b []byte) (n int, from netip.Addr, hopLimit int, err error)
	// WriteTo sends an ICMPv6 message with hop limit 255; the checksum in
	// b is left for the kernel to fill in.
	WriteTo(b []byte, to netip.Addr) error
	// SetReadDeadline makes a blocked or later ReadFrom return an error
	// satisfying errors.Is(err, os.ErrDeadlineExceeded) once t has passed.
	SetReadDeadline(t time.Time) error
	Close() error
}

// Driver runs a Receiver on a socket: packets, timers and link events in,
// solicitations and facts out.
type Driver struct {
	Receiver  *Receiver
	Interface string // the uplink: opened with Open when Conn is nil; named in logs
	// Conn is the socket; nil opens one with Open, retried until it works
	// (the link-local address is still tentative at boot), and closes it
	// when Run returns.
	Conn Conn
	// Open opens the socket for Interface; nil is the package's Listen.
	Open   func(ifname string) (Conn, error)
	Clock  clock.Clock // nil: the system clock
	Logger *slog.Logger
	// OnFacts gets every change of the facts, from Run's goroutine; it
	// should not block for long.
	OnFacts func(Facts)

	once sync.Once
	kick chan struct{}

	mu       sync.Mutex
	link     []bool // link events not yet handed to the Receiver
	dup      []netip.Addr
	facts    Facts
	counters Counters
}

func (d *Driver) init() { d.once.Do(func() { d.kick = make(chan struct{}, 1) }) }

// LinkUp reports carrier on the uplink (from the netlink watcher). It
// never blocks, also when Run is not running.
func (d *Driver) LinkUp() { d.linkEvent(true) }

// LinkDown reports carrier loss on the uplink.
func (d *Driver) LinkDown() { d.linkEvent(false) }

func (d *Driver) linkEvent(up bool) {
	d.init()
	d.mu.Lock()
	if n := len(d.link); n == 0 || d.link[n-1] != up {
		d.link = append(d.link, up)
	}
	// Only the last transition matters: down-up must still restart the
	// solicitations, a longer history adds nothing.
	if n := len(d.link); n > 2 {
		d.link = append(d.link[:0], d.link[n-2:]...)
	}
	d.mu.Unlock()
	d.poke()
}

// DADFailed reports that the kernel marked one of our SLAAC addresses
// dadfailed; the Receiver forms another (RFC 7217) or gives the prefix up.
func (d *Driver) DADFailed(addr netip.Addr) {
	d.init()
	d.mu.Lock()
	if len(d.dup) < maxPrefixes {
		d.dup = append(d.dup, addr)
	}
	d.mu.Unlock()
	d.poke()
}

func (d *Driver) poke() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Snapshot returns the current facts (LastRA and LastError included) and
// counters, for "show wan".
func (d *Driver) Snapshot() (Facts, Counters) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.facts.Clone(), d.counters
}

type received struct {
	data     []byte
	from     netip.Addr
	hopLimit int
}

const (
	// maxPacket takes any RA a link can carry unfragmented.
	maxPacket = 65536
	// Opening the socket is retried from 1 s to 30 s: at boot the
	// link-local address needs about a second of DAD.
	openRetryMin = time.Second
	openRetryMax = 30 * time.Second
	// dropLogEvery rate-limits the log line about dropped packets.
	dropLogEvery = time.Minute
)

// Run drives the receiver until ctx ends.
func (d *Driver) Run(ctx context.Context) error {
	d.init()
	if d.Receiver == nil {
		return errors.New("ra: driver without a receiver")
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "ra", "interface", d.Interface)
	clk := d.Clock
	if clk == nil {
		clk = clock.System{}
	}
	open := d.Open
	if open == nil {
		open = Listen
	}

	ctx, cancel := context.WithCancel(ctx)
	packets := make(chan received)
	readErr := make(chan error, 1)
	var (
		wg   sync.WaitGroup
		conn Conn
		own  bool
	)
	startReader := func(c Conn) {
		conn = c
		_ = conn.SetReadDeadline(time.Time{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			readLoop(ctx, conn, packets, readErr)
		}()
	}
	defer func() {
		cancel()
		if conn != nil {
			// Unblock the reader without closing a Conn we may not own.
			_ = conn.SetReadDeadline(time.Unix(1, 0))
		}
		wg.Wait()
		if own {
			_ = conn.Close()
		}
	}()

	var (
		timer     clock.Timer
		timerC    <-chan time.Time
		openTimer clock.Timer
		openC     <-chan time.Time
		retry     = openRetryMin
		openErr   string
		writeErr  string
		drops     uint64
		dropLog   time.Time
		last      Facts
	)
	stop := func(t clock.Timer) {
		if t != nil {
			t.Stop()
		}
	}
	defer func() { stop(timer); stop(openTimer) }()

	apply := func(out Output) {
		for _, p := range out.Send {
			if conn == nil {
				break
			}
			if err := conn.WriteTo(p.Data, p.To); err != nil {
				// The engine sends again on schedule; log each new kind of
				// failure once.
				if err.Error() != writeErr {
					writeErr = err.Error()
					log.Warn("router solicitation not sent", "err", err)
				}
			} else {
				writeErr = ""
			}
		}
		now := clk.Now()
		f, c := d.Receiver.Facts(), d.Receiver.Counters()
		d.mu.Lock()
		d.facts, d.counters = f, c
		d.mu.Unlock()
		// The timer is set before anyone hears of the facts, so what they
		// see is the state Run waits in.
		stop(timer)
		timer, timerC = nil, nil
		if !out.Deadline.IsZero() {
			timer = clk.NewTimer(max(out.Deadline.Sub(now), 0))
			timerC = timer.C()
		}
		if out.Facts != nil {
			logChange(log, last, *out.Facts)
			last = out.Facts.Clone()
			if d.OnFacts != nil {
				d.OnFacts(out.Facts.Clone())
			}
		}
		if n := c.Received - c.Accepted; n > drops && now.Sub(dropLog) >= dropLogEvery {
			log.Warn("router advertisements dropped", "count", n-drops, "last_error", f.LastError)
			drops, dropLog = n, now
		}
	}

	if d.Conn != nil {
		startReader(d.Conn)
		apply(d.Receiver.Start(clk.Now()))
	} else {
		openTimer = clk.NewTimer(0)
		openC = openTimer.C()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-openC:
			openTimer, openC = nil, nil
			c, err := open(d.Interface)
			if err != nil {
				if err.Error() != openErr {
					openErr = err.Error()
					log.Info("waiting for the uplink's link-local address", "err", err)
				}
				openTimer = clk.NewTimer(retry)
				openC = openTimer.C()
				retry = min(2*retry, openRetryMax)
				continue
			}
			own = true
			startReader(c)
			apply(d.Receiver.Start(clk.Now()))
		case err := <-readErr:
			return fmt.Errorf("ra: %s: read: %w", d.Interface, err)
		case p := <-packets:
			apply(d.Receiver.Receive(clk.Now(), p.data, p.from, p.hopLimit))
		case <-timerC:
			apply(d.Receiver.Timer(clk.Now()))
		case <-d.kick:
			d.mu.Lock()
			link, dup := d.link, d.dup
			d.link, d.dup = nil, nil
			d.mu.Unlock()
			for _, up := range link {
				if up {
					apply(d.Receiver.LinkUp(clk.Now()))
				} else {
					apply(d.Receiver.LinkDown(clk.Now()))
				}
			}
			for _, a := range dup {
				log.Warn("SLAAC address is a duplicate", "addr", a.String())
				apply(d.Receiver.DADFailed(clk.Now(), a))
			}
		}
	}
}

func readLoop(ctx context.Context, conn Conn, out chan<- received, errc chan<- error) {
	buf := make([]byte, maxPacket)
	for {
		n, from, hop, err := conn.ReadFrom(buf)
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
		case out <- received{data: append([]byte(nil), buf[:n]...), from: from, hopLimit: hop}:
		case <-ctx.Done():
			return
		}
	}
}

// logChange logs what an operator wants to see: default routers, prefixes
// and addresses coming and going (not every lifetime refresh).
func logChange(log *slog.Logger, old, new Facts) {
	addrs := func(f Facts) (routers, prefixes, addresses []string) {
		for _, r := range f.Routers {
			routers = append(routers, r.Addr.String()+" "+r.Preference.String())
		}
		for _, p := range f.Prefixes {
			prefixes = append(prefixes, p.Prefix.String())
		}
		for _, a := range f.Addresses {
			addresses = append(addresses, a.Addr.String())
		}
		return
	}
	or, op, oa := addrs(old)
	nr, np, na := addrs(new)
	if fmt.Sprint(or, op, oa, old.DHCPv6) != fmt.Sprint(nr, np, na, new.DHCPv6) {
		log.Info("router discovery", "routers", nr, "prefixes", np, "addresses", na,
			"dhcpv6", new.DHCPv6.String(), "mtu", new.MTU)
	}
}
