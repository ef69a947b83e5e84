package dhcp6

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"

	"cpe/lan/prefix"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	serverDUID = []byte{0, 1, 0, 1, 0x30, 0x39, 0x8f, 0x00, 0x02, 0, 0, 0, 0, 1} // DUID-LLT
	otherDUID  = []byte{0, 3, 0, 1, 0x02, 0, 0, 0, 0, 0xee}
	dns1       = netip.MustParseAddr("2001:db8:a0::53")
	src        = netip.MustParseAddrPort("[fe80::1234]:546")
	src2       = netip.MustParseAddrPort("[fe80::5678]:546")
	deleg1     = netip.MustParsePrefix("2001:db8:1::/56")
	deleg2     = netip.MustParsePrefix("2001:db8:2::/56")
	ula        = netip.MustParsePrefix("fd00:1:2::/48")
)

// planner is the LAN prefix engine the server gets its /64s and pools from,
// as the LAN service runs it.
type planner struct {
	a    *prefix.Allocator
	in   prefix.Input
	plan prefix.Plan
}

func newPlanner(t testing.TB, dels ...prefix.Delegation) *planner {
	t.Helper()
	return newPlannerAt(t, t0, dels...)
}

func newPlannerAt(t testing.TB, now time.Time, dels ...prefix.Delegation) *planner {
	t.Helper()
	p := &planner{a: prefix.New(prefix.State{ULA: ula}), in: prefix.Input{
		Segments: []prefix.Segment{{Name: "lan0"}}, Delegations: dels, ULA: ula, PDLength: 62, Now: now,
	}}
	p.replan(now)
	return p
}

func delegation(uplink string, p netip.Prefix, valid time.Duration) prefix.Delegation {
	return prefix.Delegation{Uplink: uplink, Prefix: p, Preferred: t0.Add(valid / 2), Valid: t0.Add(valid), Up: true}
}

func (p *planner) replan(now time.Time) prefix.Plan {
	p.in.Now = now
	p.plan = p.a.Plan(p.in)
	return p.plan
}

// config is the server config of segment lan0 in the current plan.
func (p *planner) config() Config {
	c := Config{Interface: "lan0", Segment: "lan0", DUID: serverDUID, Stateless: true, IANA: true, PD: true,
		DNS: []netip.Addr{dns1}, Domains: []string{"home.arpa"}, Pools: p.plan.Pools}
	if sp, ok := p.plan.Segment("lan0"); ok {
		c.Prefixes = sp.Prefixes
	}
	return c
}

func newServer(t testing.TB, c Config) *Server {
	t.Helper()
	s, err := New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// std is a server on lan0 with one /56 delegated (valid 2 h) and the ULA.
func std(t testing.TB) (*Server, *planner) {
	t.Helper()
	p := newPlanner(t, delegation("wan0", deleg1, 2*time.Hour))
	return newServer(t, p.config()), p
}

func clientDUID(i int) []byte {
	return []byte{0, 3, 0, 1, 0x02, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}

func na(iaid uint32, addrs ...netip.Addr) dhcpv6.Option {
	o := &dhcpv6.OptIANA{}
	binary.BigEndian.PutUint32(o.IaId[:], iaid)
	for _, a := range addrs {
		o.Options.Add(&dhcpv6.OptIAAddress{IPv6Addr: net.IP(a.AsSlice())})
	}
	return o
}

func pd(iaid uint32, pfx ...netip.Prefix) dhcpv6.Option {
	o := &dhcpv6.OptIAPD{}
	binary.BigEndian.PutUint32(o.IaId[:], iaid)
	for _, p := range pfx {
		o.Options.Add(&dhcpv6.OptIAPrefix{Prefix: &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), 128)}})
	}
	return o
}

func sid(d []byte) dhcpv6.Option {
	return &dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionServerID, OptionData: d}
}

var (
	ours   = sid(serverDUID)
	rapid  = &dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionRapidCommit}
	oroIRT = dhcpv6.OptRequestedOption(dhcpv6.OptionDNSRecursiveNameServer, dhcpv6.OptionInformationRefreshTime)
)

// msg builds a client message with a fixed transaction id; duid nil sends
// no Client Identifier.
func msg(typ dhcpv6.MessageType, duid []byte, opts ...dhcpv6.Option) []byte {
	m := &dhcpv6.Message{MessageType: typ, TransactionID: dhcpv6.TransactionID{0xab, 0xcd, 0xef}}
	if duid != nil {
		m.Options.Add(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionClientID, OptionData: duid})
	}
	m.Options.Add(dhcpv6.OptElapsedTime(0))
	for _, o := range opts {
		m.Options.Add(o)
	}
	return m.ToBytes()
}

// do hands b to s on lan0 from src and decodes the reply (nil when silent).
func do(t testing.TB, s *Server, now time.Time, b []byte) (*Reply, *dhcpv6.Message) {
	t.Helper()
	return doFrom(t, s, now, b, src)
}

func doFrom(t testing.TB, s *Server, now time.Time, b []byte, from netip.AddrPort) (*Reply, *dhcpv6.Message) {
	t.Helper()
	r, err := s.Handle(now, b, "lan0", from)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if _, bench := t.(*testing.B); !bench {
		checkInvariants(t, s, now)
	}
	if r == nil {
		return nil, nil
	}
	m, err := parseReply(r.Data)
	if err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	return r, m
}

// parseReply decodes a message as a client would, keeping the identifiers
// as bytes: DUIDs are opaque (RFC 8415 11), the library's parser is not
// that lenient.
func parseReply(b []byte) (*dhcpv6.Message, error) {
	if len(b) < 4 {
		return nil, errShort
	}
	m := &dhcpv6.Message{MessageType: dhcpv6.MessageType(b[0])}
	copy(m.TransactionID[:], b[1:4])
	err := m.Options.FromBytesWithParser(b[4:], func(code dhcpv6.OptionCode, data []byte) (dhcpv6.Option, error) {
		if code == dhcpv6.OptionClientID || code == dhcpv6.OptionServerID {
			return &dhcpv6.OptionGeneric{OptionCode: code, OptionData: slices.Clone(data)}, nil
		}
		return dhcpv6.ParseOption(code, data)
	})
	return m, err
}

// bind runs Solicit and Request for client i with the given IAs and
// returns the Reply.
func bind(t testing.TB, s *Server, now time.Time, i int, ias ...dhcpv6.Option) *dhcpv6.Message {
	t.Helper()
	_, adv := do(t, s, now, msg(dhcpv6.MessageTypeSolicit, clientDUID(i), ias...))
	if adv == nil || adv.MessageType != dhcpv6.MessageTypeAdvertise {
		t.Fatalf("client %d: no Advertise: %v", i, adv)
	}
	_, rep := do(t, s, now, msg(dhcpv6.MessageTypeRequest, clientDUID(i), append([]dhcpv6.Option{ours}, ias...)...))
	if rep == nil || rep.MessageType != dhcpv6.MessageTypeReply {
		t.Fatalf("client %d: no Reply: %v", i, rep)
	}
	return rep
}

// lease is what one IA of a reply holds.
type lease struct {
	status    iana.StatusCode
	hasStatus bool
	t1, t2    time.Duration
	addrs     []netip.Addr
	prefixes  []netip.Prefix
	pref, val []time.Duration
}

func iaOf(t testing.TB, m *dhcpv6.Message, typ iaType, iaid uint32) lease {
	t.Helper()
	var id [4]byte
	binary.BigEndian.PutUint32(id[:], iaid)
	var l lease
	found := false
	if typ == iaNA {
		for _, ia := range m.Options.IANA() {
			if ia.IaId != id {
				continue
			}
			found = true
			l.t1, l.t2 = ia.T1, ia.T2
			if st := ia.Options.Status(); st != nil {
				l.status, l.hasStatus = st.StatusCode, true
			}
			for _, a := range ia.Options.Addresses() {
				v, _ := netip.AddrFromSlice(a.IPv6Addr)
				l.addrs = append(l.addrs, v)
				l.pref, l.val = append(l.pref, a.PreferredLifetime), append(l.val, a.ValidLifetime)
			}
		}
	} else {
		for _, ia := range m.Options.IAPD() {
			if ia.IaId != id {
				continue
			}
			found = true
			l.t1, l.t2 = ia.T1, ia.T2
			if st := ia.Options.Status(); st != nil {
				l.status, l.hasStatus = st.StatusCode, true
			}
			for _, p := range ia.Options.Prefixes() {
				a, _ := netip.AddrFromSlice(p.Prefix.IP)
				bits, _ := p.Prefix.Mask.Size()
				l.prefixes = append(l.prefixes, netip.PrefixFrom(a, bits))
				l.pref, l.val = append(l.pref, p.PreferredLifetime), append(l.val, p.ValidLifetime)
			}
		}
	}
	if !found {
		t.Fatalf("no %s %d in %s", typ, iaid, m.Summary())
	}
	return l
}

func topStatus(m *dhcpv6.Message) (iana.StatusCode, bool) {
	if st, ok := m.Options.GetOne(dhcpv6.OptionStatusCode).(*dhcpv6.OptStatusCode); ok {
		return st.StatusCode, true
	}
	return 0, false
}

// checkInvariants compares the maps, the heap and the pools with each
// other, and checks that no two routed prefixes overlap each other or a
// /64 of the segment.
func checkInvariants(t testing.TB, s *Server, now time.Time) {
	t.Helper()
	s.mu.Lock()
	err := s.consistent(now)
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
}

func (s *Server) consistent(now time.Time) error {
	count := map[duidType]int{}
	inHeap := 0
	for k, b := range s.byKey {
		if b.key != k {
			return fmt.Errorf("binding %+v under key %+v", b.key, k)
		}
		count[duidType{k.duid, k.t}]++
		if k.t == iaNA && s.iids[b.iid] != b {
			return fmt.Errorf("IA_NA %x/%x: identifier %x not held", k.duid, k.iaid, b.iid)
		}
		if (b.idx >= 0) != !b.next.IsZero() || (b.idx >= 0 && s.exp[b.idx] != b) {
			return fmt.Errorf("binding %x/%x: heap index %d, next %v", k.duid, k.iaid, b.idx, b.next)
		}
		if b.idx >= 0 {
			inHeap++
		}
		if !b.next.Equal(b.nextEvent()) {
			return fmt.Errorf("binding %x/%x: next %v, want %v", k.duid, k.iaid, b.next, b.nextEvent())
		}
		for _, l := range b.pfx {
			if l.st != pLive {
				continue
			}
			if !slices.Contains(s.cfg.Pools, l.pool) {
				return fmt.Errorf("binding %x/%x: live prefix %s from a pool not in the plan", k.duid, k.iaid, l.prefix)
			}
			if p, ok := l.pool.Lookup(b.poolKey); !ok || p != l.prefix {
				return fmt.Errorf("binding %x/%x: pool has %s for it, binding %s", k.duid, k.iaid, p, l.prefix)
			}
		}
	}
	for id, b := range s.iids {
		if s.byKey[b.key] != b || b.iid != id {
			return fmt.Errorf("identifier %x held by a forgotten binding", id)
		}
	}
	if len(count) != len(s.perDUID) {
		return fmt.Errorf("perDUID has %d entries, want %d", len(s.perDUID), len(count))
	}
	for k, n := range count {
		if s.perDUID[k] != n || n > MaxIAs {
			return fmt.Errorf("perDUID %x %s = %d, want %d", k.duid, k.t, s.perDUID[k], n)
		}
	}
	if inHeap != len(s.exp) {
		return fmt.Errorf("%d bindings in the heap, %d entries", inHeap, len(s.exp))
	}
	for i, b := range s.exp {
		if b.idx != i || (i > 0 && b.next.Before(s.exp[(i-1)/2].next)) {
			return fmt.Errorf("heap broken at %d", i)
		}
	}
	var routed []netip.Prefix
	for _, b := range s.byKey {
		for i := range b.pfx {
			if b.routed(&b.pfx[i], now) {
				routed = append(routed, b.pfx[i].prefix)
			}
		}
	}
	for i, p := range routed {
		for _, q := range routed[i+1:] {
			if p.Overlaps(q) {
				return fmt.Errorf("routed prefixes %s and %s overlap", p, q)
			}
		}
		for _, a := range s.cfg.Prefixes {
			if p.Overlaps(a.Prefix) {
				return fmt.Errorf("routed prefix %s overlaps the segment's %s", p, a.Prefix)
			}
		}
	}
	return nil
}
