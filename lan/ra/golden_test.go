package ra

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/mdlayher/ndp"

	"cpe/internal/golden"
)

// TestGoldenRA pins the bytes of the RA in representative states. Each
// file starts with the RA as "show ra" prints it, then the hex.
func TestGoldenRA(t *testing.T) {
	for _, tc := range []struct {
		name string
		// prepare brings the harness to the state; the RA sent last is
		// the golden one.
		prepare func(h *harness)
	}{
		{"normal", func(h *harness) { h.update(normalCfg()) }},
		{"uplink_down", func(h *harness) {
			h.update(normalCfg())
			h.after(sec(100))
			// RFC 8475: the uplink of pfxA went down; the plan ends its
			// preferred lifetime now and keeps it valid.
			c := normalCfg()
			c.Prefixes[0].Preferred = h.now
			c.DefaultRouter = false
			h.update(c)
		}},
		{"renumbered", func(h *harness) {
			h.update(normalCfg())
			h.after(sec(600))
			c := normalCfg()
			c.Prefixes = []Prefix{{Prefix: pfxB, OnLink: true, Autonomous: true,
				Preferred: h.now.Add(sec(1800)), Valid: h.now.Add(sec(3600))}}
			c.Stale = []netip.Prefix{pfxA}
			h.update(c)
		}},
		{"no_default_route", func(h *harness) {
			c := normalCfg()
			c.DefaultRouter = false
			c.Preference = ndp.High // must go out as medium with lifetime 0
			c.DNSServers, c.SearchDomains = nil, nil
			h.update(c)
		}},
		{"rio", func(h *harness) {
			c := normalCfg()
			c.Preference = ndp.High
			c.Managed = true
			c.Routes = []Route{
				{Prefix: netip.MustParsePrefix("2001:db8:1:20::/60"), Preference: ndp.High, Until: t0.Add(sec(1000))},
				{Prefix: netip.MustParsePrefix("fd00:1:2::/48"), Preference: ndp.Low},
				{Prefix: netip.MustParsePrefix("2001:db8:1:30:8000::/65"), Preference: ndp.Medium},
				{Prefix: netip.MustParsePrefix("::/0"), Preference: ndp.Medium, Until: t0.Add(sec(60))},
			}
			h.update(c)
		}},
		{"withdrawn_dns", func(h *harness) {
			h.update(normalCfg())
			h.after(sec(300))
			c := normalCfg()
			c.DNSServers = []netip.Addr{dns2}
			c.SearchDomains = []string{"example.org"}
			h.update(c)
		}},
		{"final", func(h *harness) {
			h.update(normalCfg())
			h.after(sec(10))
			h.apply(h.a.Stop(h.now))
		}},
		{"minimal", func(h *harness) { h.update(Config{}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1)
			tc.prepare(h)
			s := h.lastSent()
			b := s.pkt.Data
			parse(t, b) // ndp reads it
			m, err := rawMessage(b)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := ndp.MarshalMessage(m); err != nil || !bytes.Equal(again, b) {
				t.Errorf("rawMessage does not give the same bytes back: %v\n%x\n%x", err, again, b)
			}
			if s.adv.Size != len(b) {
				t.Errorf("Size = %d, sent %d bytes", s.adv.Size, len(b))
			}
			golden.Check(t, "golden/"+tc.name+".txt", hexDump(s.adv.String(), b))
		})
	}
}
