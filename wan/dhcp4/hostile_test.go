package dhcp4

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestHostileReplies feeds broken or malicious replies to a client waiting
// for an OFFER (SELECTING) or an ACK (REQUESTING). Each one is either
// dropped, leaving the state alone, or accepted with the bad part ignored;
// either way it is counted.
func TestHostileReplies(t *testing.T) {
	const (
		offer = dhcpv4.MessageTypeOffer
		ack   = dhcpv4.MessageTypeAck
	)
	edit := func(f func(b []byte)) func(t testing.TB, req []byte, typ dhcpv4.MessageType) []byte {
		return func(t testing.TB, req []byte, typ dhcpv4.MessageType) []byte {
			b := answer(t, req, typ)
			f(b)
			return b
		}
	}
	with := func(mods ...mod) func(t testing.TB, req []byte, typ dhcpv4.MessageType) []byte {
		return func(t testing.TB, req []byte, typ dhcpv4.MessageType) []byte { return answer(t, req, typ, mods...) }
	}
	var (
		malformed     = func(n Counters) uint64 { return n.Malformed }
		badAddress    = func(n Counters) uint64 { return n.BadAddress }
		badLease      = func(n Counters) uint64 { return n.BadLeaseTime }
		badMask       = func(n Counters) uint64 { return n.BadSubnetMask }
		badOption     = func(n Counters) uint64 { return n.BadOption }
		unexpected    = func(n Counters) uint64 { return n.Unexpected }
		noMessageType = func(n Counters) uint64 { return n.NoMessageType }
	)
	tests := []struct {
		name     string
		stage    dhcpv4.MessageType // the reply the client waits for
		build    func(t testing.TB, req []byte, typ dhcpv4.MessageType) []byte
		counter  func(Counters) uint64
		accepted bool
		check    func(t *testing.T, l Lease)
	}{
		{name: "empty", stage: offer, counter: malformed,
			build: func(testing.TB, []byte, dhcpv4.MessageType) []byte { return nil }},
		{name: "truncated header", stage: offer, counter: malformed,
			build: func(t testing.TB, req []byte, typ dhcpv4.MessageType) []byte { return answer(t, req, typ)[:100] }},
		{name: "truncated options", stage: ack, counter: malformed,
			build: func(t testing.TB, req []byte, typ dhcpv4.MessageType) []byte { return answer(t, req, typ)[:250] }},
		{name: "bad magic cookie", stage: offer, counter: malformed, build: edit(func(b []byte) { b[236] = 0 })},
		{name: "option overruns the packet", stage: offer, counter: malformed,
			build: func(t testing.TB, req []byte, typ dhcpv4.MessageType) []byte {
				b := answer(t, req, typ)[:240]
				return append(b, optMessageType, 1, byte(typ), optServerID, 200, 1, 2)
			}},
		{name: "op BOOTREQUEST", stage: offer, counter: func(n Counters) uint64 { return n.NotReply },
			build: edit(func(b []byte) { b[0] = 1 })},
		{name: "wrong xid", stage: offer, counter: func(n Counters) uint64 { return n.WrongXID },
			build: edit(func(b []byte) { b[4] ^= 0xff })},
		{name: "wrong chaddr", stage: ack, counter: func(n Counters) uint64 { return n.WrongHWAddr },
			build: edit(func(b []byte) { b[28+5] ^= 1 })},
		{name: "chaddr length 16", stage: offer, counter: func(n Counters) uint64 { return n.WrongHWAddr },
			build: edit(func(b []byte) { b[2] = 16 })},
		{name: "foreign client id", stage: offer, counter: func(n Counters) uint64 { return n.WrongClientID },
			build: with(opt(optClientID, []byte{1, 2, 0, 0x5e, 0, 0, 9}))},
		{name: "no message type", stage: offer, counter: noMessageType, build: with(without(optMessageType))},
		{name: "message type 0", stage: offer, counter: noMessageType, build: with(opt(optMessageType, []byte{0}))},
		{name: "message type 99", stage: offer, counter: noMessageType, build: with(opt(optMessageType, []byte{99}))},
		{name: "message type two bytes", stage: offer, counter: noMessageType, build: with(opt(optMessageType, []byte{2, 2}))},
		{name: "ACK while SELECTING", stage: offer, counter: unexpected,
			build: func(t testing.TB, req []byte, _ dhcpv4.MessageType) []byte { return answer(t, req, ack) }},
		{name: "OFFER while REQUESTING", stage: ack, counter: unexpected,
			build: func(t testing.TB, req []byte, _ dhcpv4.MessageType) []byte { return answer(t, req, offer) }},
		{name: "DISCOVER looped back", stage: offer, counter: unexpected,
			build: with(opt(optMessageType, []byte{byte(dhcpv4.MessageTypeDiscover)}))},
		{name: "zero lease time", stage: offer, counter: badLease, build: with(opt(optLeaseTime, u32(0)))},
		{name: "zero lease time in ACK", stage: ack, counter: badLease, build: with(opt(optLeaseTime, u32(0)))},
		{name: "no lease time", stage: offer, counter: badLease, build: with(without(optLeaseTime))},
		{name: "lease time of 3 bytes", stage: ack, counter: badLease, build: with(opt(optLeaseTime, []byte{0, 1, 0}))},
		{name: "mask not contiguous", stage: offer, counter: badMask, build: with(opt(optSubnetMask, ip("255.0.255.0")))},
		{name: "mask with a hole", stage: ack, counter: badMask, build: with(opt(optSubnetMask, ip("255.255.253.0")))},
		{name: "mask zero", stage: offer, counter: badMask, build: with(opt(optSubnetMask, ip("0.0.0.0")))},
		{name: "mask of 3 bytes", stage: offer, counter: badMask, build: with(opt(optSubnetMask, []byte{255, 255, 255}))},
		{name: "yiaddr zero", stage: offer, counter: badAddress, build: with(yiaddr("0.0.0.0"))},
		{name: "yiaddr limited broadcast", stage: offer, counter: badAddress, build: with(yiaddr("255.255.255.255"))},
		{name: "yiaddr subnet broadcast", stage: ack, counter: badAddress, build: with(yiaddr("192.0.2.255"))},
		{name: "yiaddr subnet network", stage: offer, counter: badAddress, build: with(yiaddr("192.0.2.0"))},
		{name: "yiaddr multicast", stage: offer, counter: badAddress, build: with(yiaddr("224.0.0.1"))},
		{name: "yiaddr loopback", stage: offer, counter: badAddress, build: with(yiaddr("127.0.0.1"))},
		{name: "yiaddr link-local", stage: offer, counter: badAddress, build: with(yiaddr("169.254.7.7"))},
		{name: "yiaddr reserved", stage: offer, counter: badAddress, build: with(yiaddr("240.0.0.1"))},
		{name: "OFFER without server id", stage: offer, counter: func(n Counters) uint64 { return n.NoServerID },
			build: with(without(optServerID))},
		{name: "OFFER with broadcast server id", stage: offer, counter: func(n Counters) uint64 { return n.NoServerID },
			build: with(opt(optServerID, ip("255.255.255.255")))},

		// Accepted, the bad part left out.
		{name: "ACK without server id", stage: ack, counter: func(n Counters) uint64 { return n.Acks }, accepted: true,
			build: with(without(optServerID)),
			check: func(t *testing.T, l Lease) {
				if l.ServerID != serverIP {
					t.Errorf("server id %v, want the OFFER's", l.ServerID)
				}
			}},
		{name: "T1 > T2", stage: ack, counter: func(n Counters) uint64 { return n.BadTimers }, accepted: true,
			build: with(opt(optT1, u32(3000)), opt(optT2, u32(1000))),
			check: func(t *testing.T, l Lease) {
				if l.T1.Sub(l.Start).Seconds() != 1800 || l.T2.Sub(l.Start).Seconds() != 3150 {
					t.Errorf("T1 %v T2 %v, want the defaults", l.T1.Sub(l.Start), l.T2.Sub(l.Start))
				}
			}},
		{name: "MTU 67", stage: ack, counter: func(n Counters) uint64 { return n.BadMTU }, accepted: true,
			build: with(opt(optMTU, u16(67))),
			check: func(t *testing.T, l Lease) {
				if l.MTU != 0 {
					t.Errorf("MTU %d, want none", l.MTU)
				}
			}},
		{name: "MTU of 1 byte", stage: ack, counter: func(n Counters) uint64 { return n.BadMTU }, accepted: true,
			build: with(opt(optMTU, []byte{5})),
			check: func(t *testing.T, l Lease) {
				if l.MTU != 0 {
					t.Errorf("MTU %d, want none", l.MTU)
				}
			}},
		{name: "MTU 68 is the minimum", stage: ack, counter: func(n Counters) uint64 { return n.Acks }, accepted: true,
			build: with(opt(optMTU, u16(68))),
			check: func(t *testing.T, l Lease) {
				if l.MTU != 68 {
					t.Errorf("MTU %d, want 68", l.MTU)
				}
			}},
		{name: "DNS of 5 bytes", stage: ack, counter: badOption, accepted: true,
			build: with(opt(optDNS, []byte{1, 1, 1, 1, 1})),
			check: func(t *testing.T, l Lease) {
				if l.DNS != nil {
					t.Errorf("DNS %v, want none", l.DNS)
				}
			}},
		{name: "DNS with unusable addresses", stage: ack, counter: func(n Counters) uint64 { return n.Acks }, accepted: true,
			build: with(opt(optDNS, append(append(ip("0.0.0.0"), ip("255.255.255.255")...), dnsIP.AsSlice()...))),
			check: func(t *testing.T, l Lease) {
				if !slices.Equal(l.DNS, []netip.Addr{dnsIP}) {
					t.Errorf("DNS %v, want only %v", l.DNS, dnsIP)
				}
			}},
		{name: "routers of 3 bytes", stage: ack, counter: badOption, accepted: true,
			build: with(opt(optRouter, []byte{192, 0, 2})),
			check: func(t *testing.T, l Lease) {
				if l.Routers != nil || l.Routes() != nil {
					t.Errorf("routers %v", l.Routers)
				}
			}},
		{name: "domain with shell characters", stage: ack, counter: badOption, accepted: true,
			build: with(opt(optDomainName, []byte("isp.example;reboot\n"))),
			check: func(t *testing.T, l Lease) {
				if l.Domain != "" {
					t.Errorf("domain %q accepted", l.Domain)
				}
			}},
		{name: "domain NUL-terminated", stage: ack, counter: func(n Counters) uint64 { return n.Acks }, accepted: true,
			build: with(opt(optDomainName, []byte("isp.example.\x00"))),
			check: func(t *testing.T, l Lease) {
				if l.Domain != "isp.example" {
					t.Errorf("domain %q", l.Domain)
				}
			}},
		{name: "option 121 truncated", stage: ack, counter: func(n Counters) uint64 { return n.BadRoutes }, accepted: true,
			build: with(opt(optClassless, []byte{24, 10, 0, 0, 192})),
			check: func(t *testing.T, l Lease) {
				if l.StaticRoutes != nil || !slices.Equal(l.Routers, []netip.Addr{serverIP}) {
					t.Errorf("routes %v routers %v", l.StaticRoutes, l.Routers)
				}
			}},
		{name: "option 108 of 3 bytes", stage: ack, counter: badOption, accepted: true,
			build: with(opt(optIPv6Only, []byte{0, 0, 1})),
			check: func(t *testing.T, l Lease) {
				if l.IPv6OnlyWait != 0 {
					t.Errorf("wait %v", l.IPv6OnlyWait)
				}
			}},
		{name: "no mask: classful", stage: ack, counter: func(n Counters) uint64 { return n.Acks }, accepted: true,
			build: with(without(optSubnetMask), yiaddr("10.20.30.40")),
			check: func(t *testing.T, l Lease) {
				if l.Address != netip.MustParsePrefix("10.20.30.40/8") {
					t.Errorf("address %v", l.Address)
				}
			}},
		{name: "/32", stage: ack, counter: func(n Counters) uint64 { return n.Acks }, accepted: true,
			build: with(opt(optSubnetMask, ip("255.255.255.255"))),
			check: func(t *testing.T, l Lease) {
				if l.Address != netip.MustParsePrefix("192.0.2.10/32") {
					t.Errorf("address %v", l.Address)
				}
			}},
		{name: "/31 network address usable", stage: ack, counter: func(n Counters) uint64 { return n.Acks }, accepted: true,
			build: with(opt(optSubnetMask, ip("255.255.255.254"))),
			check: func(t *testing.T, l Lease) {
				if l.Address != netip.MustParsePrefix("192.0.2.10/31") {
					t.Errorf("address %v", l.Address)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t)
			out := c.Start(t0, nil)
			if tt.stage == ack {
				out = c.Receive(t0, answer(t, one(t, out).Data, offer))
			}
			before, state := tt.counter(c.Counters()), c.State()
			out = c.Receive(at(1), tt.build(t, one(t, out).Data, tt.stage))
			if got := tt.counter(c.Counters()); got != before+1 {
				t.Errorf("counter went from %d to %d, want +1 (%+v)", before, got, c.Counters())
			}
			if !tt.accepted {
				if c.State() != state || len(out.Send) != 0 || c.Lease().Bound() {
					t.Fatalf("dropped reply changed things: state %s → %s, sent %d", state, c.State(), len(out.Send))
				}
				return
			}
			if c.State() == state {
				t.Fatalf("reply not accepted: %s (%+v)", c.Lease().LastError, c.Counters())
			}
			if tt.stage == ack {
				if c.State() != StateBound {
					t.Fatalf("state %s", c.State())
				}
				tt.check(t, c.Lease())
			}
		})
	}
}

// TestRejectionReported checks that a reply from a server that answered our
// xid but is unusable leaves a reason for the console.
func TestRejectionReported(t *testing.T) {
	c := newClient(t)
	out := c.Start(t0, nil)
	out = c.Receive(at(2), answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer, opt(optLeaseTime, u32(0))))
	if out.Lease == nil || !strings.Contains(out.Lease.LastError, "OFFER from 192.0.2.1 rejected: lease time") ||
		!out.Lease.ErrorSince.Equal(at(2)) {
		t.Fatalf("facts %+v", out.Lease)
	}
	// A repeat keeps the first time.
	out = c.ForceRenew(at(3))
	c.Receive(at(3), answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer, opt(optLeaseTime, u32(0))))
	if l := c.Lease(); !l.ErrorSince.Equal(at(2)) || l.LastError == "" {
		t.Errorf("error %q since %v, want the first occurrence", l.LastError, l.ErrorSince.Sub(t0))
	}
	// A lease clears it.
	out = c.ForceRenew(at(5))
	out = c.Receive(at(5), answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer))
	c.Receive(at(5), answer(t, one(t, out).Data, dhcpv4.MessageTypeAck))
	if l := c.Lease(); !l.Bound() || l.LastError != "" || !l.ErrorSince.IsZero() {
		t.Errorf("bound %v, error %q since %v", l.Bound(), l.LastError, l.ErrorSince)
	}
}
