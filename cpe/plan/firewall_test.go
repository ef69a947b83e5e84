package plan

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"cpe/cpe/state"
	"cpe/firewall"
	"cpe/lan/prefix"
	"cpe/wan/dhcp4"
	"cpe/wan/dhcp6"
)

func TestFirewallInput(t *testing.T) {
	cfg := mustConfig(t, `{
	  "wan": [{"interface": "wan0", "dhcp4": {}, "dhcp6": {}}],
	  "lan": [{"interface": "lan0", "ipv6": {"dhcp6": {"pd": {}}}, "ipv4": {"address": "192.168.1.1/24"}},
	          {"interface": "lan1", "ipv6": {"firewall": "open"}}],
	  "firewall": {"pinholes": [{"name": "web", "address": "2001:db8:1000:100::80/128", "protocol": "tcp", "ports": ["443", "8000-8080"]}]}}`)
	later := now.Add(time.Hour)
	delegated := pfx("2001:db8:1000:100::/56")
	lanPlan := prefix.New(prefix.State{}).Plan(prefix.Input{
		Segments:    []prefix.Segment{{Name: "lan0"}, {Name: "lan1"}},
		Delegations: []prefix.Delegation{{Uplink: "wan0", Prefix: delegated, Preferred: later, Valid: later, Up: true}},
		Now:         now, PDLength: 62,
	})
	facts := state.Snapshot{}.
		With(KeyDHCP4("wan0"), dhcp4.Lease{Address: pfx("203.0.113.7/24"), Expiry: later}).
		With(KeyDHCP6("wan0"), dhcp6.Lease{Prefixes: []dhcp6.Prefix{{Prefix: delegated, Preferred: later, Valid: later}}}).
		With(KeyLANPlan, lanPlan).
		With(KeyLANDelegated, []Delegated{
			{Segment: "lan0", Interface: "lan0", Prefix: pfx("2001:db8:1000:1fc::/62"), Via: addr("fe80::2"), Valid: later},
			{Segment: "lan0", Interface: "lan0", Prefix: pfx("2001:db8:1000:1f8::/62"), Via: addr("fe80::3"), Valid: now},
		})
	in, next := Firewall(cfg, facts, now)
	// The lease and the live delegation end together; the expired one
	// counts for nothing.
	if !next.Equal(later) {
		t.Errorf("next change at %v, want %v", next.Sub(now), later.Sub(now))
	}

	if len(in.Uplinks) != 1 || in.Uplinks[0].Interface != "wan0" || !slices.Equal(in.Uplinks[0].IPv4, []netip.Addr{addr("203.0.113.7")}) {
		t.Errorf("uplinks = %+v", in.Uplinks)
	}
	if !slices.Equal(in.Own, []netip.Prefix{delegated}) {
		t.Errorf("own = %v, want the delegation %v", in.Own, delegated)
	}
	if len(in.LANs) != 2 {
		t.Fatalf("LANs = %+v", in.LANs)
	}
	l0, l1 := in.LANs[0], in.LANs[1]
	sp0, _ := lanPlan.Segment("lan0")
	if l0.Interface != "lan0" || l0.Mode != firewall.Stateful || !l0.NAT || l0.IPv4 != pfx("192.168.1.1/24") ||
		len(l0.IPv6) != 1 || l0.IPv6[0] != sp0.Prefixes[0].Prefix {
		t.Errorf("lan0 = %+v", l0)
	}
	if l1.Mode != firewall.Open || l1.IPv4.IsValid() || l1.NAT {
		t.Errorf("lan1 = %+v", l1)
	}
	wantDown := []firewall.Delegation{{Interface: "lan0", Prefix: pfx("2001:db8:1000:1fc::/62"), Mode: firewall.Open}}
	if !slices.Equal(in.Downstream, wantDown) {
		t.Errorf("downstream = %+v, want %+v (expired delegations left out)", in.Downstream, wantDown)
	}
	wantPin := firewall.Pinhole{Name: "web", Prefix: pfx("2001:db8:1000:100::80/128"), Protocol: "tcp",
		Ports: []firewall.PortRange{{Lo: 443, Hi: 443}, {Lo: 8000, Hi: 8080}}}
	if len(in.Pinholes) != 1 || in.Pinholes[0].Name != wantPin.Name || in.Pinholes[0].Prefix != wantPin.Prefix ||
		!slices.Equal(in.Pinholes[0].Ports, wantPin.Ports) {
		t.Errorf("pinholes = %+v, want %+v", in.Pinholes, wantPin)
	}
	if !in.LogDrops || in.FlowOffload {
		t.Errorf("defaults: log_drops %v flow_offload %v", in.LogDrops, in.FlowOffload)
	}

	// The lease gone: the uplink keeps no IPv4 address of the box.
	in, _ = Firewall(cfg, facts.With(KeyDHCP4("wan0"), dhcp4.Lease{Address: pfx("203.0.113.7/24"), Expiry: now}), now)
	if len(in.Uplinks[0].IPv4) != 0 {
		t.Errorf("expired lease still the uplink's address: %v", in.Uplinks[0].IPv4)
	}
}
