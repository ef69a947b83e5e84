package ra

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/mdlayher/ndp"
)

// TestValidationDrops checks RFC 4861 6.1.2: each bad packet is dropped
// whole, counted under its reason and nowhere else, and changes no fact.
func TestValidationDrops(t *testing.T) {
	good := ra(t, 1800, pio("2001:db8:1::/64", true, true, 600, 1200), rdnss(600, "2001:db8::53"))
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for _, tc := range []struct {
		name    string
		b       []byte
		src     netip.Addr
		hop     int
		counter func(Counters) uint64
	}{
		{"global source", good, netip.MustParseAddr("2001:db8::1"), 255, func(c Counters) uint64 { return c.NotLinkLocal }},
		{"unspecified source", good, netip.IPv6Unspecified(), 255, func(c Counters) uint64 { return c.NotLinkLocal }},
		{"multicast source", good, netip.MustParseAddr("ff02::1"), 255, func(c Counters) uint64 { return c.NotLinkLocal }},
		{"ipv4 source", good, netip.MustParseAddr("169.254.1.1"), 255, func(c Counters) uint64 { return c.NotLinkLocal }},
		{"no source", good, netip.Addr{}, 255, func(c Counters) uint64 { return c.NotLinkLocal }},
		{"hop limit 64", good, rtr1, 64, func(c Counters) uint64 { return c.BadHopLimit }},
		{"hop limit 254", good, rtr1, 254, func(c Counters) uint64 { return c.BadHopLimit }},
		{"hop limit unknown", good, rtr1, -1, func(c Counters) uint64 { return c.BadHopLimit }},
		{"router solicitation", mutate(func(b []byte) []byte { b[0] = 133; return b }), rtr1, 255, func(c Counters) uint64 { return c.NotRA }},
		{"code 1", mutate(func(b []byte) []byte { b[1] = 1; return b }), rtr1, 255, func(c Counters) uint64 { return c.NotRA }},
		{"empty", nil, rtr1, 255, func(c Counters) uint64 { return c.Truncated }},
		{"header cut", good[:15], rtr1, 255, func(c Counters) uint64 { return c.Truncated }},
		{"option length 0", mutate(func(b []byte) []byte { b[17] = 0; return b }), rtr1, 255, func(c Counters) uint64 { return c.ZeroLengthOpt }},
		{"option length 0 last", append(append([]byte(nil), good...), 25, 0, 0, 0, 0, 0, 0, 0), rtr1, 255, func(c Counters) uint64 { return c.ZeroLengthOpt }},
		{"options cut", good[:len(good)-8], rtr1, 255, func(c Counters) uint64 { return c.TruncatedOption }},
		{"option too long", mutate(func(b []byte) []byte { b[17] = 200; return b }), rtr1, 255, func(c Counters) uint64 { return c.TruncatedOption }},
		{"trailing byte", append(append([]byte(nil), good...), 1), rtr1, 255, func(c Counters) uint64 { return c.TruncatedOption }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testCfg)
			h.start()
			out := h.apply(h.r.Receive(h.now, tc.b, tc.src, tc.hop))
			c := h.r.Counters()
			drops := c.NotLinkLocal + c.BadHopLimit + c.NotRA + c.Truncated + c.ZeroLengthOpt + c.TruncatedOption
			if tc.counter(c) != 1 || drops != 1 || c.Received != 1 || c.Accepted != 0 {
				t.Fatalf("counters %+v", c)
			}
			f := h.r.Facts()
			if out.Facts != nil || len(f.Routers)+len(f.Prefixes)+len(f.DNS) != 0 || !f.LastRA.IsZero() {
				t.Fatalf("dropped packet changed facts: %+v", f)
			}
			if !strings.HasPrefix(f.LastError, "RA dropped: ") {
				t.Fatalf("LastError %q", f.LastError)
			}
			// The same bytes from a router on the link are fine, unless the
			// bytes are the problem.
			h.apply(h.r.Receive(h.now, good, rtr1, 255))
			if len(h.r.Facts().Routers) != 1 {
				t.Fatal("good RA after the bad one not accepted")
			}
		})
	}
}

// TestIgnoredOptions: an option whose contents make no sense costs only
// that option; the RA and its other options still count.
func TestIgnoredOptions(t *testing.T) {
	rawRIO := func(prefixLen, length, flags byte, prefix ...byte) *ndp.RawOption {
		v := make([]byte, int(length)*8-2)
		v[0], v[1] = prefixLen, flags
		v[5] = 60 // lifetime
		copy(v[6:], prefix)
		return &ndp.RawOption{Type: optRouteInfo, Length: length, Value: v}
	}
	for _, tc := range []struct {
		name    string
		opt     ndp.Option
		counter func(Counters) uint64
	}{
		{"PIO preferred beyond valid", pio("2001:db8:9::/64", true, true, 600, 300), func(c Counters) uint64 { return c.BadPrefixes }},
		{"PIO link-local", pio("fe80::/64", true, true, 600, 1200), func(c Counters) uint64 { return c.BadPrefixes }},
		{"PIO covering link-local", pio("fe00::/7", true, false, 600, 1200), func(c Counters) uint64 { return c.BadPrefixes }},
		{"PIO multicast", pio("ff02::/64", true, true, 600, 1200), func(c Counters) uint64 { return c.BadPrefixes }},
		{"PIO ::/0", &ndp.PrefixInformation{OnLink: true, ValidLifetime: secs(60), Prefix: netip.IPv6Unspecified()}, func(c Counters) uint64 { return c.BadPrefixes }},
		{"PIO length 129", &ndp.RawOption{Type: optPrefixInfo, Length: 4, Value: append([]byte{129, 0xc0, 0, 0, 1, 0, 0, 0, 0, 60, 0, 0, 0, 0}, netip.MustParseAddr("2001:db8::").AsSlice()...)}, func(c Counters) uint64 { return c.BadPrefixes }},
		{"PIO short", &ndp.RawOption{Type: optPrefixInfo, Length: 3, Value: make([]byte, 22)}, func(c Counters) uint64 { return c.BadPrefixes }},
		{"RIO reserved preference", rawRIO(48, 2, 0x10, 0x20, 0x01, 0x0d, 0xb8, 0, 1), func(c Counters) uint64 { return c.BadRoutes }},
		{"RIO /64 in length 1", rawRIO(64, 1, 0), func(c Counters) uint64 { return c.BadRoutes }},
		{"RIO /96 in length 2", rawRIO(96, 2, 0, 0x20, 0x01, 0x0d, 0xb8), func(c Counters) uint64 { return c.BadRoutes }},
		{"RIO length 4", rawRIO(48, 4, 0, 0x20, 0x01, 0x0d, 0xb8), func(c Counters) uint64 { return c.BadRoutes }},
		{"RIO length 129", rawRIO(129, 3, 0, 0x20, 0x01, 0x0d, 0xb8), func(c Counters) uint64 { return c.BadRoutes }},
		{"RIO link-local", rio("fe80::/64", ndp.High, 60), func(c Counters) uint64 { return c.BadRoutes }},
		{"RIO multicast", rio("ff00::/8", ndp.High, 60), func(c Counters) uint64 { return c.BadRoutes }},
		{"MTU below 1280", ndp.NewMTU(1000), func(c Counters) uint64 { return c.BadMTU }},
		{"MTU above link", ndp.NewMTU(9000), func(c Counters) uint64 { return c.BadMTU }},
		{"MTU long", &ndp.RawOption{Type: optMTU, Length: 2, Value: make([]byte, 14)}, func(c Counters) uint64 { return c.BadMTU }},
		{"RDNSS no server", &ndp.RawOption{Type: optRDNSS, Length: 1, Value: make([]byte, 6)}, func(c Counters) uint64 { return c.BadDNS }},
		{"RDNSS even length", &ndp.RawOption{Type: optRDNSS, Length: 2, Value: make([]byte, 14)}, func(c Counters) uint64 { return c.BadDNS }},
		{"RDNSS multicast server", rdnss(60, "ff02::1"), func(c Counters) uint64 { return c.BadDNS }},
		{"RDNSS loopback server", rdnss(60, "::1"), func(c Counters) uint64 { return c.BadDNS }},
		{"DNSSL garbage", &ndp.RawOption{Type: optDNSSL, Length: 2, Value: []byte{0, 0, 0, 0, 0, 60, 40, 'a', 'b', 0, 0, 0, 0, 0}}, func(c Counters) uint64 { return c.BadDNS }},
		{"DNSSL empty", &ndp.RawOption{Type: optDNSSL, Length: 1, Value: []byte{0, 0, 0, 0, 0, 60}}, func(c Counters) uint64 { return c.BadDNS }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testCfg)
			h.receive(ra(t, 1800, tc.opt, pio("2001:db8:1::/64", true, true, 600, 1200), rdnss(60, "2001:db8::53")))
			c := h.r.Counters()
			if c.Accepted != 1 || tc.counter(c) != 1 || c.BadPrefixes+c.BadRoutes+c.BadMTU+c.BadDNS != 1 {
				t.Fatalf("counters %+v", c)
			}
			f := h.r.Facts()
			if len(f.Routers) != 1 || len(f.Prefixes) != 1 || len(f.Addresses) != 1 || len(f.DNS) != 1 ||
				len(f.Routes) != 0 || f.MTU != 0 || len(f.Domains) != 0 {
				t.Fatalf("facts %+v", f)
			}
			if f.LastError == "" {
				t.Fatal("no LastError")
			}
		})
	}
}

// TestRouteInformation covers RIO lengths RFC 4191 2.3 allows and ::/0.
func TestRouteInformation(t *testing.T) {
	h := newHarness(t, testCfg)
	long := &ndp.RouteInformation{PrefixLength: 64, RouteLifetime: secs(60), Prefix: netip.MustParseAddr("2001:db8:5:6::")}
	b := ra(t, 0,
		rio("::/0", ndp.Low, 600),
		rio("2001:db8:7::/48", ndp.Medium, 600),
		rio("2001:db8::1:0:0:0/100", ndp.High, 600),
		long,
	)
	// The /64 as some routers send it: length 3 with 16 prefix bytes, and
	// junk past the prefix length, which is ignored.
	b = append(b, optRouteInfo, 3, 64, 0x08, 0, 0, 0, 60, 0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0)
	h.receiveFrom(rtr2, b)
	var got []string
	for _, r := range h.r.Facts().Routes {
		got = append(got, r.Prefix.String()+" "+r.Preference.String()+" via "+r.Router.String())
	}
	want := []string{
		"::/0 low via fe80::2",
		"2001:db8:0:0:1::/100 high via fe80::2",
		"2001:db8:5:6::/64 medium via fe80::2",
		"2001:db8:7::/48 medium via fe80::2",
		"2001:db8:9::/64 high via fe80::2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("routes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Routes are per router: the same prefix via another router is another
	// route, and lifetime 0 removes only its own.
	h.receiveFrom(rtr3, ra(t, 0, rio("2001:db8:7::/48", ndp.High, 600)))
	h.receiveFrom(rtr2, ra(t, 0, rio("2001:db8:7::/48", ndp.High, 0)))
	var via []netip.Addr
	for _, r := range h.r.Facts().Routes {
		if r.Prefix.String() == "2001:db8:7::/48" {
			via = append(via, r.Router)
		}
	}
	if len(via) != 1 || via[0] != rtr3 {
		t.Fatalf("2001:db8:7::/48 via %v", via)
	}
}
