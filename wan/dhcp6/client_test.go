package dhcp6

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"

	"cpe/internal/golden"
)

func TestSolicitRetransmissionTimes(t *testing.T) {
	h := newHarness(t, both, Persist{})
	h.start()
	if len(h.sent) != 0 {
		t.Fatal("first Solicit sent without the initial delay")
	}
	var times []time.Time
	for len(times) < 16 {
		times = append(times, h.next(dhcpv6.MessageTypeSolicit).at)
	}
	var log strings.Builder
	if d := times[0].Sub(t0); d < 0 || d > solMaxDelay {
		t.Errorf("first Solicit after %v, want 0..1s (SOL_MAX_DELAY)", d)
	}
	fmt.Fprintf(&log, "delay %v\n", times[0].Sub(t0))
	var prev time.Duration
	for i := 1; i < len(times); i++ {
		rt := times[i].Sub(times[i-1])
		fmt.Fprintf(&log, "rt%d %v\n", i, rt)
		switch {
		case i == 1:
			// RFC 8415 15: the first Solicit RT is strictly greater than IRT.
			if rt <= solTimeout || rt > solTimeout*11/10 {
				t.Errorf("RT1 = %v, want (1s, 1.1s]", rt)
			}
		default:
			doubled := rt >= prev*19/10 && rt <= prev*21/10 && rt <= solMaxRT
			capped := rt >= solMaxRT*9/10 && rt <= solMaxRT*11/10
			if !doubled && !capped {
				t.Errorf("RT%d = %v after %v: neither 2RT±10%% nor SOL_MAX_RT±10%%", i, rt, prev)
			}
		}
		prev = rt
	}
	if prev < solMaxRT*9/10 {
		t.Errorf("after 15 retransmissions RT is %v, want capped near SOL_MAX_RT", prev)
	}
	for i, s := range h.sent {
		if s.m.TransactionID != h.sent[0].m.TransactionID {
			t.Errorf("retransmission %d changed the transaction id", i)
		}
		want := min(s.at.Sub(times[0]).Truncate(10*time.Millisecond), 0xffff*10*time.Millisecond)
		if got := elapsedOf(t, s.m); got != want {
			t.Errorf("Solicit %d: elapsed %v, want %v", i, got, want)
		}
		if s.to != allServers {
			t.Errorf("Solicit sent to %v", s.to)
		}
	}
	golden.Check(t, "solicit_times.golden", []byte(log.String()))

	// The same seed gives the same times.
	h2 := newHarness(t, both, Persist{})
	h2.start()
	for i := range 16 {
		if at := h2.next(dhcpv6.MessageTypeSolicit).at; !at.Equal(times[i]) {
			t.Fatalf("run 2, Solicit %d at %v, run 1 at %v", i, at, times[i])
		}
	}
}

func TestSolMaxRTOption(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value uint32
		want  time.Duration
	}{
		{"in range", 120, 120 * time.Second},
		{"below 60 ignored", 30, solMaxRT},
		{"above 86400 ignored", 86401, solMaxRT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, both, Persist{})
			h.start()
			sol := h.next(dhcpv6.MessageTypeSolicit)
			// An Advertise with nothing in it is ignored, but its SOL_MAX_RT counts.
			h.receive(srv.advertise(sol, status(iana.StatusNoAddrsAvail),
				generic(dhcpv6.OptionSolMaxRT, u32(tc.value)...)))
			if h.c.Counters().Ignored != 1 {
				t.Fatalf("counters %+v, want the empty Advertise ignored", h.c.Counters())
			}
			var last time.Time
			var rt time.Duration
			for range 16 {
				s := h.next(dhcpv6.MessageTypeSolicit)
				if !last.IsZero() {
					rt = s.at.Sub(last)
				}
				last = s.at
			}
			if rt < tc.want*9/10 || rt > tc.want*11/10 {
				t.Errorf("RT settles at %v, want %v ± 10%%", rt, tc.want)
			}
		})
	}
}

func TestAdvertiseRequestReplyBound(t *testing.T) {
	h := newHarness(t, Config{IANA: true, IAPD: true, PrefixHint: 56}, Persist{})
	out := h.start()
	if out.Persist == nil || !bytes.Equal(out.Persist.DUID, []byte{0, 3, 0, 1, 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}) {
		t.Fatalf("first output persists %+v, want the new DUID-LL", out.Persist)
	}
	sol := h.next(dhcpv6.MessageTypeSolicit)
	if ia := iaNAOf(sol.m); ia == nil || ia.IaId != h.iaidNA() {
		t.Fatalf("Solicit IA_NA %v", ia)
	}
	if ia := iaPDOf(sol.m); ia == nil || !slices.Equal(prefixesOf(ia), []string{"::/56"}) {
		t.Fatalf("Solicit IA_PD %v, want the ::/56 hint", ia)
	}
	if sol.m.Options.GetOne(dhcpv6.OptionServerID) != nil {
		t.Error("Solicit carries a Server Identifier")
	}
	if sol.m.Options.GetOne(dhcpv6.OptionRapidCommit) != nil {
		t.Error("Rapid Commit offered without the config asking")
	}
	oro := optBytes(sol.m, dhcpv6.OptionORO)
	if !bytes.Contains(oro, []byte{0, 82}) || !bytes.Contains(oro, []byte{0, 23}) {
		t.Errorf("ORO %x lacks SOL_MAX_RT or DNS", oro)
	}

	// An Advertise without preference waits for the first RT to end.
	h.receive(srv.advertise(sol, stdNA(h), stdPD(h)))
	if h.last().m.MessageType != dhcpv6.MessageTypeSolicit {
		t.Fatal("Request sent before the first RT ended")
	}
	req := h.next(dhcpv6.MessageTypeRequest)
	if rt := req.at.Sub(sol.at); rt <= time.Second || rt > 1100*time.Millisecond {
		t.Errorf("Request %v after Solicit, want at the end of the first RT", rt)
	}
	if !bytes.Equal(optBytes(req.m, dhcpv6.OptionServerID), srv.duid) {
		t.Error("Request without the chosen server's identifier")
	}
	if req.m.TransactionID == sol.m.TransactionID {
		t.Error("Request reuses the Solicit's transaction id")
	}
	if got := elapsedOf(t, req.m); got != 0 {
		t.Errorf("first Request elapsed %v, want 0", got)
	}
	if ia := iaPDOf(req.m); ia == nil || !slices.Equal(prefixesOf(ia), []string{stdPrefix}) {
		t.Errorf("Request IA_PD %v, want the advertised prefix", ia)
	}
	if ia := iaNAOf(req.m); ia == nil || len(ia.Options.Addresses()) != 1 || ia.Options.Addresses()[0].ValidLifetime != 0 {
		t.Errorf("Request IA_NA %v, want the advertised address with lifetimes 0", ia)
	}

	h.now = h.now.Add(300 * time.Millisecond)
	h.receive(srv.reply(req, stdNA(h), stdPD(h),
		dhcpv6.OptDNS(netip.MustParseAddr("2001:db8::53").AsSlice()),
		domainList("isp.example")))
	h.wantState(StateBound)
	l := h.lastLease()
	want := Lease{
		State:      StateBound,
		Since:      h.now,
		ServerID:   srv.duid,
		ServerAddr: serverAddr.Addr(),
		Addresses:  []Address{{netip.MustParseAddr(stdAddr), h.now.Add(secs(3600)), h.now.Add(secs(7200))}},
		Prefixes: []Prefix{{Prefix: netip.MustParsePrefix(stdPrefix),
			Preferred: h.now.Add(secs(3600)), Valid: h.now.Add(secs(7200))}},
		T1:      h.now.Add(secs(1800)),
		T2:      h.now.Add(secs(2880)),
		DNS:     []netip.Addr{netip.MustParseAddr("2001:db8::53")},
		Domains: []string{"isp.example"},
	}
	if !l.Equal(want) {
		t.Errorf("lease\n got %+v\nwant %+v", l, want)
	}
	p := h.persists[len(h.persists)-1]
	if p.Lease == nil || len(p.Lease.Prefixes) != 1 || p.Lease.State != StateIdle || p.Lease.LastError != "" {
		t.Errorf("persisted lease %+v, want the binding without state", p.Lease)
	}
	if h.deadline != want.T1 {
		t.Errorf("deadline %v, want T1 %v", h.deadline, want.T1)
	}
	if c := h.c.Counters(); c.Accepted != 2 || c.Received != 2 {
		t.Errorf("counters %+v", c)
	}
}

func TestAdvertiseSelection(t *testing.T) {
	h := newHarness(t, both, Persist{})
	h.start()
	sol := h.next(dhcpv6.MessageTypeSolicit)
	// Higher preference but only an address, against one offering both.
	h.receiveFrom(srv2.advertise(sol, dhcpv6.OptPreference(200), stdNA(h)), otherAddr)
	h.receive(srv.advertise(sol, dhcpv6.OptPreference(10), stdNA(h), stdPD(h)))
	req := h.next(dhcpv6.MessageTypeRequest)
	if !bytes.Equal(optBytes(req.m, dhcpv6.OptionServerID), srv.duid) {
		t.Error("chose the server that offers fewer IAs")
	}

	// Preference 255 is taken at once.
	h = newHarness(t, both, Persist{})
	h.start()
	sol = h.next(dhcpv6.MessageTypeSolicit)
	h.receive(srv2.advertise(sol, dhcpv6.OptPreference(255), stdNA(h), stdPD(h)))
	if l := h.last(); l.m.MessageType != dhcpv6.MessageTypeRequest || !l.at.Equal(sol.at) {
		t.Fatalf("preference 255 did not trigger an immediate Request")
	}

	// After the first RT, the first usable Advertise is acted on at once.
	h = newHarness(t, both, Persist{})
	h.start()
	h.next(dhcpv6.MessageTypeSolicit)
	sol = h.next(dhcpv6.MessageTypeSolicit)
	h.receive(srv.advertise(sol, stdPD(h)))
	if h.last().m.MessageType != dhcpv6.MessageTypeRequest {
		t.Fatal("Advertise after the first RT not acted on at once")
	}
}

func TestRapidCommit(t *testing.T) {
	h := newHarness(t, Config{IANA: true, IAPD: true, RapidCommit: true}, Persist{})
	h.start()
	sol := h.next(dhcpv6.MessageTypeSolicit)
	if sol.m.Options.GetOne(dhcpv6.OptionRapidCommit) == nil {
		t.Fatal("Solicit without Rapid Commit")
	}
	// A Reply without the Rapid Commit option is not a commitment.
	h.receive(srv.reply(sol, stdNA(h), stdPD(h)))
	h.wantState(StateSoliciting)
	h.receive(srv.reply(sol, generic(dhcpv6.OptionRapidCommit), stdNA(h), stdPD(h)))
	h.wantState(StateBound)
	if n := len(h.lastLease().Prefixes); n != 1 {
		t.Errorf("%d prefixes after rapid commit", n)
	}

	// Without the config, a rapid-commit Reply is ignored.
	h = newHarness(t, both, Persist{})
	h.start()
	sol = h.next(dhcpv6.MessageTypeSolicit)
	h.receive(srv.reply(sol, generic(dhcpv6.OptionRapidCommit), stdNA(h), stdPD(h)))
	h.wantState(StateSoliciting)
}

func TestRenewRebindTimers(t *testing.T) {
	for _, tc := range []struct {
		name           string
		t1, t2         int
		pref, valid    int
		wantT1, wantT2 time.Duration
	}{
		{"server timers", 1000, 1600, 3600, 7200, secs(1000), secs(1600)},
		{"zero: 0.5 and 0.8 of preferred", 0, 0, 3600, 7200, secs(1800), secs(2880)},
		{"T2 zero: both defaults", 1000, 0, 3000, 7200, secs(1500), secs(2400)},
		{"T1 > T2: defaults", 2000, 1000, 3600, 7200, secs(1800), secs(2880)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, both, Persist{})
			ias := func() []dhcpv6.Option {
				return []dhcpv6.Option{
					iaNA(h.iaidNA(), tc.t1, tc.t2, addr(stdAddr, tc.pref, tc.valid)),
					// A longer-lived prefix: the shortest preferred lifetime rules.
					iaPD(h.iaidPD(), tc.t1, tc.t2, pfx(stdPrefix, tc.pref*2, tc.valid*2)),
				}
			}
			bind(t, h, ias()...)
			boundAt := h.now
			if l := h.lastLease(); !l.T1.Equal(boundAt.Add(tc.wantT1)) || !l.T2.Equal(boundAt.Add(tc.wantT2)) {
				t.Fatalf("T1 %v T2 %v, want +%v +%v", l.T1.Sub(boundAt), l.T2.Sub(boundAt), tc.wantT1, tc.wantT2)
			}
			ren := h.next(dhcpv6.MessageTypeRenew)
			if !ren.at.Equal(boundAt.Add(tc.wantT1)) {
				t.Errorf("Renew at +%v, want T1 +%v", ren.at.Sub(boundAt), tc.wantT1)
			}
			h.wantState(StateRenewing)
			if !bytes.Equal(optBytes(ren.m, dhcpv6.OptionServerID), srv.duid) {
				t.Error("Renew without the server's identifier")
			}
			if ia := iaPDOf(ren.m); ia == nil || !slices.Equal(prefixesOf(ia), []string{stdPrefix}) {
				t.Errorf("Renew IA_PD %v", ia)
			}
			// Renew retransmissions: REN_TIMEOUT doubling, up to T2.
			prev := ren.at
			var rts []time.Duration
			var reb sent
			for {
				s := h.nextAny()
				if s.m.MessageType == dhcpv6.MessageTypeRebind {
					reb = s
					break
				}
				rts = append(rts, s.at.Sub(prev))
				prev = s.at
			}
			if len(rts) > 0 && (rts[0] < renTimeout*9/10 || rts[0] > renTimeout*11/10) {
				t.Errorf("first Renew RT %v, want REN_TIMEOUT ±10%%", rts[0])
			}
			for _, rt := range rts {
				if rt > renMaxRT*11/10 {
					t.Errorf("Renew RT %v above REN_MAX_RT", rt)
				}
			}
			if !reb.at.Equal(boundAt.Add(tc.wantT2)) {
				t.Errorf("Rebind at +%v, want T2 +%v", reb.at.Sub(boundAt), tc.wantT2)
			}
			if reb.m.Options.GetOne(dhcpv6.OptionServerID) != nil {
				t.Error("Rebind carries a Server Identifier")
			}
			if reb.to != allServers {
				t.Errorf("Rebind to %v", reb.to)
			}
			// Nobody answers: the address expires first, then the prefix;
			// then the facts are gone and Solicit starts over.
			h.at(boundAt.Add(secs(tc.valid)))
			if l := h.lastLease(); len(l.Addresses) != 0 || len(l.Prefixes) != 1 {
				t.Fatalf("at the address's valid lifetime: %+v", l)
			}
			h.wantState(StateRebinding)
			h.at(boundAt.Add(secs(2 * tc.valid)))
			l := h.lastLease()
			if l.Bound() || l.ServerID != nil || !l.T1.IsZero() || l.LastError != "lease expired" {
				t.Errorf("after expiry: %+v", l)
			}
			h.wantState(StateSoliciting)
			if h.last().m.MessageType != dhcpv6.MessageTypeSolicit || !h.last().at.Equal(h.now) {
				t.Error("no Solicit right after expiry")
			}
			if p := h.persists[len(h.persists)-1]; p.Lease != nil {
				t.Error("expired lease still persisted")
			}
		})
	}
}

func TestRenewExtends(t *testing.T) {
	h := newHarness(t, both, Persist{})
	bind(t, h, stdNA(h), stdPD(h))
	ren := h.next(dhcpv6.MessageTypeRenew)
	retr := h.next(dhcpv6.MessageTypeRenew)
	if retr.m.TransactionID != ren.m.TransactionID {
		t.Error("Renew retransmission with a new transaction id")
	}
	if got, want := elapsedOf(t, retr.m), retr.at.Sub(ren.at).Truncate(10*time.Millisecond); got != want {
		t.Errorf("elapsed %v, want %v", got, want)
	}
	// The server extends the prefix, withdraws the address and gives a new one.
	h.receive(srv.reply(retr,
		iaNA(h.iaidNA(), 1800, 2880, addr(stdAddr, 0, 0), addr("2001:db8:1::200", 3600, 7200)),
		iaPD(h.iaidPD(), 1800, 2880, pfx(stdPrefix, 3600, 7200))))
	h.wantState(StateBound)
	l := h.lastLease()
	if len(l.Addresses) != 1 || l.Addresses[0].Addr != netip.MustParseAddr("2001:db8:1::200") {
		t.Errorf("addresses %+v, want only the new one", l.Addresses)
	}
	if !l.Prefixes[0].Valid.Equal(h.now.Add(secs(7200))) || !l.T1.Equal(h.now.Add(secs(1800))) {
		t.Errorf("prefix or T1 not extended: %+v", l)
	}
}

func TestNoBindingOnRenew(t *testing.T) {
	for _, typ := range []dhcpv6.MessageType{dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRebind} {
		t.Run(typ.String(), func(t *testing.T) {
			h := newHarness(t, both, Persist{})
			bind(t, h, stdNA(h), stdPD(h))
			msg := h.next(typ)
			from := srv
			if typ == dhcpv6.MessageTypeRebind {
				from = srv2 // Rebind may be answered by another server
			}
			h.receive(from.reply(msg, stdNA(h), iaPD(h.iaidPD(), 0, 0, status(iana.StatusNoBinding))))
			h.wantState(StateRequesting)
			req := h.last()
			if req.m.MessageType != dhcpv6.MessageTypeRequest {
				t.Fatalf("NoBinding answered with %s", req.m.MessageType)
			}
			if !bytes.Equal(optBytes(req.m, dhcpv6.OptionServerID), from.duid) {
				t.Error("Request not to the server that answered")
			}
			if iaNAOf(req.m) != nil || iaPDOf(req.m) == nil {
				t.Error("Request should carry only the IA the server lost")
			}
			if l := h.lastLease(); len(l.Addresses) != 1 || len(l.Prefixes) != 1 {
				t.Errorf("leases dropped while rebuilding: %+v", l)
			}
			h.receive(from.reply(req, iaPD(h.iaidPD(), 1800, 2880, pfx("2001:db8:aa00::/56", 3600, 7200))))
			h.wantState(StateBound)
			if l := h.lastLease(); len(l.Prefixes) != 1 || l.Prefixes[0].Prefix != netip.MustParsePrefix("2001:db8:aa00::/56") ||
				len(l.Addresses) != 1 || !bytes.Equal(l.ServerID, from.duid) {
				t.Errorf("after rebuild: %+v", l)
			}
		})
	}
}

func TestPartialAnswers(t *testing.T) {
	for _, tc := range []struct {
		name           string
		na, pd         func(h *harness) dhcpv6.Option
		wantNA, wantPD int
		wantErr        string
	}{
		{"only IA_NA", stdNAopt, noPrefix, 1, 0, "no prefix: NoPrefixAvail (NoPrefixAvail)"},
		{"only IA_PD", noAddr, stdPDopt, 0, 1, "no address: NoAddrsAvail (NoAddrsAvail)"},
		{"IA_PD missing", stdNAopt, nil, 1, 0, "no prefix: IA not in reply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, both, Persist{})
			var ias []dhcpv6.Option
			for _, f := range []func(*harness) dhcpv6.Option{tc.na, tc.pd} {
				if f != nil {
					ias = append(ias, f(h))
				}
			}
			bind(t, h, ias...)
			l := h.lastLease()
			if len(l.Addresses) != tc.wantNA || len(l.Prefixes) != tc.wantPD || l.LastError != tc.wantErr {
				t.Fatalf("lease %+v", l)
			}
			// The Renew asks for the missing IA again, empty.
			ren := h.next(dhcpv6.MessageTypeRenew)
			na, pd := iaNAOf(ren.m), iaPDOf(ren.m)
			if na == nil || pd == nil {
				t.Fatalf("Renew without both IAs: %v", ren.m.Summary())
			}
			if len(na.Options.Addresses()) != tc.wantNA || len(pd.Options.Prefixes()) != tc.wantPD {
				t.Errorf("Renew IAs carry %d addresses, %d prefixes", len(na.Options.Addresses()), len(pd.Options.Prefixes()))
			}
			// This time the server has both.
			h.receive(srv.reply(ren, stdNA(h), stdPD(h)))
			if l := h.lastLease(); len(l.Addresses) != 1 || len(l.Prefixes) != 1 {
				t.Errorf("after the renew: %+v", l)
			}
		})
	}
}

func stdNAopt(h *harness) dhcpv6.Option { return stdNA(h) }
func stdPDopt(h *harness) dhcpv6.Option { return stdPD(h) }
func noAddr(h *harness) dhcpv6.Option {
	return iaNA(h.iaidNA(), 0, 0, status(iana.StatusNoAddrsAvail))
}
func noPrefix(h *harness) dhcpv6.Option {
	return iaPD(h.iaidPD(), 0, 0, status(iana.StatusNoPrefixAvail))
}

func TestHintRefused(t *testing.T) {
	cfg := Config{IAPD: true, PrefixHint: 56}
	h := newHarness(t, cfg, Persist{})
	h.start()
	sol := h.next(dhcpv6.MessageTypeSolicit)
	if got := prefixesOf(iaPDOf(sol.m)); !slices.Equal(got, []string{"::/56"}) {
		t.Fatalf("Solicit prefixes %v, want the hint", got)
	}
	h.receive(srv.advertise(sol, noPrefix(h)))
	// A new Solicit at once, new transaction, no hint.
	again := h.last()
	if again.m.MessageType != dhcpv6.MessageTypeSolicit || again.m.TransactionID == sol.m.TransactionID || !again.at.Equal(h.now) {
		t.Fatalf("after a refused hint sent %s", again.m.Summary())
	}
	if got := prefixesOf(iaPDOf(again.m)); len(got) != 0 {
		t.Errorf("retry still hints %v", got)
	}
	l := h.lastLease()
	if !l.HintRefused || !strings.Contains(l.LastError, "hint /56 refused") {
		t.Errorf("lease %+v, want the refusal recorded", l)
	}
	p := h.persists[len(h.persists)-1]
	if p.RefusedHint != 56 {
		t.Errorf("persisted RefusedHint %d", p.RefusedHint)
	}
	h.receive(srv.advertise(again, dhcpv6.OptPreference(255), stdPD(h)))
	h.receive(srv.reply(h.last(), stdPD(h)))
	h.wantState(StateBound)

	// The refusal survives a restart with the same hint...
	h2 := newHarness(t, cfg, p)
	h2.start()
	if got := prefixesOf(iaPDOf(h2.next(dhcpv6.MessageTypeSolicit).m)); len(got) != 0 {
		t.Errorf("after restart the Solicit hints %v", got)
	}
	// ...and a different configured hint is tried again.
	h3 := newHarness(t, Config{IAPD: true, PrefixHint: 60}, p)
	h3.start()
	if got := prefixesOf(iaPDOf(h3.next(dhcpv6.MessageTypeSolicit).m)); !slices.Equal(got, []string{"::/60"}) {
		t.Errorf("a new hint is not tried: %v", got)
	}
}

func TestHintRefusedWithAddress(t *testing.T) {
	h := newHarness(t, Config{IANA: true, IAPD: true, PrefixHint: 48}, Persist{})
	h.start()
	sol := h.next(dhcpv6.MessageTypeSolicit)
	// The server offers an address and no prefix for the hinted IA_PD.
	h.receive(srv.advertise(sol, dhcpv6.OptPreference(255), stdNA(h)))
	req := h.last()
	if req.m.MessageType != dhcpv6.MessageTypeRequest {
		t.Fatalf("sent %s", req.m.MessageType)
	}
	if pd := iaPDOf(req.m); pd == nil || len(pd.Options.Prefixes()) != 0 {
		t.Errorf("Request IA_PD %v, want empty (no hint)", pd)
	}
	if !h.lastLease().HintRefused {
		t.Error("refusal not recorded")
	}
}

func TestUseMulticast(t *testing.T) {
	unicast := netip.MustParseAddr("2001:db8::547")
	h := newHarness(t, both, Persist{})
	h.start()
	sol := h.next(dhcpv6.MessageTypeSolicit)
	h.receive(srv.advertise(sol, dhcpv6.OptPreference(255), stdNA(h), stdPD(h),
		generic(dhcpv6.OptionUnicast, unicast.AsSlice()...)))
	req := h.last()
	if req.to != netip.AddrPortFrom(unicast, 547) {
		t.Fatalf("Request to %v, want the Server Unicast address", req.to)
	}
	h.receive(srv.reply(req, status(iana.StatusUseMulticast)))
	again := h.last()
	if again.m.MessageType != dhcpv6.MessageTypeRequest || again.to != allServers || !again.at.Equal(h.now) ||
		again.m.TransactionID != req.m.TransactionID {
		t.Fatalf("after UseMulticast: %s to %v", again.m.MessageType, again.to)
	}
	h.receive(srv.reply(again, stdNA(h), stdPD(h)))
	h.wantState(StateBound)
	if ren := h.next(dhcpv6.MessageTypeRenew); ren.to != allServers {
		t.Errorf("Renew to %v after UseMulticast", ren.to)
	}

	// Without UseMulticast, Renew goes unicast too; Rebind never does.
	h = newHarness(t, both, Persist{})
	h.start()
	sol = h.next(dhcpv6.MessageTypeSolicit)
	h.receive(srv.advertise(sol, dhcpv6.OptPreference(255), stdNA(h), stdPD(h),
		generic(dhcpv6.OptionUnicast, unicast.AsSlice()...)))
	h.receive(srv.reply(h.last(), stdNA(h), stdPD(h)))
	if ren := h.next(dhcpv6.MessageTypeRenew); ren.to.Addr() != unicast {
		t.Errorf("Renew to %v, want unicast", ren.to)
	}
	if reb := h.next(dhcpv6.MessageTypeRebind); reb.to != allServers {
		t.Errorf("Rebind to %v", reb.to)
	}
}

func TestFailureStatusRetransmits(t *testing.T) {
	h := newHarness(t, both, Persist{})
	h.start()
	sol := h.next(dhcpv6.MessageTypeSolicit)
	h.receive(srv.advertise(sol, dhcpv6.OptPreference(255), stdNA(h), stdPD(h)))
	req := h.last()
	h.receive(srv.reply(req, status(iana.StatusUnspecFail)))
	h.wantState(StateRequesting)
	if h.last().at != req.at || len(h.sent) != 2 {
		t.Fatal("UnspecFail triggered a send out of schedule")
	}
	if l := h.lastLease(); !strings.HasPrefix(l.LastError, "server: UnspecFail") || !l.LastErrorAt.Equal(h.now) {
		t.Errorf("error %q at %v", l.LastError, l.LastErrorAt)
	}
	retr := h.next(dhcpv6.MessageTypeRequest)
	if retr.m.TransactionID != req.m.TransactionID || retr.at.Sub(req.at) < 900*time.Millisecond {
		t.Errorf("retransmission at +%v", retr.at.Sub(req.at))
	}
}

func TestRequestGivesUp(t *testing.T) {
	h := newHarness(t, both, Persist{})
	h.start()
	sol := h.next(dhcpv6.MessageTypeSolicit)
	h.receive(srv.advertise(sol, dhcpv6.OptPreference(255), stdNA(h), stdPD(h)))
	for h.c.State() == StateRequesting {
		h.advance()
	}
	n := 0
	for _, s := range h.sent {
		if s.m.MessageType == dhcpv6.MessageTypeRequest {
			n++
		}
	}
	if n != reqMaxRC {
		t.Errorf("%d Requests, want REQ_MAX_RC %d", n, reqMaxRC)
	}
	h.wantState(StateSoliciting)
	if h.lastLease().LastError != "no reply to Request" {
		t.Errorf("last error %q", h.lastLease().LastError)
	}
}

func TestNothingGrantedBacksOff(t *testing.T) {
	h := newHarness(t, both, Persist{})
	h.start()
	sol := h.next(dhcpv6.MessageTypeSolicit)
	var gaps []time.Duration
	for range 4 {
		h.receive(srv.advertise(sol, dhcpv6.OptPreference(255), stdNA(h), stdPD(h)))
		h.receive(srv.reply(h.last(), noAddr(h), noPrefix(h)))
		h.wantState(StateSoliciting)
		failedAt := h.now
		sol = h.next(dhcpv6.MessageTypeSolicit)
		gaps = append(gaps, sol.at.Sub(failedAt))
	}
	for i := 1; i < len(gaps); i++ {
		if gaps[i] <= gaps[i-1] {
			t.Errorf("restart delays %v do not grow", gaps)
			break
		}
	}
	if gaps[0] < time.Second {
		t.Errorf("first restart after %v, want a backoff of about 1s", gaps[0])
	}
}

func TestRestartRebinds(t *testing.T) {
	h := newHarness(t, Config{IANA: true, IAPD: true, PrefixHint: 56}, Persist{})
	bind(t, h, stdNA(h), stdPD(h))
	saved := h.persists[len(h.persists)-1]
	raw, err := json.Marshal(saved)
	if err != nil {
		t.Fatal(err)
	}
	var p Persist
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if !p.Equal(saved) {
		t.Fatalf("JSON round trip changed Persist:\n%s", raw)
	}

	// Ten minutes later, a new process with what was saved.
	h2 := newHarness(t, Config{IANA: true, IAPD: true, PrefixHint: 56}, p)
	h2.now = h.now.Add(10 * time.Minute)
	out := h2.start()
	if out.Persist != nil {
		t.Errorf("restart re-persisted an unchanged identity: %+v", out.Persist)
	}
	if l := h2.lastLease(); len(l.Prefixes) != 1 || l.State != StateRebinding {
		t.Fatalf("restored lease %+v", l)
	}
	first := h2.next(dhcpv6.MessageTypeRebind)
	if d := first.at.Sub(h2.now); d < 0 || d > cnfMaxDelay {
		t.Errorf("Rebind after %v", d)
	}
	for _, s := range h2.sent {
		if s.m.MessageType == dhcpv6.MessageTypeRelease {
			t.Fatal("Release sent on restart")
		}
	}
	if !bytes.Equal(optBytes(first.m, dhcpv6.OptionClientID), optBytes(h.sent[0].m, dhcpv6.OptionClientID)) {
		t.Error("DUID changed across restart")
	}
	if iaNAOf(first.m).IaId != iaNAOf(h.sent[0].m).IaId || iaPDOf(first.m).IaId != iaPDOf(h.sent[0].m).IaId {
		t.Error("IAIDs changed across restart")
	}
	if got := prefixesOf(iaPDOf(first.m)); !slices.Equal(got, []string{stdPrefix}) {
		t.Errorf("Rebind asks for %v", got)
	}
	h2.receiveFrom(srv.reply(first, stdNA(h2), stdPD(h2)), otherAddr)
	h2.wantState(StateBound)
	if l := h2.lastLease(); l.ServerAddr != otherAddr.Addr() {
		t.Errorf("server address %v", l.ServerAddr)
	}
}

func TestRestartNoAnswerFallsBack(t *testing.T) {
	h := newHarness(t, both, Persist{})
	bind(t, h, stdNA(h), stdPD(h))
	p := h.persists[len(h.persists)-1]
	for _, tc := range []struct {
		name  string
		after time.Duration
		want  State
		send  dhcpv6.MessageType
	}{
		{"before T1", 10 * time.Minute, StateBound, dhcpv6.MessageTypeRenew},
		{"between T1 and T2", 35 * time.Minute, StateRenewing, dhcpv6.MessageTypeRenew},
		{"after T2", 50 * time.Minute, StateRebinding, dhcpv6.MessageTypeRebind},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h2 := newHarness(t, both, p)
			h2.now = h.now.Add(tc.after)
			h2.start()
			var rebinds int
			for h2.c.x != nil && h2.c.x.purpose == forConfirm {
				n := len(h2.sent)
				h2.advance()
				for _, s := range h2.sent[n:] {
					if s.m.MessageType == dhcpv6.MessageTypeRebind {
						rebinds++
					}
				}
			}
			// CNF timers: 1, 2, 4, 4 s within 10 s.
			if rebinds < 3 || rebinds > 5 {
				t.Errorf("%d confirm-style Rebinds", rebinds)
			}
			h2.wantState(tc.want)
			h2.next(tc.send)
		})
	}
	// Expired while down: Solicit, lease dropped and no longer persisted.
	h3 := newHarness(t, both, p)
	h3.now = h.now.Add(3 * time.Hour)
	out := h3.start()
	h3.wantState(StateSoliciting)
	if out.Persist == nil || out.Persist.Lease != nil {
		t.Errorf("expired lease not dropped from Persist: %+v", out.Persist)
	}
}

func TestLinkDownUp(t *testing.T) {
	h := newHarness(t, both, Persist{})
	bind(t, h, stdNA(h), stdPD(h))
	h.now = h.now.Add(time.Minute)
	h.apply(h.c.LinkDown(h.now))
	h.wantState(StateLinkDown)
	n := len(h.sent)
	h.at(h.now.Add(time.Hour)) // past T1 and T2: nothing may be sent
	if len(h.sent) != n {
		t.Fatalf("sent %s while the link is down", h.last().m.MessageType)
	}
	if l := h.lastLease(); len(l.Prefixes) != 1 {
		t.Fatal("lease dropped on link down")
	}
	h.apply(h.c.LinkUp(h.now))
	reb := h.next(dhcpv6.MessageTypeRebind)
	if d := reb.at.Sub(h.now); d > time.Second {
		t.Errorf("Rebind %v after link up", d)
	}
	h.receive(srv.reply(reb, stdNA(h), stdPD(h)))
	h.wantState(StateBound)

	// Down until the leases expire: facts withdrawn, Solicit on link up.
	h.apply(h.c.LinkDown(h.now))
	h.at(h.now.Add(3 * time.Hour))
	if l := h.lastLease(); l.Bound() || l.LastError != "lease expired" {
		t.Fatalf("lease %+v", l)
	}
	h.wantState(StateLinkDown)
	h.apply(h.c.LinkUp(h.now))
	h.wantState(StateSoliciting)
	h.next(dhcpv6.MessageTypeSolicit)
}

func TestForceRenew(t *testing.T) {
	h := newHarness(t, both, Persist{})
	bind(t, h, stdNA(h), stdPD(h))
	h.now = h.now.Add(time.Minute)
	h.apply(h.c.ForceRenew(h.now))
	if s := h.last(); s.m.MessageType != dhcpv6.MessageTypeRenew || !s.at.Equal(h.now) {
		t.Fatalf("ForceRenew sent %s", s.m.MessageType)
	}
	h.receive(srv.reply(h.last(), stdNA(h), stdPD(h)))
	h.wantState(StateBound)

	// Without a lease it restarts Solicit at once.
	h = newHarness(t, both, Persist{})
	h.start()
	h.next(dhcpv6.MessageTypeSolicit)
	h.next(dhcpv6.MessageTypeSolicit)
	h.now = h.now.Add(100 * time.Millisecond)
	h.apply(h.c.ForceRenew(h.now))
	if s := h.last(); s.m.MessageType != dhcpv6.MessageTypeSolicit || !s.at.Equal(h.now) || elapsedOf(t, s.m) != 0 {
		t.Error("ForceRenew without a lease did not start a new Solicit")
	}
}

func TestRelease(t *testing.T) {
	h := newHarness(t, both, Persist{})
	bind(t, h, stdNA(h), stdPD(h))
	h.apply(h.c.Release(h.now))
	rel := h.last()
	if rel.m.MessageType != dhcpv6.MessageTypeRelease || !bytes.Equal(optBytes(rel.m, dhcpv6.OptionServerID), srv.duid) {
		t.Fatalf("sent %s", rel.m.Summary())
	}
	if got := prefixesOf(iaPDOf(rel.m)); !slices.Equal(got, []string{stdPrefix}) {
		t.Errorf("Release IA_PD %v", got)
	}
	if l := h.lastLease(); l.Bound() || l.State != StateReleasing {
		t.Errorf("lease still held while releasing: %+v", l)
	}
	if p := h.persists[len(h.persists)-1]; p.Lease != nil {
		t.Error("released lease still persisted")
	}
	for h.c.State() == StateReleasing {
		h.advance()
	}
	n := 0
	for _, s := range h.sent {
		if s.m.MessageType == dhcpv6.MessageTypeRelease {
			n++
		}
	}
	if n != relMaxRC {
		t.Errorf("%d Releases, want REL_MAX_RC %d", n, relMaxRC)
	}
	h.wantState(StateReleased)
	if !h.deadline.IsZero() {
		t.Errorf("deadline %v after release", h.deadline)
	}

	// A Reply ends it early.
	h = newHarness(t, both, Persist{})
	bind(t, h, stdNA(h), stdPD(h))
	h.apply(h.c.Release(h.now))
	h.receive(srv.reply(h.last(), status(iana.StatusSuccess)))
	h.wantState(StateReleased)
}

func TestInformationOnly(t *testing.T) {
	h := newHarness(t, Config{InformationOnly: true, IANA: true}, Persist{})
	h.start()
	inf := h.next(dhcpv6.MessageTypeInformationRequest)
	if d := inf.at.Sub(t0); d > infMaxDelay {
		t.Errorf("Information-request after %v", d)
	}
	if iaNAOf(inf.m) != nil || iaPDOf(inf.m) != nil {
		t.Error("Information-request carries an IA")
	}
	if oro := optBytes(inf.m, dhcpv6.OptionORO); !bytes.Contains(oro, []byte{0, 32}) || !bytes.Contains(oro, []byte{0, 83}) {
		t.Errorf("ORO %x lacks IRT or INF_MAX_RT", oro)
	}
	retr := h.next(dhcpv6.MessageTypeInformationRequest)
	if rt := retr.at.Sub(inf.at); rt < 900*time.Millisecond || rt > 1100*time.Millisecond {
		t.Errorf("INF RT %v", rt)
	}
	h.receive(srv.reply(retr, dhcpv6.OptDNS(netip.MustParseAddr("2001:db8::53").AsSlice()),
		domainList("a.example", "b.example"),
		generic(dhcpv6.OptionInformationRefreshTime, u32(60)...)))
	h.wantState(StateInformed)
	l := h.lastLease()
	if len(l.DNS) != 1 || !slices.Equal(l.Domains, []string{"a.example", "b.example"}) || l.Bound() {
		t.Errorf("lease %+v", l)
	}
	// IRT 60 s is raised to IRT_MINIMUM.
	if want := h.now.Add(irtMinimum); !h.deadline.Equal(want) {
		t.Errorf("refresh at %v, want +600s", h.deadline.Sub(h.now))
	}
	again := h.next(dhcpv6.MessageTypeInformationRequest)
	if again.m.TransactionID == retr.m.TransactionID {
		t.Error("refresh reuses the transaction id")
	}
	if p := h.persists; len(p) > 0 && p[len(p)-1].Lease != nil {
		t.Error("stateless information persisted as a lease")
	}
}

func TestNoIAIsStateless(t *testing.T) {
	h := newHarness(t, Config{}, Persist{})
	h.start()
	h.next(dhcpv6.MessageTypeInformationRequest)
}

func TestPartialExpiry(t *testing.T) {
	h := newHarness(t, both, Persist{})
	bind(t, h, stdNA(h), iaPD(h.iaidPD(), 1800, 2880,
		pfx(stdPrefix, 3600, 7200), pfx("2001:db8:bb00::/56", 600, 1000)))
	boundAt := h.now
	h.at(boundAt.Add(secs(1000)))
	l := h.lastLease()
	if len(l.Prefixes) != 1 || l.Prefixes[0].Prefix != netip.MustParsePrefix(stdPrefix) {
		t.Fatalf("prefixes %+v", l.Prefixes)
	}
	h.wantState(StateBound)
	if !h.lastLease().T1.Equal(boundAt.Add(secs(1800))) {
		t.Error("T1 changed when one prefix expired")
	}
}

func TestIdentity(t *testing.T) {
	c, err := New(Options{Config: both, HardwareAddr: testMAC, Rand: seeded(9)})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Persist()
	if p.DUID.String() != "00:03:00:01:02:00:5e:10:00:01" || p.IAIDNA != 0x5e100001 || p.IAIDPD != 0x5e100001 {
		t.Errorf("identity %s %x %x", p.DUID, p.IAIDNA, p.IAIDPD)
	}
	// Another seed, same MAC: same identity.
	c2, _ := New(Options{Config: both, HardwareAddr: testMAC, Rand: seeded(10)})
	if !c2.Persist().Equal(p) {
		t.Error("identity depends on randomness")
	}
	// No MAC: a DUID-UUID, kept through Persist.
	c3, _ := New(Options{Config: both, Rand: seeded(3)})
	p3 := c3.Persist()
	if len(p3.DUID) != 18 || p3.DUID[1] != 4 {
		t.Errorf("DUID without MAC: %s", p3.DUID)
	}
	c4, _ := New(Options{Config: both, Persist: p3, HardwareAddr: testMAC, Rand: seeded(4)})
	if !c4.Persist().Equal(p3) {
		t.Error("saved identity not reused")
	}
	if _, err := New(Options{Config: Config{IAPD: true, PrefixHint: 129}}); err == nil {
		t.Error("prefix hint /129 accepted")
	}
	var d DUID
	if err := d.UnmarshalText([]byte("00:03:00:01:02:00:5e:10:00:01")); err != nil || !bytes.Equal(d, p.DUID) {
		t.Errorf("DUID text round trip: %v %s", err, d)
	}
}

func TestStateText(t *testing.T) {
	for s := StateIdle; s <= StateLinkDown; s++ {
		b, _ := s.MarshalText()
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%s: %v", b, err)
		}
	}
	var s State
	if s.UnmarshalText([]byte("nonsense")) == nil {
		t.Error("unknown state accepted")
	}
}

func TestAdvertiseWithFailureStatusIgnored(t *testing.T) {
	h := newHarness(t, both, Persist{})
	h.start()
	sol := h.next(dhcpv6.MessageTypeSolicit)
	h.receive(srv.advertise(sol, dhcpv6.OptPreference(255), status(iana.StatusNoAddrsAvail), stdNA(h), stdPD(h)))
	h.wantState(StateSoliciting)
	if c := h.c.Counters(); c.Ignored != 1 || c.Accepted != 0 {
		t.Errorf("counters %+v", c)
	}
	if l := h.lastLease(); !strings.Contains(l.LastError, "NoAddrsAvail") {
		t.Errorf("last error %q", l.LastError)
	}
}

func TestRebuildKeepsOtherSchedule(t *testing.T) {
	h := newHarness(t, both, Persist{})
	bind(t, h, stdNA(h), stdPD(h))
	ren := h.next(dhcpv6.MessageTypeRenew)
	// The address is extended for a short while only; the prefix was lost.
	h.receive(srv.reply(ren, iaNA(h.iaidNA(), 100, 160, addr(stdAddr, 3600, 7200)),
		iaPD(h.iaidPD(), 0, 0, status(iana.StatusNoBinding))))
	req := h.last()
	h.now = h.now.Add(time.Second)
	h.receive(srv.reply(req, iaPD(h.iaidPD(), 1800, 2880, pfx(stdPrefix, 3600, 7200))))
	h.wantState(StateBound)
	if got := h.lastLease().T1; !got.Equal(ren.at.Add(100 * time.Second)) {
		t.Errorf("T1 %v after the rebuild, want the address's +100s", got.Sub(ren.at))
	}
}

// TestRenewKeepsUnmentionedLeases: leases a Reply does not mention stay as
// they were (RFC 8415 18.2.10.1).
func TestRenewKeepsUnmentionedLeases(t *testing.T) {
	h := newHarness(t, Config{IAPD: true}, Persist{})
	bind(t, h, iaPD(h.iaidPD(), 1800, 2880, pfx(stdPrefix, 3600, 7200), pfx("2001:db8:bb00::/56", 3600, 7200)))
	boundAt := h.now
	ren := h.next(dhcpv6.MessageTypeRenew)
	if got := prefixesOf(iaPDOf(ren.m)); len(got) != 2 {
		t.Fatalf("Renew asks for %v", got)
	}
	h.receive(srv.reply(ren, stdPD(h)))
	l := h.lastLease()
	if len(l.Prefixes) != 2 {
		t.Fatalf("prefixes %+v, want both", l.Prefixes)
	}
	for _, p := range l.Prefixes {
		want := boundAt.Add(secs(7200))
		if p.Prefix == netip.MustParsePrefix(stdPrefix) {
			want = h.now.Add(secs(7200))
		}
		if !p.Valid.Equal(want) {
			t.Errorf("%s valid until %v, want %v", p.Prefix, p.Valid, want)
		}
	}
}
