//go:build linux

package dhcp6

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// allServers is All_DHCP_Relay_Agents_and_Servers (RFC 8415 7.1).
var allServers = netip.MustParseAddr("ff02::1:2")

// udpConn is a UDP socket on port 547 bound to one LAN interface
// (SO_BINDTODEVICE) and joined to ff02::1:2 there, so that a server never
// hears or answers the WAN or another segment, and several segments each
// have their own socket on the same port.
//
// It binds the wildcard rather than the router's link-local address: at
// boot that address may still be tentative (DAD) and bind would fail. The
// kernel picks the link-local source of each reply, since replies go to
// link-local addresses only.
type udpConn struct {
	ifname string
	c      *net.UDPConn
}

// NewConn opens the server socket on ifname. It needs
// CAP_NET_BIND_SERVICE and CAP_NET_RAW (root on the box).
func NewConn(ifname string) (Conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("dhcp6: %s: %w", ifname, err)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			s := int(fd)
			mreq := &unix.IPv6Mreq{Multiaddr: allServers.As16(), Interface: uint32(ifi.Index)}
			serr = errors.Join(
				unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1),
				unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1),
				unix.BindToDevice(s, ifname),
				unix.SetsockoptIPv6Mreq(s, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq))
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp6", fmt.Sprintf("[::]:%d", ServerPort))
	if err != nil {
		return nil, fmt.Errorf("dhcp6: %s: listen: %w", ifname, err)
	}
	return &udpConn{ifname: ifname, c: pc.(*net.UDPConn)}, nil
}

func (c *udpConn) Receive(buf []byte) (int, string, netip.AddrPort, error) {
	n, src, err := c.c.ReadFromUDPAddrPort(buf)
	if err != nil {
		return 0, "", src, fmt.Errorf("dhcp6: %s: %w", c.ifname, err)
	}
	return n, c.ifname, netip.AddrPortFrom(src.Addr().Unmap().WithZone(""), src.Port()), nil
}

func (c *udpConn) Send(r *Reply) error {
	to := r.To
	if a := to.Addr(); a.IsLinkLocalUnicast() {
		to = netip.AddrPortFrom(a.WithZone(c.ifname), to.Port())
	}
	if _, err := c.c.WriteToUDPAddrPort(r.Data, to); err != nil {
		return fmt.Errorf("dhcp6: %s: send %s to %s: %w", c.ifname, r.Type, to, err)
	}
	return nil
}

func (c *udpConn) Close() error { return c.c.Close() }
