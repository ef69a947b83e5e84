package lan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"cpe/cpe/config"
	"cpe/cpe/plan"
	"cpe/cpe/store"
	"cpe/lan/dhcp6"
	"cpe/lan/prefix"
)

// dhcp6Servers are the DHCPv6 servers of the segments. They are made at the
// first plan and live as long as the Service: every later plan (new
// prefixes, new DNS servers) is handed to them with Update, so no binding
// is lost to a re-plan.
type dhcp6Servers struct {
	mu      sync.Mutex
	servers map[string]*dhcp6.Server // by segment name
	ifaces  map[string]string        // segment name → interface
	duid    []byte
	failed  map[string]bool // segments whose server could not be made: logged once

	// pub serialises publishing, so that an older list of delegated
	// prefixes never overwrites a newer one.
	pub sync.Mutex
}

// duidFile keeps the one server DUID of all segments (RFC 8415 11: a
// server's DUID must not change).
type duidFile struct {
	DUID string `json:"duid"` // hex
}

// dhcp6Config is the DHCPv6 service of seg in plan p; ok is false when the
// segment runs no DHCPv6 server.
func dhcp6Config(seg config.LAN, duid []byte, p prefix.Plan, dns []netip.Addr, domains []string) (dhcp6.Config, bool) {
	if seg.IPv6 == nil {
		return dhcp6.Config{}, false
	}
	d := seg.IPv6.DHCP6
	c := dhcp6.Config{Interface: seg.Interface, Segment: seg.Name, DUID: duid,
		Stateless: d.Stateless, IANA: d.IANA, PD: d.PD != nil, DNS: dns, Domains: domains}
	if !c.Enabled() {
		return c, false
	}
	if sp, ok := p.Segment(seg.Name); ok {
		c.Prefixes = sp.Prefixes
	}
	if c.PD {
		for _, pool := range p.Pools {
			if pool.Length == d.PD.Length {
				c.Pools = append(c.Pools, pool)
			}
		}
	}
	return c, true
}

// configureDHCP6 hands every segment's DHCPv6 server the plan and the
// uplinks' DNS servers and domains, starting the servers on the first
// call, and publishes the delegated prefixes.
func (s *Service) configureDHCP6(ctx context.Context, wg *sync.WaitGroup, p prefix.Plan, dns []netip.Addr, domains []string, now time.Time, log *slog.Logger) {
	v := &s.v6
	v.mu.Lock()
	if v.servers == nil {
		v.servers, v.ifaces, v.failed = map[string]*dhcp6.Server{}, map[string]string{}, map[string]bool{}
	}
	for _, seg := range s.Config.LAN {
		if v.failed[seg.Name] {
			continue
		}
		cfg, ok := dhcp6Config(seg, v.duid, p, dns, domains)
		if !ok {
			continue
		}
		if srv := v.servers[seg.Name]; srv != nil {
			if err := srv.Update(cfg, now); err != nil {
				log.Error("DHCPv6 server not updated", "segment", seg.Name, "err", err)
			}
			continue
		}
		if v.duid == nil {
			d, err := s.serverDUID()
			if err != nil {
				log.Error("DHCPv6 servers not started", "err", err)
				v.failed[seg.Name] = true
				continue
			}
			v.duid, cfg.DUID = d, d
		}
		srv, err := dhcp6.New(cfg, s.Logger)
		if err != nil {
			log.Error("DHCPv6 server not started", "segment", seg.Name, "err", err)
			v.failed[seg.Name] = true
			continue
		}
		file := filepath.Join(s.StateDir, "dhcp6-"+seg.Name+".json")
		if st, err := store.ReadJSON[dhcp6.State](file); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Error("unreadable DHCPv6 bindings; starting with none", "file", file, "err", err)
		} else if err := srv.Load(st, now); err != nil {
			log.Warn("DHCPv6 bindings", "err", err)
		}
		v.servers[seg.Name], v.ifaces[seg.Name] = srv, seg.Interface
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveDHCP6(ctx, seg, srv, file, log)
		}()
	}
	v.mu.Unlock()
	s.publishDelegated()
}

// serverDUID reads the server DUID from the state directory, or makes one
// and saves it before it is ever sent.
func (s *Service) serverDUID() ([]byte, error) {
	file := filepath.Join(s.StateDir, "dhcp6-duid")
	f, err := store.ReadJSON[duidFile](file)
	if err == nil {
		if d, herr := hex.DecodeString(f.DUID); herr == nil && len(d) >= 3 {
			return d, nil
		}
		err = fmt.Errorf("%s: not a DUID", file)
	}
	if !errors.Is(err, os.ErrNotExist) {
		// Replacing it makes the clients see a new server; better that
		// than no server.
		s.Logger.Error("unreadable DHCPv6 server DUID; making a new one", "component", "lan", "err", err)
	}
	var d []byte
	for _, seg := range s.Config.LAN {
		if mac := linkMAC(seg.Interface); len(mac) == 6 {
			d, err = dhcp6.NewDUID(mac, s.Now(), rand.Reader)
			break
		}
	}
	if d == nil {
		d, err = dhcp6.NewDUID(nil, s.Now(), rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("lan: %w", err)
	}
	if err := store.WriteJSON(file, duidFile{DUID: hex.EncodeToString(d)}, 0o600); err != nil {
		return nil, fmt.Errorf("lan: saving the DHCPv6 server DUID: %w", err)
	}
	return d, nil
}

// serveDHCP6 runs one segment's server, reopening its socket with backoff
// while the interface is not there yet.
func (s *Service) serveDHCP6(ctx context.Context, seg config.LAN, srv *dhcp6.Server, file string, log *slog.Logger) {
	log = log.With("segment", seg.Name)
	delay := time.Second
	for ctx.Err() == nil {
		conn, err := dhcp6.NewConn(seg.Interface)
		if err == nil {
			d := dhcp6.NewDriver(srv, dhcp6.Options{Conn: conn, Logger: s.Logger,
				OnPersist: func(st dhcp6.State) error { return store.WriteJSON(file, st, 0o600) },
				OnRoutes:  func([]dhcp6.Route) { s.publishDelegated() }})
			err = d.Run(ctx)
			if ctx.Err() != nil {
				return
			}
			delay = time.Second
		}
		log.Warn("DHCPv6 server stopped; retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// publishDelegated puts the prefixes delegated on every segment under
// plan.KeyLANDelegated, from which the planner routes each to its
// requester's link-local address (RFC 9818 4).
func (s *Service) publishDelegated() {
	v := &s.v6
	v.pub.Lock()
	defer v.pub.Unlock()
	now := s.Now()
	v.mu.Lock()
	ds := []plan.Delegated{}
	for name, srv := range v.servers {
		for _, r := range srv.Routes(now) {
			ds = append(ds, plan.Delegated{Segment: name, Interface: v.ifaces[name], Client: r.DUID,
				Prefix: r.Prefix, Via: r.Via, Valid: r.Valid})
		}
	}
	v.mu.Unlock()
	slices.SortFunc(ds, func(a, b plan.Delegated) int { return a.Prefix.Addr().Compare(b.Prefix.Addr()) })
	s.Facts.Put(plan.KeyLANDelegated, ds)
}

// snapshot is every segment's DHCPv6 bindings, for show commands.
func (v *dhcp6Servers) snapshot(now time.Time) map[string][]dhcp6.Lease {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string][]dhcp6.Lease, len(v.servers))
	for name, srv := range v.servers {
		out[name] = srv.Snapshot(now)
	}
	return out
}

// counters returns each segment's DHCPv6 server counters.
func (v *dhcp6Servers) counters() map[string]dhcp6.Counters {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]dhcp6.Counters, len(v.servers))
	for name, srv := range v.servers {
		out[name] = srv.Counters()
	}
	return out
}
