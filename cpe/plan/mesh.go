package plan

import (
	"net/netip"
	"time"

	"cpe/cpe/config"
	"cpe/cpe/kernel"
	"cpe/cpe/state"
	"cpe/lan/prefix"
	"cpe/mesh/babel"
	"cpe/wan/dhcp6"
	"cpe/wan/ra"
)

// KeyMeshRoutes holds the routes Babel selected (a []babel.InstalledRoute,
// without their Babel metric: the kernel routes do not carry it).
const KeyMeshRoutes = "mesh/routes"

// Mesh routes go in with one kernel metric: Babel has chosen among them
// already, and none of them competes with an uplink's route (those are
// defaults; a mesh default is always source-specific). IPv4 routes from a
// source prefix live in their own table, reached by a policy rule the
// kernel applier derives; IPv4 routes via IPv6 neighbours go in as RFC
// 5549 routes.
const (
	metricMesh     = 512
	tableMeshIPv4  = 6696
	meshAnnounceIn = 0 // metric announced for our own prefixes
)

// planMesh brings the Babel interfaces up (link-local only: no RAs, no
// autoconfiguration) and installs the routes Babel selected.
func planMesh(d *kernel.Desired, cfg *config.Config, routes []babel.InstalledRoute) {
	for _, mi := range cfg.Mesh.Interfaces {
		d.Links = append(d.Links, kernel.Link{Name: mi.Interface, Up: true})
		d.Sysctls["net.ipv6.conf."+mi.Interface+".accept_ra"] = "0"
		d.Sysctls["net.ipv6.conf."+mi.Interface+".autoconf"] = "0"
	}
	for _, r := range routes {
		kr := kernel.Route{Dst: r.Prefix.Masked(), Metric: metricMesh}
		if r.Source.IsValid() && r.Source.Bits() > 0 {
			kr.Src = r.Source.Masked()
			if r.Prefix.Addr().Is4() {
				kr.Table = tableMeshIPv4
			}
		}
		if r.Unreachable {
			kr.Type = kernel.Unreachable
		} else {
			// An IPv4 route may have an IPv6 next hop (RFC 9229): mesh
			// links need no IPv4 addresses.
			kr.Via, kr.Link = r.Via, r.Interface
		}
		d.Routes = append(d.Routes, kr)
	}
}

// MeshAnnouncements are the routes the box announces to its neighbours:
// the /64s of its LAN segments and their IPv4 subnets, the prefixes it
// delegated to routers on its LANs, and, for each prefix delegated to it by
// an uplink that has an IPv6 default router, a default route from that
// prefix (RFC 9079), so that neighbours can send traffic from our prefix
// out of our uplink. The time returned is the next at which they change
// with nothing else changed (zero: none), as Kernel's.
func MeshAnnouncements(cfg *config.Config, facts state.Snapshot, now time.Time) ([]babel.Announcement, time.Time) {
	at := Moment{Now: now}
	var out []babel.Announcement
	seen := map[[2]netip.Prefix]bool{}
	add := func(p, src netip.Prefix) {
		k := [2]netip.Prefix{p.Masked(), src}
		if !p.IsValid() || seen[k] {
			return
		}
		seen[k] = true
		out = append(out, babel.Announcement{Prefix: p.Masked(), Source: src, Metric: meshAnnounceIn})
	}
	lanPlan, _ := state.Get[prefix.Plan](facts, KeyLANPlan)
	for _, l := range cfg.LAN {
		if sp, ok := lanPlan.Segment(l.Name); ok {
			for _, a := range sp.Prefixes {
				// Announced while the RAs still give it a valid lifetime
				// of a second or more.
				if _, valid := a.Ends(); a.ULA || at.Live(valid.Add(-time.Second)) {
					add(a.Prefix, netip.Prefix{})
				}
			}
		}
		if l.IPv4 != nil {
			add(l.IPv4.Address.Masked(), netip.Prefix{})
		}
	}
	delegated, _ := state.Get[[]Delegated](facts, KeyLANDelegated)
	for _, x := range delegated {
		if at.Live(x.Valid) {
			add(x.Prefix, netip.Prefix{})
		}
	}
	for _, w := range cfg.WAN {
		if !HasDefault6(w, facts, &at) {
			continue
		}
		l, ok := state.Get[dhcp6.Lease](facts, KeyDHCP6(w.Name))
		if !ok {
			continue
		}
		for _, p := range l.Prefixes {
			if at.Live(p.Valid) {
				add(netip.MustParsePrefix("::/0"), p.Prefix.Masked())
			}
		}
	}
	return out, at.Next
}

// HasDefault6 reports whether an uplink gives the box an IPv6 default
// route: a router from its RAs whose default route the box takes
// (accept_default_route), or a static ::/0, over a link with carrier.
// The LANs' RAs offer a default route (RFC 7084 G-4, G-5) and the mesh a
// default from the uplink's delegated prefixes (RFC 9079) on this answer,
// so that neither offers a way out the kernel does not have.
func HasDefault6(w config.WAN, facts state.Snapshot, at *Moment) bool {
	if c, ok := state.Get[bool](facts, KeyCarrier(w.Name)); ok && !c {
		return false
	}
	if f, ok := state.Get[ra.Facts](facts, KeyRA(w.Name)); ok && w.RA != nil && w.RA.AcceptDefaultRoute {
		for _, r := range f.Routers {
			// The answer holds at least until this router goes.
			if at.Live(r.Expires) {
				return true
			}
		}
	}
	if w.Static != nil {
		for _, r := range w.Static.Routes {
			if r.Prefix.Addr().Is6() && r.Prefix.Bits() == 0 {
				return true
			}
		}
	}
	return false
}
