//go:build linux

package dhcp4

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// udpConn is a UDP socket on port 67 bound to one LAN interface
// (SO_BINDTODEVICE), so that a server never hears or answers the WAN or
// another segment, and several segments each have their own socket on the
// same port. A UDP socket is enough for a server: requests come to
// 255.255.255.255 or to the router address, both delivered by the kernel.
//
// Replies for a client that has no address yet and did not set the
// BROADCAST bit (DestHW) are broadcast too: unicasting them needs a
// neighbour entry for an address nobody answers ARP for yet, which only a
// packet socket or an ARP-table write could provide. RFC 2131 4.1 allows
// the broadcast; every client must accept it.
type udpConn struct {
	ifname string
	ifidx  int
	from   netip.Addr
	c      *net.UDPConn
	oob    []byte
}

// NewConn opens the server socket on ifname; replies leave from address
// from (the router address, so that it matches the server identifier even
// when the interface has several). It needs CAP_NET_BIND_SERVICE and
// CAP_NET_RAW (root on the box).
func NewConn(ifname string, from netip.Addr) (Conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("dhcp4: %s: %w", ifname, err)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = errors.Join(
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1),
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1),
				unix.BindToDevice(int(fd), ifname))
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", ServerPort))
	if err != nil {
		return nil, fmt.Errorf("dhcp4: %s: listen: %w", ifname, err)
	}
	c := &udpConn{ifname: ifname, ifidx: ifi.Index, from: from.Unmap(), c: pc.(*net.UDPConn)}
	if c.from.Is4() {
		c.oob = unix.PktInfo4(&unix.Inet4Pktinfo{Ifindex: int32(ifi.Index), Spec_dst: c.from.As4()})
	}
	return c, nil
}

func (c *udpConn) Receive(buf []byte) (int, string, netip.AddrPort, error) {
	n, src, err := c.c.ReadFromUDPAddrPort(buf)
	if err != nil {
		return 0, "", src, fmt.Errorf("dhcp4: %s: %w", c.ifname, err)
	}
	return n, c.ifname, src, nil
}

func (c *udpConn) Send(r *Reply) error {
	to := r.To
	if r.Dest == DestBroadcast || r.Dest == DestHW {
		to = netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), ClientPort)
	}
	if _, _, err := c.c.WriteMsgUDPAddrPort(r.Data, c.oob, to); err != nil {
		return fmt.Errorf("dhcp4: %s: send %s to %s: %w", c.ifname, r.Type, to, err)
	}
	return nil
}

func (c *udpConn) Close() error { return c.c.Close() }
