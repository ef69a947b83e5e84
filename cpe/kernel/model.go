package kernel

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// RouteProtocol marks the routes and policy rules the Applier installed; see
// the package documentation for why 0xce.
const RouteProtocol = 0xce

// DefaultRulePriority is the priority of a Rule that leaves it zero, and of
// the rules derived from IPv4 source-specific routes: ahead of the main
// table's rule (32766) with room on both sides.
const DefaultRulePriority = 10000

// defaultIPv6Metric is what the kernel gives an IPv6 route added with metric
// 0 (IP6_RT_PRIO_USER); normalising to it keeps the diff from seeing a change.
const defaultIPv6Metric = 1024

const (
	tableMain  = 254
	tableLocal = 255
)

// Desired is the network state the box wants the kernel in. The zero value
// wants nothing: applying it removes every route, rule and address the
// Applier owns.
type Desired struct {
	// Virtual are the bridges and VLAN sub-interfaces the box creates; they
	// are made before anything else is applied, so Links, addresses and
	// routes may name them.
	Virtual   []VirtualLink
	Links     []Link
	Sysctls   map[string]string // "net.ipv6.conf.wan0.accept_ra": "0"; see sysctlPath for names
	Addresses []Address
	Routes    []Route
	Rules     []Rule
}

// VirtualKind is what kind of link the box creates.
type VirtualKind uint8

const (
	Bridge VirtualKind = iota + 1
	VLAN
)

func (k VirtualKind) String() string {
	switch k {
	case Bridge:
		return "bridge"
	case VLAN:
		return "vlan"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// VirtualLink is a link the box creates and owns: a bridge over ports, or
// a VLAN sub-interface of a parent link. The box marks what it creates (the
// interface alias OwnerAlias) and deletes such links once no longer
// desired; ports of its bridges that are no longer listed are released.
type VirtualLink struct {
	Name   string
	Kind   VirtualKind
	Ports  []string // Bridge: the links enslaved to it
	Parent string   // VLAN: the link it tags on
	ID     int      // VLAN: 1..4094
}

func (v VirtualLink) check() error {
	if err := checkLinkName(v.Name); err != nil {
		return fmt.Errorf("kernel: %s %q: %w", v.Kind, v.Name, err)
	}
	switch v.Kind {
	case Bridge:
		for _, p := range v.Ports {
			if err := checkLinkName(p); err != nil || p == v.Name {
				return fmt.Errorf("kernel: bridge %s: bad port %q", v.Name, p)
			}
		}
	case VLAN:
		if err := checkLinkName(v.Parent); err != nil || v.Parent == v.Name {
			return fmt.Errorf("kernel: vlan %s: bad parent %q", v.Name, v.Parent)
		}
		if v.ID < 1 || v.ID > 4094 {
			return fmt.Errorf("kernel: vlan %s: id %d outside 1..4094", v.Name, v.ID)
		}
	default:
		return fmt.Errorf("kernel: link %s: unknown kind %d", v.Name, v.Kind)
	}
	return nil
}

// OwnerAlias marks the links the box created (IFLA_IFALIAS).
const OwnerAlias = "cpe"

// Link is the state of a link that exists already (links are made elsewhere:
// by the board, by lan bridges).
type Link struct {
	Name string
	Up   bool
	MTU  int // 0: leave it as it is
}

// Address is an address on a link. Lifetimes are absolute so that applying
// the same Desired later is still no change: the kernel counts them down by
// itself, and the plan derives them from lease times that are absolute too.
type Address struct {
	Link           string
	Prefix         netip.Prefix // the address with its prefix length: 2001:db8:1::1/64
	PreferredUntil time.Time    // zero: forever; in the past: deprecated
	ValidUntil     time.Time    // zero: forever; in the past: removed
	NoPrefixRoute  bool         // no connected route for the prefix (IFA_F_NOPREFIXROUTE)
}

// RouteType is what a route does with a packet.
type RouteType uint8

const (
	Unicast RouteType = iota
	Unreachable
	Blackhole
	// routeOther is a kernel type the model has no name for; such a route of
	// ours never equals a desired one, so it is replaced or removed.
	routeOther
)

func (t RouteType) String() string {
	switch t {
	case Unicast:
		return "unicast"
	case Unreachable:
		return "unreachable"
	case Blackhole:
		return "blackhole"
	}
	return "other"
}

// Route is a route in one table. A route is identified by its family, table,
// Dst, Src and Metric, as the kernel identifies it: two routes differing only
// in Via or Link are the same route changed, and it is replaced in place.
type Route struct {
	Dst netip.Prefix
	// Src makes the route source-specific. IPv6 routes carry it (RTA_SRC);
	// an IPv4 route with Src lives in its Table, which must not be main, and
	// a policy rule "from Src lookup Table" at DefaultRulePriority is derived
	// for it unless Rules already sends Src to that table.
	Src    netip.Prefix
	Via    netip.Addr // zero: on-link, or none for unreachable and blackhole
	Link   string     // required for unicast, ignored otherwise
	Type   RouteType
	Metric uint32 // an IPv6 metric 0 is the kernel's 1024
	Table  uint32 // 0: main
	MTU    int    // 0: none
}

// Family is an address family.
type Family uint8

const (
	IPv4 Family = 4
	IPv6 Family = 6
)

func (f Family) String() string {
	switch f {
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	}
	return fmt.Sprintf("family(%d)", uint8(f))
}

func familyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// Rule sends packets from Src to a routing table. A rule is its whole
// content: a changed rule is a new rule added and the old one deleted.
type Rule struct {
	Family   Family       // may be left zero when Src is set
	Src      netip.Prefix // zero: from all
	Table    uint32       // 0: main
	Priority uint32       // 0: DefaultRulePriority
}

// Validate reports every entry of d that the Applier would leave out, one
// error per entry. Apply returns the same errors and applies the rest.
func (d Desired) Validate() error {
	_, err := d.normalize()
	return err
}

// normalize returns d in the form the kernel reports it in (defaults filled
// in, IPv4 source routes split into a route and a rule), sorted, with the
// entries it cannot apply left out and reported.
func (d Desired) normalize() (Desired, error) {
	var errs []error
	n := Desired{Sysctls: map[string]string{}}

	seenLink := map[string]bool{}
	for _, l := range d.Links {
		if err := checkLinkName(l.Name); err != nil {
			errs = append(errs, fmt.Errorf("kernel: link %q: %w", l.Name, err))
			continue
		}
		if l.MTU < 0 {
			errs = append(errs, fmt.Errorf("kernel: link %s: negative mtu %d", l.Name, l.MTU))
			continue
		}
		if seenLink[l.Name] {
			errs = append(errs, fmt.Errorf("kernel: link %s: listed twice", l.Name))
			continue
		}
		seenLink[l.Name] = true
		n.Links = append(n.Links, l)
	}
	slices.SortFunc(n.Links, func(a, b Link) int { return strings.Compare(a.Name, b.Name) })

	seenVirtual, portOf := map[string]bool{}, map[string]string{}
	for _, v := range d.Virtual {
		if err := v.check(); err != nil {
			errs = append(errs, err)
			continue
		}
		if seenVirtual[v.Name] {
			errs = append(errs, fmt.Errorf("kernel: %s %s: listed twice", v.Kind, v.Name))
			continue
		}
		var clash error
		for _, p := range v.Ports {
			if b, ok := portOf[p]; ok {
				clash = fmt.Errorf("kernel: bridge %s: port %s is already a port of %s", v.Name, p, b)
			}
		}
		if clash != nil {
			errs = append(errs, clash)
			continue
		}
		for _, p := range v.Ports {
			portOf[p] = v.Name
		}
		seenVirtual[v.Name] = true
		v.Ports = slices.Clone(v.Ports)
		n.Virtual = append(n.Virtual, v)
	}

	names := make([]string, 0, len(d.Sysctls))
	for name := range d.Sysctls {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		path, err := sysctlPath(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		v := strings.TrimSpace(d.Sysctls[name])
		if strings.ContainsAny(v, "\n\x00") {
			errs = append(errs, fmt.Errorf("kernel: sysctl %s: value %q spans lines", name, v))
			continue
		}
		canon := sysctlName(path)
		if old, ok := n.Sysctls[canon]; ok && sameSysctlValue(old, v) {
			continue
		} else if ok {
			errs = append(errs, fmt.Errorf("kernel: sysctl %s: set to both %q and %q", canon, old, v))
			continue
		}
		n.Sysctls[canon] = v
	}

	seenAddr := map[addrKey]bool{}
	for _, a := range d.Addresses {
		a, err := normalizeAddress(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		k := keyOfAddress(a)
		if seenAddr[k] {
			errs = append(errs, fmt.Errorf("kernel: address %s dev %s: listed twice", a.Prefix.Addr(), a.Link))
			continue
		}
		seenAddr[k] = true
		n.Addresses = append(n.Addresses, a)
	}
	slices.SortFunc(n.Addresses, compareAddresses)

	var derived []Rule
	seenRoute := map[routeKey]bool{}
	for _, r := range d.Routes {
		r, rule, err := normalizeRoute(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		k := keyOfRoute(r)
		if seenRoute[k] {
			errs = append(errs, fmt.Errorf("kernel: route %s: listed twice (an IPv4 source-specific route needs a table of its own)", routeIdentity(r)))
			continue
		}
		seenRoute[k] = true
		n.Routes = append(n.Routes, r)
		if rule != nil {
			derived = append(derived, *rule)
		}
	}
	slices.SortFunc(n.Routes, compareRoutes)

	seenRule := map[Rule]bool{}
	type srcTable struct {
		src   netip.Prefix
		table uint32
	}
	sendsSrc := map[srcTable]bool{} // what the explicit rules cover
	for _, r := range d.Rules {
		r, err := normalizeRule(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sendsSrc[srcTable{r.Src, r.Table}] = true
		if !seenRule[r] {
			seenRule[r] = true
			n.Rules = append(n.Rules, r)
		}
	}
	for _, r := range derived {
		if !sendsSrc[srcTable{r.Src, r.Table}] && !seenRule[r] {
			seenRule[r] = true
			n.Rules = append(n.Rules, r)
		}
	}
	slices.SortFunc(n.Rules, compareRules)

	return n, errors.Join(errs...)
}

// checkLinkName rejects what the kernel would (IFNAMSIZ, '/', blanks), so a
// bad name fails here with its context rather than deep in a netlink call.
func checkLinkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty link name")
	case len(name) > 15:
		return errors.New("link name longer than 15 bytes")
	case name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n\x00"):
		return errors.New("invalid link name")
	}
	return nil
}

func normalizeAddress(a Address) (Address, error) {
	if !a.Prefix.IsValid() {
		return a, fmt.Errorf("kernel: address %v dev %s: invalid prefix", a.Prefix, a.Link)
	}
	ip := a.Prefix.Addr().Unmap()
	bits := a.Prefix.Bits()
	if a.Prefix.Addr().Is4In6() {
		bits -= 96
	}
	a.Prefix = netip.PrefixFrom(ip, bits)
	if err := checkLinkName(a.Link); err != nil {
		return a, fmt.Errorf("kernel: address %s dev %q: %w", a.Prefix, a.Link, err)
	}
	if !a.Prefix.IsValid() || ip.IsUnspecified() || ip.IsMulticast() {
		return a, fmt.Errorf("kernel: address %s dev %s: not a unicast address", a.Prefix, a.Link)
	}
	// The kernel refuses a preferred lifetime longer than the valid one;
	// RFC 4862 5.5.3 (c) says to ignore such a prefix, but a planner asking for
	// it means "as long as it is valid".
	if !a.ValidUntil.IsZero() && (a.PreferredUntil.IsZero() || a.PreferredUntil.After(a.ValidUntil)) {
		a.PreferredUntil = a.ValidUntil
	}
	return a, nil
}

func normalizeRoute(r Route) (Route, *Rule, error) {
	if !r.Dst.IsValid() {
		return r, nil, fmt.Errorf("kernel: route %v: invalid destination", r.Dst)
	}
	if r.Dst != r.Dst.Masked() {
		return r, nil, fmt.Errorf("kernel: route %s: destination has host bits set", r.Dst)
	}
	fam := familyOf(r.Dst.Addr())
	if r.Src.IsValid() && r.Src.Bits() == 0 {
		r.Src = netip.Prefix{}
	}
	if r.Src.IsValid() {
		if familyOf(r.Src.Addr()) != fam || r.Src.Addr().Is4In6() {
			return r, nil, fmt.Errorf("kernel: route %s from %s: source of another family", r.Dst, r.Src)
		}
		if r.Src != r.Src.Masked() {
			return r, nil, fmt.Errorf("kernel: route %s from %s: source has host bits set", r.Dst, r.Src)
		}
	}
	if r.Table == tableMain {
		r.Table = 0
	}
	if r.Table == tableLocal {
		return r, nil, fmt.Errorf("kernel: route %s: the local table is the kernel's", r.Dst)
	}
	if fam == IPv6 && r.Metric == 0 {
		r.Metric = defaultIPv6Metric
	}
	if r.MTU < 0 {
		return r, nil, fmt.Errorf("kernel: route %s: negative mtu %d", r.Dst, r.MTU)
	}
	switch r.Type {
	case Unicast:
		if err := checkLinkName(r.Link); err != nil {
			return r, nil, fmt.Errorf("kernel: route %s: dev %q: %w", r.Dst, r.Link, err)
		}
		if r.Via.IsValid() {
			r.Via = r.Via.Unmap().WithZone("")
			// An IPv4 route may go via an IPv6 neighbour (RFC 5549), as
			// Babel's v4-via-v6 routes do (RFC 9229); not the reverse.
			v4viaV6 := fam == IPv4 && r.Via.Is6()
			if (familyOf(r.Via) != fam && !v4viaV6) || r.Via.IsUnspecified() || r.Via.IsMulticast() {
				return r, nil, fmt.Errorf("kernel: route %s: bad gateway %s", r.Dst, r.Via)
			}
		}
	case Unreachable, Blackhole:
		if r.Via.IsValid() {
			return r, nil, fmt.Errorf("kernel: route %s: a %s route has no gateway", r.Dst, r.Type)
		}
		// The kernel shows IPv6 reject routes on lo whatever was asked.
		r.Link = ""
	default:
		return r, nil, fmt.Errorf("kernel: route %s: unknown type %d", r.Dst, r.Type)
	}
	var rule *Rule
	if fam == IPv4 && r.Src.IsValid() {
		// IPv4 has no source-specific routes: the table does the job, entered
		// by a rule for the source.
		if r.Table == 0 {
			return r, nil, fmt.Errorf("kernel: route %s from %s: an IPv4 source-specific route needs a table other than main", r.Dst, r.Src)
		}
		rule = &Rule{Family: IPv4, Src: r.Src, Table: r.Table, Priority: DefaultRulePriority}
		r.Src = netip.Prefix{}
	}
	return r, rule, nil
}

func normalizeRule(r Rule) (Rule, error) {
	if r.Src.IsValid() {
		if r.Src.Addr().Is4In6() {
			return r, fmt.Errorf("kernel: rule from %s: IPv4-mapped source", r.Src)
		}
		if r.Src != r.Src.Masked() {
			return r, fmt.Errorf("kernel: rule from %s: source has host bits set", r.Src)
		}
		f := familyOf(r.Src.Addr())
		if r.Family != 0 && r.Family != f {
			return r, fmt.Errorf("kernel: rule from %s: family %s", r.Src, r.Family)
		}
		r.Family = f
		if r.Src.Bits() == 0 {
			r.Src = netip.Prefix{}
		}
	}
	if r.Family != IPv4 && r.Family != IPv6 {
		return r, fmt.Errorf("kernel: rule to table %d: no family", r.Table)
	}
	if r.Table == tableMain {
		r.Table = 0
	}
	if r.Table == tableLocal {
		return r, fmt.Errorf("kernel: rule %s: the local table is the kernel's", r.text())
	}
	if r.Priority == 0 {
		r.Priority = DefaultRulePriority
	}
	return r, nil
}

// addrKey identifies an address as the kernel does: an IPv6 address by the
// address alone (its prefix length is changeable only by a new address), an
// IPv4 one by address and prefix length (two lengths can coexist).
type addrKey struct {
	link string
	addr netip.Prefix
}

func keyOfAddress(a Address) addrKey {
	if a.Prefix.Addr().Is6() {
		return addrKey{a.Link, netip.PrefixFrom(a.Prefix.Addr(), 128)}
	}
	return addrKey{a.Link, a.Prefix}
}

// routeKey identifies a route as the kernel's FIB does.
type routeKey struct {
	table  uint32
	dst    netip.Prefix
	src    netip.Prefix
	metric uint32
}

func keyOfRoute(r Route) routeKey { return routeKey{r.Table, r.Dst, r.Src, r.Metric} }

func comparePrefixes(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

func compareAddresses(a, b Address) int {
	if c := strings.Compare(a.Link, b.Link); c != 0 {
		return c
	}
	return comparePrefixes(a.Prefix, b.Prefix)
}

func compareRoutes(a, b Route) int {
	// Families first (netip orders IPv4 before IPv6), then tables.
	if c := cmp.Compare(familyOf(a.Dst.Addr()), familyOf(b.Dst.Addr())); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Table, b.Table); c != 0 {
		return c
	}
	if c := comparePrefixes(a.Dst, b.Dst); c != 0 {
		return c
	}
	if c := comparePrefixes(a.Src, b.Src); c != 0 {
		return c
	}
	return cmp.Compare(a.Metric, b.Metric)
}

func compareRules(a, b Rule) int {
	if c := cmp.Compare(a.Family, b.Family); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
		return c
	}
	if c := comparePrefixes(a.Src, b.Src); c != 0 {
		return c
	}
	return cmp.Compare(a.Table, b.Table)
}

// clone copies d, so that a caller changing its Desired in place changes
// nothing in the copy.
func (d Desired) clone() Desired {
	c := Desired{
		Links: slices.Clone(d.Links), Sysctls: maps.Clone(d.Sysctls), Addresses: slices.Clone(d.Addresses),
		Routes: slices.Clone(d.Routes), Rules: slices.Clone(d.Rules),
	}
	for _, v := range d.Virtual {
		v.Ports = slices.Clone(v.Ports)
		c.Virtual = append(c.Virtual, v)
	}
	return c
}

// equal reports whether d and o ask the same of the kernel, entry for entry
// in the same order (as normalize leaves them).
func (d Desired) equal(o Desired) bool {
	return slices.EqualFunc(d.Virtual, o.Virtual, func(a, b VirtualLink) bool {
		return a.Name == b.Name && a.Kind == b.Kind && a.Parent == b.Parent && a.ID == b.ID && slices.Equal(a.Ports, b.Ports)
	}) &&
		slices.Equal(d.Links, o.Links) &&
		maps.Equal(d.Sysctls, o.Sysctls) &&
		slices.EqualFunc(d.Addresses, o.Addresses, func(a, b Address) bool {
			return a.Link == b.Link && a.Prefix == b.Prefix && a.NoPrefixRoute == b.NoPrefixRoute &&
				a.PreferredUntil.Equal(b.PreferredUntil) && a.ValidUntil.Equal(b.ValidUntil)
		}) &&
		slices.Equal(d.Routes, o.Routes) &&
		slices.Equal(d.Rules, o.Rules)
}
