package lan

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"cpe/cpe/config"
	"cpe/cpe/plan"
	"cpe/cpe/state"
	"cpe/lan/prefix"
	wandhcp6 "cpe/wan/dhcp6"
	rawan "cpe/wan/ra"
)

// TestPlansAgainWhenALifetimeRunsOut: with no fact changing, the service
// plans again when a delegation's lifetime ends, so the segment's prefix
// from it goes (and is advertised as stale) on time. The segment's
// interface does not exist: only the planning is under test.
func TestPlansAgainWhenALifetimeRunsOut(t *testing.T) {
	cfg, err := config.Parse([]byte(`{"wan": [{"interface": "wan0", "dhcp6": {}}],
	  "lan": [{"interface": "nosuchlan0", "ipv6": {}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	delegated := netip.MustParsePrefix("2001:db8:1::/56")
	start := time.Now()
	facts := state.New()
	facts.Put(plan.KeyDHCP6("wan0"), wandhcp6.Lease{Prefixes: []wandhcp6.Prefix{
		{Prefix: delegated, Preferred: start.Add(time.Second), Valid: start.Add(2 * time.Second)}}})
	s := &Service{Config: cfg, StateDir: t.TempDir(), Facts: facts, Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// from reports whether the segment has a prefix from the delegation,
	// and whether one is stale.
	from := func() (live, stale bool, ok bool) {
		pl, ok := state.Get[prefix.Plan](facts.Snapshot(), plan.KeyLANPlan)
		if !ok {
			return false, false, false
		}
		sp, _ := pl.Segment("nosuchlan0")
		for _, a := range sp.Prefixes {
			live = live || a.From == delegated
		}
		for _, st := range pl.Stale {
			stale = stale || delegated.Contains(st.Prefix.Addr())
		}
		return live, stale, true
	}
	wait := func(what string, want func(live, stale bool) bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if live, stale, ok := from(); ok && want(live, stale) {
				return
			}
		}
		t.Fatalf("%s: not within 10 s", what)
	}
	wait("a /64 from the delegation", func(live, _ bool) bool { return live })
	wait("the /64 stale once the delegation ended", func(live, stale bool) bool { return !live && stale })
	if gone := time.Since(start); gone < 2*time.Second {
		t.Errorf("the /64 went %v after the start, before the delegation ended", gone)
	}
}

// TestUplinkTimesCount: what the RAs offer from the uplinks (a default
// route, DNS servers) lasts as long as the uplink's routers and DNS
// servers, and the first of those times is when to plan again.
func TestUplinkTimesCount(t *testing.T) {
	cfg, err := config.Parse([]byte(`{"wan": [{"interface": "wan0", "ra": {}}], "lan": [{"interface": "lan0", "ipv6": {}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	dnsAddr := netip.MustParseAddr("2001:db8::53")
	snap := state.Snapshot{}.With(plan.KeyRA("wan0"), rawan.Facts{
		Routers: []rawan.Router{{Addr: netip.MustParseAddr("fe80::1"), Expires: t0.Add(time.Minute)}},
		DNS:     []rawan.DNSServer{{Addr: dnsAddr, Expires: t0.Add(2 * time.Minute)}},
	})
	for _, c := range []struct {
		at          time.Duration
		route, dns  bool
		nextRoute   time.Duration // 0: none
		nextServers time.Duration
	}{
		{0, true, true, time.Minute, 2 * time.Minute},
		{time.Minute, false, true, 0, 2 * time.Minute},
		{2 * time.Minute, false, false, 0, 0},
	} {
		m := plan.Moment{Now: t0.Add(c.at)}
		if got := uplinkDefaultRoute(cfg, snap, &m); got != c.route {
			t.Errorf("at %v: default route %v, want %v", c.at, got, c.route)
		}
		if want := at(t0, c.nextRoute); !m.Next.Equal(want) {
			t.Errorf("at %v: next change of the default route %v, want %v", c.at, m.Next, want)
		}
		m = plan.Moment{Now: t0.Add(c.at)}
		if dns, _ := uplinkDNS6(cfg, snap, &m); (len(dns) == 1 && dns[0] == dnsAddr) != c.dns {
			t.Errorf("at %v: DNS servers %v, want %v: %v", c.at, dns, dnsAddr, c.dns)
		}
		if want := at(t0, c.nextServers); !m.Next.Equal(want) {
			t.Errorf("at %v: next change of the DNS servers %v, want %v", c.at, m.Next, want)
		}
	}
}

// at is t0+d, or no time for 0.
func at(t0 time.Time, d time.Duration) time.Time {
	if d == 0 {
		return time.Time{}
	}
	return t0.Add(d)
}

// TestNoDefaultRouteWithoutCarrier: an uplink whose carrier is gone
// gives the LANs no default route (RFC 7084 G-4, G-5), even while the
// RAs it heard last are still valid; another uplink still can.
func TestNoDefaultRouteWithoutCarrier(t *testing.T) {
	cfg, err := config.Parse([]byte(`{"wan": [{"interface": "wan0", "ra": {}}, {"interface": "wan1", "ra": {}}], "lan": [{"interface": "lan0", "ipv6": {}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	router := rawan.Facts{Routers: []rawan.Router{{Addr: netip.MustParseAddr("fe80::1"), Expires: t0.Add(time.Hour)}}}
	wan0, wan1 := cfg.WAN[0].Name, cfg.WAN[1].Name
	up := state.Snapshot{}.With(plan.KeyRA(wan0), router).With(plan.KeyCarrier(wan0), true)
	for _, c := range []struct {
		name string
		snap state.Snapshot
		want bool
	}{
		{"carrier up", up, true},
		{"carrier down", up.With(plan.KeyCarrier(wan0), false), false},
		{"carrier down, another uplink with a router", up.With(plan.KeyCarrier(wan0), false).With(plan.KeyRA(wan1), router), true},
	} {
		m := plan.Moment{Now: t0}
		if got := uplinkDefaultRoute(cfg, c.snap, &m); got != c.want {
			t.Errorf("%s: default route %v, want %v", c.name, got, c.want)
		}
	}
}
