package prefix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Errors of PDPool.
var (
	ErrPoolFull = errors.New("prefix: no free prefix left in the pool")
	ErrNotFree  = errors.New("prefix: prefix is not free in the pool")
)

// PDPool is the part of one delegation that no segment uses, cut into
// prefixes of Length for delegation to routers on the LAN (RFC 9818). A
// client id keeps its prefix until it is released, and across plans while
// the delegation stays. It is safe for concurrent use: the DHCPv6 server
// allocates while the planner plans. A re-plan with the same delegation
// returns the same *PDPool; after renumbering the Plan has a new one that took
// over the bindings, and the old one must no longer be used.
type PDPool struct {
	Uplink string
	From   netip.Prefix // the delegation
	Length int          // length of each delegated prefix

	preferredEnd, validEnd time.Time
	up                     bool

	mu      sync.Mutex
	slots   int          // prefixes of Length in From
	blocked map[int]bool // slots that hold a segment's /64, live or stale
	bound   map[string]int
	owner   map[int]string
	// next is where the search for a free slot starts: every slot above
	// it is taken or blocked, so a pool filling up is not searched from the
	// top again for each new client.
	next int
}

func newPool(d Delegation, length int, reserved map[int]bool) *PDPool {
	p := &PDPool{
		Uplink: d.Uplink, From: d.Prefix, Length: length,
		preferredEnd: d.Preferred, validEnd: d.Valid, up: d.Up,
		slots:   1 << (length - d.Prefix.Bits()),
		blocked: map[int]bool{},
		bound:   map[string]int{},
		owner:   map[int]string{},
	}
	p.next = p.slots - 1
	per := 1 << (64 - length) // /64s in one slot
	for idx := range reserved {
		if s := idx / per; s < p.slots {
			p.blocked[s] = true
		}
	}
	return p
}

// refresh updates a pool whose delegation stayed in place, so holders of it
// see the same bindings; it releases bindings a segment now needs.
func (p *PDPool) refresh(d Delegation, reserved map[int]bool) (lost []string) {
	fresh := newPool(d, p.Length, reserved)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.preferredEnd, p.validEnd, p.up = fresh.preferredEnd, fresh.validEnd, fresh.up
	p.blocked, p.next = fresh.blocked, p.slots-1
	for client, s := range p.bound {
		if p.blocked[s] {
			lost = append(lost, client)
			delete(p.bound, client)
			delete(p.owner, s)
		}
	}
	return lost
}

// adopt takes over the bindings of the pool this one replaces, slot for
// slot, where they still fit and are free.
func (p *PDPool) adopt(old *PDPool) (lost []string) {
	old.mu.Lock()
	defer old.mu.Unlock()
	for client, s := range old.bound {
		if old.Length != p.Length || s >= p.slots || p.blocked[s] {
			lost = append(lost, client)
			continue
		}
		p.bound[client], p.owner[s] = s, client
	}
	return lost
}

// boundIndices calls f with the range of /64 indices [lo, hi) of every bound
// slot, so new segments can keep out of them.
func (p *PDPool) boundIndices(f func(lo, hi int)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	per := 1 << (64 - p.Length)
	for s := range p.owner {
		f(s*per, (s+1)*per)
	}
}

func (p *PDPool) slotPrefix(s int) netip.Prefix {
	a := p.From.Addr().As16()
	hi := binary.BigEndian.Uint64(a[:8]) | uint64(s)<<(64-p.Length)
	binary.BigEndian.PutUint64(a[:8], hi)
	return netip.PrefixFrom(netip.AddrFrom16(a), p.Length)
}

func (p *PDPool) slotOf(pfx netip.Prefix) (int, bool) {
	pfx = pfx.Masked()
	if pfx.Bits() != p.Length || !p.From.Contains(pfx.Addr()) {
		return 0, false
	}
	a, b := p.From.Addr().As16(), pfx.Addr().As16()
	off := binary.BigEndian.Uint64(b[:8]) - binary.BigEndian.Uint64(a[:8])
	return int(off >> (64 - p.Length)), true
}

// Slots is the number of prefixes of Length in the delegation.
func (p *PDPool) Slots() int { return p.slots }

// Available is the number of prefixes that can still be allocated.
func (p *PDPool) Available() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.slots - len(p.blocked) - len(p.owner)
}

// Lookup returns the prefix bound to client.
func (p *PDPool) Lookup(client string) (netip.Prefix, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.bound[client]
	if !ok {
		return netip.Prefix{}, false
	}
	return p.slotPrefix(s), true
}

// Allocate returns the prefix of client: the one it already holds, or a free
// one. Free prefixes are taken from the top of the delegation down, since
// new segments take subnet indices from the bottom up.
func (p *PDPool) Allocate(client string) (netip.Prefix, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.bound[client]; ok {
		return p.slotPrefix(s), nil
	}
	for s := p.next; s >= 0; s-- {
		if p.blocked[s] {
			continue
		}
		if _, taken := p.owner[s]; taken {
			continue
		}
		p.bound[client], p.owner[s] = s, client
		p.next = s - 1
		return p.slotPrefix(s), nil
	}
	p.next = -1
	return netip.Prefix{}, fmt.Errorf("prefix: %s's %s for %q: %w", p.Uplink, p.From, client, ErrPoolFull)
}

// Reserve binds a given prefix to client, for a DHCPv6 server restoring its
// leases after a restart.
func (p *PDPool) Reserve(client string, pfx netip.Prefix) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.slotOf(pfx)
	if !ok || p.blocked[s] {
		return fmt.Errorf("prefix: reserve %s for %q: %w", pfx, client, ErrNotFree)
	}
	if o, taken := p.owner[s]; taken && o != client {
		return fmt.Errorf("prefix: reserve %s for %q: held by %q: %w", pfx, client, o, ErrNotFree)
	}
	if old, ok := p.bound[client]; ok && old != s {
		delete(p.owner, old)
		p.next = max(p.next, old)
	}
	p.bound[client], p.owner[s] = s, client
	return nil
}

// Release frees the prefix of client; it reports whether it held one.
func (p *PDPool) Release(client string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.bound[client]
	if ok {
		delete(p.bound, client)
		delete(p.owner, s)
		p.next = max(p.next, s)
	}
	return ok
}

// Bindings returns every client's prefix.
func (p *PDPool) Bindings() map[string]netip.Prefix {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[string]netip.Prefix, len(p.bound))
	for c, s := range p.bound {
		m[c] = p.slotPrefix(s)
	}
	return m
}

// Free returns the unallocated part of the pool as the fewest prefixes, for
// the unreachable route and for show commands.
func (p *PDPool) Free() []netip.Prefix {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []netip.Prefix
	var walk func(lo, n, bits int)
	walk = func(lo, n, bits int) {
		used := 0
		for s := lo; s < lo+n; s++ {
			if _, taken := p.owner[s]; taken || p.blocked[s] {
				used++
			}
		}
		switch {
		case used == n:
		case used == 0:
			out = append(out, netip.PrefixFrom(p.slotPrefix(lo).Addr(), bits))
		default:
			walk(lo, n/2, bits+1)
			walk(lo+n/2, n/2, bits+1)
		}
	}
	walk(0, p.slots, p.From.Bits())
	return out
}

// Lifetimes returns the lifetimes to give delegated prefixes at a time: the
// same limits as the segments' /64s (RFC 9096 L-13).
func (p *PDPool) Lifetimes(at time.Time) (preferred, valid time.Duration) {
	return lifetimes(at, p.preferredEnd, p.validEnd, p.up)
}
