//go:build linux

package dhcp6

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Listen opens the client socket of an uplink: UDP [::]:546 bound to the
// interface with SO_BINDTODEVICE.
//
// It binds the wildcard rather than the interface's fe80:: address: at boot
// that address is still tentative (DAD) and bind would fail, while sends
// that fail meanwhile are simply retransmitted. Replies come to our
// link-local address either way, and several uplinks can each have their
// own port 546 because every socket is bound to its device. It joins no
// group: ff02::1:2 is where servers and relays listen, a client only sends
// there (RFC 8415 7.1).
func Listen(ifname string) (Conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("dhcp6: listen: %w", err)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			s := int(fd)
			for _, o := range []struct{ level, opt, v int }{
				{unix.SOL_SOCKET, unix.SO_REUSEADDR, 1},
				{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1},
				{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifi.Index},
				{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, 1},
				{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0},
			} {
				if serr = unix.SetsockoptInt(s, o.level, o.opt, o.v); serr != nil {
					return
				}
			}
			serr = unix.BindToDevice(s, ifname)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp6", "[::]:546")
	if err != nil {
		return nil, fmt.Errorf("dhcp6: listen on %s: %w", ifname, err)
	}
	return &udpConn{c: pc.(*net.UDPConn), zone: ifname}, nil
}

type udpConn struct {
	c    *net.UDPConn
	zone string
}

func (u *udpConn) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	n, from, err := u.c.ReadFromUDPAddrPort(b)
	return n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), err
}

func (u *udpConn) WriteTo(b []byte, to netip.AddrPort) (int, error) {
	if a := to.Addr(); a.IsLinkLocalMulticast() || a.IsLinkLocalUnicast() {
		to = netip.AddrPortFrom(a.WithZone(u.zone), to.Port())
	}
	return u.c.WriteToUDPAddrPort(b, to)
}

func (u *udpConn) SetReadDeadline(t time.Time) error { return u.c.SetReadDeadline(t) }
func (u *udpConn) Close() error                      { return u.c.Close() }
