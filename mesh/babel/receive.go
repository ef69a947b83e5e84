package babel

import (
	"bytes"
	"maps"
	"net/netip"
	"time"
)

// DropReason says why a packet was dropped whole.
type DropReason string

const (
	DropNoInterface  DropReason = "interface not running Babel"
	DropNotLinkLocal DropReason = "source not link-local"
	DropOwn          DropReason = "our own packet"
	DropMalformed    DropReason = "malformed"
	DropUnsigned     DropReason = "no MAC"
	DropBadMAC       DropReason = "no MAC verifies"
	DropNoPC         DropReason = "no packet counter"
	DropUnknownIndex DropReason = "unknown index, challenged"
	DropReplay       DropReason = "packet counter did not increase"
)

// Counters count packets and what became of them.
type Counters struct {
	PacketsIn, PacketsOut uint64
	BytesIn, BytesOut     uint64
	Dropped               map[DropReason]uint64
	// TLVsIgnored counts TLVs skipped inside accepted packets (unknown
	// types, mandatory sub-TLVs we do not know, malformed ones).
	TLVsIgnored uint64
	// UpdatesRefused counts updates the filters refused.
	UpdatesRefused    uint64
	UnfeasibleUpdates uint64
	SeqnoRequestsSent uint64
	// SeqnoRequestsForwarded and SeqnoRequestsDuplicate count requests of
	// others, passed on or suppressed as already in flight.
	SeqnoRequestsForwarded uint64
	SeqnoRequestsDuplicate uint64
	ChallengesSent         uint64
	ChallengeReplies       uint64
	EncodeErrors           uint64
}

// Counters returns a copy of the counters.
func (e *Engine) Counters() Counters {
	c := e.counters
	c.Dropped = maps.Clone(e.counters.Dropped)
	return c
}

func (e *Engine) drop(r DropReason) {
	if e.counters.Dropped == nil {
		e.counters.Dropped = map[DropReason]uint64{}
	}
	e.counters.Dropped[r]++
}

// Receive processes one datagram that arrived on ifname from src to dst
// (the Babel group or our own address). Anything may arrive: what cannot
// be used is dropped and counted. data is not kept: the caller may reuse
// it once Receive returns.
func (e *Engine) Receive(now time.Time, ifname string, src, dst netip.AddrPort, data []byte) {
	e.begin(now)
	defer e.finish()
	e.counters.PacketsIn++
	e.counters.BytesIn += uint64(len(data))
	ifc := e.ifaces[ifname]
	if ifc == nil || !ifc.up {
		e.drop(DropNoInterface)
		return
	}
	from := src.Addr().WithZone("").Unmap()
	// RFC 8966 section 4: Babel speaks from link-local addresses, which
	// also keeps off-link senders out.
	if !from.Is6() || !from.IsLinkLocalUnicast() {
		e.drop(DropNotLinkLocal)
		return
	}
	if from == ifc.addr {
		e.drop(DropOwn)
		return
	}
	src = netip.AddrPortFrom(from, src.Port())
	dst = netip.AddrPortFrom(dst.Addr().WithZone("").Unmap(), dst.Port())
	p := &e.rx
	defer func() { p.Body, p.Trailer = nil, nil }() // data is the caller's again
	if err := parseInto(p, data); err != nil {
		e.drop(DropMalformed)
		return
	}
	e.counters.TLVsIgnored += uint64(len(p.Ignored))
	multicast := dst.Addr().IsMulticast()
	var n *neighbour
	if ifc.auth() {
		var ok bool
		if n, ok = e.authenticate(ifc, src, dst, *p, multicast); !ok {
			return
		}
	} else {
		n = e.neighbour(ifc, from)
	}
	for _, t := range p.TLVs {
		switch t := t.(type) {
		case Hello:
			e.handleHello(n, t)
		case IHU:
			e.handleIHU(n, t)
			e.updateCost(n)
		case Update:
			e.handleUpdate(n, t)
		case RouteRequest:
			e.handleRouteRequest(n, t, multicast)
		case SeqnoRequest:
			e.handleSeqnoRequest(n, t)
		case AckReq:
			e.queueTLV(ifc, n.addr, Ack{Opaque: t.Opaque})
		}
	}
}

// authenticate applies RFC 8967 section 4.3 to a packet on an interface
// with keys: a MAC must verify under one of them; then the packet counter
// must increase under the index we know for the neighbour, or the packet
// must answer our challenge. A neighbour with an unknown index is
// challenged. Challenge requests are answered unless the packet is a
// replay.
func (e *Engine) authenticate(ifc *iface, src, dst netip.AddrPort, p Packet, multicast bool) (*neighbour, bool) {
	if len(p.MACs) == 0 {
		e.drop(DropUnsigned)
		return nil, false
	}
	verified := false
	for _, k := range ifc.cfg.Keys {
		if VerifyHMACSHA256(k.Secret, src, dst, p) {
			verified = true
			break
		}
	}
	if !verified {
		e.drop(DropBadMAC)
		return nil, false
	}
	var pc *PC
	var nonces, replies [][]byte
	for _, t := range p.TLVs {
		switch t := t.(type) {
		case PC:
			if pc == nil {
				pc = &t
			}
		case ChallengeRequest:
			// A challenge must be answered to its sender alone; one
			// that came multicast is nobody's.
			if !multicast {
				nonces = append(nonces, t.Nonce)
			}
		case ChallengeReply:
			replies = append(replies, t.Nonce)
		}
	}
	n := e.neighbour(ifc, src.Addr())
	success := false
	for _, r := range replies {
		if !n.challengeDeadline.IsZero() && !e.now.After(n.challengeDeadline) && bytes.Equal(r, n.nonce) {
			success = true
			n.challengeDeadline = time.Time{}
		}
	}
	accept, answer := false, true
	switch {
	case pc == nil:
		e.drop(DropNoPC)
	case success:
		n.index, n.haveIndex = bytes.Clone(pc.Index), true
		n.pcM, n.pcU = pc.PC, pc.PC
		accept = true
	case !n.haveIndex || !bytes.Equal(n.index, pc.Index):
		e.challenge(n)
		e.drop(DropUnknownIndex)
	default:
		// Multicast and unicast packets travel separately and may
		// overtake each other: each kind has its own counter (as babeld).
		last := &n.pcU
		if multicast {
			last = &n.pcM
		}
		if pc.PC <= *last {
			e.drop(DropReplay)
			answer = false
			break
		}
		*last = pc.PC
		accept = true
	}
	if answer {
		for _, nonce := range nonces {
			e.challengeReply(n, nonce)
		}
	}
	return n, accept
}

func (e *Engine) challenge(n *neighbour) {
	if !n.challengeSent.IsZero() && e.now.Sub(n.challengeSent) < challengeRate {
		return
	}
	nonce, err := e.random(nonceLen)
	if err != nil {
		e.log.Warn("no nonce for a challenge", "err", err)
		return
	}
	n.nonce = nonce
	n.challengeDeadline = e.now.Add(challengeTimeout)
	n.challengeSent = e.now
	e.counters.ChallengesSent++
	e.queueTLV(n.ifc, n.addr, ChallengeRequest{Nonce: nonce})
}

func (e *Engine) challengeReply(n *neighbour, nonce []byte) {
	if !n.replySent.IsZero() && e.now.Sub(n.replySent) < challengeRate {
		return
	}
	n.replySent = e.now
	e.counters.ChallengeReplies++
	e.queueTLV(n.ifc, n.addr, ChallengeReply{Nonce: bytes.Clone(nonce)})
}
