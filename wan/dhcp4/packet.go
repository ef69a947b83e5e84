package dhcp4

import (
	"encoding/binary"
	"math/bits"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// Option codes used here, as plain bytes: the Options map of dhcpv4 is keyed
// by them and decoding is done locally with strict length checks.
const (
	optSubnetMask   = 1
	optRouter       = 3
	optDNS          = 6
	optHostname     = 12
	optDomainName   = 15
	optMTU          = 26
	optRequestedIP  = 50
	optLeaseTime    = 51
	optMessageType  = 53
	optServerID     = 54
	optParamRequest = 55
	optMessage      = 56
	optMaxSize      = 57
	optT1           = 58
	optT2           = 59
	optClientID     = 61
	optIPv6Only     = 108
	optClassless    = 121
)

const (
	// maxMessageSize is option 57: an Ethernet MTU minus IPv4 and UDP headers.
	maxMessageSize = 1500 - 20 - 8
	// minV6OnlyWait is MIN_V6ONLY_WAIT of RFC 8925 section 3.4.
	minV6OnlyWait = 300 * time.Second
	// infiniteLease is the RFC 2131 3.3 "infinity"; it is used as is (136
	// years) since time arithmetic handles it.
	infiniteLease = 0xffffffff
)

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// request describes one message the client sends.
type request struct {
	typ       dhcpv4.MessageType
	secs      uint16
	broadcast bool       // set the BROADCAST flag
	ciaddr    netip.Addr // BOUND, RENEWING, REBINDING, RELEASE
	requested netip.Addr // option 50
	server    netip.Addr // option 54
}

// encode builds the wire form of r. Field and option use follows RFC 2131
// table 5.
func (c *Client) encode(r request) []byte {
	m := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootRequest,
		HWType:        iana.HWTypeEthernet,
		TransactionID: c.xid,
		NumSeconds:    r.secs,
		ClientIPAddr:  ip4(r.ciaddr),
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: net.IPv4zero,
		ClientHWAddr:  c.cfg.HWAddr,
		Options:       dhcpv4.Options{},
	}
	if r.broadcast {
		m.SetBroadcast()
	}
	o := m.Options
	o[optMessageType] = []byte{byte(r.typ)}
	o[optClientID] = c.clientID
	if r.requested.IsValid() {
		o[optRequestedIP] = r.requested.AsSlice()
	}
	if r.server.IsValid() {
		o[optServerID] = r.server.AsSlice()
	}
	if r.typ == dhcpv4.MessageTypeDiscover || r.typ == dhcpv4.MessageTypeRequest {
		// RFC 3442: 121 MUST come before 3 in the list. RFC 8925: ask for
		// 108 only when IPv6-only operation is really possible.
		prl := []byte{optSubnetMask, optClassless, optRouter, optDNS, optDomainName,
			optMTU, optLeaseTime, optT1, optT2}
		if c.cfg.IPv6OnlyPreferred {
			prl = append(prl, optIPv6Only)
		}
		o[optParamRequest] = prl
		o[optMaxSize] = binary.BigEndian.AppendUint16(nil, maxMessageSize)
		if c.cfg.Hostname != "" {
			o[optHostname] = []byte(c.cfg.Hostname)
		}
	}
	return m.ToBytes()
}

func ip4(a netip.Addr) net.IP {
	if !a.IsValid() {
		return net.IPv4zero.To4()
	}
	return a.AsSlice()
}

// reply is an inbound message that passed the header checks.
type reply struct {
	msg *dhcpv4.DHCPv4
	typ dhcpv4.MessageType
}

// checkReply applies the checks every reply must pass before its type is
// looked at, counting the first failure.
func (c *Client) checkReply(b []byte) (reply, bool) {
	m, err := dhcpv4.FromBytes(b)
	if err != nil {
		c.counters.Malformed++
		return reply{}, false
	}
	if m.OpCode != dhcpv4.OpcodeBootReply {
		c.counters.NotReply++
		return reply{}, false
	}
	if !c.inExchange() {
		c.counters.Unexpected++
		return reply{}, false
	}
	if m.TransactionID != c.xid {
		c.counters.WrongXID++
		return reply{}, false
	}
	if string(m.ClientHWAddr) != string(c.cfg.HWAddr) {
		c.counters.WrongHWAddr++
		return reply{}, false
	}
	// RFC 6842: servers echo option 61; a different one is for another client
	// sharing our MAC (a relay or a bridge mixing up two WANs).
	if id, ok := m.Options[optClientID]; ok && string(id) != string(c.clientID) {
		c.counters.WrongClientID++
		return reply{}, false
	}
	t, ok := m.Options[optMessageType]
	if !ok || len(t) != 1 || t[0] < 1 || t[0] > 8 {
		c.counters.NoMessageType++
		return reply{}, false
	}
	return reply{msg: m, typ: dhcpv4.MessageType(t[0])}, true
}

// grant is an OFFER or ACK decoded into lease facts, times still relative.
type grant struct {
	addr    netip.Prefix
	server  netip.Addr // invalid when absent
	lease   time.Duration
	t1, t2  time.Duration
	routers []netip.Addr
	routes  []Route
	dns     []netip.Addr
	domain  string
	mtu     int
}

// decodeGrant validates an OFFER or ACK. A non-empty reason means the reply
// must be rejected; options that are merely malformed are counted and left
// out.
func (c *Client) decodeGrant(m *dhcpv4.DHCPv4) (g grant, reason string) {
	cnt := &c.counters
	o := m.Options

	yiaddr, ok := netip.AddrFromSlice(m.YourIPAddr)
	yiaddr = yiaddr.Unmap()
	if !ok || !usableUnicast(yiaddr) {
		cnt.BadAddress++
		return g, "yiaddr " + yiaddr.String() + " is not a usable unicast address"
	}

	if v, ok := o[optServerID]; ok {
		if a, ok := addr4(v); ok && usableUnicast(a) {
			g.server = a
		}
	}

	lt, ok := o[optLeaseTime]
	if !ok || len(lt) != 4 || binary.BigEndian.Uint32(lt) == 0 {
		cnt.BadLeaseTime++
		return g, "lease time missing or zero"
	}
	g.lease = time.Duration(binary.BigEndian.Uint32(lt)) * time.Second

	plen, ok := 0, false
	if v, present := o[optSubnetMask]; present {
		if plen, ok = maskLen(v); !ok {
			cnt.BadSubnetMask++
			return g, "subnet mask is not contiguous"
		}
	} else {
		plen = classfulLen(yiaddr)
	}
	g.addr = netip.PrefixFrom(yiaddr, plen)
	if plen <= 30 {
		// The subnet's own network and broadcast addresses are never a host's.
		network := g.addr.Masked().Addr()
		if yiaddr == network || yiaddr == broadcastOf(g.addr) {
			cnt.BadAddress++
			return g, "yiaddr " + yiaddr.String() + " is the network or broadcast address of its subnet"
		}
	}

	g.t1, g.t2 = c.timers(o, g.lease)

	if v, ok := o[optRouter]; ok {
		if g.routers, ok = addrList(v); !ok {
			cnt.BadOption++
		}
	}
	if v, ok := o[optDNS]; ok {
		if g.dns, ok = addrList(v); !ok {
			cnt.BadOption++
		}
	}
	if v, ok := o[optClassless]; ok {
		routes, err := parseClassless(v)
		if err {
			cnt.BadRoutes++
		} else {
			g.routes = routes
			// RFC 3442: with option 121 present the Router option MUST be ignored.
			g.routers = nil
		}
	}
	if v, ok := o[optDomainName]; ok {
		if g.domain, ok = domainName(v); !ok {
			cnt.BadOption++
		}
	}
	if v, ok := o[optMTU]; ok {
		if len(v) == 2 && binary.BigEndian.Uint16(v) >= 68 {
			g.mtu = int(binary.BigEndian.Uint16(v))
		} else {
			cnt.BadMTU++
		}
	}
	return g, ""
}

// timers returns T1 and T2 relative to the lease start: the server's options
// 58 and 59 when they keep T1 < T2 < lease (RFC 2131 4.4.5), otherwise the
// defaults 0.5 and 0.875 of the lease.
func (c *Client) timers(o dhcpv4.Options, lease time.Duration) (t1, t2 time.Duration) {
	// lease is whole seconds, so dividing by 8 is exact.
	t1, t2 = lease/2, lease/8*7
	v1, has1 := o[optT1]
	v2, has2 := o[optT2]
	if !has1 && !has2 {
		return t1, t2
	}
	var s1, s2 time.Duration
	ok1 := has1 && len(v1) == 4
	ok2 := has2 && len(v2) == 4
	if ok1 {
		s1 = time.Duration(binary.BigEndian.Uint32(v1)) * time.Second
	}
	if ok2 {
		s2 = time.Duration(binary.BigEndian.Uint32(v2)) * time.Second
	}
	switch {
	case ok1 && ok2 && 0 < s1 && s1 < s2 && s2 < lease:
		return s1, s2
	case ok1 && !has2 && 0 < s1 && s1 < t2:
		return s1, t2
	case ok2 && !has1 && t1 < s2 && s2 < lease:
		return t1, s2
	}
	c.counters.BadTimers++
	return t1, t2
}

// ipv6OnlyWait decodes option 108 (RFC 8925 3.1): four octets of seconds.
func (c *Client) ipv6OnlyWait(m *dhcpv4.DHCPv4) (time.Duration, bool) {
	v, ok := m.Options[optIPv6Only]
	if !ok {
		return 0, false
	}
	if len(v) != 4 {
		c.counters.BadOption++
		return 0, false
	}
	return time.Duration(binary.BigEndian.Uint32(v)) * time.Second, true
}

func addr4(b []byte) (netip.Addr, bool) {
	if len(b) != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(b)), true
}

// usableUnicast reports whether a can be a host's address, a router or a
// server: not 0/8, loopback, link-local (RFC 3927 forbids DHCP handing it
// out), multicast, reserved 240/4 or the limited broadcast.
func usableUnicast(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	switch {
	case b[0] == 0, b[0] == 127, b[0] >= 224:
		return false
	case b[0] == 169 && b[1] == 254:
		return false
	}
	return true
}

// addrList decodes a list of addresses (options 3 and 6), keeping only
// usable unicast ones; ok is false when the length is wrong.
func addrList(b []byte) (list []netip.Addr, ok bool) {
	if len(b) == 0 || len(b)%4 != 0 {
		return nil, false
	}
	for i := 0; i < len(b); i += 4 {
		a := netip.AddrFrom4([4]byte(b[i : i+4]))
		if usableUnicast(a) {
			list = append(list, a)
		}
	}
	return list, true
}

// maskLen returns the prefix length of a contiguous, non-zero mask.
func maskLen(b []byte) (int, bool) {
	if len(b) != 4 {
		return 0, false
	}
	m := binary.BigEndian.Uint32(b)
	ones := bits.LeadingZeros32(^m)
	if ones == 0 || m != ^uint32(0)<<(32-ones) {
		return 0, false
	}
	return ones, true
}

// classfulLen is the mask a client assumes when the server sends none, as
// old BOOTP clients did.
func classfulLen(a netip.Addr) int {
	switch b := a.As4(); {
	case b[0] < 128:
		return 8
	case b[0] < 192:
		return 16
	default:
		return 24
	}
}

func broadcastOf(p netip.Prefix) netip.Addr {
	v := binary.BigEndian.Uint32(p.Addr().AsSlice())
	v |= ^uint32(0) >> p.Bits()
	return netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, v)))
}

// parseClassless decodes option 121 (RFC 3442): width, the significant
// octets of the destination, the router. A router of 0.0.0.0 means on-link.
// Any inconsistency discards the whole option: a partial route table is
// worse than falling back to option 3.
func parseClassless(b []byte) (routes []Route, bad bool) {
	if len(b) < 5 {
		return nil, true
	}
	for len(b) > 0 {
		w := int(b[0])
		n := (w + 7) / 8
		if w > 32 || len(b) < 1+n+4 {
			return nil, true
		}
		var d [4]byte
		copy(d[:], b[1:1+n])
		gw := netip.AddrFrom4([4]byte(b[1+n : 1+n+4]))
		b = b[1+n+4:]
		r := Route{Dst: netip.PrefixFrom(netip.AddrFrom4(d), w).Masked()}
		if !gw.IsUnspecified() {
			if !usableUnicast(gw) {
				return nil, true
			}
			r.Via = gw
		}
		routes = append(routes, r)
	}
	return routes, false
}

// domainName accepts option 15 when it is a plausible DNS name: it ends up
// in LAN hosts' resolver settings, so nothing else may pass.
func domainName(b []byte) (string, bool) {
	s := strings.TrimRight(string(b), "\x00") // some servers NUL-terminate
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return "", false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return "", false
		}
		for _, r := range label {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
			if !ok {
				return "", false
			}
		}
	}
	return s, true
}
