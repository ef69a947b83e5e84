package ra

import (
	"net/netip"
	"testing"
	"time"
)

func TestRemaining(t *testing.T) {
	for _, tc := range []struct {
		name  string
		end   time.Duration // from now
		limit time.Duration
		want  time.Duration
	}{
		{"whole", sec(100), NDValidLimit, sec(100)},
		{"rounded down", sec(100) - time.Millisecond, NDValidLimit, sec(99)},
		{"passed", -sec(5), NDValidLimit, 0},
		{"just now", 0, NDValidLimit, 0},
		{"under a second", 999 * time.Millisecond, NDValidLimit, 0},
		{"capped", 3 * time.Hour, NDValidLimit, NDValidLimit},
		{"preferred capped", 3 * time.Hour, NDPreferredLimit, NDPreferredLimit},
	} {
		if got := remaining(t0, t0.Add(tc.end), tc.limit); got != tc.want {
			t.Errorf("%s: remaining = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPrefixLifetimesAtSendTime(t *testing.T) {
	for _, tc := range []struct {
		name                string
		preferred, valid    time.Duration // from t0
		at                  time.Duration // when the RA goes out
		wantPref, wantValid time.Duration
	}{
		{"fresh", sec(1800), sec(3600), 0, sec(1800), sec(3600)},
		{"later", sec(1800), sec(3600), sec(1000), sec(800), sec(2600)},
		{"preferred over", sec(1800), sec(3600), sec(2000), 0, sec(1600)},
		{"preferred above valid", sec(4000), sec(3000), 0, sec(2700), sec(3000)},
		{"preferred above valid after caps", sec(9000), sec(2000), 0, sec(2000), sec(2000)},
		{"valid over", sec(100), sec(200), sec(300), 0, 0},
		{"RFC 9096 caps", 48 * time.Hour, 72 * time.Hour, 0, NDPreferredLimit, NDValidLimit},
		{"zero times", -1, -1, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1)
			c := normalCfg()
			c.Prefixes[0].Preferred, c.Prefixes[0].Valid = t0.Add(tc.preferred), t0.Add(tc.valid)
			if tc.preferred < 0 {
				c.Prefixes[0].Preferred, c.Prefixes[0].Valid = time.Time{}, time.Time{}
			}
			h.now = t0.Add(tc.at)
			h.update(c)
			p := pios(parse(t, h.lastSent().pkt.Data))
			if len(p) != 1 || p[0].PreferredLifetime != tc.wantPref || p[0].ValidLifetime != tc.wantValid {
				t.Fatalf("PIO %+v, want preferred %v valid %v", p[0], tc.wantPref, tc.wantValid)
			}
		})
	}
}

// TestWithdrawal checks that what leaves the config is advertised with
// lifetime 0 for as long as hosts could hold it, then dropped.
func TestWithdrawal(t *testing.T) {
	h := newHarness(t, 2)
	c := normalCfg()
	c.Routes = []Route{{Prefix: netip.MustParsePrefix("2001:db8:9::/48")}}
	h.update(c)
	h.after(time.Minute)
	c2 := normalCfg()
	c2.Prefixes[0].Prefix = pfxB
	c2.DNSServers, c2.SearchDomains = nil, nil
	h.update(c2)
	ra := h.lastSent().adv
	if len(ra.Prefixes) != 2 || ra.Prefixes[1].Prefix != pfxA || ra.Prefixes[1].Valid != 0 || ra.Prefixes[1].Preferred != 0 || !ra.Prefixes[1].Autonomous {
		t.Errorf("old prefix not withdrawn: %+v", ra.Prefixes)
	}
	if len(ra.Routes) != 1 || ra.Routes[0].Lifetime != 0 {
		t.Errorf("old route not withdrawn: %+v", ra.Routes)
	}
	if len(ra.DNSServers) != 2 || ra.DNSServers[0].Lifetime != 0 || len(ra.SearchDomains) != 1 || ra.SearchDomains[0].Lifetime != 0 {
		t.Errorf("old DNS not withdrawn: %+v %+v", ra.DNSServers, ra.SearchDomains)
	}
	// DNS was held for 1800 s, the route 1800 s, the prefix 5400 s.
	h.at(t0.Add(1900 * time.Second))
	h.next()
	ra = h.lastSent().adv
	if len(ra.DNSServers)+len(ra.SearchDomains)+len(ra.Routes) != 0 || len(ra.Prefixes) != 2 {
		t.Errorf("after 1900 s: %v", ra)
	}
	h.at(t0.Add(5500 * time.Second))
	h.next()
	if ra = h.lastSent().adv; len(ra.Prefixes) != 1 || ra.Prefixes[0].Prefix != pfxB {
		t.Errorf("after 5500 s: %v", ra)
	}
}

func TestStaleKeepsFlags(t *testing.T) {
	h := newHarness(t, 3)
	c := normalCfg()
	c.Prefixes[0].Autonomous = false
	h.update(c)
	c.Prefixes = nil
	c.Stale = []netip.Prefix{pfxA, pfxB}
	h.after(time.Minute)
	h.update(c)
	got := h.lastSent().adv.Prefixes
	if len(got) != 2 || got[0].Autonomous || !got[0].OnLink || !got[1].Autonomous || got[0].Valid != 0 || got[1].Preferred != 0 {
		t.Errorf("stale PIOs %+v: want pfxA as it was advertised (L only), pfxB with L and A, all 0", got)
	}
}
