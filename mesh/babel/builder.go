package babel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Errors from encoding.
var (
	ErrTLVTooLong = errors.New("babel: TLV body longer than 255 octets")
	ErrTooBig     = errors.New("babel: TLV does not fit in an empty packet")
	ErrInvalid    = errors.New("babel: TLV cannot be encoded")
)

// Builder packs TLVs into packets of at most a given size, compressing
// Update prefixes and emitting the Router-Id and Next Hop TLVs the Updates
// rely on (RFC 8966 section 4.5), and starting a new packet when one is
// full. The zero Builder is not usable; call NewBuilder.
type Builder struct {
	max     int
	cur     []byte
	st      encState
	packets [][]byte
	scratch []byte // each TLV is encoded here before it is placed
}

// encState mirrors the receiver's parser state for the packet being built.
type encState struct {
	routerID     RouterID
	haveRouterID bool
	nh4, nh6     netip.Addr
	def          [5][16]byte
	haveDef      [5]bool
}

// NewBuilder returns a Builder whose packets (header and body) are at most
// maxSize octets. Leave room for the trailer (MACs) and for the IP and UDP
// headers in maxSize: a 1500-octet link with one HMAC-SHA256 gives
// 1500 - 40 - 8 - 34.
func NewBuilder(maxSize int) *Builder {
	b := &Builder{}
	b.reset(maxSize)
	return b
}

// reset makes b ready for packets of at most maxSize octets, as new but
// keeping its buffers.
func (b *Builder) reset(maxSize int) {
	clear(b.packets)
	*b = Builder{max: min(maxSize, HeaderLen+0xFFFF), packets: b.packets[:0], scratch: b.scratch[:0]}
}

// Add appends TLVs in order. On error nothing of the failing TLV is
// written; the TLVs before it stay.
func (b *Builder) Add(tlvs ...TLV) error {
	for _, t := range tlvs {
		if err := b.add(t); err != nil {
			return fmt.Errorf("babel: %v: %w", t.Type(), err)
		}
	}
	return nil
}

func (b *Builder) add(t TLV) error {
	for attempt := 0; attempt < 2; attempt++ {
		st := b.st
		enc, fresh, err := encode(b.scratch[:0], &st, t)
		if err != nil {
			return err
		}
		b.scratch = enc[:0]
		empty := len(b.cur) <= HeaderLen
		if !fresh && HeaderLen+max(len(b.cur)-HeaderLen, 0)+len(enc) <= b.max {
			if len(b.cur) == 0 {
				// Room for a packet of Hellos, IHUs and a few updates
				// at once, instead of growing to it.
				b.cur = make([]byte, 0, min(b.max, 256))
				b.cur = append(b.cur, Magic, Version, 0, 0)
			}
			b.cur = append(b.cur, enc...)
			b.st = st
			return nil
		}
		if empty {
			if fresh {
				return fmt.Errorf("%w: needs a parser state it cannot reset", ErrInvalid)
			}
			return ErrTooBig
		}
		b.Flush()
	}
	return ErrTooBig
}

// Flush ends the current packet; the next TLV starts a new one.
func (b *Builder) Flush() {
	if len(b.cur) > HeaderLen {
		binary.BigEndian.PutUint16(b.cur[2:], uint16(len(b.cur)-HeaderLen))
		b.packets = append(b.packets, b.cur)
	}
	b.cur = nil
	b.st = encState{}
}

// Packets flushes and returns every packet built so far, and forgets them.
func (b *Builder) Packets() [][]byte {
	b.Flush()
	p := b.packets
	b.packets = nil
	return p
}

// Marshal encodes tlvs into a single packet of any size up to 64 KiB.
func Marshal(tlvs ...TLV) ([]byte, error) {
	b := NewBuilder(HeaderLen + 0xFFFF)
	if err := b.Add(tlvs...); err != nil {
		return nil, err
	}
	p := b.Packets()
	switch len(p) {
	case 0:
		return []byte{Magic, Version, 0, 0}, nil
	case 1:
		return p[0], nil
	}
	return nil, fmt.Errorf("%w: the TLVs need %d packets", ErrTooBig, len(p))
}

// AppendTrailer appends trailer TLVs (HMAC or padding) to a finished
// packet, after its body (RFC 8967 section 4.2).
func AppendTrailer(packet []byte, tlvs ...TLV) ([]byte, error) {
	for _, t := range tlvs {
		switch t.(type) {
		case HMAC, Pad1, PadN:
		default:
			return packet, fmt.Errorf("babel: %v: %w: not a trailer TLV", t.Type(), ErrInvalid)
		}
		var err error
		var st encState
		if packet, _, err = encode(packet, &st, t); err != nil {
			return packet, fmt.Errorf("babel: %v: %w", t.Type(), err)
		}
	}
	return packet, nil
}

// tlv appends a TLV header and body, checking the length.
func tlv(dst []byte, t Type, body []byte) ([]byte, error) {
	if len(body) > maxTLVBody {
		return dst, ErrTLVTooLong
	}
	dst = append(dst, byte(t), byte(len(body)))
	return append(dst, body...), nil
}

// encode appends t to dst given the receiver's parser state st, which it
// advances. fresh reports that t needs a state st cannot be brought back
// to (an unset router-id or default next hop) and so a new packet.
func encode(dst []byte, st *encState, t TLV) (out []byte, fresh bool, err error) {
	// The body is put together here, on the stack, then copied to dst.
	var buf [maxTLVBody]byte
	body := buf[:0]
	switch t := t.(type) {
	case Pad1:
		return append(dst, 0), false, nil
	case PadN:
		out, err = tlv(dst, TypePadN, make([]byte, t.N))
		return out, false, err
	case AckReq:
		body = binary.BigEndian.AppendUint16(make([]byte, 2, 6), t.Opaque)
		body = binary.BigEndian.AppendUint16(body, t.Interval)
	case Ack:
		body = binary.BigEndian.AppendUint16(nil, t.Opaque)
	case Hello:
		body = binary.BigEndian.AppendUint16(body, t.Flags)
		body = binary.BigEndian.AppendUint16(body, t.Seqno)
		body = binary.BigEndian.AppendUint16(body, t.Interval)
		if t.HasTimestamp {
			body = append(body, SubTimestamp, 4)
			body = binary.BigEndian.AppendUint32(body, t.Timestamp)
		}
		if body, err = appendSubTLVs(body, t.SubTLVs); err != nil {
			return dst, false, err
		}
	case IHU:
		body = append(body, addressEncoding(t.Address), 0)
		body = binary.BigEndian.AppendUint16(body, t.Rxcost)
		body = binary.BigEndian.AppendUint16(body, t.Interval)
		body = appendAddress(body, t.Address)
		if t.HasTimestamp {
			body = append(body, SubTimestamp, 8)
			body = binary.BigEndian.AppendUint32(body, t.Origin)
			body = binary.BigEndian.AppendUint32(body, t.Receive)
		}
		if body, err = appendSubTLVs(body, t.SubTLVs); err != nil {
			return dst, false, err
		}
	case RouterIDTLV:
		if err := checkRouterID(t.RouterID); err != nil {
			return dst, false, err
		}
		body = append(append(body, 0, 0), t.RouterID[:]...)
		st.routerID, st.haveRouterID = t.RouterID, true
	case NextHop:
		ae := addressEncoding(t.Address)
		if ae == AEWildcard {
			return dst, false, fmt.Errorf("%w: Next Hop without an address", ErrInvalid)
		}
		body = appendAddress(append(body, ae, 0), t.Address)
		if ae == AEIPv4 {
			st.nh4 = t.Address
		} else {
			st.nh6 = t.Address.WithZone("")
		}
	case Update:
		return encodeUpdate(dst, st, t)
	case RouteRequest:
		ae, plen, pfx, err := requestPrefix(t.Prefix, t.Source)
		if err != nil {
			return dst, false, err
		}
		body = append(append(body, ae, plen), pfx...)
		body = appendSource(body, t.Source)
		if body, err = appendSubTLVs(body, t.SubTLVs); err != nil {
			return dst, false, err
		}
	case SeqnoRequest:
		ae, plen, pfx, err := requestPrefix(t.Prefix, t.Source)
		if err != nil {
			return dst, false, err
		}
		if ae == AEWildcard {
			return dst, false, fmt.Errorf("%w: Seqno Request without a prefix", ErrInvalid)
		}
		body = append(body, ae, plen)
		body = binary.BigEndian.AppendUint16(body, t.Seqno)
		body = append(body, t.HopCount, 0)
		body = append(body, t.RouterID[:]...)
		body = append(body, pfx...)
		body = appendSource(body, t.Source)
		if body, err = appendSubTLVs(body, t.SubTLVs); err != nil {
			return dst, false, err
		}
	case PC:
		if len(t.Index) > MaxIndexLen {
			return dst, false, fmt.Errorf("%w: PC index longer than %d", ErrInvalid, MaxIndexLen)
		}
		body = binary.BigEndian.AppendUint32(body, t.PC)
		body = append(body, t.Index...)
	case HMAC:
		body = t.MAC
	case ChallengeRequest:
		if len(t.Nonce) > MaxNonceLen {
			return dst, false, fmt.Errorf("%w: nonce longer than %d", ErrInvalid, MaxNonceLen)
		}
		body = t.Nonce
	case ChallengeReply:
		if len(t.Nonce) > MaxNonceLen {
			return dst, false, fmt.Errorf("%w: nonce longer than %d", ErrInvalid, MaxNonceLen)
		}
		body = t.Nonce
	default:
		return dst, false, fmt.Errorf("%w: unknown TLV %T", ErrInvalid, t)
	}
	out, err = tlv(dst, t.Type(), body)
	return out, false, err
}

func checkRouterID(id RouterID) error {
	if id.IsZero() || id == (RouterID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
		return fmt.Errorf("%w: reserved router-id %v", ErrInvalid, id)
	}
	return nil
}

func appendSubTLVs(body []byte, subs []SubTLV) ([]byte, error) {
	for _, s := range subs {
		switch s.Type {
		case SubPad1, SubPadN, SubSourcePrefix:
			return body, fmt.Errorf("%w: sub-TLV %d has its own field", ErrInvalid, s.Type)
		}
		if len(s.Value) > maxTLVBody {
			return body, ErrTLVTooLong
		}
		body = append(body, s.Type, byte(len(s.Value)))
		body = append(body, s.Value...)
	}
	return body, nil
}

// isLinkLocal64 reports an address in fe80::/64, the only link-local
// addresses AE 3 can carry.
func isLinkLocal64(a netip.Addr) bool {
	b := a.As16()
	return a.Is6() && [8]byte(b[:8]) == linkLocalPrefix
}

// addressEncoding picks the shortest AE for a full address.
func addressEncoding(a netip.Addr) uint8 {
	switch {
	case !a.IsValid():
		return AEWildcard
	case a.Is4():
		return AEIPv4
	case isLinkLocal64(a):
		return AELinkLocal
	}
	return AEIPv6
}

// appendAddress appends a as its address encoding has it.
func appendAddress(b []byte, a netip.Addr) []byte {
	switch addressEncoding(a) {
	case AEWildcard:
		return b
	case AEIPv4:
		x := a.As4()
		return append(b, x[:]...)
	case AELinkLocal:
		x := a.As16()
		return append(b, x[8:]...)
	}
	x := a.As16()
	return append(b, x[:]...)
}

// requestPrefix encodes an uncompressed prefix for the request TLVs.
func requestPrefix(p, src netip.Prefix) (ae, plen uint8, b []byte, err error) {
	if !p.IsValid() {
		if src.IsValid() {
			return 0, 0, nil, fmt.Errorf("%w: source prefix on a wildcard", ErrInvalid)
		}
		return AEWildcard, 0, nil, nil
	}
	if err := checkSource(p, src); err != nil {
		return 0, 0, nil, err
	}
	p = p.Masked()
	ae = AEIPv6
	if p.Addr().Is4() {
		ae = AEIPv4
	}
	a := prefixBytes(p)
	return ae, uint8(p.Bits()), a[:(p.Bits()+7)/8], nil
}

func checkSource(p, src netip.Prefix) error {
	if src.IsValid() && (src.Addr().Is4() != p.Addr().Is4() || src.Bits() == 0) {
		return fmt.Errorf("%w: source prefix %v with %v", ErrInvalid, src, p)
	}
	return nil
}

// appendSource appends the RFC 9079 source prefix sub-TLV, uncompressed.
func appendSource(body []byte, src netip.Prefix) []byte {
	if !src.IsValid() {
		return body
	}
	src = src.Masked()
	a := prefixBytes(src)
	n := (src.Bits() + 7) / 8
	body = append(body, SubSourcePrefix, byte(1+n), byte(src.Bits()))
	return append(body, a[:n]...)
}

func encodeUpdate(dst []byte, st *encState, u Update) ([]byte, bool, error) {
	hdr := func(body []byte, ae, flags, plen, omitted uint8) []byte {
		body = append(body, ae, flags, plen, omitted)
		body = binary.BigEndian.AppendUint16(body, u.Interval)
		body = binary.BigEndian.AppendUint16(body, u.Seqno)
		return binary.BigEndian.AppendUint16(body, u.Metric)
	}
	if !u.Prefix.IsValid() {
		if u.Metric != Infinity || u.Source.IsValid() {
			return dst, false, fmt.Errorf("%w: a wildcard Update is a retraction without a source", ErrInvalid)
		}
		body, err := appendSubTLVs(hdr(nil, AEWildcard, 0, 0, 0), u.SubTLVs)
		if err != nil {
			return dst, false, err
		}
		out, err := tlv(dst, TypeUpdate, body)
		return out, false, err
	}
	p := u.Prefix.Masked()
	if err := checkSource(p, u.Source); err != nil {
		return dst, false, err
	}
	ae := AEIPv6
	switch {
	case p.Addr().Is4() && u.V4ViaV6:
		ae = AEV4ViaV6
	case p.Addr().Is4():
		ae = AEIPv4
	case u.V4ViaV6:
		return dst, false, fmt.Errorf("%w: v4-via-v6 with IPv6 prefix %v", ErrInvalid, p)
	}

	var pre []byte // Router-Id and Next Hop TLVs this Update needs first
	var flags uint8
	switch {
	case u.RouterID.IsZero():
		if u.Metric != Infinity {
			return dst, false, fmt.Errorf("%w: Update for %v without a router-id", ErrInvalid, p)
		}
		if st.haveRouterID {
			return dst, true, nil
		}
	case st.haveRouterID && st.routerID == u.RouterID:
	case routerIDFromPrefix(p) == u.RouterID:
		// The R flag saves the 12 octets of a Router-Id TLV when the
		// router-id is the prefix's low bits, as with babeld's defaults.
		flags |= FlagRouterID
		st.routerID, st.haveRouterID = u.RouterID, true
	default:
		var err error
		if pre, _, err = encode(pre, st, RouterIDTLV{RouterID: u.RouterID}); err != nil {
			return dst, false, err
		}
	}

	nh := u.NextHop.WithZone("")
	cur := &st.nh6
	if ae == AEIPv4 {
		cur = &st.nh4
		if nh.IsValid() && !nh.Is4() {
			return dst, false, fmt.Errorf("%w: IPv4 route %v via %v (set V4ViaV6)", ErrInvalid, p, nh)
		}
	} else if nh.Is4() {
		return dst, false, fmt.Errorf("%w: %v via IPv4 next hop %v", ErrInvalid, p, nh)
	}
	switch {
	case !nh.IsValid() && cur.IsValid():
		return dst, true, nil
	case nh.IsValid() && nh != *cur:
		var err error
		if pre, _, err = encode(pre, st, NextHop{Address: nh}); err != nil {
			return dst, false, err
		}
	}

	a := prefixBytes(p)
	pb := (p.Bits() + 7) / 8
	omitted := 0
	if st.haveDef[ae] {
		for omitted < pb && st.def[ae][omitted] == a[omitted] {
			omitted++
		}
	}
	// Setting the default prefix costs nothing and makes the next Update
	// of a sorted table compress against this one.
	flags |= FlagDefaultPrefix
	st.def[ae], st.haveDef[ae] = a, true

	body := hdr(nil, ae, flags, uint8(p.Bits()), uint8(omitted))
	body = append(body, a[omitted:pb]...)
	body = appendSource(body, u.Source)
	body, err := appendSubTLVs(body, u.SubTLVs)
	if err != nil {
		return dst, false, err
	}
	dst = append(dst, pre...)
	out, err := tlv(dst, TypeUpdate, body)
	return out, false, err
}
