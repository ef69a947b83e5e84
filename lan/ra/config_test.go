package ra

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
)

func TestConfigDefaults(t *testing.T) {
	for _, tc := range []struct {
		max, min, wantMin, wantRL, wantDNS time.Duration
	}{
		{0, 0, 198 * time.Second, 1800 * time.Second, 1800 * time.Second},
		{1800 * time.Second, 0, 594 * time.Second, 5400 * time.Second, 5400 * time.Second},
		{4 * time.Second, 0, 4 * time.Second, 12 * time.Second, 12 * time.Second},
		{10 * time.Second, 0, 3300 * time.Millisecond, 30 * time.Second, 30 * time.Second},
	} {
		c, err := Config{MaxInterval: tc.max, MinInterval: tc.min}.normalize()
		if err != nil {
			t.Fatal(err)
		}
		if c.MinInterval != tc.wantMin || c.RouterLifetime != tc.wantRL || c.DNSLifetime != tc.wantDNS || c.HopLimit != 64 {
			t.Errorf("max %v: min %v, router lifetime %v, dns %v, hop limit %d", tc.max, c.MinInterval, c.RouterLifetime, c.DNSLifetime, c.HopLimit)
		}
	}
}

func TestConfigInvalid(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"max too small", func(c *Config) { c.MaxInterval = 3 * time.Second }, "max interval"},
		{"max too large", func(c *Config) { c.MaxInterval = 1801 * time.Second }, "max interval"},
		{"min above 0.75 max", func(c *Config) { c.MinInterval = 451 * time.Second }, "min interval"},
		{"min below 3 s", func(c *Config) { c.MinInterval = 2 * time.Second }, "min interval"},
		{"router lifetime below max", func(c *Config) { c.RouterLifetime = 100 * time.Second }, "router lifetime"},
		{"router lifetime above 9000 s", func(c *Config) { c.RouterLifetime = 9001 * time.Second }, "router lifetime"},
		{"dns lifetime below max", func(c *Config) { c.DNSLifetime = time.Second }, "dns lifetime"},
		{"reserved preference", func(c *Config) { c.Preference = 2 }, "preference"},
		{"small mtu", func(c *Config) { c.MTU = 1279 }, "mtu"},
		{"bad mac", func(c *Config) { c.SourceLL = net.HardwareAddr{1, 2, 3} }, "link-layer"},
		{"ipv4 prefix", func(c *Config) { c.Prefixes[0].Prefix = netip.MustParsePrefix("192.0.2.0/24") }, "not an IPv6 prefix"},
		{"host bits", func(c *Config) { c.Prefixes[0].Prefix = netip.MustParsePrefix("2001:db8::1/64") }, "host bits"},
		{"link-local prefix", func(c *Config) { c.Prefixes[0].Prefix = netip.MustParsePrefix("fe80::/64") }, "link-local"},
		{"prefix twice", func(c *Config) { c.Stale = []netip.Prefix{pfxA} }, "twice"},
		{"route reserved preference", func(c *Config) { c.Routes = []Route{{Prefix: pfxB, Preference: 2}} }, "reserved"},
		{"route twice", func(c *Config) { c.Routes = []Route{{Prefix: pfxB}, {Prefix: pfxB}} }, "twice"},
		{"link-local dns", func(c *Config) { c.DNSServers = []netip.Addr{netip.MustParseAddr("fe80::53")} }, "not reachable"},
		{"v4 dns", func(c *Config) { c.DNSServers = []netip.Addr{netip.MustParseAddr("192.0.2.53")} }, "not an IPv6"},
		{"dns twice", func(c *Config) { c.DNSServers = []netip.Addr{dns1, dns1} }, "twice"},
		{"long label", func(c *Config) { c.SearchDomains = []string{long + ".net"} }, "label"},
		{"empty label", func(c *Config) { c.SearchDomains = []string{"a..net"} }, "label"},
		{"unicode domain", func(c *Config) { c.SearchDomains = []string{"bücher.example"} }, "label"},
		{"too big", func(c *Config) {
			for i := range 80 {
				c.Routes = append(c.Routes, Route{Prefix: netip.PrefixFrom(netip.AddrFrom16([16]byte{0: 0x20, 1: 0x01, 2: 0x0d, 3: 0xb8, 4: byte(i)}), 48)})
			}
		}, "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := normalCfg()
			tc.change(&c)
			_, err := c.normalize()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ra: ") {
				t.Errorf("err = %v, want one about %q", err, tc.want)
			}
		})
	}
	// Every problem is reported, not just the first.
	c := normalCfg()
	c.MTU, c.Preference = 1000, 2
	if _, err := c.normalize(); err == nil || !strings.Contains(err.Error(), "mtu") || !strings.Contains(err.Error(), "preference") {
		t.Errorf("err = %v, want both problems", err)
	}
	if _, err := normalCfg().normalize(); err != nil {
		t.Errorf("normal config refused: %v", err)
	}
	c = normalCfg()
	c.Preference = ndp.Low
	c.SearchDomains = []string{"Example.NET."}
	n, err := c.normalize()
	if err != nil || n.SearchDomains[0] != "example.net" {
		t.Errorf("domain normalized to %q, %v", n.SearchDomains, err)
	}
}

// TestConfigSizeMatchesMarshal keeps the size arithmetic honest.
func TestConfigSizeMatchesMarshal(t *testing.T) {
	c := normalCfg()
	c.Stale = []netip.Prefix{pfxB}
	c.SearchDomains = []string{"a.example", "bb.example.org", "c"}
	for _, bits := range []int{0, 1, 48, 64, 65, 128} {
		c.Routes = append(c.Routes, Route{Prefix: netip.PrefixFrom(netip.MustParseAddr("2001:db8::"), bits).Masked()})
	}
	n, err := c.normalize()
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, 1)
	h.update(c)
	if got := len(h.lastSent().pkt.Data); got != n.size() {
		t.Errorf("size() = %d, marshalled %d", n.size(), got)
	}
}
