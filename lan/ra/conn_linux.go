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

// errNoLinkLocal is returned by Listen while the segment has no link-local
// address that finished DAD; the Driver retries.
var errNoLinkLocal = errors.New("no usable link-local address yet")

var allRouters = netip.MustParseAddr("ff02::2")

// Listen opens the Router Discovery socket of a LAN segment: a raw ICMPv6
// socket (ndp.Listen) bound to the interface's link-local address, the
// source every RA must have (RFC 4861 6.1.2), joined to ff02::2 where RSs
// go. Only Router Solicitations pass its ICMPv6 filter, each with its hop
// limit; ndp sends with hop limit 255.
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
	fail := func(what string, err error) (Conn, error) {
		c.Close()
		return nil, fmt.Errorf("ra: listen on %s: %s: %w", ifname, what, err)
	}
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeRouterSolicitation)
	if err := c.SetICMPFilter(&f); err != nil {
		return fail("icmp filter", err)
	}
	if err := c.SetControlMessage(ipv6.FlagHopLimit, true); err != nil {
		return fail("hop limit", err)
	}
	if err := c.JoinGroup(allRouters); err != nil {
		return fail("join ff02::2", err)
	}
	return &ndpConn{c: c}, nil
}

// usableLinkLocal picks the interface's link-local address that is neither
// tentative nor a duplicate; binding a tentative one fails.
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
	hop := -1
	if cm != nil {
		hop = cm.HopLimit
	}
	return l, src.WithZone(""), hop, err
}

func (n *ndpConn) WriteTo(b []byte, to netip.Addr) error {
	m, err := rawMessage(b)
	if err != nil {
		return err
	}
	if err := n.c.WriteTo(m, nil, to); err != nil {
		return fmt.Errorf("ra: send to %v: %w", to, err)
	}
	return nil
}

func (n *ndpConn) SetReadDeadline(t time.Time) error { return n.c.SetReadDeadline(t) }
func (n *ndpConn) Close() error                      { return n.c.Close() }
