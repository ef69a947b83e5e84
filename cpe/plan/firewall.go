package plan

import (
	"time"

	"cpe/cpe/config"
	"cpe/cpe/state"
	"cpe/firewall"
	"cpe/lan/prefix"
	"cpe/wan/dhcp4"
	"cpe/wan/dhcp6"
)

// Firewall returns the zones and policy the firewall is built from: the
// uplinks with the box's IPv4 addresses on them, each LAN segment with the
// prefixes it may source traffic from, the prefixes delegated to routers on
// the LANs, and the prefixes delegated to the box, which no packet from an
// uplink may claim as its source. The time returned is the next at which
// the input changes with nothing else changed (zero: none), as Kernel's.
func Firewall(cfg *config.Config, facts state.Snapshot, now time.Time) (firewall.Input, time.Time) {
	at := Moment{Now: now}
	in := firewall.Input{
		FlowOffload: cfg.Firewall.FlowOffload,
		LogDrops:    cfg.Firewall.LogDrops,
	}
	for _, w := range cfg.WAN {
		u := firewall.Uplink{Interface: w.Interface}
		if w.Static != nil {
			for _, a := range w.Static.Addresses {
				if a.Addr().Is4() {
					u.IPv4 = append(u.IPv4, a.Addr())
				}
			}
		}
		if l, ok := state.Get[dhcp4.Lease](facts, KeyDHCP4(w.Name)); ok && l.Bound() && at.Live(l.Expiry) {
			u.IPv4 = append(u.IPv4, l.Address.Addr())
		}
		if l, ok := state.Get[dhcp6.Lease](facts, KeyDHCP6(w.Name)); ok {
			for _, p := range l.Prefixes {
				// Kept while valid and for as long as the LANs still
				// advertise it as stale: it stays ours either way.
				in.Own = append(in.Own, p.Prefix.Masked())
			}
		}
		in.Uplinks = append(in.Uplinks, u)
	}
	lanPlan, _ := state.Get[prefix.Plan](facts, KeyLANPlan)
	for _, l := range cfg.LAN {
		s := firewall.Segment{Interface: l.Interface}
		if l.IPv4 != nil {
			s.IPv4, s.NAT = l.IPv4.Address, l.IPv4.NAT
		}
		if l.IPv6 != nil {
			s.Mode = firewall.Mode(l.IPv6.Firewall)
			if sp, ok := lanPlan.Segment(l.Name); ok {
				for _, a := range sp.Prefixes {
					s.IPv6 = append(s.IPv6, a.Prefix)
				}
			}
		}
		in.LANs = append(in.LANs, s)
	}
	for _, mi := range cfg.Mesh.Interfaces {
		in.Mesh = append(in.Mesh, mi.Interface)
	}
	delegated, _ := state.Get[[]Delegated](facts, KeyLANDelegated)
	for _, x := range delegated {
		if at.Live(x.Valid) && x.Prefix.IsValid() {
			in.Downstream = append(in.Downstream, firewall.Delegation{Interface: x.Interface, Prefix: x.Prefix.Masked(), Mode: firewall.Open})
		}
	}
	for _, p := range cfg.Firewall.Pinholes {
		ph := firewall.Pinhole{Name: p.Name, Prefix: p.Address, Protocol: p.Protocol}
		for _, r := range p.Ports {
			ph.Ports = append(ph.Ports, firewall.PortRange{Lo: r.Lo, Hi: r.Hi})
		}
		in.Pinholes = append(in.Pinholes, ph)
	}
	return in, at.Next
}
