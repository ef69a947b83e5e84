package dhcp6

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
)

// allServers is All_DHCP_Relay_Agents_and_Servers (RFC 8415 7.1).
var allServers = netip.AddrPortFrom(netip.MustParseAddr("ff02::1:2"), dhcpv6.DefaultServerPort)

// build encodes the exchange's message as it is sent at now. The option
// order is fixed so the bytes are deterministic (golden files).
func (c *Client) build(x *exchange, now time.Time) []byte {
	m := &dhcpv6.Message{MessageType: x.typ, TransactionID: x.xid}
	m.Options.Add(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionClientID, OptionData: slices.Clone(c.duid)})
	if len(x.server) > 0 {
		m.Options.Add(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionServerID, OptionData: slices.Clone(x.server)})
	}
	// RFC 8415 21.9: every client message carries Elapsed Time.
	m.Options.Add(dhcpv6.OptElapsedTime(elapsed(x, now)))
	switch x.typ {
	case dhcpv6.MessageTypeSolicit, dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRebind:
		// RFC 8415 21.24: SOL_MAX_RT MUST be in the ORO of a Solicit.
		m.Options.Add(dhcpv6.OptRequestedOption(dhcpv6.OptionDNSRecursiveNameServer,
			dhcpv6.OptionDomainSearchList, dhcpv6.OptionSolMaxRT))
	case dhcpv6.MessageTypeInformationRequest:
		// RFC 8415 21.23, 21.25: IRT and INF_MAX_RT in an Information-request's ORO.
		m.Options.Add(dhcpv6.OptRequestedOption(dhcpv6.OptionDNSRecursiveNameServer,
			dhcpv6.OptionDomainSearchList, dhcpv6.OptionInformationRefreshTime, dhcpv6.OptionInfMaxRT))
	}
	if x.typ == dhcpv6.MessageTypeSolicit && c.cfg.RapidCommit {
		m.Options.Add(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionRapidCommit})
	}
	if x.wantNA {
		// RFC 8415 21.4, 21.6: T1, T2 and lifetimes sent by a client are 0.
		ia := &dhcpv6.OptIANA{IaId: c.iaidNA}
		for _, a := range x.askNA {
			ia.Options.Add(&dhcpv6.OptIAAddress{IPv6Addr: net.IP(a.Addr.AsSlice())})
		}
		m.Options.Add(ia)
	}
	if x.wantPD {
		ia := &dhcpv6.OptIAPD{IaId: c.iaidPD}
		for _, p := range x.askPD {
			ia.Options.Add(&dhcpv6.OptIAPrefix{Prefix: &net.IPNet{
				IP: net.IP(p.Prefix.Addr().AsSlice()), Mask: net.CIDRMask(p.Prefix.Bits(), 128)}})
		}
		if len(x.askPD) == 0 && x.hint {
			// RFC 7084 WPD-2, RFC 8415 18.2.1: the hint is an IA Prefix
			// option with the prefix set to zero.
			ia.Options.Add(&dhcpv6.OptIAPrefix{Prefix: &net.IPNet{
				IP: net.IPv6zero, Mask: net.CIDRMask(c.cfg.PrefixHint, 128)}})
		}
		m.Options.Add(ia)
	}
	return m.ToBytes()
}

// inMsg is a received message, decoded and checked for shape; whether it
// answers an exchange is the caller's business.
type inMsg struct {
	typ      dhcpv6.MessageType
	xid      dhcpv6.TransactionID
	clientID []byte
	serverID []byte

	hasStatus bool
	status    iana.StatusCode
	statusMsg string

	pref     uint8
	rapid    bool
	solMaxRT uint32 // 0: absent
	infMaxRT uint32
	irt      uint32
	hasIRT   bool
	unicast  netip.Addr

	dns     []netip.Addr
	domains []string

	na []*dhcpv6.OptIANA
	pd []*dhcpv6.OptIAPD
}

var errShort = errors.New("dhcp6: message shorter than its header")

// decode parses a message. Options the client needs to trust a message
// (identifiers, IAs, status, preference) must parse; an optional one that
// does not is skipped and counted, so one bad DNS option does not cost the
// lease.
func (c *Client) decode(b []byte) (in *inMsg, err error) {
	// The parsing library is outside code fed outside bytes: PID 1 must not
	// die of a bug in it.
	defer func() {
		if r := recover(); r != nil {
			in, err = nil, fmt.Errorf("dhcp6: parser panic: %v", r)
		}
	}()
	if len(b) < dhcpv6.MessageHeaderSize {
		return nil, errShort
	}
	in = &inMsg{typ: dhcpv6.MessageType(b[0])}
	copy(in.xid[:], b[1:4])
	var opts dhcpv6.Options
	bad := 0
	parser := func(code dhcpv6.OptionCode, data []byte) (dhcpv6.Option, error) {
		o, err := dhcpv6.ParseOption(code, data)
		if err == nil {
			return o, nil
		}
		switch code {
		case dhcpv6.OptionClientID, dhcpv6.OptionServerID, dhcpv6.OptionIANA, dhcpv6.OptionIAPD,
			dhcpv6.OptionStatusCode, dhcpv6.OptionPreference:
			return nil, fmt.Errorf("dhcp6: option %d: %w", code, err)
		}
		bad++
		return &dhcpv6.OptionGeneric{OptionCode: code, OptionData: slices.Clone(data)}, nil
	}
	if err := opts.FromBytesWithParser(b[dhcpv6.MessageHeaderSize:], parser); err != nil {
		return nil, err
	}
	c.counters.BadOptions += uint64(bad)
	for _, o := range opts {
		switch o.Code() {
		case dhcpv6.OptionClientID:
			if in.clientID == nil {
				in.clientID = o.ToBytes()
			}
		case dhcpv6.OptionServerID:
			if in.serverID == nil {
				in.serverID = o.ToBytes()
			}
		case dhcpv6.OptionStatusCode:
			if s, ok := o.(*dhcpv6.OptStatusCode); ok && !in.hasStatus {
				in.hasStatus, in.status, in.statusMsg = true, s.StatusCode, s.StatusMessage
			}
		case dhcpv6.OptionPreference:
			if p := o.ToBytes(); len(p) == 1 {
				in.pref = p[0]
			}
		case dhcpv6.OptionRapidCommit:
			in.rapid = true
		case dhcpv6.OptionSolMaxRT:
			in.solMaxRT = be32(o.ToBytes())
		case dhcpv6.OptionInfMaxRT:
			in.infMaxRT = be32(o.ToBytes())
		case dhcpv6.OptionInformationRefreshTime:
			if v := o.ToBytes(); len(v) == 4 {
				in.irt, in.hasIRT = binary.BigEndian.Uint32(v), true
			}
		case dhcpv6.OptionUnicast:
			if a, ok := netip.AddrFromSlice(o.ToBytes()); ok && a.Is6() && !a.Is4In6() {
				in.unicast = a
			}
		case dhcpv6.OptionDNSRecursiveNameServer:
			v := o.ToBytes()
			for len(v) >= 16 {
				a := netip.AddrFrom16([16]byte(v[:16]))
				v = v[16:]
				if a.IsUnspecified() || a.IsMulticast() || a.Is4In6() {
					continue
				}
				in.dns = append(in.dns, a)
			}
		case dhcpv6.OptionDomainSearchList:
			// Typed only when it parsed; a generic one was counted as bad.
			if dl := (dhcpv6.MessageOptions{Options: dhcpv6.Options{o}}).DomainSearchList(); dl != nil {
				in.domains = append(in.domains, dl.Labels...)
			}
		case dhcpv6.OptionIANA:
			if ia, ok := o.(*dhcpv6.OptIANA); ok {
				in.na = append(in.na, ia)
			}
		case dhcpv6.OptionIAPD:
			if ia, ok := o.(*dhcpv6.OptIAPD); ok {
				in.pd = append(in.pd, ia)
			}
		}
	}
	return in, nil
}

// be32 reads a 4-byte option value; anything else is 0 ("absent").
func be32(v []byte) uint32 {
	if len(v) != 4 {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

// iaIn is one of our IAs as a server sent it, checked.
type iaIn struct {
	present   bool
	status    iana.StatusCode
	statusMsg string
	t1, t2    time.Duration // 0: client's choice
	addrs     []Address
	prefixes  []Prefix
	withdrawn []netip.Prefix // leases the server gave lifetime 0 (addresses as /128)
}

// usable reports whether the IA brings at least one lease.
func (ia iaIn) usable() bool {
	return ia.present && ia.status == iana.StatusSuccess && (len(ia.addrs) > 0 || len(ia.prefixes) > 0)
}

// leasesIn picks our IA of each kind out of a message received at now and
// checks its contents, counting what it drops.
func (c *Client) leasesIn(in *inMsg, now time.Time) (na, pd iaIn) {
	for _, ia := range in.na {
		if ia.IaId != c.iaidNA {
			c.counters.WrongIAID++
			continue
		}
		if na.present {
			continue // RFC 8415 21.4: one IA_NA per IAID; the first counts
		}
		na = c.iaTimers(ia.T1, ia.T2)
		na.present = true
		na.status, na.statusMsg = iaStatus(ia.Options.Options)
		for _, o := range ia.Options.Options {
			a, ok := o.(*dhcpv6.OptIAAddress)
			if !ok {
				continue
			}
			addr, ok := netip.AddrFromSlice(a.IPv6Addr)
			if !ok || !addr.Is6() || addr.Is4In6() || !addr.IsGlobalUnicast() || addr.IsLinkLocalUnicast() {
				c.counters.BadLeases++
				continue
			}
			if a.ValidLifetime == 0 {
				na.withdrawn = append(na.withdrawn, netip.PrefixFrom(addr, 128))
				continue
			}
			if a.PreferredLifetime > a.ValidLifetime {
				c.counters.BadLifetimes++ // RFC 8415 21.6: discard
				continue
			}
			na.addrs = append(na.addrs, Address{Addr: addr,
				Preferred: now.Add(a.PreferredLifetime), Valid: now.Add(a.ValidLifetime)})
		}
	}
	for _, ia := range in.pd {
		if ia.IaId != c.iaidPD {
			c.counters.WrongIAID++
			continue
		}
		if pd.present {
			continue
		}
		pd = c.iaTimers(ia.T1, ia.T2)
		pd.present = true
		pd.status, pd.statusMsg = iaStatus(ia.Options.Options)
		for _, o := range ia.Options.Options {
			p, ok := o.(*dhcpv6.OptIAPrefix)
			if !ok {
				continue
			}
			pfx, ok := ipnetPrefix(p.Prefix)
			if !ok {
				c.counters.BadLeases++
				continue
			}
			if p.ValidLifetime == 0 {
				pd.withdrawn = append(pd.withdrawn, pfx)
				continue
			}
			if p.PreferredLifetime > p.ValidLifetime {
				c.counters.BadLifetimes++ // RFC 8415 21.22: discard
				continue
			}
			long := pfx.Bits() > 64
			if long {
				c.counters.LongPrefixes++
			}
			pd.prefixes = append(pd.prefixes, Prefix{Prefix: pfx,
				Preferred: now.Add(p.PreferredLifetime), Valid: now.Add(p.ValidLifetime), TooLong: long})
		}
	}
	return na, pd
}

// iaTimers checks an IA's T1 and T2. RFC 8415 21.4 / 21.21 say to discard an
// IA with T1 > T2 (both non-zero); we keep its leases and pick our own
// timers instead, because dropping a delegated prefix over a server's timer
// bug hurts the whole household more than renewing on our own schedule.
func (c *Client) iaTimers(t1, t2 time.Duration) iaIn {
	if t1 > 0 && t2 > 0 && t1 > t2 {
		c.counters.BadTimers++
		return iaIn{}
	}
	return iaIn{t1: t1, t2: t2}
}

// iaStatus returns the Status Code inside an IA (Success when absent).
func iaStatus(opts dhcpv6.Options) (iana.StatusCode, string) {
	for _, o := range opts {
		if s, ok := o.(*dhcpv6.OptStatusCode); ok {
			return s.StatusCode, s.StatusMessage
		}
	}
	return iana.StatusSuccess, ""
}

// ipnetPrefix converts a delegated prefix, refusing what cannot be one.
func ipnetPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil || n.Mask == nil {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok || bits != 128 || ones == 0 || !a.Is6() || a.Is4In6() {
		return netip.Prefix{}, false
	}
	p := netip.PrefixFrom(a, ones).Masked()
	if a = p.Addr(); a.IsMulticast() || a.IsLinkLocalUnicast() || a.IsLoopback() || a.IsUnspecified() {
		return netip.Prefix{}, false
	}
	return p, true
}
