package babel

import (
	"fmt"
	"net/netip"
)

// Packet header constants (RFC 8966 section 4.2).
const (
	Magic      = 42
	Version    = 2
	HeaderLen  = 4
	Port       = 6696
	maxTLVBody = 255
)

// Type is a TLV type code (RFC 8966 section 4.6, RFC 8967 section 6).
type Type uint8

const (
	TypePad1             Type = 0
	TypePadN             Type = 1
	TypeAckReq           Type = 2
	TypeAck              Type = 3
	TypeHello            Type = 4
	TypeIHU              Type = 5
	TypeRouterID         Type = 6
	TypeNextHop          Type = 7
	TypeUpdate           Type = 8
	TypeRouteRequest     Type = 9
	TypeSeqnoRequest     Type = 10
	TypeHMAC             Type = 16
	TypePC               Type = 17
	TypeChallengeRequest Type = 18
	TypeChallengeReply   Type = 19
)

// Sub-TLV type codes. Types with the 0x80 bit set are mandatory: a TLV
// carrying one we do not understand must be ignored as a whole
// (RFC 8966 section 4.4).
const (
	SubPad1         uint8 = 0
	SubPadN         uint8 = 1
	SubDiversity    uint8 = 2 // RFC 9616 registry; kept as an unknown sub-TLV here
	SubTimestamp    uint8 = 3 // RFC 9616
	SubSourcePrefix uint8 = 128
	SubMandatory    uint8 = 0x80
)

// Address encodings (RFC 8966 section 4.1.5, RFC 9229 section 2).
const (
	AEWildcard  uint8 = 0
	AEIPv4      uint8 = 1
	AEIPv6      uint8 = 2
	AELinkLocal uint8 = 3
	AEV4ViaV6   uint8 = 4
)

// Update flags (RFC 8966 section 4.6.9).
const (
	FlagDefaultPrefix uint8 = 0x80
	FlagRouterID      uint8 = 0x40
)

// HelloUnicast marks a Hello sent to a single neighbour.
const HelloUnicast uint16 = 0x8000

// Infinity is the metric of a retraction.
const Infinity uint16 = 0xFFFF

// Limits from RFC 8967 section 6: a PC index of at most 32 octets and a
// challenge nonce of at most 192.
const (
	MaxIndexLen = 32
	MaxNonceLen = 192
)

// RouterID is a node's 64-bit identifier. The zero value means "not set":
// RFC 8966 forbids all-zeros (and all-ones) router-ids on the wire.
type RouterID [8]byte

func (r RouterID) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x:%02x:%02x",
		r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])
}

// IsZero reports whether r is unset.
func (r RouterID) IsZero() bool { return r == RouterID{} }

// SubTLV is a sub-TLV this package does not interpret; non-mandatory ones
// are kept so a relay can pass them on and tests can see them.
type SubTLV struct {
	Type  uint8
	Value []byte
}

// TLV is one decoded TLV of a packet body or trailer.
type TLV interface {
	Type() Type
}

// Pad1 is a single zero octet of padding. Parse drops padding.
type Pad1 struct{}

// PadN is N octets of zeroed padding after its two-octet header.
type PadN struct{ N uint8 }

// AckReq asks the receiver for an Ack within Interval centiseconds.
type AckReq struct {
	Opaque   uint16
	Interval uint16
}

// Ack answers an AckReq by echoing its Opaque value.
type Ack struct{ Opaque uint16 }

// Hello is sent every hello interval; Flags carries HelloUnicast.
type Hello struct {
	Flags        uint16
	Seqno        uint16
	Interval     uint16 // centiseconds
	HasTimestamp bool   // RFC 9616 timestamp sub-TLV present
	Timestamp    uint32 // microseconds, sender's clock
	SubTLVs      []SubTLV
}

// IHU reports the cost at which the sender hears Address. An invalid
// Address is the wildcard (AE 0): every neighbour on the link. The AE on
// the wire follows from the address: 1 for IPv4, 3 for fe80::/64, else 2.
type IHU struct {
	Rxcost       uint16
	Interval     uint16 // centiseconds
	Address      netip.Addr
	HasTimestamp bool   // RFC 9616
	Origin       uint32 // the timestamp of the Hello this answers
	Receive      uint32 // when that Hello arrived, receiver's clock
	SubTLVs      []SubTLV
}

// RouterIDTLV sets the router-id of the Updates that follow it.
type RouterIDTLV struct{ RouterID RouterID }

// NextHop sets the next hop of the Updates that follow it in the same
// family (IPv4 for AE 1, IPv6 for AE 2, 3 and 4).
type NextHop struct{ Address netip.Addr }

// Update announces (or, with Metric Infinity, retracts) a route.
//
// Parse fills RouterID and NextHop from the parser state (RFC 8966
// section 4.5), so an Update stands on its own; Flags and Omitted are
// reported as received and ignored by the Builder, which compresses by
// itself. A zero NextHop means the sender's own address; a zero RouterID
// is only possible on retractions. A zero Prefix is the wildcard
// retraction (AE 0) of every route of the sender.
type Update struct {
	Flags    uint8  // as received
	Omitted  uint8  // as received
	Interval uint16 // centiseconds
	Seqno    uint16
	Metric   uint16
	Prefix   netip.Prefix
	Source   netip.Prefix // RFC 9079 source prefix; zero when not source-specific
	V4ViaV6  bool         // RFC 9229 AE 4: IPv4 prefix routed via an IPv6 next hop
	RouterID RouterID
	NextHop  netip.Addr
	SubTLVs  []SubTLV
}

// RouteRequest asks for an Update for Prefix (zero Prefix: every route).
type RouteRequest struct {
	Prefix  netip.Prefix
	Source  netip.Prefix // RFC 9079
	SubTLVs []SubTLV
}

// SeqnoRequest asks the originator RouterID for a new seqno of Prefix.
type SeqnoRequest struct {
	Seqno    uint16
	HopCount uint8
	RouterID RouterID
	Prefix   netip.Prefix
	Source   netip.Prefix // RFC 9079
	SubTLVs  []SubTLV
}

// PC is the packet counter of RFC 8967, carried in the packet body.
type PC struct {
	PC    uint32
	Index []byte
}

// HMAC is one MAC of the packet, carried in the packet trailer.
type HMAC struct{ MAC []byte }

// ChallengeRequest carries a nonce the receiver must echo (RFC 8967).
type ChallengeRequest struct{ Nonce []byte }

// ChallengeReply echoes a ChallengeRequest's nonce.
type ChallengeReply struct{ Nonce []byte }

func (Pad1) Type() Type             { return TypePad1 }
func (PadN) Type() Type             { return TypePadN }
func (AckReq) Type() Type           { return TypeAckReq }
func (Ack) Type() Type              { return TypeAck }
func (Hello) Type() Type            { return TypeHello }
func (IHU) Type() Type              { return TypeIHU }
func (RouterIDTLV) Type() Type      { return TypeRouterID }
func (NextHop) Type() Type          { return TypeNextHop }
func (Update) Type() Type           { return TypeUpdate }
func (RouteRequest) Type() Type     { return TypeRouteRequest }
func (SeqnoRequest) Type() Type     { return TypeSeqnoRequest }
func (PC) Type() Type               { return TypePC }
func (HMAC) Type() Type             { return TypeHMAC }
func (ChallengeRequest) Type() Type { return TypeChallengeRequest }
func (ChallengeReply) Type() Type   { return TypeChallengeReply }

// Packet is a decoded Babel packet.
type Packet struct {
	// TLVs of the body in order, padding dropped, ignored TLVs left out.
	TLVs []TLV
	// Body is the header and body as received (the bytes a MAC covers);
	// Trailer is what follows the body (RFC 8967 puts the MACs there).
	Body    []byte
	Trailer []byte
	// MACs are the HMAC TLVs found in the trailer.
	MACs []HMAC
	// Ignored lists what was skipped, for logging and counters.
	Ignored []Ignored
}

// Ignored records one TLV (or the rest of a body) that Parse skipped.
type Ignored struct {
	Offset int // from the start of the packet
	Type   Type
	Reason string
}

var typeNames = map[Type]string{
	TypePad1: "Pad1", TypePadN: "PadN", TypeAckReq: "AckReq", TypeAck: "Ack",
	TypeHello: "Hello", TypeIHU: "IHU", TypeRouterID: "Router-Id",
	TypeNextHop: "Next Hop", TypeUpdate: "Update", TypeRouteRequest: "Route Request",
	TypeSeqnoRequest: "Seqno Request", TypePC: "PC", TypeHMAC: "HMAC",
	TypeChallengeRequest: "Challenge Request", TypeChallengeReply: "Challenge Reply",
}

func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("TLV %d", uint8(t))
}
