package dhcp4

import (
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"cpe/internal/golden"
)

// dump is the golden form of a packet: where it goes, then hexdump -C.
func dump(t *testing.T, p Packet) []byte {
	m := decode(t, p.Data)
	src := "0.0.0.0"
	if p.From.IsValid() {
		src = p.From.String()
	}
	head := fmt.Sprintf("%s to %s from %s broadcast=%v xid=%s\n", m.MessageType(), p.To, src, p.Broadcast, m.TransactionID)
	return []byte(head + hex.Dump(p.Data))
}

// TestGoldenPackets pins the bytes of every message the client sends. The
// xids come from the seeded generator, so the dumps are stable.
func TestGoldenPackets(t *testing.T) {
	duid := []byte{0, 1, 0, 1, 0x2a, 0x2b, 0x2c, 0x2d, 2, 0, 0x5e, 0x10, 0, 1}
	cfg := func(c *Config) { c.ClientID = ClientIDFromDUID(1, duid) }

	c := newClient(t, cfg)
	out := c.Start(t0, nil)
	golden.Check(t, "discover.hex", dump(t, one(t, out)))
	out = c.Receive(at(1), answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer))
	golden.Check(t, "request-selecting.hex", dump(t, one(t, out)))
	out = c.Receive(at(1), answer(t, one(t, out).Data, dhcpv4.MessageTypeAck))
	saved := *out.Persist
	out = c.Timer(c.Lease().T1)
	golden.Check(t, "request-renewing.hex", dump(t, one(t, out)))
	out = c.Timer(c.Lease().T2)
	golden.Check(t, "request-rebinding.hex", dump(t, one(t, out)))
	out = c.Release(c.Lease().T2.Add(10e9))
	golden.Check(t, "release.hex", dump(t, one(t, out)))

	c = newClient(t, cfg)
	out = c.Start(at(60), &saved)
	golden.Check(t, "request-init-reboot.hex", dump(t, one(t, out)))
	c.Receive(at(61), answer(t, one(t, out).Data, dhcpv4.MessageTypeAck))
	golden.Check(t, "decline.hex", dump(t, one(t, c.Decline(at(62)))))

	c = newClient(t, cfg, func(c *Config) { c.IPv6OnlyPreferred = true; c.Hostname = "" })
	golden.Check(t, "discover-ipv6-only.hex", dump(t, one(t, c.Start(t0, nil))))
}
