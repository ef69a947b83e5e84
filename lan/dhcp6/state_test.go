package dhcp6

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"

	"cpe/lan/prefix"
)

// roundTrip saves s's table as JSON and loads it into a new server on a
// fresh plan, as a reboot does.
func roundTrip(t *testing.T, s *Server, c Config, now time.Time) *Server {
	t.Helper()
	b, err := json.Marshal(s.State())
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	s2 := newServer(t, c)
	if err := s2.Load(st, now); err != nil {
		t.Fatalf("Load: %v", err)
	}
	checkInvariants(t, s2, now)
	return s2
}

func TestPersistenceRoundTrip(t *testing.T) {
	s, _ := std(t)
	bind(t, s, t0, 1, na(1), pd(2))
	bind(t, s, t0, 2, pd(1))
	do(t, s, t0, msg(dhcpv6.MessageTypeSolicit, clientDUID(3), na(1), pd(1))) // an offer: not saved
	if !s.Dirty() {
		t.Fatal("not dirty")
	}
	st := s.State()
	if s.Dirty() || len(st.Leases) != 4 {
		t.Fatalf("State: %d leases (want 4), dirty %v", len(st.Leases), s.Dirty())
	}
	now := t0.Add(10 * time.Minute)
	// A reboot: a new prefix engine whose pools know nothing.
	p := newPlanner(t, delegation("wan0", deleg1, 2*time.Hour))
	s2 := roundTrip(t, s, p.config(), now)
	if got, want := s2.Routes(now), s.Routes(now); !slices.Equal(got, want) || len(got) != 2 {
		t.Errorf("routes after reload %+v\nwant %+v", got, want)
	}
	if got, want := s2.Snapshot(now), s.Snapshot(now); len(got) != 4 || !slices.Equal(got, want[:4]) {
		t.Errorf("snapshot after reload %+v\nwant %+v", got, want)
	}
	// The pool holds the reloaded prefixes: nobody else gets them.
	m := bind(t, s2, now, 9, pd(1))
	if d := iaOf(t, m, iaPD, 1); d.prefixes[0] == topSlot || slices.ContainsFunc(s.Routes(now), func(r Route) bool { return r.Prefix == d.prefixes[0] }) {
		t.Errorf("a reloaded prefix given to another client: %v", d.prefixes)
	}
	// The client renews as if nothing happened.
	_, m = do(t, s2, now, msg(dhcpv6.MessageTypeRenew, clientDUID(1), ours, pd(2, topSlot)))
	if d := iaOf(t, m, iaPD, 2); d.hasStatus || !slices.Equal(d.prefixes, []netip.Prefix{topSlot}) {
		t.Errorf("Renew after reload: %+v", d)
	}
	// JSON is what the file holds: check a few field names.
	b, _ := json.Marshal(st)
	for _, want := range []string{`"duid":"00:03:00:01:02:00:00:00:00:01"`, `"iaid":2`, `"prefix":"2001:db8:1:fc::/62"`, `"via":"fe80::1234"`, `"state":"bound"`, `"uplink":"wan0"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("saved JSON lacks %s:\n%s", want, b)
		}
	}
}

// At boot the uplink's delegation may come after the LAN starts: loaded
// prefixes wait, answered with what is left, not routed, and are reserved
// once the pool appears.
func TestLoadBeforeDelegation(t *testing.T) {
	s, _ := std(t)
	bind(t, s, t0, 1, pd(2))
	now := t0.Add(10 * time.Minute)
	p := newPlanner(t) // no delegation yet
	s2 := roundTrip(t, s, p.config(), now)
	if r := s2.Routes(now); len(r) != 0 {
		t.Errorf("pending prefix routed: %+v", r)
	}
	if snap := s2.Snapshot(now); len(snap) != 1 || snap[0].State != Pending {
		t.Errorf("snapshot %+v", snap)
	}
	_, m := do(t, s2, now, msg(dhcpv6.MessageTypeRenew, clientDUID(1), ours, pd(2, topSlot)))
	d := iaOf(t, m, iaPD, 2)
	if d.hasStatus || !slices.Equal(d.prefixes, []netip.Prefix{topSlot}) || d.val[0] != 5400*time.Second-10*time.Minute {
		t.Errorf("Renew while pending: %+v, want the prefix with what is left", d)
	}
	// The delegation comes: reserved and routed.
	renumber(t, s2, p, now, delegation("wan0", deleg1, 2*time.Hour))
	if r := s2.Routes(now); len(r) != 1 || r[0].Prefix != topSlot {
		t.Errorf("routes after the delegation came: %+v", r)
	}
	if got, _ := p.plan.Pools[0].Lookup(poolKey("lan0", bkey{string(clientDUID(1)), [4]byte{0, 0, 0, 2}, iaPD})); got != topSlot {
		t.Errorf("pool holds %s", got)
	}
}

// Renumbered while the box was off: the uplink comes back with another
// prefix, and the client is told the old one is gone.
func TestLoadRenumbered(t *testing.T) {
	s, _ := std(t)
	bind(t, s, t0, 1, pd(2))
	now := t0.Add(10 * time.Minute)
	p := newPlanner(t, prefix.Delegation{Uplink: "wan0", Prefix: deleg2, Preferred: now.Add(time.Hour), Valid: now.Add(2 * time.Hour), Up: true})
	s2 := roundTrip(t, s, p.config(), now)
	if snap := s2.Snapshot(now); len(snap) != 1 || snap[0].State != Gone {
		t.Fatalf("snapshot %+v", snap)
	}
	_, m := do(t, s2, now, msg(dhcpv6.MessageTypeRebind, clientDUID(1), pd(2, topSlot)))
	d := iaOf(t, m, iaPD, 2)
	if len(d.prefixes) != 2 || !deleg2.Contains(d.prefixes[0].Addr()) || d.prefixes[1] != topSlot || d.val[1] != 0 {
		t.Errorf("Rebind: %+v", d)
	}
}

func TestLoadDrops(t *testing.T) {
	s, _ := std(t)
	future := t0.Add(time.Hour)
	st := State{Leases: []Lease{
		{DUID: "00:03:00:01:aa", IAID: 1, Address: netip.MustParseAddr("2001:db8:1::1:0:0:1"), State: Bound, Valid: future},
		{DUID: "zz", IAID: 1, Address: netip.MustParseAddr("2001:db8:1::5:0:0:1"), State: Bound, Valid: future},
		{DUID: "00:03:00:01:bb", IAID: 1, Address: netip.MustParseAddr("2001:db8:1::1:0:0:1"), State: Bound, Valid: future},
		{DUID: "00:03:00:01:cc", IAID: 1, Address: netip.MustParseAddr("2001:db8:1::1"), State: Bound, Valid: future},
		{DUID: "00:03:00:01:dd", IAID: 1, State: Bound, Valid: future},
		{DUID: "00:03:00:01:ee", IAID: 1, Address: netip.MustParseAddr("2001:db8:1::7:0:0:1"), State: Bound, Valid: t0},
	}}
	err := s.Load(st, t0)
	if err == nil || !strings.Contains(err.Error(), "4 saved leases dropped") {
		t.Errorf("Load: %v", err)
	}
	checkInvariants(t, s, t0)
	if snap := s.Snapshot(t0); len(snap) != 1 || snap[0].DUID != "00:03:00:01:aa" {
		t.Errorf("loaded %+v", snap)
	}
}

func TestStateOmitsOffersAndGone(t *testing.T) {
	s, p := std(t)
	bind(t, s, t0, 1, pd(2))
	do(t, s, t0, msg(dhcpv6.MessageTypeSolicit, clientDUID(2), pd(2)))
	renumber(t, s, p, t0)
	if st := s.State(); len(st.Leases) != 0 {
		t.Errorf("saved %+v", st.Leases)
	}
}
