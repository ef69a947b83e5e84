package prefix

import (
	"io"
	"net/netip"
)

// GenerateULA returns a fresh ULA /48 (RFC 4193 3.2): fd00::/8 (prefix fc00::/7
// with the L bit set) followed by a 40-bit Global ID read from rand. RFC 4193
// 3.2.2 only suggests SHA-1 of a timestamp and an EUI-64 as one way to get
// random bits; a cryptographic source meets its requirement directly. Call it
// once and keep the result in State (RFC 7084 ULA-3: the ULA prefix is stable
// across reboots). It returns the zero Prefix when rand fails.
func GenerateULA(rand io.Reader) netip.Prefix {
	var a [16]byte
	a[0] = 0xfd
	if _, err := io.ReadFull(rand, a[1:6]); err != nil {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(netip.AddrFrom16(a), 48)
}

// isULA reports whether p is inside fc00::/7.
func isULA(p netip.Prefix) bool {
	return p.Addr().Is6() && !p.Addr().Is4In6() && p.Addr().As16()[0]&0xfe == 0xfc
}
