package ra

import (
	"net/netip"
	"testing"
	"time"
)

// checkSpacing fails when two multicast RAs are closer than 3 s.
func checkSpacing(t *testing.T, s []sent) {
	t.Helper()
	for i := 1; i < len(s); i++ {
		if gap := s[i].at.Sub(s[i-1].at); gap < MinDelayBetweenRAs {
			t.Errorf("RA %d at +%v only %v after the one before", i, s[i].at.Sub(t0), gap)
		}
	}
}

func TestUnsolicitedSchedule(t *testing.T) {
	for _, tc := range []struct {
		name     string
		max, min time.Duration
		wantMin  time.Duration // the default Min
	}{
		{"defaults", 0, 0, 198 * time.Second},
		{"max 30s", 30 * time.Second, 0, 9900 * time.Millisecond},
		{"max 4s min 3s", 4 * time.Second, 3 * time.Second, 3 * time.Second},
		{"max 8s default min", 8 * time.Second, 0, 8 * time.Second},
		{"max 1800s min 1350s", 1800 * time.Second, 1350 * time.Second, 1350 * time.Second},
	} {
		for seed := uint64(1); seed <= 5; seed++ {
			t.Run(tc.name, func(t *testing.T) {
				h := newHarness(t, seed)
				c := normalCfg()
				c.MaxInterval, c.MinInterval = tc.max, tc.min
				h.update(c)
				max := tc.max
				if max == 0 {
					max = DefaultMaxInterval
				}
				h.at(t0.Add(200 * max))
				if len(h.sent) < 4 {
					t.Fatalf("%d RAs in 200 max intervals", len(h.sent))
				}
				if !h.sent[0].at.Equal(t0) || h.sent[0].adv.Reason != ReasonInitial {
					t.Errorf("first RA at +%v (%s), want at once", h.sent[0].at.Sub(t0), h.sent[0].adv.Reason)
				}
				for i := 1; i < len(h.sent); i++ {
					gap := h.sent[i].at.Sub(h.sent[i-1].at)
					lo, hi := tc.wantMin, max
					if i < MaxInitialRtrAdvertisements {
						hi = min(hi, MaxInitialRtrAdvertInterval)
						lo = min(lo, hi)
					}
					if gap < lo || gap > hi {
						t.Errorf("gap before RA %d = %v, want %v..%v", i, gap, lo, hi)
					}
				}
				checkSpacing(t, h.sent)
			})
		}
	}
}

// TestIntervalsUniform checks the spread: with Min 200 s and Max 600 s,
// gaps fall in both halves, not at one end.
func TestIntervalsUniform(t *testing.T) {
	h := newHarness(t, 7)
	c := normalCfg()
	c.MinInterval = 200 * time.Second
	h.update(c)
	h.at(t0.Add(7 * 24 * time.Hour))
	var low, high int
	for i := MaxInitialRtrAdvertisements; i < len(h.sent); i++ {
		if h.sent[i].at.Sub(h.sent[i-1].at) < 400*time.Second {
			low++
		} else {
			high++
		}
	}
	if low < high/2 || high < low/2 {
		t.Errorf("gaps below 400 s: %d, above: %d; not uniform", low, high)
	}
}

// steady is a harness past its initial RAs, just after a periodic one.
func steady(t *testing.T, seed uint64) *harness {
	h := newHarness(t, seed)
	h.update(normalCfg())
	h.at(t0.Add(time.Hour))
	h.next()
	return h
}

func TestSolicitAnswered(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		h := steady(t, seed)
		h.after(100 * time.Second)
		rsAt, n := h.now, len(h.sent)
		h.solicit(validRS, host, 255)
		h.after(MaxRADelayTime)
		if len(h.sent) != n+1 {
			t.Fatalf("seed %d: %d RAs after the RS, want 1", seed, len(h.sent)-n)
		}
		s := h.lastSent()
		if d := s.at.Sub(rsAt); d < 0 || d > MaxRADelayTime || s.adv.Reason != ReasonSolicited {
			t.Errorf("seed %d: answered after %v (%s), want 0..500ms", seed, d, s.adv.Reason)
		}
		// The answer resets the interval timer (RFC 4861 6.2.6).
		if gap := h.deadline.Sub(s.at); gap < 198*time.Second || gap > DefaultMaxInterval {
			t.Errorf("seed %d: next RA %v after the answer", seed, gap)
		}
		if c := h.a.Counters(); c.Solicitations != 1 || c.BadRS != 0 {
			t.Errorf("counters %+v", c)
		}
	}
}

func TestSolicitRateLimited(t *testing.T) {
	h := steady(t, 3)
	last := h.lastSent().at
	h.after(time.Second)
	h.solicit(validRS, host, 255)
	h.after(5 * time.Second)
	if len(h.sent) < 2 {
		t.Fatal("RS not answered")
	}
	s := h.lastSent()
	if d := s.at.Sub(last); d < MinDelayBetweenRAs || d > MinDelayBetweenRAs+MaxRADelayTime {
		t.Errorf("answer %v after the previous RA, want 3..3.5 s", d)
	}
}

func TestSolicitCoalesced(t *testing.T) {
	t.Run("with the scheduled RA", func(t *testing.T) {
		h := steady(t, 4)
		due := h.deadline
		h.at(due.Add(-100 * time.Millisecond))
		n := len(h.sent)
		// A delay under 100 ms answers sooner and resets the timer; a
		// longer one is left to the scheduled RA. One RA either way.
		h.solicit(validRS, host, 255)
		if h.deadline.After(due) {
			t.Errorf("deadline moved from %v to %v", due, h.deadline)
		}
		h.after(time.Second)
		if got := len(h.sent) - n; got != 1 {
			t.Errorf("%d RAs, want the scheduled one only", got)
		}
	})
	t.Run("answer with the scheduled RA due within the window", func(t *testing.T) {
		var coalesced int
		for seed := uint64(1); seed <= 30; seed++ {
			h := steady(t, seed)
			due := h.deadline
			h.at(due.Add(-250 * time.Millisecond))
			n := len(h.sent)
			h.solicit(validRS, host, 255)
			h.after(time.Second)
			if got := len(h.sent) - n; got != 1 {
				t.Fatalf("seed %d: %d RAs, want 1", seed, got)
			}
			if h.a.Counters().Coalesced == 1 {
				coalesced++
				if !h.lastSent().at.Equal(due) {
					t.Errorf("seed %d: coalesced answer at %v, want the scheduled %v", seed, h.lastSent().at, due)
				}
			}
		}
		if coalesced == 0 || coalesced == 30 {
			t.Errorf("%d of 30 coalesced; a 0..500 ms delay against 250 ms should split", coalesced)
		}
	})
	t.Run("many solicitations, one answer", func(t *testing.T) {
		h := steady(t, 5)
		h.after(60 * time.Second)
		n := len(h.sent)
		rsAt := h.now
		for i := range 10 {
			h.solicit(validRS, netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: byte(i + 1)}), 255)
			h.now = h.now.Add(10 * time.Millisecond)
			if len(h.sent) > n {
				break // the delay drawn was shorter than this burst
			}
		}
		h.at(rsAt.Add(MaxRADelayTime))
		if got := len(h.sent) - n; got != 1 {
			t.Errorf("%d RAs for a burst of RSs, want 1", got)
		}
		if d := h.lastSent().at.Sub(rsAt); d > MaxRADelayTime {
			t.Errorf("answer %v after the first RS", d)
		}
	})
}

func TestChangeSendsFastRAs(t *testing.T) {
	h := steady(t, 6)
	h.after(50 * time.Second)
	n := len(h.sent)
	c := normalCfg()
	c.DNSServers = c.DNSServers[:1]
	h.update(c)
	h.after(time.Hour)
	got := h.sent[n:]
	changedAt := h.sent[n-1].at.Add(50 * time.Second)
	if len(got) < 4 || got[0].adv.Reason != ReasonChanged || !got[0].at.Equal(changedAt) {
		t.Fatalf("after the change: %d RAs, first %s at %v, want changed at %v", len(got), got[0].adv.Reason, got[0].at, changedAt)
	}
	for i := 1; i < MaxInitialRtrAdvertisements; i++ {
		if gap := got[i].at.Sub(got[i-1].at); gap > MaxInitialRtrAdvertInterval {
			t.Errorf("fast RA %d came %v after the one before", i, gap)
		}
	}
	checkSpacing(t, h.sent)
}

func TestChangeRespectsMinDelay(t *testing.T) {
	h := newHarness(t, 8)
	h.update(normalCfg())
	h.after(time.Second)
	c := normalCfg()
	c.Managed = true
	h.update(c)
	h.after(time.Second)
	c.Other = false
	h.update(c)
	h.after(time.Minute)
	checkSpacing(t, h.sent)
	if h.sent[1].adv.Reason != ReasonChanged || !h.sent[1].at.Equal(t0.Add(MinDelayBetweenRAs)) {
		t.Errorf("second RA at +%v (%s), want +3s changed", h.sent[1].at.Sub(t0), h.sent[1].adv.Reason)
	}
	if !h.sent[1].adv.Managed || h.sent[1].adv.Other {
		t.Errorf("the delayed RA does not carry the latest config: %+v", h.sent[1].adv)
	}
}

func TestWhatCountsAsChange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		fast   bool
	}{
		{"same", func(c *Config) {}, false},
		{"lifetimes extended", func(c *Config) {
			c.Prefixes[0].Preferred = c.Prefixes[0].Preferred.Add(time.Hour)
			c.Prefixes[0].Valid = c.Prefixes[0].Valid.Add(time.Hour)
		}, false},
		{"preferred cut", func(c *Config) { c.Prefixes[0].Preferred = t0 }, true},
		{"valid cut", func(c *Config) { c.Prefixes[0].Valid = c.Prefixes[0].Valid.Add(-time.Minute) }, true},
		{"default route lost", func(c *Config) { c.DefaultRouter = false }, true},
		{"prefix added", func(c *Config) { c.Prefixes = append(c.Prefixes, Prefix{Prefix: pfxB, OnLink: true}) }, true},
		{"stale added", func(c *Config) { c.Stale = []netip.Prefix{pfxB} }, true},
		{"mtu", func(c *Config) { c.MTU = 1500 }, true},
		{"domain", func(c *Config) { c.SearchDomains = nil }, true},
		{"route", func(c *Config) { c.Routes = []Route{{Prefix: pfxB}} }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := steady(t, 9)
			h.after(10 * time.Second)
			n := len(h.sent)
			c := normalCfg()
			tc.change(&c)
			h.update(c)
			if got := len(h.sent) > n; got != tc.fast {
				t.Errorf("RA at once = %v, want %v", got, tc.fast)
			}
		})
	}
}

func TestStop(t *testing.T) {
	t.Run("at once", func(t *testing.T) {
		h := steady(t, 10)
		h.after(time.Minute)
		h.apply(h.a.Stop(h.now))
		s := h.lastSent()
		if s.adv.Reason != ReasonFinal || !s.at.Equal(h.now) {
			t.Fatalf("last RA %s at %v, want final now", s.adv.Reason, s.at)
		}
		if ra := parse(t, s.pkt.Data); ra.RouterLifetime != 0 || len(pios(ra)) != 1 || pios(ra)[0].ValidLifetime == 0 {
			t.Errorf("final RA: router lifetime %v, PIOs %v; want 0 and the prefix kept", ra.RouterLifetime, pios(ra))
		}
		n := len(h.sent)
		h.solicit(validRS, host, 255)
		c := normalCfg()
		c.MTU = 1500
		if _, err := h.a.Update(h.now, c); err != nil {
			t.Fatal(err)
		}
		h.after(24 * time.Hour)
		if len(h.sent) != n || !h.deadline.IsZero() {
			t.Errorf("%d RAs after Stop, deadline %v", len(h.sent)-n, h.deadline)
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		h := newHarness(t, 11)
		h.update(normalCfg())
		h.after(time.Second)
		h.apply(h.a.Stop(h.now))
		if len(h.sent) != 1 || !h.deadline.Equal(t0.Add(MinDelayBetweenRAs)) {
			t.Fatalf("Stop 1 s after an RA: %d sent, deadline %v", len(h.sent), h.deadline)
		}
		h.after(time.Minute)
		if len(h.sent) != 2 || h.sent[1].adv.Reason != ReasonFinal || h.sent[1].adv.RouterLifetime != 0 {
			t.Errorf("sent %d, last %+v", len(h.sent), h.lastSent().adv)
		}
		checkSpacing(t, h.sent)
	})
	t.Run("never started", func(t *testing.T) {
		h := newHarness(t, 12)
		h.apply(h.a.Stop(t0))
		h.update(normalCfg())
		if len(h.sent) != 0 {
			t.Error("RA sent by an advertiser that never started")
		}
	})
}

func TestNothingBeforeFirstUpdate(t *testing.T) {
	h := newHarness(t, 13)
	h.solicit(validRS, host, 255)
	h.apply(h.a.Timer(t0.Add(time.Hour)))
	if len(h.sent) != 0 || !h.deadline.IsZero() {
		t.Errorf("sent %d RAs, deadline %v, before any config", len(h.sent), h.deadline)
	}
}

func TestInvalidUpdateKeepsConfig(t *testing.T) {
	h := newHarness(t, 14)
	h.update(normalCfg())
	bad := normalCfg()
	bad.MaxInterval = time.Second
	if _, err := h.a.Update(h.now, bad); err == nil {
		t.Fatal("a 1 s MaxRtrAdvInterval was accepted")
	}
	if h.a.Err() == nil {
		t.Error("Err() is nil after a refused config")
	}
	h.after(time.Hour)
	for _, s := range h.sent {
		if s.adv.RouterLifetime != 1800*time.Second {
			t.Errorf("RA with router lifetime %v, the refused config leaked in", s.adv.RouterLifetime)
		}
	}
}
