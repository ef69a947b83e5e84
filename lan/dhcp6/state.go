package dhcp6

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"cpe/lan/prefix"
)

// LeaseState is where an address or prefix of a binding stands.
type LeaseState string

const (
	// Offered: Advertised, reserved for the client until Valid.
	Offered LeaseState = "offered"
	// Bound: committed, until Valid.
	Bound LeaseState = "bound"
	// Pending: loaded from the state directory, its delegation not known
	// yet; answered with what is left of its lifetimes, not routed.
	Pending LeaseState = "pending"
	// Gone: its delegation went away; the client is told at its next
	// Renew or Rebind.
	Gone LeaseState = "gone"
)

// Lease is one address or delegated prefix of a binding, as shown by `show
// dhcp leases` and as saved.
type Lease struct {
	DUID string `json:"duid"` // hex bytes, colon separated
	IAID uint32 `json:"iaid"`
	// Address is set for an IA_NA, Prefix for an IA_PD.
	Address netip.Addr   `json:"address,omitzero"`
	Prefix  netip.Prefix `json:"prefix,omitzero"`
	// From and Uplink name the delegation a prefix comes from.
	From   netip.Prefix `json:"from,omitzero"`
	Uplink string       `json:"uplink,omitempty"`
	// Via is the client's link-local address: the next hop of the route to
	// a delegated prefix.
	Via       netip.Addr `json:"via,omitzero"`
	State     LeaseState `json:"state"`
	Preferred time.Time  `json:"preferred,omitzero"`
	Valid     time.Time  `json:"valid,omitzero"`
}

// Declined is an address a client declined, kept out of use until Until.
type Declined struct {
	Address netip.Addr `json:"address"`
	Until   time.Time  `json:"until"`
}

// State is the binding table as saved in the state directory (JSON). The
// caller writes it atomically; Server.Load reads it back at start.
type State struct {
	Leases   []Lease    `json:"leases"`
	Declined []Declined `json:"declined,omitempty"`
}

// Route is a delegated prefix to route to its requester (RFC 9818 4).
type Route struct {
	Prefix netip.Prefix
	Via    netip.Addr // the requester's link-local address
	DUID   string     // as in Lease
	IAID   uint32
	Valid  time.Time
}

func hexColon(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, len(b)*3)
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func unhexColon(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil || !validDUID(b) {
		return nil, errors.New("bad DUID")
	}
	return b, nil
}

// leases flattens b, one Lease per address or prefix.
func (b *binding) leases(out []Lease) []Lease {
	base := Lease{DUID: hexColon([]byte(b.key.duid)), IAID: binary.BigEndian.Uint32(b.key.iaid[:]), Via: b.via}
	for _, a := range b.addrs {
		l := base
		l.Address, l.State, l.Preferred, l.Valid = a.addr, Bound, a.preferred, a.valid
		if b.state == sOffered {
			l.State, l.Preferred, l.Valid = Offered, time.Time{}, b.offerEnd
		}
		out = append(out, l)
	}
	for _, p := range b.pfx {
		l := base
		l.Prefix, l.From, l.Uplink, l.Preferred, l.Valid = p.prefix, p.from, p.uplink, p.preferred, p.valid
		switch {
		case p.st == pGone:
			l.State = Gone
		case p.st == pPending:
			l.State = Pending
		case b.state == sOffered || !p.committed():
			l.State, l.Preferred, l.Valid = Offered, time.Time{}, b.offerEnd
		default:
			l.State = Bound
		}
		out = append(out, l)
	}
	return out
}

func sortLeases(l []Lease) {
	slices.SortFunc(l, func(a, b Lease) int {
		return cmp.Or(strings.Compare(a.DUID, b.DUID), cmp.Compare(a.IAID, b.IAID),
			cmp.Compare(btoi(a.Prefix.IsValid()), btoi(b.Prefix.IsValid())),
			a.Address.Compare(b.Address), a.Prefix.Addr().Compare(b.Prefix.Addr()))
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Snapshot returns every binding's addresses and prefixes at now, offers
// included, sorted.
func (s *Server) Snapshot(now time.Time) []Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.version
	s.expire(now)
	s.notify(before)
	var out []Lease
	for _, b := range s.byKey {
		out = b.leases(out)
	}
	sortLeases(out)
	return out
}

// Routes returns the delegated prefixes to route at now: those of
// committed bindings whose delegation is in the current plan.
func (s *Server) Routes(now time.Time) []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Route
	for _, b := range s.byKey {
		if b.key.t != iaPD {
			continue
		}
		for i := range b.pfx {
			if l := &b.pfx[i]; b.routed(l, now) {
				out = append(out, Route{Prefix: l.prefix, Via: b.via, DUID: hexColon([]byte(b.key.duid)),
					IAID: binary.BigEndian.Uint32(b.key.iaid[:]), Valid: l.valid})
			}
		}
	}
	slices.SortFunc(out, func(a, b Route) int { return a.Prefix.Addr().Compare(b.Prefix.Addr()) })
	return out
}

// RoutesVersion changes whenever Routes may return something else.
func (s *Server) RoutesVersion() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.routesVer
}

// NextExpiry is when an offer, address or prefix runs out next; zero when
// nothing is pending. Call Expire then.
func (s *Server) NextExpiry() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.exp) == 0 {
		return time.Time{}
	}
	return s.exp[0].next
}

// Expire reclaims what ran out by now. Handle, Update and Snapshot do it
// too; a driver calls it at NextExpiry so routes go on time.
func (s *Server) Expire(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.version
	s.expire(now)
	s.notify(before)
}

// Dirty reports whether the saved state is out of date.
func (s *Server) Dirty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dirty
}

func (s *Server) setDirty() {
	s.mu.Lock()
	s.dirty = true
	s.mu.Unlock()
}

// State returns the table to save and clears Dirty. Offers and prefixes
// already withdrawn are not saved.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dirty = false
	st := State{Leases: []Lease{}}
	for _, b := range s.byKey {
		if b.state != sBound {
			continue
		}
		for _, l := range b.leases(nil) {
			if l.State == Bound || l.State == Pending {
				l.State = Bound
				st.Leases = append(st.Leases, l)
			}
		}
	}
	sortLeases(st.Leases)
	for id, until := range s.declined {
		// Saved as the address in the first /64, or under fe80::/64 when
		// there is none: only the identifier matters.
		p := netip.MustParsePrefix("fe80::/64")
		if len(s.cfg.Prefixes) > 0 {
			p = s.cfg.Prefixes[0].Prefix
		}
		st.Declined = append(st.Declined, Declined{Address: withIID(p, id), Until: until})
	}
	slices.SortFunc(st.Declined, func(a, b Declined) int { return a.Address.Compare(b.Address) })
	return st
}

// Load restores a saved table into a new Server, before the first Handle.
// Delegated prefixes are reserved again in the pools of the current config
// (or of the next Update, when their uplink is not up yet). Entries that
// have expired are skipped; entries that are broken or collide are dropped
// and counted in the returned error, the rest are loaded regardless.
func (s *Server) Load(st State, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.version
	var dropped int
	var first error
	drop := func(l Lease, why string) {
		dropped++
		if first == nil {
			first = fmt.Errorf("%s %s%s: %s", l.DUID, l.Address, l.Prefix, why)
		}
	}
	for _, l := range st.Leases {
		if !l.Valid.After(now) {
			continue
		}
		duid, err := unhexColon(l.DUID)
		if err != nil {
			drop(l, err.Error())
			continue
		}
		var iaid [4]byte
		binary.BigEndian.PutUint32(iaid[:], l.IAID)
		isNA := l.Address.IsValid()
		if isNA == l.Prefix.IsValid() {
			drop(l, "neither or both of address and prefix")
			continue
		}
		t := iaPD
		if isNA {
			t = iaNA
		}
		k := bkey{string(duid), iaid, t}
		b := s.byKey[k]
		if b == nil {
			if b = s.newBinding(k); b == nil {
				drop(l, "too many IAs for the client")
				continue
			}
			b.state = sBound
		}
		if v := l.Via.WithZone(""); v.IsLinkLocalUnicast() {
			b.via = v
		}
		pref := l.Preferred
		if pref.After(l.Valid) {
			pref = l.Valid
		}
		if isNA {
			a := l.Address.Unmap()
			switch v := iid(a); {
			case !a.Is6() || !usableIID(v):
				drop(l, "not a usable address")
			case len(b.addrs) > 0 && b.iid != v:
				drop(l, "a second interface identifier in one IA")
			case s.iids[v] != nil && s.iids[v] != b:
				drop(l, "address of another client")
			case b.gave(a):
				drop(l, "listed twice")
			default:
				s.setIID(b, v)
				b.addrs = append(b.addrs, leasedAddr{addr: a, preferred: pref, valid: l.Valid})
			}
		} else {
			p := l.Prefix.Masked()
			if !p.Addr().Is6() || p.Bits() == 0 || slices.ContainsFunc(b.pfx, func(x leasedPrefix) bool { return x.prefix.Overlaps(p) }) {
				drop(l, "not a usable prefix")
			} else {
				b.pfx = append(b.pfx, leasedPrefix{prefix: p, uplink: l.Uplink, from: l.From, st: pPending,
					preferred: pref, valid: l.Valid})
			}
		}
		if len(b.addrs) == 0 && len(b.pfx) == 0 {
			s.drop(b)
			continue
		}
		s.schedule(b)
	}
	for _, d := range st.Declined {
		if v := iid(d.Address); usableIID(v) && d.Until.After(now) {
			s.quarantine(v, d.Until)
		}
	}
	for _, b := range s.byKey {
		if (b.key.t == iaNA && !s.cfg.IANA) || (b.key.t == iaPD && !s.cfg.PD) {
			s.drop(b)
		}
	}
	s.reconcile(now)
	s.expire(now)
	s.version++
	s.routesVer++
	s.notify(before)
	if dropped > 0 {
		return fmt.Errorf("dhcp6: %s: %d saved leases dropped, first %w", s.cfg.Interface, dropped, first)
	}
	return nil
}

// reconcile fits the delegated prefixes to the pools of the current plan:
// a live prefix whose pool is gone (the delegation went away or was
// renumbered) or that a segment now needs is gone; a pending one is
// reserved again in the pool it falls in, and is gone if that fails or if
// its uplink now delegates something else.
func (s *Server) reconcile(now time.Time) {
	for _, b := range s.byKey {
		if b.key.t != iaPD {
			continue
		}
		changed, routed := false, false
		for i := range b.pfx {
			l := &b.pfx[i]
			switch l.st {
			case pLive:
				if !slices.Contains(s.cfg.Pools, l.pool) {
					l.st, l.pool = pGone, nil
				} else if p, ok := l.pool.Lookup(b.poolKey); !ok || p != l.prefix {
					l.st, l.pool = pGone, nil
				} else {
					continue
				}
				changed, routed = true, true
			case pPending:
				if q := s.poolOf(l.prefix); q != nil {
					if q.Reserve(b.poolKey, l.prefix) == nil {
						l.st, l.pool, l.uplink, l.from = pLive, q, q.Uplink, q.From
						routed = true
					} else {
						l.st = pGone
					}
					changed = true
				} else if slices.ContainsFunc(s.cfg.Pools, func(q *prefix.PDPool) bool { return q.Uplink == l.uplink }) {
					l.st, changed = pGone, true
				}
			}
		}
		if !changed {
			continue
		}
		if b.state == sOffered {
			// An offer that lost its prefix is not worth keeping.
			kept := b.pfx[:0]
			for _, l := range b.pfx {
				if l.st == pLive {
					kept = append(kept, l)
				}
			}
			b.pfx = kept
			if len(b.pfx) == 0 {
				s.drop(b)
				continue
			}
		}
		s.touch(b.state == sBound, routed)
		s.schedule(b)
	}
}
