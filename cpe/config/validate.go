package config

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
)

// validate checks a decoded, defaulted Config: every field's own rules
// (rules.go), then the rules across fields, kept next to the type they
// belong to as check methods. Nothing stops at the first problem.
//
// decodeErrs are the problems found while decoding. A field that failed to
// decode holds its zero value, so errors about it and about the objects
// above it would be noise and are left out; rules that compare a field with
// a sibling ask c.ok first.
func validate(n *node, cfg *Config, decodeErrs Errors) Errors {
	c := &checker{}
	for _, e := range decodeErrs {
		if e.Msg != "unknown field" && e.Msg != "duplicate key" {
			c.quiet = append(c.quiet, e.Path)
		}
	}
	c.walk(n, reflect.ValueOf(cfg).Elem(), "")
	return c.errs
}

type checker struct {
	errs  Errors
	quiet []string
}

func (c *checker) add(p, msg string) {
	for _, q := range c.quiet {
		if within(p, q) || within(q, p) {
			return
		}
	}
	c.errs = append(c.errs, Error{Path: p, Msg: msg})
}

// ok reports whether the fields at paths decoded, so their values are the
// ones written.
func (c *checker) ok(paths ...string) bool {
	for _, p := range paths {
		for _, q := range c.quiet {
			if p == q {
				return false
			}
		}
	}
	return true
}

func (c *checker) addf(p, format string, args ...any) { c.add(p, fmt.Sprintf(format, args...)) }

// checkable is implemented by the schema types that have rules across
// their fields; p is the type's own path.
type checkable interface{ check(c *checker, p string) }

func (c *checker) walk(n *node, v reflect.Value, p string) {
	for _, f := range n.fields {
		fv := v.Field(f.index)
		fp := joinPath(p, f.name)
		if f.optional {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
		}
		switch f.node.kind {
		case kLeaf:
			if msg := f.check(fv); msg != "" {
				c.add(fp, msg)
			}
		case kValues:
			seen := map[any]int{}
			for i := range fv.Len() {
				ev := fv.Index(i)
				ep := indexPath(fp, i)
				if msg := f.checkElem(ev); msg != "" {
					c.add(ep, msg)
					continue
				}
				key := leafToTree(f.node.elem, ev)
				if j, dup := seen[key]; dup {
					c.addf(ep, "duplicate of %s", indexPath(f.name, j))
				} else {
					seen[key] = i
				}
			}
		case kObject:
			c.walk(f.node, fv, fp)
		case kList:
			for i := range fv.Len() {
				c.walk(f.node.elem, fv.Index(i), indexPath(fp, i))
			}
		}
	}
	if ch, ok := v.Addr().Interface().(checkable); ok {
		ch.check(c, p)
	}
}

// owners remembers who first used a name, for uniqueness rules.
type owners map[string]string

// claim records that path p uses name; it returns the earlier user, if any.
func (o owners) claim(name, p string) (string, bool) {
	if name == "" {
		return "", false
	}
	if q, ok := o[name]; ok {
		return q, true
	}
	o[name] = p
	return "", false
}

func (cfg *Config) check(c *checker, _ string) {
	// An interface belongs to exactly one role: an uplink, a LAN (or a
	// port of its bridge), or a Babel link.
	ifs := owners{}
	use := func(name, p string) {
		if q, dup := ifs.claim(name, p); dup {
			c.addf(p, "%q is already used by %s", name, q)
		}
	}
	// Names default to the interface: when two elements share an
	// interface, that is the one error to report.
	names := func(list string, name, iface func(i int) string, count int) {
		first := map[string]int{}
		for i := range count {
			j, dup := first[name(i)]
			switch {
			case name(i) == "":
			case !dup:
				first[name(i)] = i
			case iface(i) != iface(j):
				c.addf(indexPath(list, i)+".name", "%q is already used by %s.name", name(i), indexPath(list, j))
			}
		}
	}
	names("wan", func(i int) string { return cfg.WAN[i].Name }, func(i int) string { return cfg.WAN[i].Interface }, len(cfg.WAN))
	names("lan", func(i int) string { return cfg.LAN[i].Name }, func(i int) string { return cfg.LAN[i].Interface }, len(cfg.LAN))
	for i, w := range cfg.WAN {
		use(w.Interface, indexPath("wan", i)+".interface")
	}
	subnetIDs := owners{}
	var subnets []netip.Prefix
	var subnetPaths []string
	for i, l := range cfg.LAN {
		p := indexPath("lan", i)
		use(l.Interface, p+".interface")
		if l.Bridge != nil {
			for j, port := range l.Bridge.Ports {
				use(port, indexPath(p+".bridge.ports", j))
			}
		}
		if l.IPv6 != nil && l.IPv6.SubnetID != nil {
			id := fmt.Sprint(*l.IPv6.SubnetID)
			if q, dup := subnetIDs.claim(id, p+".ipv6.subnet_id"); dup {
				c.addf(p+".ipv6.subnet_id", "%s is already used by %s", id, q)
			}
		}
		if l.IPv4 != nil && l.IPv4.Address.IsValid() && l.IPv4.Address.Addr().Is4() {
			s := l.IPv4.Address.Masked()
			for j, t := range subnets {
				if s.Overlaps(t) {
					c.addf(p+".ipv4.address", "subnet %s overlaps %s of %s", s, t, subnetPaths[j])
					break
				}
			}
			subnets = append(subnets, s)
			subnetPaths = append(subnetPaths, p+".ipv4.address")
		}
	}
	for i, m := range cfg.Mesh.Interfaces {
		use(m.Interface, indexPath("mesh.interfaces", i)+".interface")
	}
	keys := owners{}
	for i, k := range cfg.Mesh.Keys {
		p := indexPath("mesh.keys", i) + ".id"
		if q, dup := keys.claim(k.ID, p); dup {
			c.addf(p, "%q is already used by %s", k.ID, q)
		}
	}
	pins := owners{}
	for i, ph := range cfg.Firewall.Pinholes {
		p := indexPath("firewall.pinholes", i) + ".name"
		if q, dup := pins.claim(ph.Name, p); dup {
			c.addf(p, "%q is already used by %s", ph.Name, q)
		}
	}
}

func (w *WAN) check(c *checker, p string) {
	if w.DHCP4 == nil && w.DHCP6 == nil && w.RA == nil && w.Static == nil {
		c.add(p, "needs at least one of dhcp4, dhcp6, ra, static")
	}
	// RFC 8200 section 5: every IPv6 link has an MTU of 1280 or more.
	ipv6 := w.DHCP6 != nil || w.RA != nil
	if w.Static != nil {
		for _, a := range w.Static.Addresses {
			ipv6 = ipv6 || a.Addr().Is6()
		}
	}
	if ipv6 && w.MTU != 0 && w.MTU < 1280 {
		c.add(p+".mtu", "must be at least 1280 when IPv6 runs on the uplink")
	}
	if w.DHCP6 != nil && w.DHCP6.PrefixHint != 0 && !w.DHCP6.IAPD && c.ok(p+".dhcp6.ia_pd") {
		c.add(p+".dhcp6.prefix_hint", "needs ia_pd")
	}
}

func (s *Static) check(c *checker, p string) {
	if len(s.Addresses) == 0 && len(s.Routes) == 0 {
		c.add(p, "needs at least one address or route")
	}
}

func (r *Route) check(c *checker, p string) {
	if r.Via.IsValid() && r.Prefix.IsValid() && r.Via.Is4() != r.Prefix.Addr().Is4() {
		c.addf(p+".via", "must be of the same family as prefix %s", r.Prefix)
	}
}

func (l *LAN) check(c *checker, p string) {
	if l.IPv6 == nil && l.IPv4 == nil {
		c.add(p, "needs ipv6, ipv4 or both")
	}
}

func (v *LANIPv6) check(c *checker, p string) {
	// Flags that send hosts to a DHCPv6 server nobody runs leave them
	// without addresses or DNS (RFC 4861 section 4.2, RFC 8415 section 18).
	if v.RA.Managed && !v.DHCP6.IANA && c.ok(p+".dhcp6.ia_na") {
		c.add(p+".ra.managed", "needs dhcp6.ia_na: hosts would ask a DHCPv6 server for addresses that it does not hand out")
	}
	if v.RA.Other && !v.DHCP6.Stateless && !v.DHCP6.IANA && c.ok(p+".dhcp6.stateless", p+".dhcp6.ia_na") {
		c.add(p+".ra.other", "needs dhcp6.stateless or dhcp6.ia_na: hosts would ask a DHCPv6 server that does not answer")
	}
}

func (v *LANIPv4) check(c *checker, p string) {
	a := v.Address
	if !a.IsValid() || !a.Addr().Is4() {
		return
	}
	if a.Bits() < 8 || a.Bits() > 30 {
		c.add(p+".address", "prefix length must be between 8 and 30")
		return
	}
	if v.DHCP4 == nil {
		return
	}
	d, dp := v.DHCP4, p+".dhcp4"
	subnet := a.Masked()
	network, broadcast := subnet.Addr(), lastAddr(subnet)
	// inside reports, at path q, why x cannot be handed out on this subnet.
	inside := func(x netip.Addr, q string) bool {
		switch {
		case !x.IsValid() || !x.Is4():
			return false // its own rules already said why
		case !subnet.Contains(x):
			c.addf(q, "%s is outside the subnet %s", x, subnet)
		case x == network:
			c.addf(q, "%s is the network address of %s", x, subnet)
		case x == broadcast:
			c.addf(q, "%s is the broadcast address of %s", x, subnet)
		default:
			return true
		}
		return false
	}
	okStart := inside(d.PoolStart, dp+".pool_start")
	okEnd := inside(d.PoolEnd, dp+".pool_end")
	if okStart && okEnd {
		switch {
		case d.PoolEnd.Less(d.PoolStart):
			c.addf(dp+".pool_end", "must not be below pool_start %s", d.PoolStart)
		case !a.Addr().Less(d.PoolStart) && !d.PoolEnd.Less(a.Addr()):
			c.addf(dp+".pool_start", "the pool %s-%s includes the router address %s", d.PoolStart, d.PoolEnd, a.Addr())
		}
	}
	macs, addrs := owners{}, owners{}
	for i, l := range d.StaticLeases {
		lp := indexPath(dp+".static_leases", i)
		if q, dup := macs.claim(l.MAC.String(), lp+".mac"); dup {
			c.addf(lp+".mac", "%s already has a lease at %s", l.MAC, strings.TrimSuffix(q, ".mac"))
		}
		if !inside(l.Address, lp+".address") {
			continue
		}
		if l.Address == a.Addr() {
			c.add(lp+".address", "is the router address")
			continue
		}
		if q, dup := addrs.claim(l.Address.String(), lp+".address"); dup {
			c.addf(lp+".address", "%s is already leased by %s", l.Address, strings.TrimSuffix(q, ".address"))
		}
	}
}

func (m *MeshIf) check(c *checker, p string) {
	if m.UpdateInterval < m.HelloInterval && c.ok(p+".hello_interval", p+".update_interval") {
		c.addf(p+".update_interval", "must not be shorter than hello_interval (%s)", m.HelloInterval)
	}
}

func (ph *Pinhole) check(c *checker, p string) {
	if len(ph.Ports) == 0 || !c.ok(p+".protocol") {
		return
	}
	switch ph.Protocol {
	case "tcp", "udp", "sctp", "udplite":
	default:
		c.addf(p+".ports", "needs protocol tcp, udp, sctp or udplite, not %s", ph.Protocol)
	}
}
