package ra

import (
	"net/netip"
	"testing"
)

func TestCheckRS(t *testing.T) {
	unspec := netip.IPv6Unspecified()
	for _, tc := range []struct {
		name string
		b    []byte
		from netip.Addr
		hop  int
		ok   bool
	}{
		{"with source link-layer address", validRS, host, 255, true},
		{"bare", validRS[:8], host, 255, true},
		{"unspecified source, no option", validRS[:8], unspec, 255, true},
		{"global source", validRS, netip.MustParseAddr("2001:db8::1"), 255, true},
		{"unknown option skipped", append(append([]byte{}, validRS[:8]...), 200, 1, 0, 0, 0, 0, 0, 0), host, 255, true},
		{"unspecified source with the option", validRS, unspec, 255, false},
		{"hop limit 64", validRS, host, 64, false},
		{"hop limit unknown", validRS, host, -1, false},
		{"code 1", append([]byte{133, 1}, validRS[2:]...), host, 255, false},
		{"router advertisement", append([]byte{134}, validRS[1:]...), host, 255, false},
		{"short", validRS[:7], host, 255, false},
		{"empty", nil, host, 255, false},
		{"zero-length option", append(append([]byte{}, validRS[:8]...), 1, 0, 0, 0, 0, 0, 0, 0), host, 255, false},
		{"option past the end", append(append([]byte{}, validRS[:8]...), 1, 2, 0, 0, 0, 0, 0, 0), host, 255, false},
		{"odd trailing byte", append(append([]byte{}, validRS...), 0), host, 255, false},
		{"multicast source", validRS, netip.MustParseAddr("ff02::1"), 255, false},
		{"IPv4 source", validRS, netip.MustParseAddr("192.0.2.1"), 255, false},
		{"no source", validRS, netip.Addr{}, 255, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRS(tc.b, tc.from, tc.hop)
			if (err == nil) != tc.ok {
				t.Fatalf("checkRS = %v, want ok %v", err, tc.ok)
			}
			h := steady(t, 1)
			h.after(10e9)
			n := len(h.sent)
			h.solicit(tc.b, tc.from, tc.hop)
			h.after(1e9)
			if answered := len(h.sent) > n; answered != tc.ok {
				t.Errorf("answered %v, want %v", answered, tc.ok)
			}
			if c := h.a.Counters(); (c.BadRS == 1) == tc.ok {
				t.Errorf("counters %+v", c)
			}
		})
	}
}
