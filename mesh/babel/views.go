package babel

import (
	"net/netip"
	"slices"
	"time"
)

// InstalledRoute is a route for the forwarding table.
//
// How to install them (the kernel side is not the engine's): IPv6 routes
// go into the main table with their Source as RTA_SRC; Linux looks IPv6
// routes up destination first and then by source, with fallback to less
// specific destinations, which is the order RFC 9079 requires. IPv4 has no
// source routes: an IPv4 route with a Source goes into a table of its own
// selected by a policy rule "from Source" (cpe/kernel derives the rule),
// which makes the lookup source first. Installed adds the Derived routes
// RFC 9079 section 5.3 calls for to make that give the destination-first
// answer. Rules for nested source prefixes must be ordered more specific
// first. IPv4 routes normally have an IPv6 link-local Via (RFC 9229),
// which needs RTA_VIA. Metric is Babel's; the kernel metric should stay
// constant, since changing it means replacing the route. An Unreachable
// route is a lost destination held for a while (RFC 8966 section 3.5.5):
// it must be installed as an unreachable route, not removed.
type InstalledRoute struct {
	Prefix      netip.Prefix
	Source      netip.Prefix // zero: not source-specific
	Via         netip.Addr
	Interface   string
	Metric      uint16
	Unreachable bool
	Derived     bool
}

// Installed returns the routes for the forwarding table, sorted by
// prefix and source.
func (e *Engine) Installed() []InstalledRoute { return slices.Clone(e.installed) }

// RoutesVersion increases whenever Installed changes.
func (e *Engine) RoutesVersion() uint64 { return e.installedVersion }

func (e *Engine) computeInstalled() []InstalledRoute {
	var out []InstalledRoute
	for _, d := range e.sortedDests() {
		if _, ok := e.own[d.key]; ok {
			continue
		}
		switch {
		case d.selected != nil && d.selected.metric() != Infinity:
			r := d.selected
			out = append(out, InstalledRoute{
				Prefix: d.key.prefix, Source: d.key.src, Via: r.nexthop,
				Interface: r.neigh.ifc.cfg.Name, Metric: r.metric(),
			})
		case !d.retractUntil.IsZero():
			out = append(out, InstalledRoute{Prefix: d.key.prefix, Source: d.key.src, Metric: Infinity, Unreachable: true})
		}
	}
	out = append(out, disambiguateV4(out)...)
	slices.SortFunc(out, func(a, b InstalledRoute) int {
		return compareKeys(routeKey{a.Prefix, a.Source}, routeKey{b.Prefix, b.Source})
	})
	return out
}

// covers reports that source prefix a (zero: everything) contains b.
func covers(a, b netip.Prefix) bool {
	if !a.IsValid() {
		return true
	}
	return b.IsValid() && a.Bits() <= b.Bits() && a.Contains(b.Addr())
}

func strictlyCovers(a, b netip.Prefix) bool {
	return covers(a, b) && (!a.IsValid() || a.Bits() < b.Bits())
}

// disambiguateV4 adds the routes that make source-first lookup (IPv4
// policy rules) agree with destination-first (RFC 9079 section 5.3): for
// a route R (d, s1) and a source s2 more specific than s1, a packet from
// s2 to d would be caught by the table of s2 (or of a source between s2
// and s1) when that table holds a less specific destination than d. The
// fix is a route (d, s2) in that table, through whatever destination-first
// lookup picks for (d, s2).
func disambiguateV4(rs []InstalledRoute) []InstalledRoute {
	var v4 []InstalledRoute
	var sources []netip.Prefix
	for _, r := range rs {
		if !r.Prefix.Addr().Is4() {
			continue
		}
		v4 = append(v4, r)
		if r.Source.IsValid() && !slices.Contains(sources, r.Source) {
			sources = append(sources, r.Source)
		}
	}
	exists := func(d, s netip.Prefix) bool {
		return slices.ContainsFunc(v4, func(r InstalledRoute) bool { return r.Prefix == d && r.Source == s })
	}
	var out []InstalledRoute
	for _, s := range sources {
		for _, r := range v4 {
			d := r.Prefix
			if !strictlyCovers(r.Source, s) || exists(d, s) ||
				slices.ContainsFunc(out, func(x InstalledRoute) bool { return x.Prefix == d && x.Source == s }) {
				continue
			}
			conflict := slices.ContainsFunc(v4, func(q InstalledRoute) bool {
				return q.Source.IsValid() && covers(q.Source, s) && strictlyCovers(r.Source, q.Source) &&
					q.Prefix.Bits() < d.Bits() && q.Prefix.Contains(d.Addr())
			})
			if !conflict {
				continue
			}
			var best *InstalledRoute
			for i := range v4 {
				c := &v4[i]
				if c.Prefix == d && covers(c.Source, s) && (best == nil || strictlyCovers(best.Source, c.Source)) {
					best = c
				}
			}
			x := *best
			x.Source, x.Derived = s, true
			out = append(out, x)
		}
	}
	return out
}

// DiffRoutes returns what to add (or replace) and what to remove to go
// from old to new, both as Installed returns them.
func DiffRoutes(old, new []InstalledRoute) (add, del []InstalledRoute) {
	type key struct{ p, s netip.Prefix }
	was := map[key]InstalledRoute{}
	for _, r := range old {
		was[key{r.Prefix, r.Source}] = r
	}
	is := map[key]bool{}
	for _, r := range new {
		k := key{r.Prefix, r.Source}
		is[k] = true
		if o, ok := was[k]; !ok || o != r {
			add = append(add, r)
		}
	}
	for _, r := range old {
		if !is[key{r.Prefix, r.Source}] {
			del = append(del, r)
		}
	}
	return add, del
}

// NeighbourInfo describes a neighbour for the console.
type NeighbourInfo struct {
	Interface      string
	Address        netip.Addr
	Reach          uint16 // multicast Hello history, newest in the top bit
	UnicastReach   uint16
	RxCost, TxCost uint16
	Cost           uint16 // the link cost routes through it pay
	// LinkCost is the external cost in force (after hysteresis) and
	// LinkCostRaw the last one given; 0: none.
	LinkCost, LinkCostRaw uint16
	HelloInterval         time.Duration
	IHUInterval           time.Duration
	// Authenticated: its packet counter index is known (RFC 8967).
	Authenticated bool
}

// Neighbours lists the neighbours by interface and address.
func (e *Engine) Neighbours() []NeighbourInfo {
	var out []NeighbourInfo
	for _, n := range e.sortedNeighbours() {
		out = append(out, NeighbourInfo{
			Interface: n.ifc.cfg.Name, Address: n.addr,
			Reach: n.mc.reach, UnicastReach: n.uc.reach,
			RxCost: n.rxcost, TxCost: n.txcost, Cost: n.cost,
			LinkCost: n.ext, LinkCostRaw: n.extRaw,
			HelloInterval: n.mc.interval, IHUInterval: n.ihuInterval,
			Authenticated: n.haveIndex,
		})
	}
	return out
}

// RouteInfo describes one route of the table, or one of our own
// announcements (Own), for the console.
type RouteInfo struct {
	Prefix    netip.Prefix
	Source    netip.Prefix
	RouterID  RouterID
	Seqno     uint16
	Metric    uint16 // Infinity: retracted or unreachable
	RefMetric uint16 // as the neighbour advertised it
	Smoothed  uint16
	NextHop   netip.Addr
	Interface string
	Neighbour netip.Addr
	Selected  bool
	Feasible  bool
	Own       bool
	V4ViaV6   bool
	Expires   time.Time
}

// Routes lists our announcements and every route of the table, selected
// or not, by prefix, source prefix and metric.
func (e *Engine) Routes() []RouteInfo {
	var out []RouteInfo
	for _, k := range e.ownKeys() {
		a := e.own[k]
		out = append(out, RouteInfo{
			Prefix: k.prefix, Source: k.src, RouterID: e.rid, Seqno: e.seqno,
			Metric: a.Metric, Selected: true, Feasible: true, Own: true,
		})
	}
	for _, d := range e.sortedDests() {
		rs := slices.Clone(d.routes)
		slices.SortStableFunc(rs, func(a, b *route) int { return int(a.metric()) - int(b.metric()) })
		for _, r := range rs {
			out = append(out, RouteInfo{
				Prefix: d.key.prefix, Source: d.key.src, RouterID: r.rid, Seqno: r.seqno,
				Metric: r.metric(), RefMetric: r.refmetric, Smoothed: uint16(min(r.smoothed, float64(inf))),
				NextHop: r.nexthop, Interface: r.neigh.ifc.cfg.Name, Neighbour: r.neigh.addr,
				Selected: r == d.selected, Feasible: e.routeFeasible(r), V4ViaV6: r.v4viav6,
				Expires: r.expires,
			})
		}
	}
	slices.SortStableFunc(out, func(a, b RouteInfo) int {
		return compareKeys(routeKey{a.Prefix, a.Source}, routeKey{b.Prefix, b.Source})
	})
	return out
}

// InterfaceInfo describes an interface for the console.
type InterfaceInfo struct {
	Name           string
	Type           LinkType
	Up             bool
	Address        netip.Addr
	HelloInterval  time.Duration
	UpdateInterval time.Duration
	RxCost         uint16
	Unicast        bool
	Keys           []string // IDs of the HMAC keys; none: unauthenticated
	Neighbours     int
	HelloSeqno     uint16
}

// Interfaces lists the configured interfaces by name.
func (e *Engine) Interfaces() []InterfaceInfo {
	var out []InterfaceInfo
	names := make([]string, 0, len(e.ifaces))
	for n := range e.ifaces {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		ifc := e.ifaces[name]
		info := InterfaceInfo{
			Name: name, Type: ifc.cfg.Type, Up: ifc.up, Address: ifc.addr,
			HelloInterval: ifc.cfg.HelloInterval, UpdateInterval: ifc.cfg.UpdateInterval,
			RxCost: ifc.cfg.RxCost, Unicast: ifc.cfg.Unicast, HelloSeqno: ifc.helloSeqno,
		}
		for range e.ifaceNeighbours(ifc) {
			info.Neighbours++
		}
		for _, k := range ifc.cfg.Keys {
			info.Keys = append(info.Keys, k.ID)
		}
		out = append(out, info)
	}
	return out
}

// SourceInfo is one feasibility distance of the source table.
type SourceInfo struct {
	RouterID RouterID
	Prefix   netip.Prefix
	Source   netip.Prefix
	Seqno    uint16
	Metric   uint16
}

// Sources lists the source table.
func (e *Engine) Sources() []SourceInfo {
	var out []SourceInfo
	for k, s := range e.sources {
		if e.now.Sub(s.time) >= sourceGCTime {
			continue
		}
		out = append(out, SourceInfo{RouterID: k.rid, Prefix: k.key.prefix, Source: k.key.src, Seqno: s.seqno, Metric: s.metric})
	}
	slices.SortFunc(out, func(a, b SourceInfo) int {
		if c := compareKeys(routeKey{a.Prefix, a.Source}, routeKey{b.Prefix, b.Source}); c != 0 {
			return c
		}
		return slices.Compare(a.RouterID[:], b.RouterID[:])
	})
	return out
}
