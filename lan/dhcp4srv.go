package lan

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"cpe/cpe/config"
	"cpe/cpe/plan"
	"cpe/cpe/state"
	"cpe/cpe/store"
	"cpe/lan/dhcp4"
	wandhcp4 "cpe/wan/dhcp4"
)

// dhcp4Servers runs one DHCPv4 server per segment that has one, restarting
// them when the DNS servers learned from the uplinks change (the servers
// hand those out when the segment configures none). Leases are saved in
// the state directory and reloaded by the restarted servers.
func (s *Service) dhcp4Servers(ctx context.Context, log *slog.Logger) {
	wake, unsub := s.Facts.Subscribe()
	defer unsub()
	var dns []netip.Addr
	var stop context.CancelFunc
	var done chan struct{}
	restart := func() {
		if stop != nil {
			stop()
			<-done
		}
		var sctx context.Context
		sctx, stop = context.WithCancel(ctx)
		done = make(chan struct{})
		go func(dns []netip.Addr) {
			defer close(done)
			s.runDHCP4(sctx, dns, log)
		}(dns)
	}
	defer func() {
		if stop != nil {
			stop()
			<-done
		}
	}()
	first := true
	for {
		now := uplinkDNS4(s.Config, s.Facts.Snapshot())
		if first || !slices.Equal(now, dns) {
			dns, first = now, false
			restart()
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
	}
}

// uplinkDNS4 lists the IPv4 DNS servers of every uplink: learned by DHCPv4
// or configured.
func uplinkDNS4(cfg *config.Config, snap state.Snapshot) []netip.Addr {
	var out []netip.Addr
	for _, w := range cfg.WAN {
		if l, ok := state.Get[wandhcp4.Lease](snap, plan.KeyDHCP4(w.Name)); ok && l.Bound() {
			for _, a := range l.DNS {
				out = appendNew(out, a)
			}
		}
		if w.Static != nil {
			for _, a := range w.Static.DNS {
				if a.Is4() {
					out = appendNew(out, a)
				}
			}
		}
	}
	return out
}

func (s *Service) runDHCP4(ctx context.Context, dns []netip.Addr, log *slog.Logger) {
	done := make(chan struct{})
	n := 0
	for _, seg := range s.Config.LAN {
		cfg, ok := dhcp4.FromConfig(seg, dns)
		if !ok {
			continue
		}
		n++
		go func() {
			defer func() { done <- struct{}{} }()
			s.serveDHCP4(ctx, seg, cfg, log)
		}()
	}
	for ; n > 0; n-- {
		<-done
	}
}

// serveDHCP4 runs one segment's server, reopening its socket with backoff
// while the interface is not there yet.
func (s *Service) serveDHCP4(ctx context.Context, seg config.LAN, cfg dhcp4.Config, log *slog.Logger) {
	log = log.With("segment", seg.Name)
	srv, err := dhcp4.New(cfg, s.Logger)
	if err != nil {
		log.Error("DHCPv4 server not started", "err", err)
		return
	}
	file := filepath.Join(s.StateDir, "dhcp4-"+seg.Name+".json")
	if st, err := store.ReadJSON[dhcp4.State](file); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Error("unreadable DHCPv4 leases; starting with none", "file", file, "err", err)
	} else if err := srv.Load(st, s.Now()); err != nil {
		log.Warn("DHCPv4 leases", "err", err)
	}
	delay := time.Second
	for ctx.Err() == nil {
		conn, err := dhcp4.NewConn(seg.Interface, cfg.Address.Addr())
		if err == nil {
			s.mu.Lock()
			s.dhcp4[seg.Name] = srv
			s.mu.Unlock()
			d := dhcp4.NewDriver(srv, dhcp4.Options{Conn: conn, Logger: s.Logger, OnPersist: func(st dhcp4.State) error {
				return store.WriteJSON(file, st, 0o600)
			}})
			err = d.Run(ctx)
			if ctx.Err() != nil {
				return
			}
			delay = time.Second
		}
		log.Warn("DHCPv4 server stopped; retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}
