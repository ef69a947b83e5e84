package babel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Errors for packets that cannot be decoded at all. A bad TLV inside a
// good packet is not an error: it is skipped and listed in Packet.Ignored.
var (
	ErrShort     = errors.New("babel: packet shorter than its header")
	ErrMagic     = errors.New("babel: bad magic")
	ErrVersion   = errors.New("babel: unsupported version")
	ErrTruncated = errors.New("babel: body length beyond the end of the packet")
)

// parserState is the per-packet state of RFC 8966 section 4.5. It starts
// empty for every packet.
type parserState struct {
	routerID     RouterID
	haveRouterID bool
	nh4, nh6     netip.Addr  // invalid: the sender's address
	defPrefix    [5][16]byte // default prefix per AE, as 16 octets
	haveDef      [5]bool
}

func (s *parserState) clearDefaults() { s.haveDef = [5]bool{} }

// errSkip is a TLV to ignore; its message becomes the Ignored reason.
type errSkip string

func (e errSkip) Error() string { return string(e) }

// Parse decodes a whole packet. It fails only when the header is unusable;
// TLVs it cannot use are skipped as RFC 8966 section 4.3 prescribes and
// reported in Ignored. Parse never panics and does not retain packet
// except through Body and Trailer.
func Parse(packet []byte) (Packet, error) {
	var p Packet
	err := parseInto(&p, packet)
	return p, err
}

// parseInto is Parse into p, whose slices it empties and fills again:
// the engine parses every packet into the same Packet, so that the
// slices' room is allocated once.
func parseInto(p *Packet, packet []byte) error {
	clear(p.TLVs)
	clear(p.MACs)
	*p = Packet{TLVs: p.TLVs[:0], MACs: p.MACs[:0], Ignored: p.Ignored[:0]}
	if len(packet) < HeaderLen {
		return ErrShort
	}
	if packet[0] != Magic {
		return fmt.Errorf("%w %d", ErrMagic, packet[0])
	}
	if packet[1] != Version {
		return fmt.Errorf("%w %d", ErrVersion, packet[1])
	}
	bodyLen := int(binary.BigEndian.Uint16(packet[2:4]))
	if HeaderLen+bodyLen > len(packet) {
		return fmt.Errorf("%w (%d > %d)", ErrTruncated, bodyLen, len(packet)-HeaderLen)
	}
	end := HeaderLen + bodyLen
	p.Body = packet[:end]
	p.Trailer = packet[end:]

	var st parserState
	body := packet[HeaderLen:end]
	walk(body, func(off int, t Type, v []byte, truncated bool) {
		off += HeaderLen
		if truncated {
			p.Ignored = append(p.Ignored, Ignored{off, t, "truncated TLV at the end of the body"})
			return
		}
		tlv, err := st.decode(t, v)
		if err != nil {
			p.Ignored = append(p.Ignored, Ignored{off, t, err.Error()})
			return
		}
		if tlv != nil {
			p.TLVs = append(p.TLVs, tlv)
		}
	})
	walk(p.Trailer, func(off int, t Type, v []byte, truncated bool) {
		off += end
		switch {
		case truncated:
			p.Ignored = append(p.Ignored, Ignored{off, t, "truncated TLV at the end of the trailer"})
		case t == TypeHMAC:
			p.MACs = append(p.MACs, HMAC{MAC: clone(v)})
		case t != TypePadN:
			// RFC 8967 section 4.3: only MACs and padding belong here.
			p.Ignored = append(p.Ignored, Ignored{off, t, "TLV not allowed in the trailer"})
		}
	})
	return nil
}

// walk calls f for every TLV in b except Pad1. A TLV whose length runs past
// the end stops the walk: nothing after it can be framed (RFC 8966 4.3).
func walk(b []byte, f func(off int, t Type, v []byte, truncated bool)) {
	for i := 0; i < len(b); {
		t := Type(b[i])
		if t == TypePad1 {
			i++
			continue
		}
		if i+2 > len(b) || i+2+int(b[i+1]) > len(b) {
			f(i, t, nil, true)
			return
		}
		n := int(b[i+1])
		f(i, t, b[i+2:i+2+n], false)
		i += 2 + n
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// decode turns one TLV body into a TLV and updates the parser state. A nil
// TLV with a nil error is something that needs no reporting (padding, or
// TLVs that only change the parser state).
func (s *parserState) decode(t Type, v []byte) (TLV, error) {
	switch t {
	case TypePadN:
		return nil, nil
	case TypeAckReq:
		if len(v) < 6 {
			return nil, errSkip("short AckReq")
		}
		if _, err := parseSubTLVs(v[6:], false, 0); err != nil {
			return nil, err
		}
		return AckReq{Opaque: be16(v[2:]), Interval: be16(v[4:])}, nil
	case TypeAck:
		if len(v) < 2 {
			return nil, errSkip("short Ack")
		}
		if _, err := parseSubTLVs(v[2:], false, 0); err != nil {
			return nil, err
		}
		return Ack{Opaque: be16(v)}, nil
	case TypeHello:
		return decodeHello(v)
	case TypeIHU:
		return decodeIHU(v)
	case TypeRouterID:
		return s.decodeRouterID(v)
	case TypeNextHop:
		return s.decodeNextHop(v)
	case TypeUpdate:
		return s.decodeUpdate(v)
	case TypeRouteRequest:
		return decodeRouteRequest(v)
	case TypeSeqnoRequest:
		return decodeSeqnoRequest(v)
	case TypePC:
		if len(v) < 4 || len(v) > 4+MaxIndexLen {
			return nil, errSkip("PC TLV of bad length")
		}
		return PC{PC: binary.BigEndian.Uint32(v), Index: clone(v[4:])}, nil
	case TypeHMAC:
		// RFC 8967 section 4.3: a MAC in the body is not part of the trailer
		// and proves nothing.
		return nil, errSkip("HMAC TLV in the body")
	case TypeChallengeRequest, TypeChallengeReply:
		if len(v) > MaxNonceLen {
			return nil, errSkip("overlong nonce")
		}
		if t == TypeChallengeRequest {
			return ChallengeRequest{Nonce: clone(v)}, nil
		}
		return ChallengeReply{Nonce: clone(v)}, nil
	}
	return nil, errSkip("unknown TLV type")
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// subTLVs is what the sub-TLV area of a TLV holds.
type subTLVs struct {
	source       netip.Prefix
	sourcePlen   int // -1 when absent
	sourceBytes  []byte
	hasTimestamp bool
	timestamp    []byte
	unknown      []SubTLV
}

// parseSubTLVs reads a sub-TLV area. Unknown mandatory sub-TLVs make the
// whole TLV ignored (RFC 8966 section 4.4); so does a truncated one, since
// the TLV cannot be understood. withPrefix allows the RFC 9079 source
// prefix; tsLen is the length of an RFC 9616 timestamp in this TLV (0:
// none). A timestamp of the wrong length is kept as an unknown sub-TLV.
func parseSubTLVs(b []byte, withPrefix bool, tsLen int) (subTLVs, error) {
	out := subTLVs{sourcePlen: -1}
	for i := 0; i < len(b); {
		t := b[i]
		if t == SubPad1 {
			i++
			continue
		}
		if i+2 > len(b) || i+2+int(b[i+1]) > len(b) {
			return out, errSkip("truncated sub-TLV")
		}
		v := b[i+2 : i+2+int(b[i+1])]
		i += 2 + len(v)
		switch {
		case t == SubPadN:
		case t == SubSourcePrefix && withPrefix:
			if out.sourcePlen >= 0 {
				return out, errSkip("more than one source prefix")
			}
			if len(v) < 1 || v[0] == 0 {
				// RFC 9079 section 4.1: a zero-length source prefix must
				// not be sent; it would be the non-specific route.
				return out, errSkip("bad source prefix sub-TLV")
			}
			out.sourcePlen = int(v[0])
			out.sourceBytes = v[1:]
		case t == SubTimestamp && tsLen > 0 && len(v) == tsLen:
			out.hasTimestamp = true
			out.timestamp = v
		case t&SubMandatory != 0:
			return out, errSkip(fmt.Sprintf("unknown mandatory sub-TLV %d", t))
		default:
			out.unknown = append(out.unknown, SubTLV{Type: t, Value: clone(v)})
		}
	}
	return out, nil
}

func decodeHello(v []byte) (TLV, error) {
	if len(v) < 6 {
		return nil, errSkip("short Hello")
	}
	sub, err := parseSubTLVs(v[6:], false, 4)
	if err != nil {
		return nil, err
	}
	h := Hello{Flags: be16(v), Seqno: be16(v[2:]), Interval: be16(v[4:]), SubTLVs: sub.unknown}
	if sub.hasTimestamp {
		h.HasTimestamp, h.Timestamp = true, binary.BigEndian.Uint32(sub.timestamp)
	}
	return h, nil
}

func decodeIHU(v []byte) (TLV, error) {
	if len(v) < 6 {
		return nil, errSkip("short IHU")
	}
	addr, n, err := decodeAddress(v[0], v[6:])
	if err != nil {
		return nil, err
	}
	sub, err := parseSubTLVs(v[6+n:], false, 8)
	if err != nil {
		return nil, err
	}
	h := IHU{Rxcost: be16(v[2:]), Interval: be16(v[4:]), Address: addr, SubTLVs: sub.unknown}
	if sub.hasTimestamp {
		h.HasTimestamp = true
		h.Origin = binary.BigEndian.Uint32(sub.timestamp)
		h.Receive = binary.BigEndian.Uint32(sub.timestamp[4:])
	}
	return h, nil
}

var linkLocalPrefix = [8]byte{0xfe, 0x80}

// decodeAddress reads a full address in encoding ae (no compression) and
// returns it with the number of octets used. AE 0 is the invalid Addr.
func decodeAddress(ae uint8, b []byte) (netip.Addr, int, error) {
	switch ae {
	case AEWildcard:
		return netip.Addr{}, 0, nil
	case AEIPv4:
		if len(b) < 4 {
			return netip.Addr{}, 0, errSkip("short IPv4 address")
		}
		return netip.AddrFrom4([4]byte(b[:4])), 4, nil
	case AEIPv6:
		if len(b) < 16 {
			return netip.Addr{}, 0, errSkip("short IPv6 address")
		}
		return netip.AddrFrom16([16]byte(b[:16])), 16, nil
	case AELinkLocal:
		if len(b) < 8 {
			return netip.Addr{}, 0, errSkip("short link-local address")
		}
		var a [16]byte
		copy(a[:], linkLocalPrefix[:])
		copy(a[8:], b[:8])
		return netip.AddrFrom16(a), 8, nil
	}
	return netip.Addr{}, 0, errSkip(fmt.Sprintf("unknown address encoding %d", ae))
}

func (s *parserState) decodeRouterID(v []byte) (TLV, error) {
	if len(v) < 10 {
		s.haveRouterID = false
		return nil, errSkip("short Router-Id")
	}
	id := RouterID(v[2:10])
	if id.IsZero() || id == (RouterID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
		// RFC 8966 section 4.6.7: these values are reserved; the Updates
		// that follow must not be attributed to anyone.
		s.haveRouterID = false
		return nil, errSkip("reserved router-id")
	}
	// RFC 8966 section 4.4: the state changes even when a mandatory
	// sub-TLV makes the TLV itself unusable.
	s.routerID, s.haveRouterID = id, true
	if _, err := parseSubTLVs(v[10:], false, 0); err != nil {
		return nil, err
	}
	return RouterIDTLV{RouterID: id}, nil
}

func (s *parserState) decodeNextHop(v []byte) (TLV, error) {
	if len(v) < 2 {
		s.nh4, s.nh6 = netip.Addr{}, netip.Addr{}
		return nil, errSkip("short Next Hop")
	}
	switch v[0] {
	case AEIPv4, AEIPv6, AELinkLocal:
	default:
		// AE 0 carries no address and AE 4 is not an address encoding
		// (RFC 9229 section 2): ignore without touching the state.
		return nil, errSkip(fmt.Sprintf("Next Hop with AE %d", v[0]))
	}
	addr, n, err := decodeAddress(v[0], v[2:])
	if err != nil {
		s.nh4, s.nh6 = netip.Addr{}, netip.Addr{}
		return nil, err
	}
	if v[0] == AEIPv4 {
		s.nh4 = addr
	} else {
		s.nh6 = addr
	}
	if _, err := parseSubTLVs(v[2+n:], false, 0); err != nil {
		return nil, err
	}
	return NextHop{Address: addr}, nil
}

// decodePrefix reads a prefix of plen bits in encoding ae. omitted leading
// octets come from def (the default prefix). It returns the masked prefix
// and the octets read.
func decodePrefix(ae, plen, omitted uint8, def *[16]byte, b []byte) (netip.Prefix, int, error) {
	var width int
	switch ae {
	case AEWildcard:
		return netip.Prefix{}, 0, nil
	case AEIPv4, AEV4ViaV6:
		width = 4
	case AEIPv6:
		width = 16
	case AELinkLocal:
		// RFC 8966 section 4.1.5 defines AE 3 for link-local addresses,
		// which are never routed; no implementation sends it in prefixes.
		return netip.Prefix{}, 0, errSkip("AE 3 in a prefix")
	default:
		return netip.Prefix{}, 0, errSkip(fmt.Sprintf("unknown address encoding %d", ae))
	}
	if int(plen) > width*8 {
		return netip.Prefix{}, 0, errSkip("prefix length too long")
	}
	if int(omitted) > width {
		return netip.Prefix{}, 0, errSkip("too many omitted octets")
	}
	if omitted > 0 && def == nil {
		return netip.Prefix{}, 0, errSkip("omitted octets without a default prefix")
	}
	pb := (int(plen) + 7) / 8
	n := max(pb-int(omitted), 0)
	if len(b) < n {
		return netip.Prefix{}, 0, errSkip("short prefix")
	}
	var a [16]byte
	if omitted > 0 {
		copy(a[:omitted], def[:omitted])
	}
	copy(a[omitted:], b[:n])
	var addr netip.Addr
	if width == 4 {
		addr = netip.AddrFrom4([4]byte(a[:4]))
	} else {
		addr = netip.AddrFrom16(a)
	}
	return netip.PrefixFrom(addr, int(plen)).Masked(), n, nil
}

// sourcePrefix decodes an RFC 9079 source prefix in the family of ae.
func (sub subTLVs) sourcePrefix(ae uint8) (netip.Prefix, error) {
	if sub.sourcePlen < 0 {
		return netip.Prefix{}, nil
	}
	if ae == AEWildcard {
		return netip.Prefix{}, errSkip("source prefix on a wildcard")
	}
	p, _, err := decodePrefix(ae, uint8(sub.sourcePlen), 0, nil, sub.sourceBytes)
	return p, err
}

func prefixBytes(p netip.Prefix) [16]byte {
	if p.Addr().Is4() {
		var a [16]byte
		v4 := p.Addr().As4()
		copy(a[:], v4[:])
		return a
	}
	return p.Addr().As16()
}

func (s *parserState) decodeUpdate(v []byte) (TLV, error) {
	if len(v) < 10 {
		if len(v) < 2 || v[1]&FlagDefaultPrefix != 0 {
			s.clearDefaults()
		}
		return nil, errSkip("short Update")
	}
	ae, flags, plen, omitted := v[0], v[1], v[2], v[3]
	if ae > AEV4ViaV6 {
		return nil, errSkip(fmt.Sprintf("Update with unknown AE %d", ae))
	}
	var def *[16]byte
	if s.haveDef[ae] {
		def = &s.defPrefix[ae]
	}
	prefix, n, err := decodePrefix(ae, plen, omitted, def, v[10:])
	if err != nil {
		if flags&FlagDefaultPrefix != 0 {
			s.clearDefaults()
		}
		return nil, err
	}
	// RFC 8966 section 4.6.9: the state changes even if a sub-TLV makes
	// the Update itself unusable below.
	if ae != AEWildcard {
		if flags&FlagDefaultPrefix != 0 {
			s.defPrefix[ae], s.haveDef[ae] = prefixBytes(prefix), true
		}
		if flags&FlagRouterID != 0 {
			// A derived router-id of all zeros or all ones is as reserved
			// as one in a Router-Id TLV.
			id := routerIDFromPrefix(prefix)
			s.routerID, s.haveRouterID = id, checkRouterID(id) == nil
		}
	}
	u := Update{
		Flags: flags, Omitted: omitted,
		Interval: be16(v[4:]), Seqno: be16(v[6:]), Metric: be16(v[8:]),
		Prefix:  prefix,
		V4ViaV6: ae == AEV4ViaV6,
	}
	if ae != AEWildcard {
		if !s.haveRouterID && u.Metric != Infinity {
			return nil, errSkip("Update without a router-id")
		}
		if s.haveRouterID {
			u.RouterID = s.routerID
		}
		if ae == AEIPv4 {
			u.NextHop = s.nh4
		} else {
			u.NextHop = s.nh6
		}
	}
	sub, err := parseSubTLVs(v[10+n:], true, 0)
	if err != nil {
		return nil, err
	}
	if u.Source, err = sub.sourcePrefix(ae); err != nil {
		return nil, err
	}
	if ae == AEWildcard && u.Metric != Infinity {
		return nil, errSkip("wildcard Update with a finite metric")
	}
	u.SubTLVs = sub.unknown
	return u, nil
}

// routerIDFromPrefix derives a router-id as the R flag prescribes: the
// low eight octets of an IPv6 prefix, or four zero octets and the IPv4
// prefix.
func routerIDFromPrefix(p netip.Prefix) RouterID {
	var id RouterID
	if p.Addr().Is4() {
		a := p.Addr().As4()
		copy(id[4:], a[:])
	} else {
		a := p.Addr().As16()
		copy(id[:], a[8:])
	}
	return id
}

func decodeRouteRequest(v []byte) (TLV, error) {
	if len(v) < 2 {
		return nil, errSkip("short Route Request")
	}
	prefix, n, err := decodePrefix(v[0], v[1], 0, nil, v[2:])
	if err != nil {
		return nil, err
	}
	sub, err := parseSubTLVs(v[2+n:], true, 0)
	if err != nil {
		return nil, err
	}
	r := RouteRequest{Prefix: prefix, SubTLVs: sub.unknown}
	if r.Source, err = sub.sourcePrefix(v[0]); err != nil {
		return nil, err
	}
	return r, nil
}

func decodeSeqnoRequest(v []byte) (TLV, error) {
	if len(v) < 14 {
		return nil, errSkip("short Seqno Request")
	}
	if v[0] == AEWildcard {
		return nil, errSkip("wildcard Seqno Request")
	}
	prefix, n, err := decodePrefix(v[0], v[1], 0, nil, v[14:])
	if err != nil {
		return nil, err
	}
	sub, err := parseSubTLVs(v[14+n:], true, 0)
	if err != nil {
		return nil, err
	}
	r := SeqnoRequest{
		Seqno: be16(v[2:]), HopCount: v[4], RouterID: RouterID(v[6:14]),
		Prefix: prefix, SubTLVs: sub.unknown,
	}
	if r.Source, err = sub.sourcePrefix(v[0]); err != nil {
		return nil, err
	}
	return r, nil
}
