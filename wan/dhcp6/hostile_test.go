package dhcp6

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
)

// outcome sums the counters every received packet lands in exactly once.
func outcome(c Counters) uint64 {
	return c.Accepted + c.Malformed + c.WrongType + c.Unexpected + c.WrongXID + c.WrongClientID +
		c.NoServerID + c.WrongServerID + c.Ignored + c.Reconfigure
}

// requesting brings a client to the point where it waits for the Reply to
// its Request.
func requesting(t testing.TB) (*harness, sent) {
	t.Helper()
	h := newHarness(t, both, Persist{})
	h.start()
	sol := h.next(dhcpv6.MessageTypeSolicit)
	h.receive(srv.advertise(sol, dhcpv6.OptPreference(255), stdNA(h), stdPD(h)))
	h.wantState(StateRequesting)
	return h, h.last()
}

func TestHostileReplies(t *testing.T) {
	valid := func(h *harness, req sent) *dhcpv6.Message { return srv.reply(req, stdNA(h), stdPD(h)) }
	for _, tc := range []struct {
		name  string
		pkt   func(h *harness, req sent) []byte
		count Counters // the counters that must have moved, by how much
		state State
		check func(t *testing.T, l Lease)
	}{
		{
			name:  "empty",
			pkt:   func(*harness, sent) []byte { return nil },
			count: Counters{Malformed: 1}, state: StateRequesting,
		},
		{
			name:  "header only",
			pkt:   func(_ *harness, req sent) []byte { return []byte{7, req.raw[1], req.raw[2], req.raw[3]} },
			count: Counters{NoServerID: 0, WrongClientID: 1}, state: StateRequesting,
		},
		{
			name: "truncated options",
			pkt: func(h *harness, req sent) []byte {
				b := valid(h, req).ToBytes()
				return b[:len(b)-7]
			},
			count: Counters{Malformed: 1}, state: StateRequesting,
		},
		{
			name: "option length past the end",
			pkt: func(h *harness, req sent) []byte {
				b := valid(h, req).ToBytes()
				return append(b, 0, 23, 0xff, 0xff, 1, 2)
			},
			count: Counters{Malformed: 1}, state: StateRequesting,
		},
		{
			name: "truncated status code in an IA",
			pkt: func(h *harness, req sent) []byte {
				return srv.reply(req, iaPD(h.iaidPD(), 0, 0, generic(dhcpv6.OptionStatusCode, 0))).ToBytes()
			},
			count: Counters{Malformed: 1}, state: StateRequesting,
		},
		{
			name: "wrong transaction id",
			pkt: func(h *harness, req sent) []byte {
				m := valid(h, req)
				m.TransactionID[0] ^= 0xff
				return m.ToBytes()
			},
			count: Counters{WrongXID: 1}, state: StateRequesting,
		},
		{
			name: "no client id",
			pkt: func(h *harness, req sent) []byte {
				m := valid(h, req)
				m.Options.Del(dhcpv6.OptionClientID)
				return m.ToBytes()
			},
			count: Counters{WrongClientID: 1}, state: StateRequesting,
		},
		{
			name: "someone else's client id",
			pkt: func(h *harness, req sent) []byte {
				m := valid(h, req)
				m.Options.Del(dhcpv6.OptionClientID)
				m.Options.Add(generic(dhcpv6.OptionClientID, 0, 3, 0, 1, 2, 0, 0, 0, 0, 9))
				return m.ToBytes()
			},
			count: Counters{WrongClientID: 1}, state: StateRequesting,
		},
		{
			name: "no server id",
			pkt: func(h *harness, req sent) []byte {
				m := valid(h, req)
				m.Options.Del(dhcpv6.OptionServerID)
				return m.ToBytes()
			},
			count: Counters{NoServerID: 1}, state: StateRequesting,
		},
		{
			name:  "another server answers a Request",
			pkt:   func(h *harness, req sent) []byte { return srv2.reply(req, stdNA(h), stdPD(h)).ToBytes() },
			count: Counters{WrongServerID: 1}, state: StateRequesting,
		},
		{
			name:  "Reconfigure",
			pkt:   func(h *harness, req sent) []byte { return srv.answer(dhcpv6.MessageTypeReconfigure, req.m).ToBytes() },
			count: Counters{Reconfigure: 1}, state: StateRequesting,
		},
		{
			name:  "a client's Solicit",
			pkt:   func(h *harness, req sent) []byte { return srv.answer(dhcpv6.MessageTypeSolicit, req.m).ToBytes() },
			count: Counters{WrongType: 1}, state: StateRequesting,
		},
		{
			name: "Relay-reply",
			pkt: func(h *harness, req sent) []byte {
				r, _ := dhcpv6.EncapsulateRelay(valid(h, req), dhcpv6.MessageTypeRelayReply, nil, nil)
				return r.ToBytes()
			},
			count: Counters{WrongType: 1}, state: StateRequesting,
		},
		{
			name:  "Advertise while requesting",
			pkt:   func(h *harness, req sent) []byte { return srv.advertise(req, stdNA(h), stdPD(h)).ToBytes() },
			count: Counters{Unexpected: 1}, state: StateRequesting,
		},
		{
			name: "wrong IAIDs only",
			pkt: func(h *harness, req sent) []byte {
				return srv.reply(req, iaNA([4]byte{9, 9, 9, 9}, 0, 0, addr(stdAddr, 3600, 7200)),
					iaPD([4]byte{9, 9, 9, 9}, 0, 0, pfx(stdPrefix, 3600, 7200))).ToBytes()
			},
			count: Counters{Ignored: 1, WrongIAID: 2}, state: StateSoliciting,
			check: func(t *testing.T, l Lease) {
				if l.Bound() {
					t.Error("bound from IAs that are not ours")
				}
			},
		},
		{
			name: "wrong IAID beside ours",
			pkt: func(h *harness, req sent) []byte {
				return srv.reply(req, iaPD([4]byte{9, 9, 9, 9}, 0, 0, pfx("2001:db8:9900::/56", 3600, 7200)), stdPD(h)).ToBytes()
			},
			count: Counters{Accepted: 1, WrongIAID: 1}, state: StateBound,
			check: func(t *testing.T, l Lease) {
				if len(l.Prefixes) != 1 || l.Prefixes[0].Prefix != netip.MustParsePrefix(stdPrefix) {
					t.Errorf("prefixes %v", l.Prefixes)
				}
			},
		},
		{
			name: "lifetimes 0",
			pkt: func(h *harness, req sent) []byte {
				return srv.reply(req, iaNA(h.iaidNA(), 0, 0, addr(stdAddr, 0, 0)),
					iaPD(h.iaidPD(), 0, 0, pfx(stdPrefix, 0, 0))).ToBytes()
			},
			count: Counters{Ignored: 1}, state: StateSoliciting,
		},
		{
			name: "T1 > T2",
			pkt: func(h *harness, req sent) []byte {
				return srv.reply(req, iaPD(h.iaidPD(), 5000, 100, pfx(stdPrefix, 4000, 7200))).ToBytes()
			},
			count: Counters{Accepted: 1, BadTimers: 1}, state: StateBound,
			check: func(t *testing.T, l Lease) {
				if got := l.T1.Sub(l.Since); got != 2000*time.Second {
					t.Errorf("T1 +%v, want the default 0.5 × 4000s", got)
				}
				if got := l.T2.Sub(l.Since); got != 3200*time.Second {
					t.Errorf("T2 +%v, want the default 0.8 × 4000s", got)
				}
			},
		},
		{
			name: "prefix longer than /64",
			pkt: func(h *harness, req sent) []byte {
				return srv.reply(req, iaPD(h.iaidPD(), 0, 0, pfx("2001:db8:ff00:1:8000::/72", 3600, 7200))).ToBytes()
			},
			count: Counters{Accepted: 1, LongPrefixes: 1}, state: StateBound,
			check: func(t *testing.T, l Lease) {
				if len(l.Prefixes) != 1 || !l.Prefixes[0].TooLong || l.Prefixes[0].Prefix.Bits() != 72 {
					t.Errorf("prefixes %+v, want the /72 kept and flagged", l.Prefixes)
				}
			},
		},
		{
			name: "preferred > valid",
			pkt: func(h *harness, req sent) []byte {
				return srv.reply(req, iaNA(h.iaidNA(), 0, 0, addr(stdAddr, 9000, 7200)),
					iaPD(h.iaidPD(), 0, 0, pfx(stdPrefix, 9000, 7200), pfx("2001:db8:cc00::/56", 3600, 7200))).ToBytes()
			},
			count: Counters{Accepted: 1, BadLifetimes: 2}, state: StateBound,
			check: func(t *testing.T, l Lease) {
				if len(l.Addresses) != 0 || len(l.Prefixes) != 1 || l.Prefixes[0].Prefix != netip.MustParsePrefix("2001:db8:cc00::/56") {
					t.Errorf("lease %+v", l)
				}
			},
		},
		{
			name: "unusable leases",
			pkt: func(h *harness, req sent) []byte {
				bad := pfx("fe80::/64", 3600, 7200)
				zero := pfx("2001:db8::/56", 3600, 7200)
				zero.Prefix = nil // prefix length 0
				return srv.reply(req, iaNA(h.iaidNA(), 0, 0, addr("fe80::5", 3600, 7200), addr("ff02::1", 3600, 7200)),
					iaPD(h.iaidPD(), 0, 0, bad, zero, pfx(stdPrefix, 3600, 7200))).ToBytes()
			},
			count: Counters{Accepted: 1, BadLeases: 4}, state: StateBound,
			check: func(t *testing.T, l Lease) {
				if len(l.Addresses) != 0 || len(l.Prefixes) != 1 {
					t.Errorf("lease %+v", l)
				}
			},
		},
		{
			name: "prefix length above 128",
			pkt: func(h *harness, req sent) []byte {
				b := srv.reply(req, iaPD(h.iaidPD(), 0, 0, pfx(stdPrefix, 3600, 7200))).ToBytes()
				// The IA Prefix length byte sits 17 bytes before the end.
				b[len(b)-17] = 200
				return b
			},
			count: Counters{Ignored: 1, BadLeases: 1}, state: StateSoliciting,
		},
		{
			name: "bad domain list is skipped, the lease taken",
			pkt: func(h *harness, req sent) []byte {
				return srv.reply(req, stdPD(h), generic(dhcpv6.OptionDomainSearchList, 9, 'x')).ToBytes()
			},
			count: Counters{Accepted: 1, BadOptions: 1}, state: StateBound,
		},
		{
			name: "duplicate IA_PD: the first counts",
			pkt: func(h *harness, req sent) []byte {
				return srv.reply(req, stdPD(h), iaPD(h.iaidPD(), 0, 0, pfx("2001:db8:dd00::/56", 3600, 7200))).ToBytes()
			},
			count: Counters{Accepted: 1}, state: StateBound,
			check: func(t *testing.T, l Lease) {
				if len(l.Prefixes) != 1 || l.Prefixes[0].Prefix != netip.MustParsePrefix(stdPrefix) {
					t.Errorf("prefixes %v", l.Prefixes)
				}
			},
		},
		{
			name: "huge lifetimes",
			pkt: func(h *harness, req sent) []byte {
				return srv.reply(req, iaPD(h.iaidPD(), 0xffffffff, 0xffffffff, pfx(stdPrefix, 0xffffffff, 0xffffffff))).ToBytes()
			},
			count: Counters{Accepted: 1}, state: StateBound,
			check: func(t *testing.T, l Lease) {
				if l.T1.Before(l.Since.Add(100 * 365 * 24 * time.Hour)) {
					t.Errorf("infinite T1 became %v", l.T1)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, req := requesting(t)
			before := h.c.Counters()
			h.apply(h.c.Receive(h.now, tc.pkt(h, req), serverAddr))
			after := h.c.Counters()
			delta := diffCounters(before, after)
			delta.Received, delta.Sent = 0, 0
			if !reflect.DeepEqual(delta, tc.count) {
				t.Errorf("counters moved by %+v, want %+v", delta, tc.count)
			}
			if after.Received != before.Received+1 || outcome(after) != after.Received {
				t.Errorf("packet not counted exactly once: %+v", after)
			}
			h.wantState(tc.state)
			if tc.check != nil {
				tc.check(t, h.c.Lease())
			}
		})
	}
}

func diffCounters(a, b Counters) Counters {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var d Counters
	vd := reflect.ValueOf(&d).Elem()
	for i := range va.NumField() {
		vd.Field(i).SetUint(vb.Field(i).Uint() - va.Field(i).Uint())
	}
	return d
}

// TestWithdrawnOnRenew: a server that answers a Renew with lifetimes 0 for
// everything takes the binding away (RFC 8415 18.2.10.1).
func TestWithdrawnOnRenew(t *testing.T) {
	h := newHarness(t, both, Persist{})
	bind(t, h, stdNA(h), stdPD(h))
	ren := h.next(dhcpv6.MessageTypeRenew)
	h.receive(srv.reply(ren, iaNA(h.iaidNA(), 0, 0, addr(stdAddr, 0, 0)),
		iaPD(h.iaidPD(), 0, 0, pfx(stdPrefix, 0, 0))))
	h.wantState(StateSoliciting)
	if l := h.lastLease(); l.Bound() || l.LastError != "server withdrew every lease" {
		t.Errorf("lease %+v", l)
	}
	// One withdrawn, one new: the new one replaces it.
	h = newHarness(t, both, Persist{})
	bind(t, h, stdNA(h), stdPD(h))
	ren = h.next(dhcpv6.MessageTypeRenew)
	h.receive(srv.reply(ren, stdNA(h), iaPD(h.iaidPD(), 1800, 2880,
		pfx(stdPrefix, 0, 0), pfx("2001:db8:ee00::/56", 3600, 7200))))
	h.wantState(StateBound)
	if l := h.lastLease(); len(l.Prefixes) != 1 || l.Prefixes[0].Prefix != netip.MustParsePrefix("2001:db8:ee00::/56") {
		t.Errorf("prefixes %+v", l.Prefixes)
	}
}

// TestRenewReplyWithoutOurIAs is treated as not received.
func TestRenewReplyWithoutOurIAs(t *testing.T) {
	h := newHarness(t, both, Persist{})
	bind(t, h, stdNA(h), stdPD(h))
	ren := h.next(dhcpv6.MessageTypeRenew)
	h.receive(srv.reply(ren))
	h.wantState(StateRenewing)
	if c := h.c.Counters(); c.Ignored != 1 {
		t.Errorf("counters %+v", c)
	}
	if retr := h.next(dhcpv6.MessageTypeRenew); retr.m.TransactionID != ren.m.TransactionID {
		t.Error("retransmission changed the transaction id")
	}
	// A NoAddrsAvail for the address while the prefix is extended.
	h.receive(srv.reply(h.last(), noAddr(h), stdPD(h)))
	h.wantState(StateBound)
	if l := h.lastLease(); len(l.Addresses) != 1 || l.LastError != "no address: NoAddrsAvail (NoAddrsAvail)" {
		t.Errorf("lease %+v: the address should run out on its own", l)
	}
	_ = iana.StatusSuccess
}
