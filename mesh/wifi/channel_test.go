package wifi

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestFrequency(t *testing.T) {
	tests := []struct {
		channel, want int
	}{
		{1, 2412}, {6, 2437}, {11, 2462}, {13, 2472}, {14, 2484},
		{36, 5180}, {64, 5320}, {100, 5500}, {149, 5745}, {165, 5825}, {177, 5885},
		{0, 0}, {-1, 0}, {15, 0}, {35, 0}, {178, 0}, {196, 0},
	}
	for _, tc := range tests {
		got, err := Frequency(tc.channel)
		if got != tc.want || (err != nil) != (tc.want == 0) {
			t.Errorf("Frequency(%d) = %d, %v; want %d", tc.channel, got, err, tc.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "wifi: channel") {
			t.Errorf("error %q", err)
		}
	}
}

func TestLinkLocal(t *testing.T) {
	tests := []struct {
		mac  string
		want string
	}{
		{"02:00:00:00:01:00", "fe80::ff:fe00:100"},
		{"00:1b:21:3a:4f:9c", "fe80::21b:21ff:fe3a:4f9c"},
		{"fe:ff:ff:ff:ff:ff", "fe80::fcff:ffff:feff:ffff"},
	}
	for _, tc := range tests {
		mac, err := net.ParseMAC(tc.mac)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := LinkLocal(mac)
		if !ok || got != netip.MustParseAddr(tc.want) {
			t.Errorf("LinkLocal(%s) = %v %v, want %s", tc.mac, got, ok, tc.want)
		}
	}
	for _, bad := range []net.HardwareAddr{nil, {1, 2, 3, 4, 5}, {1, 2, 3, 4, 5, 6, 7, 8}} {
		if got, ok := LinkLocal(bad); ok || got.IsValid() {
			t.Errorf("LinkLocal(%v) = %v %v", bad, got, ok)
		}
	}
}
