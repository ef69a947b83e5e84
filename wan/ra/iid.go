package ra

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"net"
	"net/netip"
)

// StableIID is the RFC 7217 stable opaque interface identifier for an
// address in prefix on interface ifname:
//
//	RID = F(Prefix, Net_Iface, Network_ID, DAD_Counter, secret_key)
//
// with F = HMAC-SHA-256 keyed by the secret (a PRF, as RFC 7217 5 asks),
// the identifier being RID's leftmost 64 bits. Network_ID is left out (it
// is optional). Each input is length-prefixed so that different inputs can
// never concatenate to the same message. The same inputs always give the
// same identifier, so the uplink keeps its address across reboots while the
// ISP keeps the prefix; a new prefix gives an unrelated identifier, so the
// address cannot be followed from one network to the next.
//
// The caller skips identifiers that IsReservedIID reports and retries with
// the next DAD counter (RFC 7217 5, step 2).
func StableIID(secret []byte, prefix netip.Prefix, ifname string, dadCounter uint8) [8]byte {
	m := hmac.New(sha256.New, secret)
	a := prefix.Masked().Addr().As16()
	var msg []byte
	msg = append(msg, byte(prefix.Bits()))
	msg = append(msg, a[:]...)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(ifname)))
	msg = append(msg, ifname...)
	msg = append(msg, dadCounter)
	m.Write(msg)
	var iid [8]byte
	copy(iid[:], m.Sum(nil))
	return iid
}

// EUI64IID is the modified EUI-64 identifier of a 6-byte MAC (RFC 4291
// appendix A): ff:fe in the middle and the universal/local bit flipped.
func EUI64IID(mac net.HardwareAddr) ([8]byte, bool) {
	if len(mac) != 6 {
		return [8]byte{}, false
	}
	return [8]byte{mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]}, true
}

// IsReservedIID reports identifiers no SLAAC address may use (RFC 5453 and
// the IANA registry it created): the Subnet-Router anycast identifier 0,
// the range 0200:5eff:fe00:0-0200:5eff:feff:ffff and the reserved subnet
// anycast identifiers fdff:ffff:ffff:ff80 and up (RFC 2526).
func IsReservedIID(iid [8]byte) bool {
	v := binary.BigEndian.Uint64(iid[:])
	return v == 0 ||
		v>>24 == 0x02005efffe ||
		v >= 0xfdffffffffffff80
}

// withIID puts iid into the low 64 bits of the /64 prefix p.
func withIID(p netip.Prefix, iid [8]byte) netip.Addr {
	a := p.Masked().Addr().As16()
	copy(a[8:], iid[:])
	return netip.AddrFrom16(a)
}
