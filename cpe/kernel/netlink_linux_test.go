package kernel

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestModelRule(t *testing.T) {
	rule := func(edit func(*netlink.Rule)) netlink.Rule {
		r := netlink.NewRule()
		r.Family = netlink.FAMILY_V4
		r.Priority = 10000
		r.Table = 100
		r.Protocol = RouteProtocol
		_, r.Src, _ = net.ParseCIDR("198.51.100.0/24")
		edit(r)
		return *r
	}
	want := kernelRule{Rule: Rule{Family: IPv4, Src: mustPrefix("198.51.100.0/24"), Table: 100, Priority: 10000}, Protocol: RouteProtocol}
	if got := modelRule(rule(func(*netlink.Rule) {})); got != want {
		t.Errorf("modelRule = %+v, want %+v", got, want)
	}
	main := want
	main.Table, main.Src, main.Family = 0, mustPrefix("2001:db8:1::/48"), IPv6
	if got := modelRule(rule(func(r *netlink.Rule) {
		r.Family, r.Table = netlink.FAMILY_V6, 254
		_, r.Src, _ = net.ParseCIDR("2001:db8:1::/48")
	})); got != main {
		t.Errorf("modelRule = %+v, want %+v", got, main)
	}
	for name, edit := range map[string]func(*netlink.Rule){
		"fwmark":      func(r *netlink.Rule) { r.Mark = 1 },
		"iif":         func(r *netlink.Rule) { r.IifName = "lan0" },
		"goto":        func(r *netlink.Rule) { r.Goto = 20000 },
		"no table":    func(r *netlink.Rule) { r.Table = 0 },
		"priority 0":  func(r *netlink.Rule) { r.Priority = 0 },
		"suppress":    func(r *netlink.Rule) { r.SuppressPrefixlen = 0 },
		"destination": func(r *netlink.Rule) { _, r.Dst, _ = net.ParseCIDR("192.0.2.0/24") },
		"not":         func(r *netlink.Rule) { r.Invert = true },
	} {
		if got := modelRule(rule(edit)); !got.Unmodelled {
			t.Errorf("%s: rule taken as modelled: %+v", name, got)
		}
	}
}
