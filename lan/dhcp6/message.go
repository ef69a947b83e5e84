package dhcp6

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/insomniacslk/dhcp/dhcpv6"
)

// Ports of RFC 8415 7.2.
const (
	ServerPort = dhcpv6.DefaultServerPort
	ClientPort = dhcpv6.DefaultClientPort
)

type iaType uint8

const (
	iaNA iaType = iota
	iaPD
)

func (t iaType) String() string {
	if t == iaNA {
		return "IA_NA"
	}
	return "IA_PD"
}

// iaReq is one IA of a client message with what the client listed in it:
// addresses for an IA_NA, prefixes for an IA_PD (a bare length hint is not
// a prefix and is left out).
type iaReq struct {
	t     iaType
	iaid  [4]byte
	addrs []netip.Addr
	pfx   []netip.Prefix
}

// request is a decoded client message.
type request struct {
	typ         dhcpv6.MessageType
	xid         dhcpv6.TransactionID
	clientID    []byte
	serverID    []byte
	hasServerID bool
	rapid       bool
	wantIRT     bool // Information Refresh Time in the ORO
	hasIATA     bool
	ias         []iaReq // in message order, one per IAID and type
}

var errShort = errors.New("dhcp6: message shorter than its header")

// clientType says whether t is a message a client sends to a server
// (RFC 8415 7.3); everything else is dropped before decoding.
func clientType(t dhcpv6.MessageType) bool {
	switch t {
	case dhcpv6.MessageTypeSolicit, dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeConfirm,
		dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRebind, dhcpv6.MessageTypeRelease,
		dhcpv6.MessageTypeDecline, dhcpv6.MessageTypeInformationRequest:
		return true
	}
	return false
}

// decode parses a client message. The options the server acts on (IAs,
// Rapid Commit) must parse; others are kept as raw bytes so an odd vendor
// option does not cost a client its answer. Identifiers are kept as raw
// bytes too: the server compares them, it never interprets them.
func decode(b []byte) (r *request, err error) {
	// The parsing library is outside code fed outside bytes: PID 1 must not
	// die of a bug in it.
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("dhcp6: parser panic: %v", p)
		}
	}()
	if len(b) < dhcpv6.MessageHeaderSize {
		return nil, errShort
	}
	r = &request{typ: dhcpv6.MessageType(b[0])}
	copy(r.xid[:], b[1:4])
	var opts dhcpv6.Options
	parser := func(code dhcpv6.OptionCode, data []byte) (dhcpv6.Option, error) {
		switch code {
		case dhcpv6.OptionIANA, dhcpv6.OptionIAPD:
			o, err := dhcpv6.ParseOption(code, data)
			if err != nil {
				return nil, fmt.Errorf("dhcp6: option %s: %w", code, err)
			}
			return o, nil
		case dhcpv6.OptionRapidCommit:
			if len(data) != 0 {
				return nil, errors.New("dhcp6: Rapid Commit option with data")
			}
		case dhcpv6.OptionORO:
			if len(data)%2 != 0 {
				return nil, errors.New("dhcp6: ORO of odd length")
			}
		}
		return &dhcpv6.OptionGeneric{OptionCode: code, OptionData: data}, nil
	}
	if err := opts.FromBytesWithParser(b[dhcpv6.MessageHeaderSize:], parser); err != nil {
		return nil, err
	}
	seen := map[[5]byte]bool{}
	for _, o := range opts {
		switch o.Code() {
		case dhcpv6.OptionClientID:
			if r.clientID == nil {
				r.clientID = o.ToBytes()
			}
		case dhcpv6.OptionServerID:
			if !r.hasServerID {
				r.hasServerID, r.serverID = true, o.ToBytes()
			}
		case dhcpv6.OptionRapidCommit:
			r.rapid = true
		case dhcpv6.OptionORO:
			v := o.ToBytes()
			for i := 0; i+1 < len(v); i += 2 {
				if dhcpv6.OptionCode(binary.BigEndian.Uint16(v[i:])) == dhcpv6.OptionInformationRefreshTime {
					r.wantIRT = true
				}
			}
		case dhcpv6.OptionIATA:
			r.hasIATA = true
		case dhcpv6.OptionIANA:
			ia, ok := o.(*dhcpv6.OptIANA)
			if !ok {
				continue
			}
			// RFC 8415 12: IAIDs are unique per type; a repeated one is
			// answered once.
			k := [5]byte{byte(iaNA), ia.IaId[0], ia.IaId[1], ia.IaId[2], ia.IaId[3]}
			if seen[k] {
				continue
			}
			seen[k] = true
			q := iaReq{t: iaNA, iaid: ia.IaId}
			for _, x := range ia.Options.Get(dhcpv6.OptionIAAddr) {
				if a, ok := x.(*dhcpv6.OptIAAddress); ok {
					if v, ok := netip.AddrFromSlice(a.IPv6Addr); ok && v.Is6() {
						q.addrs = append(q.addrs, v)
					}
				}
			}
			r.ias = append(r.ias, q)
		case dhcpv6.OptionIAPD:
			ia, ok := o.(*dhcpv6.OptIAPD)
			if !ok {
				continue
			}
			k := [5]byte{byte(iaPD), ia.IaId[0], ia.IaId[1], ia.IaId[2], ia.IaId[3]}
			if seen[k] {
				continue
			}
			seen[k] = true
			q := iaReq{t: iaPD, iaid: ia.IaId}
			for _, x := range ia.Options.Prefixes() {
				if x.Prefix == nil {
					continue
				}
				bits, size := x.Prefix.Mask.Size()
				a, ok := netip.AddrFromSlice(x.Prefix.IP)
				if !ok || size != 128 || bits == 0 || a.IsUnspecified() {
					continue // a length hint, not a prefix
				}
				q.pfx = append(q.pfx, netip.PrefixFrom(a, bits).Masked())
			}
			r.ias = append(r.ias, q)
		}
	}
	return r, nil
}
