package dhcp4

import (
	"cpe/internal/ratelimit"
	"cpe/internal/timeheap"
	"encoding/binary"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// Ports of RFC 2131 4.1.
const (
	ServerPort = 67
	ClientPort = 68
)

// Counters count what the server received and sent; a dropped message is
// counted under the first reason that stopped it.
type Counters struct {
	Received uint64 // messages handed to Handle
	Sent     uint64 // replies returned

	Discovers, Requests, Declines, Releases, Informs uint64
	Offers, Acks, Naks                               uint64

	Malformed      uint64 // undecodable, not a BOOTREQUEST, no message type or identity
	WrongInterface uint64 // not from this server's LAN interface
	WrongSubnet    uint64 // relayed (giaddr) from a subnet this server does not serve
	RateLimited    uint64 // over the client's token bucket
	Exhausted      uint64 // DISCOVERs left unanswered: no free address
	OtherServer    uint64 // REQUESTs choosing another server: the offer was dropped
	Unknown        uint64 // INIT-REBOOT REQUEST from a client without a record: silence
	Ignored        uint64 // nothing to do: another type, RELEASE/DECLINE of an address not the client's
}

// Dest says how a Reply must be addressed (RFC 2131 4.1).
type Dest uint8

const (
	// DestBroadcast: to 255.255.255.255:68 and the link broadcast.
	DestBroadcast Dest = iota
	// DestClient: unicast to ciaddr:68; the client has that address and
	// answers ARP for it.
	DestClient
	// DestRelay: to the relay agent at giaddr:67.
	DestRelay
	// DestHW: to yiaddr:68 at link address HW. The client does not have
	// the address yet and cannot answer ARP; the driver may broadcast
	// instead, which RFC 2131 4.1 allows.
	DestHW
)

func (d Dest) String() string {
	if names := [...]string{"broadcast", "client", "relay", "hw"}; int(d) < len(names) {
		return names[d]
	}
	return fmt.Sprintf("Dest(%d)", d)
}

// Reply is one message to send, from the router address, port 67, out of
// Interface.
type Reply struct {
	Data      []byte
	Type      dhcpv4.MessageType
	Dest      Dest
	To        netip.AddrPort
	HW        net.HardwareAddr // DestHW only
	Interface string
	From      netip.Addr
}

// Server is the DHCPv4 server of one LAN segment. It is pure: time comes
// with every call, packets come in as bytes and go out as Replies; it opens
// no socket and writes no file. It is safe for concurrent use.
type Server struct {
	mu  sync.Mutex
	cfg Config
	net subnet
	log *slog.Logger

	statics    map[string]Static // by chaddr
	staticAddr map[uint32]string // address → chaddr

	byKey  map[string]*binding
	byAddr map[uint32]*binding
	exp    timeheap.Heap[*binding] // active bindings by expiry
	clean  *freeSet                // free pool offsets nobody's record mentions
	stale  *freeSet                // free pool offsets a past client's record mentions
	limit  *ratelimit.Limiter

	dirty     bool
	exhausted bool // logged, until an OFFER succeeds again
	counters  Counters

	// Option payloads that are the same in every reply.
	optServerID, optMask, optRouter, optBcast, optDNS []byte
	optLease, optT1, optT2, optMTU                    []byte
}

// New checks cfg and returns a server with an empty lease table. log may
// be nil; the server logs only what an administrator must see (pool
// exhausted, address declined), and only once per event.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	cfg.Static = append([]Static(nil), cfg.Static...)
	cfg.DNS = append([]netip.Addr(nil), cfg.DNS...)
	n, err := cfg.check()
	if err != nil {
		return nil, fmt.Errorf("dhcp4: %s: %w", cfg.Interface, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg: cfg, net: n,
		log:        log.With("component", "dhcp4-server", "interface", cfg.Interface),
		statics:    make(map[string]Static),
		staticAddr: make(map[uint32]string),
		byKey:      make(map[string]*binding),
		byAddr:     make(map[uint32]*binding),
		clean:      newFreeSet(int(n.poolEnd - n.poolStart + 1)),
		stale:      newFreeSet(int(n.poolEnd - n.poolStart + 1)),
		limit:      ratelimit.New(cfg.Rate, cfg.Burst),
	}
	for _, st := range cfg.Static {
		s.statics[string(st.MAC)] = st
		s.staticAddr[u32(st.Address.Unmap())] = string(st.MAC)
	}
	s.clean.fill(int(n.poolEnd - n.poolStart + 1))
	for _, a := range append(slices.Collect(maps.Keys(s.staticAddr)), n.router) {
		if n.inPool(a) {
			s.clean.remove(int(a - n.poolStart))
		}
	}
	s.optServerID = be32(n.router)
	s.optMask = be32(n.mask)
	s.optRouter = s.optServerID
	s.optBcast = be32(n.bcast)
	for _, d := range cfg.DNS {
		s.optDNS = append(s.optDNS, be32(u32(d.Unmap()))...)
	}
	lt := uint32(cfg.LeaseTime / time.Second)
	s.optLease, s.optT1, s.optT2 = be32(lt), be32(lt/2), be32(uint32(uint64(lt)*7/8))
	if cfg.MTU != 0 {
		s.optMTU = binary.BigEndian.AppendUint16(nil, uint16(cfg.MTU))
	}
	return s, nil
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

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
	m, err := dhcpv4.FromBytes(b)
	if err != nil {
		s.counters.Malformed++
		return nil, fmt.Errorf("dhcp4: %s: from %s: %w", ifname, src, err)
	}
	mt := m.MessageType()
	if m.OpCode != dhcpv4.OpcodeBootRequest || mt == dhcpv4.MessageTypeNone {
		s.counters.Malformed++
		return nil, fmt.Errorf("dhcp4: %s: from %s: not a DHCP request", ifname, src)
	}
	key := clientKey(m)
	if len(key) < 2 {
		s.counters.Malformed++
		return nil, fmt.Errorf("dhcp4: %s: from %s: no client identifier and no chaddr", ifname, src)
	}
	if !s.limit.Allow(key, now) {
		s.counters.RateLimited++
		return nil, nil
	}
	if gi := ip4(m.GatewayIPAddr); gi != 0 && !s.net.contains(gi) {
		s.counters.WrongSubnet++
		return nil, nil
	}
	s.expire(now)
	r := s.dispatch(now, m, mt, key, src)
	if r == nil {
		return nil, nil
	}
	s.counters.Sent++
	switch r.Type {
	case dhcpv4.MessageTypeOffer:
		s.counters.Offers++
	case dhcpv4.MessageTypeAck:
		s.counters.Acks++
	case dhcpv4.MessageTypeNak:
		s.counters.Naks++
	}
	return r, nil
}

func (s *Server) dispatch(now time.Time, m *dhcpv4.DHCPv4, mt dhcpv4.MessageType, key string, src netip.AddrPort) *Reply {
	switch mt {
	case dhcpv4.MessageTypeDiscover:
		s.counters.Discovers++
		return s.discover(now, m, key)
	case dhcpv4.MessageTypeRequest:
		s.counters.Requests++
		return s.request(now, m, key)
	case dhcpv4.MessageTypeDecline:
		s.counters.Declines++
		s.decline(now, m, key)
	case dhcpv4.MessageTypeRelease:
		s.counters.Releases++
		s.release(m, key)
	case dhcpv4.MessageTypeInform:
		s.counters.Informs++
		return s.inform(m, src)
	default:
		s.counters.Ignored++
	}
	return nil
}

// clientKey is option 61 when present, else the hardware type and chaddr:
// the same bytes as a type-1 client identifier (RFC 2132 9.14), so a host
// that sends one in some messages only is still one client.
func clientKey(m *dhcpv4.DHCPv4) string {
	if id := m.Options.Get(dhcpv4.OptionClientIdentifier); len(id) > 0 {
		return string(id)
	}
	if len(m.ClientHWAddr) == 0 {
		return ""
	}
	k := make([]byte, 0, 1+len(m.ClientHWAddr))
	k = append(k, byte(m.HWType))
	return string(append(k, m.ClientHWAddr...))
}

func ip4(ip net.IP) uint32 {
	if v := ip.To4(); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func optIP(m *dhcpv4.DHCPv4, code dhcpv4.OptionCode) uint32 {
	if v := m.Options.Get(code); len(v) == 4 {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

// hostname keeps a printable, bounded copy of option 12 for the lease table.
func hostname(m *dhcpv4.DHCPv4) string {
	v := m.Options.Get(dhcpv4.OptionHostName)
	if len(v) > 63 {
		v = v[:63]
	}
	for _, c := range v {
		if c < 0x21 || c > 0x7e {
			return ""
		}
	}
	return string(v)
}

// RFC 2131 4.3.1: the static address for a known host; else the client's
// current or previous address if it is still free; else the requested
// address if free; else the lowest free pool address, preferring those no
// past client may come back for.
func (s *Server) discover(now time.Time, m *dhcpv4.DHCPv4, key string) *Reply {
	hw := string(m.ClientHWAddr)
	b := s.byKey[key]
	var a uint32
	st, static := s.statics[hw]
	switch {
	case static:
		a = u32(st.Address.Unmap())
	case b != nil && s.assignable(b.addr, b, hw):
		a = b.addr
	case s.assignable(optIP(m, dhcpv4.OptionRequestedIPAddress), b, hw):
		a = optIP(m, dhcpv4.OptionRequestedIPAddress)
	default:
		off, ok := s.clean.min()
		if !ok {
			off, ok = s.stale.min()
		}
		if !ok {
			s.counters.Exhausted++
			if !s.exhausted {
				s.exhausted = true
				s.log.Warn("pool exhausted: DISCOVERs go unanswered", "pool", fmt.Sprintf("%s-%s", s.cfg.PoolStart, s.cfg.PoolEnd))
			}
			return nil
		}
		a = s.net.poolStart + uint32(off)
		s.exhausted = false
	}
	if b == nil {
		b = &binding{key: key, idx: -1}
	}
	b.hw = hw
	if h := hostname(m); h != "" {
		b.hostname = h
	}
	// A bound client that DISCOVERs (it lost its state) keeps its lease
	// running; anyone else gets a short reservation.
	if b.state != sBound || b.addr != a || s.byAddr[a] != b {
		s.hold(b, a, sOffered, now.Add(s.cfg.OfferHold))
	}
	return s.reply(m, dhcpv4.MessageTypeOffer, a, 0, true, "")
}

// RFC 2131 4.3.2.
func (s *Server) request(now time.Time, m *dhcpv4.DHCPv4, key string) *Reply {
	hw := string(m.ClientHWAddr)
	b := s.byKey[key]
	ci := ip4(m.ClientIPAddr)
	req := optIP(m, dhcpv4.OptionRequestedIPAddress)
	st, static := s.statics[hw]
	sid, hasSID := m.Options[dhcpv4.OptionServerIdentifier.Code()]
	var a uint32
	switch {
	case hasSID: // SELECTING
		if len(sid) != 4 || binary.BigEndian.Uint32(sid) != s.net.router {
			// The client took another server's offer.
			s.counters.OtherServer++
			if b != nil && b.state == sOffered {
				s.end(b, sReleased)
			}
			return nil
		}
		a = req
		if a == 0 {
			a = ci // some clients put it there instead
		}
	case ci == 0: // INIT-REBOOT
		if req == 0 {
			s.counters.Malformed++
			return nil
		}
		a = req
		if !s.net.usable(a) {
			return s.nak(m, "address not on this network")
		}
		if b == nil && !static {
			// No record: stay silent (RFC 2131 4.3.2) unless the address
			// is plainly someone else's.
			if s.assignable(a, nil, hw) {
				s.counters.Unknown++
				return nil
			}
			return s.nak(m, "address in use")
		}
		if b != nil && !static && b.addr != a {
			return s.nak(m, "not your address")
		}
	default: // RENEWING (unicast) or REBINDING (broadcast): ciaddr is the lease
		a = ci
	}
	if static && a != u32(st.Address.Unmap()) {
		return s.nak(m, "this host has a fixed address")
	}
	// A free address is granted even without a record, so that clients
	// renewing across a lost lease file keep their addresses.
	if !s.assignable(a, b, hw) {
		return s.nak(m, "address not available")
	}
	if b == nil {
		b = &binding{key: key, idx: -1}
	}
	b.hw = hw
	if h := hostname(m); h != "" {
		b.hostname = h
	}
	s.hold(b, a, sBound, now.Add(s.cfg.LeaseTime))
	s.dirty = true
	return s.reply(m, dhcpv4.MessageTypeAck, a, ci, true, "")
}

// RFC 2131 4.3.3: only the holder can decline its address, so that a
// forged DECLINE cannot take addresses out of the pool.
func (s *Server) decline(now time.Time, m *dhcpv4.DHCPv4, key string) {
	a := optIP(m, dhcpv4.OptionRequestedIPAddress)
	b := s.byKey[key]
	if b == nil || b.addr != a || !b.active() || !s.ours(m) {
		s.counters.Ignored++
		return
	}
	s.dirty = true
	if _, static := s.staticAddr[a]; static {
		// Quarantining it would leave the host without its address; the
		// conflict is for the administrator to solve.
		s.log.Warn("static address declined: another host uses it", "address", addrOf(a), "mac", net.HardwareAddr(b.hw))
		s.unbind(b, sReleased)
		return
	}
	s.log.Warn("address declined: another host uses it", "address", addrOf(a), "mac", net.HardwareAddr(b.hw), "until", now.Add(s.cfg.DeclineHold))
	s.forget(b)
	s.hold(&binding{hw: b.hw, idx: -1}, a, sDeclined, now.Add(s.cfg.DeclineHold))
}

// RFC 2131 4.3.4: the record is kept, so the client gets the address back.
func (s *Server) release(m *dhcpv4.DHCPv4, key string) {
	b := s.byKey[key]
	if b == nil || b.addr != ip4(m.ClientIPAddr) || !b.active() || !s.ours(m) {
		s.counters.Ignored++
		return
	}
	s.unbind(b, sReleased)
	s.dirty = true
}

// ours: a server identifier, when present, must be ours.
func (s *Server) ours(m *dhcpv4.DHCPv4) bool {
	sid, ok := m.Options[dhcpv4.OptionServerIdentifier.Code()]
	return !ok || (len(sid) == 4 && binary.BigEndian.Uint32(sid) == s.net.router)
}

// RFC 2131 4.3.5: parameters only, no lease, no check of the address.
func (s *Server) inform(m *dhcpv4.DHCPv4, src netip.AddrPort) *Reply {
	ci := ip4(m.ClientIPAddr)
	if ci == 0 && src.Addr().Unmap().Is4() {
		// A client that leaves ciaddr empty is answered where it sent from.
		ci = u32(src.Addr().Unmap())
	}
	return s.reply(m, dhcpv4.MessageTypeAck, 0, ci, false, "")
}

func (s *Server) nak(m *dhcpv4.DHCPv4, why string) *Reply {
	return s.reply(m, dhcpv4.MessageTypeNak, 0, 0, false, why)
}

// reply builds a reply to m. yiaddr is the address given (0 for NAK and
// INFORM), ciaddr the client's (RFC 2131 table 3), lease whether the lease
// options go in, msg the NAK's reason (option 56).
func (s *Server) reply(m *dhcpv4.DHCPv4, mt dhcpv4.MessageType, yiaddr, ciaddr uint32, lease bool, msg string) *Reply {
	o := make(dhcpv4.Options, 16)
	o[dhcpv4.OptionDHCPMessageType.Code()] = []byte{byte(mt)}
	o[dhcpv4.OptionServerIdentifier.Code()] = s.optServerID
	if id := m.Options.Get(dhcpv4.OptionClientIdentifier); len(id) > 0 {
		o[dhcpv4.OptionClientIdentifier.Code()] = id // RFC 6842
	}
	if ri := m.Options.Get(dhcpv4.OptionRelayAgentInformation); len(ri) > 0 {
		o[dhcpv4.OptionRelayAgentInformation.Code()] = ri // RFC 3046 2.2
	}
	if mt == dhcpv4.MessageTypeNak {
		o[dhcpv4.OptionMessage.Code()] = []byte(msg)
	} else {
		o[dhcpv4.OptionSubnetMask.Code()] = s.optMask
		o[dhcpv4.OptionRouter.Code()] = s.optRouter
		o[dhcpv4.OptionBroadcastAddress.Code()] = s.optBcast
		if len(s.optDNS) > 0 {
			o[dhcpv4.OptionDomainNameServer.Code()] = s.optDNS
		}
		if s.cfg.Domain != "" {
			o[dhcpv4.OptionDomainName.Code()] = []byte(s.cfg.Domain)
		}
		if s.optMTU != nil {
			o[dhcpv4.OptionInterfaceMTU.Code()] = s.optMTU
		}
		if lease {
			o[dhcpv4.OptionIPAddressLeaseTime.Code()] = s.optLease
			o[dhcpv4.OptionRenewTimeValue.Code()] = s.optT1
			o[dhcpv4.OptionRebindingTimeValue.Code()] = s.optT2
		}
		if st, ok := s.statics[string(m.ClientHWAddr)]; ok && st.Hostname != "" && yiaddr != 0 {
			o[dhcpv4.OptionHostName.Code()] = []byte(st.Hostname)
		}
	}
	giaddr := ip4(m.GatewayIPAddr)
	p := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootReply,
		HWType:        m.HWType,
		TransactionID: m.TransactionID,
		Flags:         m.Flags,
		ClientIPAddr:  ip4Bytes(ciaddr),
		YourIPAddr:    ip4Bytes(yiaddr),
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: ip4Bytes(giaddr),
		ClientHWAddr:  m.ClientHWAddr,
		Options:       o,
	}
	r := &Reply{Type: mt, Interface: s.cfg.Interface, From: addrOf(s.net.router)}
	// RFC 2131 4.1, in its order.
	switch {
	case giaddr != 0:
		r.Dest, r.To = DestRelay, netip.AddrPortFrom(addrOf(giaddr), ServerPort)
		if mt == dhcpv4.MessageTypeNak {
			p.SetBroadcast() // so that the relay broadcasts it
		}
	case mt == dhcpv4.MessageTypeNak:
		r.Dest = DestBroadcast
	case ciaddr != 0:
		r.Dest, r.To = DestClient, netip.AddrPortFrom(addrOf(ciaddr), ClientPort)
	case m.IsBroadcast():
		r.Dest = DestBroadcast
	case yiaddr != 0 && m.HWType == iana.HWTypeEthernet && len(m.ClientHWAddr) == 6:
		r.Dest, r.To = DestHW, netip.AddrPortFrom(addrOf(yiaddr), ClientPort)
		r.HW = append(net.HardwareAddr(nil), m.ClientHWAddr...)
	default:
		r.Dest = DestBroadcast
	}
	if r.Dest == DestBroadcast {
		r.To = netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), ClientPort)
	}
	r.Data = p.ToBytes()
	return r
}

func ip4Bytes(v uint32) net.IP { return net.IP(be32(v)) }
