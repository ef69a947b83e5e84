package babel

import (
	"math"
	"net/netip"
	"slices"
	"time"
)

// dest is one entry of the route table's index: every route to a (prefix,
// source prefix) pair, one per neighbour, and the one selected.
type dest struct {
	key      routeKey
	routes   []*route
	selected *route
	// retractUntil holds a lost destination as unreachable (and keeps
	// retracting it in full updates) so that a less specific route does not
	// carry its traffic into a loop meanwhile (RFC 8966 section 3.5.5).
	retractUntil time.Time

	// What the last consider saw, to judge what changed since.
	selRid    RouterID
	selSeqno  uint16
	selMetric uint16
	snap      installSnap
}

type installSnap struct {
	sel     *route
	nexthop netip.Addr
	metric  uint16
	held    bool
}

func (d *dest) remove(r *route) {
	if i := slices.Index(d.routes, r); i >= 0 {
		d.routes = slices.Delete(d.routes, i, i+1)
	}
	if d.selected == r {
		d.selected = nil
	}
}

func (d *dest) routeVia(n *neighbour) *route {
	for _, r := range d.routes {
		if r.neigh == n {
			return r
		}
	}
	return nil
}

type route struct {
	d         *dest
	neigh     *neighbour
	rid       RouterID
	seqno     uint16
	refmetric uint16 // as advertised by the neighbour
	cost      uint16 // the neighbour's link cost
	nexthop   netip.Addr
	v4viav6   bool
	interval  time.Duration // the Update's, for expiry
	refreshed time.Time
	expires   time.Time
	smoothed  float64
	smTime    time.Time
	requested bool // a request went out because the route is about to expire
}

func (r *route) metric() uint16 {
	if r.refmetric == Infinity || r.cost == Infinity {
		return Infinity
	}
	return uint16(min(int(r.refmetric)+int(r.cost), inf))
}

// hold is how long a route lives without an update: 3.5 intervals
// (RFC 8966 appendix B).
func (r *route) hold() time.Duration {
	iv := r.interval
	if iv <= 0 {
		iv = DefaultUpdateInterval
	}
	return iv * 7 / 2
}

// oldAt is when a selected route is about to expire and its neighbour is
// asked for it (RFC 8966 section 3.8.2.2).
func (r *route) oldAt() time.Time { return r.refreshed.Add(r.hold() * 7 / 8) }

// smooth brings the smoothed metric up to now, decaying exponentially
// towards the metric with the configured half-life (as babeld's
// smoothing-half-life): route selection compares both, so that a route
// must be better and have been better for a while to replace the current
// one.
func (e *Engine) smooth(r *route) {
	m := float64(r.metric())
	if e.halfLife < 0 || r.metric() == Infinity || r.smoothed == m || r.smTime.After(e.now) {
		r.smoothed, r.smTime = m, e.now
		return
	}
	if dt := e.now.Sub(r.smTime); dt > 0 {
		r.smoothed = m + (r.smoothed-m)*math.Exp2(-float64(dt)/float64(e.halfLife))
	}
	r.smTime = e.now
	if math.Abs(r.smoothed-m) < 4 {
		r.smoothed = m
	}
}

// setRoute changes a route's advertised metric and link cost, smoothing
// up to now with the old metric first.
func (e *Engine) setRoute(r *route, refmetric, cost uint16) {
	e.smooth(r)
	r.refmetric, r.cost = refmetric, cost
	if e.halfLife < 0 {
		r.smoothed = float64(r.metric())
	}
	e.wakeRoute(r)
}

// wakeRoute makes sure Tick comes for r's next deadline.
func (e *Engine) wakeRoute(r *route) {
	lower(&e.routeWake, r.expires)
	if r == r.d.selected && !r.requested && r.refmetric != Infinity {
		lower(&e.routeWake, r.oldAt())
	}
	if r.metric() != Infinity && r.smoothed != float64(r.metric()) {
		// Selection may change as the smoothed metric converges.
		lower(&e.routeWake, r.smTime.Add(smoothEvery))
		lower(&e.smoothWake, r.smTime.Add(time.Second))
	}
}

func (e *Engine) routeFeasible(r *route) bool {
	return e.feasible(e.sources[sourceKey{r.rid, r.d.key}], r.seqno, r.refmetric)
}

// feasible is the feasibility condition (RFC 8966 section 3.5.1): a
// retraction always is; otherwise the update must be newer than the
// feasibility distance, or as new and strictly shorter.
func (e *Engine) feasible(s *source, seqno, refmetric uint16) bool {
	if s == nil || e.ignoreFeasibility || refmetric == Infinity || e.now.Sub(s.time) >= sourceGCTime {
		return true
	}
	return seqnoLess(s.seqno, seqno) || (seqno == s.seqno && refmetric < s.metric)
}

func (e *Engine) acceptable(r *route) bool {
	return r.metric() != Infinity && e.routeFeasible(r)
}

// choose picks the route to select. The current route stays unless
// another is at least as good now and better smoothed (babeld's strong
// ordering); that hysteresis keeps routes from flapping between two
// neighbours of similar cost.
func (e *Engine) choose(d *dest) *route {
	for _, r := range d.routes {
		e.smooth(r)
	}
	cur := d.selected
	if cur != nil && !e.acceptable(cur) {
		cur = nil
	}
	better := func(a, b *route) bool {
		if a.smoothed != b.smoothed {
			return a.smoothed < b.smoothed
		}
		if a.metric() != b.metric() {
			return a.metric() < b.metric()
		}
		return a.neigh.addr.Less(b.neigh.addr)
	}
	if cur == nil {
		// The selected route is gone (its neighbour dropped, say): there
		// is no incumbent to keep from flapping, and a route whose
		// smoothed metric still remembers a recent infinity may be by far
		// the shortest. Ranking by smoothed metric here (as babeld does)
		// would pick a detour that then keeps its place for tens of
		// seconds, and that does not carry the new seqno a starvation
		// request brings back along the shortest route: the neighbours
		// that wait for it wait for their resends.
		better = func(a, b *route) bool {
			if a.metric() != b.metric() {
				return a.metric() < b.metric()
			}
			if a.smoothed != b.smoothed {
				return a.smoothed < b.smoothed
			}
			return a.neigh.addr.Less(b.neigh.addr)
		}
	}
	var best *route
	for _, r := range d.routes {
		if r == cur || !e.acceptable(r) {
			continue
		}
		if cur != nil && (r.metric() > cur.metric() || r.smoothed >= cur.smoothed) {
			continue
		}
		if best == nil || better(r, best) {
			best = r
		}
	}
	if best == nil {
		return cur
	}
	return best
}

// consider re-runs route selection for d after anything about it changed,
// and decides what the neighbours must hear: an update when the route
// appears, changes source or gets much worse, a retraction and a seqno
// request when it is lost (starvation, RFC 8966 section 3.8.2.1).
func (e *Engine) consider(d *dest) {
	_, owned := e.own[d.key]
	var best *route
	if !owned {
		best = e.choose(d)
	}
	d.selected = best
	newMetric := uint16(Infinity)
	if best != nil {
		newMetric = best.metric()
	}
	if q := e.requests[d.key]; q != nil && q.from != nil && best != nil && newMetric != Infinity &&
		best.neigh != q.to && best.neigh != q.from && !e.satisfies(d.key, best.rid, best.seqno) {
		// A neighbour's request we forwarded along the route we had, or
		// held for want of one, follows the route we have now: the answer
		// comes back the way the request went, and the old way may be the
		// very link that failed (the request of a neighbour that lost its
		// route, overtaken by one of its copies that came round and sent
		// back to it, say).
		q.to = best.neigh
		e.sendRequest(q)
	}
	prevMetric, prevRid, prevSeqno := d.selMetric, d.selRid, d.selSeqno
	defer func() {
		d.selMetric = newMetric
		if best != nil {
			d.selRid, d.selSeqno = best.rid, best.seqno
			e.wakeRoute(best)
		}
		lower(&e.routeWake, d.retractUntil)
		e.snapshot(d)
	}()
	if owned {
		d.retractUntil = time.Time{}
		return
	}
	switch {
	case newMetric == Infinity:
		if prevMetric == Infinity {
			return
		}
		hold := DefaultUpdateInterval * 7 / 2
		if r := d.snap.sel; r != nil {
			hold = r.hold()
		}
		d.retractUntil = e.now.Add(hold)
		e.queueUpdateAll(d.key, true)
		if prevMetric <= Infinity/2 {
			e.requestSeqno(d.key, prevRid, e.wantedSeqno(d.key, prevRid, prevSeqno), nil, true)
		}
	case prevMetric == Infinity:
		d.retractUntil = time.Time{}
		e.queueUpdateAll(d.key, false)
	case best.rid != prevRid:
		// Switching sources can loop for a moment: tell everyone, twice.
		e.queueUpdateAll(d.key, true)
	default:
		diff := int(newMetric) - int(prevMetric)
		adiff := max(diff, -diff)
		switch {
		case diff > 0 && prevMetric < 6*256 && adiff >= 512:
			e.queueUpdateAll(d.key, false)
		case e.satisfies(d.key, best.rid, best.seqno):
			e.queueUpdateAll(d.key, false)
		case diff < 0 && adiff < 1024, adiff < 384:
			// Improvements may be transient; announcing them would only
			// make routes unfeasible later on.
		default:
			e.queueUpdateAll(d.key, false)
		}
		switch {
		case diff >= 512:
			e.requestSeqno(d.key, best.rid, e.wantedSeqno(d.key, best.rid, best.seqno), nil, true)
		case diff >= 288:
			e.queueRouteRequestAll(d.key)
		}
	}
}

// wantedSeqno is the seqno that would make a route from rid feasible
// again: one past the feasibility distance.
func (e *Engine) wantedSeqno(k routeKey, rid RouterID, seqno uint16) uint16 {
	if s := e.sources[sourceKey{rid, k}]; s != nil {
		if s.metric == Infinity {
			return s.seqno
		}
		return s.seqno + 1
	}
	return seqno + 1
}

func (e *Engine) snapshot(d *dest) {
	s := installSnap{sel: d.selected, held: d.selected == nil && !d.retractUntil.IsZero()}
	if d.selected != nil {
		s.nexthop, s.metric = d.selected.nexthop, d.selected.metric()
	}
	if s != d.snap {
		e.installedDirty = true
	}
	d.snap = s
}

var martians = []netip.Prefix{
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("::ffff:0:0/96"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("224.0.0.0/3"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("0.0.0.0/32"),
}

// martian reports prefixes no route may carry: link-local, loopback,
// multicast and the like.
func martian(p netip.Prefix) bool {
	for _, m := range martians {
		if p.Bits() >= m.Bits() && m.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// ownFilterAccepts refuses what would hijack our own networks: a route
// into a prefix we announce, or a default route for one of the source
// prefixes we announce defaults for.
func (e *Engine) ownFilterAccepts(k routeKey) bool {
	for ok := range e.own {
		if ok == k {
			return false
		}
		if ok.prefix.Bits() > 0 && k.prefix.Bits() >= ok.prefix.Bits() && ok.prefix.Contains(k.prefix.Addr()) {
			return false
		}
		if k.prefix.Bits() == 0 && k.src.IsValid() && ok.src.IsValid() && ok.src.Overlaps(k.src) {
			return false
		}
	}
	return true
}

func (e *Engine) handleUpdate(n *neighbour, u Update) {
	if !u.Prefix.IsValid() {
		// A wildcard retraction: every route from n goes.
		for _, d := range e.destsVia(n) {
			if r := d.routeVia(n); r.refmetric != Infinity {
				r.expires = e.now.Add(r.hold())
				e.setRoute(r, Infinity, n.cost)
				e.consider(d)
			}
		}
		return
	}
	if u.RouterID == e.rid {
		return
	}
	k := routeKey{u.Prefix, u.Source}
	nh := u.NextHop
	if !nh.IsValid() {
		if u.Prefix.Addr().Is4() && !u.V4ViaV6 {
			// An IPv4 route needs an IPv4 next hop, and this packet came
			// over IPv6: without a Next Hop TLV there is none.
			e.counters.UpdatesRefused++
			return
		}
		nh = n.addr
	}
	if martian(u.Prefix) || (u.Source.IsValid() && martian(u.Source)) || !e.ownFilterAccepts(k) ||
		(e.accept != nil && !e.accept(Candidate{
			Interface: n.ifc.cfg.Name, From: n.addr, RouterID: u.RouterID,
			Prefix: u.Prefix, Source: u.Source, Metric: u.Metric,
		})) {
		e.counters.UpdatesRefused++
		return
	}
	d := e.dests[k]
	r := (*route)(nil)
	if d != nil {
		r = d.routeVia(n)
	}
	s := e.sources[sourceKey{u.RouterID, k}]
	feasible := e.feasible(s, u.Seqno, u.Metric)
	metric := uint16(min(int(u.Metric)+int(n.cost), inf))
	if !feasible {
		e.counters.UnfeasibleUpdates++
	}
	interval := fromCentiseconds(u.Interval)
	if r == nil {
		if u.Metric == Infinity {
			return // a retraction of a route we never had
		}
		if d == nil {
			d = &dest{key: k, selMetric: Infinity}
			e.dests[k] = d
		}
		r = &route{d: d, neigh: n, smTime: e.now}
		d.routes = append(d.routes, r)
		r.rid, r.seqno, r.nexthop, r.v4viav6, r.interval = u.RouterID, u.Seqno, nh, u.V4ViaV6, interval
		r.refmetric, r.cost = u.Metric, n.cost
		// A new route starts with a poor smoothed metric, so that it has
		// to prove itself before it displaces a selected one.
		r.smoothed = float64(max(metric, Infinity/2))
		if e.halfLife < 0 {
			r.smoothed = float64(metric)
		}
		r.refreshed, r.expires = e.now, e.now.Add(r.hold())
		e.wakeRoute(r)
		if !feasible {
			e.unfeasibleRequest(n, d, u, metric, false)
		}
		e.consider(d)
		return
	}
	if r == d.selected && !feasible && u.RouterID == r.rid {
		// RFC 8966 section 3.5.4: an unfeasible update of the selected
		// route from the same source may be ignored; the route then ages
		// unless the source answers our request with a new seqno.
		e.unfeasibleRequest(n, d, u, metric, true)
		return
	}
	r.rid, r.seqno, r.nexthop, r.v4viav6, r.interval = u.RouterID, u.Seqno, nh, u.V4ViaV6, interval
	e.setRoute(r, u.Metric, n.cost)
	if u.Metric != Infinity {
		r.refreshed, r.requested = e.now, false
	}
	r.expires = e.now.Add(r.hold())
	e.wakeRoute(r)
	if !feasible {
		e.unfeasibleRequest(n, d, u, metric, false)
	}
	e.consider(d)
}

// unfeasibleRequest asks for a new seqno when an unfeasible update would
// be worth having (RFC 8966 section 3.8.2.3), unless its seqno is so far
// behind that the source has plainly lost its own. That is asked anyway
// (force) of the neighbour behind our selected route: a source that
// restarted without its seqno jumps to the one requested (see
// initIdentity) instead of being disbelieved until the source entry ages.
func (e *Engine) unfeasibleRequest(n *neighbour, d *dest, u Update, metric uint16, force bool) {
	s := e.sources[sourceKey{u.RouterID, d.key}]
	if s == nil || (!force && seqnoMinus(s.seqno, u.Seqno) > seqnoHorizon) {
		return
	}
	sel := d.selected
	if force || sel == nil || int(sel.metric()) >= int(metric)+512 {
		e.requestSeqno(d.key, u.RouterID, e.wantedSeqno(d.key, u.RouterID, u.Seqno), n, false)
	}
}

func (e *Engine) dropRoute(r *route) { r.d.remove(r) }

func (e *Engine) tickRoutes() {
	// One pass over the table finds what is due and the next deadline;
	// only the due destinations are handled, in a fixed order.
	e.routeWake, e.smoothWake = time.Time{}, time.Time{}
	var due []*dest
	for _, d := range e.dests {
		if e.destDue(d) {
			due = append(due, d)
		}
	}
	slices.SortFunc(due, func(a, b *dest) int { return compareKeys(a.key, b.key) })
	for _, d := range due {
		changed := false
		for _, r := range slices.Clone(d.routes) {
			e.smooth(r)
			switch {
			case r.refmetric != Infinity && !e.now.Before(r.expires):
				// Expired: retracted now, flushed one hold later.
				r.expires = e.now.Add(r.hold())
				e.setRoute(r, Infinity, r.cost)
				changed = true
			case r.refmetric == Infinity && !e.now.Before(r.expires):
				d.remove(r)
				changed = true
			case r == d.selected && !r.requested && r.refmetric != Infinity && !e.now.Before(r.oldAt()):
				r.requested = true
				e.queueTLV(r.neigh.ifc, r.neigh.addr, RouteRequest{Prefix: d.key.prefix, Source: d.key.src})
			}
			if r.smoothed != float64(r.metric()) {
				changed = true
			}
		}
		if e.due(d.retractUntil) {
			d.retractUntil = time.Time{}
			changed = true
		}
		if changed {
			e.consider(d)
		}
		if len(d.routes) == 0 && d.selected == nil && d.retractUntil.IsZero() {
			delete(e.dests, d.key)
			continue
		}
		e.lowerRouteWakes(e.destDeadline(d))
	}
}

// destDue reports whether d has something to do now, and lowers the
// route table's next deadlines by what it will have later.
func (e *Engine) destDue(d *dest) bool {
	w, soft := e.destDeadline(d)
	if e.due(w) || e.due(soft) {
		return true
	}
	e.lowerRouteWakes(w, soft)
	return false
}

// lowerRouteWakes lowers the route table's next deadlines to a
// destination's (destDeadline).
func (e *Engine) lowerRouteWakes(w, soft time.Time) {
	lower(&e.routeWake, w)
	lower(&e.smoothWake, soft)
}

// destDeadline returns when d has something to do next: a route expires
// or is about to (and is asked for), or a retraction ends. A smoothed
// metric that still converges takes a step at any Tick a second or more
// after its last (soft), and at the latest smoothEvery after it.
func (e *Engine) destDeadline(d *dest) (w, soft time.Time) {
	lower(&w, d.retractUntil)
	for _, r := range d.routes {
		lower(&w, r.expires)
		if r == d.selected && !r.requested && r.refmetric != Infinity {
			lower(&w, r.oldAt())
		}
		if r.metric() != Infinity && r.smoothed != float64(r.metric()) {
			lower(&soft, r.smTime.Add(time.Second))
			lower(&w, r.smTime.Add(smoothEvery))
		}
	}
	return w, soft
}

// rescanRoutes works out the route table's next deadlines afresh.
func (e *Engine) rescanRoutes() {
	e.routeWake, e.smoothWake = time.Time{}, time.Time{}
	for _, d := range e.dests {
		e.lowerRouteWakes(e.destDeadline(d))
	}
}

// updateSource records the feasibility distance of an update we send
// (RFC 8966 section 3.7.3).
func (e *Engine) updateSource(rid RouterID, k routeKey, seqno, metric uint16) {
	sk := sourceKey{rid, k}
	s := e.sources[sk]
	lower(&e.sourceWake, e.now.Add(sourceGCTime))
	switch {
	case s == nil || e.now.Sub(s.time) >= sourceGCTime:
		e.sources[sk] = &source{seqno: seqno, metric: metric, time: e.now}
		return
	case seqnoLess(s.seqno, seqno):
		s.seqno, s.metric = seqno, metric
	case s.seqno == seqno && metric < s.metric:
		s.metric = metric
	}
	s.time = e.now
}

// rescanSources works out the source table's next deadline afresh.
func (e *Engine) rescanSources() {
	e.sourceWake = time.Time{}
	for _, s := range e.sources {
		lower(&e.sourceWake, s.time.Add(sourceGCTime))
	}
}

func (e *Engine) tickSources() {
	e.sourceWake = time.Time{}
	for k, s := range e.sources {
		if e.now.Sub(s.time) >= sourceGCTime {
			delete(e.sources, k)
			continue
		}
		lower(&e.sourceWake, s.time.Add(sourceGCTime))
	}
}
