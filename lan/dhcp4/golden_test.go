package dhcp4

import (
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"cpe/internal/golden"
)

// TestGoldenReplies pins the bytes of an OFFER and an ACK: option order,
// padding and header fields must not change by accident.
func TestGoldenReplies(t *testing.T) {
	s := newServer(t, testConfig())
	id := dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{1, 2, 0, 0, 0, 0, 1}))
	r, _ := do(t, s, t0, msg(t, dhcpv4.MessageTypeDiscover, mac(1), id, dhcpv4.WithBroadcast(true)))
	golden.Check(t, "offer.golden", dump(r))
	r, _ = do(t, s, t0, msg(t, dhcpv4.MessageTypeRequest, mac(1), id, ours, reqIP("192.168.1.100"), dhcpv4.WithBroadcast(true)))
	golden.Check(t, "ack.golden", dump(r))
}

func dump(r *Reply) []byte {
	return fmt.Appendf(nil, "%s %s to %s from %s on %s\n%s", r.Type, r.Dest, r.To, r.From, r.Interface, hex.Dump(r.Data))
}
