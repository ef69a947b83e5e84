package dhcp6

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"

	"cpe/lan/prefix"
)

var (
	topSlot = netip.MustParsePrefix("2001:db8:1:fc::/62") // the pool hands out from the top
	lan64   = netip.MustParsePrefix("2001:db8:1::/64")
	ula64   = netip.MustParsePrefix("fd00:1:2::/64")
)

func TestInformationRequest(t *testing.T) {
	s, _ := std(t)
	tests := []struct {
		name    string
		b       []byte
		wantIRT bool
	}{
		{"with client id", msg(dhcpv6.MessageTypeInformationRequest, clientDUID(1)), false},
		{"anonymous", msg(dhcpv6.MessageTypeInformationRequest, nil), false},
		{"asks for the refresh time", msg(dhcpv6.MessageTypeInformationRequest, clientDUID(1), oroIRT), true},
		{"with our server id", msg(dhcpv6.MessageTypeInformationRequest, clientDUID(1), ours), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, m := do(t, s, t0, tt.b)
			if m == nil || m.MessageType != dhcpv6.MessageTypeReply || m.TransactionID != [3]byte{0xab, 0xcd, 0xef} {
				t.Fatalf("got %v", m)
			}
			if r.To != src || r.Interface != "lan0" {
				t.Errorf("sent to %s on %s, want %s on lan0", r.To, r.Interface, src)
			}
			if dns := m.Options.DNS(); len(dns) != 1 || !dns[0].Equal(dns1.AsSlice()) {
				t.Errorf("DNS %v", dns)
			}
			if l := m.Options.DomainSearchList(); l == nil || !slices.Equal(l.Labels, []string{"home.arpa"}) {
				t.Errorf("domains %v", l)
			}
			if got := m.Options.GetOne(dhcpv6.OptionInformationRefreshTime) != nil; got != tt.wantIRT {
				t.Errorf("refresh time present %v, want %v", got, tt.wantIRT)
			} else if got && m.Options.InformationRefreshTime(0) != time.Hour {
				t.Errorf("refresh time %v", m.Options.InformationRefreshTime(0))
			}
			if sid := m.Options.GetOne(dhcpv6.OptionServerID); sid == nil || string(sid.ToBytes()) != string(serverDUID) {
				t.Errorf("server id %v", sid)
			}
			cid := m.Options.GetOne(dhcpv6.OptionClientID)
			if hasCID := strings.Contains(tt.name, "anonymous"); (cid == nil) != hasCID {
				t.Errorf("client id %v", cid)
			}
			if len(m.Options.IANA())+len(m.Options.IAPD()) != 0 {
				t.Error("IAs in a stateless reply")
			}
		})
	}
	// Not configured: silence.
	p := newPlanner(t, delegation("wan0", deleg1, 2*time.Hour))
	c := p.config()
	c.Stateless = false
	if _, m := do(t, newServer(t, c), t0, msg(dhcpv6.MessageTypeInformationRequest, clientDUID(1))); m != nil {
		t.Errorf("answered without stateless: %v", m)
	}
}

func TestSolicitAdvertise(t *testing.T) {
	s, _ := std(t)
	_, m := do(t, s, t0, msg(dhcpv6.MessageTypeSolicit, clientDUID(1), na(1), pd(2)))
	if m == nil || m.MessageType != dhcpv6.MessageTypeAdvertise {
		t.Fatalf("got %v", m)
	}
	a := iaOf(t, m, iaNA, 1)
	if a.hasStatus || len(a.addrs) != 2 || !lan64.Contains(a.addrs[0]) || !ula64.Contains(a.addrs[1]) {
		t.Fatalf("IA_NA %+v, want one address in each /64", a)
	}
	if iid(a.addrs[0]) != iid(a.addrs[1]) || !usableIID(iid(a.addrs[0])) {
		t.Errorf("addresses %v: want the same usable identifier", a.addrs)
	}
	if !slices.Equal(a.pref, []time.Duration{2700 * time.Second, 2700 * time.Second}) ||
		!slices.Equal(a.val, []time.Duration{5400 * time.Second, 5400 * time.Second}) {
		t.Errorf("lifetimes %v %v", a.pref, a.val)
	}
	if a.t1 != 1350*time.Second || a.t2 != 2160*time.Second {
		t.Errorf("T1 %v T2 %v", a.t1, a.t2)
	}
	p := iaOf(t, m, iaPD, 2)
	if p.hasStatus || !slices.Equal(p.prefixes, []netip.Prefix{topSlot}) || p.val[0] != 5400*time.Second {
		t.Errorf("IA_PD %+v, want %s", p, topSlot)
	}
	if dns := m.Options.DNS(); len(dns) != 1 {
		t.Errorf("no DNS in the Advertise")
	}
	// An offer is held, not routed, not saved.
	if r := s.Routes(t0); len(r) != 0 {
		t.Errorf("routes for an offer: %v", r)
	}
	snap := s.Snapshot(t0)
	if len(snap) != 3 || snap[0].State != Offered || !snap[0].Valid.Equal(t0.Add(time.Minute)) {
		t.Errorf("snapshot %+v", snap)
	}
	if s.Dirty() {
		t.Error("an offer made the table dirty")
	}
	// The same client soliciting again is offered the same.
	_, m2 := do(t, s, t0.Add(time.Second), msg(dhcpv6.MessageTypeSolicit, clientDUID(1), na(1), pd(2)))
	if b := iaOf(t, m2, iaNA, 1); !slices.Equal(b.addrs, a.addrs) {
		t.Errorf("second Advertise %v, first %v", b.addrs, a.addrs)
	}
	if b := iaOf(t, m2, iaPD, 2); !slices.Equal(b.prefixes, p.prefixes) {
		t.Errorf("second Advertise %v", b.prefixes)
	}
}

func TestRequestReply(t *testing.T) {
	s, p := std(t)
	pool := p.plan.Pools[0]
	avail := pool.Available()
	m := bind(t, s, t0, 1, na(1), pd(2))
	a, d := iaOf(t, m, iaNA, 1), iaOf(t, m, iaPD, 2)
	if len(a.addrs) != 2 || !slices.Equal(d.prefixes, []netip.Prefix{topSlot}) {
		t.Fatalf("Reply IA_NA %v IA_PD %v", a.addrs, d.prefixes)
	}
	if pool.Available() != avail-1 {
		t.Errorf("pool has %d free, want %d", pool.Available(), avail-1)
	}
	routes := s.Routes(t0)
	want := []Route{{Prefix: topSlot, Via: src.Addr(), DUID: "00:03:00:01:02:00:00:00:00:01", IAID: 2, Valid: t0.Add(5400 * time.Second)}}
	if !slices.Equal(routes, want) {
		t.Errorf("Routes = %+v\nwant %+v", routes, want)
	}
	if !s.Dirty() {
		t.Error("a binding must make the table dirty")
	}
	snap := s.Snapshot(t0)
	if len(snap) != 3 || snap[0].State != Bound || !lan64.Contains(snap[0].Address) || snap[2].Prefix != topSlot || snap[2].Via != src.Addr() || snap[2].Uplink != "wan0" {
		t.Errorf("snapshot %+v", snap)
	}
	// Another server's Request: silence, and our binding stays.
	_, m = do(t, s, t0, msg(dhcpv6.MessageTypeRequest, clientDUID(1), sid(otherDUID), na(1)))
	if m != nil || s.Counters().OtherServer != 1 {
		t.Errorf("answered another server's Request: %v", m)
	}
	// A second client gets other resources.
	m2 := bind(t, s, t0, 2, na(1), pd(2))
	if a2 := iaOf(t, m2, iaNA, 1); a2.addrs[0] == a.addrs[0] {
		t.Error("two clients got the same address")
	}
	if d2 := iaOf(t, m2, iaPD, 2); d2.prefixes[0] == topSlot || !deleg1.Contains(d2.prefixes[0].Addr()) {
		t.Errorf("second client got %v", d2.prefixes)
	}
	c := s.Counters()
	if c.Solicits != 2 || c.Advertises != 2 || c.Requests != 2 || c.Replies != 2 {
		t.Errorf("counters %+v", c)
	}
}

func TestRapidCommit(t *testing.T) {
	s, _ := std(t)
	_, m := do(t, s, t0, msg(dhcpv6.MessageTypeSolicit, clientDUID(1), rapid, pd(7)))
	if m == nil || m.MessageType != dhcpv6.MessageTypeReply || m.Options.GetOne(dhcpv6.OptionRapidCommit) == nil {
		t.Fatalf("got %v, want a Reply with Rapid Commit", m)
	}
	if d := iaOf(t, m, iaPD, 7); !slices.Equal(d.prefixes, []netip.Prefix{topSlot}) {
		t.Errorf("IA_PD %v", d.prefixes)
	}
	if r := s.Routes(t0); len(r) != 1 {
		t.Errorf("rapid commit not committed: routes %v", r)
	}
	// Without Rapid Commit an Advertise never carries the option.
	_, m = do(t, s, t0, msg(dhcpv6.MessageTypeSolicit, clientDUID(2), pd(7)))
	if m.MessageType != dhcpv6.MessageTypeAdvertise || m.Options.GetOne(dhcpv6.OptionRapidCommit) != nil {
		t.Errorf("got %s", m.Summary())
	}
}

func TestStableAddress(t *testing.T) {
	addr := func(s *Server, i int, iaid uint32) netip.Addr {
		m := bind(t, s, t0, i, na(iaid))
		return iaOf(t, m, iaNA, iaid).addrs[0]
	}
	s1, _ := std(t)
	s2, _ := std(t)
	a := addr(s1, 1, 1)
	if b := addr(s2, 1, 1); a != b {
		t.Errorf("the same DUID and IAID got %s and %s from two servers", a, b)
	}
	if b := addr(s1, 1, 2); b == a {
		t.Error("two IAs of one client got the same address")
	}
	if iid(a) != iidHash(bkey{string(clientDUID(1)), [4]byte{0, 0, 0, 1}, iaNA}, 0) {
		t.Errorf("%s is not the first probe of the hash", a)
	}
	// Released and asked for again: the same address.
	do(t, s1, t0, msg(dhcpv6.MessageTypeRelease, clientDUID(1), ours, na(1, a)))
	if b := addr(s1, 1, 1); b != a {
		t.Errorf("after Release got %s, want %s", b, a)
	}
}

func TestIdentifierProbing(t *testing.T) {
	s, _ := std(t)
	k := bkey{string(clientDUID(1)), [4]byte{0, 0, 0, 1}, iaNA}
	// The first probe is taken by someone else, the second is declined.
	other := bind(t, s, t0, 2, na(1))
	ob := s.byKey[bkey{string(clientDUID(2)), [4]byte{0, 0, 0, 1}, iaNA}]
	s.mu.Lock()
	delete(s.iids, ob.iid)
	s.setIID(ob, iidHash(k, 0))
	s.declined[iidHash(k, 1)] = t0.Add(time.Hour)
	s.mu.Unlock()
	_ = other
	m := bind(t, s, t0, 1, na(1))
	if got := iid(iaOf(t, m, iaNA, 1).addrs[0]); got != iidHash(k, 2) {
		t.Errorf("identifier %x, want the third probe %x", got, iidHash(k, 2))
	}
}

func TestUsableIID(t *testing.T) {
	for _, tc := range []struct {
		v    uint64
		want bool
	}{
		{0, false}, {1, false}, {0xffff, false}, {0x10000, true}, {0x0123456789abcdef, true},
		{0xfdffffffffffff7f, true}, {0xfdffffffffffff80, false}, {0xffffffffffffffff, false},
	} {
		if got := usableIID(tc.v); got != tc.want {
			t.Errorf("usableIID(%#x) = %v", tc.v, got)
		}
	}
}

func TestRenew(t *testing.T) {
	for _, typ := range []dhcpv6.MessageType{dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRebind} {
		t.Run(typ.String(), func(t *testing.T) {
			s, _ := std(t)
			m := bind(t, s, t0, 1, na(1), pd(2))
			addrs := iaOf(t, m, iaNA, 1).addrs
			now := t0.Add(30 * time.Minute)
			opts := []dhcpv6.Option{na(1, addrs...), pd(2, topSlot)}
			if typ == dhcpv6.MessageTypeRenew {
				opts = append(opts, ours)
			}
			_, m = do(t, s, now, msg(typ, clientDUID(1), opts...))
			if m == nil || m.MessageType != dhcpv6.MessageTypeReply {
				t.Fatalf("got %v", m)
			}
			a, d := iaOf(t, m, iaNA, 1), iaOf(t, m, iaPD, 2)
			if !slices.Equal(a.addrs, addrs) || a.hasStatus || !slices.Equal(d.prefixes, []netip.Prefix{topSlot}) || d.hasStatus {
				t.Fatalf("IA_NA %+v IA_PD %+v", a, d)
			}
			// The delegation ends at t0+2h: 5400 s cap at 30 min, 2700 s
			// preferred cap (the delegation's preferred ends at t0+1h).
			if d.val[0] != 5400*time.Second || d.pref[0] != 1800*time.Second {
				t.Errorf("prefix lifetimes %v/%v", d.pref, d.val)
			}
			if r := s.Routes(now); len(r) != 1 || !r[0].Valid.Equal(now.Add(5400*time.Second)) {
				t.Errorf("route not extended: %+v", r)
			}
			// Still bound past the first valid lifetime.
			if r := s.Routes(t0.Add(95 * time.Minute)); len(r) != 1 {
				t.Errorf("extended binding gone: %+v", r)
			}
		})
	}
}

func TestLifetimesNeverBeyondDelegation(t *testing.T) {
	p := newPlanner(t, delegation("wan0", deleg1, 20*time.Minute))
	s := newServer(t, p.config())
	m := bind(t, s, t0, 1, na(1), pd(2))
	a, d := iaOf(t, m, iaNA, 1), iaOf(t, m, iaPD, 2)
	if a.val[0] != 20*time.Minute || a.pref[0] != 10*time.Minute {
		t.Errorf("address from the delegation: %v/%v, want 600s/1200s", a.pref[0], a.val[0])
	}
	if a.val[1] != 5400*time.Second {
		t.Errorf("ULA address: valid %v", a.val[1])
	}
	if d.val[0] != 20*time.Minute || d.pref[0] != 10*time.Minute || d.t1 != 5*time.Minute || d.t2 != 8*time.Minute {
		t.Errorf("prefix: %v/%v T1 %v T2 %v", d.pref[0], d.val[0], d.t1, d.t2)
	}
	// Ten minutes on, what is left.
	now := t0.Add(10 * time.Minute)
	_, m = do(t, s, now, msg(dhcpv6.MessageTypeRenew, clientDUID(1), ours, pd(2, topSlot)))
	if d := iaOf(t, m, iaPD, 2); d.val[0] != 10*time.Minute || d.pref[0] != 0 || d.t1 != 5*time.Minute {
		t.Errorf("after 10 min: %v/%v T1 %v", d.pref[0], d.val[0], d.t1)
	}
}

func TestRenewUnknownBinding(t *testing.T) {
	s, p := std(t)
	m := bind(t, s, t0, 1, na(1), pd(2))
	addrs := iaOf(t, m, iaNA, 1).addrs
	held := netip.MustParsePrefix("2001:db8:1:f8::/62")

	// The bindings file was lost: a fresh server on the same plan (the
	// pool still holds the first server's binding: release it, as a
	// restart would have lost it).
	p.plan.Pools[0].Release(poolKey("lan0", bkey{string(clientDUID(1)), [4]byte{0, 0, 0, 2}, iaPD}))
	s2 := newServer(t, p.config())
	if err := p.plan.Pools[0].Reserve("someone else", held); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		typ    dhcpv6.MessageType
		ia     dhcpv6.Option
		iaType iaType
		want   []netip.Prefix
		wantA  []netip.Addr
		status iana.StatusCode
		zero   bool // listed resources returned with lifetimes 0
	}{
		{"renew free prefix", dhcpv6.MessageTypeRenew, pd(2, topSlot), iaPD, []netip.Prefix{topSlot}, nil, iana.StatusSuccess, false},
		{"renew address", dhcpv6.MessageTypeRenew, na(1, addrs...), iaNA, nil, addrs, iana.StatusSuccess, false},
		{"renew taken prefix", dhcpv6.MessageTypeRenew, pd(3, held), iaPD, nil, nil, iana.StatusNoBinding, false},
		{"rebind taken prefix", dhcpv6.MessageTypeRebind, pd(4, held), iaPD, nil, nil, iana.StatusNoBinding, false},
		{"renew off-link prefix", dhcpv6.MessageTypeRenew, pd(5, netip.MustParsePrefix("2001:db8:99::/62")), iaPD, nil, nil, iana.StatusNoBinding, false},
		{"rebind off-link prefix", dhcpv6.MessageTypeRebind, pd(6, netip.MustParsePrefix("2001:db8:99::/62")), iaPD, []netip.Prefix{netip.MustParsePrefix("2001:db8:99::/62")}, nil, iana.StatusSuccess, true},
		{"rebind off-link address", dhcpv6.MessageTypeRebind, na(7, netip.MustParseAddr("2001:db8:99::5:1234")), iaNA, nil, []netip.Addr{netip.MustParseAddr("2001:db8:99::5:1234")}, iana.StatusSuccess, true},
		{"renew nothing listed", dhcpv6.MessageTypeRenew, na(8), iaNA, nil, nil, iana.StatusNoBinding, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []dhcpv6.Option{tt.ia}
			if tt.typ == dhcpv6.MessageTypeRenew {
				opts = append(opts, ours)
			}
			_, m := do(t, s2, t0, msg(tt.typ, clientDUID(1), opts...))
			if m == nil {
				t.Fatal("no reply")
			}
			var id uint32
			switch o := tt.ia.(type) {
			case *dhcpv6.OptIANA:
				id = uint32(o.IaId[3])
			case *dhcpv6.OptIAPD:
				id = uint32(o.IaId[3])
			}
			l := iaOf(t, m, tt.iaType, id)
			if l.status != tt.status {
				t.Errorf("status %s, want %s", l.status, tt.status)
			}
			if !slices.Equal(l.prefixes, tt.want) || !slices.Equal(l.addrs, tt.wantA) {
				t.Errorf("got %v %v, want %v %v", l.prefixes, l.addrs, tt.want, tt.wantA)
			}
			for _, v := range l.val {
				if (v == 0) != tt.zero {
					t.Errorf("valid lifetime %v", v)
				}
			}
		})
	}
	if r := s2.Routes(t0); len(r) != 1 || r[0].Prefix != topSlot {
		t.Errorf("recreated binding not routed: %+v", r)
	}
}

// renumber replaces the delegation of wan0 and gives the server the plan.
func renumber(t *testing.T, s *Server, p *planner, now time.Time, dels ...prefix.Delegation) {
	t.Helper()
	p.in.Delegations = dels
	p.replan(now)
	if err := s.Update(p.config(), now); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, s, now)
}

func TestRenumbering(t *testing.T) {
	s, p := std(t)
	m := bind(t, s, t0, 1, na(1), pd(2))
	oldAddrs := iaOf(t, m, iaNA, 1).addrs
	now := t0.Add(10 * time.Minute)
	renumber(t, s, p, now, prefix.Delegation{Uplink: "wan0", Prefix: deleg2, Preferred: now.Add(time.Hour), Valid: now.Add(2 * time.Hour), Up: true})
	if r := s.Routes(now); len(r) != 0 {
		t.Fatalf("the old prefix is still routed: %+v", r)
	}
	if snap := s.Snapshot(now); !slices.ContainsFunc(snap, func(l Lease) bool { return l.State == Gone && l.Prefix == topSlot }) {
		t.Errorf("old prefix not marked gone: %+v", snap)
	}
	_, m = do(t, s, now, msg(dhcpv6.MessageTypeRenew, clientDUID(1), ours, na(1, oldAddrs...), pd(2, topSlot)))
	newSlot := netip.MustParsePrefix("2001:db8:2:fc::/62") // same slot in the new delegation
	d := iaOf(t, m, iaPD, 2)
	if !slices.Equal(d.prefixes, []netip.Prefix{newSlot, topSlot}) || d.val[0] == 0 || d.val[1] != 0 || d.pref[1] != 0 {
		t.Errorf("IA_PD %v %v/%v, want %s live and %s with lifetimes 0", d.prefixes, d.pref, d.val, newSlot, topSlot)
	}
	a := iaOf(t, m, iaNA, 1)
	if len(a.addrs) != 3 || !netip.MustParsePrefix("2001:db8:2::/64").Contains(a.addrs[0]) || a.addrs[2] != oldAddrs[0] || a.val[2] != 0 {
		t.Errorf("IA_NA %v %v, want the new address, the ULA one, and the old one with lifetime 0", a.addrs, a.val)
	}
	if iid(a.addrs[0]) != iid(oldAddrs[0]) {
		t.Error("the interface identifier changed with the prefix")
	}
	if r := s.Routes(now); len(r) != 1 || r[0].Prefix != newSlot {
		t.Errorf("routes %+v", r)
	}
	// Told once: the next Renew no longer mentions it.
	_, m = do(t, s, now.Add(time.Minute), msg(dhcpv6.MessageTypeRenew, clientDUID(1), ours, pd(2, newSlot)))
	if d := iaOf(t, m, iaPD, 2); !slices.Equal(d.prefixes, []netip.Prefix{newSlot}) {
		t.Errorf("second Renew %v", d.prefixes)
	}
}

func TestDelegationLost(t *testing.T) {
	s, p := std(t)
	bind(t, s, t0, 1, pd(2))
	now := t0.Add(5 * time.Minute)
	renumber(t, s, p, now)
	if r := s.Routes(now); len(r) != 0 {
		t.Errorf("routes %+v", r)
	}
	_, m := do(t, s, now, msg(dhcpv6.MessageTypeRebind, clientDUID(1), pd(2, topSlot)))
	d := iaOf(t, m, iaPD, 2)
	if !slices.Equal(d.prefixes, []netip.Prefix{topSlot}) || d.val[0] != 0 || d.status != iana.StatusNoPrefixAvail {
		t.Errorf("IA_PD %+v, want the prefix with lifetime 0 and NoPrefixAvail", d)
	}
	if len(s.Snapshot(now)) != 0 {
		t.Errorf("binding kept: %+v", s.Snapshot(now))
	}
}

// A segment added with a subnet_id inside a delegated prefix takes it over:
// the route goes at once, the client is told at its next Renew.
func TestSegmentTakesDelegatedPrefix(t *testing.T) {
	s, p := std(t)
	bind(t, s, t0, 1, pd(2))
	id := 0xfd // inside 2001:db8:1:fc::/62
	p.in.Segments = append(p.in.Segments, prefix.Segment{Name: "lan1", SubnetID: &id})
	p.replan(t0)
	if err := s.Update(p.config(), t0); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, s, t0)
	if r := s.Routes(t0); len(r) != 0 {
		t.Fatalf("still routed: %+v", r)
	}
	_, m := do(t, s, t0, msg(dhcpv6.MessageTypeRenew, clientDUID(1), ours, pd(2, topSlot)))
	d := iaOf(t, m, iaPD, 2)
	if len(d.prefixes) != 2 || d.prefixes[1] != topSlot || d.val[1] != 0 || d.prefixes[0].Overlaps(netip.MustParsePrefix("2001:db8:1:fd::/64")) {
		t.Errorf("IA_PD %v %v", d.prefixes, d.val)
	}
}

func TestRelease(t *testing.T) {
	s, p := std(t)
	pool := p.plan.Pools[0]
	avail := pool.Available()
	m := bind(t, s, t0, 1, na(1), pd(2))
	addrs := iaOf(t, m, iaNA, 1).addrs
	_, m = do(t, s, t0, msg(dhcpv6.MessageTypeRelease, clientDUID(1), ours, na(1, addrs...), pd(2, topSlot), pd(9, topSlot)))
	if st, ok := topStatus(m); !ok || st != iana.StatusSuccess {
		t.Errorf("status %v %v", st, ok)
	}
	if l := iaOf(t, m, iaPD, 9); l.status != iana.StatusNoBinding {
		t.Errorf("unknown IA: %+v", l)
	}
	if len(m.Options.IANA()) != 0 || len(m.Options.IAPD()) != 1 {
		t.Errorf("released IAs echoed: %s", m.Summary())
	}
	if len(s.Snapshot(t0)) != 0 || len(s.Routes(t0)) != 0 || pool.Available() != avail {
		t.Errorf("after Release: %+v, pool %d free (want %d)", s.Snapshot(t0), pool.Available(), avail)
	}
	if m.Options.DNS() != nil {
		t.Error("DNS in a Reply to Release")
	}
}

func TestDecline(t *testing.T) {
	s, _ := std(t)
	m := bind(t, s, t0, 1, na(1))
	first := iaOf(t, m, iaNA, 1).addrs
	_, m = do(t, s, t0, msg(dhcpv6.MessageTypeDecline, clientDUID(1), ours, na(1, first[0]), na(5)))
	if st, _ := topStatus(m); st != iana.StatusSuccess || iaOf(t, m, iaNA, 5).status != iana.StatusNoBinding {
		t.Errorf("reply %s", m.Summary())
	}
	m = bind(t, s, t0, 1, na(1))
	second := iaOf(t, m, iaNA, 1).addrs
	if iid(second[0]) == iid(first[0]) {
		t.Fatal("declined identifier given again")
	}
	// Another client whose first probe is the declined identifier skips
	// it too, until the quarantine ends; the quarantine is saved.
	if st := s.State(); len(st.Declined) != 1 || iid(st.Declined[0].Address) != iid(first[0]) || !st.Declined[0].Until.Equal(t0.Add(time.Hour)) {
		t.Errorf("declined not saved: %+v", st.Declined)
	}
	do(t, s, t0, msg(dhcpv6.MessageTypeRelease, clientDUID(1), ours, na(1, second...)))
	m = bind(t, s, t0.Add(59*time.Minute), 1, na(1))
	if got := iaOf(t, m, iaNA, 1).addrs; iid(got[0]) == iid(first[0]) {
		t.Error("declined identifier given within the hold")
	}
	do(t, s, t0.Add(59*time.Minute), msg(dhcpv6.MessageTypeRelease, clientDUID(1), ours, na(1, iaOf(t, m, iaNA, 1).addrs...)))
	m = bind(t, s, t0.Add(61*time.Minute), 1, na(1))
	if got := iaOf(t, m, iaNA, 1).addrs; iid(got[0]) != iid(first[0]) {
		t.Errorf("after the hold got %s, want %s back", got[0], first[0])
	}
	// A Decline of an address that is not the client's changes nothing.
	before := s.Snapshot(t0.Add(61 * time.Minute))
	do(t, s, t0.Add(61*time.Minute), msg(dhcpv6.MessageTypeDecline, clientDUID(1), ours, na(1, netip.MustParseAddr("2001:db8:1::9:9"))))
	if after := s.Snapshot(t0.Add(61 * time.Minute)); !slices.Equal(before, after) {
		t.Errorf("a Decline of a foreign address changed %+v to %+v", before, after)
	}
}

func TestConfirm(t *testing.T) {
	s, _ := std(t)
	tests := []struct {
		name string
		ia   dhcpv6.Option
		want iana.StatusCode
		none bool
	}{
		{"on link", na(1, netip.MustParseAddr("2001:db8:1::1:2"), netip.MustParseAddr("fd00:1:2::5:5")), iana.StatusSuccess, false},
		{"one off link", na(1, netip.MustParseAddr("2001:db8:1::1:2"), netip.MustParseAddr("2001:db8:1:1::5")), iana.StatusNotOnLink, false},
		{"no address", na(1), 0, true},
		{"prefix only", pd(1, topSlot), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, m := do(t, s, t0, msg(dhcpv6.MessageTypeConfirm, clientDUID(1), tt.ia))
			if tt.none {
				if m != nil {
					t.Fatalf("answered %s", m.Summary())
				}
				return
			}
			if st, ok := topStatus(m); !ok || st != tt.want {
				t.Errorf("status %s, want %s", st, tt.want)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	s, p := std(t)
	pool := p.plan.Pools[0]
	avail := pool.Available()
	bind(t, s, t0, 1, na(1), pd(2))
	if next := s.NextExpiry(); !next.Equal(t0.Add(5400 * time.Second)) {
		t.Errorf("NextExpiry %v", next)
	}
	ver := s.RoutesVersion()
	s.Expire(t0.Add(5399 * time.Second))
	if len(s.Routes(t0.Add(5399*time.Second))) != 1 {
		t.Fatal("expired early")
	}
	s.Expire(t0.Add(5400 * time.Second))
	if len(s.Snapshot(t0.Add(5400*time.Second))) != 0 || pool.Available() != avail || s.RoutesVersion() == ver {
		t.Errorf("not reclaimed: %+v, pool %d free", s.Snapshot(t0.Add(5400*time.Second)), pool.Available())
	}
	if !s.NextExpiry().IsZero() {
		t.Errorf("NextExpiry %v with nothing left", s.NextExpiry())
	}
	// An offer nobody takes is reclaimed after OfferHold.
	do(t, s, t0, msg(dhcpv6.MessageTypeSolicit, clientDUID(2), pd(1)))
	if pool.Available() != avail-1 {
		t.Fatal("offer holds nothing")
	}
	s.Expire(t0.Add(time.Minute))
	if pool.Available() != avail || len(s.Snapshot(t0.Add(time.Minute))) != 0 {
		t.Error("offer not reclaimed")
	}
}

func TestValidation(t *testing.T) {
	s, _ := std(t)
	relay := (&dhcpv6.RelayMessage{MessageType: dhcpv6.MessageTypeRelayForward}).ToBytes()
	tests := []struct {
		name    string
		b       []byte
		ifname  string
		from    netip.AddrPort
		counter func(Counters) uint64
	}{
		{"wrong interface", msg(dhcpv6.MessageTypeSolicit, clientDUID(1), na(1)), "wan0", src, func(c Counters) uint64 { return c.WrongInterface }},
		{"multicast source", msg(dhcpv6.MessageTypeSolicit, clientDUID(1), na(1)), "lan0", netip.MustParseAddrPort("[ff02::1]:546"), func(c Counters) uint64 { return c.BadSource }},
		{"IPv4 source", msg(dhcpv6.MessageTypeSolicit, clientDUID(1), na(1)), "lan0", netip.MustParseAddrPort("169.254.1.1:546"), func(c Counters) uint64 { return c.BadSource }},
		{"short", []byte{1, 2}, "lan0", src, func(c Counters) uint64 { return c.Malformed }},
		{"advertise", msg(dhcpv6.MessageTypeAdvertise, clientDUID(1), ours), "lan0", src, func(c Counters) uint64 { return c.NotClient }},
		{"reply", msg(dhcpv6.MessageTypeReply, clientDUID(1), ours), "lan0", src, func(c Counters) uint64 { return c.NotClient }},
		{"reconfigure", msg(dhcpv6.MessageTypeReconfigure, clientDUID(1), ours), "lan0", src, func(c Counters) uint64 { return c.NotClient }},
		{"relay-forw", relay, "lan0", src, func(c Counters) uint64 { return c.NotClient }},
		{"solicit without client id", msg(dhcpv6.MessageTypeSolicit, nil, na(1)), "lan0", src, func(c Counters) uint64 { return c.Malformed }},
		{"solicit with server id", msg(dhcpv6.MessageTypeSolicit, clientDUID(1), ours, na(1)), "lan0", src, func(c Counters) uint64 { return c.Malformed }},
		{"request without server id", msg(dhcpv6.MessageTypeRequest, clientDUID(1), na(1)), "lan0", src, func(c Counters) uint64 { return c.Malformed }},
		{"renew for another server", msg(dhcpv6.MessageTypeRenew, clientDUID(1), sid(otherDUID), na(1)), "lan0", src, func(c Counters) uint64 { return c.OtherServer }},
		{"release for another server", msg(dhcpv6.MessageTypeRelease, clientDUID(1), sid(otherDUID), na(1)), "lan0", src, func(c Counters) uint64 { return c.OtherServer }},
		{"rebind with server id", msg(dhcpv6.MessageTypeRebind, clientDUID(1), ours, na(1)), "lan0", src, func(c Counters) uint64 { return c.Malformed }},
		{"confirm with server id", msg(dhcpv6.MessageTypeConfirm, clientDUID(1), ours, na(1)), "lan0", src, func(c Counters) uint64 { return c.Malformed }},
		{"information-request with IA", msg(dhcpv6.MessageTypeInformationRequest, clientDUID(1), pd(1)), "lan0", src, func(c Counters) uint64 { return c.Malformed }},
		{"information-request for another server", msg(dhcpv6.MessageTypeInformationRequest, clientDUID(1), sid(otherDUID)), "lan0", src, func(c Counters) uint64 { return c.OtherServer }},
		{"client id not a DUID", msg(dhcpv6.MessageTypeSolicit, []byte{0, 0}, na(1)), "lan0", src, func(c Counters) uint64 { return c.Malformed }},
		{"truncated IA_NA", append(msg(dhcpv6.MessageTypeSolicit, clientDUID(1)), 0, 3, 0, 4, 0, 0, 0, 1), "lan0", src, func(c Counters) uint64 { return c.Malformed }},
		{"option past the end", append(msg(dhcpv6.MessageTypeSolicit, clientDUID(1)), 0, 25, 0, 40, 0), "lan0", src, func(c Counters) uint64 { return c.Malformed }},
		{"rapid commit with data", msg(dhcpv6.MessageTypeSolicit, clientDUID(1), &dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionRapidCommit, OptionData: []byte{1}}), "lan0", src, func(c Counters) uint64 { return c.Malformed }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Counters()
			r, _ := s.Handle(t0, tt.b, tt.ifname, tt.from)
			if r != nil {
				t.Fatalf("answered: %x", r.Data)
			}
			after := s.Counters()
			if tt.counter(after) != tt.counter(before)+1 || after.Received != before.Received+1 {
				t.Errorf("counters %+v -> %+v", before, after)
			}
		})
	}
	if len(s.Snapshot(t0)) != 0 {
		t.Errorf("bindings from dropped messages: %+v", s.Snapshot(t0))
	}
}

func TestRateLimit(t *testing.T) {
	s, _ := std(t)
	b := msg(dhcpv6.MessageTypeInformationRequest, clientDUID(1))
	n := 0
	for range 30 {
		if r, _ := s.Handle(t0, b, "lan0", src); r != nil {
			n++
		}
	}
	if n != DefaultBurst || s.Counters().RateLimited != 10 {
		t.Errorf("%d answered, %d limited; want %d answered", n, s.Counters().RateLimited, DefaultBurst)
	}
	// Another client is not affected; the first gets tokens back in time.
	if r, _ := s.Handle(t0, msg(dhcpv6.MessageTypeInformationRequest, clientDUID(2)), "lan0", src); r == nil {
		t.Error("another client limited")
	}
	if r, _ := s.Handle(t0.Add(time.Second), b, "lan0", src); r == nil {
		t.Error("not refilled after a second")
	}
}

func TestMaxIAs(t *testing.T) {
	s, _ := std(t)
	var ias []dhcpv6.Option
	for i := range MaxIAs + 1 {
		ias = append(ias, pd(uint32(i)))
	}
	_, m := do(t, s, t0, msg(dhcpv6.MessageTypeSolicit, clientDUID(1), append(ias, rapid)...))
	got := 0
	for i := range MaxIAs + 1 {
		if l := iaOf(t, m, iaPD, uint32(i)); len(l.prefixes) == 1 {
			got++
		} else if l.status != iana.StatusNoPrefixAvail {
			t.Errorf("IA %d: %+v", i, l)
		}
	}
	if got != MaxIAs {
		t.Errorf("%d IA_PDs got a prefix, want %d", got, MaxIAs)
	}
}

func TestServicesOff(t *testing.T) {
	p := newPlanner(t, delegation("wan0", deleg1, 2*time.Hour))
	c := p.config()
	c.PD = false
	s := newServer(t, c)
	_, m := do(t, s, t0, msg(dhcpv6.MessageTypeSolicit, clientDUID(1), na(1), pd(2)))
	if a := iaOf(t, m, iaNA, 1); len(a.addrs) != 2 {
		t.Errorf("IA_NA %+v", a)
	}
	if d := iaOf(t, m, iaPD, 2); d.status != iana.StatusNoPrefixAvail || len(d.prefixes) != 0 {
		t.Errorf("IA_PD %+v, want NoPrefixAvail", d)
	}
	_, m = do(t, s, t0, msg(dhcpv6.MessageTypeSolicit, clientDUID(1), pd(2)))
	if st, _ := topStatus(m); m.MessageType != dhcpv6.MessageTypeAdvertise || st != iana.StatusNoAddrsAvail || len(m.Options.IAPD()) != 0 {
		t.Errorf("nothing to offer: %s, want an Advertise with only NoAddrsAvail", m.Summary())
	}
	// Stateless only: Solicits go unanswered.
	c.IANA = false
	s = newServer(t, c)
	if _, m := do(t, s, t0, msg(dhcpv6.MessageTypeSolicit, clientDUID(1), na(1))); m != nil || s.Counters().Ignored != 1 {
		t.Errorf("a stateless server answered a Solicit: %v", m)
	}
	// A Rebind may be meant for another server: IAs of a kind this one
	// does not serve are left alone.
	c = p.config()
	c.PD = false
	s = newServer(t, c)
	if _, m := do(t, s, t0, msg(dhcpv6.MessageTypeRebind, clientDUID(1), pd(2, topSlot))); m != nil {
		t.Errorf("answered a Rebind of an IA_PD without PD: %s", m.Summary())
	}
	_, m = do(t, s, t0, msg(dhcpv6.MessageTypeRenew, clientDUID(1), ours, pd(2, topSlot)))
	if d := iaOf(t, m, iaPD, 2); d.status != iana.StatusNoBinding {
		t.Errorf("Renew of an IA_PD without PD: %+v", d)
	}
	// Turning PD off drops PD bindings and their routes.
	s, p = std(t)
	bind(t, s, t0, 1, pd(1))
	c = p.config()
	c.PD = false
	if err := s.Update(c, t0); err != nil {
		t.Fatal(err)
	}
	if len(s.Routes(t0)) != 0 || p.plan.Pools[0].Available() != p.plan.Pools[0].Slots()-1 {
		t.Error("PD binding kept with PD off")
	}
}

func TestPoolExhausted(t *testing.T) {
	s, p := std(t)
	pool := p.plan.Pools[0]
	for i := 0; pool.Available() > 0; i++ {
		if _, err := pool.Allocate("filler" + string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	_, m := do(t, s, t0, msg(dhcpv6.MessageTypeSolicit, clientDUID(1), na(1), pd(2)))
	if a := iaOf(t, m, iaNA, 1); len(a.addrs) != 2 {
		t.Errorf("IA_NA %+v", a)
	}
	if d := iaOf(t, m, iaPD, 2); d.status != iana.StatusNoPrefixAvail {
		t.Errorf("IA_PD %+v", d)
	}
	_, m = do(t, s, t0, msg(dhcpv6.MessageTypeRequest, clientDUID(1), ours, pd(2)))
	if d := iaOf(t, m, iaPD, 2); d.status != iana.StatusNoPrefixAvail {
		t.Errorf("Request: IA_PD %+v", d)
	}
	if c := s.Counters(); c.NoPrefixes != 2 {
		t.Errorf("counters %+v", c)
	}
}

func TestUpdateKeepsBindings(t *testing.T) {
	s, p := std(t)
	bind(t, s, t0, 1, na(1), pd(2))
	c := p.config()
	newDNS := netip.MustParseAddr("2001:db8:b0::53")
	c.DNS, c.Domains = []netip.Addr{newDNS}, nil
	if err := s.Update(c, t0); err != nil {
		t.Fatal(err)
	}
	if len(s.Routes(t0)) != 1 || len(s.Snapshot(t0)) != 3 {
		t.Fatal("bindings lost on Update")
	}
	_, m := do(t, s, t0, msg(dhcpv6.MessageTypeInformationRequest, clientDUID(1)))
	if dns := m.Options.DNS(); len(dns) != 1 || !dns[0].Equal(newDNS.AsSlice()) || m.Options.DomainSearchList() != nil {
		t.Errorf("after Update: DNS %v, domains %v", dns, m.Options.DomainSearchList())
	}
	c.DUID = otherDUID
	if err := s.Update(c, t0); err == nil {
		t.Error("Update changed the DUID")
	}
	c = p.config()
	c.DNS = []netip.Addr{netip.MustParseAddr("192.0.2.1")}
	if err := s.Update(c, t0); err == nil {
		t.Error("Update took an IPv4 DNS server")
	}
}

func TestNewRejects(t *testing.T) {
	p := newPlanner(t)
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"no interface", func(c *Config) { c.Interface = "" }},
		{"no segment", func(c *Config) { c.Segment = "" }},
		{"bad DUID", func(c *Config) { c.DUID = []byte{0, 0, 1} }},
		{"short DUID", func(c *Config) { c.DUID = []byte{0, 1} }},
		{"prefix not /64", func(c *Config) { c.Prefixes = []prefix.Assigned{{Prefix: deleg1}} }},
	} {
		c := p.config()
		tc.mod(&c)
		if _, err := New(c, nil); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestBadDomainLeftOut(t *testing.T) {
	p := newPlanner(t)
	c := p.config()
	c.Domains = []string{"a..b", strings.Repeat("x", 64) + ".example", "ok.example."}
	_, m := do(t, newServer(t, c), t0, msg(dhcpv6.MessageTypeInformationRequest, clientDUID(1)))
	if l := m.Options.DomainSearchList(); l == nil || !slices.Equal(l.Labels, []string{"ok.example"}) {
		t.Errorf("domains %v", l)
	}
}

func TestNewDUID(t *testing.T) {
	d, err := NewDUID([]byte{2, 0, 0, 0, 0, 1}, time.Date(2000, 1, 1, 0, 1, 0, 0, time.UTC), nil)
	if err != nil || string(d) != string([]byte{0, 1, 0, 1, 0, 0, 0, 60, 2, 0, 0, 0, 0, 1}) {
		t.Errorf("DUID-LLT %x %v", d, err)
	}
	u, err := NewDUID(nil, t0, strings.NewReader(strings.Repeat("\xff", 16)))
	if err != nil || len(u) != 18 || u[0] != 0 || u[1] != 4 || u[8] != 0x4f || u[10] != 0xbf {
		t.Errorf("DUID-UUID %x %v", u, err)
	}
	if _, err := NewDUID(nil, t0, strings.NewReader("short")); err == nil {
		t.Error("short random source accepted")
	}
}

// The tables a flood of forged DUIDs can grow are bounded.
func TestBounds(t *testing.T) {
	s, _ := std(t)
	for i := range MaxBindings {
		if r, err := s.Handle(t0, msg(dhcpv6.MessageTypeSolicit, clientDUID(i), na(1)), "lan0", src); r == nil || err != nil {
			t.Fatalf("client %d: no Advertise: %v", i, err)
		}
	}
	// Every client got an address: the probes of one IA are spread over
	// the identifiers, not clustered.
	if got := s.Counters().NoAddrs; got != 0 {
		t.Fatalf("%d of %d clients got no address", got, MaxBindings)
	}
	_, m := do(t, s, t0, msg(dhcpv6.MessageTypeSolicit, clientDUID(MaxBindings), na(1), pd(2)))
	if st, _ := topStatus(m); st != iana.StatusNoAddrsAvail || len(m.Options.IANA()) != 0 {
		t.Errorf("with the table full: %s", m.Summary())
	}
	// The offers run out; room again.
	_, m = do(t, s, t0.Add(time.Minute), msg(dhcpv6.MessageTypeSolicit, clientDUID(MaxBindings), na(1)))
	if a := iaOf(t, m, iaNA, 1); len(a.addrs) != 2 {
		t.Errorf("after the offers expired: %+v", a)
	}

	s.mu.Lock()
	for i := range uint64(2 * maxDeclined) {
		s.quarantine(1<<20+i, t0.Add(time.Duration(i+1)*time.Second))
	}
	n := len(s.declined)
	s.expire(t0.Add(10 * time.Second))
	m2 := len(s.declined)
	s.mu.Unlock()
	if n != maxDeclined || m2 != maxDeclined-10 {
		t.Errorf("quarantine table %d, after 10 s %d; want %d and %d", n, m2, maxDeclined, maxDeclined-10)
	}
}
