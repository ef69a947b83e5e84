package firewall

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Ruleset is the desired content of the tables the firewall owns. It is
// plain data: Build makes it, String renders it, the Applier loads it.
type Ruleset struct {
	Tables []Table
}

// Family is an nftables address family.
type Family string

const (
	FamilyInet Family = "inet"
	FamilyIP   Family = "ip"
)

// Table is one nftables table, owned entirely by the firewall.
type Table struct {
	Family     Family
	Name       string
	Counters   []string // named counters, one per drop reason
	Sets       []Set
	Flowtables []Flowtable
	Chains     []Chain
}

// SetType is the key type of a named set.
type SetType int

const (
	SetIfname  SetType = iota // interface names
	SetIPv4                   // IPv4 prefixes (interval)
	SetIPv6                   // IPv6 prefixes (interval)
	SetPinhole                // ipv6_addr . inet_proto . inet_service (interval)
	// SetPinholeExact is ipv6_addr . inet_proto . inet_service without
	// intervals: one address, one protocol and one port per element. The
	// kernel keeps it in a hash, where adding or deleting an element costs
	// the same however big the set is; an interval set (pipapo) rebuilds
	// its lookup tables, and a delete scans every element.
	SetPinholeExact
)

// interval reports whether the set's elements are ranges.
func (t SetType) interval() bool { return t != SetIfname && t != SetPinholeExact }

func (t SetType) nft() string {
	switch t {
	case SetIfname:
		return "ifname"
	case SetIPv4:
		return "ipv4_addr"
	case SetIPv6:
		return "ipv6_addr"
	default:
		return "ipv6_addr . inet_proto . inet_service"
	}
}

// Set is a named set. Everything that renumbering or a new pinhole changes
// lives in sets, so that such changes touch elements and never rules.
type Set struct {
	Name     string
	Type     SetType
	Elements []Element
}

// Element is one set element; which fields count depends on the set's type.
type Element struct {
	Ifname string       // SetIfname
	Prefix netip.Prefix // SetIPv4, SetIPv6, SetPinhole, SetPinholeExact
	// SetPinhole(Exact) only: protocol range and destination port range,
	// inclusive; an exact set's elements have Lo == Hi.
	ProtoLo, ProtoHi uint8
	PortLo, PortHi   uint16
}

func (e Element) String() string {
	switch {
	case e.Ifname != "":
		return strconv.Quote(e.Ifname)
	case e.ProtoHi == 0 && e.PortHi == 0:
		if e.Prefix.IsSingleIP() {
			return e.Prefix.Addr().String()
		}
		return e.Prefix.String()
	}
	p := e.Prefix.String()
	if e.Prefix.IsSingleIP() {
		p = e.Prefix.Addr().String()
	}
	proto := protoName(e.ProtoLo)
	if e.ProtoLo != e.ProtoHi {
		proto = fmt.Sprintf("%d-%d", e.ProtoLo, e.ProtoHi)
	}
	port := strconv.Itoa(int(e.PortLo))
	if e.PortLo != e.PortHi {
		port += "-" + strconv.Itoa(int(e.PortHi))
	}
	return p + " . " + proto + " . " + port
}

// Flowtable is a software fast path for established flows.
type Flowtable struct {
	Name    string
	Devices []string
}

// Hook is where a base chain is attached; "" makes a regular chain.
type Hook string

const (
	HookNone        Hook = ""
	HookInput       Hook = "input"
	HookForward     Hook = "forward"
	HookOutput      Hook = "output"
	HookPostrouting Hook = "postrouting"
)

// Chain is a base chain (Hook set) or a regular chain jumped to.
type Chain struct {
	Name     string
	Type     string // filter or nat, for base chains
	Hook     Hook
	Priority int
	Drop     bool // policy drop instead of accept, for base chains
	Rules    []Rule
}

// Verdict ends a rule.
type Verdict struct {
	Kind  VerdictKind
	Chain string // for Goto
}

// VerdictKind is what a matching rule does with the packet.
type VerdictKind int

const (
	Continue VerdictKind = iota // no verdict: statements only
	Accept
	Drop
	Goto
)

// Rule is a list of matches, then statements, then a verdict.
type Rule struct {
	Match   []Stmt
	Action  []Stmt
	Verdict Verdict
	Comment string
}

// Stmt is one match or statement of a rule. The set of kinds is closed: the
// renderer, the netlink encoder and the tests' evaluator know each of them.
type Stmt interface{ text() string }

type (
	// ifaceMatch: iifname "lo", oifname @uplinks.
	ifaceMatch struct {
		Out       bool
		Name, Set string
	}
	// nfprotoMatch: meta nfproto ipv4|ipv6.
	nfprotoMatch struct{ V6 bool }
	// addrMatch: ip6 saddr != @set, ip6 saddr fe80::/10.
	addrMatch struct {
		V6, Dst, Neg bool
		Set          string
		Prefix       netip.Prefix
	}
	// ctMatch: ct state established,related.
	ctMatch struct{ Bits uint32 }
	// icmpMatch: icmpv6 type { ... }.
	icmpMatch struct {
		V6    bool
		Types []uint8
	}
	// hopLimitMatch: ip6 hoplimit 255.
	hopLimitMatch struct{ Value uint8 }
	// udpMatch: udp sport 67 udp dport 68 (0 leaves a port out).
	udpMatch struct{ Sport, Dport uint16 }
	// tcpSynMatch: tcp flags syn.
	tcpSynMatch struct{}
	// l4protoMatch: meta l4proto { tcp, udp }.
	l4protoMatch struct{ Protos []uint8 }
	// pinholeMatch: ip6 daddr . meta l4proto . th dport @set.
	pinholeMatch struct{ Set string }
	// limitStmt: limit rate N/second burst B packets.
	limitStmt struct{ PerSecond, Burst uint32 }
	// counterStmt: an anonymous counter, or a named one.
	counterStmt struct{ Name string }
	// logStmt: log prefix "...".
	logStmt struct{ Prefix string }
	// mssStmt: tcp option maxseg size set rt mtu.
	mssStmt struct{}
	// masqStmt: masquerade.
	masqStmt struct{}
	// flowStmt: flow add @ft.
	flowStmt struct{ Flowtable string }
)

const (
	ctInvalid     = 1
	ctEstablished = 2
	ctRelated     = 4
	ctNew         = 8
)

func (m ifaceMatch) text() string {
	k := "iifname"
	if m.Out {
		k = "oifname"
	}
	if m.Set != "" {
		return k + " @" + m.Set
	}
	return k + " " + strconv.Quote(m.Name)
}

func (m nfprotoMatch) text() string {
	if m.V6 {
		return "meta nfproto ipv6"
	}
	return "meta nfproto ipv4"
}

func (m addrMatch) text() string {
	s := "ip"
	if m.V6 {
		s = "ip6"
	}
	if m.Dst {
		s += " daddr "
	} else {
		s += " saddr "
	}
	if m.Neg {
		s += "!= "
	}
	if m.Set != "" {
		return s + "@" + m.Set
	}
	return s + m.Prefix.String()
}

func (m ctMatch) text() string {
	var names []string
	for _, b := range []struct {
		bit  uint32
		name string
	}{{ctInvalid, "invalid"}, {ctEstablished, "established"}, {ctRelated, "related"}, {ctNew, "new"}} {
		if m.Bits&b.bit != 0 {
			names = append(names, b.name)
		}
	}
	return "ct state " + strings.Join(names, ",")
}

var icmp6Names = map[uint8]string{
	1: "destination-unreachable", 2: "packet-too-big", 3: "time-exceeded",
	4: "parameter-problem", 128: "echo-request", 129: "echo-reply",
	130: "mld-listener-query", 131: "mld-listener-report", 132: "mld-listener-done",
	133: "nd-router-solicit", 134: "nd-router-advert", 135: "nd-neighbor-solicit",
	136: "nd-neighbor-advert", 137: "nd-redirect", 143: "mld2-listener-report",
}

var icmp4Names = map[uint8]string{
	0: "echo-reply", 3: "destination-unreachable", 8: "echo-request",
	11: "time-exceeded", 12: "parameter-problem",
}

func (m icmpMatch) text() string {
	k, names := "icmp type ", icmp4Names
	if m.V6 {
		k, names = "icmpv6 type ", icmp6Names
	}
	var parts []string
	for _, t := range m.Types {
		if n, ok := names[t]; ok {
			parts = append(parts, n)
		} else {
			parts = append(parts, strconv.Itoa(int(t)))
		}
	}
	return k + braces(parts)
}

func braces(parts []string) string {
	if len(parts) == 1 {
		return parts[0]
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

func (m hopLimitMatch) text() string { return "ip6 hoplimit " + strconv.Itoa(int(m.Value)) }

func (m udpMatch) text() string {
	var parts []string
	if m.Sport != 0 {
		parts = append(parts, "udp sport "+strconv.Itoa(int(m.Sport)))
	}
	if m.Dport != 0 {
		parts = append(parts, "udp dport "+strconv.Itoa(int(m.Dport)))
	}
	return strings.Join(parts, " ")
}

func (tcpSynMatch) text() string { return "tcp flags syn" }

func (m l4protoMatch) text() string {
	var parts []string
	for _, p := range m.Protos {
		parts = append(parts, protoName(p))
	}
	return "meta l4proto " + braces(parts)
}

func (m pinholeMatch) text() string { return "ip6 daddr . meta l4proto . th dport @" + m.Set }

func (s limitStmt) text() string {
	return fmt.Sprintf("limit rate %d/second burst %d packets", s.PerSecond, s.Burst)
}

func (s counterStmt) text() string {
	if s.Name != "" {
		return "counter name " + strconv.Quote(s.Name)
	}
	return "counter"
}

func (s logStmt) text() string { return "log prefix " + strconv.Quote(s.Prefix) }
func (mssStmt) text() string   { return "tcp option maxseg size set rt mtu" }
func (masqStmt) text() string  { return "masquerade" }
func (s flowStmt) text() string {
	return "flow add @" + s.Flowtable
}

var protoNames = map[uint8]string{1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp", 136: "udplite"}

func protoName(p uint8) string {
	if n, ok := protoNames[p]; ok {
		return n
	}
	return strconv.Itoa(int(p))
}

func (v Verdict) text() string {
	switch v.Kind {
	case Accept:
		return "accept"
	case Drop:
		return "drop"
	case Goto:
		return "goto " + v.Chain
	}
	return ""
}

func (r Rule) String() string { return r.render(nil) }

// withCounter renders the rule with its anonymous counter's values.
func (r Rule) withCounter(c Counter) string { return r.render(&c) }

func (r Rule) render(c *Counter) string {
	var parts []string
	for _, s := range r.Match {
		parts = append(parts, s.text())
	}
	for _, s := range r.Action {
		if cs, ok := s.(counterStmt); ok && cs.Name == "" && c != nil {
			parts = append(parts, "counter "+c.text())
			continue
		}
		parts = append(parts, s.text())
	}
	if v := r.Verdict.text(); v != "" {
		parts = append(parts, v)
	}
	if r.Comment != "" {
		parts = append(parts, "comment "+strconv.Quote(r.Comment))
	}
	return strings.Join(parts, " ")
}

func priorityName(hook Hook, typ string, p int) string {
	switch {
	case typ == "filter" && p == 0:
		return "filter"
	case typ == "nat" && hook == HookPostrouting && p == 100:
		return "srcnat"
	}
	return strconv.Itoa(p)
}

// String renders the ruleset in nft syntax, in the layout `nft list` uses.
// `nft -f` accepts it.
func (rs Ruleset) String() string { return rs.render(true, nil) }

// Listing renders the ruleset as `nft list ruleset` shows it with the
// kernel's counters filled in.
func (rs Ruleset) Listing(st Stats) string { return rs.render(true, &st) }

// skeleton is the ruleset without set elements: two rulesets with equal
// skeletons differ only in set contents, which the Applier changes in place.
func (rs Ruleset) skeleton() string { return rs.render(false, nil) }

// sameSkeleton reports whether a and b have equal skeletons, field by
// field rather than by rendering both: the Applier asks on every Apply,
// and rendering costs more than the rest of a small change.
func sameSkeleton(a, b Ruleset) bool {
	return slices.EqualFunc(a.Tables, b.Tables, func(x, y Table) bool {
		return x.Family == y.Family && x.Name == y.Name &&
			slices.Equal(x.Counters, y.Counters) &&
			slices.EqualFunc(x.Sets, y.Sets, func(s, t Set) bool { return s.Name == t.Name && s.Type == t.Type }) &&
			slices.EqualFunc(x.Flowtables, y.Flowtables, func(f, g Flowtable) bool {
				return f.Name == g.Name && slices.Equal(f.Devices, g.Devices)
			}) &&
			slices.EqualFunc(x.Chains, y.Chains, sameChain)
	})
}

func sameChain(x, y Chain) bool {
	return x.Name == y.Name && x.Type == y.Type && x.Hook == y.Hook && x.Priority == y.Priority && x.Drop == y.Drop &&
		slices.EqualFunc(x.Rules, y.Rules, func(r, s Rule) bool {
			return r.Verdict == s.Verdict && r.Comment == s.Comment &&
				slices.EqualFunc(r.Match, s.Match, sameStmt) && slices.EqualFunc(r.Action, s.Action, sameStmt)
		})
}

// sameStmt compares two statements. Most kinds are comparable structs; the
// ones holding a list (icmpMatch, l4protoMatch) cannot be compared with ==
// and take reflect.DeepEqual. No kind holds an interface, which could make
// == panic on a comparable type.
func sameStmt(x, y Stmt) bool {
	tx := reflect.TypeOf(x)
	if tx != reflect.TypeOf(y) {
		return false
	}
	if tx != nil && tx.Comparable() {
		return x == y
	}
	return reflect.DeepEqual(x, y)
}

// Counter is a packet and byte count.
type Counter struct{ Packets, Bytes uint64 }

func (c Counter) text() string { return fmt.Sprintf("packets %d bytes %d", c.Packets, c.Bytes) }

// Stats are the counters the kernel holds for a Ruleset.
type Stats struct {
	// Named are the named counters by table ("inet cpe") and name: the
	// drop reasons.
	Named map[string]map[string]Counter
	// Rules are the anonymous counters by table and chain ("inet cpe
	// forward"), one entry per rule in order; a rule without a counter
	// has a zero Counter.
	Rules map[string][]Counter
}

// RuleCounter is the count of one rule, for show commands.
func (st Stats) RuleCounter(t *Table, chain string, i int) (Counter, bool) {
	cs := st.Rules[tableKey(t)+" "+chain]
	if i < 0 || i >= len(cs) {
		return Counter{}, false
	}
	return cs[i], true
}

func (rs Ruleset) render(elements bool, st *Stats) string {
	var b strings.Builder
	for i, t := range rs.Tables {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "table %s %s {\n", t.Family, t.Name)
		for _, c := range t.Counters {
			if st != nil {
				fmt.Fprintf(&b, "\tcounter %s {\n\t\t%s\n\t}\n\n", c, st.Named[tableKey(&t)][c].text())
			} else {
				fmt.Fprintf(&b, "\tcounter %s {\n\t}\n\n", c)
			}
		}
		for _, s := range t.Sets {
			fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n", s.Name, s.Type.nft())
			if s.Type.interval() {
				b.WriteString("\t\tflags interval\n")
			}
			if elements && len(s.Elements) > 0 {
				var parts []string
				for _, e := range s.Elements {
					parts = append(parts, e.String())
				}
				fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(parts, ",\n\t\t\t     "))
			}
			b.WriteString("\t}\n\n")
		}
		for _, f := range t.Flowtables {
			var devs []string
			for _, d := range f.Devices {
				devs = append(devs, strconv.Quote(d))
			}
			fmt.Fprintf(&b, "\tflowtable %s {\n\t\thook ingress priority filter\n\t\tdevices = { %s }\n\t}\n\n", f.Name, strings.Join(devs, ", "))
		}
		for j, c := range t.Chains {
			if j > 0 {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "\tchain %s {\n", c.Name)
			if c.Hook != HookNone {
				policy := "accept"
				if c.Drop {
					policy = "drop"
				}
				fmt.Fprintf(&b, "\t\ttype %s hook %s priority %s; policy %s;\n", c.Type, c.Hook, priorityName(c.Hook, c.Type, c.Priority), policy)
			}
			for k, r := range c.Rules {
				line := r.String()
				if st != nil {
					if n, ok := st.RuleCounter(&t, c.Name, k); ok {
						line = r.withCounter(n)
					}
				}
				fmt.Fprintf(&b, "\t\t%s\n", line)
			}
			b.WriteString("\t}\n")
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// Table returns the table with the given family and name.
func (rs Ruleset) Table(f Family, name string) (*Table, bool) {
	for i := range rs.Tables {
		if rs.Tables[i].Family == f && rs.Tables[i].Name == name {
			return &rs.Tables[i], true
		}
	}
	return nil, false
}

// Set returns the named set of the table.
func (t *Table) Set(name string) (*Set, bool) {
	for i := range t.Sets {
		if t.Sets[i].Name == name {
			return &t.Sets[i], true
		}
	}
	return nil, false
}

// Chain returns the named chain of the table.
func (t *Table) Chain(name string) (*Chain, bool) {
	for i := range t.Chains {
		if t.Chains[i].Name == name {
			return &t.Chains[i], true
		}
	}
	return nil, false
}

// prefixElements turns prefixes into interval elements the kernel accepts:
// masked, sorted, without duplicates or prefixes inside another one, since
// an interval set refuses overlapping elements.
func prefixElements(ps []netip.Prefix) []Element {
	var norm []netip.Prefix
	for _, p := range ps {
		if p.IsValid() {
			norm = append(norm, p.Masked())
		}
	}
	sort.Slice(norm, func(i, j int) bool {
		if c := norm[i].Addr().Compare(norm[j].Addr()); c != 0 {
			return c < 0
		}
		return norm[i].Bits() < norm[j].Bits()
	})
	var out []Element
	for _, p := range norm {
		if n := len(out); n > 0 && out[n-1].Prefix.Overlaps(p) {
			continue // sorted: the earlier one is the shorter, containing prefix
		}
		out = append(out, Element{Prefix: p})
	}
	return out
}

// tableKey names a table as nft does: "inet cpe".
func tableKey(t *Table) string { return string(t.Family) + " " + t.Name }

// compareElements orders set elements: Build emits every set sorted, so
// that two versions of a set are diffed in one merge pass.
func compareElements(a, b Element) int {
	if c := strings.Compare(a.Ifname, b.Ifname); c != 0 {
		return c
	}
	if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
		return c
	}
	if c := a.Prefix.Bits() - b.Prefix.Bits(); c != 0 {
		return c
	}
	for _, c := range []int{int(a.ProtoLo) - int(b.ProtoLo), int(a.ProtoHi) - int(b.ProtoHi), int(a.PortLo) - int(b.PortLo), int(a.PortHi) - int(b.PortHi)} {
		if c != 0 {
			return c
		}
	}
	return 0
}

// elementDiff lists the elements of cur not in old, and of old not in cur.
func elementDiff(old, cur []Element) (added, removed []Element) {
	added, removed, _ = diffElements(old, false, cur)
	return added, removed
}

// diffElements is elementDiff for the Applier, which diffs sets of tens of
// thousands of elements of which a change touches a few. Build emits every
// set strictly ascending; oldAscending says old is known to be (the
// Applier remembers it from the last Apply), which spares checking it
// again. It also reports whether cur is strictly ascending, for the next
// call. Inputs in any other order take a map.
func diffElements(old []Element, oldAscending bool, cur []Element) (added, removed []Element, curAscending bool) {
	if oldAscending || ascending(old) {
		if added, removed, ok := mergeDiff(old, cur); ok {
			return added, removed, true
		}
	}
	o := make(map[Element]bool, len(old))
	for _, x := range old {
		o[x] = true
	}
	c := make(map[Element]bool, len(cur))
	for _, x := range cur {
		if !o[x] && !c[x] {
			added = append(added, x)
		}
		c[x] = true
	}
	for _, x := range old {
		if !c[x] {
			removed = append(removed, x)
			c[x] = true // once, however often old lists it
		}
	}
	return added, removed, ascending(cur)
}

// ascending reports whether es is strictly ascending: sorted, and so
// without duplicates.
func ascending(es []Element) bool {
	for i := 1; i < len(es); i++ {
		if compareElements(es[i-1], es[i]) >= 0 {
			return false
		}
	}
	return true
}

// mergeDiff diffs old, strictly ascending, with cur in one merge pass; ok
// is false when cur turns out not to be strictly ascending. An element of
// cur equal to the next of old costs one ==, and needs no ordering check:
// it is above its predecessor in cur whether that one was in old (as old
// is ascending) or added (as it was added for being below old[i]). Only an
// added element is compared with its predecessor.
func mergeDiff(old, cur []Element) (added, removed []Element, ok bool) {
	i := 0
	for j := range cur {
		for i < len(old) && old[i] != cur[j] && compareElements(old[i], cur[j]) < 0 {
			removed = append(removed, old[i])
			i++
		}
		if i < len(old) && old[i] == cur[j] {
			i++
			continue
		}
		if j > 0 && compareElements(cur[j-1], cur[j]) >= 0 {
			return nil, nil, false
		}
		added = append(added, cur[j])
	}
	return added, append(removed, old[i:]...), true
}
