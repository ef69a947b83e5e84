//go:build linux

package ra

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// errNoLinkLocal is returned by Listen while the uplink has no link-local
// address that finished DAD; the Driver retries.
var errNoLinkLocal = errors.New("no usable link-local address yet")

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
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("ra: listen: %w", err)
	}
	ll, err := usableLinkLocal(ifi.Index)
	if err != nil {
		return nil, fmt.Errorf("ra: listen on %s: %w", ifname, err)
	}
	c, _, err := ndp.Listen(ifi, ndp.Addr(ll.String()))
	if err != nil {
		return nil, fmt.Errorf("ra: listen on %s: %w", ifname, err)
	}
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeRouterAdvertisement)
	if err := c.SetICMPFilter(&f); err != nil {
		c.Close()
		return nil, fmt.Errorf("ra: listen on %s: icmp filter: %w", ifname, err)
	}
	if err := c.SetControlMessage(ipv6.FlagHopLimit, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("ra: listen on %s: hop limit: %w", ifname, err)
	}
	return &ndpConn{c: c}, nil
}

// usableLinkLocal picks the interface's link-local address that is neither
// tentative nor a duplicate. net.Interface.Addrs cannot tell, and binding
// a tentative address fails anyway.
func usableLinkLocal(index int) (netip.Addr, error) {
	link, err := netlink.LinkByIndex(index)
	if err != nil {
		return netip.Addr{}, err
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || !ip.IsLinkLocalUnicast() || a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
			continue
		}
		return ip, nil
	}
	return netip.Addr{}, errNoLinkLocal
}

type ndpConn struct{ c *ndp.Conn }

func (n *ndpConn) ReadFrom(b []byte) (int, netip.Addr, int, error) {
	l, cm, src, err := n.c.ReadRaw(b)
	hop := -1 // unknown: the Receiver drops it rather than trust it
	if cm != nil {
		hop = cm.HopLimit
	}
	return l, src.WithZone(""), hop, err
}

// WriteTo sends through ndp, which takes messages rather than bytes; the
// Receiver made b with ndp, so it parses back.
func (n *ndpConn) WriteTo(b []byte, to netip.Addr) error {
	m, err := ndp.ParseMessage(b)
	if err != nil {
		return fmt.Errorf("ra: send: %w", err)
	}
	return n.c.WriteTo(m, nil, to)
}

func (n *ndpConn) SetReadDeadline(t time.Time) error { return n.c.SetReadDeadline(t) }
func (n *ndpConn) Close() error                      { return n.c.Close() }
