package lan

import (
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// linkMAC is the interface's hardware address, nil when it has none or
// is not there. Every replan asks, so that the RAs' source link-layer
// option follows a changed address; one ioctl answers without the 64 KiB
// receive buffer and the socket a netlink request costs, which on an idle
// box made this lookup a visible part of its CPU time.
func linkMAC(ifname string) net.HardwareAddr {
	var req struct {
		name   [unix.IFNAMSIZ]byte
		family uint16
		addr   [14]byte
		_      [8]byte // the rest of struct ifreq's union
	}
	if len(ifname) >= len(req.name) {
		return nil
	}
	copy(req.name[:], ifname)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCGIFHWADDR, uintptr(unsafe.Pointer(&req))); errno != 0 {
		return nil
	}
	if req.family != unix.ARPHRD_ETHER {
		return nil
	}
	return net.HardwareAddr(append([]byte(nil), req.addr[:6]...))
}
