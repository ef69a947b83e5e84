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

	"github.com/mdlayher/ndp"

	"cpe/internal/clock"
)

// Conn is a LAN segment's ICMPv6 socket for Router Discovery. Addresses
// come without a zone; the connection knows its interface.
type Conn interface {
	// ReadFrom reads one ICMPv6 message (from its type byte on) into b and
	// returns its source and the hop limit it arrived with (-1: unknown).
	ReadFrom(b []byte) (n int, from netip.Addr, hopLimit int, err error)
	// WriteTo sends b, an ICMPv6 message, with hop limit 255 and exactly
	// these bytes; the kernel fills in the checksum.
	WriteTo(b []byte, to netip.Addr) error
	// SetReadDeadline makes a blocked or later ReadFrom return an error
	// satisfying errors.Is(err, os.ErrDeadlineExceeded) once t has passed.
	SetReadDeadline(t time.Time) error
	Close() error
}

// Status is what "show ra" prints for a segment.
type Status struct {
	Last     Advertisement
	Counters Counters
	// SendErrors counts RAs the socket refused.
	SendErrors uint64
	// ConfigError is why the last SetConfig was refused ("": accepted).
	ConfigError string
}

// Driver runs an Advertiser on a socket.
type Driver struct {
	Advertiser *Advertiser
	Interface  string // the segment: opened with Open when Conn is nil; named in logs
	// Conn is the socket; nil opens one with Open, retried until it works
	// (the link-local address is tentative for a while after link up), and
	// closes it when Run returns.
	Conn Conn
	// Open opens the socket for Interface; nil is the package's Listen.
	Open   func(ifname string) (Conn, error)
	Clock  clock.Clock // nil: the system clock
	Logger *slog.Logger

	once sync.Once
	kick chan struct{}

	mu      sync.Mutex
	cfg     *Config // set by SetConfig, not yet handed to the Advertiser
	haveCfg bool
	status  Status
}

func (d *Driver) init() { d.once.Do(func() { d.kick = make(chan struct{}, 1) }) }

// SetConfig hands the segment's current Config to Run; it never blocks.
// Nothing is advertised before the first one. Calling it twice with the
// same Config changes nothing.
func (d *Driver) SetConfig(cfg Config) {
	d.init()
	c := cfg.Clone()
	d.mu.Lock()
	d.cfg = &c
	d.mu.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Snapshot returns what was last advertised and the counters.
func (d *Driver) Snapshot() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.status
	s.Last = s.Last.clone()
	return s
}

const (
	maxPacket    = 65536
	openRetryMin = time.Second
	openRetryMax = 30 * time.Second
)

type received struct {
	data     []byte
	from     netip.Addr
	hopLimit int
}

// Run advertises until ctx ends, then sends the final RA (router lifetime
// 0), waiting for it at most MinDelayBetweenRAs.
func (d *Driver) Run(ctx context.Context) error {
	d.init()
	if d.Advertiser == nil {
		return errors.New("ra: driver without an advertiser")
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "lan/ra", "interface", d.Interface)
	clk := d.Clock
	if clk == nil {
		clk = clock.System{}
	}
	open := d.Open
	if open == nil {
		open = Listen
	}

	rctx, cancel := context.WithCancel(context.Background())
	packets := make(chan received)
	readErr := make(chan error, 1)
	var (
		wg   sync.WaitGroup
		conn Conn
		own  bool
	)
	defer func() {
		cancel()
		if conn != nil {
			_ = conn.SetReadDeadline(time.Unix(1, 0))
		}
		wg.Wait()
		if own {
			_ = conn.Close()
		}
	}()
	startReader := func(c Conn) {
		conn = c
		_ = conn.SetReadDeadline(time.Time{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			readLoop(rctx, conn, packets, readErr)
		}()
	}

	var (
		timer     clock.Timer
		timerC    <-chan time.Time
		openTimer clock.Timer
		openC     <-chan time.Time
		retry     = openRetryMin
		openErr   string
		writeErr  string
	)
	stop := func(t clock.Timer) {
		if t != nil {
			t.Stop()
		}
	}
	defer func() { stop(timer); stop(openTimer) }()

	apply := func(out Output) {
		var failed uint64
		for _, p := range out.Send {
			if err := conn.WriteTo(p.Data, p.To); err != nil {
				failed++
				if err.Error() != writeErr {
					writeErr = err.Error()
					log.Warn("router advertisement not sent", "err", err)
				}
			} else {
				writeErr = ""
			}
		}
		d.mu.Lock()
		d.status.Last = d.Advertiser.Last()
		d.status.Counters = d.Advertiser.Counters()
		d.status.SendErrors += failed
		d.mu.Unlock()
		stop(timer)
		timer, timerC = nil, nil
		if !out.Deadline.IsZero() {
			timer = clk.NewTimer(max(out.Deadline.Sub(clk.Now()), 0))
			timerC = timer.C()
		}
	}
	// takeConfig hands a pending Config to the Advertiser; only with a
	// socket, so the first RAs are not lost to a missing one.
	takeConfig := func() {
		d.mu.Lock()
		cfg := d.cfg
		d.cfg = nil
		d.mu.Unlock()
		if cfg == nil {
			return
		}
		out, err := d.Advertiser.Update(clk.Now(), *cfg)
		d.mu.Lock()
		if err != nil {
			d.status.ConfigError = err.Error()
		} else {
			d.status.ConfigError = ""
		}
		d.mu.Unlock()
		if err != nil {
			log.Error("router advertisement config refused", "err", err)
		}
		apply(out)
	}

	if d.Conn != nil {
		startReader(d.Conn)
	} else {
		openTimer = clk.NewTimer(0)
		openC = openTimer.C()
	}
loop:
	for {
		if conn != nil {
			takeConfig()
		}
		select {
		case <-ctx.Done():
			if conn == nil {
				return nil
			}
			break loop
		case <-openC:
			openTimer, openC = nil, nil
			c, err := open(d.Interface)
			if err != nil {
				if err.Error() != openErr {
					openErr = err.Error()
					log.Info("waiting for the segment's link-local address", "err", err)
				}
				openTimer = clk.NewTimer(retry)
				openC = openTimer.C()
				retry = min(2*retry, openRetryMax)
				continue
			}
			own = true
			startReader(c)
		case err := <-readErr:
			return fmt.Errorf("ra: %s: read: %w", d.Interface, err)
		case p := <-packets:
			apply(d.Advertiser.Solicit(clk.Now(), p.data, p.from, p.hopLimit))
		case <-timerC:
			apply(d.Advertiser.Timer(clk.Now()))
		case <-d.kick:
		}
	}

	// RFC 4861 6.2.5: the last word is Router Lifetime 0, held back only by
	// the 3 s between multicast RAs.
	out := d.Advertiser.Stop(clk.Now())
	apply(out)
	if !out.Deadline.IsZero() {
		<-timerC
		apply(d.Advertiser.Timer(clk.Now()))
	}
	return nil
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

// rawMessage turns an ICMPv6 message back into an ndp.Message that
// marshals to exactly b: the header through ndp, every option as a
// RawOption. ndp's Conn only writes Messages, and a parsed RIO would lose
// the bits of a prefix length that is not a multiple of 8.
func rawMessage(b []byte) (ndp.Message, error) {
	m, err := ndp.ParseMessage(b)
	if err != nil {
		return nil, fmt.Errorf("ra: send: %w", err)
	}
	ra, ok := m.(*ndp.RouterAdvertisement)
	if !ok {
		return m, nil
	}
	const raLen = 16
	ra.Options = ra.Options[:0]
	for o := b[raLen:]; len(o) > 0; {
		n := int(o[1]) * 8 // ParseMessage checked the framing
		ra.Options = append(ra.Options, &ndp.RawOption{Type: o[0], Length: o[1], Value: o[2:n]})
		o = o[n:]
	}
	return ra, nil
}
