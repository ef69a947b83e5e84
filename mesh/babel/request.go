package babel

import "time"

// request is a seqno request in flight, ours or forwarded: it is resent a
// few times (a lossy link must not starve a route), and while it lives an
// identical request is not forwarded again (RFC 8966 section 3.8.1.2).
type request struct {
	key      routeKey
	rid      RouterID
	seqno    uint16
	hopCount uint8
	to       *neighbour // nil: every interface, multicast
	from     *neighbour // who asked, for a forwarded request
	left     int        // resends left
	next     time.Time  // next resend, or when the entry is forgotten
	sent     time.Time  // last sent
}

type updateResend struct {
	left int
	next time.Time
}

// requestSeqno asks for seqno of k from rid, unless a request at least as
// demanding is already in flight. A neighbour's request we hold for want
// of a route to send it along goes with ours: it may ask for more.
func (e *Engine) requestSeqno(k routeKey, rid RouterID, seqno uint16, to *neighbour, resend bool) {
	if q := e.requests[k]; q != nil && q.rid == rid && !seqnoLess(q.seqno, seqno) {
		if q.from == nil || q.to != nil {
			return
		}
		seqno = q.seqno
	}
	q := &request{key: k, rid: rid, seqno: seqno, hopCount: 127, to: to, next: e.now.Add(resendDelay)}
	if resend {
		q.left = resends
	}
	e.requests[k] = q
	e.sendRequest(q)
}

func (e *Engine) sendRequest(q *request) {
	q.sent = e.now
	t := SeqnoRequest{Seqno: q.seqno, HopCount: q.hopCount, RouterID: q.rid, Prefix: q.key.prefix, Source: q.key.src}
	if q.from != nil {
		e.counters.SeqnoRequestsForwarded++
	} else {
		e.counters.SeqnoRequestsSent++
	}
	if q.to != nil {
		e.queueTLV(q.to.ifc, q.to.addr, t)
		return
	}
	for _, ifc := range e.upIfaces() {
		e.queueIfaceTLV(ifc, t)
	}
}

// satisfies reports whether an update (rid, seqno) for k answers the
// request in flight for k: another source, or a seqno at least the one
// asked for.
func (e *Engine) satisfies(k routeKey, rid RouterID, seqno uint16) bool {
	q := e.requests[k]
	return q != nil && (q.rid != rid || !seqnoLess(seqno, q.seqno))
}

func (e *Engine) tickRequests() {
	for k, q := range e.requests {
		if e.now.Before(q.next) {
			continue
		}
		if q.left == 0 {
			delete(e.requests, k)
			continue
		}
		q.left--
		q.next = e.now.Add(resendDelay)
		e.sendRequest(q)
	}
}

func (e *Engine) handleSeqnoRequest(n *neighbour, r SeqnoRequest) {
	k := routeKey{r.Prefix, r.Source}
	if _, ok := e.own[k]; ok {
		if r.HopCount > 0 && r.RouterID == e.rid && seqnoLess(e.seqno, r.Seqno) {
			switch ahead := seqnoMinus(r.Seqno, e.seqno); {
			case e.now.Before(e.lostSeqnoUntil):
				// We started without our seqno: the network remembers a
				// newer one, so take it rather than creep towards it.
				e.bumpSeqno(r.Seqno)
			case ahead > seqnoHorizon:
				return
			default:
				e.bumpSeqno(e.seqno + 1)
			}
		}
		e.queueUpdate(n.ifc, k)
		return
	}
	d := e.dests[k]
	var sel *route
	if d != nil && d.selected != nil && d.selected.metric() != Infinity {
		sel = d.selected
	}
	if sel != nil && (r.RouterID != sel.rid || !seqnoLess(sel.seqno, r.Seqno)) {
		e.queueUpdate(n.ifc, k)
		return
	}
	if r.HopCount <= 1 || d == nil {
		return
	}
	if sel != nil && seqnoMinus(r.Seqno, sel.seqno) > seqnoHorizon {
		return
	}
	if q := e.requests[k]; q != nil && q.rid == r.RouterID && !seqnoLess(q.seqno, r.Seqno) &&
		(q.from == nil || e.now.Sub(q.sent) < resendDelay/2) {
		// The same request from several neighbours, or while ours is in
		// flight: one is enough. One that we forwarded a while ago and
		// that comes again is its requester's resend, and the first
		// went astray: it goes on. Were the entry's lifetime the test,
		// a resend would race its expiry, both being a resend delay.
		e.counters.SeqnoRequestsDuplicate++
		return
	}
	var next *neighbour
	if sel != nil {
		next = sel.neigh
	}
	if next == nil || next == n {
		// Never back to the requester: try whoever else has a route,
		// feasible or not.
		var best *route
		for _, rt := range d.routes {
			if rt.neigh == n || rt.metric() == Infinity {
				continue
			}
			if best == nil || rt.metric() < best.metric() {
				best = rt
			}
		}
		next = nil
		if best != nil {
			next = best.neigh
		}
	}
	q := &request{key: k, rid: r.RouterID, seqno: r.Seqno, hopCount: r.HopCount - 1, to: next, from: n,
		next: e.now.Add(resendDelay)}
	e.requests[k] = q
	if next == nil {
		// Nowhere to send it yet: held, it follows the first route we
		// get (consider), or goes with our own request if we starve
		// (requestSeqno), rather than wait for its requester's resend.
		return
	}
	e.sendRequest(q)
}

// handleRouteRequest answers a route request (RFC 8966 section 3.8.1.1):
// the whole table for a wildcard, otherwise the route or its retraction,
// to the requester alone if it asked alone.
func (e *Engine) handleRouteRequest(n *neighbour, r RouteRequest, multicast bool) {
	if !r.Prefix.IsValid() {
		if multicast {
			e.queueDumpIface(n.ifc)
		} else {
			e.queue(n.ifc, n.addr).dump = true
		}
		return
	}
	k := routeKey{r.Prefix, r.Source}
	if multicast {
		e.queueUpdate(n.ifc, k)
	} else {
		e.queue(n.ifc, n.addr).addUpdate(k)
	}
}

func (e *Engine) queueRouteRequestAll(k routeKey) {
	for _, ifc := range e.upIfaces() {
		e.queueIfaceTLV(ifc, RouteRequest{Prefix: k.prefix, Source: k.src})
	}
}

// queueUpdateAll sends the current state of k on every interface, and
// again twice more when resend is set (retractions, source switches).
func (e *Engine) queueUpdateAll(k routeKey, resend bool) {
	for _, ifc := range e.upIfaces() {
		e.queueUpdate(ifc, k)
	}
	if resend {
		e.resend[k] = &updateResend{left: resends, next: e.now.Add(resendDelay)}
	}
}

func (e *Engine) tickResends() {
	for k, r := range e.resend {
		if e.now.Before(r.next) {
			continue
		}
		for _, ifc := range e.upIfaces() {
			e.queueUpdate(ifc, k)
		}
		r.left--
		r.next = e.now.Add(resendDelay)
		if r.left <= 0 {
			delete(e.resend, k)
		}
	}
}
