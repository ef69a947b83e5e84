package firewall

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// packet is what the evaluator below looks at.
type packet struct {
	iif, oif string
	src, dst string
	proto    uint8
	sport    uint16
	dport    uint16
	icmpType uint8
	hopLimit uint8
	ct       uint32 // ctNew, ctEstablished, ...
}

// eval walks a base chain the way the kernel would and returns "accept" or
// the drop chain ("drop_inbound") or "policy-drop". It knows every Stmt
// kind Build emits; limits always pass.
func eval(t *testing.T, rs Ruleset, chain string, p packet) string {
	t.Helper()
	tbl, _ := rs.Table(FamilyInet, FilterTable)
	c, ok := tbl.Chain(chain)
	if !ok {
		t.Fatalf("no chain %s", chain)
	}
	src, dst := netip.MustParseAddr(p.src), netip.MustParseAddr(p.dst)
	if p.ct == 0 {
		p.ct = ctNew
	}
	inSet := func(name string, a netip.Addr, ifn string) bool {
		s, ok := tbl.Set(name)
		if !ok {
			t.Fatalf("no set %s", name)
		}
		for _, e := range s.Elements {
			if (ifn != "" && e.Ifname == ifn) || (ifn == "" && e.Prefix.Contains(a)) {
				return true
			}
		}
		return false
	}
	match := func(s Stmt) bool {
		switch m := s.(type) {
		case ifaceMatch:
			n := p.iif
			if m.Out {
				n = p.oif
			}
			if m.Set != "" {
				return inSet(m.Set, netip.Addr{}, n)
			}
			return n == m.Name
		case nfprotoMatch:
			return m.V6 == src.Is6()
		case addrMatch:
			a := src
			if m.Dst {
				a = dst
			}
			if a.Is6() != m.V6 {
				return false
			}
			var in bool
			if m.Set != "" {
				in = inSet(m.Set, a, "")
			} else {
				in = m.Prefix.Contains(a)
			}
			return in != m.Neg
		case ctMatch:
			return p.ct&m.Bits != 0
		case icmpMatch:
			want := uint8(1)
			if m.V6 {
				want = 58
			}
			if p.proto != want {
				return false
			}
			for _, ty := range m.Types {
				if ty == p.icmpType {
					return true
				}
			}
			return false
		case hopLimitMatch:
			return src.Is6() && p.hopLimit == m.Value
		case udpMatch:
			return p.proto == 17 && (m.Sport == 0 || m.Sport == p.sport) && (m.Dport == 0 || m.Dport == p.dport)
		case tcpSynMatch:
			return false
		case l4protoMatch:
			return false
		case pinholeMatch:
			s, _ := tbl.Set(m.Set)
			for _, e := range s.Elements {
				if src.Is6() && e.Prefix.Contains(dst) && p.proto >= e.ProtoLo && p.proto <= e.ProtoHi && p.dport >= e.PortLo && p.dport <= e.PortHi {
					return true
				}
			}
			return false
		case limitStmt, counterStmt, logStmt, mssStmt, masqStmt, flowStmt:
			return true
		}
		t.Fatalf("evaluator does not know %T", s)
		return false
	}
	for {
	rules:
		for _, r := range c.Rules {
			for _, s := range append(append([]Stmt(nil), r.Match...), r.Action...) {
				if !match(s) {
					continue rules
				}
			}
			switch r.Verdict.Kind {
			case Accept:
				return "accept"
			case Drop:
				return "drop " + c.Name
			case Goto:
				c, _ = tbl.Chain(r.Verdict.Chain)
				goto next
			}
		}
		if c.Drop {
			return "policy-drop"
		}
		return "accept"
	next:
	}
}

func TestPolicy(t *testing.T) {
	rs := Build(configs[1].in) // two uplinks, stateful lan0 with a downstream /62, open lan1
	const (
		host  = "2001:db8:1:1::10"
		inet6 = "2001:db8:ffff::1"
		inet4 = "192.0.2.7"
	)
	tests := []struct {
		name, chain string
		p           packet
		want        string
	}{
		{"LAN to Internet v6", "forward", packet{iif: "lan0", oif: "wan0", src: host, dst: inet6, proto: 6, dport: 443}, "accept"},
		{"LAN to Internet v4", "forward", packet{iif: "lan0", oif: "wan1", src: "192.168.1.50", dst: inet4, proto: 6, dport: 443}, "accept"},
		{"second LAN prefix", "forward", packet{iif: "lan0", oif: "wan0", src: "2001:db8:2:1::5", dst: inet6, proto: 17}, "accept"},
		{"downstream router source", "forward", packet{iif: "lan0", oif: "wan0", src: "2001:db8:1:f1::1", dst: inet6, proto: 17}, "accept"},
		{"spoofed LAN source v6 (BCP 38)", "forward", packet{iif: "lan0", oif: "wan0", src: "2001:db8:1:2::5", dst: inet6, proto: 17}, "drop drop_spoof_lan"},
		{"spoofed LAN source v4", "forward", packet{iif: "lan0", oif: "wan0", src: "10.9.9.9", dst: inet4, proto: 17}, "drop drop_spoof_lan"},
		{"IPv4 from v6-only LAN", "forward", packet{iif: "lan1", oif: "wan0", src: "192.168.1.5", dst: inet4, proto: 17}, "drop drop_spoof_lan"},
		{"inbound to stateful LAN", "forward", packet{iif: "wan0", oif: "lan0", src: inet6, dst: "2001:db8:1:1::99", proto: 6, dport: 22}, "drop drop_inbound"},
		{"inbound answer", "forward", packet{iif: "wan0", oif: "lan0", src: inet6, dst: host, proto: 6, sport: 443, ct: ctEstablished}, "accept"},
		{"inbound invalid", "forward", packet{iif: "wan0", oif: "lan0", src: inet6, dst: host, proto: 6, ct: ctInvalid}, "drop drop_invalid"},
		{"inbound PTB", "forward", packet{iif: "wan0", oif: "lan0", src: inet6, dst: host, proto: 58, icmpType: 2}, "accept"},
		{"inbound echo to stateful", "forward", packet{iif: "wan0", oif: "lan0", src: inet6, dst: host, proto: 58, icmpType: 128}, "drop drop_inbound"},
		{"pinhole port range", "forward", packet{iif: "wan1", oif: "lan0", src: inet6, dst: "2001:db8:1:1::77", proto: 17, dport: 6005}, "accept"},
		{"pinhole wrong protocol", "forward", packet{iif: "wan1", oif: "lan0", src: inet6, dst: "2001:db8:1:1::77", proto: 6, dport: 6005}, "drop drop_inbound"},
		{"pinhole icmpv6", "forward", packet{iif: "wan0", oif: "lan0", src: inet6, dst: "2001:db8:1:1::20", proto: 58, icmpType: 128}, "accept"},
		{"pinhole any", "forward", packet{iif: "wan0", oif: "lan0", src: inet6, dst: "2001:db8:1:1::30", proto: 6, dport: 8080}, "accept"},
		{"inbound to open LAN", "forward", packet{iif: "wan0", oif: "lan1", src: inet6, dst: "2001:db8:1:2::5", proto: 6, dport: 22}, "accept"},
		{"inbound to open downstream", "forward", packet{iif: "wan0", oif: "lan0", src: inet6, dst: "2001:db8:1:f2::1", proto: 6, dport: 22}, "accept"},
		{"inbound v4 to NAT LAN", "forward", packet{iif: "wan0", oif: "lan0", src: inet4, dst: "192.168.1.50", proto: 6}, "drop drop_inbound"},
		{"uplink source is ours", "forward", packet{iif: "wan0", oif: "lan1", src: "2001:db8:1:2::5", dst: "2001:db8:1:2::6", proto: 17}, "drop drop_spoof_uplink"},
		{"uplink source is our v4", "forward", packet{iif: "wan1", oif: "lan0", src: "198.51.100.2", dst: "192.168.1.5", proto: 17}, "drop drop_spoof_uplink"},
		{"ULA from outside", "forward", packet{iif: "wan0", oif: "lan1", src: "fd00::1", dst: "2001:db8:1:2::6", proto: 17}, "drop drop_bogon"},
		{"multicast source", "forward", packet{iif: "wan0", oif: "lan1", src: "ff02::1", dst: "2001:db8:1:2::6", proto: 17}, "drop drop_bogon"},
		{"v4 martian", "forward", packet{iif: "wan0", oif: "lan0", src: "127.0.0.1", dst: "192.168.1.5", proto: 17}, "drop drop_bogon"},
		{"documentation range is not a bogon", "forward", packet{iif: "wan0", oif: "lan1", src: "2001:db8:ffff::1", dst: "2001:db8:1:2::6", proto: 17}, "accept"},
		{"LAN to neighbour", "forward", packet{iif: "lan0", oif: "mesh0", src: host, dst: "2001:db8:77:1::5", proto: 6, dport: 22}, "accept"},
		{"neighbour to neighbour through us", "forward", packet{iif: "mesh0", oif: "mesh0", src: "2001:db8:77:1::5", dst: "2001:db8:78:1::5", proto: 6}, "accept"},
		{"asymmetric transit between neighbours", "forward", packet{iif: "mesh0", oif: "mesh0", src: "2001:db8:77:1::5", dst: "2001:db8:78:1::5", proto: 58, icmpType: 129, ct: ctInvalid}, "accept"},
		{"neighbour to stateful LAN", "forward", packet{iif: "mesh0", oif: "lan0", src: "2001:db8:77:1::5", dst: host, proto: 6, dport: 22}, "drop drop_inbound"},
		{"neighbour answer", "forward", packet{iif: "mesh0", oif: "lan0", src: "2001:db8:77:1::5", dst: host, proto: 6, ct: ctEstablished}, "accept"},
		{"neighbour to open LAN", "forward", packet{iif: "mesh0", oif: "lan1", src: "fd77::5", dst: "2001:db8:1:2::5", proto: 6, dport: 22}, "accept"},
		{"neighbour through pinhole", "forward", packet{iif: "mesh0", oif: "lan0", src: "2001:db8:77:1::5", dst: "2001:db8:1:1::77", proto: 17, dport: 6005}, "accept"},
		{"neighbour claims our prefix", "forward", packet{iif: "mesh0", oif: "lan1", src: "2001:db8:1:1::5", dst: "2001:db8:1:2::5", proto: 17}, "drop drop_spoof_uplink"},
		{"neighbour to uplink", "forward", packet{iif: "mesh0", oif: "wan0", src: "2001:db8:77:1::5", dst: inet6, proto: 17}, "drop drop_inbound"},
		{"uplink to uplink", "forward", packet{iif: "wan0", oif: "wan1", src: inet6, dst: "2001:db8:fffe::1", proto: 17}, "drop drop_inbound"},

		{"no TCP port on the box from uplink", "input", packet{iif: "wan0", src: inet6, dst: "2001:db8:1:1::1", proto: 6, dport: 22}, "drop drop_input"},
		{"no TCP port on the box from LAN", "input", packet{iif: "lan0", src: host, dst: "2001:db8:1:1::1", proto: 6, dport: 22}, "drop drop_input"},
		{"DHCPv4 reply", "input", packet{iif: "wan0", src: "198.51.100.1", dst: "198.51.100.2", proto: 17, sport: 67, dport: 68}, "accept"},
		{"DHCPv6 reply", "input", packet{iif: "wan1", src: "fe80::1", dst: "fe80::2", proto: 17, sport: 547, dport: 546}, "accept"},
		{"DHCPv6 server not on uplink", "input", packet{iif: "wan0", src: "fe80::1", dst: "ff02::1:2", proto: 17, sport: 546, dport: 547}, "drop drop_input"},
		{"DHCPv6 server on LAN", "input", packet{iif: "lan0", src: "fe80::9", dst: "ff02::1:2", proto: 17, sport: 546, dport: 547}, "accept"},
		{"DHCPv4 server on LAN", "input", packet{iif: "lan0", src: "0.0.0.0", dst: "255.255.255.255", proto: 17, sport: 68, dport: 67}, "accept"},
		{"RA from ISP", "input", packet{iif: "wan0", src: "fe80::1", dst: "ff02::1", proto: 58, icmpType: 134, hopLimit: 255}, "accept"},
		{"RA forwarded from afar", "input", packet{iif: "wan0", src: "fe80::1", dst: "ff02::1", proto: 58, icmpType: 134, hopLimit: 64}, "drop drop_input"},
		{"RA from global source", "input", packet{iif: "wan0", src: inet6, dst: "ff02::1", proto: 58, icmpType: 134, hopLimit: 255}, "drop drop_input"},
		{"NS for DAD", "input", packet{iif: "lan0", src: "::", dst: "ff02::1:ff00:1", proto: 58, icmpType: 135, hopLimit: 255}, "accept"},
		{"Babel from a neighbour", "input", packet{iif: "mesh0", src: "fe80::7", dst: "ff02::1:6", proto: 17, sport: 6696, dport: 6696}, "accept"},
		{"Babel from afar", "input", packet{iif: "mesh0", src: "2001:db8:77::1", dst: "2001:db8:1:1::1", proto: 17, sport: 6696, dport: 6696}, "drop drop_input"},
		{"Babel from uplink", "input", packet{iif: "wan0", src: "fe80::7", dst: "ff02::1:6", proto: 17, sport: 6696, dport: 6696}, "drop drop_input"},
		{"RS from LAN", "input", packet{iif: "lan0", src: "fe80::9", dst: "ff02::2", proto: 58, icmpType: 133, hopLimit: 255}, "accept"},
		{"RS from uplink", "input", packet{iif: "wan0", src: "fe80::9", dst: "ff02::2", proto: 58, icmpType: 133, hopLimit: 255}, "drop drop_input"},
		{"PTB to box", "input", packet{iif: "wan0", src: inet6, dst: "2001:db8:1:1::1", proto: 58, icmpType: 2}, "accept"},
		{"echo to box", "input", packet{iif: "wan0", src: inet6, dst: "2001:db8:1:1::1", proto: 58, icmpType: 128}, "accept"},
		{"echo v4 to box", "input", packet{iif: "wan0", src: inet4, dst: "198.51.100.2", proto: 1, icmpType: 8}, "accept"},
		{"answer to box", "input", packet{iif: "wan0", src: inet4, dst: "198.51.100.2", proto: 6, sport: 443, ct: ctEstablished}, "accept"},
		{"box output", "output", packet{oif: "wan0", src: "198.51.100.2", dst: inet4, proto: 6}, "accept"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := eval(t, rs, tc.chain, tc.p); got != tc.want {
				t.Errorf("%s %+v = %q, want %q", tc.chain, tc.p, got, tc.want)
			}
		})
	}
}

func TestBuildSets(t *testing.T) {
	in := configs[1].in
	in.Bogons = []netip.Prefix{pfx("fc00::/7")}
	rs := Build(in)
	tbl, _ := rs.Table(FamilyInet, FilterTable)
	get := func(name string) string {
		s, ok := tbl.Set(name)
		if !ok {
			t.Fatalf("no set %s", name)
		}
		var parts []string
		for _, e := range s.Elements {
			parts = append(parts, e.String())
		}
		return strings.Join(parts, " ")
	}
	for _, c := range []struct{ set, want string }{
		{"uplinks", `"wan0" "wan1"`},
		{"own_v6", "2001:db8:1::/56 2001:db8:2::/56"}, // LAN /64s and the downstream /62 fold into the /56s
		{"own_v4", "192.168.1.0/24 198.51.100.2 203.0.113.9"},
		{"open_v6", "2001:db8:1:2::/64 2001:db8:1:f0::/62"},
		{"open_v4", ""}, // lan0 is NATed, lan1 has no IPv4
		{"bogons_v6", "fc00::/7"},
		{"bogons_v4", ""},
		{"lan_lan0_v6", "2001:db8:1:1::/64 2001:db8:1:f0::/62 2001:db8:2:1::/64"},
		{"pinholes", ""},
		{"pinhole_ranges", "2001:db8:1:1::/64 . udp . 6000-6010 2001:db8:1:1::20 . ipv6-icmp . 0-65535 2001:db8:1:1::30 . 0-255 . 0-65535"},
	} {
		if got := get(c.set); got != c.want {
			t.Errorf("set %s = %q, want %q", c.set, got, c.want)
		}
	}
	nat, _ := rs.Table(FamilyIP, NATTable)
	if s, _ := nat.Set("nat_v4"); len(s.Elements) != 1 || s.Elements[0].Prefix != pfx("192.168.1.0/24") {
		t.Errorf("nat_v4 = %v", s.Elements)
	}
	if strings.Contains(rs.String(), "ip6 saddr @nat") || strings.Contains(rs.String(), "table ip6") {
		t.Error("IPv6 must never be translated")
	}
	// Renumbering changes elements only, never the skeleton.
	in2 := in
	in2.Own = []netip.Prefix{pfx("2001:db8:77::/48")}
	in2.Pinholes = nil
	if Build(in2).skeleton() != rs.skeleton() {
		t.Error("a prefix change altered the rules")
	}
	in2.LANs = append(in2.LANs, Segment{Interface: "lan2"})
	if Build(in2).skeleton() == rs.skeleton() {
		t.Error("a new segment did not alter the rules")
	}
}

// TestPinholeSets: a pinhole to one address, protocol and port goes to
// the hash set "pinholes", any other to the interval set
// "pinhole_ranges"; both let their traffic in and nothing else.
func TestPinholeSets(t *testing.T) {
	in := configs[0].in
	in.Pinholes = []Pinhole{
		{Name: "ssh", Prefix: pfx("2001:db8:1:1::22/128"), Protocol: "tcp", Ports: []PortRange{{22, 22}, {2222, 2222}}},
		{Name: "web", Prefix: pfx("2001:db8:1:1::80/128"), Protocol: "TCP", Ports: []PortRange{{8000, 8080}}},
		{Name: "subnet", Prefix: pfx("2001:db8:1:1::/64"), Protocol: "udp", Ports: []PortRange{{53, 53}}},
		{Name: "any", Prefix: pfx("2001:db8:1:1::99/128")},
		{Name: "ping", Prefix: pfx("2001:db8:1:1::98/128"), Protocol: "icmpv6", Ports: []PortRange{{1, 1}}},
		{Name: "dup", Prefix: pfx("2001:db8:1:1::22/128"), Protocol: "tcp", Ports: []PortRange{{22, 22}}},
	}
	rs := Build(in)
	tbl, _ := rs.Table(FamilyInet, FilterTable)
	for _, c := range []struct{ set, want string }{
		{"pinholes", "2001:db8:1:1::22 . tcp . 22 2001:db8:1:1::22 . tcp . 2222"},
		{"pinhole_ranges", "2001:db8:1:1::/64 . udp . 53 2001:db8:1:1::80 . tcp . 8000-8080 2001:db8:1:1::98 . ipv6-icmp . 0-65535 2001:db8:1:1::99 . 0-255 . 0-65535"},
	} {
		s, _ := tbl.Set(c.set)
		var parts []string
		for _, e := range s.Elements {
			parts = append(parts, e.String())
		}
		if got := strings.Join(parts, " "); got != c.want {
			t.Errorf("set %s = %q, want %q", c.set, got, c.want)
		}
		if !ascending(s.Elements) {
			t.Errorf("set %s is not strictly ascending", c.set)
		}
	}
	const inet6 = "2001:db8:ffff::1"
	for _, c := range []struct {
		name string
		p    packet
		want string
	}{
		{"exact", packet{iif: "wan0", oif: "lan0", src: inet6, dst: "2001:db8:1:1::22", proto: 6, dport: 2222}, "accept"},
		{"exact, other port", packet{iif: "wan0", oif: "lan0", src: inet6, dst: "2001:db8:1:1::22", proto: 6, dport: 23}, "drop drop_inbound"},
		{"exact, other protocol", packet{iif: "wan0", oif: "lan0", src: inet6, dst: "2001:db8:1:1::22", proto: 17, dport: 22}, "drop drop_inbound"},
		{"range", packet{iif: "wan0", oif: "lan0", src: inet6, dst: "2001:db8:1:1::80", proto: 6, dport: 8042}, "accept"},
		{"subnet", packet{iif: "wan0", oif: "lan0", src: inet6, dst: "2001:db8:1:1::7", proto: 17, dport: 53}, "accept"},
		{"any", packet{iif: "wan0", oif: "lan0", src: inet6, dst: "2001:db8:1:1::99", proto: 132, dport: 9}, "accept"},
	} {
		if got := eval(t, rs, "forward", c.p); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestPrefixElements(t *testing.T) {
	got := prefixElements([]netip.Prefix{pfx("10.1.2.3/16"), pfx("10.0.0.0/8"), pfx("10.0.0.0/8"), pfx("11.0.0.0/8"), {}})
	var s []string
	for _, e := range got {
		s = append(s, e.String())
	}
	if strings.Join(s, " ") != "10.0.0.0/8 11.0.0.0/8" {
		t.Errorf("got %v", s)
	}
}

func TestLogDrops(t *testing.T) {
	in := configs[0].in
	if !strings.Contains(Build(in).String(), `log prefix "cpe drop inbound: "`) {
		t.Error("LogDrops set but no log statement")
	}
	in.LogDrops = false
	if s := Build(in).String(); strings.Contains(s, "log prefix") || !strings.Contains(s, `counter name "inbound" drop`) {
		t.Error("LogDrops off: want named counter and drop, no log")
	}
}

func TestElementDiff(t *testing.T) {
	e := func(s string) Element { return Element{Prefix: netip.MustParsePrefix(s)} }
	old := []Element{e("2001:db8:1::/48"), e("2001:db8:2::/48"), e("2001:db8:4::/48")}
	cur := []Element{e("2001:db8::/48"), e("2001:db8:2::/48"), e("2001:db8:3::/48")}
	wantAdded := []Element{e("2001:db8::/48"), e("2001:db8:3::/48")}
	wantRemoved := []Element{e("2001:db8:1::/48"), e("2001:db8:4::/48")}
	for _, c := range []struct {
		name     string
		old, cur []Element
	}{
		{"sorted", old, cur},
		{"unsorted", []Element{old[2], old[0], old[1]}, []Element{cur[1], cur[2], cur[0]}},
	} {
		added, removed := elementDiff(c.old, c.cur)
		slices.SortFunc(added, compareElements)
		slices.SortFunc(removed, compareElements)
		if !slices.Equal(added, wantAdded) || !slices.Equal(removed, wantRemoved) {
			t.Errorf("%s: added %v removed %v, want %v and %v", c.name, added, removed, wantAdded, wantRemoved)
		}
	}
	if a, r := elementDiff(old, old); len(a)+len(r) != 0 {
		t.Errorf("no change: added %v removed %v", a, r)
	}
}

// TestDiffElements checks the Applier's diff against plain set arithmetic
// on random changes to sorted sets and on lists in any order, with
// duplicates: each element of cur not in old is added once, each of old
// not in cur removed once, and cur is reported ascending exactly when it
// is.
func TestDiffElements(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	elem := func() Element {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(rng.IntN(40))})
		return Element{Prefix: netip.PrefixFrom(a, 128), ProtoLo: 6, ProtoHi: 6, PortLo: uint16(rng.IntN(3)), PortHi: uint16(rng.IntN(3))}
	}
	sorted := func(n int) []Element {
		var es []Element
		for range n {
			es = append(es, elem())
		}
		slices.SortFunc(es, compareElements)
		return slices.Compact(es)
	}
	type change struct{ old, cur []Element }
	var cases []change
	for range 2000 {
		old := sorted(rng.IntN(30))
		cur := slices.Clone(old)
		switch rng.IntN(4) {
		case 0: // a few elements replaced, added or removed, still sorted
			for range rng.IntN(4) {
				if len(cur) > 0 && rng.IntN(2) == 0 {
					i := rng.IntN(len(cur))
					cur = slices.Delete(cur, i, i+1)
				} else {
					cur = append(cur, elem())
					slices.SortFunc(cur, compareElements)
					cur = slices.Compact(cur)
				}
			}
		case 1: // anything sorted
			cur = sorted(rng.IntN(30))
		case 2: // shuffled, perhaps with duplicates
			cur = append(cur, sorted(rng.IntN(5))...)
			if len(cur) > 0 {
				cur = append(cur, cur[rng.IntN(len(cur))])
			}
			rng.Shuffle(len(cur), func(i, j int) { cur[i], cur[j] = cur[j], cur[i] })
		case 3: // old itself out of order
			rng.Shuffle(len(old), func(i, j int) { old[i], old[j] = old[j], old[i] })
			cur = append(slices.Clone(old), elem())
		}
		cases = append(cases, change{old, cur})
	}
	set := func(es []Element) map[Element]bool {
		m := map[Element]bool{}
		for _, e := range es {
			m[e] = true
		}
		return m
	}
	minus := func(a, b []Element) []Element {
		in := set(b)
		var out []Element
		for e := range set(a) {
			if !in[e] {
				out = append(out, e)
			}
		}
		slices.SortFunc(out, compareElements)
		return out
	}
	for i, c := range cases {
		for _, known := range []bool{false, true} {
			if known && !ascending(c.old) {
				continue // the Applier only claims what holds
			}
			added, removed, asc := diffElements(c.old, known, c.cur)
			slices.SortFunc(added, compareElements)
			slices.SortFunc(removed, compareElements)
			if want := minus(c.cur, c.old); !slices.Equal(added, want) {
				t.Fatalf("case %d (known %v): added %v, want %v\nold %v\ncur %v", i, known, added, want, c.old, c.cur)
			}
			if want := minus(c.old, c.cur); !slices.Equal(removed, want) {
				t.Fatalf("case %d (known %v): removed %v, want %v\nold %v\ncur %v", i, known, removed, want, c.old, c.cur)
			}
			if asc != ascending(c.cur) {
				t.Fatalf("case %d: ascending %v for %v", i, asc, c.cur)
			}
		}
	}
}

// TestSameSkeleton: the field-by-field comparison the Applier uses agrees
// with comparing rendered skeletons.
func TestSameSkeleton(t *testing.T) {
	var rss []Ruleset
	for _, c := range configs {
		rss = append(rss, Build(c.in))
		in := c.in
		in.Own = append(slices.Clone(in.Own), pfx("2001:db8:99::/48"))
		in.Pinholes = append(slices.Clone(in.Pinholes), Pinhole{Prefix: pfx("2001:db8:1:1::5/128"), Protocol: "udp", Ports: []PortRange{{53, 53}}})
		rss = append(rss, Build(in))
		in.LogDrops = !in.LogDrops
		rss = append(rss, Build(in))
		in.FlowOffload = !in.FlowOffload
		rss = append(rss, Build(in))
	}
	edited := Build(configs[0].in)
	fwd, _ := edited.Tables[0].Chain("forward")
	fwd.Rules = slices.Clone(fwd.Rules)
	fwd.Rules[len(fwd.Rules)-1].Comment = "edited"
	rss = append(rss, edited)
	icmp := Build(configs[0].in)
	in, _ := icmp.Tables[0].Chain("input")
	in.Rules = slices.Clone(in.Rules)
	in.Rules[3].Match = []Stmt{icmpMatch{V6: true, Types: []uint8{1, 2, 3}}}
	port := Build(configs[0].in)
	in, _ = port.Tables[0].Chain("input")
	in.Rules = slices.Clone(in.Rules)
	for i, r := range in.Rules {
		if r.Comment == "DHCPv4 client" {
			in.Rules[i].Match = []Stmt{fromUplink, udpMatch{67, 69}}
		}
	}
	rss = append(rss, icmp, port, withoutOffload(rss[len(rss)-3]), Ruleset{})
	for i, a := range rss {
		for j, b := range rss {
			if got, want := sameSkeleton(a, b), a.skeleton() == b.skeleton(); got != want {
				t.Errorf("rulesets %d and %d: sameSkeleton %v, skeletons equal %v", i, j, got, want)
			}
		}
	}
}
