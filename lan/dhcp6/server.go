package dhcp6

import (
	"bytes"
	"cpe/internal/ratelimit"
	"cpe/internal/timeheap"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"

	"cpe/lan/prefix"
)

// Counters count what the server received and sent; a dropped message is
// counted under the first reason that stopped it.
type Counters struct {
	Received uint64 // messages handed to Handle
	Sent     uint64 // replies returned

	Solicits, Requests, Confirms, Renews, Rebinds, Releases, Declines, InfoRequests uint64
	Advertises, Replies                                                             uint64

	Malformed      uint64 // undecodable, or missing or carrying options RFC 8415 16 forbids
	NotClient      uint64 // a server-only or relay message, or an unknown type
	WrongInterface uint64 // not from this server's LAN interface
	BadSource      uint64 // not from a unicast address
	OtherServer    uint64 // meant for another server (Server Identifier)
	RateLimited    uint64 // over the client's token bucket
	Ignored        uint64 // nothing to answer: a service not configured, a Confirm without addresses
	NoAddrs        uint64 // IA_NAs answered NoAddrsAvail
	NoPrefixes     uint64 // IA_PDs answered NoPrefixAvail
	NoBindings     uint64 // IAs answered NoBinding
}

// Reply is one message to send out of Interface, unicast to To (the
// client's link-local address and port, without zone).
type Reply struct {
	Data      []byte
	Type      dhcpv6.MessageType
	To        netip.AddrPort
	Interface string
}

// Server is the DHCPv6 server of one LAN segment. It is pure: time comes
// with every call, packets come in as bytes and go out as Replies; it opens
// no socket and writes no file. It is safe for concurrent use.
type Server struct {
	mu  sync.Mutex
	cfg Config
	log *slog.Logger

	byKey    map[bkey]*binding
	iids     map[uint64]*binding  // IA_NA identifiers held, offered or bound
	declined map[uint64]time.Time // quarantined identifiers, until
	perDUID  map[duidType]int     // IAs held per DUID and type
	exp      timeheap.Heap[*binding]
	limit    *ratelimit.Limiter

	declNext  time.Time // earliest end of a quarantine
	full      bool      // the table is full; logged
	dirty     bool      // bindings changed since the last State
	version   uint64    // any change of the bindings
	routesVer uint64    // a change of what Routes returns
	changed   chan struct{}
	counters  Counters
	declLog   ratelimit.Every

	optDNS, optDomains []byte
}

type duidType struct {
	duid string
	t    iaType
}

// New checks cfg and returns a server without bindings. log may be nil.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	cfg = cfg.clone()
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("dhcp6: %s: %w", cfg.Interface, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:      cfg,
		log:      log.With("component", "dhcp6-server", "interface", cfg.Interface),
		byKey:    map[bkey]*binding{},
		iids:     map[uint64]*binding{},
		declined: map[uint64]time.Time{},
		perDUID:  map[duidType]int{},
		limit:    ratelimit.New(cfg.Rate, cfg.Burst),
		changed:  make(chan struct{}, 1),
	}
	s.setOptions()
	return s, nil
}

func (s *Server) setOptions() {
	s.optDNS = s.optDNS[:0]
	for _, d := range s.cfg.DNS {
		b := d.As16()
		s.optDNS = append(s.optDNS, b[:]...)
	}
	s.optDomains = s.optDomains[:0]
	for _, d := range s.cfg.Domains {
		if b, err := encodeDomain(s.optDomains, d); err == nil {
			s.optDomains = b
		}
	}
}

// Update gives the server a new config: a new prefix plan (segment /64s
// and pools), new DNS servers or domains, services switched on or off.
// Bindings are kept; those a new plan no longer allows are marked to be
// withdrawn (see the package doc). Interface, Segment and DUID cannot
// change.
func (s *Server) Update(cfg Config, now time.Time) error {
	cfg = cfg.clone()
	if err := cfg.check(); err != nil {
		return fmt.Errorf("dhcp6: %s: %w", cfg.Interface, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cfg.Interface != s.cfg.Interface || cfg.Segment != s.cfg.Segment || !bytes.Equal(cfg.DUID, s.cfg.DUID) {
		return fmt.Errorf("dhcp6: %s: interface, segment and DUID cannot change", s.cfg.Interface)
	}
	before := s.version
	if cfg.Rate != s.cfg.Rate || cfg.Burst != s.cfg.Burst {
		s.limit = ratelimit.New(cfg.Rate, cfg.Burst)
	}
	s.cfg = cfg
	s.setOptions()
	for _, b := range s.byKey {
		if (b.key.t == iaNA && !cfg.IANA) || (b.key.t == iaPD && !cfg.PD) {
			s.drop(b)
		}
	}
	s.reconcile(now)
	s.expire(now)
	s.notify(before)
	return nil
}

// Changed receives a value after the bindings changed (several changes may
// coalesce): the driver's cue to save, publish routes and re-arm its timer.
func (s *Server) Changed() <-chan struct{} { return s.changed }

func (s *Server) notify(before uint64) {
	if s.version == before {
		return
	}
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// touch records a change; routes says whether it changes Routes.
func (s *Server) touch(bound, routes bool) {
	s.version++
	if bound {
		s.dirty = true
	}
	if routes {
		s.routesVer++
	}
}

// Counters returns the counters so far.
func (s *Server) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters
}

// Handle processes one message received on interface ifname from src and
// returns the reply to send, or nil when the protocol says to stay silent
// or the message was dropped (see Counters). The error is for a message
// that could not be decoded; it needs no answer, only a (rate-limited)
// debug log.
func (s *Server) Handle(now time.Time, b []byte, ifname string, src netip.AddrPort) (*Reply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters.Received++
	if ifname != s.cfg.Interface {
		s.counters.WrongInterface++
		return nil, nil
	}
	// Clients should send from their link-local address (RFC 8415 13.1),
	// but some send from an address of the segment's prefix; the socket is
	// bound to the LAN interface and this server does not serve relays, so
	// any unicast source is on the segment. Nothing else is answered.
	if a := src.Addr(); !a.Is6() || a.Is4In6() || !(a.IsLinkLocalUnicast() || a.IsGlobalUnicast()) {
		s.counters.BadSource++
		return nil, nil
	}
	if len(b) < dhcpv6.MessageHeaderSize {
		s.counters.Malformed++
		return nil, fmt.Errorf("dhcp6: %s: from %s: %w", ifname, src, errShort)
	}
	if !clientType(dhcpv6.MessageType(b[0])) {
		s.counters.NotClient++
		return nil, nil
	}
	r, err := decode(b)
	if err != nil {
		s.counters.Malformed++
		return nil, fmt.Errorf("dhcp6: %s: from %s: %w", ifname, src, err)
	}
	if err := s.validate(r); err != nil {
		return nil, fmt.Errorf("dhcp6: %s: %s from %s: %w", ifname, r.typ, src, err)
	}
	if r.hasServerID && !bytes.Equal(r.serverID, s.cfg.DUID) {
		s.counters.OtherServer++
		return nil, nil
	}
	if !s.limit.Allow(rateKey(r, src), now) {
		s.counters.RateLimited++
		return nil, nil
	}
	before := s.version
	s.expire(now)
	rep := s.dispatch(now, r, src.Addr().WithZone(""))
	s.notify(before)
	if rep == nil {
		return nil, nil
	}
	rep.To = netip.AddrPortFrom(src.Addr().WithZone(""), src.Port())
	s.counters.Sent++
	if rep.Type == dhcpv6.MessageTypeAdvertise {
		s.counters.Advertises++
	} else {
		s.counters.Replies++
	}
	return rep, nil
}

func rateKey(r *request, src netip.AddrPort) string {
	if len(r.clientID) > 0 {
		return string(r.clientID)
	}
	a := src.Addr().As16()
	return "@" + string(a[:])
}

// validate applies RFC 8415 16: which messages must and must not carry a
// Client and a Server Identifier, and IAs in an Information-request.
func (s *Server) validate(r *request) error {
	var needServer, noServer, needClient bool
	switch r.typ {
	case dhcpv6.MessageTypeSolicit, dhcpv6.MessageTypeConfirm, dhcpv6.MessageTypeRebind:
		needClient, noServer = true, true
	case dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRelease, dhcpv6.MessageTypeDecline:
		needClient, needServer = true, true
	case dhcpv6.MessageTypeInformationRequest:
		if len(r.ias) > 0 || r.hasIATA {
			s.counters.Malformed++
			return fmt.Errorf("IA option in an Information-request")
		}
	}
	switch {
	case r.clientID != nil && !validDUID(r.clientID):
		s.counters.Malformed++
		return fmt.Errorf("client identifier %x is not a DUID", r.clientID)
	case needClient && r.clientID == nil:
		s.counters.Malformed++
		return fmt.Errorf("no client identifier")
	case needServer && !r.hasServerID:
		s.counters.Malformed++
		return fmt.Errorf("no server identifier")
	case noServer && r.hasServerID:
		s.counters.Malformed++
		return fmt.Errorf("a server identifier where none belongs")
	}
	return nil
}

func (s *Server) dispatch(now time.Time, r *request, src netip.Addr) *Reply {
	switch r.typ {
	case dhcpv6.MessageTypeSolicit:
		s.counters.Solicits++
		return s.solicit(now, r, src)
	case dhcpv6.MessageTypeRequest:
		s.counters.Requests++
		return s.assign(now, r, src, mCommit, dhcpv6.MessageTypeReply)
	case dhcpv6.MessageTypeRenew:
		s.counters.Renews++
		return s.assign(now, r, src, mRenew, dhcpv6.MessageTypeReply)
	case dhcpv6.MessageTypeRebind:
		s.counters.Rebinds++
		return s.assign(now, r, src, mRebind, dhcpv6.MessageTypeReply)
	case dhcpv6.MessageTypeRelease:
		s.counters.Releases++
		return s.release(now, r)
	case dhcpv6.MessageTypeDecline:
		s.counters.Declines++
		return s.decline(now, r)
	case dhcpv6.MessageTypeConfirm:
		s.counters.Confirms++
		return s.confirm(now, r)
	case dhcpv6.MessageTypeInformationRequest:
		s.counters.InfoRequests++
		if !s.cfg.Stateless {
			s.counters.Ignored++
			return nil
		}
		return s.build(r, dhcpv6.MessageTypeReply, nil, nil, true)
	}
	return nil
}

// mode is what an exchange does with the IAs it carries.
type mode uint8

const (
	mAdvertise mode = iota // Solicit: show, hold for OfferHold
	mCommit                // Request, Solicit with Rapid Commit
	mRenew
	mRebind
)

func (m mode) extends() bool { return m == mRenew || m == mRebind }

// RFC 8415 18.3.1.
func (s *Server) solicit(now time.Time, r *request, src netip.Addr) *Reply {
	if !s.cfg.IANA && !s.cfg.PD {
		// A stateless server answers Information-requests only.
		s.counters.Ignored++
		return nil
	}
	if r.rapid {
		return s.assign(now, r, src, mCommit, dhcpv6.MessageTypeReply)
	}
	return s.assign(now, r, src, mAdvertise, dhcpv6.MessageTypeAdvertise)
}

// assign answers the IAs of a Solicit, Request, Renew or Rebind.
func (s *Server) assign(now time.Time, r *request, src netip.Addr, m mode, typ dhcpv6.MessageType) *Reply {
	if !s.cfg.IANA && !s.cfg.PD && !m.extends() {
		s.counters.Ignored++
		return nil
	}
	opts := make([]dhcpv6.Option, 0, len(r.ias))
	got := false
	for _, ia := range r.ias {
		if m == mRebind && !s.serves(ia.t) {
			// A Rebind goes to every server: an IA of a kind this one
			// does not hand out may be another server's.
			continue
		}
		var o dhcpv6.Option
		var ok bool
		if ia.t == iaNA {
			o, ok = s.iaNA(now, r, ia, m, src)
		} else {
			o, ok = s.iaPD(now, r, ia, m, src)
		}
		opts = append(opts, o)
		got = got || ok
	}
	if len(opts) == 0 && m == mRebind {
		s.counters.Ignored++
		return nil
	}
	if m == mAdvertise && !got {
		// RFC 8415 18.3.1: nothing for any IA: only a status, no IA.
		return s.build(r, typ, nil, &dhcpv6.OptStatusCode{StatusCode: iana.StatusNoAddrsAvail,
			StatusMessage: "no addresses or prefixes available"}, false)
	}
	return s.build(r, typ, opts, nil, true)
}

func (s *Server) serves(t iaType) bool {
	if t == iaNA {
		return s.cfg.IANA
	}
	return s.cfg.PD
}

func status(code iana.StatusCode, msg string) *dhcpv6.OptStatusCode {
	return &dhcpv6.OptStatusCode{StatusCode: code, StatusMessage: msg}
}

func ip(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: ip(p.Addr()), Mask: net.CIDRMask(p.Bits(), 128)}
}

// seconds turns the end of a lifetime into what is left at now, in whole
// seconds rounded down (never more than was granted).
func seconds(end, now time.Time) time.Duration {
	return max(end.Sub(now), 0).Truncate(time.Second)
}

// timers are T1 and T2 of an IA: 0.5 and 0.8 of the shortest preferred
// lifetime in it, or of the shortest valid one when every preferred is 0
// (the uplink is down: renew before the prefix goes).
func timers(pref, valid []time.Duration) (t1, t2 time.Duration) {
	base := time.Duration(-1)
	for _, p := range pref {
		if p > 0 && (base < 0 || p < base) {
			base = p
		}
	}
	if base < 0 {
		for _, v := range valid {
			if v > 0 && (base < 0 || v < base) {
				base = v
			}
		}
	}
	if base <= 0 {
		return 0, 0
	}
	return (base / 2).Truncate(time.Second), (base * 4 / 5).Truncate(time.Second)
}

// newBinding makes the record of an IA, or returns nil when the DUID
// already holds MaxIAs of the type or the server MaxBindings in all.
func (s *Server) newBinding(k bkey) *binding {
	dt := duidType{k.duid, k.t}
	if s.perDUID[dt] >= MaxIAs {
		return nil
	}
	if len(s.byKey) >= MaxBindings {
		if !s.full {
			s.full = true
			s.log.Warn("binding table full: new clients get nothing", "bindings", len(s.byKey))
		}
		return nil
	}
	s.full = false
	s.perDUID[dt]++
	b := &binding{key: k, idx: -1}
	if k.t == iaPD {
		b.poolKey = poolKey(s.cfg.Segment, k)
	}
	s.byKey[k] = b
	return b
}

// drop forgets b and frees what it holds.
func (s *Server) drop(b *binding) {
	if s.byKey[b.key] != b {
		return
	}
	delete(s.byKey, b.key)
	dt := duidType{b.key.duid, b.key.t}
	if s.perDUID[dt]--; s.perDUID[dt] <= 0 {
		delete(s.perDUID, dt)
	}
	if b.key.t == iaNA && s.iids[b.iid] == b {
		delete(s.iids, b.iid)
	}
	s.exp.Remove(b)
	routed := false
	if b.key.t == iaPD {
		for i := range b.pfx {
			routed = routed || b.state == sBound && b.pfx[i].st == pLive
		}
		// Every pool, not only those of b's prefixes: a pool that took
		// over a renumbered one holds the client's slot already.
		for _, p := range s.cfg.Pools {
			p.Release(b.poolKey)
		}
	}
	s.touch(b.state == sBound, routed)
}

// schedule puts b in the heap at its next event.
func (s *Server) schedule(b *binding) {
	b.next = b.nextEvent()
	if b.next.IsZero() {
		s.exp.Remove(b)
	} else {
		s.exp.Set(b)
	}
}

// expire reclaims everything due at now: the lazy half of expiry.
func (s *Server) expire(now time.Time) {
	for len(s.exp) > 0 && !s.exp[0].next.After(now) {
		s.reap(s.exp[0], now)
	}
	if !s.declNext.IsZero() && !s.declNext.After(now) {
		s.declNext = time.Time{}
		for id, until := range s.declined {
			if !until.After(now) {
				delete(s.declined, id)
				s.touch(true, false)
				continue
			}
			s.declNext = earliest(s.declNext, until)
		}
	}
}

// quarantine keeps identifier id out of use until until. The table is
// bounded: past maxDeclined, a declined address is only logged, so that
// forged Declines cannot grow it.
func (s *Server) quarantine(id uint64, until time.Time) {
	if _, ok := s.declined[id]; !ok && len(s.declined) >= maxDeclined {
		return
	}
	s.declined[id] = until
	s.declNext = earliest(s.declNext, until)
	s.touch(true, false)
}

// reap handles b's due events: the end of an offer, of addresses and
// prefixes whose valid lifetime ran out, of the binding once nothing is
// left.
func (s *Server) reap(b *binding, now time.Time) {
	if b.state == sOffered {
		s.drop(b)
		return
	}
	kept := b.addrs[:0]
	for _, a := range b.addrs {
		if a.valid.After(now) {
			kept = append(kept, a)
		}
	}
	b.addrs = kept
	routed := false
	keptP := b.pfx[:0]
	for _, p := range b.pfx {
		if p.committed() && !p.valid.After(now) {
			if p.st == pLive {
				p.pool.Release(b.poolKey)
				routed = true
			}
			continue
		}
		keptP = append(keptP, p)
	}
	b.pfx = keptP
	s.touch(true, routed)
	if len(b.addrs) == 0 && !slicesContainsCommitted(b.pfx) {
		s.drop(b)
		return
	}
	s.schedule(b)
}

func slicesContainsCommitted(p []leasedPrefix) bool {
	for i := range p {
		if p[i].committed() {
			return true
		}
	}
	return false
}

// onLink finds the /64 of the segment a belongs to.
func (s *Server) onLink(a netip.Addr) bool {
	for _, p := range s.cfg.Prefixes {
		if p.Prefix.Contains(a) {
			return true
		}
	}
	return false
}

func (s *Server) iidFree(v uint64, b *binding, now time.Time) bool {
	if !usableIID(v) {
		return false
	}
	if h := s.iids[v]; h != nil && h != b {
		return false
	}
	until, declined := s.declined[v]
	return !declined || !until.After(now)
}

func (s *Server) setIID(b *binding, v uint64) {
	if b.iid != v && s.iids[b.iid] == b {
		delete(s.iids, b.iid)
	}
	b.iid = v
	s.iids[v] = b
}

// pickIID is the stable identifier of b's IA: the first probe of its hash
// that is usable and free.
func (s *Server) pickIID(b *binding, now time.Time) (uint64, bool) {
	if b.iid != 0 && s.iidFree(b.iid, b, now) {
		return b.iid, true
	}
	for n := range uint8(32) {
		if v := iidHash(b.key, n); s.iidFree(v, b, now) {
			return v, true
		}
	}
	return 0, false
}

// iaNA answers one IA_NA; ok says whether it got an address.
func (s *Server) iaNA(now time.Time, r *request, ia iaReq, m mode, src netip.Addr) (dhcpv6.Option, bool) {
	out := &dhcpv6.OptIANA{IaId: ia.iaid}
	k := bkey{string(r.clientID), ia.iaid, iaNA}
	b := s.byKey[k]
	if !s.cfg.IANA {
		if m.extends() {
			return s.noBinding(out, ia, m), false
		}
		s.counters.NoAddrs++
		out.Options.Add(status(iana.StatusNoAddrsAvail, "this link hands out no addresses"))
		return out, false
	}
	created := false
	switch {
	case m.extends() && (b == nil || b.state != sBound):
		// RFC 8415 18.3.4: no record (a lost bindings file, an expired
		// binding): the address is the client's again if still free.
		var v uint64
		found := false
		for _, a := range ia.addrs {
			if s.onLink(a) && s.iidFree(iid(a), b, now) {
				v, found = iid(a), true
				break
			}
		}
		if !found {
			return s.noBinding(out, ia, m), false
		}
		if b == nil {
			if b = s.newBinding(k); b == nil {
				return s.noBinding(out, ia, m), false
			}
			created = true
		}
		s.setIID(b, v)
	case b == nil:
		if b = s.newBinding(k); b == nil {
			s.counters.NoAddrs++
			out.Options.Add(status(iana.StatusNoAddrsAvail, "no room for another binding"))
			return out, false
		}
		created = true
		fallthrough
	default:
		v, ok := s.pickIID(b, now)
		if !ok {
			if created {
				s.drop(b)
			}
			s.counters.NoAddrs++
			out.Options.Add(status(iana.StatusNoAddrsAvail, "no address available"))
			return out, false
		}
		s.setIID(b, v)
	}

	var given []leasedAddr
	var prefs, valids []time.Duration
	for _, p := range s.cfg.Prefixes {
		pr, va := p.Lifetimes(now)
		if va <= 0 {
			continue
		}
		a := withIID(p.Prefix, b.iid)
		given = append(given, leasedAddr{addr: a, preferred: now.Add(pr), valid: now.Add(va)})
		prefs, valids = append(prefs, pr), append(valids, va)
		out.Options.Add(&dhcpv6.OptIAAddress{IPv6Addr: ip(a), PreferredLifetime: pr, ValidLifetime: va})
	}
	if len(given) == 0 {
		if created || b.state != sBound {
			s.drop(b)
		}
		s.counters.NoAddrs++
		s.withdrawAddrs(out, ia, nil, m)
		out.Options.Add(status(iana.StatusNoAddrsAvail, "no prefix on this link"))
		return out, false
	}
	if m.extends() {
		s.withdrawAddrs(out, ia, given, m)
	}
	out.T1, out.T2 = timers(prefs, valids)
	if m == mAdvertise {
		if b.state == sOffered {
			b.addrs, b.offerEnd, b.via = given, now.Add(s.cfg.OfferHold), src
			s.touch(false, false)
			s.schedule(b)
		}
		return out, true
	}
	b.state, b.addrs, b.via = sBound, given, src
	s.touch(true, false)
	s.schedule(b)
	return out, true
}

// withdrawAddrs returns with lifetimes 0 what the client listed in an
// IA_NA and does not get (RFC 8415 18.3.4): its /64 went away or it is not
// the client's. Nothing is said while the segment has no /64 at all: the
// server cannot tell.
func (s *Server) withdrawAddrs(out *dhcpv6.OptIANA, ia iaReq, given []leasedAddr, m mode) {
	if !m.extends() || len(s.cfg.Prefixes) == 0 {
		return
	}
next:
	for _, a := range ia.addrs {
		for _, g := range given {
			if g.addr == a {
				continue next
			}
		}
		out.Options.Add(&dhcpv6.OptIAAddress{IPv6Addr: ip(a)})
	}
}

// noBinding answers an IA the server has no record of and cannot recreate
// (RFC 8415 18.3.4, 18.3.5): NoBinding, except that a Rebind listing only
// things plainly not on this link is told they are gone.
func (s *Server) noBinding(out dhcpv6.Option, ia iaReq, m mode) dhcpv6.Option {
	offLink := false
	if m == mRebind {
		switch ia.t {
		case iaNA:
			offLink = len(s.cfg.Prefixes) > 0 && len(ia.addrs) > 0
			for _, a := range ia.addrs {
				offLink = offLink && !s.onLink(a)
			}
		case iaPD:
			offLink = len(s.cfg.Pools) > 0 && len(ia.pfx) > 0
			for _, p := range ia.pfx {
				offLink = offLink && s.poolOf(p) == nil
			}
		}
	}
	switch o := out.(type) {
	case *dhcpv6.OptIANA:
		if offLink {
			for _, a := range ia.addrs {
				o.Options.Add(&dhcpv6.OptIAAddress{IPv6Addr: ip(a)})
			}
			return o
		}
		o.Options.Add(status(iana.StatusNoBinding, "no binding for this IA"))
	case *dhcpv6.OptIAPD:
		if offLink {
			for _, p := range ia.pfx {
				o.Options.Add(&dhcpv6.OptIAPrefix{Prefix: ipnet(p)})
			}
			return o
		}
		o.Options.Add(status(iana.StatusNoBinding, "no binding for this IA"))
	}
	s.counters.NoBindings++
	return out
}

// poolOf finds the usable pool p belongs in, at the pool's length.
func (s *Server) poolOf(p netip.Prefix) *prefix.PDPool {
	for _, q := range s.cfg.Pools {
		if q.Length == p.Bits() && q.From.Contains(p.Addr()) {
			return q
		}
	}
	return nil
}

// iaPD answers one IA_PD; ok says whether it got a prefix.
func (s *Server) iaPD(now time.Time, r *request, ia iaReq, m mode, src netip.Addr) (dhcpv6.Option, bool) {
	out := &dhcpv6.OptIAPD{IaId: ia.iaid}
	k := bkey{string(r.clientID), ia.iaid, iaPD}
	b := s.byKey[k]
	if !s.cfg.PD {
		if m.extends() {
			return s.noBinding(out, ia, m), false
		}
		s.counters.NoPrefixes++
		out.Options.Add(status(iana.StatusNoPrefixAvail, "this link delegates no prefixes"))
		return out, false
	}
	created := false
	if b == nil {
		if b = s.newBinding(k); b == nil {
			if m.extends() {
				return s.noBinding(out, ia, m), false
			}
			s.counters.NoPrefixes++
			out.Options.Add(status(iana.StatusNoPrefixAvail, "no room for another binding"))
			return out, false
		}
		created = true
	}
	if m.extends() && b.state != sBound {
		// RFC 8415 18.3.4: no record; the prefixes are the client's again
		// if still free.
		for _, p := range ia.pfx {
			q := s.poolOf(p)
			if q == nil || b.livePrefix(q) >= 0 {
				continue
			}
			if _, va := q.Lifetimes(now); va <= 0 || q.Reserve(b.poolKey, p) != nil {
				continue
			}
			b.pfx = append(b.pfx, leasedPrefix{prefix: p, uplink: q.Uplink, from: q.From, pool: q, st: pLive})
		}
		if len(b.pfx) == 0 {
			if created {
				s.drop(b)
			}
			return s.noBinding(out, ia, m), false
		}
	}
	// One prefix from every usable pool the IA has none from yet: a new
	// uplink, a renumbered delegation.
	for _, q := range s.cfg.Pools {
		if _, va := q.Lifetimes(now); va <= 0 || b.livePrefix(q) >= 0 {
			continue
		}
		p, err := q.Allocate(b.poolKey)
		if err != nil {
			continue
		}
		b.pfx = append(b.pfx, leasedPrefix{prefix: p, uplink: q.Uplink, from: q.From, pool: q, st: pLive})
	}

	commit := m != mAdvertise
	var prefs, valids []time.Duration
	var given []netip.Prefix
	for i := range b.pfx {
		l := &b.pfx[i]
		var pr, va time.Duration
		switch l.st {
		case pLive:
			pr, va = l.pool.Lifetimes(now)
		case pPending:
			pr, va = seconds(l.preferred, now), seconds(l.valid, now)
		default:
			continue
		}
		if va <= 0 {
			continue
		}
		if commit && l.st == pLive {
			l.preferred, l.valid = now.Add(pr), now.Add(va)
		}
		given = append(given, l.prefix)
		prefs, valids = append(prefs, pr), append(valids, va)
		out.Options.Add(&dhcpv6.OptIAPrefix{Prefix: ipnet(l.prefix), PreferredLifetime: pr, ValidLifetime: va})
	}
	if commit {
		// What went away is said once, with lifetimes 0, then forgotten.
		kept := b.pfx[:0]
		for _, l := range b.pfx {
			if l.st == pGone {
				given = append(given, l.prefix)
				out.Options.Add(&dhcpv6.OptIAPrefix{Prefix: ipnet(l.prefix)})
				continue
			}
			kept = append(kept, l)
		}
		b.pfx = kept
		if m.extends() && len(s.cfg.Pools) > 0 {
			for _, p := range ia.pfx {
				if !containsPrefix(given, p) {
					out.Options.Add(&dhcpv6.OptIAPrefix{Prefix: ipnet(p)})
				}
			}
		}
	}
	if len(valids) == 0 {
		s.counters.NoPrefixes++
		out.Options.Add(status(iana.StatusNoPrefixAvail, "no prefix available"))
		if created || b.state != sBound || commit {
			s.drop(b)
		}
		return out, false
	}
	out.T1, out.T2 = timers(prefs, valids)
	if !commit {
		if b.state == sOffered {
			b.offerEnd, b.via = now.Add(s.cfg.OfferHold), src
			s.touch(false, false)
			s.schedule(b)
		}
		return out, true
	}
	b.state, b.via = sBound, src
	s.touch(true, true)
	s.schedule(b)
	return out, true
}

func containsPrefix(list []netip.Prefix, p netip.Prefix) bool {
	for _, x := range list {
		if x == p {
			return true
		}
	}
	return false
}

// livePrefix is the index of b's live prefix from pool q, or -1.
func (b *binding) livePrefix(q *prefix.PDPool) int {
	for i := range b.pfx {
		if b.pfx[i].st == pLive && b.pfx[i].pool == q {
			return i
		}
	}
	return -1
}

// RFC 8415 18.3.7: what is listed is freed; an IA without a binding is
// answered NoBinding.
func (s *Server) release(now time.Time, r *request) *Reply {
	var opts []dhcpv6.Option
	for _, ia := range r.ias {
		b := s.byKey[bkey{string(r.clientID), ia.iaid, ia.t}]
		if b == nil || b.state != sBound {
			opts = append(opts, s.unknownIA(ia))
			continue
		}
		if ia.t == iaNA {
			kept := b.addrs[:0]
			for _, a := range b.addrs {
				if !containsAddr(ia.addrs, a.addr) {
					kept = append(kept, a)
				}
			}
			b.addrs = kept
		} else {
			kept := b.pfx[:0]
			routed := false
			for _, l := range b.pfx {
				if !containsPrefix(ia.pfx, l.prefix) {
					kept = append(kept, l)
					continue
				}
				if l.st == pLive {
					l.pool.Release(b.poolKey)
					routed = true
				}
			}
			b.pfx = kept
			s.touch(true, routed)
		}
		if len(b.addrs) == 0 && !slicesContainsCommitted(b.pfx) {
			s.drop(b)
			continue
		}
		s.touch(true, false)
		s.schedule(b)
	}
	return s.build(r, dhcpv6.MessageTypeReply, opts, status(iana.StatusSuccess, "released"), false)
}

// RFC 8415 18.3.8: another host uses the address. Its identifier is kept
// out of use for DeclineHold and the binding goes, so the client's next
// Solicit gets another one. Prefixes cannot be declined.
func (s *Server) decline(now time.Time, r *request) *Reply {
	var opts []dhcpv6.Option
	for _, ia := range r.ias {
		if ia.t != iaNA {
			continue
		}
		b := s.byKey[bkey{string(r.clientID), ia.iaid, iaNA}]
		if b == nil || b.state != sBound {
			opts = append(opts, s.unknownIA(ia))
			continue
		}
		for _, a := range ia.addrs {
			if !b.gave(a) {
				continue
			}
			s.quarantine(b.iid, now.Add(s.cfg.DeclineHold))
			if s.declLog.Allow(now, 10*time.Second) {
				s.log.Warn("address declined: another host uses it", "address", a, "until", now.Add(s.cfg.DeclineHold))
			}
			s.drop(b)
			break
		}
	}
	return s.build(r, dhcpv6.MessageTypeReply, opts, status(iana.StatusSuccess, "declined"), false)
}

// gave reports whether a is one of the addresses b was given.
func (b *binding) gave(a netip.Addr) bool {
	for _, x := range b.addrs {
		if x.addr == a {
			return true
		}
	}
	return false
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

func (s *Server) unknownIA(ia iaReq) dhcpv6.Option {
	s.counters.NoBindings++
	st := status(iana.StatusNoBinding, "no binding for this IA")
	if ia.t == iaNA {
		o := &dhcpv6.OptIANA{IaId: ia.iaid}
		o.Options.Add(st)
		return o
	}
	o := &dhcpv6.OptIAPD{IaId: ia.iaid}
	o.Options.Add(st)
	return o
}

// RFC 8415 18.3.3: are the client's addresses still on this link?
func (s *Server) confirm(now time.Time, r *request) *Reply {
	var addrs []netip.Addr
	for _, ia := range r.ias {
		if ia.t == iaNA {
			addrs = append(addrs, ia.addrs...)
		}
	}
	if len(addrs) == 0 || len(s.cfg.Prefixes) == 0 {
		// Nothing to check, or nothing to check against: no reply.
		s.counters.Ignored++
		return nil
	}
	for _, a := range addrs {
		on := false
		for _, p := range s.cfg.Prefixes {
			if _, va := p.Lifetimes(now); va > 0 && p.Prefix.Contains(a) {
				on = true
				break
			}
		}
		if !on {
			return s.build(r, dhcpv6.MessageTypeReply, nil, status(iana.StatusNotOnLink, "not on this link"), false)
		}
	}
	return s.build(r, dhcpv6.MessageTypeReply, nil, status(iana.StatusSuccess, "on link"), false)
}

// build encodes a reply to r. The option order is fixed so that the bytes
// are deterministic (golden files): identifiers, Rapid Commit, status, the
// IAs in the client's order, then DNS, domains and refresh time when
// withConfig.
func (s *Server) build(r *request, typ dhcpv6.MessageType, ias []dhcpv6.Option, st *dhcpv6.OptStatusCode, withConfig bool) *Reply {
	m := &dhcpv6.Message{MessageType: typ, TransactionID: r.xid}
	m.Options.Options = make(dhcpv6.Options, 0, 8+len(ias))
	m.Options.Add(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionServerID, OptionData: s.cfg.DUID})
	if r.clientID != nil {
		m.Options.Add(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionClientID, OptionData: r.clientID})
	}
	if r.rapid && r.typ == dhcpv6.MessageTypeSolicit && typ == dhcpv6.MessageTypeReply {
		m.Options.Add(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionRapidCommit})
	}
	if st != nil {
		m.Options.Add(st)
	}
	for _, o := range ias {
		m.Options.Add(o)
	}
	if withConfig {
		if len(s.optDNS) > 0 {
			m.Options.Add(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionDNSRecursiveNameServer, OptionData: s.optDNS})
		}
		if len(s.optDomains) > 0 {
			m.Options.Add(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionDomainSearchList, OptionData: s.optDomains})
		}
		if r.wantIRT && r.typ == dhcpv6.MessageTypeInformationRequest {
			m.Options.Add(dhcpv6.OptInformationRefreshTime(s.cfg.InfoRefresh))
		}
	}
	return &Reply{Data: m.ToBytes(), Type: typ, Interface: s.cfg.Interface}
}
