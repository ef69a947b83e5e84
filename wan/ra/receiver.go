package ra

import (
	"cmp"
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mdlayher/ndp"
)

const (
	// twoHours is RFC 4862 5.5.3 e's floor for shortening a SLAAC
	// address's valid lifetime by an unauthenticated RA.
	twoHours = 2 * time.Hour
	// idgenRetries is RFC 7217's IDGEN_RETRIES: new identifiers tried
	// after DAD failures.
	idgenRetries = 3

	minMTU = 1280
	maxMTU = 65535

	// Bounds on what a link full of RAs can make us store: far above what
	// an ISP sends, low enough that a flood cannot grow PID 1's memory.
	maxRouters  = 8
	maxPrefixes = 16 // also bounds Addresses
	maxRoutes   = 32
	maxDNS      = 8
	maxDomains  = 8
)

// Receiver is the host side of Router Discovery on one uplink (RFC 4861 6.3,
// RFC 4862, RFC 4191, RFC 8106). It is pure: every method takes the current
// time and returns what to send, when to be called again and the facts
// when they changed; it owns no socket, clock or goroutine. It is not safe
// for concurrent use; the Driver serialises calls.
type Receiver struct {
	cfg Config
	rnd *rand.Rand
	rs  []byte

	started  bool
	linkDown bool

	soliciting bool
	rsSent     int           // solicitations in this round
	rsNext     time.Time     // when the next one is due
	rsRT       time.Duration // backoff interval once past the first three
	lastRS     time.Time

	f       Facts
	emitted Facts
	// dad is the next RFC 7217 DAD_Counter per prefix after a duplicate;
	// abandoned are prefixes given up on (IDGEN_RETRIES used up, or a
	// duplicate EUI-64). Both are forgotten with the prefix.
	dad       map[netip.Prefix]int
	abandoned map[netip.Prefix]bool

	counters Counters
}

// New makes a Receiver. Without a Rand it uses a source seeded from
// crypto/rand.
func New(o Options) (*Receiver, error) {
	cfg := o.Config
	cfg.SecretKey = slices.Clone(cfg.SecretKey)
	cfg.HardwareAddr = slices.Clone(cfg.HardwareAddr)
	switch {
	case cfg.EUI64 && len(cfg.HardwareAddr) != 6:
		return nil, fmt.Errorf("ra: %s: EUI-64 identifiers need a 6-byte MAC, have %d bytes", cfg.Interface, len(cfg.HardwareAddr))
	case !cfg.EUI64 && len(cfg.SecretKey) < 16:
		return nil, fmt.Errorf("ra: %s: RFC 7217 secret key must be at least 16 bytes, have %d", cfg.Interface, len(cfg.SecretKey))
	case cfg.LinkMTU != 0 && (cfg.LinkMTU < minMTU || cfg.LinkMTU > maxMTU):
		return nil, fmt.Errorf("ra: %s: link MTU %d out of %d..%d", cfg.Interface, cfg.LinkMTU, minMTU, maxMTU)
	}
	src := o.Rand
	if src == nil {
		var seed [32]byte
		_, _ = crand.Read(seed[:]) // never fails on Linux (Go 1.24+ crashes instead)
		src = rand.NewChaCha8(seed)
	}
	rs, err := solicitation(cfg.HardwareAddr)
	if err != nil {
		return nil, err
	}
	return &Receiver{cfg: cfg, rnd: rand.New(src), rs: rs,
		dad: map[netip.Prefix]int{}, abandoned: map[netip.Prefix]bool{}}, nil
}

// Facts returns the current facts, LastRA and LastError included.
func (r *Receiver) Facts() Facts { return r.f.Clone() }

// Counters returns the packet counters.
func (r *Receiver) Counters() Counters { return r.counters }

// Start begins Router Discovery: solicitations start unless the link is
// down. A second Start does nothing.
func (r *Receiver) Start(now time.Time) Output {
	had := r.expire(now)
	if !r.started {
		r.started = true
		if !r.linkDown {
			r.solicit(now)
		}
	}
	return r.finish(now, had)
}

// LinkDown stops soliciting. The facts stay: their lifetimes run on, and a
// short carrier loss should not cost the uplink its address.
func (r *Receiver) LinkDown(now time.Time) Output {
	had := r.expire(now)
	r.linkDown = true
	r.soliciting = false
	return r.finish(now, had)
}

// LinkUp after LinkDown starts a new round of solicitations, also when
// routers are known (RFC 4861 6.3.7: an interface back after a failure
// solicits; the link may lead elsewhere now); the RAs they bring refresh
// or replace the facts. LinkUp on a link that is up
// does nothing, so repeated carrier events cost no packets.
func (r *Receiver) LinkUp(now time.Time) Output {
	had := r.expire(now)
	if r.linkDown {
		r.linkDown = false
		if r.started {
			r.solicit(now)
		}
	}
	return r.finish(now, had)
}

// Timer sends a due solicitation and removes what expired.
func (r *Receiver) Timer(now time.Time) Output {
	had := r.expire(now)
	return r.finish(now, had)
}

// Receive takes an ICMPv6 message (from its type byte on) that arrived from
// src with the given IP hop limit.
func (r *Receiver) Receive(now time.Time, b []byte, src netip.Addr, hopLimit int) Output {
	had := r.expire(now)
	r.counters.Received++
	m, d := validate(b, src, hopLimit)
	if d != dropNone {
		d.count(&r.counters)
		r.f.LastError = "RA dropped: " + d.String()
		return r.finish(now, had)
	}
	r.counters.Accepted++
	r.accept(now, src.WithZone(""), m)
	return r.finish(now, had)
}

// DADFailed reports that the kernel found addr in use by another node.
// With RFC 7217 identifiers the next DAD_Counter gives a new address, up
// to IDGEN_RETRIES times; an EUI-64 address has no second choice. Either
// way, giving up leaves the prefix without an address until it expires.
func (r *Receiver) DADFailed(now time.Time, addr netip.Addr) Output {
	had := r.expire(now)
	addr = addr.WithZone("")
	i := slices.IndexFunc(r.f.Addresses, func(a Address) bool { return a.Addr == addr })
	if i < 0 {
		return r.finish(now, had)
	}
	r.counters.DADFailures++
	a := &r.f.Addresses[i]
	if !r.cfg.EUI64 {
		if na, n, ok := r.formAddress(a.Prefix, a.DADCounter+1); ok {
			r.dad[a.Prefix] = n
			a.Addr, a.DADCounter = na, n
			r.f.LastError = fmt.Sprintf("address %v is a duplicate, using %v", addr, na)
			return r.finish(now, had)
		}
	}
	r.abandoned[a.Prefix] = true
	r.f.LastError = fmt.Sprintf("address %v is a duplicate, no SLAAC address in %v", addr, a.Prefix)
	r.f.Addresses = slices.Delete(r.f.Addresses, i, i+1)
	return r.finish(now, had)
}

// accept applies a valid RA (RFC 4861 6.3.4).
func (r *Receiver) accept(now time.Time, src netip.Addr, m message) {
	h := m.hdr
	r.f.LastRA = now
	r.f.Managed, r.f.Other = h.ManagedConfiguration, h.OtherConfiguration
	switch {
	case h.ManagedConfiguration:
		r.f.DHCPv6 = DHCPv6Stateful
	case h.OtherConfiguration:
		r.f.DHCPv6 = DHCPv6InformationOnly
	default:
		r.f.DHCPv6 = DHCPv6None
	}
	r.router(now, src, h.RouterLifetime, preference(h.RouterSelectionPreference))
	for _, o := range m.opts {
		switch o[0] {
		case optPrefixInfo:
			r.prefixOption(now, o)
		case optMTU:
			r.mtuOption(o)
		case optRouteInfo:
			r.routeOption(now, src, o)
		case optRDNSS:
			r.rdnssOption(now, o)
		case optDNSSL:
			r.dnsslOption(now, o)
		}
	}
	// RFC 4861 6.3.7, RFC 7559 2: a router willing to be our default
	// ends the solicitations.
	if h.RouterLifetime > 0 {
		r.soliciting = false
	}
}

func (r *Receiver) router(now time.Time, src netip.Addr, lifetime time.Duration, pref Preference) {
	i := slices.IndexFunc(r.f.Routers, func(x Router) bool { return x.Addr == src })
	switch {
	case lifetime == 0:
		// RFC 4861 6.3.4: time the entry out at once.
		if i >= 0 {
			r.f.Routers = slices.Delete(r.f.Routers, i, i+1)
		}
	case i >= 0:
		r.f.Routers[i].Expires = now.Add(lifetime)
		r.f.Routers[i].Preference = pref
	case len(r.f.Routers) >= maxRouters:
		r.overflow("router %v not stored: %d routers known", src, maxRouters)
	default:
		r.f.Routers = append(r.f.Routers, Router{Addr: src, Expires: now.Add(lifetime), Preference: pref})
	}
}

func (r *Receiver) prefixOption(now time.Time, o []byte) {
	opt, err := decodeOption(o)
	pi, ok := opt.(*ndp.PrefixInformation)
	if err == nil && !ok {
		err = errOptionCount
	}
	var p netip.Prefix
	if err == nil {
		p, err = pi.Prefix.Prefix(int(pi.PrefixLength))
	}
	if err == nil {
		err = badPrefix(p)
	}
	if err == nil && pi.PreferredLifetime > pi.ValidLifetime {
		// RFC 4862 5.5.3 c; Linux ignores the whole option too.
		err = fmt.Errorf("prefix %v: preferred lifetime %v beyond valid %v", p, pi.PreferredLifetime, pi.ValidLifetime)
	}
	if err != nil {
		r.counters.BadPrefixes++
		r.f.LastError = fmt.Sprintf("prefix information ignored: %v", err)
		return
	}
	if pi.OnLink || pi.AutonomousAddressConfiguration {
		r.prefix(now, p, pi, pioP(o))
	}
	// RFC 4862 5.5.3 a and the IID length: only /64s make addresses.
	if pi.AutonomousAddressConfiguration && p.Bits() == 64 {
		r.address(now, p, pi.PreferredLifetime, pi.ValidLifetime)
	}
}

func (r *Receiver) prefix(now time.Time, p netip.Prefix, pi *ndp.PrefixInformation, pd bool) {
	i := slices.IndexFunc(r.f.Prefixes, func(x Prefix) bool { return x.Prefix == p })
	e := Prefix{Prefix: p, OnLink: pi.OnLink, Autonomous: pi.AutonomousAddressConfiguration, PD: pd,
		Preferred: now.Add(pi.PreferredLifetime), Valid: now.Add(pi.ValidLifetime)}
	switch {
	case i < 0 && pi.ValidLifetime == 0:
	case i < 0 && len(r.f.Prefixes) >= maxPrefixes:
		r.overflow("prefix %v not stored: %d prefixes known", p, maxPrefixes)
	case i < 0:
		r.f.Prefixes = append(r.f.Prefixes, e)
	case !pi.OnLink && r.f.Prefixes[i].OnLink:
		// RFC 5942 / RFC 4861 6.3.4: a PIO without L says nothing about
		// on-link, so the on-link entry keeps its lifetimes.
		r.f.Prefixes[i].Autonomous, r.f.Prefixes[i].PD = e.Autonomous, e.PD
	case pi.ValidLifetime == 0:
		r.f.Prefixes = slices.Delete(r.f.Prefixes, i, i+1)
	default:
		r.f.Prefixes[i] = e
	}
}

// address forms or updates the SLAAC address of a /64 (RFC 4862 5.5.3 d, e).
func (r *Receiver) address(now time.Time, p netip.Prefix, preferred, valid time.Duration) {
	i := slices.IndexFunc(r.f.Addresses, func(x Address) bool { return x.Prefix == p })
	if i < 0 {
		switch {
		case valid == 0 || r.abandoned[p]:
		case len(r.f.Addresses) >= maxPrefixes:
			r.overflow("no address in %v: %d addresses formed", p, maxPrefixes)
		default:
			a, n, ok := r.formAddress(p, r.dad[p])
			if !ok {
				r.abandoned[p] = true
				r.f.LastError = fmt.Sprintf("no usable interface identifier in %v", p)
				return
			}
			r.f.Addresses = append(r.f.Addresses, Address{Addr: a, Prefix: p, DADCounter: n,
				Preferred: now.Add(preferred), Valid: now.Add(valid)})
		}
		return
	}
	// Preferred stays within valid: the PIO has preferred <= valid, and
	// the rule only keeps or sets a valid lifetime of at least the
	// advertised one.
	a := &r.f.Addresses[i]
	a.Preferred = now.Add(preferred)
	a.Valid = twoHourRule(now, a.Valid, valid)
}

// twoHourRule is RFC 4862 5.5.3 e: a valid lifetime may grow at will, but
// an RA (we cannot authenticate any) may only shorten what remains down to
// two hours, and not at all once two hours or less remain. A forged RA
// with valid lifetime 0 can so not take the uplink's address away at once.
func twoHourRule(now, expires time.Time, advertised time.Duration) time.Time {
	remaining := expires.Sub(now)
	switch {
	case advertised > twoHours || advertised > remaining:
		return now.Add(advertised)
	case remaining <= twoHours:
		return expires
	default:
		return now.Add(twoHours)
	}
}

// formAddress makes the address of /64 p, trying DAD counters from start on
// while the identifier is reserved (RFC 7217 5).
func (r *Receiver) formAddress(p netip.Prefix, start int) (netip.Addr, int, bool) {
	if r.cfg.EUI64 {
		iid, ok := EUI64IID(r.cfg.HardwareAddr)
		return withIID(p, iid), 0, ok
	}
	for n := start; n <= idgenRetries; n++ {
		iid := StableIID(r.cfg.SecretKey, p, r.cfg.Interface, uint8(n))
		if !IsReservedIID(iid) {
			return withIID(p, iid), n, true
		}
	}
	return netip.Addr{}, 0, false
}

func (r *Receiver) mtuOption(o []byte) {
	opt, err := decodeOption(o)
	m, ok := opt.(*ndp.MTU)
	limit := uint32(maxMTU)
	if r.cfg.LinkMTU > 0 {
		limit = uint32(r.cfg.LinkMTU)
	}
	if err != nil || !ok || m.MTU < minMTU || m.MTU > limit {
		r.counters.BadMTU++
		if ok {
			r.f.LastError = fmt.Sprintf("MTU option %d ignored: not within %d..%d", m.MTU, minMTU, limit)
		} else {
			r.f.LastError = fmt.Sprintf("MTU option ignored: %v", err)
		}
		return
	}
	r.f.MTU = int(m.MTU)
}

func (r *Receiver) routeOption(now time.Time, src netip.Addr, o []byte) {
	opt, err := decodeOption(o)
	ri, ok := opt.(*ndp.RouteInformation)
	if err == nil && !ok {
		err = errOptionCount
	}
	var p netip.Prefix
	if err == nil {
		p, err = rioPrefix(o, int(ri.PrefixLength))
		p = p.Masked()
	}
	if err == nil && p.Bits() > 0 {
		// ::/0 is a default route via src with its own preference and
		// lifetime (RFC 4191 3.1); anything else may not cover link-local
		// or multicast space.
		err = badPrefix(p)
	}
	if err != nil {
		// Includes the reserved preference, which RFC 4191 2.3 says to
		// ignore the option for, and lengths that do not fit the prefix.
		r.counters.BadRoutes++
		r.f.LastError = fmt.Sprintf("route information ignored: %v", err)
		return
	}
	i := slices.IndexFunc(r.f.Routes, func(x Route) bool { return x.Prefix == p && x.Router == src })
	switch {
	case ri.RouteLifetime == 0:
		if i >= 0 {
			r.f.Routes = slices.Delete(r.f.Routes, i, i+1)
		}
	case i >= 0:
		r.f.Routes[i].Expires = now.Add(ri.RouteLifetime)
		r.f.Routes[i].Preference = preference(ri.Preference)
	case len(r.f.Routes) >= maxRoutes:
		r.overflow("route %v via %v not stored: %d routes known", p, src, maxRoutes)
	default:
		r.f.Routes = append(r.f.Routes, Route{Prefix: p, Router: src,
			Preference: preference(ri.Preference), Expires: now.Add(ri.RouteLifetime)})
	}
}

// rdnssOption keeps each server's expiry as the last option said (RFC 8106
// 5.3.1: lifetime 0 removes it). When the list is full, the server that
// expires first makes room for one that lasts longer.
func (r *Receiver) rdnssOption(now time.Time, o []byte) {
	opt, err := decodeOption(o)
	rd, ok := opt.(*ndp.RecursiveDNSServer)
	if err != nil || !ok {
		r.counters.BadDNS++
		r.f.LastError = fmt.Sprintf("RDNSS option ignored: %v", cmp.Or(err, errOptionCount))
		return
	}
	for _, s := range rd.Servers {
		if !s.Is6() || s.Is4In6() || s.IsUnspecified() || s.IsLoopback() || s.IsMulticast() {
			r.counters.BadDNS++
			r.f.LastError = fmt.Sprintf("RDNSS server %v ignored", s)
			continue
		}
		r.f.DNS = updateExpiring(r, r.f.DNS, DNSServer{Addr: s, Expires: now.Add(rd.Lifetime)}, rd.Lifetime == 0, maxDNS,
			func(x DNSServer) bool { return x.Addr == s },
			func(x DNSServer) time.Time { return x.Expires })
	}
}

func (r *Receiver) dnsslOption(now time.Time, o []byte) {
	opt, err := decodeOption(o)
	ds, ok := opt.(*ndp.DNSSearchList)
	if err != nil || !ok {
		r.counters.BadDNS++
		r.f.LastError = fmt.Sprintf("DNSSL option ignored: %v", cmp.Or(err, errOptionCount))
		return
	}
	for _, name := range ds.DomainNames {
		r.f.Domains = updateExpiring(r, r.f.Domains, SearchDomain{Name: name, Expires: now.Add(ds.Lifetime)}, ds.Lifetime == 0, maxDomains,
			func(x SearchDomain) bool { return strings.EqualFold(x.Name, name) },
			func(x SearchDomain) time.Time { return x.Expires })
	}
}

// updateExpiring refreshes, adds or (remove) deletes e in list, keeping
// the order in which entries were first learned.
func updateExpiring[T any](r *Receiver, list []T, e T, remove bool, limit int, same func(T) bool, expires func(T) time.Time) []T {
	i := slices.IndexFunc(list, same)
	switch {
	case i >= 0 && remove:
		return slices.Delete(list, i, i+1)
	case i >= 0:
		list[i] = e
		return list
	case remove:
		return list
	case len(list) < limit:
		return append(list, e)
	}
	first := 0
	for j := range list {
		if expires(list[j]).Before(expires(list[first])) {
			first = j
		}
	}
	if !expires(list[first]).Before(expires(e)) {
		r.overflow("list full (%d entries)", limit)
		return list
	}
	return append(slices.Delete(list, first, first+1), e)
}

func (r *Receiver) overflow(format string, args ...any) {
	r.counters.Overflow++
	r.f.LastError = fmt.Sprintf(format, args...)
}

// expire removes everything whose lifetime ran out by now and reports
// whether routers were known before.
func (r *Receiver) expire(now time.Time) (hadRouters bool) {
	hadRouters = len(r.f.Routers) > 0
	gone := func(t time.Time) bool { return !now.Before(t) }
	r.f.Routers = slices.DeleteFunc(r.f.Routers, func(x Router) bool { return gone(x.Expires) })
	r.f.Prefixes = slices.DeleteFunc(r.f.Prefixes, func(x Prefix) bool { return gone(x.Valid) })
	r.f.Addresses = slices.DeleteFunc(r.f.Addresses, func(x Address) bool { return gone(x.Valid) })
	r.f.Routes = slices.DeleteFunc(r.f.Routes, func(x Route) bool { return gone(x.Expires) })
	r.f.DNS = slices.DeleteFunc(r.f.DNS, func(x DNSServer) bool { return gone(x.Expires) })
	r.f.Domains = slices.DeleteFunc(r.f.Domains, func(x SearchDomain) bool { return gone(x.Expires) })
	for p := range r.abandoned {
		if !r.knownPrefix(p) {
			delete(r.abandoned, p)
		}
	}
	for p := range r.dad {
		if !r.knownPrefix(p) {
			delete(r.dad, p)
		}
	}
	return hadRouters
}

func (r *Receiver) knownPrefix(p netip.Prefix) bool {
	return slices.ContainsFunc(r.f.Prefixes, func(x Prefix) bool { return x.Prefix == p }) ||
		slices.ContainsFunc(r.f.Addresses, func(x Address) bool { return x.Prefix == p })
}

// finish ends every input: a new round of solicitations when the last
// router went away, a due solicitation, the next deadline and the facts if
// they changed.
func (r *Receiver) finish(now time.Time, hadRouters bool) Output {
	var out Output
	active := r.started && !r.linkDown
	if hadRouters && len(r.f.Routers) == 0 && active && !r.soliciting {
		r.solicit(now)
	}
	if r.soliciting && active && !now.Before(r.rsNext) {
		out.Send = append(out.Send, r.sendRS(now))
	}
	r.sort()
	out.Deadline = r.deadline(active)
	if !sameFacts(r.f, r.emitted) {
		f := r.f.Clone()
		r.emitted = f.Clone()
		out.Facts = &f
	}
	return out
}

func (r *Receiver) deadline(active bool) time.Time {
	var d time.Time
	at := func(t time.Time) {
		if d.IsZero() || t.Before(d) {
			d = t
		}
	}
	if r.soliciting && active {
		at(r.rsNext)
	}
	for _, x := range r.f.Routers {
		at(x.Expires)
	}
	for _, x := range r.f.Prefixes {
		at(x.Valid)
	}
	for _, x := range r.f.Addresses {
		at(x.Valid)
	}
	for _, x := range r.f.Routes {
		at(x.Expires)
	}
	for _, x := range r.f.DNS {
		at(x.Expires)
	}
	for _, x := range r.f.Domains {
		at(x.Expires)
	}
	return d
}

func (r *Receiver) sort() {
	slices.SortFunc(r.f.Routers, func(a, b Router) int {
		return cmp.Or(cmp.Compare(b.Preference, a.Preference), a.Addr.Compare(b.Addr))
	})
	slices.SortFunc(r.f.Prefixes, func(a, b Prefix) int { return comparePrefix(a.Prefix, b.Prefix) })
	slices.SortFunc(r.f.Addresses, func(a, b Address) int { return comparePrefix(a.Prefix, b.Prefix) })
	slices.SortFunc(r.f.Routes, func(a, b Route) int {
		return cmp.Or(comparePrefix(a.Prefix, b.Prefix), cmp.Compare(b.Preference, a.Preference), a.Router.Compare(b.Router))
	})
}

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// sameFacts compares everything but LastRA and LastError.
func sameFacts(a, b Facts) bool {
	return slices.Equal(a.Routers, b.Routers) && a.Managed == b.Managed && a.Other == b.Other &&
		a.DHCPv6 == b.DHCPv6 && slices.Equal(a.Prefixes, b.Prefixes) && slices.Equal(a.Addresses, b.Addresses) &&
		a.MTU == b.MTU && slices.Equal(a.DNS, b.DNS) && slices.Equal(a.Domains, b.Domains) &&
		slices.Equal(a.Routes, b.Routes)
}
