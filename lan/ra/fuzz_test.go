package ra

import (
	"net/netip"
	"testing"
	"time"
)

// fuzzStates brings a fresh advertiser into each state an RS can meet.
var fuzzStates = []struct {
	name  string
	build func(t testing.TB) *harness
}{
	{"idle", func(t testing.TB) *harness { return newHarness(t, 1) }},
	{"initial", func(t testing.TB) *harness { h := newHarness(t, 1); h.update(normalCfg()); return h }},
	{"steady", func(t testing.TB) *harness {
		h := newHarness(t, 1)
		h.update(normalCfg())
		h.at(t0.Add(time.Hour))
		h.after(10 * time.Second)
		return h
	}},
	{"answer pending", func(t testing.TB) *harness {
		h := newHarness(t, 1)
		h.update(normalCfg())
		h.at(t0.Add(time.Hour))
		h.solicit(validRS, host, 255)
		return h
	}},
	{"final pending", func(t testing.TB) *harness {
		h := newHarness(t, 1)
		h.update(normalCfg())
		h.after(time.Second)
		h.apply(h.a.Stop(h.now))
		return h
	}},
	{"stopped", func(t testing.TB) *harness {
		h := newHarness(t, 1)
		h.update(normalCfg())
		h.after(time.Minute)
		h.apply(h.a.Stop(h.now))
		return h
	}},
}

// FuzzSolicit feeds arbitrary bytes as an RS in every state: no panic,
// nothing sent sooner than 3 s after the last multicast RA nor later than
// 3.5 s after a valid RS's arrival or its regular schedule, and every RA
// sent parses.
func FuzzSolicit(f *testing.F) {
	f.Add(validRS)
	f.Add(validRS[:8])
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, st := range fuzzStates {
			for _, src := range []netip.Addr{host, netip.IPv6Unspecified(), netip.MustParseAddr("2001:db8::1")} {
				h := st.build(t)
				before := h.a.Counters()
				n, due := len(h.sent), h.deadline
				h.solicit(b, src, 255)
				if checkRS(b, src, 255) != nil && (len(h.sent) != n || !h.deadline.Equal(due)) {
					t.Fatalf("%s: an invalid RS changed the schedule", st.name)
				}
				h.after(4 * time.Second)
				c := h.a.Counters()
				if c.Solicitations+c.BadRS != before.Solicitations+before.BadRS+1 {
					t.Fatalf("%s: RS not counted once: %+v -> %+v", st.name, before, c)
				}
				for i := max(n, 1); i < len(h.sent); i++ {
					if h.sent[i].at.Sub(h.sent[i-1].at) < MinDelayBetweenRAs {
						t.Fatalf("%s: two RAs %v apart", st.name, h.sent[i].at.Sub(h.sent[i-1].at))
					}
				}
				for _, s := range h.sent[n:] {
					parse(t, s.pkt.Data)
				}
			}
		}
	})
}
