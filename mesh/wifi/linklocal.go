package wifi

import (
	"net"
	"net/netip"
)

// LinkLocal returns the IPv6 link-local address a Linux peer derives from
// its MAC address by modified EUI-64 (RFC 4291 appendix A), without a
// zone. It is false for an address that is not 6 bytes long.
//
// It is a guess about the peer: right when its mesh interface uses
// addr_gen_mode eui64 (the kernel's default) and no stable secret, wrong
// with RFC 7217 stable-privacy addresses. The Babel side may confirm it
// against the neighbours it actually hears.
func LinkLocal(mac net.HardwareAddr) (netip.Addr, bool) {
	if len(mac) != 6 {
		return netip.Addr{}, false
	}
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	a[8] = mac[0] ^ 0x02 // the universal/local bit is inverted
	a[9], a[10] = mac[1], mac[2]
	a[11], a[12] = 0xff, 0xfe
	a[13], a[14], a[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(a), true
}
