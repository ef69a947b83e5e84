//go:build linux

package ra

import (
	"fmt"
	"net/netip"

	"golang.org/x/net/ipv6"

	"cpe/internal/ndpconn"
)

var allRouters = netip.MustParseAddr("ff02::2")

// Listen opens the Router Discovery socket of a LAN segment: a raw ICMPv6
// socket (ndp.Listen) bound to the interface's link-local address, the
// source every RA must have (RFC 4861 6.1.2), joined to ff02::2 where RSs
// go. Only Router Solicitations pass its ICMPv6 filter, each with its hop
// limit; ndp sends with hop limit 255.
func Listen(ifname string) (Conn, error) {
	c, err := ndpconn.Listen(ifname, ipv6.ICMPTypeRouterSolicitation)
	if err != nil {
		return nil, fmt.Errorf("ra: %w", err)
	}
	if err := c.JoinGroup(allRouters); err != nil {
		c.Close()
		return nil, fmt.Errorf("ra: listen on %s: join ff02::2: %w", ifname, err)
	}
	return &ndpConn{c}, nil
}

type ndpConn struct{ *ndpconn.Conn }

func (n *ndpConn) WriteTo(b []byte, to netip.Addr) error {
	m, err := rawMessage(b)
	if err != nil {
		return err
	}
	if err := n.WriteMessage(m, to); err != nil {
		return fmt.Errorf("ra: send to %v: %w", to, err)
	}
	return nil
}
