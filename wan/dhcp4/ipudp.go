package dhcp4

import (
	"encoding/binary"
	"net/netip"
)

// The packet-socket Conn sees whole IPv4 datagrams, since before a lease the
// kernel has no address to deliver DHCP replies to a UDP socket. These two
// functions are its only parsing and framing, kept pure for tests and fuzzing.

const (
	clientPort = 68
	serverPort = 67
	ipv4Header = 20
	udpHeader  = 8
)

// frameIPv4UDP wraps payload in IPv4 and UDP headers from src:68 to dst:67.
// An invalid src is 0.0.0.0, as RFC 2131 4.1 requires before a lease.
func frameIPv4UDP(src, dst netip.Addr, payload []byte) []byte {
	if !src.IsValid() {
		src = netip.IPv4Unspecified()
	}
	s, d := src.As4(), dst.As4()
	total := ipv4Header + udpHeader + len(payload)
	b := make([]byte, total)
	b[0] = 0x45 // version 4, 5 words of header
	b[1] = 0x10 // DSCP/TOS: low delay, as dhclient and dhcpcd do
	binary.BigEndian.PutUint16(b[2:], uint16(total))
	b[8] = 64 // TTL
	b[9] = 17 // UDP
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:], ^checksum(0, b[:ipv4Header]))

	u := b[ipv4Header:]
	binary.BigEndian.PutUint16(u[0:], clientPort)
	binary.BigEndian.PutUint16(u[2:], serverPort)
	binary.BigEndian.PutUint16(u[4:], uint16(udpHeader+len(payload)))
	copy(u[udpHeader:], payload)
	// Pseudo header: addresses, protocol, UDP length.
	sum := checksum(0, b[12:20])
	sum = checksum(sum, []byte{0, 17})
	sum = checksum(sum, u[4:6])
	sum = ^checksum(sum, u)
	if sum == 0 {
		sum = 0xffff // RFC 768: zero means no checksum
	}
	binary.BigEndian.PutUint16(u[6:], sum)
	return b
}

// parseIPv4UDP returns the payload of an unfragmented IPv4 UDP datagram to
// port 68. Checksums are not verified: with checksum offload (veth, many
// NICs) a packet socket sees inbound UDP checksums not yet filled in, and the
// DHCP layer checks what it reads anyway.
func parseIPv4UDP(b []byte) ([]byte, bool) {
	if len(b) < ipv4Header || b[0]>>4 != 4 {
		return nil, false
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if ihl < ipv4Header || total < ihl+udpHeader || total > len(b) {
		return nil, false
	}
	if b[9] != 17 || binary.BigEndian.Uint16(b[6:])&0x3fff != 0 { // MF or offset: a fragment
		return nil, false
	}
	u := b[ihl:total] // frames may carry Ethernet padding past total
	ulen := int(binary.BigEndian.Uint16(u[4:]))
	if binary.BigEndian.Uint16(u[2:]) != clientPort || ulen < udpHeader || ulen > len(u) {
		return nil, false
	}
	return u[udpHeader:ulen], true
}

// checksum adds b to the running ones' complement sum.
func checksum(sum uint16, b []byte) uint16 {
	s := uint32(sum)
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}
