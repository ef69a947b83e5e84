package dhcp6

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"

	"cpe/internal/golden"
)

// fuzzStates brings a fresh client into each state a packet can meet it in.
var fuzzStates = []struct {
	name  string
	build func(t *testing.T) *harness
}{
	{"idle", func(t *testing.T) *harness { return newHarness(t, both, Persist{}) }},
	{"solicit delay", func(t *testing.T) *harness { h := newHarness(t, both, Persist{}); h.start(); return h }},
	{"soliciting", func(t *testing.T) *harness {
		h := newHarness(t, Config{IANA: true, IAPD: true, PrefixHint: 56, RapidCommit: true}, Persist{})
		h.start()
		h.next(dhcpv6.MessageTypeSolicit)
		return h
	}},
	{"requesting", func(t *testing.T) *harness { h, _ := requesting(t); return h }},
	{"bound", func(t *testing.T) *harness {
		h := newHarness(t, both, Persist{})
		bind(t, h, stdNA(h), stdPD(h))
		return h
	}},
	{"renewing", func(t *testing.T) *harness {
		h := newHarness(t, both, Persist{})
		bind(t, h, stdNA(h), stdPD(h))
		h.next(dhcpv6.MessageTypeRenew)
		return h
	}},
	{"rebinding", func(t *testing.T) *harness {
		h := newHarness(t, both, Persist{})
		bind(t, h, stdNA(h), iaPD(h.iaidPD(), 0, 0, pfx(stdPrefix, 3600, 7200)))
		h.next(dhcpv6.MessageTypeRebind)
		return h
	}},
	{"rebuilding", func(t *testing.T) *harness {
		h := newHarness(t, both, Persist{})
		bind(t, h, stdNA(h), stdPD(h))
		ren := h.next(dhcpv6.MessageTypeRenew)
		h.receive(srv.reply(ren, iaPD(h.iaidPD(), 0, 0, status(iana.StatusNoBinding))))
		return h
	}},
	{"informing", func(t *testing.T) *harness {
		h := newHarness(t, Config{InformationOnly: true}, Persist{})
		h.start()
		h.next(dhcpv6.MessageTypeInformationRequest)
		return h
	}},
	{"releasing", func(t *testing.T) *harness {
		h := newHarness(t, both, Persist{})
		bind(t, h, stdNA(h), stdPD(h))
		h.apply(h.c.Release(h.now))
		return h
	}},
	{"link down", func(t *testing.T) *harness {
		h := newHarness(t, both, Persist{})
		bind(t, h, stdNA(h), stdPD(h))
		h.apply(h.c.LinkDown(h.now))
		return h
	}},
}

// withXID returns b with the running exchange's transaction id, so the
// fuzzer gets past the first check.
func withXID(h *harness, b []byte) []byte {
	if h.c.x == nil || len(b) < 4 {
		return b
	}
	out := append([]byte(nil), b...)
	copy(out[1:4], h.c.x.xid[:])
	return out
}

func FuzzReceive(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, st := range fuzzStates {
			h := st.build(t)
			for _, pkt := range [][]byte{b, withXID(h, b)} {
				before := h.c.Counters().Received
				h.apply(h.c.Receive(h.now, pkt, serverAddr))
				c := h.c.Counters()
				if c.Received != before+1 || outcome(c) != c.Received {
					t.Fatalf("%s: packet not counted exactly once: %+v", st.name, c)
				}
				checkLease(t, h)
			}
			for range 4 {
				if h.deadline.IsZero() {
					break
				}
				h.advance()
				checkLease(t, h)
			}
		}
	})
}

func checkLease(t *testing.T, h *harness) {
	t.Helper()
	l := h.c.Lease()
	for _, a := range l.Addresses {
		if !a.Addr.IsValid() || !h.now.Before(a.Valid) || a.Preferred.After(a.Valid) {
			t.Fatalf("bad address in lease: %+v", a)
		}
	}
	for _, p := range l.Prefixes {
		if !p.Prefix.IsValid() || p.Prefix.Bits() == 0 || !h.now.Before(p.Valid) || p.Preferred.After(p.Valid) {
			t.Fatalf("bad prefix in lease: %+v", p)
		}
		if p.TooLong != (p.Prefix.Bits() > 64) {
			t.Fatalf("TooLong wrong: %+v", p)
		}
	}
	if l.Bound() && (l.T1.IsZero() || l.T2.Before(l.T1) || len(l.ServerID) == 0) && l.State == StateBound {
		t.Fatalf("bound without timers or server: %+v", l)
	}
}

// fuzzSeeds are the answers a real server gives in each state, plus a few
// broken ones; TestFuzzCorpus writes them to testdata/fuzz.
func fuzzSeeds(t testing.TB) [][]byte {
	h, req := requesting(t)
	iaid := h.iaidNA()
	na := iaNA(iaid, 1800, 2880, addr(stdAddr, 3600, 7200))
	pd := iaPD(iaid, 1800, 2880, pfx(stdPrefix, 3600, 7200))
	return [][]byte{
		srv.advertise(req, dhcpv6.OptPreference(255), na, pd).ToBytes(),
		srv.advertise(req, iaPD(iaid, 0, 0, status(iana.StatusNoPrefixAvail)), generic(dhcpv6.OptionSolMaxRT, u32(120)...)).ToBytes(),
		srv.reply(req, na, pd, domainList("isp.example"), generic(dhcpv6.OptionUnicast, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0x47)).ToBytes(),
		srv.reply(req, generic(dhcpv6.OptionRapidCommit), na, pd).ToBytes(),
		srv.reply(req, na, iaPD(iaid, 0, 0, status(iana.StatusNoBinding))).ToBytes(),
		srv.reply(req, status(iana.StatusUseMulticast)).ToBytes(),
		srv.reply(req, iaNA(iaid, 0, 0, addr(stdAddr, 0, 0)), iaPD(iaid, 5000, 100, pfx("2001:db8::/72", 9000, 100))).ToBytes(),
		srv.reply(req, generic(dhcpv6.OptionInformationRefreshTime, u32(700)...), generic(dhcpv6.OptionInfMaxRT, u32(60)...)).ToBytes(),
		srv.answer(dhcpv6.MessageTypeReconfigure, req.m).ToBytes(),
		{7, 0, 0, 0, 0, 1, 0, 10},
		{},
	}
}

// TestFuzzCorpus keeps testdata/fuzz/FuzzReceive in step with fuzzSeeds
// (rewritten with -update).
func TestFuzzCorpus(t *testing.T) {
	for i, s := range fuzzSeeds(t) {
		name := filepath.Join("fuzz", "FuzzReceive", fmt.Sprintf("seed-%02d", i))
		golden.Check(t, name, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", s))
	}
}
