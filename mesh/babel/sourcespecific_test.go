package babel

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestSourceSpecific: two uplink boxes announce default routes from their
// delegated prefixes (RFC 9079); a box in between keeps both, keyed by
// (destination, source), each through its own uplink, and refuses what
// would hijack its own prefixes.
func TestSourceSpecific(t *testing.T) {
	s := newSim(t)
	u1 := s.add("u1", Options{Announce: announce(
		"::/0 from 2001:db8:100::/48", "2001:db8:100::/48", "::/0", "0.0.0.0/0 from 192.0.2.0/24")})
	u2 := s.add("u2", Options{Announce: announce("::/0 from 2001:db8:200::/48", "2001:db8:200::/48", "10.1.0.0/16")})
	n := s.add("n", Options{Announce: announce("::/0 from 2001:db8:300::/48", "2001:db8:300:1::/64")})
	m := s.add("m", Options{Announce: announce(
		"::/0 from 2001:db8:300::/56",              // a default for n's source prefix
		"2001:db8:300:1::/64",                      // n's own LAN
		"2001:db8:300:1:1::/80",                    // inside it
		"2001:db8:400::/48 from 2001:db8:300::/48", // fine: not a default
	)})
	s.wire(u1, n, wired)
	s.wire(u2, n, wired)
	s.wire(m, n, wired)
	s.run(10 * time.Second)

	for _, want := range []struct{ prefix, src, via string }{
		{"::/0", "2001:db8:100::/48", "u1"},
		{"::/0", "2001:db8:200::/48", "u2"},
		{"::/0", "", "u1"},
		{"2001:db8:400::/48", "2001:db8:300::/48", "m"},
		{"0.0.0.0/0", "192.0.2.0/24", "u1"},
		{"10.1.0.0/16", "", "u2"},
	} {
		if got := s.nextHop(n, want.prefix, want.src); got != want.via {
			t.Errorf("%s from %q via %q, want %s", want.prefix, want.src, got, want.via)
		}
	}
	for _, refused := range [][2]string{
		{"::/0", "2001:db8:300::/56"},
		{"2001:db8:300:1::/64", ""},
		{"2001:db8:300:1:1::/80", ""},
	} {
		if r, ok := n.route(refused[0], refused[1]); ok {
			t.Errorf("n accepted %v", r)
		}
	}
	if c := n.e.Counters(); c.UpdatesRefused == 0 {
		t.Error("no refused update counted")
	}
	// The IPv4 source-specific default lives in its own table, looked up
	// before main: 10.1.0.0/16 must be copied there (RFC 9079 5.3).
	d, ok := n.route("10.1.0.0/16", "192.0.2.0/24")
	if !ok || !d.Derived || d.Via != u2.addrs["to-n"] {
		t.Errorf("derived route %+v %v", d, ok)
	}
	// And m, past n, sees both uplinks' defaults with their sources.
	if got := s.nextHop(m, "::/0", "2001:db8:200::/48"); got != "n" {
		t.Errorf("m: default from u2's prefix via %q", got)
	}
}

// TestSourceSpecificRequest: a route request with a source prefix is
// answered with that source-specific route, and one for a pair we do not
// have with a retraction carrying the source.
func TestSourceSpecificRequest(t *testing.T) {
	e, err := New(Options{RouterID: rid2, Announce: announce("::/0 from 2001:db8:100::/48"), Rand: zeroRand{}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AddInterface(t0, Interface{Name: "m0", Type: Wired}); err != nil {
		t.Fatal(err)
	}
	if err := e.LinkUp(t0, "m0", netip.MustParseAddr("fe80::1")); err != nil {
		t.Fatal(err)
	}
	e.Output()
	req, _ := Marshal(
		RouteRequest{Prefix: mp("::/0"), Source: mp("2001:db8:100::/48")},
		RouteRequest{Prefix: mp("::/0"), Source: mp("2001:db8:999::/48")},
	)
	peer := netip.MustParseAddrPort("[fe80::2]:6696")
	e.Receive(t0, "m0", peer, netip.AddrPortFrom(netip.MustParseAddr("fe80::1"), Port), req)
	out := e.Output()
	if len(out) != 1 || out[0].Dst != peer.Addr() {
		t.Fatalf("want one unicast reply, got %+v", out)
	}
	var ups []Update
	for _, x := range mustParse(t, out[0].Data).TLVs {
		if u, ok := x.(Update); ok {
			ups = append(ups, u)
		}
	}
	if len(ups) != 2 || ups[0].Source != mp("2001:db8:100::/48") || ups[0].Metric != 0 ||
		ups[1].Source != mp("2001:db8:999::/48") || ups[1].Metric != Infinity {
		t.Errorf("replies %+v", ups)
	}
}

func TestDisambiguateV4(t *testing.T) {
	via := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	r := func(dst, src, v string) InstalledRoute {
		x := InstalledRoute{Prefix: mp(dst), Via: via(v), Interface: "m0", Metric: 96}
		if src != "" {
			x.Source = mp(src)
		}
		return x
	}
	for _, tc := range []struct {
		name string
		in   []InstalledRoute
		want []InstalledRoute
	}{
		{"no source-specific routes", []InstalledRoute{r("10.0.0.0/8", "", "fe80::1"), r("0.0.0.0/0", "", "fe80::2")}, nil},
		{"specific destination, less specific source", []InstalledRoute{
			r("10.1.0.0/16", "", "fe80::1"),
			r("0.0.0.0/0", "192.0.2.0/24", "fe80::2"),
		}, []InstalledRoute{{Prefix: mp("10.1.0.0/16"), Source: mp("192.0.2.0/24"), Via: via("fe80::1"), Interface: "m0", Metric: 96, Derived: true}}},
		{"already there", []InstalledRoute{
			r("10.1.0.0/16", "", "fe80::1"),
			r("10.1.0.0/16", "192.0.2.0/24", "fe80::3"),
			r("0.0.0.0/0", "192.0.2.0/24", "fe80::2"),
		}, nil},
		{"no conflict: the source's table has nothing less specific", []InstalledRoute{
			r("10.1.0.0/16", "", "fe80::1"),
			r("172.16.0.0/12", "192.0.2.0/24", "fe80::2"),
		}, nil},
		{"best source for the copy", []InstalledRoute{
			r("10.1.0.0/16", "", "fe80::1"),
			r("10.1.0.0/16", "192.0.0.0/16", "fe80::4"),
			r("0.0.0.0/0", "192.0.2.0/24", "fe80::2"),
		}, []InstalledRoute{{Prefix: mp("10.1.0.0/16"), Source: mp("192.0.2.0/24"), Via: via("fe80::4"), Interface: "m0", Metric: 96, Derived: true}}},
		{"IPv6 is left to the kernel", []InstalledRoute{
			r("2001:db8:1::/48", "", "fe80::1"),
			r("::/0", "2001:db8:100::/48", "fe80::2"),
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := disambiguateV4(tc.in)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDiffRoutes(t *testing.T) {
	a := InstalledRoute{Prefix: mp("2001:db8:1::/48"), Via: netip.MustParseAddr("fe80::1"), Interface: "m0", Metric: 96}
	b := InstalledRoute{Prefix: mp("2001:db8:2::/48"), Via: netip.MustParseAddr("fe80::1"), Interface: "m0", Metric: 96}
	b2 := b
	b2.Via = netip.MustParseAddr("fe80::2")
	c := InstalledRoute{Prefix: mp("::/0"), Source: mp("2001:db8:1::/48"), Via: netip.MustParseAddr("fe80::1"), Interface: "m0"}
	add, del := DiffRoutes([]InstalledRoute{a, b}, []InstalledRoute{b2, c})
	if !slices.Equal(add, []InstalledRoute{b2, c}) || !slices.Equal(del, []InstalledRoute{a}) {
		t.Errorf("add %+v del %+v", add, del)
	}
	if add, del := DiffRoutes([]InstalledRoute{a}, []InstalledRoute{a}); add != nil || del != nil {
		t.Errorf("same lists: add %v del %v", add, del)
	}
}

// zeroRand is a Rand that gives zeros: golden outputs stay fixed.
type zeroRand struct{}

func (zeroRand) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}
