package babel

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"time"
)

// Everything a call decides to send is queued per (interface, destination)
// and packed into datagrams when the call ends, so that one event gives as
// few packets as possible. Updates are queued by key and resolved at that
// moment from the current table, as babeld does: what goes out is always
// the latest state.

type outKey struct {
	ifname string
	dst    netip.Addr
}

type outQueue struct {
	ifc      *iface
	dst      netip.Addr
	hello    Hello
	hasHello bool
	ihus     []*neighbour
	tlvs     []TLV
	updates  []routeKey
	seen     map[routeKey]bool
	dump     bool
}

func (q *outQueue) addUpdate(k routeKey) {
	if q.seen == nil {
		q.seen = map[routeKey]bool{}
	}
	if !q.seen[k] {
		q.seen[k] = true
		q.updates = append(q.updates, k)
	}
}

// reset empties q for reuse, keeping its buffers.
func (q *outQueue) reset() {
	clear(q.ihus)
	clear(q.tlvs)
	clear(q.seen)
	*q = outQueue{ihus: q.ihus[:0], tlvs: q.tlvs[:0], updates: q.updates[:0], seen: q.seen}
}

// queue returns the queue for (ifc, dst), taking an emptied one from the
// last flush when it is new: an idle box queues the same few every time.
func (e *Engine) queue(ifc *iface, dst netip.Addr) *outQueue {
	k := outKey{ifc.cfg.Name, dst}
	q := e.queues[k]
	if q == nil {
		if n := len(e.spareQueues); n > 0 {
			q, e.spareQueues = e.spareQueues[n-1], e.spareQueues[:n-1]
		} else {
			q = &outQueue{}
		}
		q.ifc, q.dst = ifc, dst
		e.queues[k] = q
	}
	return q
}

func (e *Engine) queueTLV(ifc *iface, dst netip.Addr, t TLV) {
	q := e.queue(ifc, dst)
	q.tlvs = append(q.tlvs, t)
}

// queueIfaceTLV sends t to every neighbour on ifc: to the group, or to
// each of them on a unicast interface.
func (e *Engine) queueIfaceTLV(ifc *iface, t TLV) {
	if !ifc.cfg.Unicast {
		e.queueTLV(ifc, MulticastGroup, t)
		return
	}
	for n := range e.ifaceNeighbours(ifc) {
		e.queueTLV(ifc, n.addr, t)
	}
}

func (e *Engine) queueUpdate(ifc *iface, k routeKey) {
	if !ifc.cfg.Unicast {
		e.queue(ifc, MulticastGroup).addUpdate(k)
		return
	}
	for n := range e.ifaceNeighbours(ifc) {
		e.queue(ifc, n.addr).addUpdate(k)
	}
}

func (e *Engine) queueDumpIface(ifc *iface) {
	if !ifc.cfg.Unicast {
		e.queue(ifc, MulticastGroup).dump = true
		return
	}
	for n := range e.ifaceNeighbours(ifc) {
		e.queue(ifc, n.addr).dump = true
	}
}

// upIfaces returns the interfaces that are up, by name. The slice is
// shared until one comes up or goes down; callers only read it.
func (e *Engine) upIfaces() []*iface {
	if e.upList != nil {
		return e.upList
	}
	var out []*iface
	for _, ifc := range e.ifaces {
		if ifc.up {
			out = append(out, ifc)
		}
	}
	slices.SortFunc(out, func(a, b *iface) int {
		switch {
		case a.cfg.Name < b.cfg.Name:
			return -1
		case a.cfg.Name > b.cfg.Name:
			return 1
		}
		return 0
	})
	e.upList = out
	return out
}

func (e *Engine) ownKeys() []routeKey {
	ks := make([]routeKey, 0, len(e.own))
	for k := range e.own {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, compareKeys)
	return ks
}

// maxInterval is the longest interval a TLV can announce: 16 bits of
// centiseconds.
const maxInterval = 0xFFFF * 10 * time.Millisecond

// ceilCentiseconds encodes an interval that is an upper bound: rounded
// up, so that what comes on time is never late by the announcement.
func ceilCentiseconds(d time.Duration) uint16 {
	cs := (d + 10*time.Millisecond - 1) / (10 * time.Millisecond)
	return uint16(min(max(cs, 0), 0xFFFF))
}

// startCycle sends what begins a cycle on ifc: a Hello, the full update
// and, every cycle or every other one, every neighbour's IHU, in one
// packet. The cycle holds as many scheduled Hellos as the update
// interval does at the Hello interval, so that on average Hellos and
// full updates go at the configured intervals and the update never needs
// a packet of its own (babeld gets that by holding its updates until the
// next Hello, and announces the nominal intervals whatever it drew).
//
// On a wired link a neighbour's cost is 2-out-of-3, which changes only
// when the link comes or goes, and either change is told at once
// (updateCost), to a marginal neighbour with every Hello: the periodic
// IHU only refreshes it, and every other cycle is enough. On a wireless
// link the ETX cost moves by degrees, and every cycle tells it.
func (e *Engine) startCycle(ifc *iface) {
	h, u := ifc.cfg.HelloInterval, ifc.cfg.UpdateInterval
	if ifc.nextCycle == 0 {
		ifc.nextCycle = min(e.spread(u), maxInterval)
	}
	ifc.cycle, ifc.nextCycle = ifc.nextCycle, min(e.spread(u), maxInterval)
	ifc.cycleEnd = e.now.Add(ifc.cycle)
	e.alignCycle(ifc)
	ifc.left = int((u + h - 1) / h)
	full := ifc.ihuLeft <= 0
	if full {
		ifc.ihuLeft, ifc.ihuPeriod = 1, ifc.cycle
		if ifc.cfg.Type == Wired && ifc.cycle+ifc.nextCycle <= maxInterval {
			ifc.ihuLeft, ifc.ihuPeriod = 2, ifc.cycle+ifc.nextCycle
		}
	}
	ifc.ihuLeft--
	e.scheduleHello(ifc)
	e.sendHello(ifc, full)
	e.queueDumpIface(ifc)
}

// alignCycle makes the cycle ifc just started end with another
// interface's, so that the two share the wake-ups of their full updates,
// and their Hellos follow (scheduleHello). Every announced interval is an
// upper bound, so a cycle may be made shorter than drawn, down to the
// least it could have been drawn, but never longer:
//
//   - another cycle that ends inside the range ifc's was drawn from, and
//     no later than drawn, is as good a draw, and so is its next one:
//     taking both keeps the two together from now on;
//   - another that ends later than ifc's is made to end with it when it
//     will have lasted long enough by then.
func (e *Engine) alignCycle(ifc *iface) {
	u := ifc.cfg.UpdateInterval
	for _, o := range e.upIfaces() {
		if o == ifc || o.cycleEnd.IsZero() {
			continue
		}
		ou := o.cfg.UpdateInterval
		switch od := o.cycleEnd.Sub(e.now); {
		case od >= u*3/4 && od <= ifc.cycle:
			ifc.cycle, ifc.cycleEnd = od, o.cycleEnd
			if o.nextCycle >= u*3/4 && o.nextCycle <= u*5/4 {
				ifc.nextCycle = o.nextCycle
			}
			return
		case od > ifc.cycle && ifc.cycleEnd.Sub(o.cycleEnd.Add(-o.cycle)) >= ou*3/4:
			o.cycle -= o.cycleEnd.Sub(ifc.cycleEnd)
			o.cycleEnd = ifc.cycleEnd
			if o.nextHello.After(o.cycleEnd) {
				o.nextHello = o.cycleEnd
			}
			return
		}
	}
}

// scheduleHello draws the time of the next scheduled Hello: the cycle's
// end for the last one, otherwise around an even share of what is left.
func (e *Engine) scheduleHello(ifc *iface) {
	if ifc.left <= 1 {
		ifc.nextHello = ifc.cycleEnd
		return
	}
	share := ifc.cycleEnd.Sub(e.now) / time.Duration(ifc.left)
	d := e.spread(share)
	// Another interface's Hello inside the range drawn from is as good
	// a draw, and shares its wake-up.
	for _, o := range e.upIfaces() {
		if od := o.nextHello.Sub(e.now); o != ifc && od >= share*3/4 && od <= share*5/4 {
			d = od
			break
		}
	}
	ifc.nextHello = e.now.Add(max(d, time.Millisecond))
}

// earlyHello gives a neighbour just heard a Hello of ours at once
// (babeld's heuristic), outside the schedule, unless a scheduled one is
// about to go anyway. It announces the time to the next scheduled Hello,
// which stays where it was.
func (e *Engine) earlyHello(ifc *iface) {
	if ifc.nextHello.Sub(e.now) >= ifc.cfg.HelloInterval/4 {
		e.sendHello(ifc, false)
	}
}

// sendHello sends the interface's multicast Hello, announcing the time
// to the next scheduled one, with the IHUs that go with it: all of them
// when full, the marginal neighbours' each time (babeld's rule), and on
// a unicast interface a unicast Hello to each neighbour as well.
func (e *Engine) sendHello(ifc *iface, full bool) {
	q := e.queue(ifc, MulticastGroup)
	// Two Hellos in one packet would count as one.
	fresh := !q.hasHello
	iv := ceilCentiseconds(ifc.nextHello.Sub(e.now))
	if fresh {
		ifc.helloSeqno++
		q.hello, q.hasHello = Hello{Seqno: ifc.helloSeqno, Interval: iv}, true
	}
	for n := range e.ifaceNeighbours(ifc) {
		if ifc.cfg.Unicast && fresh {
			uq := e.queue(ifc, n.addr)
			if !uq.hasHello {
				n.uhelloSeqno++
				uq.hello, uq.hasHello = Hello{Flags: HelloUnicast, Seqno: n.uhelloSeqno, Interval: iv}, true
			}
		}
		if full || n.mc.reach&0xF000 != 0xF000 || n.txcost >= 384 {
			e.queueIHU(n)
		}
	}
}

// queueIHU queues an IHU for n; it is written when the queue is flushed,
// with the rxcost of that moment.
func (e *Engine) queueIHU(n *neighbour) {
	dst := MulticastGroup
	if n.ifc.cfg.Unicast {
		dst = n.addr
	}
	q := e.queue(n.ifc, dst)
	if !slices.Contains(q.ihus, n) {
		q.ihus = append(q.ihus, n)
	}
}

// tickInterfaces sends the scheduled Hellos that are due, the last of a
// cycle with the full update. A caller that stalled past several gets
// one, not a burst.
//
// When one interface's Hello goes, the others' that are due within a
// quarter of their Hello interval go with it, so that the interfaces of
// a box share their wake-ups instead of each having its own. A Hello
// that goes early keeps the promise of the one before, whose interval
// is an upper bound (RFC 8966 section 4.6.5), and the schedule goes on
// from there. The last Hello of a cycle keeps its time: the full update
// goes with it, and ending cycles early would send more of them.
func (e *Engine) tickInterfaces() {
	ups := e.upIfaces()
	due := func(ifc *iface) bool { return !e.now.Before(ifc.nextHello) }
	if !slices.ContainsFunc(ups, due) {
		return
	}
	for _, ifc := range ups {
		if !due(ifc) && (ifc.left <= 1 || ifc.nextHello.Sub(e.now) >= ifc.cfg.HelloInterval/4) {
			continue
		}
		ifc.left--
		if ifc.left <= 0 || !e.now.Before(ifc.cycleEnd) {
			e.startCycle(ifc)
			continue
		}
		e.scheduleHello(ifc)
		e.sendHello(ifc, false)
	}
}

// flushQueues packs every queue into datagrams.
func (e *Engine) flushQueues() {
	if len(e.queues) == 0 {
		return
	}
	keys := e.flushKeys[:0]
	for k := range e.queues {
		keys = append(keys, k)
	}
	e.flushKeys = keys
	slices.SortFunc(keys, func(a, b outKey) int {
		switch {
		case a.ifname < b.ifname:
			return -1
		case a.ifname > b.ifname:
			return 1
		}
		return a.dst.Compare(b.dst)
	})
	for _, k := range keys {
		q := e.queues[k]
		if !q.ifc.up {
			continue
		}
		tlvs := e.flushTLVs[:0]
		if q.hasHello {
			tlvs = append(tlvs, q.hello)
		}
		for _, n := range q.ihus {
			if e.neighs[neighKey{n.ifc.cfg.Name, n.addr}] != n {
				continue // flushed meanwhile
			}
			// The next full IHU comes within one IHU period from now.
			tlvs = append(tlvs, IHU{Rxcost: n.rxcost, Interval: ceilCentiseconds(n.ifc.ihuPeriod), Address: n.addr})
		}
		tlvs = append(tlvs, q.tlvs...)
		tlvs = append(tlvs, e.updateTLVs(q)...)
		e.emit(q.ifc, q.dst, tlvs)
		clear(tlvs) // nothing kept alive by the buffer
		e.flushTLVs = tlvs[:0]
	}
	for _, q := range e.queues {
		q.reset()
		e.spareQueues = append(e.spareQueues, q)
	}
	clear(e.queues)
}

// updateTLVs resolves the queued updates of q into Update TLVs, in an
// order that compresses well: by router-id, IPv6 first, then prefix.
func (e *Engine) updateTLVs(q *outQueue) []TLV {
	keys := q.updates
	if q.dump {
		keys = keys[:0:0]
		keys = append(keys, e.ownKeys()...)
		// Map order: the updates are sorted below.
		for _, d := range e.dests {
			if _, ok := e.own[d.key]; ok {
				continue
			}
			if (d.selected != nil && d.selected.metric() != Infinity) || !d.retractUntil.IsZero() {
				keys = append(keys, d.key)
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	// The next full update comes with the next cycle: a dump announces
	// the cycle it starts, anything else the current one, which ends
	// sooner than its length from now.
	iv := ceilCentiseconds(q.ifc.cycle)
	ups := make([]Update, 0, len(keys))
	for _, k := range keys {
		u := Update{Interval: iv, Prefix: k.prefix, Source: k.src}
		if a, ok := e.own[k]; ok {
			u.RouterID, u.Seqno, u.Metric = e.rid, e.seqno, a.Metric
		} else if d := e.dests[k]; d != nil && d.selected != nil && d.selected.metric() != Infinity {
			r := d.selected
			m := r.metric()
			if e.satisfies(k, r.rid, r.seqno) {
				delete(e.requests, k)
			}
			if r.neigh.ifc == q.ifc && (q.ifc.cfg.Type == Wired || r.neigh.addr == q.dst) {
				// Split horizon: on a wired link everyone heard the
				// neighbour we learned this from, and a neighbour never
				// needs its own routes back.
				continue
			}
			e.updateSource(r.rid, k, r.seqno, m)
			u.RouterID, u.Seqno, u.Metric = r.rid, r.seqno, m
		} else {
			u.RouterID, u.Seqno, u.Metric = e.rid, e.seqno, Infinity
		}
		if k.prefix.Addr().Is4() {
			if q.ifc.cfg.IPv4.IsValid() {
				u.NextHop = q.ifc.cfg.IPv4
			} else {
				u.V4ViaV6 = true
			}
		}
		ups = append(ups, u)
	}
	slices.SortStableFunc(ups, func(a, b Update) int {
		if c := slices.Compare(a.RouterID[:], b.RouterID[:]); c != 0 {
			return c
		}
		if a4, b4 := a.Prefix.Addr().Is4(), b.Prefix.Addr().Is4(); a4 != b4 {
			if b4 {
				return -1
			}
			return 1
		}
		return compareKeys(routeKey{a.Prefix, a.Source}, routeKey{b.Prefix, b.Source})
	})
	out := make([]TLV, len(ups))
	for i, u := range ups {
		out[i] = u
	}
	return out
}

// ipUDPHeaders is what IPv6 and UDP add to a Babel packet.
const ipUDPHeaders = 40 + 8

// emit packs tlvs into packets for dst and, on an authenticated
// interface, gives each its packet counter and MACs (RFC 8967 4.2).
func (e *Engine) emit(ifc *iface, dst netip.Addr, tlvs []TLV) {
	if len(tlvs) == 0 {
		return
	}
	size := ifc.cfg.MTU - ipUDPHeaders
	if ifc.auth() {
		size -= 2 + 4 + indexLen + len(ifc.cfg.Keys)*(2+32)
	}
	b := &e.bld
	b.reset(size)
	for _, t := range tlvs {
		if err := b.Add(t); err != nil {
			e.counters.EncodeErrors++
			e.log.Debug("cannot encode", "interface", ifc.cfg.Name, "err", err)
		}
	}
	b.Flush()
	for _, p := range b.packets {
		if ifc.auth() {
			p = e.seal(ifc, dst, p)
			if p == nil {
				continue
			}
		}
		e.out = append(e.out, Datagram{Interface: ifc.cfg.Name, Dst: dst, Data: p})
		e.counters.PacketsOut++
		e.counters.BytesOut += uint64(len(p))
	}
}

// seal puts a PC TLV at the head of the body and one HMAC per key in the
// trailer.
func (e *Engine) seal(ifc *iface, dst netip.Addr, p []byte) []byte {
	if ifc.pc == 0xFFFFFFFF {
		// The counter must never repeat under an index: take a new one.
		if err := e.newIndex(ifc); err != nil {
			e.log.Warn("no packet counter index", "interface", ifc.cfg.Name, "err", err)
			return nil
		}
	}
	pc := append([]byte{byte(TypePC), byte(4 + len(ifc.index))}, binary.BigEndian.AppendUint32(nil, ifc.pc)...)
	pc = append(pc, ifc.index...)
	ifc.pc++
	body := make([]byte, 0, len(p)+len(pc)+len(ifc.cfg.Keys)*34)
	body = append(body, p[:HeaderLen]...)
	body = append(body, pc...)
	body = append(body, p[HeaderLen:]...)
	binary.BigEndian.PutUint16(body[2:], uint16(len(body)-HeaderLen))
	keys := make([][]byte, len(ifc.cfg.Keys))
	for i, k := range ifc.cfg.Keys {
		keys[i] = k.Secret
	}
	out, err := SignHMACSHA256(body,
		netip.AddrPortFrom(ifc.addr, Port), netip.AddrPortFrom(dst, Port), keys...)
	if err != nil {
		e.counters.EncodeErrors++
		return nil
	}
	return out
}
