package plan

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"cpe/cpe/config"
	"cpe/cpe/kernel"
	"cpe/cpe/state"
	"cpe/lan/prefix"
	"cpe/wan/dhcp4"
	"cpe/wan/dhcp6"
	"cpe/wan/ra"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func mustConfig(t *testing.T, doc string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

// lines renders the plan's addresses and routes one a line, sorted.
func lines(d kernel.Desired) []string {
	var out []string
	for _, a := range d.Addresses {
		out = append(out, kernel.Op{Kind: kernel.AddAddress, Address: a}.String())
	}
	for _, r := range d.Routes {
		out = append(out, kernel.Op{Kind: kernel.AddRoute, Route: r}.String())
	}
	slices.Sort(out)
	return out
}

func TestKernelPlan(t *testing.T) {
	cfg := mustConfig(t, `{"wan": [
	  {"interface": "wan0", "dhcp4": {}, "dhcp6": {}, "ra": {}},
	  {"interface": "wan1", "static": {"addresses": ["203.0.113.2/24"], "routes": [{"prefix": "0.0.0.0/0", "via": "203.0.113.1"}]}}]}`)
	facts := uplinkFacts()

	d := desired(cfg, facts, now)
	got := lines(d)
	for _, want := range []string{
		"add address 192.0.2.100/24 dev wan0",
		"add address 2001:db8:a0::1000/128 dev wan0 noprefixroute",
		"add address 2001:db8:a0::42/64 dev wan0 noprefixroute",
		"add address 203.0.113.2/24 dev wan1",
		"add route 0.0.0.0/0 via 192.0.2.1 dev wan0 metric 1025",
		"add route ::/0 via fe80::1 dev wan0 metric 1024",
		"add route 2001:db8:a0::/64 dev wan0 metric 1024",
		"add route 2001:db8:1000:100::/56 type unreachable metric 1024",
		"add route 0.0.0.0/0 via 203.0.113.1 dev wan1 metric 1040",
	} {
		if !slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("plan lacks %q; plan:\n%s", want, strings.Join(got, "\n"))
		}
	}
	for _, l := range got {
		if strings.Contains(l, "dead") {
			t.Errorf("an expired address is planned: %s", l)
		}
	}
	if d.Sysctls["net.ipv6.conf.wan0.accept_ra"] != "0" || d.Sysctls["net.ipv6.conf.all.forwarding"] != "1" {
		t.Errorf("sysctls: %v", d.Sysctls)
	}

	// Once the router's lifetime has run out its default route goes, while
	// the lease-based routes stay.
	d = desired(cfg, facts, now.Add(time.Minute))
	for _, l := range lines(d) {
		if strings.HasPrefix(l, "add route ::/0") {
			t.Errorf("default route kept after the router lifetime: %s", l)
		}
	}
}

// uplinkFacts is what wan0 learned by DHCPv4, DHCPv6 and RAs: a router
// that goes in 30 s, an address deprecated in 30 min, the rest an hour.
func uplinkFacts() state.Snapshot {
	later := now.Add(time.Hour)
	return state.Snapshot{}.
		With(KeyDHCP4("wan0"), dhcp4.Lease{State: dhcp4.StateBound, Address: pfx("192.0.2.100/24"),
			Routers: []netip.Addr{addr("192.0.2.1")}, Expiry: later}).
		With(KeyDHCP6("wan0"), dhcp6.Lease{
			Addresses: []dhcp6.Address{{Addr: addr("2001:db8:a0::1000"), Preferred: now.Add(30 * time.Minute), Valid: later},
				{Addr: addr("2001:db8:a0::dead"), Preferred: now.Add(-time.Hour), Valid: now.Add(-time.Minute)}},
			Prefixes: []dhcp6.Prefix{{Prefix: pfx("2001:db8:1000:100::/56"), Preferred: later, Valid: later}},
		}).
		With(KeyRA("wan0"), ra.Facts{
			Routers:   []ra.Router{{Addr: addr("fe80::1"), Expires: now.Add(30 * time.Second), Preference: ra.PreferenceHigh}},
			Prefixes:  []ra.Prefix{{Prefix: pfx("2001:db8:a0::/64"), OnLink: true, Autonomous: true, Preferred: later, Valid: later}},
			Addresses: []ra.Address{{Addr: addr("2001:db8:a0::42"), Prefix: pfx("2001:db8:a0::/64"), Preferred: later, Valid: later}},
		})
}

// TestKernelPlanChangesAt: the plan names the next time it changes, and it
// is the same plan until then.
func TestKernelPlanChangesAt(t *testing.T) {
	cfg := mustConfig(t, `{"wan": [
	  {"interface": "wan0", "dhcp4": {}, "dhcp6": {}, "ra": {}},
	  {"interface": "wan1", "static": {"addresses": ["203.0.113.2/24"]}}]}`)
	facts := uplinkFacts()
	var got []time.Duration
	at := now
	for range 10 {
		d, next := Kernel(cfg, facts, at)
		if next.IsZero() {
			break
		}
		if !next.After(at) {
			t.Fatalf("planned at %v, next change at %v: not ahead", at.Sub(now), next.Sub(now))
		}
		if before, _ := Kernel(cfg, facts, next.Add(-time.Nanosecond)); !reflect.DeepEqual(before, d) {
			t.Errorf("planned at %v: the plan changes before %v", at.Sub(now), next.Sub(now))
		}
		got = append(got, next.Sub(now))
		at = next
	}
	// The router's expiry, the IA_NA address's deprecation, and the end of
	// the leases; then only the static address is left.
	want := []time.Duration{30 * time.Second, 30 * time.Minute, time.Hour}
	if !slices.Equal(got, want) {
		t.Errorf("changes at %v, want %v", got, want)
	}
	if d, _ := Kernel(cfg, facts, at); len(d.Addresses) != 1 || d.Addresses[0].Link != "wan1" {
		t.Errorf("addresses left at the end: %+v", d.Addresses)
	}
}

func TestKernelPlanIgnoresUnconfiguredSources(t *testing.T) {
	// A lease still in the facts for a protocol the config no longer runs
	// is not installed.
	cfg := mustConfig(t, `{"wan": [{"interface": "wan0", "ra": {"accept_default_route": false}}]}`)
	facts := state.Snapshot{}.
		With(KeyDHCP4("wan0"), dhcp4.Lease{Address: pfx("192.0.2.100/24"), Expiry: now.Add(time.Hour)}).
		With(KeyRA("wan0"), ra.Facts{Routers: []ra.Router{{Addr: addr("fe80::1"), Expires: now.Add(time.Hour)}}})
	if got := lines(desired(cfg, facts, now)); len(got) != 0 {
		t.Errorf("planned from unconfigured sources:\n%s", strings.Join(got, "\n"))
	}
}

func TestLearnedMTU(t *testing.T) {
	facts := state.Snapshot{}.
		With(KeyDHCP4("wan0"), dhcp4.Lease{Address: pfx("192.0.2.100/24"), Expiry: now.Add(time.Hour), MTU: 1492}).
		With(KeyRA("wan0"), ra.Facts{MTU: 1480})
	mtu := func(doc string) int {
		for _, l := range desired(mustConfig(t, doc), facts, now).Links {
			if l.Name == "wan0" {
				return l.MTU
			}
		}
		t.Fatal("no wan0 link in the plan")
		return 0
	}
	if got := mtu(`{"wan": [{"interface": "wan0", "dhcp4": {}, "ra": {}}]}`); got != 1480 {
		t.Errorf("learned MTU %d, want the smaller 1480", got)
	}
	if got := mtu(`{"wan": [{"interface": "wan0", "dhcp4": {}}]}`); got != 1492 {
		t.Errorf("DHCPv4 MTU %d, want 1492", got)
	}
	if got := mtu(`{"wan": [{"interface": "wan0", "mtu": 1400, "dhcp4": {}, "ra": {}}]}`); got != 1400 {
		t.Errorf("configured MTU %d, want 1400 to win", got)
	}
}

func TestSegmentAddresses(t *testing.T) {
	cfg := mustConfig(t, `{"wan": [{"interface": "wan0", "dhcp6": {}}],
	  "lan": [{"interface": "lan0", "ipv6": {}, "ipv4": {"address": "192.168.1.1/24"}}]}`)
	later := now.Add(time.Hour)
	delegated := pfx("2001:db8:1000:100::/56")
	ula := pfx("fd00:1:2::/48")
	lanPlan := prefix.New(prefix.State{}).Plan(prefix.Input{
		Segments:    []prefix.Segment{{Name: "lan0"}},
		Delegations: []prefix.Delegation{{Uplink: "wan0", Prefix: delegated, Preferred: later, Valid: later, Up: true}},
		ULA:         ula, Now: now, PDLength: 62,
	})
	facts := state.Snapshot{}.
		With(KeyDHCP6("wan0"), dhcp6.Lease{Prefixes: []dhcp6.Prefix{{Prefix: delegated, Preferred: later, Valid: later}}}).
		With(KeyLANPlan, lanPlan)
	d := desired(cfg, facts, now)
	got := lines(d)
	for _, want := range []string{
		"add address 192.168.1.1/24 dev lan0",
		"add address 2001:db8:1000:100::1/64 dev lan0",
		"add address fd00:1:2::1/64 dev lan0",
	} {
		if !slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("plan lacks %q; plan:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if d.Sysctls["net.ipv6.conf.lan0.accept_ra"] != "0" {
		t.Errorf("the LAN takes RAs: %v", d.Sysctls)
	}
	// The delegation gone from the facts: its /64 address goes, the ULA stays.
	facts = facts.With(KeyDHCP6("wan0"), dhcp6.Lease{})
	for _, l := range lines(desired(cfg, facts, now)) {
		if strings.Contains(l, "2001:db8:1000:100::1") {
			t.Errorf("address kept after its delegation went: %s", l)
		}
	}
}

func TestDelegatedRoutes(t *testing.T) {
	cfg := mustConfig(t, `{"lan": [{"interface": "lan0", "ipv6": {"dhcp6": {"pd": {}}}}]}`)
	facts := state.Snapshot{}.With(KeyLANDelegated, []Delegated{
		{Segment: "lan0", Interface: "lan0", Prefix: pfx("2001:db8:1000:1fc::/62"), Via: addr("fe80::2"), Valid: now.Add(time.Hour)},
		{Segment: "lan0", Interface: "lan0", Prefix: pfx("2001:db8:1000:1f8::/62"), Via: addr("fe80::3"), Valid: now},
	})
	got := lines(desired(cfg, facts, now))
	want := "add route 2001:db8:1000:1fc::/62 via fe80::2 dev lan0 metric 1024"
	if !slices.Contains(got, want) {
		t.Errorf("plan lacks %q; plan:\n%s", want, strings.Join(got, "\n"))
	}
	for _, l := range got {
		if strings.Contains(l, "2001:db8:1000:1f8::") {
			t.Errorf("route kept for an expired delegation: %s", l)
		}
	}
}

func TestVirtualLinks(t *testing.T) {
	cfg := mustConfig(t, `{"wan": [{"interface": "eth0.7", "dhcp4": {}}],
	  "lan": [{"interface": "br-lan", "bridge": {"ports": ["eth1", "eth2.10"]}, "ipv6": {}},
	          {"interface": "eth3.20", "ipv6": {}},
	          {"interface": "wifi.lan", "ipv6": {}}]}`)
	got := desired(cfg, state.Snapshot{}, now).Virtual
	want := []kernel.VirtualLink{
		{Name: "eth0.7", Kind: kernel.VLAN, Parent: "eth0", ID: 7},
		{Name: "br-lan", Kind: kernel.Bridge, Ports: []string{"eth1", "eth2.10"}},
		{Name: "eth2.10", Kind: kernel.VLAN, Parent: "eth2", ID: 10},
		{Name: "eth3.20", Kind: kernel.VLAN, Parent: "eth3", ID: 20},
	}
	if len(got) != len(want) {
		t.Fatalf("virtual links %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Kind != want[i].Kind || got[i].Parent != want[i].Parent ||
			got[i].ID != want[i].ID || !slices.Equal(got[i].Ports, want[i].Ports) {
			t.Errorf("virtual link %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, name := range []string{"eth0", "eth0.", ".5", "eth0.0", "eth0.05", "eth0.4095", "wifi.lan"} {
		if p, id, ok := VLANOf(name); ok {
			t.Errorf("VLANOf(%q) = %s %d", name, p, id)
		}
	}
}

// TestDedupe: of two addresses or routes that name the same one, the first
// stays; routes differing in source, metric or table are different routes.
func TestDedupe(t *testing.T) {
	d := kernel.Desired{
		Addresses: []kernel.Address{
			{Link: "lan0", Prefix: pfx("2001:db8::1/64")},
			{Link: "lan0", Prefix: pfx("2001:db8::1/64"), NoPrefixRoute: true},
			{Link: "lan1", Prefix: pfx("2001:db8::1/64")},
		},
		Routes: []kernel.Route{
			{Dst: pfx("::/0"), Via: addr("fe80::1"), Link: "wan0", Metric: 1024},
			{Dst: pfx("::/0"), Via: addr("fe80::2"), Link: "wan0", Metric: 1024},
			{Dst: pfx("::/0"), Via: addr("fe80::3"), Link: "wan0", Metric: 1025},
			{Dst: pfx("::/0"), Src: pfx("2001:db8::/56"), Via: addr("fe80::4"), Link: "mesh0", Metric: 1024},
			{Dst: pfx("::/0"), Via: addr("fe80::5"), Link: "mesh0", Metric: 1024, Table: 100},
		},
	}
	dedupe(&d)
	if len(d.Addresses) != 2 || d.Addresses[0].NoPrefixRoute || d.Addresses[1].Link != "lan1" {
		t.Errorf("addresses %+v, want lan0's first and lan1's", d.Addresses)
	}
	var vias []string
	for _, r := range d.Routes {
		vias = append(vias, r.Via.String())
	}
	if want := []string{"fe80::1", "fe80::3", "fe80::4", "fe80::5"}; !slices.Equal(vias, want) {
		t.Errorf("routes via %v, want %v", vias, want)
	}
}

// desired is Kernel's plan without its next change.
func desired(cfg *config.Config, facts state.Snapshot, now time.Time) kernel.Desired {
	d, _ := Kernel(cfg, facts, now)
	return d
}
