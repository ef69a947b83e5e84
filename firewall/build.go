package firewall

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Mode is how a LAN segment or a delegated prefix is reached from the uplinks.
type Mode string

const (
	// Stateful lets in only answers to sessions started inside, ICMPv6
	// errors and pinholes (RFC 6092 section 3).
	Stateful Mode = "stateful"
	// Open forwards everything inbound: RFC 6092's transparent mode.
	Open Mode = "open"
)

// Input is what the ruleset is built from: the zones and what is allowed.
type Input struct {
	Uplinks    []Uplink
	LANs       []Segment
	Downstream []Delegation
	// Mesh are the interfaces Babel runs on, towards neighbouring boxes:
	// Babel itself is let in from link-local sources, traffic between
	// neighbours is routed through, the LANs reach the neighbours, and the
	// neighbours reach a LAN as the uplinks do (stateful, open, pinholes).
	Mesh []string
	// Own are prefixes delegated to the box; a packet arriving from an
	// uplink with one of them as source is spoofed.
	Own      []netip.Prefix
	Pinholes []Pinhole
	// FlowOffload asks for a flowtable; the Applier drops it again, with a
	// reason, when the kernel cannot do it.
	FlowOffload bool
	LogDrops    bool
	// Bogons are sources dropped from the uplinks. nil means DefaultBogons.
	Bogons []netip.Prefix
}

// Uplink is an interface towards the ISP.
type Uplink struct {
	Interface string
	IPv4      []netip.Addr // the box's own addresses on it
}

// Segment is a LAN the box serves.
type Segment struct {
	Interface string
	IPv6      []netip.Prefix
	IPv4      netip.Prefix // router address with prefix length; zero when no IPv4
	Mode      Mode         // "" means Stateful
	NAT       bool         // masquerade IPv4 behind the uplinks
}

// Delegation is a prefix delegated to a router on a LAN (RFC 9818).
type Delegation struct {
	Interface string // the LAN it is routed to
	Prefix    netip.Prefix
	Mode      Mode // "" means Open: the downstream router runs its own firewall
}

// Pinhole lets inbound traffic through to a stateful LAN.
type Pinhole struct {
	Name     string
	Prefix   netip.Prefix // IPv6 destination host or subnet
	Protocol string       // tcp, udp, sctp, udplite, icmpv6 or any ("" = any)
	Ports    []PortRange  // empty means every port
}

// PortRange is an inclusive range of ports.
type PortRange struct{ Lo, Hi uint16 }

// Table names owned by the firewall.
const (
	FilterTable = "cpe"
	NATTable    = "cpe_nat"
)

// DefaultBogons returns the sources never valid from an uplink: unspecified,
// loopback, IPv4-mapped, link-local, ULA (RFC 6092 REC-3..5), multicast,
// and IPv4's "this network", loopback, link-local, multicast and reserved
// blocks. Documentation ranges (2001:db8::/32, 192.0.2.0/24,
// 198.51.100.0/24, 203.0.113.0/24), RFC 1918 and 100.64.0.0/10 are NOT in
// the list: labs use them as "the Internet" and many ISPs number their
// access networks out of private or shared space.
func DefaultBogons() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"::/128", "::1/128", "::ffff:0:0/96", "fc00::/7", "fe80::/10", "ff00::/8",
		"0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// Drop reasons; each has a named counter and a chain "drop_<reason>".
const (
	ReasonInvalid     = "invalid"      // conntrack says invalid
	ReasonSpoofLAN    = "spoof_lan"    // LAN source outside the segment (BCP 38)
	ReasonSpoofUplink = "spoof_uplink" // uplink source is one of ours
	ReasonBogon       = "bogon"        // uplink source is a bogon
	ReasonInbound     = "inbound"      // unsolicited inbound to a stateful LAN
	ReasonInput       = "input"        // to the box itself, not allowed
	ReasonForward     = "forward"      // any other forwarded packet
)

var reasons = []string{ReasonInvalid, ReasonSpoofLAN, ReasonSpoofUplink, ReasonBogon, ReasonInbound, ReasonInput, ReasonForward}

const (
	icmpEchoRate  = 10 // per second, RFC 4890 4.3.1 lets echo through; the limit keeps it from being a flood amplifier
	icmpEchoBurst = 20
	logRate       = 5
	logBurst      = 10
	flowtableName = "ft"
)

var nonName = regexp.MustCompile(`[^A-Za-z0-9_]`)

// lanSetName is the per-segment source set. Interface names may hold
// characters a set name may not.
func lanSetName(iface, fam string) string {
	return "lan_" + nonName.ReplaceAllString(iface, "_") + "_" + fam
}

// Build computes the ruleset for in. It is pure: same Input, same Ruleset.
func Build(in Input) Ruleset {
	bogons := in.Bogons
	if bogons == nil {
		bogons = DefaultBogons()
	}
	var uplinks, lans []Element
	var own6, own4, open6, open4, nat4 []netip.Prefix
	for _, u := range in.Uplinks {
		uplinks = append(uplinks, Element{Ifname: u.Interface})
		for _, a := range u.IPv4 {
			if a.Is4() {
				own4 = append(own4, netip.PrefixFrom(a, 32))
			}
		}
	}
	own6 = append(own6, in.Own...)
	var mesh []Element
	for _, m := range in.Mesh {
		mesh = append(mesh, Element{Ifname: m})
	}
	var segs []segSets
	seenSeg := map[string]int{}
	for _, s := range in.LANs {
		lans = append(lans, Element{Ifname: s.Interface})
		ss := segSets{iface: s.Interface, v6: append([]netip.Prefix(nil), s.IPv6...)}
		if s.IPv4.IsValid() && s.IPv4.Addr().Is4() {
			ss.hasV4 = true
			ss.v4 = []netip.Prefix{s.IPv4.Masked()}
			own4 = append(own4, s.IPv4.Masked())
			if s.NAT {
				nat4 = append(nat4, s.IPv4.Masked())
			} else if s.Mode == Open {
				open4 = append(open4, s.IPv4.Masked())
			}
		}
		own6 = append(own6, s.IPv6...)
		if s.Mode == Open {
			open6 = append(open6, s.IPv6...)
		}
		if i, dup := seenSeg[s.Interface]; dup {
			// Two entries for one interface: one set, both prefix lists.
			segs[i].v6 = append(segs[i].v6, ss.v6...)
			segs[i].v4 = append(segs[i].v4, ss.v4...)
			segs[i].hasV4 = segs[i].hasV4 || ss.hasV4
			continue
		}
		seenSeg[s.Interface] = len(segs)
		segs = append(segs, ss)
	}
	for _, d := range in.Downstream {
		own6 = append(own6, d.Prefix)
		if d.Mode != Stateful {
			open6 = append(open6, d.Prefix)
		}
		for i := range segs {
			if segs[i].iface == d.Interface {
				segs[i].v6 = append(segs[i].v6, d.Prefix)
			}
		}
	}
	var bog6, bog4 []netip.Prefix
	for _, p := range bogons {
		if p.Addr().Is4() {
			bog4 = append(bog4, p)
		} else {
			bog6 = append(bog6, p)
		}
	}

	f := Table{Family: FamilyInet, Name: FilterTable}
	for _, r := range reasons {
		f.Counters = append(f.Counters, r)
	}
	f.Sets = []Set{
		{Name: "uplinks", Type: SetIfname, Elements: dedupIf(uplinks)},
		{Name: "lans", Type: SetIfname, Elements: dedupIf(lans)},
		{Name: "mesh", Type: SetIfname, Elements: dedupIf(mesh)},
		{Name: "own_v6", Type: SetIPv6, Elements: prefixElements(own6)},
		{Name: "own_v4", Type: SetIPv4, Elements: prefixElements(own4)},
		{Name: "bogons_v6", Type: SetIPv6, Elements: prefixElements(bog6)},
		{Name: "bogons_v4", Type: SetIPv4, Elements: prefixElements(bog4)},
		{Name: "open_v6", Type: SetIPv6, Elements: prefixElements(open6)},
		{Name: "open_v4", Type: SetIPv4, Elements: prefixElements(open4)},
	}
	exact, ranges := pinholeElements(in.Pinholes)
	f.Sets = append(f.Sets,
		Set{Name: "pinholes", Type: SetPinholeExact, Elements: exact},
		Set{Name: "pinhole_ranges", Type: SetPinhole, Elements: ranges},
	)
	for _, s := range segs {
		n6, n4 := lanSetName(s.iface, "v6"), lanSetName(s.iface, "v4")
		f.Sets = append(f.Sets, Set{Name: n6, Type: SetIPv6, Elements: prefixElements(s.v6)})
		if s.hasV4 {
			f.Sets = append(f.Sets, Set{Name: n4, Type: SetIPv4, Elements: prefixElements(s.v4)})
		}
	}
	if in.FlowOffload {
		var devs []string
		for _, e := range append(dedupIf(uplinks), dedupIf(lans)...) {
			devs = append(devs, e.Ifname)
		}
		f.Flowtables = []Flowtable{{Name: flowtableName, Devices: devs}}
	}

	f.Chains = append(f.Chains,
		Chain{Name: "input", Type: "filter", Hook: HookInput, Drop: true, Rules: inputRules()},
		Chain{Name: "forward", Type: "filter", Hook: HookForward, Drop: true, Rules: forwardRules(in.FlowOffload, segs)},
		// The box's own traffic is trusted; the chain exists so that
		// `show firewall` counts it and a later policy has a place to go.
		Chain{Name: "output", Type: "filter", Hook: HookOutput, Rules: []Rule{rule("", Accept)}},
	)
	for _, r := range reasons {
		f.Chains = append(f.Chains, dropChain(r, in.LogDrops))
	}

	n := Table{Family: FamilyIP, Name: NATTable}
	n.Sets = []Set{
		{Name: "uplinks", Type: SetIfname, Elements: dedupIf(uplinks)},
		{Name: "nat_v4", Type: SetIPv4, Elements: prefixElements(nat4)},
	}
	n.Chains = []Chain{{Name: "postrouting", Type: "nat", Hook: HookPostrouting, Priority: 100, Rules: []Rule{{
		Match:   []Stmt{ifaceMatch{Out: true, Set: "uplinks"}, addrMatch{Set: "nat_v4"}},
		Action:  []Stmt{counterStmt{}, masqStmt{}},
		Comment: "NAT44 of the LANs out of every uplink; IPv6 is never translated",
	}}}}
	return Ruleset{Tables: []Table{f, n}}
}

// segSets is what Build learnt about one LAN interface.
type segSets struct {
	iface  string
	v6, v4 []netip.Prefix
	hasV4  bool
}

func dedupIf(es []Element) []Element {
	var out []Element
	seen := map[string]bool{}
	for _, e := range es {
		if e.Ifname == "" || seen[e.Ifname] {
			continue
		}
		seen[e.Ifname] = true
		out = append(out, e)
	}
	return out
}

var pinholeProtos = map[string]uint8{"tcp": 6, "udp": 17, "sctp": 132, "udplite": 136, "icmpv6": 58}

// pinholeElements returns the pinholes to one address, protocol and port
// (exact) apart from those to a subnet or a range of protocols or ports,
// each list strictly ascending.
func pinholeElements(ps []Pinhole) (exact, ranges []Element) {
	var out []Element
	seen := map[Element]bool{}
	for _, p := range ps {
		if !p.Prefix.IsValid() || !p.Prefix.Addr().Is6() {
			continue
		}
		lo, hi := uint8(0), uint8(255)
		if n, ok := pinholeProtos[strings.ToLower(p.Protocol)]; ok {
			lo, hi = n, n
		}
		ports := p.Ports
		if len(ports) == 0 || lo == 58 {
			ports = []PortRange{{0, 65535}}
		}
		for _, r := range ports {
			if r.Hi < r.Lo {
				r.Hi = r.Lo
			}
			e := Element{Prefix: p.Prefix.Masked(), ProtoLo: lo, ProtoHi: hi, PortLo: r.Lo, PortHi: r.Hi}
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	slices.SortFunc(out, compareElements)
	for _, e := range out {
		if e.Prefix.IsSingleIP() && e.ProtoLo == e.ProtoHi && e.PortLo == e.PortHi {
			exact = append(exact, e)
		} else {
			ranges = append(ranges, e)
		}
	}
	return exact, ranges
}

func rule(comment string, v VerdictKind, match ...Stmt) Rule {
	return Rule{Match: match, Action: []Stmt{counterStmt{}}, Verdict: Verdict{Kind: v}, Comment: comment}
}

func dropTo(comment, reason string, match ...Stmt) Rule {
	return Rule{Match: match, Action: []Stmt{counterStmt{}}, Verdict: Verdict{Kind: Goto, Chain: "drop_" + reason}, Comment: comment}
}

var (
	fromUplink = ifaceMatch{Set: "uplinks"}
	fromLAN    = ifaceMatch{Set: "lans"}
	fromMesh   = ifaceMatch{Set: "mesh"}
	linkLocal  = addrMatch{V6: true, Prefix: netip.MustParsePrefix("fe80::/10")}
	icmp6Err   = icmpMatch{V6: true, Types: []uint8{1, 2, 3, 4}}
)

func inputRules() []Rule {
	return []Rule{
		rule("answers to the box's own traffic", Accept, ctMatch{ctEstablished | ctRelated}),
		dropTo("", ReasonInvalid, ctMatch{ctInvalid}),
		rule("", Accept, ifaceMatch{Name: "lo"}),
		rule("RFC 4890 4.4.1: errors and Packet Too Big always", Accept, icmp6Err),
		rule("RFC 4890 4.4.1: ND on-link only", Accept, icmpMatch{V6: true, Types: []uint8{134, 137}}, hopLimitMatch{255}, linkLocal),
		rule("RFC 4890 4.4.1, RFC 4861 7.2.2: NS and NA from any on-link address", Accept, icmpMatch{V6: true, Types: []uint8{135, 136}}, hopLimitMatch{255}),
		rule("RFC 4890 4.4.1: RS from the LANs", Accept, fromLAN, icmpMatch{V6: true, Types: []uint8{133}}, hopLimitMatch{255}),
		rule("RFC 4890 4.4.1: MLD from link-local sources", Accept, icmpMatch{V6: true, Types: []uint8{130, 131, 132, 143}}, linkLocal),
		{Match: []Stmt{icmpMatch{V6: true, Types: []uint8{128}}}, Action: []Stmt{limitStmt{icmpEchoRate, icmpEchoBurst}, counterStmt{}}, Verdict: Verdict{Kind: Accept}, Comment: "RFC 4890 4.4.1: echo, rate-limited"},
		rule("", Accept, icmpMatch{Types: []uint8{3, 11, 12}}),
		{Match: []Stmt{icmpMatch{Types: []uint8{8}}}, Action: []Stmt{limitStmt{icmpEchoRate, icmpEchoBurst}, counterStmt{}}, Verdict: Verdict{Kind: Accept}},
		rule("DHCPv4 client", Accept, fromUplink, udpMatch{67, 68}),
		rule("DHCPv6 client", Accept, fromUplink, nfprotoMatch{V6: true}, udpMatch{547, 546}),
		rule("DHCPv4 server", Accept, fromLAN, nfprotoMatch{}, udpMatch{0, 67}),
		rule("DHCPv6 server", Accept, fromLAN, nfprotoMatch{V6: true}, udpMatch{0, 547}),
		rule("Babel (RFC 8966) from neighbours on-link", Accept, fromMesh, linkLocal, udpMatch{0, 6696}),
		dropTo("", ReasonInput),
	}
}

func forwardRules(flow bool, segs []segSets) []Rule {
	rs := []Rule{{
		Match: []Stmt{tcpSynMatch{}}, Action: []Stmt{counterStmt{}, mssStmt{}},
		Comment: "PPPoE and tunnels lower the path MTU; hosts do not all learn it",
	}}
	if flow {
		rs = append(rs, Rule{Match: []Stmt{l4protoMatch{[]uint8{6, 17}}}, Action: []Stmt{counterStmt{}, flowStmt{flowtableName}}})
	}
	rs = append(rs,
		// Nearly every packet forwarded belongs to a flow under way: it
		// is let through second, after only the clamping, which has to see
		// the SYN-ACKs (established) too. Any rule before this one costs
		// every packet; with the mesh rule first, the ruleset forwarded
		// 2-3 % less than conntrack alone.
		rule("", Accept, ctMatch{ctEstablished | ctRelated}),
		// Paths through a mesh are often asymmetric: this box may see only
		// one direction of a flow, which conntrack would call invalid.
		rule("routed between neighbours", Accept, fromMesh, ifaceMatch{Out: true, Set: "mesh"}),
		dropTo("", ReasonInvalid, ctMatch{ctInvalid}),
	)
	for _, s := range segs {
		in := ifaceMatch{Name: s.iface}
		rs = append(rs, dropTo("BCP 38", ReasonSpoofLAN, in, addrMatch{V6: true, Neg: true, Set: lanSetName(s.iface, "v6")}))
		if s.hasV4 {
			rs = append(rs, dropTo("BCP 38", ReasonSpoofLAN, in, addrMatch{Neg: true, Set: lanSetName(s.iface, "v4")}))
		} else {
			rs = append(rs, dropTo("no IPv4 on this LAN", ReasonSpoofLAN, in, nfprotoMatch{}))
		}
	}
	rs = append(rs,
		dropTo("RFC 6092 REC-5", ReasonSpoofUplink, fromUplink, addrMatch{V6: true, Set: "own_v6"}),
		dropTo("", ReasonSpoofUplink, fromUplink, addrMatch{Set: "own_v4"}),
		dropTo("our prefixes live on our LANs", ReasonSpoofUplink, fromMesh, addrMatch{V6: true, Set: "own_v6"}),
		dropTo("RFC 6092 REC-3, REC-4", ReasonBogon, fromUplink, addrMatch{V6: true, Set: "bogons_v6"}),
		dropTo("", ReasonBogon, fromUplink, addrMatch{Set: "bogons_v4"}),
		rule("", Accept, fromLAN, ifaceMatch{Out: true, Set: "uplinks"}),
		rule("", Accept, fromLAN, ifaceMatch{Out: true, Set: "lans"}),
		rule("", Accept, fromLAN, ifaceMatch{Out: true, Set: "mesh"}),
	)
	for _, from := range []ifaceMatch{fromUplink, fromMesh} {
		rs = append(rs,
			rule("RFC 4890 4.3.1, RFC 6092 REC-10", Accept, from, icmp6Err),
			rule("RFC 6092 REC-48: pinholes", Accept, from, pinholeMatch{"pinholes"}),
			rule("RFC 6092 REC-48: pinholes", Accept, from, pinholeMatch{"pinhole_ranges"}),
			rule("RFC 6092 transparent mode", Accept, from, addrMatch{V6: true, Dst: true, Set: "open_v6"}),
			rule("", Accept, from, addrMatch{Dst: true, Set: "open_v4"}),
			dropTo("RFC 6092 REC-11: no unsolicited inbound", ReasonInbound, from),
		)
	}
	rs = append(rs,
		dropTo("", ReasonForward),
	)
	return rs
}

func dropChain(reason string, log bool) Chain {
	c := Chain{Name: "drop_" + reason}
	if log {
		c.Rules = []Rule{
			{Action: []Stmt{counterStmt{Name: reason}, limitStmt{logRate, logBurst}, logStmt{"cpe drop " + reason + ": "}}},
			{Verdict: Verdict{Kind: Drop}},
		}
	} else {
		c.Rules = []Rule{{Action: []Stmt{counterStmt{Name: reason}}, Verdict: Verdict{Kind: Drop}}}
	}
	return c
}
