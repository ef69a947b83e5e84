//go:build linux

package dhcp4

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// packetConn receives through an AF_PACKET datagram socket, which sees
// replies whatever the interface's addresses and rp_filter say (a UDP
// socket misses broadcasts the kernel drops as martians while the interface
// has no address). Broadcasts go out the same socket with headers built
// here; unicasts (RENEWING, RELEASE) go through a UDP socket bound to port
// 68 on the interface, which also keeps the kernel from answering unicast
// replies with ICMP port unreachable.
type packetConn struct {
	ifname  string
	ifindex int
	raw     *os.File
	rc      syscall.RawConn
	udp     *net.UDPConn

	closeOnce sync.Once
	closeErr  error
}

// NewConn opens the sockets a Client needs on ifname. It needs
// CAP_NET_RAW and CAP_NET_BIND_SERVICE (root on the box).
func NewConn(ifname string) (Conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("dhcp4: %s: %w", ifname, err)
	}
	proto := htons(unix.ETH_P_IP)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return nil, fmt.Errorf("dhcp4: %s: packet socket: %w", ifname, err)
	}
	prog := unix.SockFprog{Len: uint16(len(dhcpFilter)), Filter: &dhcpFilter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dhcp4: %s: attach filter: %w", ifname, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dhcp4: %s: bind packet socket: %w", ifname, err)
	}
	raw := os.NewFile(uintptr(fd), "dhcp4-"+ifname)
	rc, err := raw.SyscallConn()
	if err != nil {
		raw.Close()
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
	pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", clientPort))
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("dhcp4: %s: udp socket: %w", ifname, err)
	}
	return &packetConn{ifname: ifname, ifindex: ifi.Index, raw: raw, rc: rc, udp: pc.(*net.UDPConn)}, nil
}

// dhcpFilter passes unfragmented IPv4 UDP to port 68, so the socket is not
// woken by every packet on the WAN.
var dhcpFilter = []unix.SockFilter{
	{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 9},                         // 0: A = protocol
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 6, K: 17},         // 1: UDP, else drop
	{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 6},                         // 2: A = flags, offset
	{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, Jt: 4, Jf: 0, K: 0x3fff},    // 3: fragment: drop
	{Code: unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH, K: 0},                        // 4: X = header length
	{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_IND, K: 2},                         // 5: A = UDP dst port
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: clientPort}, // 6
	{Code: unix.BPF_RET | unix.BPF_K, K: 0xffff},                                  // 7: accept
	{Code: unix.BPF_RET | unix.BPF_K, K: 0},                                       // 8: drop
}

func (c *packetConn) Send(p Packet) error {
	if !p.Broadcast {
		_, err := c.udp.WriteToUDPAddrPort(p.Data, netip.AddrPortFrom(p.To, serverPort))
		if err != nil {
			return fmt.Errorf("dhcp4: %s: send to %s: %w", c.ifname, p.To, err)
		}
		return nil
	}
	frame := frameIPv4UDP(p.From, limitedBroadcast, p.Data)
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: c.ifindex, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	var serr error
	err := c.rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), frame, 0, to)
		return serr != unix.EAGAIN
	})
	if err = errors.Join(err, serr); err != nil {
		return fmt.Errorf("dhcp4: %s: broadcast: %w", c.ifname, err)
	}
	return nil
}

func (c *packetConn) Receive(buf []byte) (int, error) {
	frame := make([]byte, 65536)
	for {
		var (
			n    int
			from unix.Sockaddr
			rerr error
		)
		err := c.rc.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), frame, 0)
			return rerr != unix.EAGAIN
		})
		if err = errors.Join(err, rerr); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return 0, fmt.Errorf("dhcp4: %s: %w", c.ifname, err)
		}
		// Our own broadcasts come back as PACKET_OUTGOING; frames for other
		// hosts show up when something put the NIC in promiscuous mode.
		if ll, ok := from.(*unix.SockaddrLinklayer); ok &&
			ll.Pkttype != unix.PACKET_HOST && ll.Pkttype != unix.PACKET_BROADCAST {
			continue
		}
		payload, ok := parseIPv4UDP(frame[:n])
		if !ok {
			continue
		}
		return copy(buf, payload), nil
	}
}

func (c *packetConn) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = errors.Join(c.raw.Close(), c.udp.Close())
	})
	return c.closeErr
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
