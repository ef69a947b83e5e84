package dhcp4

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzHandle feeds arbitrary bytes, after a few real exchanges, to a server
// with a tiny pool: it must not panic, its table must stay consistent, and
// every reply must decode as a BOOTREPLY to the same transaction.
func FuzzHandle(f *testing.F) {
	hw := mac(1)
	for _, b := range [][]byte{
		msg(f, dhcpv4.MessageTypeDiscover, hw),
		msg(f, dhcpv4.MessageTypeDiscover, hw, reqIP("192.168.1.101"), dhcpv4.WithBroadcast(true)),
		msg(f, dhcpv4.MessageTypeRequest, hw, ours, reqIP("192.168.1.100")),
		msg(f, dhcpv4.MessageTypeRequest, hw, reqIP("192.168.1.100")),
		msg(f, dhcpv4.MessageTypeRequest, hw, ciaddr("192.168.1.100")),
		msg(f, dhcpv4.MessageTypeRequest, hw, sid(otherSID), reqIP("192.168.1.100")),
		msg(f, dhcpv4.MessageTypeDecline, hw, reqIP("192.168.1.100"), ours),
		msg(f, dhcpv4.MessageTypeRelease, hw, ciaddr("192.168.1.100"), ours),
		msg(f, dhcpv4.MessageTypeInform, hw, ciaddr("192.168.1.20")),
		msg(f, dhcpv4.MessageTypeDiscover, hw, dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{0xff, 1, 2, 3}))),
		{},
	} {
		f.Add(b, uint16(0))
	}
	cfg := testConfig()
	cfg.PoolEnd = netip.MustParseAddr("192.168.1.102")
	cfg.Static = []Static{{MAC: mac(2), Address: netip.MustParseAddr("192.168.1.101")}}
	f.Fuzz(func(t *testing.T, b []byte, dt uint16) {
		s := newServer(t, cfg)
		dora(t, s, t0, mac(1))
		dora(t, s, t0, mac(2))
		for i, now := range []time.Time{t0, t0.Add(time.Duration(dt) * time.Second)} {
			r, err := s.Handle(now, b, "lan0", noSrc)
			if err := s.consistent(); err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
			if r == nil {
				continue
			}
			if err != nil {
				t.Fatalf("reply and error: %v", err)
			}
			m, err := dhcpv4.FromBytes(r.Data)
			if err != nil || m.OpCode != dhcpv4.OpcodeBootReply || !bytes.Equal(m.TransactionID[:], b[4:8]) {
				t.Fatalf("bad reply %v: %v", err, m)
			}
		}
	})
}
