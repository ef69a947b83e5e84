package plan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"cpe/cpe/kernel"
	"cpe/cpe/state"
	"cpe/lan/prefix"
	"cpe/mesh/babel"
	"cpe/wan/dhcp6"
	"cpe/wan/ra"
)

func TestMeshRoutes(t *testing.T) {
	cfg := mustConfig(t, `{"mesh": {"interfaces": [{"interface": "mesh0"}]}}`)
	facts := state.Snapshot{}.With(KeyMeshRoutes, []babel.InstalledRoute{
		{Prefix: pfx("2001:db8:77:1::/64"), Via: addr("fe80::7"), Interface: "mesh0", Metric: 96},
		{Prefix: pfx("::/0"), Source: pfx("2001:db8:77::/56"), Via: addr("fe80::7"), Interface: "mesh0", Metric: 96},
		{Prefix: pfx("10.7.0.0/24"), Via: addr("10.99.0.7"), Interface: "mesh0", Metric: 96},
		{Prefix: pfx("0.0.0.0/0"), Source: pfx("10.7.0.0/24"), Via: addr("10.99.0.7"), Interface: "mesh0", Metric: 96},
		{Prefix: pfx("10.8.0.0/24"), Via: addr("fe80::8"), Interface: "mesh0", Metric: 96},
		{Prefix: pfx("2001:db8:78:1::/64"), Unreachable: true, Metric: 0xffff},
	})
	d := desired(cfg, facts, now)
	got := lines(d)
	for _, want := range []string{
		"add route 2001:db8:77:1::/64 via fe80::7 dev mesh0 metric 512",
		"add route ::/0 from 2001:db8:77::/56 via fe80::7 dev mesh0 metric 512",
		"add route 10.7.0.0/24 via 10.99.0.7 dev mesh0 metric 512",
		"add route 0.0.0.0/0 from 10.7.0.0/24 via 10.99.0.7 dev mesh0 metric 512 table 6696",
		"add route 2001:db8:78:1::/64 type unreachable metric 512",
		"add route 10.8.0.0/24 via fe80::8 dev mesh0 metric 512",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("plan lacks %q; plan:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if d.Sysctls["net.ipv6.conf.mesh0.accept_ra"] != "0" || !slices.ContainsFunc(d.Links, func(l kernel.Link) bool { return l.Name == "mesh0" && l.Up }) {
		t.Errorf("mesh0 not up without RAs: %v %v", d.Links, d.Sysctls)
	}
}

func TestMeshAnnouncements(t *testing.T) {
	cfg := mustConfig(t, `{"wan": [{"interface": "wan0", "dhcp6": {}, "ra": {}}],
	  "lan": [{"interface": "lan0", "ipv6": {}, "ipv4": {"address": "192.168.7.1/24"}}],
	  "mesh": {"interfaces": [{"interface": "mesh0"}]}}`)
	later := now.Add(time.Hour)
	delegated := pfx("2001:db8:1000:100::/56")
	lanPlan := prefix.New(prefix.State{}).Plan(prefix.Input{
		Segments:    []prefix.Segment{{Name: "lan0"}},
		Delegations: []prefix.Delegation{{Uplink: "wan0", Prefix: delegated, Preferred: later, Valid: later, Up: true}},
		ULA:         pfx("fd00:1:2::/48"), Now: now,
	})
	facts := state.Snapshot{}.
		With(KeyDHCP6("wan0"), dhcp6.Lease{Prefixes: []dhcp6.Prefix{{Prefix: delegated, Preferred: later, Valid: later}}}).
		With(KeyLANPlan, lanPlan).
		With(KeyLANDelegated, []Delegated{{Interface: "lan0", Prefix: pfx("2001:db8:1000:1fc::/62"), Via: addr("fe80::2"), Valid: later}})
	text := func(as []babel.Announcement, _ time.Time) []string {
		var out []string
		for _, a := range as {
			s := a.Prefix.String()
			if a.Source.IsValid() {
				s += " from " + a.Source.String()
			}
			out = append(out, s)
		}
		slices.Sort(out)
		return out
	}
	base := []string{"192.168.7.0/24", "2001:db8:1000:100::/64", "2001:db8:1000:1fc::/62", "fd00:1:2::/64"}
	if got := text(MeshAnnouncements(cfg, facts, now)); !slices.Equal(got, base) {
		t.Errorf("without a default router: %q, want %q", got, base)
	}
	facts = facts.With(KeyRA("wan0"), ra.Facts{Routers: []ra.Router{{Addr: addr("fe80::1"), Expires: later}}})
	want := append(slices.Clone(base), "::/0 from 2001:db8:1000:100::/56")
	slices.Sort(want)
	if got := text(MeshAnnouncements(cfg, facts, now)); !slices.Equal(got, want) {
		t.Errorf("with a default router: %q, want %q", got, want)
	}
	// The router goes first, then the delegation, the LAN's /64 from it
	// a second before its end (the RAs then give it 0).
	facts = facts.With(KeyRA("wan0"), ra.Facts{Routers: []ra.Router{{Addr: addr("fe80::1"), Expires: now.Add(time.Minute)}}})
	at := now
	var changes []time.Duration
	for range 10 {
		as, next := MeshAnnouncements(cfg, facts, at)
		if next.IsZero() {
			break
		}
		if before, _ := MeshAnnouncements(cfg, facts, next.Add(-time.Nanosecond)); !slices.Equal(before, as) {
			t.Errorf("announced at %v: changed before %v", at.Sub(now), next.Sub(now))
		}
		if after, _ := MeshAnnouncements(cfg, facts, next); slices.Equal(after, as) {
			t.Errorf("announced at %v: no change at %v", at.Sub(now), next.Sub(now))
		}
		changes = append(changes, next.Sub(now))
		at = next
	}
	if want := []time.Duration{time.Minute, time.Hour - time.Second, time.Hour}; !slices.Equal(changes, want) {
		t.Errorf("announcements change at %v, want %v", changes, want)
	}
	if got, want := text(MeshAnnouncements(cfg, facts, at)), []string{"192.168.7.0/24", "fd00:1:2::/64"}; !slices.Equal(got, want) {
		t.Errorf("in the end: %q, want %q", got, want)
	}
	facts = facts.With(KeyRA("wan0"), ra.Facts{Routers: []ra.Router{{Addr: addr("fe80::1"), Expires: later}}})
	facts = facts.With(KeyCarrier("wan0"), false)
	if got := text(MeshAnnouncements(cfg, facts, now)); !slices.Equal(got, base) {
		t.Errorf("uplink without carrier still offers its default: %q", got)
	}
}

// TestHasDefault6: an uplink gives an IPv6 default route when the box
// takes one from its RAs or has a static ::/0, and has carrier (or has
// not said otherwise); the answer holds until the router it rests on goes.
func TestHasDefault6(t *testing.T) {
	router := ra.Facts{Routers: []ra.Router{
		{Addr: addr("fe80::1"), Expires: now.Add(-time.Second)},
		{Addr: addr("fe80::2"), Expires: now.Add(time.Minute)},
	}}
	for _, c := range []struct {
		name    string
		wan     string
		ra      bool
		carrier string // "", "up", "down"
		want    bool
		next    time.Duration // 0: none
	}{
		{"router", `{"interface": "wan0", "ra": {}}`, true, "", true, time.Minute},
		{"router, carrier up", `{"interface": "wan0", "ra": {}}`, true, "up", true, time.Minute},
		{"router, carrier down", `{"interface": "wan0", "ra": {}}`, true, "down", false, 0},
		{"router, its default route not taken", `{"interface": "wan0", "ra": {"accept_default_route": false}}`, true, "", false, 0},
		{"no router", `{"interface": "wan0", "ra": {}}`, false, "", false, 0},
		{"static ::/0", `{"interface": "wan0", "static": {"routes": [{"prefix": "::/0", "via": "fe80::1"}]}}`, false, "", true, 0},
		{"static ::/0, carrier down", `{"interface": "wan0", "static": {"routes": [{"prefix": "::/0", "via": "fe80::1"}]}}`, false, "down", false, 0},
		{"static IPv4 default only", `{"interface": "wan0", "static": {"routes": [{"prefix": "0.0.0.0/0", "via": "192.0.2.1"}]}}`, false, "", false, 0},
	} {
		cfg := mustConfig(t, `{"wan": [`+c.wan+`]}`)
		facts := state.Snapshot{}
		if c.ra {
			facts = facts.With(KeyRA("wan0"), router)
		}
		if c.carrier != "" {
			facts = facts.With(KeyCarrier("wan0"), c.carrier == "up")
		}
		at := Moment{Now: now}
		if got := HasDefault6(cfg.WAN[0], facts, &at); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
		if want := at0(c.next); !at.Next.Equal(want) {
			t.Errorf("%s: holds until %v, want %v", c.name, at.Next, want)
		}
	}
}

// at0 is now+d, or zero for 0.
func at0(d time.Duration) time.Time {
	if d == 0 {
		return time.Time{}
	}
	return now.Add(d)
}
