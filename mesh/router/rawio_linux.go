package router

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Babel socket's datagrams go in and out through recvmsg and sendmsg
// made as raw system calls on the non-blocking socket, with the runtime's
// poller waiting for readiness. A raw call never blocks here, and it
// skips the scheduler's system-call bookkeeping: every ordinary one wakes
// the runtime's monitor thread when it sleeps, and on an idle mesh box
// that thread switch per datagram cost more than the protocol work.

// pktinfoSpace is the room for one IPV6_PKTINFO control message.
var pktinfoSpace = unix.CmsgSpace(unix.SizeofInet6Pktinfo)

// datagram is one received datagram's addressing.
type datagram struct {
	n       int
	src     netip.AddrPort
	dst     netip.Addr
	ifindex int
}

// recvDatagram reads one datagram into b with its IPV6_PKTINFO. It
// returns EAGAIN when none is waiting. A datagram without packet info
// comes back with ifindex 0.
func recvDatagram(fd uintptr, b []byte, oob []byte) (datagram, syscall.Errno) {
	var from unix.RawSockaddrInet6
	var iov unix.Iovec
	msg := msghdr(&from, &iov, b, oob)
	n, _, errno := unix.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&msg)), unix.MSG_DONTWAIT)
	if errno != 0 {
		return datagram{}, errno
	}
	d := datagram{n: int(n)}
	if from.Family == unix.AF_INET6 {
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&from.Port))[:])
		d.src = netip.AddrPortFrom(netip.AddrFrom16(from.Addr), port)
	}
	d.dst, d.ifindex = parsePktinfo(oob[:msg.Controllen])
	return d, 0
}

// msghdr describes one datagram: its address in sa, its data b (through
// iov) and its control messages oob.
func msghdr(sa *unix.RawSockaddrInet6, iov *unix.Iovec, b, oob []byte) unix.Msghdr {
	if len(b) > 0 {
		iov.Base = &b[0]
		iov.SetLen(len(b))
	}
	msg := unix.Msghdr{
		Name:    (*byte)(unsafe.Pointer(sa)),
		Namelen: unix.SizeofSockaddrInet6,
		Iov:     iov,
		Iovlen:  1,
	}
	if len(oob) > 0 {
		msg.Control = &oob[0]
		msg.SetControllen(len(oob))
	}
	return msg
}

// parsePktinfo finds IPV6_PKTINFO among control messages, walking them
// in place (unix.ParseSocketControlMessage allocates a slice per call).
func parsePktinfo(oob []byte) (netip.Addr, int) {
	hdr := unix.CmsgLen(0)
	for len(oob) >= hdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		n := int(h.Len)
		if n < hdr || n > len(oob) {
			break
		}
		if h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && n-hdr >= unix.SizeofInet6Pktinfo {
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&oob[hdr]))
			return netip.AddrFrom16(pi.Addr), int(pi.Ifindex)
		}
		next := unix.CmsgSpace(n - hdr)
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return netip.Addr{}, 0
}

// pktinfo writes into b (pktinfoSpace bytes) the control message that
// sends a datagram out of ifindex from src (unspecified: the kernel
// picks).
func pktinfo(b []byte, ifindex int, src netip.Addr) {
	clear(b)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
	pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
	pi.Ifindex = uint32(ifindex)
	if src.Is6() {
		pi.Addr = src.As16()
	}
}

// sendDatagram sends b to dst port port with the control message oob.
func sendDatagram(fd uintptr, b []byte, dst netip.Addr, port uint16, oob []byte) syscall.Errno {
	to := unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: dst.As16()}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&to.Port))[:], port)
	var iov unix.Iovec
	msg := msghdr(&to, &iov, b, oob)
	_, _, errno := unix.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&msg)), unix.MSG_DONTWAIT)
	return errno
}
