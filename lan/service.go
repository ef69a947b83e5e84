// Package lan serves the LAN segments: it assigns each a /64 out of every
// delegated prefix (lan/prefix), advertises them (lan/ra), runs their
// DHCPv6 (lan/dhcp6) and DHCPv4 (lan/dhcp4) servers, and publishes the
// assignment and the prefixes delegated to LAN routers as facts, from which
// the planner puts the router's own addresses on the segments and routes
// the delegated prefixes.
package lan

import (
	"context"
	"crypto/rand"
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
	"cpe/cpe/state"
	"cpe/cpe/store"
	"cpe/internal/clock"
	"cpe/lan/dhcp4"
	"cpe/lan/dhcp6"
	"cpe/lan/prefix"
	"cpe/lan/ra"
	wandhcp6 "cpe/wan/dhcp6"
	rawan "cpe/wan/ra"
)

// Service is the supervised component of all LAN segments.
type Service struct {
	Config   *config.Config
	StateDir string // <state>/lan
	Facts    *state.Store
	Logger   *slog.Logger
	Now      func() time.Time

	mu      sync.Mutex
	drivers map[string]*ra.Driver
	dhcp4   map[string]*dhcp4.Server
	last    prefix.Plan
	v6      dhcp6Servers
}

// Run plans prefixes and runs the advertisers until ctx ends; the
// advertisers send a final RA with router lifetime 0 as they stop.
func (s *Service) Run(ctx context.Context) error {
	if s.Now == nil {
		s.Now = time.Now
	}
	log := s.Logger.With("component", "lan")
	if err := os.MkdirAll(s.StateDir, 0o700); err != nil {
		return fmt.Errorf("lan: %w", err)
	}
	file := filepath.Join(s.StateDir, "prefixes.json")
	st, err := loadState(file)
	if err != nil {
		log.Error("unreadable prefix state; starting afresh (old prefixes cannot be deprecated)", "file", file, "err", err)
	}
	if !st.ULA.IsValid() {
		// RFC 7084 ULA-1: a ULA prefix generated once and kept.
		st.ULA = prefix.GenerateULA(rand.Reader)
	}
	alloc := prefix.New(st)

	// Deferred in this order so the goroutines are told to stop before
	// they are waited for.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.dhcp4 = map[string]*dhcp4.Server{}
	s.drivers = map[string]*ra.Driver{}
	for _, seg := range s.Config.LAN {
		if seg.IPv6 == nil {
			continue
		}
		d := &ra.Driver{Advertiser: ra.New(ra.Options{}), Interface: seg.Interface, Logger: s.Logger}
		s.drivers[seg.Name] = d
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Run(ctx); err != nil && ctx.Err() == nil {
				log.Error("router advertisements stopped", "segment", seg.Name, "err", err)
			}
		}()
	}
	s.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.dhcp4Servers(ctx, log)
	}()

	// The service plans again when a fact changes (its own publication of
	// the plan too, once: the plan is then as the facts are), and when a
	// time the plan compared with runs out. The advertisers and the DHCPv6
	// servers count lifetimes down by themselves in between.
	wake, unsub := s.Facts.Subscribe()
	defer unsub()
	var deadline clock.Deadline
	defer deadline.Stop()
	ula := st.ULA
	var seen uint64 // the version of the facts the last plan was made from
	var next time.Time
	planned := false
	for {
		if now := s.Now(); !planned || s.Facts.Version() != seen || (!next.IsZero() && !now.Before(next)) {
			snap := s.Facts.Snapshot()
			planned, seen = true, snap.Version
			next = s.plan(ctx, &wg, alloc, ula, file, snap, now, log)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-deadline.At(next, s.Now()):
		}
	}
}

// plan assigns the prefixes from the facts in snap, publishes the plan and
// hands it, with what the uplinks offer, to the advertisers and DHCPv6
// servers; it returns when planning again would give another result with
// no fact changed (zero: never).
func (s *Service) plan(ctx context.Context, wg *sync.WaitGroup, alloc *prefix.Allocator, ula netip.Prefix, file string, snap state.Snapshot, now time.Time, log *slog.Logger) time.Time {
	pl := alloc.Plan(s.input(ula, snap, now))
	if pl.State != nil {
		if err := store.WriteJSON(file, *pl.State, 0o600); err != nil {
			log.Error("saving the prefix plan", "err", err)
		}
	}
	s.mu.Lock()
	problemsChanged := !slices.Equal(pl.Problems, s.last.Problems)
	s.last = pl
	s.mu.Unlock()
	if problemsChanged {
		for _, pr := range pl.Problems {
			log.Warn("prefix plan", "problem", pr)
		}
	}
	s.Facts.Put(plan.KeyLANPlan, pl)
	at := plan.Moment{Now: now}
	at.Note(pl.Next)
	defaultRoute := uplinkDefaultRoute(s.Config, snap, &at)
	dns, domains := uplinkDNS6(s.Config, snap, &at)
	s.configureRAs(pl, defaultRoute, dns, domains)
	s.configureDHCP6(ctx, wg, pl, dns, domains, now, log)
	return at.Next
}

// input gathers the segments and every uplink's delegated prefixes.
func (s *Service) input(ula netip.Prefix, snap state.Snapshot, now time.Time) prefix.Input {
	in := prefix.Input{ULA: ula, Now: now, PDLength: 62}
	for _, seg := range s.Config.LAN {
		if seg.IPv6 == nil {
			continue
		}
		in.Segments = append(in.Segments, prefix.Segment{Name: seg.Name, SubnetID: seg.IPv6.SubnetID})
		if seg.IPv6.DHCP6.PD != nil {
			in.PDLength = seg.IPv6.DHCP6.PD.Length
		}
	}
	for _, w := range s.Config.WAN {
		l, ok := state.Get[wandhcp6.Lease](snap, plan.KeyDHCP6(w.Name))
		if !ok {
			continue
		}
		up := true
		if link, ok := state.Get[bool](snap, plan.KeyCarrier(w.Name)); ok {
			up = link
		}
		for _, p := range l.Prefixes {
			in.Delegations = append(in.Delegations, prefix.Delegation{
				Uplink: w.Name, Prefix: p.Prefix, Preferred: p.Preferred, Valid: p.Valid, TooLong: p.TooLong, Up: up,
			})
		}
	}
	return in
}

// configureRAs hands every advertiser its segment's prefixes, the stale
// ones, and what the uplinks offer: a default route, DNS servers and
// search domains.
func (s *Service) configureRAs(p prefix.Plan, defaultRoute bool, dns []netip.Addr, domains []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seg := range s.Config.LAN {
		d := s.drivers[seg.Name]
		if d == nil {
			continue
		}
		// M when the server hands out addresses; O when stateless DHCPv6
		// has something to say (RFC 8415 18.2.6: hosts ask only then).
		d6 := seg.IPv6.DHCP6
		cfg := ra.Config{
			DefaultRouter: defaultRoute,
			Managed:       seg.IPv6.RA.Managed || d6.IANA,
			Other:         seg.IPv6.RA.Other || d6.IANA || (d6.Stateless && (len(dns) > 0 || len(domains) > 0)),
			MTU:           uint32(seg.IPv6.RA.MTU),
			SourceLL:      linkMAC(seg.Interface),
			DNSServers:    dns,
			SearchDomains: domains,
		}
		if sp, ok := p.Segment(seg.Name); ok {
			for _, a := range sp.Prefixes {
				pref, valid := a.Ends()
				cfg.Prefixes = append(cfg.Prefixes, ra.Prefix{Prefix: a.Prefix, OnLink: true, Autonomous: true,
					Preferred: pref, Valid: valid})
			}
		}
		for _, st := range p.Stale {
			if st.Segment == seg.Name {
				cfg.Stale = append(cfg.Stale, st.Prefix)
			}
		}
		d.SetConfig(cfg)
	}
}

// uplinkDefaultRoute reports whether an uplink gives the box an IPv6
// default route (plan.HasDefault6), which the RAs then offer the LANs.
func uplinkDefaultRoute(cfg *config.Config, snap state.Snapshot, at *plan.Moment) bool {
	for _, w := range cfg.WAN {
		if plan.HasDefault6(w, snap, at) {
			return true
		}
	}
	return false
}

// uplinkDNS6 lists the IPv6 DNS servers and search domains the uplinks
// learned (DHCPv6, RAs) or were configured with, for the RAs' RDNSS and
// DNSSL and for the DHCPv6 servers: unicast addresses hosts can reach, so
// no link-local ones.
func uplinkDNS6(cfg *config.Config, snap state.Snapshot, at *plan.Moment) (dns []netip.Addr, domains []string) {
	for _, w := range cfg.WAN {
		if f, ok := state.Get[rawan.Facts](snap, plan.KeyRA(w.Name)); ok {
			for _, d := range f.DNS {
				if at.Live(d.Expires) {
					dns = appendNew(dns, d.Addr)
				}
			}
		}
		if l, ok := state.Get[wandhcp6.Lease](snap, plan.KeyDHCP6(w.Name)); ok {
			for _, a := range l.DNS {
				dns = appendNew(dns, a)
			}
			for _, d := range l.Domains {
				if !slices.Contains(domains, d) {
					domains = append(domains, d)
				}
			}
		}
		if w.Static != nil {
			for _, a := range w.Static.DNS {
				if a.Is6() {
					dns = appendNew(dns, a)
				}
			}
		}
	}
	dns = slices.DeleteFunc(dns, func(a netip.Addr) bool {
		return !a.Is6() || a.Is4In6() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast()
	})
	return dns, domains
}

func appendNew(list []netip.Addr, a netip.Addr) []netip.Addr {
	if slices.Contains(list, a) {
		return list
	}
	return append(list, a)
}

// Status is what `show lan`, `show ra` and `show dhcp leases` print.
type Status struct {
	Plan   prefix.Plan
	RA     map[string]ra.Status
	Leases map[string][]dhcp4.Lease
	// Leases6 are the DHCPv6 bindings by segment: addresses, delegated
	// prefixes and the routes to them.
	Leases6 map[string][]dhcp6.Lease
	// Counters6 are the DHCPv6 servers' message counters by segment.
	Counters6 map[string]dhcp6.Counters
}

// Status returns the current plan and what each advertiser last sent.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Plan: s.last, RA: map[string]ra.Status{}, Leases: map[string][]dhcp4.Lease{}}
	for name, d := range s.drivers {
		st.RA[name] = d.Snapshot()
	}
	for name, srv := range s.dhcp4 {
		st.Leases[name] = srv.Snapshot(s.Now())
	}
	st.Leases6 = s.v6.snapshot(s.Now())
	st.Counters6 = s.v6.counters()
	return st
}

func loadState(file string) (prefix.State, error) {
	st, err := store.ReadJSON[prefix.State](file)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	return st, err
}
