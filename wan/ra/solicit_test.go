package ra

import (
	"testing"
	"time"

	"github.com/mdlayher/ndp"
)

// TestSolicitationSchedule checks RFC 4861 6.3.7 and RFC 7559 over a day
// of an uplink nobody answers on: 0–1 s delay, two more at 4 s, then
// doubling ±10 % up to 3600 s ±10 %, never giving up.
func TestSolicitationSchedule(t *testing.T) {
	for seed := range uint64(20) {
		h := newHarnessRand(t, testCfg, seeded(seed)) // many jitter draws, reproducible
		h.start()
		if len(h.sent) != 0 {
			t.Fatal("solicitation sent before the 0–1 s delay")
		}
		var times []time.Time
		for len(times) < 40 {
			times = append(times, h.nextRS())
		}
		if d := times[0].Sub(t0); d < 0 || d >= maxRtrSolicitationDelay {
			t.Fatalf("seed %d: first RS after %v, want within [0, 1s)", seed, d)
		}
		capped := 0
		for i := 1; i < len(times); i++ {
			iv := times[i].Sub(times[i-1])
			switch {
			case i < maxRtrSolicitations:
				if iv != rtrSolicitationInterval {
					t.Fatalf("seed %d: RS %d after %v, want 4s", seed, i+1, iv)
				}
			case iv >= secs(3240):
				if iv > secs(3960) {
					t.Fatalf("seed %d: RS %d after %v, beyond 3600 s + 10%%", seed, i+1, iv)
				}
				capped++
			default:
				prev := times[i-1].Sub(times[i-2])
				if lo, hi := prev*19/10, prev*21/10; iv < lo || iv > hi {
					t.Fatalf("seed %d: RS %d after %v, want 2×%v ±10%%", seed, i+1, iv, prev)
				}
			}
		}
		if capped < 20 {
			t.Fatalf("seed %d: only %d intervals at the 3600 s cap", seed, capped)
		}
		if c := h.r.Counters(); c.Solicitations != uint64(len(h.sent)) {
			t.Fatalf("Solicitations = %d, sent %d", c.Solicitations, len(h.sent))
		}
	}
}

func TestSolicitationStopsOnRA(t *testing.T) {
	h := newHarness(t, testCfg)
	h.start()
	h.nextRS()
	second := h.nextRS()

	// A router that is no default router does not end the round (RFC 4861
	// 6.3.7 asks for a non-zero Router Lifetime).
	h.now = second.Add(time.Second)
	h.receive(ra(t, 0, pio("2001:db8:1::/64", true, true, 600, 1200)))
	if got := h.nextRS(); got != second.Add(rtrSolicitationInterval) {
		t.Fatalf("after a lifetime-0 RA, next RS at %v, want %v", got.Sub(t0), second.Add(4*time.Second).Sub(t0))
	}

	h.now = h.now.Add(time.Second)
	h.receive(ra(t, 1800))
	n := len(h.sent)
	routerGone := h.now.Add(1800 * time.Second)
	// Nothing more until the router's lifetime runs out.
	h.at(routerGone.Add(-time.Nanosecond))
	if len(h.sent) != n {
		t.Fatalf("%d solicitations while a router was known", len(h.sent)-n)
	}
	// Then a new round: after 0–1 s, then 4 s.
	first := h.nextRS()
	if d := first.Sub(routerGone); d < 0 || d >= time.Second {
		t.Fatalf("after the router expired, RS after %v, want within [0, 1s)", d)
	}
	if got := h.nextRS(); got.Sub(first) != rtrSolicitationInterval {
		t.Fatalf("second RS of the new round after %v", got.Sub(first))
	}
}

func TestSolicitationWithdrawnRouter(t *testing.T) {
	h := newHarness(t, testCfg)
	h.start()
	rs := h.nextRS()
	h.receive(ra(t, 1800))
	h.now = rs.Add(time.Second)
	h.receive(ra(t, 0))
	if len(h.r.Facts().Routers) != 0 {
		t.Fatal("router with lifetime 0 kept")
	}
	// A new round starts, but not sooner than 4 s after the last RS.
	if got := h.nextRS(); got != rs.Add(rtrSolicitationInterval) {
		t.Fatalf("RS at %v after withdrawal, want %v", got.Sub(rs), rtrSolicitationInterval)
	}
}

func TestSolicitationLink(t *testing.T) {
	t.Run("down stops, up restarts", func(t *testing.T) {
		h := newHarness(t, testCfg)
		h.start()
		h.nextRS()
		h.receive(ra(t, 1800))
		h.now = h.now.Add(time.Minute)
		h.apply(h.r.LinkDown(h.now))
		if !h.deadline.Equal(h.now.Add(1800*time.Second - time.Minute)) {
			t.Fatalf("deadline %v while down, want the router's expiry", h.deadline.Sub(h.now))
		}
		h.now = h.now.Add(time.Minute)
		n := len(h.sent)
		h.apply(h.r.LinkUp(h.now))
		up := h.now
		first := h.nextRS()
		if d := first.Sub(up); d < 0 || d >= time.Second || len(h.sent) != n+1 {
			t.Fatalf("after link up, RS after %v", d)
		}
		// LinkUp on a link that is up costs nothing.
		h.receive(ra(t, 1800))
		h.apply(h.r.LinkUp(h.now))
		if h.r.soliciting {
			t.Fatal("LinkUp on an up link started solicitations")
		}
	})
	t.Run("no solicitation while down", func(t *testing.T) {
		h := newHarness(t, testCfg)
		h.apply(h.r.LinkDown(h.now))
		h.start()
		if !h.deadline.IsZero() {
			t.Fatalf("deadline %v with the link down and nothing known", h.deadline)
		}
		h.now = h.now.Add(time.Hour)
		h.apply(h.r.LinkUp(h.now))
		if d := h.nextRS().Sub(h.now); d < 0 || d > time.Second {
			t.Fatalf("first RS %v after link up", d)
		}
	})
	t.Run("down during the round", func(t *testing.T) {
		h := newHarness(t, testCfg)
		h.start()
		h.nextRS()
		h.apply(h.r.LinkDown(h.now))
		if !h.deadline.IsZero() || len(h.sent) != 1 {
			t.Fatalf("still soliciting with the link down (deadline %v)", h.deadline)
		}
	})
}

func TestSolicitationBytes(t *testing.T) {
	for _, tc := range []struct {
		name string
		mac  []byte
		want []ndp.Option
	}{
		{"ethernet", testMAC, []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: testMAC}}},
		{"no mac", nil, nil},
		{"not ethernet", make([]byte, 20), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testCfg
			cfg.HardwareAddr = tc.mac
			h := newHarness(t, cfg)
			h.start()
			h.nextRS()
			m, err := ndp.ParseMessage(h.sent[0].data)
			if err != nil {
				t.Fatal(err)
			}
			rs := m.(*ndp.RouterSolicitation)
			if len(rs.Options) != len(tc.want) {
				t.Fatalf("options %v, want %v", rs.Options, tc.want)
			}
			for i := range rs.Options {
				g, w := rs.Options[i].(*ndp.LinkLayerAddress), tc.want[i].(*ndp.LinkLayerAddress)
				if g.Direction != w.Direction || g.Addr.String() != w.Addr.String() {
					t.Fatalf("option %+v, want %+v", g, w)
				}
			}
		})
	}
}
