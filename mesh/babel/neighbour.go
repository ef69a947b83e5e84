package babel

import (
	"iter"
	"net/netip"
	"slices"
	"time"
)

// helloHistory is the 16-bit record of Hellos heard from a neighbour
// (RFC 8966 section 3.4.1), one for multicast and one for unicast Hellos.
// The most recent Hello is the top bit.
type helloHistory struct {
	reach    uint16
	seqno    uint16
	seen     bool
	interval time.Duration // 0: none announced yet
	time     time.Time     // last scheduled Hello, or where the last missed one was due
}

// missed accounts for Hellos that did not come: one is missed when 1.7
// intervals have gone by since the last (babeld's rule, which leaves
// room for jitter). It reports a change.
func (h *helloHistory) missed(now time.Time) bool {
	if h.interval <= 0 {
		return false
	}
	m := (now.Sub(h.time) - h.interval*7/10) / h.interval
	if m <= 0 {
		return false
	}
	h.time = h.time.Add(m * h.interval)
	if m >= 16 {
		h.reach = 0
	} else {
		h.reach >>= m
	}
	h.seqno += uint16(m)
	return true
}

// received records a Hello with seqno announcing interval (0 for an
// unscheduled one). Seqnos missing between two Hellos count as lost; a
// seqno far in the past is a neighbour that rebooted, and the history
// starts over. It reports a change worth recomputing the cost for.
func (h *helloHistory) received(seqno uint16, interval time.Duration, now time.Time) bool {
	changed := false
	m := 0
	if h.seen && h.reach != 0 {
		m = seqnoMinus(seqno, h.seqno) - 1
		switch {
		case m < -8:
			h.reach, m, changed = 0, 0, true
		case m < 0:
			// A late Hello, held back by a link layer: it replaces the
			// ones we thought we had.
			h.reach <<= -m
			m, changed = 0, true
		}
	}
	if interval != 0 {
		h.time, h.interval = now, interval
	}
	if m > 0 {
		if m >= 16 {
			h.reach = 0
		} else {
			h.reach >>= m
		}
		changed = true
	}
	h.seqno, h.seen = seqno, true
	h.reach = h.reach>>1 | 0x8000
	if h.reach&0xFC00 != 0xFC00 {
		changed = true
	}
	return changed
}

func (h *helloHistory) nextMiss() time.Time {
	if h.interval <= 0 {
		return time.Time{}
	}
	return h.time.Add(h.interval * 17 / 10)
}

type neighbour struct {
	ifc     *iface
	addr    netip.Addr
	created time.Time
	mc, uc  helloHistory

	txcost      uint16 // from the neighbour's IHU
	ihuTime     time.Time
	ihuInterval time.Duration
	rxcost      uint16 // as last computed
	cost        uint16 // link cost, as last computed
	ext, extRaw uint16 // external cost after hysteresis, and as given; 0: none

	uhelloSeqno uint16

	// RFC 8967 state of the neighbour's packets.
	index             []byte
	haveIndex         bool
	pcM, pcU          uint32
	nonce             []byte
	challengeDeadline time.Time
	challengeSent     time.Time
	replySent         time.Time
}

// deadline is the next time Tick has something to do for n.
func (n *neighbour) deadline() time.Time {
	var w time.Time
	at := func(t time.Time) {
		if !t.IsZero() && (w.IsZero() || t.Before(w)) {
			w = t
		}
	}
	at(n.mc.nextMiss())
	at(n.uc.nextMiss())
	if n.txcost != Infinity && n.ihuInterval > 0 {
		at(n.ihuTime.Add(n.ihuInterval * 7 / 2))
	}
	if !n.mc.seen && !n.uc.seen {
		at(n.created.Add(neighbourGrace))
	}
	if last := n.lastHello(); !last.IsZero() {
		at(last.Add(maxHelloSilence))
	}
	return w
}

// lastHello is when the last scheduled Hello of either kind arrived (or
// was due).
func (n *neighbour) lastHello() time.Time {
	if n.uc.time.After(n.mc.time) {
		return n.uc.time
	}
	return n.mc.time
}

func (e *Engine) neighbour(ifc *iface, addr netip.Addr) *neighbour {
	k := neighKey{ifc.cfg.Name, addr}
	if n := e.neighs[k]; n != nil {
		return n
	}
	n := &neighbour{
		ifc: ifc, addr: addr, created: e.now,
		txcost: Infinity, rxcost: Infinity, cost: Infinity,
		uhelloSeqno: uint16(e.rng.Uint32()),
	}
	e.neighs[k] = n
	e.sortedNeighs = nil
	return n
}

// twoOutOfThree is the wired link's test: the last two Hellos heard, or
// one of them and the one before (RFC 8966 appendix A.2.1).
func twoOutOfThree(reach uint16) bool {
	switch {
	case reach&0xC000 == 0xC000:
		return true
	case reach&0xC000 == 0:
		return false
	}
	return reach&0x2000 != 0
}

// rxcostOf is what we tell n in IHUs: the cost of hearing it. On wireless
// links this is 256/β with β the share of recent Hellos received, the
// newest counting most (RFC 8966 appendix A.2.2 as babeld computes it),
// and it grows when Hellos stop for long.
func (e *Engine) rxcostOf(n *neighbour) uint16 {
	delay := e.now.Sub(n.mc.time)
	udelay := e.now.Sub(n.uc.time)
	if (n.mc.reach&0xFFF0 == 0 || delay >= 3*time.Minute) &&
		(n.uc.reach&0xFFF0 == 0 || udelay >= 3*time.Minute) {
		return Infinity
	}
	nominal := int(n.ifc.cfg.RxCost)
	if n.ifc.cfg.Type == Wired {
		if twoOutOfThree(n.mc.reach) || twoOutOfThree(n.uc.reach) {
			return uint16(nominal)
		}
		return Infinity
	}
	r := int(n.mc.reach)
	sreach := (r&0x8000)>>2 + (r&0x4000)>>1 + r&0x3FFF
	cost := 0x8000 * nominal / (sreach + 1)
	if ms := int(delay / time.Millisecond); ms >= 40000 {
		cost = (cost*(ms-20000) + 10000) / 20000
	}
	return uint16(min(cost, inf))
}

// linkCost combines both directions: on wired links the cost the
// neighbour hears us at, on wireless ones ETX = 1/(α·β) in units of 256.
// An external cost (radio statistics) raises it, never lowers it.
func (e *Engine) linkCost(n *neighbour, rx uint16) uint16 {
	if !n.ifc.up {
		return Infinity
	}
	a, b := int(n.txcost), int(rx)
	if a >= inf || b >= inf {
		return Infinity
	}
	c := a
	if n.ifc.cfg.Type == Wireless && (a >= 256 || b >= 256) {
		a, b = max(a, 256), max(b, 256)
		c = (a*b + 128) >> 8
	}
	c = max(c, int(n.ext))
	return uint16(min(c, inf))
}

// updateCost recomputes n's costs and carries a change to its routes.
func (e *Engine) updateCost(n *neighbour) {
	rx := e.rxcostOf(n)
	if (rx == Infinity) != (n.rxcost == Infinity) && n.ifc.up {
		// Tell the neighbour at once that we hear it now (or no longer),
		// rather than at the next scheduled IHU.
		n.rxcost = rx
		e.queueIHU(n)
	}
	n.rxcost = rx
	c := e.linkCost(n, n.rxcost)
	if c == n.cost {
		return
	}
	wasDown := n.cost == Infinity
	n.cost = c
	for _, d := range e.destsVia(n) {
		r := d.routeVia(n)
		e.setRoute(r, r.refmetric, c)
		e.consider(d)
	}
	if wasDown && c != Infinity {
		// A neighbour that just became usable: ask for its whole table
		// rather than wait for its next periodic update.
		e.queueTLV(n.ifc, n.addr, RouteRequest{})
	}
}

// extHysteresis is the smallest change of an external cost that counts:
// radio statistics wobble, and each change may reroute.
func extHysteresis(cur uint16) uint16 { return max(32, cur/8) }

// SetLinkCost feeds an external cost for the link to a neighbour (from
// radio statistics, say); 0 removes it. The link cost becomes the larger
// of it and the Hello-based cost. Changes smaller than an eighth (and
// than 32) are ignored so that routes do not flap with the statistics.
func (e *Engine) SetLinkCost(now time.Time, ifname string, addr netip.Addr, cost uint16) {
	e.begin(now)
	defer e.finish()
	n := e.neighs[neighKey{ifname, addr.WithZone("")}]
	if n == nil {
		return
	}
	n.extRaw = cost
	diff := int(cost) - int(n.ext)
	if cost == 0 || n.ext == 0 || diff >= int(extHysteresis(n.ext)) || -diff >= int(extHysteresis(n.ext)) {
		n.ext = cost
		e.updateCost(n)
	}
}

func (e *Engine) handleHello(n *neighbour, h Hello) {
	unicast := h.Flags&HelloUnicast != 0
	hist := &n.mc
	if unicast {
		hist = &n.uc
	}
	hist.received(h.Seqno, fromCentiseconds(h.Interval), e.now)
	e.updateCost(n)
	if unicast {
		return
	}
	// Give a new neighbour feedback early (babeld's heuristics): a Hello
	// of ours at once when we first hear it, our own routes when its
	// history looks like it just came or just went.
	if n.mc.reach&0xBF00 == 0x8000 {
		e.earlyHello(n.ifc)
		return
	}
	a, b := n.mc.reach&0xC000, n.mc.reach&0x3000
	if (a == 0xC000 && b == 0) || (a == 0 && b == 0x3000) {
		for _, k := range e.ownKeys() {
			e.queueUpdate(n.ifc, k)
		}
	}
}

func (e *Engine) handleIHU(n *neighbour, ihu IHU) {
	if ihu.Address.IsValid() && ihu.Address != n.ifc.addr &&
		!(n.ifc.cfg.IPv4.IsValid() && ihu.Address == n.ifc.cfg.IPv4) {
		return
	}
	n.txcost = ihu.Rxcost
	n.ihuTime = e.now
	n.ihuInterval = fromCentiseconds(ihu.Interval)
}

func (e *Engine) tickNeighbours() {
	for _, n := range e.sortedNeighbours() {
		n.mc.missed(e.now)
		n.uc.missed(e.now)
		heard := n.mc.seen || n.uc.seen
		switch {
		case heard && n.mc.reach == 0 && n.uc.reach == 0,
			!heard && e.now.Sub(n.created) >= neighbourGrace,
			!n.lastHello().IsZero() && e.now.Sub(n.lastHello()) >= maxHelloSilence:
			e.flushNeighbour(n)
			continue
		}
		if n.txcost != Infinity && n.ihuInterval > 0 && e.now.Sub(n.ihuTime) >= n.ihuInterval*7/2 {
			n.txcost = Infinity
		}
		e.updateCost(n)
	}
}

// sortedNeighbours returns the neighbours in (interface, address) order.
// The slice is shared until the next neighbour comes or goes: callers
// read it, and may flush neighbours while they walk it.
func (e *Engine) sortedNeighbours() []*neighbour {
	if e.sortedNeighs != nil || len(e.neighs) == 0 {
		return e.sortedNeighs
	}
	ns := make([]*neighbour, 0, len(e.neighs))
	for _, n := range e.neighs {
		ns = append(ns, n)
	}
	slices.SortFunc(ns, func(a, b *neighbour) int {
		if a.ifc.cfg.Name != b.ifc.cfg.Name {
			if a.ifc.cfg.Name < b.ifc.cfg.Name {
				return -1
			}
			return 1
		}
		return a.addr.Compare(b.addr)
	})
	e.sortedNeighs = ns
	return ns
}

// ifaceNeighbours yields ifc's neighbours in (interface, address) order,
// without allocating: every Hello walks them.
func (e *Engine) ifaceNeighbours(ifc *iface) iter.Seq[*neighbour] {
	return func(yield func(*neighbour) bool) {
		for _, n := range e.sortedNeighbours() {
			if n.ifc == ifc && !yield(n) {
				return
			}
		}
	}
}

// flushNeighbour forgets n and every route through it.
func (e *Engine) flushNeighbour(n *neighbour) {
	delete(e.neighs, neighKey{n.ifc.cfg.Name, n.addr})
	e.sortedNeighs = nil
	n.cost = Infinity
	for _, d := range e.destsVia(n) {
		d.remove(d.routeVia(n))
		e.consider(d)
	}
	for k, q := range e.requests {
		if q.to == n {
			// Re-aim the request at every interface: the neighbour it
			// was waiting for is gone.
			q.to = nil
		}
		if q.from == n {
			q.from = nil
		}
		_ = k
	}
	delete(e.queues, outKey{n.ifc.cfg.Name, n.addr})
}
