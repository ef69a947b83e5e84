package ra

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/mdlayher/ndp"
)

const (
	icmpTypeRA = 134
	// raHeaderLen is the ICMPv6 header and the RA's fixed part: the least
	// RFC 4861 6.1.2 accepts.
	raHeaderLen = 16

	optPrefixInfo = 3
	optMTU        = 5
	optRouteInfo  = 24
	optRDNSS      = 25
	optDNSSL      = 31
)

// drop is why a whole packet was discarded.
type drop uint8

const (
	dropNone drop = iota
	dropNotLinkLocal
	dropHopLimit
	dropNotRA
	dropTruncated
	dropZeroLengthOpt
	dropTruncatedOpt
)

func (d drop) String() string {
	switch d {
	case dropNotLinkLocal:
		return "source is not link-local"
	case dropHopLimit:
		return "hop limit is not 255"
	case dropNotRA:
		return "not a router advertisement"
	case dropTruncated:
		return "shorter than an RA header"
	case dropZeroLengthOpt:
		return "option with length 0"
	case dropTruncatedOpt:
		return "option runs past the end"
	}
	return "ok"
}

func (d drop) count(c *Counters) {
	switch d {
	case dropNotLinkLocal:
		c.NotLinkLocal++
	case dropHopLimit:
		c.BadHopLimit++
	case dropNotRA:
		c.NotRA++
	case dropTruncated:
		c.Truncated++
	case dropZeroLengthOpt:
		c.ZeroLengthOpt++
	case dropTruncatedOpt:
		c.TruncatedOption++
	}
}

// message is an RA that passed RFC 4861 6.1.2.
type message struct {
	hdr  *ndp.RouterAdvertisement // the fixed part; its Options are empty
	opts [][]byte                 // each option whole, type and length included
}

// validate applies RFC 4861 6.1.2. The checksum is the kernel's job (it
// drops ICMPv6 with a bad one before any socket sees it). Only the framing
// of options is checked here: an option with a bad length makes the whole
// packet suspect, while an option whose contents make no sense is ignored
// on its own later, as the option's RFC says (and as Linux does).
func validate(b []byte, src netip.Addr, hopLimit int) (message, drop) {
	if !src.Is6() || src.Is4In6() || !src.IsLinkLocalUnicast() {
		return message{}, dropNotLinkLocal
	}
	if hopLimit != ndp.HopLimit {
		return message{}, dropHopLimit
	}
	if len(b) >= 2 && (b[0] != icmpTypeRA || b[1] != 0) {
		return message{}, dropNotRA
	}
	if len(b) < raHeaderLen {
		return message{}, dropTruncated
	}
	var opts [][]byte
	for i := raHeaderLen; i < len(b); {
		if len(b)-i < 2 {
			return message{}, dropTruncatedOpt
		}
		n := int(b[i+1]) * 8
		if n == 0 {
			return message{}, dropZeroLengthOpt
		}
		if n > len(b)-i {
			return message{}, dropTruncatedOpt
		}
		opts = append(opts, b[i:i+n])
		i += n
	}
	m, err := ndp.ParseMessage(b[:raHeaderLen])
	hdr, ok := m.(*ndp.RouterAdvertisement)
	if err != nil || !ok {
		return message{}, dropNotRA // unreachable: type and length were checked
	}
	return message{hdr: hdr, opts: opts}, dropNone
}

var errOptionCount = errors.New("ra: option did not parse as one option")

// decodeOption parses one option with the ndp package. ndp parses a
// message's options all or nothing, so each option is wrapped in an empty
// RA of its own: a broken DNSSL then costs only the DNSSL.
func decodeOption(o []byte) (ndp.Option, error) {
	msg := make([]byte, raHeaderLen, raHeaderLen+len(o))
	msg[0] = icmpTypeRA
	msg = append(msg, o...)
	m, err := ndp.ParseMessage(msg)
	if err != nil {
		return nil, err
	}
	ra, ok := m.(*ndp.RouterAdvertisement)
	if !ok || len(ra.Options) != 1 {
		return nil, errOptionCount
	}
	return ra.Options[0], nil
}

// rioPrefix reads a Route Information option's prefix from its bytes.
// ndp v1.1.0 copies only PrefixLength/8 whole bytes, so a /60 loses its
// last four bits; the option carries 0, 8 or 16 prefix bytes from offset 8
// and the bits past the length are ignored (RFC 4191 2.3).
func rioPrefix(o []byte, bits int) (netip.Prefix, error) {
	var a [16]byte
	if len(o) > 8 {
		copy(a[:], o[8:])
	}
	return netip.AddrFrom16(a).Prefix(bits)
}

// pioFlagP is the P flag (RFC 9762) in a PIO's flags byte, which ndp does
// not parse.
const pioFlagP = 0x10

func pioP(o []byte) bool { return len(o) > 3 && o[3]&pioFlagP != 0 }

func preference(p ndp.Preference) Preference {
	switch p {
	case ndp.High:
		return PreferenceHigh
	case ndp.Low:
		return PreferenceLow
	}
	// RFC 4191 2.2: the reserved value 10 counts as medium (ndp already
	// maps it for the RA header).
	return PreferenceMedium
}

var (
	linkLocalNet = netip.MustParsePrefix("fe80::/10")
	multicastNet = netip.MustParsePrefix("ff00::/8")
)

// badPrefix reports prefixes a router may not hand to us: the link-local
// prefix (RFC 4861 6.3.4, RFC 4862 5.5.3 b), multicast, and anything
// covering either (which includes ::/0).
func badPrefix(p netip.Prefix) error {
	if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() {
		return fmt.Errorf("invalid prefix %v", p)
	}
	if p.Overlaps(linkLocalNet) || p.Overlaps(multicastNet) {
		return fmt.Errorf("prefix %v overlaps link-local or multicast", p)
	}
	return nil
}
