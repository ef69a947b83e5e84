package kernel

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func TestOpString(t *testing.T) {
	for _, tc := range []struct {
		op   Op
		want string
	}{
		{Op{Kind: AddRoute, Route: Route{Dst: mustPrefix("2001:db8::/56"), Type: Unreachable, Metric: 1024}},
			"add route 2001:db8::/56 type unreachable metric 1024"},
		{Op{Kind: ReplaceRoute, Route: Route{Dst: mustPrefix("::/0"), Src: mustPrefix("2001:db8:1::/48"), Via: mustAddr("fe80::1"), Link: "wan0", Metric: 1024, Table: 100, MTU: 1480}},
			"replace route ::/0 from 2001:db8:1::/48 via fe80::1 dev wan0 metric 1024 table 100 mtu 1480"},
		{Op{Kind: DeleteRoute, Route: Route{Dst: mustPrefix("192.0.2.0/24"), Link: "lan0"}},
			"delete route 192.0.2.0/24 dev lan0 metric 0"},
		{Op{Kind: AddRoute, Route: Route{Dst: mustPrefix("198.51.100.0/24"), Type: Blackhole, Metric: 20}},
			"add route 198.51.100.0/24 type blackhole metric 20"},
		{Op{Kind: AddAddress, Address: Address{Link: "wan0", Prefix: mustPrefix("2001:db8:ffff::2/64"), PreferredUntil: t0, ValidUntil: t0.Add(time.Hour), NoPrefixRoute: true}},
			"add address 2001:db8:ffff::2/64 dev wan0 noprefixroute preferred until 2026-11-26T09:00:00Z valid until 2026-11-26T10:00:00Z"},
		{Op{Kind: ReplaceAddress, Address: Address{Link: "lan0", Prefix: mustPrefix("192.0.2.1/24")}},
			"replace address 192.0.2.1/24 dev lan0"},
		{Op{Kind: DeleteAddress, Address: Address{Link: "lan0", Prefix: mustPrefix("2001:db8:1::1/64"), ValidUntil: t0}},
			"delete address 2001:db8:1::1/64 dev lan0"},
		{Op{Kind: AddRule, Rule: Rule{Family: IPv4, Src: mustPrefix("198.51.100.0/24"), Table: 100, Priority: 10000}},
			"add rule from 198.51.100.0/24 table 100 priority 10000"},
		{Op{Kind: DeleteRule, Rule: Rule{Family: IPv6, Priority: 9000}},
			"delete rule ipv6 from all table main priority 9000"},
		{Op{Kind: SetSysctl, Sysctl: "net.ipv6.conf.wan0.accept_ra", Value: "0", Was: "1"},
			"set sysctl net.ipv6.conf.wan0.accept_ra = 0 (was 1)"},
		{Op{Kind: SetSysctl, Sysctl: "net.ipv4.ip_forward", Value: "1"},
			"set sysctl net.ipv4.ip_forward = 1"},
		{Op{Kind: SetLinkMTU, Link: Link{Name: "wan0", MTU: 1492}, Was: "1500"}, "set link wan0 mtu 1492 (was 1500)"},
		{Op{Kind: SetLinkUp, Link: Link{Name: "wan0"}}, "set link wan0 up"},
		{Op{Kind: SetLinkDown, Link: Link{Name: "wan0"}}, "set link wan0 down"},
	} {
		if got := tc.op.String(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}

// box is a Desired touching every part of the model.
func box() Desired {
	return Desired{
		Links: []Link{{Name: "wan0", Up: true, MTU: 1500}, {Name: "lan0", Up: true}},
		Sysctls: map[string]string{
			"net.ipv6.conf.all.forwarding": "1",
			"net.ipv6.conf.wan0.accept_ra": "0",
		},
		Addresses: []Address{
			{Link: "wan0", Prefix: mustPrefix("192.0.2.2/24")},
			{Link: "wan0", Prefix: mustPrefix("2001:db8:ffff::2/64"), PreferredUntil: t0.Add(30 * time.Minute), ValidUntil: t0.Add(time.Hour)},
			{Link: "lan0", Prefix: mustPrefix("2001:db8:1:1::1/64")},
		},
		Routes: []Route{
			{Dst: mustPrefix("0.0.0.0/0"), Via: mustAddr("192.0.2.1"), Link: "wan0"},
			{Dst: mustPrefix("0.0.0.0/0"), Src: mustPrefix("198.51.100.0/24"), Via: mustAddr("192.0.2.1"), Link: "wan0", Table: 100},
			{Dst: mustPrefix("2001:db8:1::/56"), Type: Unreachable},
			{Dst: mustPrefix("::/0"), Src: mustPrefix("2001:db8:1::/48"), Via: mustAddr("2001:db8:ffff::1"), Link: "wan0"},
		},
		Rules: []Rule{{Family: IPv6, Src: mustPrefix("2001:db8:1::/48"), Table: 100, Priority: 9000}},
	}
}

func TestDiffFromNothing(t *testing.T) {
	got := Diff(Desired{}, box()).Strings()
	want := []string{
		"set sysctl net.ipv6.conf.all.forwarding = 1",
		"set sysctl net.ipv6.conf.wan0.accept_ra = 0",
		"set link lan0 up",
		"set link wan0 mtu 1500",
		"set link wan0 up",
		"add address 2001:db8:1:1::1/64 dev lan0",
		"add address 192.0.2.2/24 dev wan0",
		"add address 2001:db8:ffff::2/64 dev wan0 preferred until 2026-11-26T09:30:00Z valid until 2026-11-26T10:00:00Z",
		"add route 0.0.0.0/0 via 192.0.2.1 dev wan0 metric 0",
		"add route 0.0.0.0/0 via 192.0.2.1 dev wan0 metric 0 table 100",
		"add route ::/0 from 2001:db8:1::/48 via 2001:db8:ffff::1 dev wan0 metric 1024",
		"add route 2001:db8:1::/56 type unreachable metric 1024",
		"add rule from 198.51.100.0/24 table 100 priority 10000",
		"add rule from 2001:db8:1::/48 table 100 priority 9000",
	}
	diffLines(t, got, want)
}

func TestDiffSameIsEmpty(t *testing.T) {
	if p := Diff(box(), box()); len(p) != 0 {
		t.Errorf("Diff(box, box) = %q", p.Strings())
	}
	// What the kernel reports back: normalized, deadlines a second off,
	// the sysctl with a newline.
	have, _ := box().normalize()
	a := &have.Addresses[2]
	if a.Prefix != mustPrefix("2001:db8:ffff::2/64") {
		t.Fatalf("normalized order moved: %v", a)
	}
	a.PreferredUntil = a.PreferredUntil.Add(-time.Second)
	a.ValidUntil = a.ValidUntil.Add(2 * time.Second)
	have.Sysctls["net.ipv6.conf.all.forwarding"] = "1\n"
	if p := Diff(have, box()); len(p) != 0 {
		t.Errorf("Diff(kernel's view, box) = %q", p.Strings())
	}
}

func TestDiffAddBeforeDelete(t *testing.T) {
	have := box()
	want := box()
	// A new delegated prefix: LAN address and unreachable route move, the
	// source-specific default follows, the rule's priority changes, the
	// wan link goes down.
	want.Addresses[2].Prefix = mustPrefix("2001:db8:2:1::1/64")
	want.Routes[2].Dst = mustPrefix("2001:db8:2::/56")
	want.Routes[3].Src = mustPrefix("2001:db8:2::/48")
	want.Rules[0] = Rule{Family: IPv6, Src: mustPrefix("2001:db8:2::/48"), Table: 100, Priority: 9000}
	want.Links[0].Up = false
	got := Diff(have, want).Strings()
	diffLines(t, got, []string{
		"add address 2001:db8:2:1::1/64 dev lan0",
		"add route ::/0 from 2001:db8:2::/48 via 2001:db8:ffff::1 dev wan0 metric 1024",
		"add route 2001:db8:2::/56 type unreachable metric 1024",
		"add rule from 2001:db8:2::/48 table 100 priority 9000",
		"delete rule from 2001:db8:1::/48 table 100 priority 9000",
		"delete route ::/0 from 2001:db8:1::/48 via 2001:db8:ffff::1 dev wan0 metric 1024",
		"delete route 2001:db8:1::/56 type unreachable metric 1024",
		"delete address 2001:db8:1:1::1/64 dev lan0",
		"set link wan0 down",
	})
}

func TestDiffChangesInPlace(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Desired)
		want []string
	}{
		{"lifetimes only: replace", func(d *Desired) {
			d.Addresses[1].PreferredUntil = t0.Add(90 * time.Minute)
			d.Addresses[1].ValidUntil = t0.Add(2 * time.Hour)
		}, []string{"replace address 2001:db8:ffff::2/64 dev wan0 preferred until 2026-11-26T10:30:00Z valid until 2026-11-26T11:00:00Z"}},
		{"deprecated: replace", func(d *Desired) {
			d.Addresses[1].PreferredUntil = t0
		}, []string{"replace address 2001:db8:ffff::2/64 dev wan0 preferred until 2026-11-26T09:00:00Z valid until 2026-11-26T10:00:00Z"}},
		{"made permanent: replace", func(d *Desired) {
			d.Addresses[1].PreferredUntil, d.Addresses[1].ValidUntil = time.Time{}, time.Time{}
		}, []string{"replace address 2001:db8:ffff::2/64 dev wan0"}},
		{"ipv6 noprefixroute: replace", func(d *Desired) {
			d.Addresses[2].NoPrefixRoute = true
		}, []string{"replace address 2001:db8:1:1::1/64 dev lan0 noprefixroute"}},
		{"ipv6 prefix length: delete and add at once", func(d *Desired) {
			d.Addresses[2].Prefix = mustPrefix("2001:db8:1:1::1/56")
			d.Routes = append(d.Routes, Route{Dst: mustPrefix("2001:db8:3::/48"), Type: Blackhole})
		}, []string{
			"delete address 2001:db8:1:1::1/64 dev lan0",
			"add address 2001:db8:1:1::1/56 dev lan0",
			"add route 2001:db8:3::/48 type blackhole metric 1024",
		}},
		{"ipv4 prefix length: add, later delete", func(d *Desired) {
			d.Addresses[0].Prefix = mustPrefix("192.0.2.2/25")
		}, []string{"add address 192.0.2.2/25 dev wan0", "delete address 192.0.2.2/24 dev wan0"}},
		{"ipv4 noprefixroute: delete and add", func(d *Desired) {
			d.Addresses[0].NoPrefixRoute = true
		}, []string{"delete address 192.0.2.2/24 dev wan0", "add address 192.0.2.2/24 dev wan0 noprefixroute"}},
		{"gateway: replace", func(d *Desired) {
			d.Routes[0].Via = mustAddr("192.0.2.254")
		}, []string{"replace route 0.0.0.0/0 via 192.0.2.254 dev wan0 metric 0"}},
		{"type: replace", func(d *Desired) {
			d.Routes[2].Type = Blackhole
		}, []string{"replace route 2001:db8:1::/56 type blackhole metric 1024"}},
		{"mtu: replace", func(d *Desired) {
			d.Routes[3].MTU = 1280
		}, []string{"replace route ::/0 from 2001:db8:1::/48 via 2001:db8:ffff::1 dev wan0 metric 1024 mtu 1280"}},
		{"metric: a new route", func(d *Desired) {
			d.Routes[0].Metric = 10
		}, []string{"add route 0.0.0.0/0 via 192.0.2.1 dev wan0 metric 10", "delete route 0.0.0.0/0 via 192.0.2.1 dev wan0 metric 0"}},
		{"source table: new route and rule", func(d *Desired) {
			d.Routes[1].Table = 101
		}, []string{
			"add route 0.0.0.0/0 via 192.0.2.1 dev wan0 metric 0 table 101",
			"add rule from 198.51.100.0/24 table 101 priority 10000",
			"delete rule from 198.51.100.0/24 table 100 priority 10000",
			"delete route 0.0.0.0/0 via 192.0.2.1 dev wan0 metric 0 table 100",
		}},
		{"sysctl and mtu", func(d *Desired) {
			d.Sysctls["net.ipv6.conf.wan0.accept_ra"] = "2"
			d.Links[0].MTU = 1492
		}, []string{"set sysctl net.ipv6.conf.wan0.accept_ra = 2 (was 0)", "set link wan0 mtu 1492 (was 1500)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := box()
			tc.edit(&want)
			diffLines(t, Diff(box(), want).Strings(), tc.want)
		})
	}
}

func TestDiffIsStable(t *testing.T) {
	want := Diff(Desired{Links: []Link{{Name: "wan0", Up: false}}}, box()).Strings()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		d := box()
		rng.Shuffle(len(d.Links), func(i, j int) { d.Links[i], d.Links[j] = d.Links[j], d.Links[i] })
		rng.Shuffle(len(d.Addresses), func(i, j int) { d.Addresses[i], d.Addresses[j] = d.Addresses[j], d.Addresses[i] })
		rng.Shuffle(len(d.Routes), func(i, j int) { d.Routes[i], d.Routes[j] = d.Routes[j], d.Routes[i] })
		got := Diff(Desired{Links: []Link{{Name: "wan0", Up: false}}}, d).Strings()
		if !slices.Equal(got, want) {
			t.Fatalf("order depends on the input's:\n%s\nvs\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestDiffLinkDownLast(t *testing.T) {
	have := Desired{Links: []Link{{Name: "wan0", Up: true, MTU: 1500}}, Routes: []Route{{Dst: mustPrefix("192.0.2.0/24"), Link: "wan0"}}}
	want := Desired{Links: []Link{{Name: "wan0", Up: false, MTU: 1500}}}
	diffLines(t, Diff(have, want).Strings(), []string{
		"delete route 192.0.2.0/24 dev wan0 metric 0",
		"set link wan0 down",
	})
}

// diffLines fails with both lists when they differ.
func diffLines(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
