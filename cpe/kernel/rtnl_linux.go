package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Route and address messages are built and parsed here rather than by
// vishvananda/netlink: its Route has no field for RTA_SRC (an IPv6 route's
// source prefix), so it can neither add "::/0 from 2001:db8:1::/48" nor tell
// it from "::/0" when listing, and its Addr keeps lifetimes in an int, which
// on the 32-bit boards cannot say "deprecated, valid forever". The messages
// travel over a netlink socket of its nl package.

// rtRoute is a route message with the attributes the Applier uses.
type rtRoute struct {
	family    uint8
	dst, src  netip.Prefix
	gw        netip.Addr
	oif       uint32
	metric    uint32
	table     uint32
	typ       uint8
	protocol  uint8
	scope     uint8
	flags     uint32
	mtu       uint32
	multipath bool
}

var errShort = errors.New("short netlink message")

// decodeRoute parses the payload of an RTM_NEWROUTE message.
func decodeRoute(b []byte) (rtRoute, error) {
	if len(b) < unix.SizeofRtMsg {
		return rtRoute{}, errShort
	}
	r := rtRoute{
		family:   b[0],
		table:    uint32(b[4]),
		protocol: b[5],
		scope:    b[6],
		typ:      b[7],
		flags:    binary.NativeEndian.Uint32(b[8:12]),
	}
	dstLen, srcLen := int(b[1]), int(b[2])
	alen := 4
	if r.family == unix.AF_INET6 {
		alen = 16
	} else if r.family != unix.AF_INET {
		return r, fmt.Errorf("route of family %d", r.family)
	}
	if dstLen > alen*8 || srcLen > alen*8 {
		return r, fmt.Errorf("prefix length %d/%d too long", dstLen, srcLen)
	}
	zero := netip.IPv4Unspecified()
	if alen == 16 {
		zero = netip.IPv6Unspecified()
	}
	r.dst = netip.PrefixFrom(zero, dstLen)
	if srcLen > 0 {
		r.src = netip.PrefixFrom(zero, srcLen)
	}
	addr := func(v []byte) (netip.Addr, error) {
		if len(v) != alen {
			return netip.Addr{}, fmt.Errorf("address of %d bytes in a family %d route", len(v), r.family)
		}
		a, _ := netip.AddrFromSlice(v)
		return a, nil
	}
	err := walkAttrs(b[unix.SizeofRtMsg:], func(typ uint16, v []byte) error {
		var err error
		switch typ {
		case unix.RTA_DST:
			var a netip.Addr
			if a, err = addr(v); err == nil {
				r.dst = netip.PrefixFrom(a, dstLen)
			}
		case unix.RTA_SRC:
			var a netip.Addr
			if a, err = addr(v); err == nil && srcLen > 0 {
				r.src = netip.PrefixFrom(a, srcLen)
			}
		case unix.RTA_GATEWAY:
			r.gw, err = addr(v)
		case unix.RTA_VIA:
			// struct rtvia: a family, then the address (RFC 5549 next hop).
			if len(v) == 2+16 && binary.NativeEndian.Uint16(v) == unix.AF_INET6 {
				r.gw = netip.AddrFrom16([16]byte(v[2:]))
			} else {
				err = fmt.Errorf("RTA_VIA of %d bytes", len(v))
			}
		case unix.RTA_OIF:
			r.oif, err = u32(v)
		case unix.RTA_PRIORITY:
			r.metric, err = u32(v)
		case unix.RTA_TABLE:
			r.table, err = u32(v)
		case unix.RTA_MULTIPATH:
			r.multipath = true
		case unix.RTA_METRICS:
			err = walkAttrs(v, func(typ uint16, v []byte) error {
				if typ != unix.RTAX_MTU {
					return nil
				}
				var err error
				r.mtu, err = u32(v)
				return err
			})
		}
		return err
	})
	// The kernel sends prefixes masked; masking here too keeps a parse of
	// anything else from differing from its own re-encoding.
	r.dst = r.dst.Masked()
	r.src = r.src.Masked()
	return r, err
}

// encodeRoute builds the payload of an RTM_NEWROUTE or RTM_DELROUTE message.
func encodeRoute(r rtRoute) []byte {
	b := make([]byte, unix.SizeofRtMsg, 128)
	b[0] = r.family
	b[1] = uint8(r.dst.Bits())
	if r.src.IsValid() {
		b[2] = uint8(r.src.Bits())
	}
	if r.table < 256 {
		b[4] = uint8(r.table)
	} else {
		b[4] = unix.RT_TABLE_UNSPEC
	}
	b[5], b[6], b[7] = r.protocol, r.scope, r.typ
	binary.NativeEndian.PutUint32(b[8:], r.flags)
	b = appendAttr(b, unix.RTA_TABLE, binary.NativeEndian.AppendUint32(nil, r.table))
	if r.dst.Bits() > 0 {
		b = appendAttr(b, unix.RTA_DST, r.dst.Addr().AsSlice())
	}
	if r.src.IsValid() {
		b = appendAttr(b, unix.RTA_SRC, r.src.Addr().AsSlice())
	}
	switch {
	case r.gw.Is6() && r.family == unix.AF_INET:
		// An IPv4 route via an IPv6 neighbour (RFC 5549, Linux 5.2).
		via := binary.NativeEndian.AppendUint16(nil, unix.AF_INET6)
		b = appendAttr(b, unix.RTA_VIA, append(via, r.gw.AsSlice()...))
	case r.gw.IsValid():
		b = appendAttr(b, unix.RTA_GATEWAY, r.gw.AsSlice())
	}
	if r.oif != 0 {
		b = appendAttr(b, unix.RTA_OIF, binary.NativeEndian.AppendUint32(nil, r.oif))
	}
	b = appendAttr(b, unix.RTA_PRIORITY, binary.NativeEndian.AppendUint32(nil, r.metric))
	if r.mtu != 0 {
		m := appendAttr(nil, unix.RTAX_MTU, binary.NativeEndian.AppendUint32(nil, r.mtu))
		b = appendAttr(b, unix.RTA_METRICS, m)
	}
	return b
}

// encodeAddr builds the payload of an RTM_NEWADDR or RTM_DELADDR message.
// The lifetimes go out as they are, forever included, so a replace can also
// make an address permanent again.
func encodeAddr(a kernelAddr, index uint32, withLifetimes bool) []byte {
	ip := a.Prefix.Addr()
	b := make([]byte, unix.SizeofIfAddrmsg, 96)
	b[0] = unix.AF_INET
	if ip.Is6() {
		b[0] = unix.AF_INET6
	}
	b[1] = uint8(a.Prefix.Bits())
	binary.NativeEndian.PutUint32(b[4:], index)
	b = appendAttr(b, unix.IFA_LOCAL, ip.AsSlice())
	b = appendAttr(b, unix.IFA_ADDRESS, ip.AsSlice())
	if !withLifetimes {
		return b
	}
	var flags uint32
	if a.NoPrefixRoute {
		flags |= unix.IFA_F_NOPREFIXROUTE
	}
	b = appendAttr(b, unix.IFA_FLAGS, binary.NativeEndian.AppendUint32(nil, flags))
	if ip.Is4() && a.Prefix.Bits() < 31 {
		// What ip's "brd +" and vishvananda/netlink do: a LAN's DHCP
		// server and directed broadcasts want it, the kernel does not
		// derive it.
		b = appendAttr(b, unix.IFA_BROADCAST, broadcast(a.Prefix))
	}
	ci := binary.NativeEndian.AppendUint32(nil, a.Preferred)
	ci = binary.NativeEndian.AppendUint32(ci, a.Valid)
	ci = append(ci, make([]byte, 8)...) // cstamp, tstamp: the kernel's to fill
	return appendAttr(b, unix.IFA_CACHEINFO, ci)
}

func broadcast(p netip.Prefix) []byte {
	a := p.Addr().As4()
	v := binary.BigEndian.Uint32(a[:]) | (1<<(32-p.Bits()) - 1)
	return binary.BigEndian.AppendUint32(nil, v)
}

func appendAttr(b []byte, typ uint16, v []byte) []byte {
	n := unix.SizeofRtAttr + len(v)
	b = binary.NativeEndian.AppendUint16(b, uint16(n))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	for len(b)%4 != 0 { // RTA_ALIGN
		b = append(b, 0)
	}
	return b
}

// walkAttrs calls f for each attribute of b, with the nested flag cleared
// from the type, and stops at the first error.
func walkAttrs(b []byte, f func(typ uint16, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < unix.SizeofRtAttr {
			return errShort
		}
		n := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) &^ unix.NLA_F_NESTED
		if n < unix.SizeofRtAttr || n > len(b) {
			return fmt.Errorf("attribute %d of length %d in %d bytes", typ, n, len(b))
		}
		if err := f(typ, b[unix.SizeofRtAttr:n]); err != nil {
			return err
		}
		n = (n + 3) &^ 3
		if n > len(b) {
			n = len(b)
		}
		b = b[n:]
	}
	return nil
}

func u32(v []byte) (uint32, error) {
	if len(v) != 4 {
		return 0, fmt.Errorf("u32 attribute of %d bytes", len(v))
	}
	return binary.NativeEndian.Uint32(v), nil
}
