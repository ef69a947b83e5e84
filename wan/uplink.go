// Package wan runs the uplinks: for each configured uplink the protocol
// engines it names (dhcp4, dhcp6, ra, static), publishing what they learn as
// facts for the planner and keeping what must survive a reboot (lease, DUID,
// IAIDs) in the state directory.
package wan

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"cpe/cpe/config"
	"cpe/cpe/plan"
	"cpe/cpe/state"
	"cpe/cpe/store"
	"cpe/wan/dhcp4"
	"cpe/wan/dhcp6"
	"cpe/wan/ra"
)

// Uplink is the supervised component of one configured uplink.
type Uplink struct {
	Config   config.WAN
	Hostname string // sent in DHCPv4 unless the uplink names its own
	StateDir string // this uplink's directory for persisted state
	Facts    *state.Store
	Logger   *slog.Logger

	mu      sync.Mutex
	d4      *dhcp4.Driver
	d6      *dhcp6.Driver
	ra      *ra.Driver
	carrier bool
	since   time.Time
	history *History
}

// NewUplink returns the component for w; history is kept across restarts
// of the component by the caller.
func NewUplink(w config.WAN, hostname, stateDir string, facts *state.Store, history *History, log *slog.Logger) *Uplink {
	if log == nil {
		log = slog.Default()
	}
	return &Uplink{Config: w, Hostname: hostname, StateDir: stateDir, Facts: facts,
		Logger: log.With("component", "wan", "uplink", w.Name), history: history}
}

// Run waits for the interface, then runs the configured engines until ctx
// ends. Stopping never releases a lease (RFC 9096 WPD-9): a restarted or
// rebooted box asks for the same one again.
func (u *Uplink) Run(ctx context.Context) error {
	ifname := u.Config.Interface
	link, err := waitLink(ctx, ifname, u.Logger)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("wan %s: set %s up: %w", u.Config.Name, ifname, err)
	}
	if err := os.MkdirAll(u.StateDir, 0o700); err != nil {
		return fmt.Errorf("wan %s: %w", u.Config.Name, err)
	}
	mac := link.Attrs().HardwareAddr

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 5) // one per engine goroutine and the lazy DHCPv6 start
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("wan %s: %s: %w", u.Config.Name, name, err)
			}
		}()
	}

	if u.Config.DHCP4 != nil {
		d, err := u.newDHCP4(mac)
		if err != nil {
			return err
		}
		u.mu.Lock()
		u.d4 = d
		u.mu.Unlock()
		run("dhcp4", d.Run)
	}
	startDHCP6 := func() error {
		d, err := u.newDHCP6(mac)
		if err != nil {
			return err
		}
		u.mu.Lock()
		u.d6 = d
		u.mu.Unlock()
		run("dhcp6", d.Run)
		return nil
	}
	auto := u.Config.DHCP6 != nil && u.Config.DHCP6.Start == "auto"
	if u.Config.DHCP6 != nil && !auto {
		if err := startDHCP6(); err != nil {
			return err
		}
	}
	if u.Config.RA != nil {
		// With start "auto", DHCPv6 waits for an RA whose M or O flag asks
		// for it (RFC 7084 W-4): some uplinks have no DHCPv6 server at all.
		var once sync.Once
		onFacts := func(f ra.Facts) {
			if auto && f.DHCPv6 != ra.DHCPv6None {
				once.Do(func() {
					u.history.Add("ra", "M/O flags ask for DHCPv6: starting it")
					if err := startDHCP6(); err != nil {
						select {
						case errc <- err:
						default: // the uplink is already stopping on another error
						}
					}
				})
			}
		}
		d, err := u.newRA(link, onFacts)
		if err != nil {
			return err
		}
		u.mu.Lock()
		u.ra = d
		u.mu.Unlock()
		run("ra", d.Run)
	}
	run("carrier", u.watchCarrier)

	// One engine failing (a socket error) restarts the whole uplink with
	// backoff through the supervisor; the others stop with it.
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
		cancel()
	}
	wg.Wait()
	return first
}

// waitLink returns the interface once it exists: a USB modem or a VLAN may
// appear after the box started.
func waitLink(ctx context.Context, ifname string, log *slog.Logger) (netlink.Link, error) {
	updates := make(chan netlink.LinkUpdate, 8)
	done := make(chan struct{})
	defer close(done)
	if err := netlink.LinkSubscribe(updates, done); err != nil {
		updates = nil
	}
	warned := false
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		l, err := netlink.LinkByName(ifname)
		if err == nil {
			return l, nil
		}
		if !warned {
			log.Warn("waiting for the interface", "interface", ifname, "err", err)
			warned = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-updates:
		case <-tick.C:
		}
	}
}

// watchCarrier feeds link up and down to the engines, so a cable pulled and
// plugged back makes the clients confirm their leases at once (RFC 2131
// INIT-REBOOT, RFC 8415 18.2.12) instead of waiting for T1.
func (u *Uplink) watchCarrier(ctx context.Context) error {
	updates := make(chan netlink.LinkUpdate, 16)
	if err := netlink.LinkSubscribe(updates, ctx.Done()); err != nil {
		return fmt.Errorf("link updates: %w", err)
	}
	set := func(up bool) {
		u.mu.Lock()
		changed := up != u.carrier || u.since.IsZero()
		u.carrier = up
		d4, d6, r := u.d4, u.d6, u.ra
		if changed {
			u.since = time.Now()
		}
		u.mu.Unlock()
		if !changed {
			return
		}
		u.Facts.Put(plan.KeyCarrier(u.Config.Name), up)
		u.history.Add("link", map[bool]string{true: "carrier up", false: "carrier down"}[up])
		if d6 != nil {
			d6.SetLink(up)
		}
		if r != nil {
			if up {
				r.LinkUp()
			} else {
				r.LinkDown()
			}
		}
		if d4 != nil {
			if up {
				d4.LinkUp(ctx)
			} else {
				d4.LinkDown(ctx)
			}
		}
	}
	if l, err := netlink.LinkByName(u.Config.Interface); err == nil {
		up := carrierUp(l)
		u.mu.Lock()
		u.carrier, u.since = up, time.Now()
		u.mu.Unlock()
		u.Facts.Put(plan.KeyCarrier(u.Config.Name), up)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case up, ok := <-updates:
			if !ok {
				return errors.New("link updates ended")
			}
			if up.Attrs().Name == u.Config.Interface {
				set(carrierUp(up.Link))
			}
		}
	}
}

func carrierUp(l netlink.Link) bool {
	a := l.Attrs()
	return a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown)
}

func (u *Uplink) newDHCP4(mac net.HardwareAddr) (*dhcp4.Driver, error) {
	host := u.Config.DHCP4.Hostname
	if host == "" {
		host = u.Hostname
	}
	cfg := dhcp4.Config{Interface: u.Config.Interface, HWAddr: mac, Hostname: host}
	if id := u.Config.DHCP4.ClientID; id != "" {
		cfg.ClientID = append([]byte{0}, id...) // type 0: a text identifier (RFC 2132 9.14)
	}
	c, err := dhcp4.New(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := dhcp4.NewConn(u.Config.Interface)
	if err != nil {
		return nil, fmt.Errorf("wan %s: dhcp4: %w", u.Config.Name, err)
	}
	file := filepath.Join(u.StateDir, "dhcp4.json")
	var saved *dhcp4.Lease
	if l, err := store.ReadJSON[dhcp4.Lease](file); err == nil && l.Bound() {
		saved = &l
	}
	key := plan.KeyDHCP4(u.Config.Name)
	var last dhcp4.Lease
	return dhcp4.NewDriver(c, dhcp4.Options{
		Conn:   conn,
		Saved:  saved,
		Logger: u.Logger,
		OnLease: func(l dhcp4.Lease) {
			u.Facts.Put(key, l)
			u.history.lease4(last, l)
			last = l
		},
		OnPersist: func(l dhcp4.Lease) {
			if !l.Bound() {
				os.Remove(file)
				return
			}
			u.save(file, l)
		},
	}), nil
}

func (u *Uplink) newDHCP6(mac net.HardwareAddr) (*dhcp6.Driver, error) {
	c6 := u.Config.DHCP6
	file := filepath.Join(u.StateDir, "dhcp6.json")
	persist, err := store.ReadJSON[dhcp6.Persist](file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		u.Logger.Error("unreadable DHCPv6 state; starting afresh", "file", file, "err", err)
	}
	c, err := dhcp6.New(dhcp6.Options{
		Config:       dhcp6.Config{IANA: c6.IANA, IAPD: c6.IAPD, PrefixHint: c6.PrefixHint, RapidCommit: c6.RapidCommit},
		Persist:      persist,
		HardwareAddr: mac,
	})
	if err != nil {
		return nil, fmt.Errorf("wan %s: %w", u.Config.Name, err)
	}
	key := plan.KeyDHCP6(u.Config.Name)
	var last dhcp6.Lease
	return &dhcp6.Driver{
		Client:    c,
		Interface: u.Config.Interface,
		Logger:    u.Logger,
		OnLease: func(l dhcp6.Lease) {
			u.Facts.Put(key, l)
			u.history.lease6(last, l)
			last = l
		},
		OnPersist: func(p dhcp6.Persist) { u.save(file, p) },
	}, nil
}

func (u *Uplink) newRA(link netlink.Link, onFacts func(ra.Facts)) (*ra.Driver, error) {
	key, err := u.slaacKey()
	if err != nil {
		return nil, err
	}
	rcv, err := ra.New(ra.Options{Config: ra.Config{
		Interface:    u.Config.Interface,
		HardwareAddr: link.Attrs().HardwareAddr,
		LinkMTU:      link.Attrs().MTU,
		SecretKey:    key,
	}})
	if err != nil {
		return nil, fmt.Errorf("wan %s: %w", u.Config.Name, err)
	}
	factKey := plan.KeyRA(u.Config.Name)
	var last ra.Facts
	return &ra.Driver{
		Receiver:  rcv,
		Interface: u.Config.Interface,
		Logger:    u.Logger,
		OnFacts: func(f ra.Facts) {
			u.Facts.Put(factKey, f)
			u.history.ra(last, f)
			last = f
			onFacts(f)
		},
	}, nil
}

// slaacKey is the RFC 7217 secret of this uplink's SLAAC addresses: made
// once and kept, so the WAN address is the same after every reboot.
func (u *Uplink) slaacKey() ([]byte, error) {
	file := filepath.Join(u.StateDir, "slaac.key")
	if b, err := os.ReadFile(file); err == nil && len(b) >= 16 {
		return b, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := store.WriteFileAtomic(file, b, 0o600); err != nil {
		return nil, fmt.Errorf("wan %s: %w", u.Config.Name, err)
	}
	return b, nil
}

func (u *Uplink) save(file string, v any) {
	if err := store.WriteJSON(file, v, 0o600); err != nil {
		u.Logger.Error("saving uplink state", "file", file, "err", err)
	}
}

// Renew asks every running client of the uplink to renew now.
func (u *Uplink) Renew(ctx context.Context) error {
	u.mu.Lock()
	d4, d6 := u.d4, u.d6
	u.mu.Unlock()
	if d4 == nil && d6 == nil {
		return fmt.Errorf("wan %s: no DHCP client running", u.Config.Name)
	}
	var errs []error
	if d4 != nil {
		errs = append(errs, d4.ForceRenew(ctx))
	}
	if d6 != nil {
		d6.Renew()
	}
	u.history.Add("console", "renew requested")
	return errors.Join(errs...)
}

// Status is a snapshot for `show wan`.
type Status struct {
	Config  config.WAN
	Carrier bool
	Since   time.Time
	DHCP4   *dhcp4.Lease
	DHCP4C  dhcp4.Counters
	DHCP6   *dhcp6.Lease
	DHCP6C  dhcp6.Counters
	RA      *ra.Facts
	RAC     ra.Counters
}

// Status returns what the uplink's engines know now.
func (u *Uplink) Status() Status {
	u.mu.Lock()
	s := Status{Config: u.Config, Carrier: u.carrier, Since: u.since}
	d4, d6, r := u.d4, u.d6, u.ra
	u.mu.Unlock()
	if r != nil {
		f, c := r.Snapshot()
		s.RA, s.RAC = &f, c
	}
	if d4 != nil {
		l, c := d4.Status()
		s.DHCP4, s.DHCP4C = &l, c
	}
	if d6 != nil {
		l, c := d6.Snapshot()
		s.DHCP6, s.DHCP6C = &l, c
	}
	return s
}

// Release gives the uplink's leases back to the ISP. Only for an uplink
// removed from the configuration: a restart or reboot must not release
// (RFC 9096 WPD-9).
func (u *Uplink) Release(ctx context.Context) error {
	u.mu.Lock()
	d4, d6 := u.d4, u.d6
	u.mu.Unlock()
	var errs []error
	if d6 != nil {
		errs = append(errs, d6.Release(ctx))
	}
	if d4 != nil {
		errs = append(errs, d4.Release(ctx))
	}
	u.history.Add("config", "uplink removed: leases released")
	return errors.Join(errs...)
}
