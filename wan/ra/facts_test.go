package ra

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
)

// fullRA is what an ISP's router might send on an RA-only uplink: every
// option the Receiver reads, plus one it does not.
func fullRA(t testing.TB) []byte {
	return raSpec{lifetime: 1800, pref: ndp.High, o: true, opts: []ndp.Option{
		slla(),
		ndp.NewMTU(1492),
		pio("2001:db8:1::/64", true, true, 3600, 7200),
		rdnss(600, "2001:db8::53", "2001:db8::54"),
		dnssl(900, "isp.example", "example.net"),
		rio("2001:db8:100::/48", ndp.High, 300),
		rio("2001:db8:0:10::/60", ndp.Low, 400),
		&ndp.CaptivePortal{URI: ndp.Unrestricted},
	}}.bytes(t)
}

func TestFullRA(t *testing.T) {
	h := newHarness(t, testCfg)
	h.start()
	h.nextRS()
	now := h.now.Add(300 * time.Millisecond)
	h.now = now
	out := h.receive(fullRA(t))
	if out.Facts == nil {
		t.Fatal("no facts after the first RA")
	}
	p := netip.MustParsePrefix("2001:db8:1::/64")
	want := Facts{
		Routers:   []Router{{Addr: rtr1, Expires: now.Add(1800 * time.Second), Preference: PreferenceHigh}},
		Other:     true,
		DHCPv6:    DHCPv6InformationOnly,
		Prefixes:  []Prefix{{Prefix: p, OnLink: true, Autonomous: true, Preferred: now.Add(time.Hour), Valid: now.Add(2 * time.Hour)}},
		Addresses: []Address{{Addr: stableAddr("2001:db8:1::/64", 0), Prefix: p, Preferred: now.Add(time.Hour), Valid: now.Add(2 * time.Hour)}},
		MTU:       1492,
		DNS: []DNSServer{
			{Addr: netip.MustParseAddr("2001:db8::53"), Expires: now.Add(600 * time.Second)},
			{Addr: netip.MustParseAddr("2001:db8::54"), Expires: now.Add(600 * time.Second)},
		},
		Domains: []SearchDomain{
			{Name: "isp.example", Expires: now.Add(900 * time.Second)},
			{Name: "example.net", Expires: now.Add(900 * time.Second)},
		},
		Routes: []Route{
			// ndp alone would make this 2001:db8::/60.
			{Prefix: netip.MustParsePrefix("2001:db8:0:10::/60"), Router: rtr1, Preference: PreferenceLow, Expires: now.Add(400 * time.Second)},
			{Prefix: netip.MustParsePrefix("2001:db8:100::/48"), Router: rtr1, Preference: PreferenceHigh, Expires: now.Add(300 * time.Second)},
		},
		LastRA: now,
	}
	if d := diffFacts(*out.Facts, want); d != "" {
		t.Fatalf("facts differ:%s", d)
	}
	if d := diffFacts(h.r.Facts(), want); d != "" {
		t.Fatalf("Facts() differs:%s", d)
	}
	if a := want.Addresses[0].Addr; !p.Contains(a) || a == p.Addr() {
		t.Fatalf("address %v not in %v", a, p)
	}
	if !h.deadline.Equal(now.Add(300 * time.Second)) {
		t.Fatalf("deadline %v, want the first route's expiry", h.deadline.Sub(now))
	}
	c := h.r.Counters()
	if c.Received != 1 || c.Accepted != 1 || c.BadRoutes+c.BadPrefixes+c.BadDNS+c.BadMTU+c.Overflow != 0 {
		t.Fatalf("counters %+v", c)
	}

	// The same RA a minute later only moves the expiries.
	h.now = now.Add(time.Minute)
	out = h.receive(fullRA(t))
	if out.Facts == nil || !out.Facts.Routers[0].Expires.Equal(h.now.Add(1800*time.Second)) {
		t.Fatalf("refresh: %+v", out.Facts)
	}
	// Facts returned are copies.
	out.Facts.Routers[0].Addr = rtr2
	if h.r.Facts().Routers[0].Addr != rtr1 {
		t.Fatal("Facts shares memory with the caller")
	}
}

// TestExpiry walks lifetimes running out one after the other; the deadline
// must be exactly the next expiry while no solicitation is pending.
func TestExpiry(t *testing.T) {
	h := newHarness(t, testCfg)
	h.start()
	h.nextRS()
	h.now = h.now.Add(100 * time.Millisecond)
	start := h.now
	h.receive(ra(t, 1800,
		pio("2001:db8:1::/64", true, true, 3600, 7200),
		pio("2001:db8:2::/64", true, false, 100, 3000),
		rdnss(600, "2001:db8::53"),
		dnssl(900, "isp.example"),
		rio("2001:db8:100::/48", ndp.Medium, 300),
	))
	steps := []struct {
		after int // seconds since the RA
		gone  func(Facts) bool
	}{
		{300, func(f Facts) bool { return len(f.Routes) == 0 }},
		{600, func(f Facts) bool { return len(f.DNS) == 0 }},
		{900, func(f Facts) bool { return len(f.Domains) == 0 }},
		{1800, func(f Facts) bool { return len(f.Routers) == 0 }},
		{3000, func(f Facts) bool { return len(f.Prefixes) == 1 }},
		{7200, func(f Facts) bool { return len(f.Prefixes) == 0 && len(f.Addresses) == 0 }},
	}
	for i, s := range steps {
		at := start.Add(secs(s.after))
		if i < 4 && !h.deadline.Equal(at) {
			t.Fatalf("step %d: deadline %v, want %v", i, h.deadline.Sub(start), secs(s.after))
		}
		h.at(at.Add(-time.Nanosecond))
		if s.gone(h.r.Facts()) {
			t.Fatalf("step %d: gone before %v", i, secs(s.after))
		}
		n := len(h.facts)
		h.at(at)
		if !s.gone(h.r.Facts()) || len(h.facts) != n+1 || !s.gone(h.facts[len(h.facts)-1]) {
			t.Fatalf("step %d: not gone at %v, or no facts handed out: %+v", i, secs(s.after), h.r.Facts())
		}
	}
	// Once everything expired, solicitations go on (the router left at
	// 1800 s), and the facts are empty.
	if f := h.r.Facts(); len(f.Routers)+len(f.Prefixes)+len(f.Addresses)+len(f.DNS)+len(f.Domains)+len(f.Routes) != 0 {
		t.Fatalf("left over: %+v", f)
	}
	if !h.r.soliciting {
		t.Fatal("not soliciting with no router")
	}
}

func TestInfiniteLifetime(t *testing.T) {
	h := newHarness(t, testCfg)
	h.start()
	h.receive(ra(t, 1800, pio("2001:db8:1::/64", true, true, 0xffffffff, 0xffffffff), rdnss(0xffffffff, "2001:db8::53")))
	f := h.r.Facts()
	if want := h.now.Add(ndp.Infinity); !f.Prefixes[0].Valid.Equal(want) || !f.DNS[0].Expires.Equal(want) || !f.Addresses[0].Valid.Equal(want) {
		t.Fatalf("infinite lifetimes: %+v", f)
	}
	h.at(h.now.Add(365 * 24 * time.Hour))
	if f := h.r.Facts(); len(f.Prefixes) != 1 || len(f.Addresses) != 1 || len(f.DNS) != 1 {
		t.Fatalf("infinite lifetimes expired: %+v", f)
	}
}

func TestRouterPreferences(t *testing.T) {
	h := newHarness(t, testCfg)
	h.receiveFrom(rtr1, raSpec{lifetime: 1800, pref: ndp.Medium}.bytes(t))
	h.receiveFrom(rtr2, raSpec{lifetime: 1800, pref: ndp.High}.bytes(t))
	h.receiveFrom(rtr3, raSpec{lifetime: 1800, pref: ndp.Low}.bytes(t))
	// The reserved value (binary 10), which ndp will not encode.
	reserved := raSpec{lifetime: 1800}.bytes(t)
	reserved[5] |= 0x10
	h.receiveFrom(rtr4, reserved)

	order := func() (s []string) {
		for _, r := range h.r.Facts().Routers {
			s = append(s, r.Addr.String()+"/"+r.Preference.String())
		}
		return s
	}
	if got, want := strings.Join(order(), " "), "fe80::2/high fe80::1/medium fe80::4/medium fe80::3/low"; got != want {
		t.Fatalf("routers %s, want %s", got, want)
	}
	h.now = h.now.Add(time.Second)
	h.receiveFrom(rtr2, raSpec{lifetime: 1800, pref: ndp.Low}.bytes(t))
	h.receiveFrom(rtr1, raSpec{lifetime: 0}.bytes(t))
	if got, want := strings.Join(order(), " "), "fe80::4/medium fe80::2/low fe80::3/low"; got != want {
		t.Fatalf("routers %s, want %s", got, want)
	}
	// A router's zone is dropped: the facts belong to this uplink anyway.
	h.receiveFrom(rtr4.WithZone("wan0"), raSpec{lifetime: 60}.bytes(t))
	if f := h.r.Facts(); len(f.Routers) != 3 || !f.Routers[0].Expires.Equal(h.now.Add(time.Minute)) {
		t.Fatalf("zoned source made another entry: %+v", f.Routers)
	}
}

func TestDHCPv6Hint(t *testing.T) {
	for _, tc := range []struct {
		m, o bool
		want DHCPv6Mode
	}{
		{false, false, DHCPv6None},
		{false, true, DHCPv6InformationOnly},
		{true, false, DHCPv6Stateful},
		{true, true, DHCPv6Stateful},
	} {
		h := newHarness(t, testCfg)
		// Another router's flags first: only the most recent RA counts.
		h.receiveFrom(rtr2, raSpec{lifetime: 1800, m: !tc.m, o: !tc.o}.bytes(t))
		h.receive(raSpec{lifetime: 0, m: tc.m, o: tc.o}.bytes(t))
		f := h.r.Facts()
		if f.DHCPv6 != tc.want || f.Managed != tc.m || f.Other != tc.o {
			t.Errorf("M=%v O=%v: hint %s (M=%v O=%v), want %s", tc.m, tc.o, f.DHCPv6, f.Managed, f.Other, tc.want)
		}
	}
}

// TestPrefixOnLink checks RFC 5942 / RFC 7084 WAA-2: L alone decides
// on-link, and a later PIO without L does not take it away.
func TestPrefixOnLink(t *testing.T) {
	h := newHarness(t, testCfg)
	p := netip.MustParsePrefix("2001:db8:1::/64")
	h.receive(ra(t, 1800, pio("2001:db8:1::/64", true, false, 600, 1200)))
	on := h.r.Facts().Prefixes[0]
	h.now = h.now.Add(time.Minute)
	h.receive(ra(t, 1800, pio("2001:db8:1::/64", false, true, 100, 200)))
	f := h.r.Facts()
	if len(f.Prefixes) != 1 || !f.Prefixes[0].OnLink || !f.Prefixes[0].Autonomous || !f.Prefixes[0].Valid.Equal(on.Valid) {
		t.Fatalf("on-link entry changed by a PIO without L: %+v", f.Prefixes)
	}
	if len(f.Addresses) != 1 || f.Addresses[0].Prefix != p || !f.Addresses[0].Valid.Equal(h.now.Add(200*time.Second)) {
		t.Fatalf("address: %+v", f.Addresses)
	}
	// Only L with valid 0 ends on-link.
	h.receive(ra(t, 1800, pio("2001:db8:1::/64", false, false, 0, 0)))
	if len(h.r.Facts().Prefixes) != 1 {
		t.Fatal("PIO without L or A removed the prefix")
	}
	h.receive(ra(t, 1800, pio("2001:db8:1::/64", true, false, 0, 0)))
	if f := h.r.Facts(); len(f.Prefixes) != 0 || len(f.Addresses) != 1 {
		t.Fatalf("L with valid 0: %+v", f)
	}
	// A-only prefixes are listed but not on-link, and other lengths make no
	// address.
	h.receive(ra(t, 1800, pio("2001:db8:2::/64", false, true, 100, 200), pio("2001:db8:3::/56", true, true, 100, 200)))
	f = h.r.Facts()
	if len(f.Prefixes) != 2 || f.Prefixes[0].OnLink || !f.Prefixes[1].OnLink || len(f.Addresses) != 2 {
		t.Fatalf("%+v", f)
	}
	for _, a := range f.Addresses {
		if a.Prefix.Bits() != 64 {
			t.Fatalf("address from a /%d", a.Prefix.Bits())
		}
	}
}

func TestNewPrefixWithoutLifetime(t *testing.T) {
	h := newHarness(t, testCfg)
	out := h.receive(ra(t, 0, pio("2001:db8:1::/64", true, true, 0, 0)))
	if out.Facts != nil || len(h.r.Facts().Prefixes)+len(h.r.Facts().Addresses) != 0 {
		t.Fatalf("valid lifetime 0 made an entry: %+v", h.r.Facts())
	}
}

func TestPFlag(t *testing.T) {
	h := newHarness(t, testCfg)
	b := ra(t, 1800, pio("2001:db8:1::/64", true, true, 600, 1200))
	b[16+3] |= pioFlagP
	h.receive(b)
	if f := h.r.Facts(); len(f.Prefixes) != 1 || !f.Prefixes[0].PD {
		t.Fatalf("P flag not seen: %+v", f.Prefixes)
	}
}

func TestDNSLifetimes(t *testing.T) {
	h := newHarness(t, testCfg)
	h.receive(ra(t, 1800, rdnss(600, "2001:db8::53", "2001:db8::54"), dnssl(600, "a.example", "b.example")))
	h.now = h.now.Add(time.Minute)
	// A shorter lifetime is taken as it is (RFC 8106 5.3.1), 0 removes.
	h.receive(ra(t, 1800, rdnss(30, "2001:db8::54"), rdnss(0, "2001:db8::53"), dnssl(0, "A.example"), dnssl(60, "c.example")))
	f := h.r.Facts()
	if len(f.DNS) != 1 || f.DNS[0].Addr != netip.MustParseAddr("2001:db8::54") || !f.DNS[0].Expires.Equal(h.now.Add(30*time.Second)) {
		t.Fatalf("DNS %+v", f.DNS)
	}
	if len(f.Domains) != 2 || f.Domains[0].Name != "b.example" || f.Domains[1].Name != "c.example" {
		t.Fatalf("domains %+v", f.Domains)
	}
}

func TestListBounds(t *testing.T) {
	h := newHarness(t, testCfg)
	for i := range maxRouters + 2 {
		h.receiveFrom(netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: byte(i + 1)}), ra(t, 1800))
	}
	var servers []string
	for i := range maxDNS + 3 {
		servers = append(servers, netip.AddrFrom16([16]byte{0: 0x20, 1: 0x01, 2: 0x0d, 3: 0xb8, 15: byte(i + 1)}).String())
	}
	h.receive(ra(t, 1800, rdnss(600, servers...)))
	// A server lasting longer replaces the one that expires first.
	h.receive(ra(t, 1800, rdnss(300, "2001:db8::1"), rdnss(900, "2001:db8::99")))
	f := h.r.Facts()
	if len(f.Routers) != maxRouters || len(f.DNS) != maxDNS {
		t.Fatalf("%d routers, %d servers", len(f.Routers), len(f.DNS))
	}
	if f.DNS[0].Addr.String() != "2001:db8::2" || f.DNS[maxDNS-1].Addr.String() != "2001:db8::99" {
		t.Fatalf("replacement: %+v", f.DNS)
	}
	if c := h.r.Counters(); c.Overflow != 2+3 {
		t.Fatalf("Overflow = %d, want 5", c.Overflow)
	}
}
