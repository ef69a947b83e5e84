package dhcp6

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"time"

	"cpe/lan/prefix"
)

// bkey identifies an IA: the client's DUID, the IAID and the IA type.
type bkey struct {
	duid string
	iaid [4]byte
	t    iaType
}

type bstate uint8

const (
	// sOffered: Advertised, held until offerEnd for a Request.
	sOffered bstate = iota
	// sBound: committed by a Reply; lives while a resource is valid.
	sBound
)

// binding is one IA of one client. An IA_NA holds one interface
// identifier, used in every /64 of the segment; an IA_PD holds a prefix
// from each pool.
type binding struct {
	key      bkey
	poolKey  string // the client key in the PD pools
	state    bstate
	via      netip.Addr // the client's link-local address
	offerEnd time.Time

	iid   uint64
	addrs []leasedAddr
	pfx   []leasedPrefix

	next time.Time // the next expiry event, the heap's order
	idx  int       // position in the heap, -1 when not in it
}

// leasedAddr is an address given to an IA_NA with the ends of the
// lifetimes it was given with.
type leasedAddr struct {
	addr             netip.Addr
	preferred, valid time.Time
}

type pstate uint8

const (
	// pLive: bound in pool, which is in the current plan.
	pLive pstate = iota
	// pPending: loaded from the state directory; no pool of the current
	// plan holds it yet (the uplink is still coming up). It is answered
	// with the lifetimes it had and not routed.
	pPending
	// pGone: its delegation went away or a segment took its place; it is
	// returned with lifetimes 0 in the next Reply to the client, then
	// dropped.
	pGone
)

// leasedPrefix is a prefix of an IA_PD. valid is zero while it was only
// offered.
type leasedPrefix struct {
	prefix           netip.Prefix
	uplink           string
	from             netip.Prefix
	pool             *prefix.PDPool // pLive only
	st               pstate
	preferred, valid time.Time
}

func (l *leasedPrefix) committed() bool { return !l.valid.IsZero() }

// routed reports whether l is routed to the client at now.
func (b *binding) routed(l *leasedPrefix, now time.Time) bool {
	return b.state == sBound && l.st == pLive && l.valid.After(now) && b.via.IsValid()
}

// nextEvent is when b must be looked at again: the end of its offer, or
// the first end of a valid lifetime it was given.
func (b *binding) nextEvent() time.Time {
	if b.state == sOffered {
		return b.offerEnd
	}
	var t time.Time
	for _, a := range b.addrs {
		t = earliest(t, a.valid)
	}
	for _, p := range b.pfx {
		t = earliest(t, p.valid)
	}
	return t
}

// earliest is the earlier of a and b, a zero time counting as none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func poolKey(segment string, k bkey) string {
	return segment + "/" + hex.EncodeToString([]byte(k.duid)) + "/" + hex.EncodeToString(k.iaid[:])
}

// iid is the low half of an address, its interface identifier.
func iid(a netip.Addr) uint64 {
	b := a.As16()
	return binary.BigEndian.Uint64(b[8:])
}

func withIID(p netip.Prefix, id uint64) netip.Addr {
	b := p.Addr().As16()
	binary.BigEndian.PutUint64(b[8:], id)
	return netip.AddrFrom16(b)
}

// usableIID keeps out the low identifiers (::1 is the router's, and
// administrators number static hosts from the bottom) and the reserved
// subnet anycast identifiers of RFC 5453.
func usableIID(v uint64) bool { return v >= 1<<16 && v < 0xfdffffffffffff80 }

// iidHash is FNV-1a over the DUID, the IAID and the probe number, then
// the MurmurHash3 finaliser, without which the probes of one IA differ in
// a few bits only and fail together. It must stay the same across
// releases of the firmware, so a host keeps its address even when the
// bindings file is lost.
func iidHash(k bkey, n uint8) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(k.duid); i++ {
		h = (h ^ uint64(k.duid[i])) * prime
	}
	for _, c := range k.iaid {
		h = (h ^ uint64(c)) * prime
	}
	h = (h ^ uint64(n)) * prime
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

// A binding is in the expiry heap while it has a next event, by its time.
func (b *binding) Deadline() time.Time { return b.next }
func (b *binding) HeapIndex() *int     { return &b.idx }
