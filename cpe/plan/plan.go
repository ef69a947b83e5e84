// Package plan computes the system the box should be from its configuration
// and the facts the protocols learned. It is pure: the same inputs always
// give the same plan, and the appliers make the kernel match it.
package plan

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"cpe/cpe/config"
	"cpe/cpe/kernel"
	"cpe/cpe/state"
	"cpe/lan/prefix"
	"cpe/mesh/babel"
	"cpe/wan/dhcp4"
	"cpe/wan/dhcp6"
	"cpe/wan/ra"
)

// Fact keys the WAN engines publish under, one set per uplink name, all
// starting with KeyUplink (so an uplink's facts can be dropped together).
func KeyUplink(uplink string) string { return "wan/" + uplink + "/" }
func KeyDHCP4(uplink string) string  { return KeyUplink(uplink) + "dhcp4" }
func KeyDHCP6(uplink string) string  { return KeyUplink(uplink) + "dhcp6" }
func KeyRA(uplink string) string     { return KeyUplink(uplink) + "ra" }

// KeyCarrier is an uplink's carrier (bool); KeyLANPlan the LAN prefix plan
// (a prefix.Plan).
func KeyCarrier(uplink string) string { return KeyUplink(uplink) + "carrier" }

const KeyLANPlan = "lan/plan"

// KeyLANDelegated holds the prefixes the DHCPv6 servers delegated to routers
// on the LAN segments (a []Delegated).
const KeyLANDelegated = "lan/delegated"

// Delegated is one prefix delegated to a router on a LAN segment (RFC 9818):
// it is routed to the requester's link-local address until Valid.
type Delegated struct {
	Segment   string
	Interface string
	Client    string // the requester's DUID in hex, for show commands
	Prefix    netip.Prefix
	Via       netip.Addr // the requester's link-local address
	Valid     time.Time
}

// Route metrics: uplinks are preferred in configuration order, and within an
// uplink a configured static route wins over a learned one.
const (
	metricBase      = 1024
	metricPerUplink = 16
	metricLearned   = 1
)

func uplinkMetric(i int) uint32 { return metricBase + uint32(i)*metricPerUplink }

// Kernel returns the desired addresses, routes, sysctls and links, and the
// next time at which the plan changes with nothing else changed (a lifetime
// runs out; an address is deprecated); zero when no time in it counts.
func Kernel(cfg *config.Config, facts state.Snapshot, now time.Time) (kernel.Desired, time.Time) {
	at := Moment{Now: now}
	d := kernel.Desired{Sysctls: map[string]string{
		// A router: forwarding on for both families. With forwarding on the
		// kernel ignores RAs unless accept_ra=2; the box processes RAs in Go
		// (wan/ra), so the kernel's own handling is switched off per link.
		"net.ipv4.ip_forward":              "1",
		"net.ipv6.conf.all.forwarding":     "1",
		"net.ipv6.conf.default.forwarding": "1",
	}}
	for i, w := range cfg.WAN {
		planUplink(&d, i, w, facts, &at)
	}
	lanPlan, _ := state.Get[prefix.Plan](facts, KeyLANPlan)
	for _, l := range cfg.LAN {
		planSegment(&d, l, lanPlan, facts, &at)
	}
	planVirtual(&d, cfg)
	meshRoutes, _ := state.Get[[]babel.InstalledRoute](facts, KeyMeshRoutes)
	planMesh(&d, cfg, meshRoutes)
	delegated, _ := state.Get[[]Delegated](facts, KeyLANDelegated)
	planDelegated(&d, delegated, &at)
	dedupe(&d)
	for _, a := range d.Addresses {
		at.Note(a.PreferredUntil)
		at.Note(a.ValidUntil)
	}
	return d, at.Next
}

// planSegment puts the router on a LAN segment: the link up, the IPv4
// router address, and the router's address ::1 in each /64 the prefix
// engine assigned, living as long as the delegation it comes from. The
// kernel must neither take RAs nor autoconfigure there: the box is the
// segment's router.
func planSegment(d *kernel.Desired, l config.LAN, lanPlan prefix.Plan, facts state.Snapshot, at *Moment) {
	d.Links = append(d.Links, kernel.Link{Name: l.Interface, Up: true})
	d.Sysctls["net.ipv6.conf."+l.Interface+".accept_ra"] = "0"
	d.Sysctls["net.ipv6.conf."+l.Interface+".autoconf"] = "0"
	if l.IPv4 != nil {
		d.Addresses = append(d.Addresses, kernel.Address{Link: l.Interface, Prefix: l.IPv4.Address})
	}
	if l.IPv6 == nil {
		return
	}
	sp, ok := lanPlan.Segment(l.Name)
	if !ok {
		return
	}
	for _, a := range sp.Prefixes {
		addr := kernel.Address{Link: l.Interface, Prefix: netip.PrefixFrom(a.Prefix.Addr().Next(), a.Prefix.Bits())}
		if !a.ULA {
			pref, valid, ok := delegationTimes(facts, a.Uplink, a.From)
			if !ok || !at.Live(valid) {
				continue
			}
			addr.PreferredUntil, addr.ValidUntil = pref, valid
		}
		d.Addresses = append(d.Addresses, addr)
	}
}

// planVirtual creates the LAN bridges and every VLAN sub-interface the
// config names: an interface called parent.N (N in 1..4094), as a segment,
// an uplink or a bridge port, is VLAN N on parent.
func planVirtual(d *kernel.Desired, cfg *config.Config) {
	seen := map[string]bool{}
	vlan := func(name string) {
		if parent, id, ok := VLANOf(name); ok && !seen[name] {
			seen[name] = true
			d.Virtual = append(d.Virtual, kernel.VirtualLink{Name: name, Kind: kernel.VLAN, Parent: parent, ID: id})
		}
	}
	for _, w := range cfg.WAN {
		vlan(w.Interface)
	}
	for _, l := range cfg.LAN {
		if l.Bridge == nil {
			vlan(l.Interface)
			continue
		}
		d.Virtual = append(d.Virtual, kernel.VirtualLink{Name: l.Interface, Kind: kernel.Bridge, Ports: slices.Clone(l.Bridge.Ports)})
		for _, p := range l.Bridge.Ports {
			vlan(p)
		}
	}
}

// VLANOf reads the parent.N naming of VLAN sub-interfaces.
func VLANOf(name string) (parent string, id int, ok bool) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i == len(name)-1 || name[i+1] == '0' {
		return "", 0, false
	}
	id, err := strconv.Atoi(name[i+1:])
	if err != nil || id < 1 || id > 4094 {
		return "", 0, false
	}
	return name[:i], id, true
}

// planDelegated routes each prefix delegated on a LAN to its requester
// (RFC 9818 section 4: the route lives as long as the binding). The route is
// more specific than the unreachable route of the delegation it comes from.
func planDelegated(d *kernel.Desired, ds []Delegated, at *Moment) {
	for _, x := range ds {
		if !at.Live(x.Valid) || !x.Via.IsValid() || !x.Prefix.IsValid() {
			continue
		}
		d.Routes = append(d.Routes, kernel.Route{Dst: x.Prefix.Masked(), Via: x.Via, Link: x.Interface, Metric: metricBase})
	}
}

// delegationTimes finds the lifetimes of the delegated prefix from on
// uplink.
func delegationTimes(facts state.Snapshot, uplink string, from netip.Prefix) (preferred, valid time.Time, ok bool) {
	l, found := state.Get[dhcp6.Lease](facts, KeyDHCP6(uplink))
	if !found {
		return preferred, valid, false
	}
	for _, p := range l.Prefixes {
		if p.Prefix == from {
			return p.Preferred, p.Valid, true
		}
	}
	return preferred, valid, false
}

func planUplink(d *kernel.Desired, i int, w config.WAN, facts state.Snapshot, at *Moment) {
	ifname := w.Interface
	d.Links = append(d.Links, kernel.Link{Name: ifname, Up: true, MTU: w.MTU})
	d.Sysctls["net.ipv6.conf."+ifname+".accept_ra"] = "0"
	d.Sysctls["net.ipv6.conf."+ifname+".autoconf"] = "0"
	metric := uplinkMetric(i)

	if s := w.Static; s != nil {
		for _, a := range s.Addresses {
			d.Addresses = append(d.Addresses, kernel.Address{Link: ifname, Prefix: a})
		}
		for _, r := range s.Routes {
			m := r.Metric
			if m == 0 {
				m = metric
			}
			d.Routes = append(d.Routes, kernel.Route{Dst: r.Prefix, Via: r.Via, Link: ifname, Metric: m})
		}
	}

	if w.DHCP4 != nil {
		if l, ok := state.Get[dhcp4.Lease](facts, KeyDHCP4(w.Name)); ok && l.Bound() && at.Live(l.Expiry) {
			d.Addresses = append(d.Addresses, kernel.Address{
				Link: ifname, Prefix: l.Address, PreferredUntil: l.Expiry, ValidUntil: l.Expiry,
			})
			for _, r := range l.Routes() {
				d.Routes = append(d.Routes, kernel.Route{Dst: r.Dst, Via: r.Via, Link: ifname, Metric: metric + metricLearned})
			}
			// Option 26 sets the link MTU unless the config fixes one; an
			// IPv6 uplink never goes below the IPv6 minimum.
			if l.MTU >= 576 && (l.MTU >= 1280 || w.DHCP6 == nil && w.RA == nil) {
				setLinkMTU(d, ifname, w.MTU, l.MTU)
			}
		}
	}

	if w.RA != nil {
		if f, ok := state.Get[ra.Facts](facts, KeyRA(w.Name)); ok {
			planRA(d, ifname, w.MTU, metric, w.RA.AcceptDefaultRoute, f, at)
		}
	}

	if w.DHCP6 != nil {
		if l, ok := state.Get[dhcp6.Lease](facts, KeyDHCP6(w.Name)); ok {
			for _, a := range l.Addresses {
				if !at.Live(a.Valid) {
					continue
				}
				// An IA_NA address says nothing about the link's prefix
				// (RFC 8415 21.6): a /128 with no prefix route.
				d.Addresses = append(d.Addresses, kernel.Address{
					Link: ifname, Prefix: netip.PrefixFrom(a.Addr, 128),
					PreferredUntil: a.Preferred, ValidUntil: a.Valid, NoPrefixRoute: true,
				})
			}
			for _, p := range l.Prefixes {
				if !at.Live(p.Valid) {
					continue
				}
				// RFC 7084 WPD-5: an unreachable route for the delegated
				// prefix, so traffic to subnets not assigned to a LAN is
				// answered with an ICMP error instead of looping to the ISP.
				d.Routes = append(d.Routes, kernel.Route{Dst: p.Prefix.Masked(), Type: kernel.Unreachable, Metric: metric})
			}
		}
	}
}

// planRA installs what the uplink's routers advertise: SLAAC addresses
// (without a prefix route: the on-link prefixes are routes of their own, so
// an address and its prefix can have different lifetimes), on-link
// prefixes, default routes by router preference (RFC 4191) and route
// information options.
func planRA(d *kernel.Desired, ifname string, configuredMTU int, metric uint32, defaults bool, f ra.Facts, at *Moment) {
	for _, a := range f.Addresses {
		if !at.Live(a.Valid) {
			continue
		}
		d.Addresses = append(d.Addresses, kernel.Address{
			Link: ifname, Prefix: netip.PrefixFrom(a.Addr, a.Prefix.Bits()),
			PreferredUntil: a.Preferred, ValidUntil: a.Valid, NoPrefixRoute: true,
		})
	}
	for _, p := range f.Prefixes {
		if p.OnLink && at.Live(p.Valid) {
			d.Routes = append(d.Routes, kernel.Route{Dst: p.Prefix.Masked(), Link: ifname, Metric: metric})
		}
	}
	if defaults {
		for _, r := range f.Routers {
			if at.Live(r.Expires) {
				d.Routes = append(d.Routes, kernel.Route{
					Dst: netip.PrefixFrom(netip.IPv6Unspecified(), 0), Via: r.Addr, Link: ifname,
					Metric: metric + preferenceMetric(r.Preference),
				})
			}
		}
	}
	for _, r := range f.Routes {
		if at.Live(r.Expires) {
			d.Routes = append(d.Routes, kernel.Route{Dst: r.Prefix.Masked(), Via: r.Router, Link: ifname,
				Metric: metric + preferenceMetric(r.Preference)})
		}
	}
	if f.MTU >= 1280 {
		setLinkMTU(d, ifname, configuredMTU, f.MTU)
	}
}

// setLinkMTU sets a learned MTU on a link whose MTU the config leaves open
// (planUplink adds the link with the configured MTU first, and learned
// values only apply when that is 0); of two learned values the smaller wins.
func setLinkMTU(d *kernel.Desired, ifname string, configured, mtu int) {
	if configured != 0 {
		return
	}
	for i := range d.Links {
		if l := &d.Links[i]; l.Name == ifname && (l.MTU == 0 || mtu < l.MTU) {
			l.MTU = mtu
		}
	}
}

// preferenceMetric orders routers by their RFC 4191 preference; among
// routers of one preference the first seen is used.
func preferenceMetric(p ra.Preference) uint32 {
	switch p {
	case ra.PreferenceHigh:
		return 0
	case ra.PreferenceLow:
		return 2
	}
	return 1
}

// dedupe drops repeated addresses and routes (two sources can name the same
// one); the first wins.
func dedupe(d *kernel.Desired) {
	type akey struct {
		link string
		p    netip.Prefix
	}
	seenA := map[akey]bool{}
	d.Addresses = slices.DeleteFunc(d.Addresses, func(a kernel.Address) bool {
		k := akey{a.Link, a.Prefix}
		if seenA[k] {
			return true
		}
		seenA[k] = true
		return false
	})
	type rkey struct {
		dst, src      netip.Prefix
		metric, table uint32
	}
	seenR := map[rkey]bool{}
	d.Routes = slices.DeleteFunc(d.Routes, func(r kernel.Route) bool {
		k := rkey{r.Dst, r.Src, r.Metric, r.Table}
		if seenR[k] {
			return true
		}
		seenR[k] = true
		return false
	})
}
