//go:build linux

package ra

import (
	"fmt"
	"net/netip"

	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"

	"cpe/internal/ndpconn"
)

// Listen opens the Router Discovery socket of an uplink: a raw ICMPv6
// socket (ndp.Listen) bound to the interface's link-local address, which
// ties it to the interface, so several uplinks each see only their own
// RAs. Only Router Advertisements pass its ICMPv6 filter, and each arrives
// with its hop limit.
//
// The address must have finished DAD (RFC 7084 W-2: DAD before the first
// RS, whose source is the link-local address); while it is tentative,
// Listen fails and the Driver tries again.
func Listen(ifname string) (Conn, error) {
	c, err := ndpconn.Listen(ifname, ipv6.ICMPTypeRouterAdvertisement)
	if err != nil {
		return nil, fmt.Errorf("ra: %w", err)
	}
	return &ndpConn{c}, nil
}

type ndpConn struct{ *ndpconn.Conn }

// WriteTo sends through ndp, which takes messages rather than bytes; the
// Receiver made b with ndp, so it parses back.
func (n *ndpConn) WriteTo(b []byte, to netip.Addr) error {
	m, err := ndp.ParseMessage(b)
	if err != nil {
		return fmt.Errorf("ra: send: %w", err)
	}
	return n.WriteMessage(m, to)
}
