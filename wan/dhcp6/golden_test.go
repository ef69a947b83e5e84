package dhcp6

import (
	"fmt"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv6"

	"cpe/internal/golden"
)

// TestGoldenPackets pins the bytes of every message the client sends. The
// transaction ids, jitter and times come from the seeded source and the
// fake clock, so the dumps only change when the encoding does.
func TestGoldenPackets(t *testing.T) {
	cfg := Config{IANA: true, IAPD: true, PrefixHint: 56, RapidCommit: true}
	h := newHarness(t, cfg, Persist{})
	h.start()
	msgs := map[string]sent{}
	msgs["solicit"] = h.next(dhcpv6.MessageTypeSolicit)
	msgs["solicit_retransmission"] = h.next(dhcpv6.MessageTypeSolicit)
	h.receive(srv.advertise(msgs["solicit_retransmission"], dhcpv6.OptPreference(255), stdNA(h), stdPD(h)))
	msgs["request"] = h.last()
	h.receive(srv.reply(msgs["request"], stdNA(h), stdPD(h)))
	msgs["renew"] = h.next(dhcpv6.MessageTypeRenew)
	msgs["rebind"] = h.next(dhcpv6.MessageTypeRebind)
	h.receive(srv.reply(msgs["rebind"], stdNA(h), stdPD(h)))
	h.apply(h.c.Release(h.now))
	msgs["release"] = h.last()

	s := newHarness(t, Config{InformationOnly: true}, Persist{})
	s.start()
	msgs["information_request"] = s.next(dhcpv6.MessageTypeInformationRequest)

	for name, m := range msgs {
		t.Run(name, func(t *testing.T) {
			golden.Check(t, "golden/"+name+".hex", hexDump(fmt.Sprintf("%s to %s", m.m.MessageType, m.to), m.raw))
		})
	}
	if msgs["release"].m.MessageType != dhcpv6.MessageTypeRelease || msgs["request"].m.MessageType != dhcpv6.MessageTypeRequest {
		t.Fatal("scenario did not produce the expected messages")
	}
}
