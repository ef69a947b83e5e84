package dhcp4

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// LeaseState is where a binding stands.
type LeaseState string

const (
	// Offered: reserved for the client for Config.OfferHold after an OFFER.
	Offered LeaseState = "offered"
	// Bound: ACKed, until Expires.
	Bound LeaseState = "bound"
	// Declined: a client DECLINEd the address; nobody gets it until Expires.
	Declined LeaseState = "declined"
	// Released and Expired bindings hold no address; they are remembered
	// so that the client gets the same address back while it is still
	// free (RFC 2131 4.3.1).
	Released LeaseState = "released"
	Expired  LeaseState = "expired"
)

// Lease is one binding as shown by `show dhcp leases` and as saved.
type Lease struct {
	Address netip.Addr `json:"address"`
	// ClientID is the client's identity as hex bytes: option 61 when it
	// sent one, else the hardware type and chaddr (the RFC 2132 form).
	// Empty for a Declined address.
	ClientID string     `json:"client_id,omitempty"`
	MAC      string     `json:"mac,omitempty"`
	Hostname string     `json:"hostname,omitempty"`
	State    LeaseState `json:"state"`
	Expires  time.Time  `json:"expires,omitzero"`
	Static   bool       `json:"static,omitempty"`
}

// State is the lease table as saved in the state directory (JSON). The
// caller writes it atomically; Server.Load reads it back at start.
type State struct {
	Leases []Lease `json:"leases"`
}

type bstate uint8

const (
	sReleased bstate = iota
	sExpired
	sOffered
	sBound
	sDeclined
)

var stateNames = [...]LeaseState{sReleased: Released, sExpired: Expired, sOffered: Offered, sBound: Bound, sDeclined: Declined}

// binding is a client's record. Every binding sits in byAddr under its
// address, one per address, so remembered bindings cannot outnumber the
// addresses; the client's record (byKey) goes when its remembered address
// is given to someone else. Declined addresses are bindings without a key.
type binding struct {
	key      string // client identity, "" for a declined address
	hw       string // chaddr as received
	hostname string
	addr     uint32
	state    bstate
	used     bool      // bound to addr at some point, not only offered
	expires  time.Time // end of the offer, lease or quarantine
	idx      int       // position in the expiry heap, -1 when not in it
}

// active bindings hold their address until expires.
func (b *binding) active() bool { return b.state >= sOffered }

// refree puts pool address a in the free set it belongs to after a change:
// clean when no record mentions it, stale when a released or expired
// client's record does (given out only when no clean address is left, so
// that returning clients find theirs), neither when it is held or reserved.
func (s *Server) refree(a uint32) {
	if !s.net.inPool(a) || a == s.net.router {
		return
	}
	if _, static := s.staticAddr[a]; static {
		return
	}
	i := int(a - s.net.poolStart)
	h := s.byAddr[a]
	switch {
	case h == nil:
		s.clean.add(i)
		s.stale.remove(i)
	case h.active():
		s.clean.remove(i)
		s.stale.remove(i)
	default:
		s.stale.add(i)
		s.clean.remove(i)
	}
}

// hold gives address a to b until expires, in state st. The caller has
// checked that a is assignable to b.
func (s *Server) hold(b *binding, a uint32, st bstate, expires time.Time) {
	if b.addr != 0 && b.addr != a && s.byAddr[b.addr] == b {
		s.exp.Remove(b)
		delete(s.byAddr, b.addr)
		s.refree(b.addr)
	}
	if h := s.byAddr[a]; h != nil && h != b {
		s.exp.Remove(h)
		if s.byKey[h.key] == h {
			delete(s.byKey, h.key)
		}
	}
	s.byAddr[a] = b
	if b.addr != a {
		b.used = false
	}
	b.addr, b.state, b.expires = a, st, expires
	b.used = b.used || st == sBound
	s.refree(a)
	s.exp.Set(b)
	if b.key != "" {
		s.byKey[b.key] = b
	}
}

// unbind ends b's hold on its address (RELEASE, expiry) and keeps the
// record.
func (s *Server) unbind(b *binding, st bstate) {
	s.exp.Remove(b)
	b.state = st
	s.refree(b.addr)
}

// end ends b's hold; an offer nobody took leaves no record behind, so its
// address goes back to the clean addresses.
func (s *Server) end(b *binding, st bstate) {
	if b.state == sDeclined || !b.used {
		s.forget(b)
		return
	}
	s.unbind(b, st)
}

// forget drops b altogether.
func (s *Server) forget(b *binding) {
	if b.active() {
		s.unbind(b, sReleased)
	}
	if s.byAddr[b.addr] == b {
		delete(s.byAddr, b.addr)
		s.refree(b.addr)
	}
	if b.key != "" && s.byKey[b.key] == b {
		delete(s.byKey, b.key)
	}
}

// expire reclaims everything due at now: the lazy half of lease expiry.
func (s *Server) expire(now time.Time) {
	for len(s.exp) > 0 && !s.exp[0].expires.After(now) {
		b := s.exp[0]
		s.end(b, sExpired)
	}
}

// assignable says whether a may be given to the client b (nil when new)
// whose chaddr is hw.
func (s *Server) assignable(a uint32, b *binding, hw string) bool {
	if !s.net.usable(a) {
		return false
	}
	if owner, ok := s.staticAddr[a]; ok {
		return owner == hw
	}
	if !s.net.inPool(a) {
		return false
	}
	h := s.byAddr[a]
	return h == nil || h == b || !h.active()
}

func (s *Server) lease(b *binding) Lease {
	l := Lease{Address: addrOf(b.addr), Hostname: b.hostname, State: stateNames[b.state]}
	if b.key != "" {
		l.ClientID = hexColon([]byte(b.key))
	}
	if b.hw != "" {
		l.MAC = net.HardwareAddr(b.hw).String()
	}
	if b.active() || b.state == sExpired {
		l.Expires = b.expires
	}
	if _, ok := s.staticAddr[b.addr]; ok {
		l.Static = true
	}
	return l
}

// Snapshot returns the bindings that hold an address (offered, bound,
// declined) at now, by address.
func (s *Server) Snapshot(now time.Time) []Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	out := make([]Lease, 0, len(s.exp))
	for _, b := range s.exp {
		out = append(out, s.lease(b))
	}
	slices.SortFunc(out, func(a, b Lease) int { return a.Address.Compare(b.Address) })
	return out
}

// Dirty reports whether the saved state is out of date: a lease was bound,
// renewed, released or declined since the last State.
func (s *Server) Dirty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dirty
}

// State returns the table to save and clears Dirty. Offers are not saved:
// a client whose OFFER is lost in a restart asks again.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dirty = false
	st := State{Leases: make([]Lease, 0, len(s.byAddr))}
	for _, b := range s.byAddr {
		if b.state != sOffered {
			st.Leases = append(st.Leases, s.lease(b))
		}
	}
	slices.SortFunc(st.Leases, func(a, b Lease) int { return a.Address.Compare(b.Address) })
	return st
}

// Load restores a saved table into a new Server, before the first Handle.
// Leases the current config no longer allows (address outside the subnet
// or pool, another host's static address, duplicates) are dropped and
// counted in the returned error; the rest are loaded regardless.
func (s *Server) Load(st State, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var dropped int
	var first error
	drop := func(l Lease, why string) {
		dropped++
		if first == nil {
			first = fmt.Errorf("%s: %s", l.Address, why)
		}
	}
	for _, l := range st.Leases {
		a := l.Address.Unmap()
		if !a.Is4() {
			drop(l, "not an IPv4 address")
			continue
		}
		v := u32(a)
		var hw []byte
		if l.MAC != "" {
			m, err := net.ParseMAC(l.MAC)
			if err != nil {
				drop(l, "bad MAC")
				continue
			}
			hw = m
		}
		if h := s.byAddr[v]; h != nil {
			drop(l, "address listed twice")
			continue
		}
		if l.State == Declined {
			if !s.net.inPool(v) || !s.net.usable(v) {
				drop(l, "not in the pool")
				continue
			}
			if l.Expires.After(now) {
				s.hold(&binding{idx: -1, hw: string(hw)}, v, sDeclined, l.Expires)
			}
			continue
		}
		key, err := unhexColon(l.ClientID)
		if err != nil || len(key) == 0 {
			drop(l, "bad client id")
			continue
		}
		if s.byKey[string(key)] != nil {
			drop(l, "client listed twice")
			continue
		}
		b := &binding{key: string(key), hw: string(hw), hostname: l.Hostname, idx: -1}
		if !s.assignable(v, b, b.hw) {
			drop(l, "not assignable under the current config")
			continue
		}
		switch {
		case l.State == Bound && l.Expires.After(now):
			s.hold(b, v, sBound, l.Expires)
		case l.State == Bound || l.State == Expired || l.State == Released:
			st := sReleased
			if l.State != Released {
				st = sExpired
			}
			s.hold(b, v, sBound, now) // takes the address record...
			s.unbind(b, st)           // ...and gives the address back
			b.expires = l.Expires
		default:
			drop(l, "state "+string(l.State))
		}
	}
	if dropped > 0 {
		return fmt.Errorf("dhcp4: %s: %d saved leases dropped, first %w", s.cfg.Interface, dropped, first)
	}
	return nil
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
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil || len(b) > 255 {
		return nil, errors.New("bad client id")
	}
	return b, nil
}

// A binding is in the expiry heap while it is active, by its expiry.
func (b *binding) Deadline() time.Time { return b.expires }
func (b *binding) HeapIndex() *int     { return &b.idx }
