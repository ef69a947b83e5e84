package babel

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
)

// HMACInput returns the octets a MAC covers (RFC 8967 section 4.1): a
// pseudo-header of source address and port, destination address and port
// (IPv4 as IPv4-mapped IPv6), then the packet header and body, without the
// trailer. A packet whose body length overruns it is covered as far as it
// goes; Parse rejects such a packet anyway.
func HMACInput(src, dst netip.AddrPort, packet []byte) []byte {
	end := len(packet)
	if len(packet) >= HeaderLen {
		end = min(end, HeaderLen+int(binary.BigEndian.Uint16(packet[2:4])))
	}
	out := make([]byte, 0, 36+end)
	s, d := src.Addr().As16(), dst.Addr().As16()
	out = append(out, s[:]...)
	out = binary.BigEndian.AppendUint16(out, src.Port())
	out = append(out, d[:]...)
	out = binary.BigEndian.AppendUint16(out, dst.Port())
	return append(out, packet[:end]...)
}

// HMACSHA256 computes the HMAC-SHA256 of packet sent from src to dst.
func HMACSHA256(key []byte, src, dst netip.AddrPort, packet []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(HMACInput(src, dst, packet))
	return m.Sum(nil)
}

// SignHMACSHA256 appends one HMAC TLV per key to a finished packet.
func SignHMACSHA256(packet []byte, src, dst netip.AddrPort, keys ...[]byte) ([]byte, error) {
	macs := make([]TLV, len(keys))
	for i, k := range keys {
		macs[i] = HMAC{MAC: HMACSHA256(k, src, dst, packet)}
	}
	return AppendTrailer(packet, macs...)
}

// VerifyHMACSHA256 reports whether any MAC in p's trailer is the
// HMAC-SHA256 of p under key (RFC 8967 section 4.3: one match suffices).
func VerifyHMACSHA256(key []byte, src, dst netip.AddrPort, p Packet) bool {
	want := HMACSHA256(key, src, dst, p.Body)
	for _, m := range p.MACs {
		if hmac.Equal(m.MAC, want) {
			return true
		}
	}
	return false
}
