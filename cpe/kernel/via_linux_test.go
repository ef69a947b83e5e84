package kernel

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

// TestLabIPv4ViaIPv6: an IPv4 route through an IPv6 neighbour (RFC 5549)
// goes in with RTA_VIA, reads back as the same route, and an IPv6 route
// through an IPv4 next hop is refused before reaching the kernel.
func TestLabIPv4ViaIPv6(t *testing.T) {
	ns := labNamespaces(t)
	a := labApplier(t, ns)
	d := Desired{
		Links:  []Link{{Name: "wan0", Up: true}},
		Routes: []Route{{Dst: netip.MustParsePrefix("10.9.0.0/24"), Via: netip.MustParseAddr("fe80::1"), Link: "wan0", Metric: 512}},
	}
	if changes, err := a.Apply(context.Background(), d); err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(changes, "\n"))
	}
	if out := ip(t, "-n", ns, "-4", "route", "show", "10.9.0.0/24"); !strings.Contains(out, "via inet6 fe80::1 dev wan0") {
		t.Errorf("ip route: %q", out)
	}
	if changes, err := a.Apply(context.Background(), d); err != nil || len(changes) != 0 {
		t.Errorf("second Apply: %q, %v; want nothing", changes, err)
	}
	bad := Desired{Routes: []Route{{Dst: netip.MustParsePrefix("2001:db8:9::/48"), Via: netip.MustParseAddr("192.0.2.1"), Link: "wan0"}}}
	if _, err := bad.normalize(); err == nil || !strings.Contains(err.Error(), "bad gateway") {
		t.Errorf("IPv6 via IPv4: %v", err)
	}
}
