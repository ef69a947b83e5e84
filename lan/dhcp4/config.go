package dhcp4

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"cpe/cpe/config"
)

// Defaults for the Config fields left zero.
const (
	DefaultLeaseTime   = 12 * time.Hour
	DefaultOfferHold   = 30 * time.Second
	DefaultDeclineHold = time.Hour
	DefaultRate        = 10 // messages per second per client
	DefaultBurst       = 20
)

// Config is one LAN segment's DHCPv4 service. A Server serves exactly one
// segment: the packets it is handed from any other interface are dropped.
type Config struct {
	// Interface is the LAN interface (the bridge, for a bridged LAN).
	Interface string
	// Address is the router's address on the segment with the subnet's
	// prefix length, any length from /1 to /30. It is also the server
	// identifier, the router option and the source of every reply.
	Address netip.Prefix
	// PoolStart and PoolEnd bound the dynamic pool, both inclusive and
	// inside the subnet. The router address and static addresses inside it
	// are skipped.
	PoolStart, PoolEnd netip.Addr
	// Static are fixed bindings by Ethernet address; their addresses may be
	// inside or outside the pool, and are never given to another host.
	Static []Static
	// LeaseTime is 12 h when zero. T1 and T2 are 1/2 and 7/8 of it.
	LeaseTime time.Duration
	// DNS are the name servers handed out (option 6): the uplinks' passed
	// through, or configured ones. None sends no option 6.
	DNS []netip.Addr
	// Domain is option 15 when not empty.
	Domain string
	// MTU is option 26 when not zero (68..65535).
	MTU int
	// OfferHold is how long an OFFERed address stays reserved for its
	// client (30 s when zero).
	OfferHold time.Duration
	// DeclineHold is how long an address a client DECLINEd is kept out of
	// use (1 h when zero): another host answers ARP for it.
	DeclineHold time.Duration
	// Rate and Burst make the per-client token bucket: Rate messages a
	// second, Burst at once (10 and 20 when zero). Excess is dropped.
	Rate  float64
	Burst int
}

// Static is a fixed binding.
type Static struct {
	MAC      net.HardwareAddr
	Address  netip.Addr
	Hostname string // sent as option 12 when not empty
}

// FromConfig builds the Config of lan, ok false when the LAN has no DHCPv4
// server. uplinkDNS are the DNS servers learned on the uplinks, used when
// the LAN configures none.
func FromConfig(lan config.LAN, uplinkDNS []netip.Addr) (Config, bool) {
	if lan.IPv4 == nil || lan.IPv4.DHCP4 == nil {
		return Config{}, false
	}
	d := lan.IPv4.DHCP4
	c := Config{
		Interface: lan.Interface,
		Address:   lan.IPv4.Address,
		PoolStart: d.PoolStart,
		PoolEnd:   d.PoolEnd,
		LeaseTime: d.LeaseTime.D(),
		DNS:       d.DNS,
	}
	if len(c.DNS) == 0 {
		for _, a := range uplinkDNS {
			if a.Unmap().Is4() {
				c.DNS = append(c.DNS, a.Unmap())
			}
		}
	}
	for _, s := range d.StaticLeases {
		c.Static = append(c.Static, Static{MAC: net.HardwareAddr(s.MAC), Address: s.Address, Hostname: s.Hostname})
	}
	return c, true
}

// subnet is the validated arithmetic of a Config, addresses as uint32.
type subnet struct {
	router, mask, network, bcast uint32
	poolStart, poolEnd           uint32
}

func (n *subnet) contains(a uint32) bool { return a&n.mask == n.network }

// usable is a host address of the subnet other than the router's.
func (n *subnet) usable(a uint32) bool {
	return n.contains(a) && a != n.network && a != n.bcast && a != n.router
}

func (n *subnet) inPool(a uint32) bool { return a >= n.poolStart && a <= n.poolEnd }

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func addrOf(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// check validates c, fills in the defaults and returns the subnet. Every
// problem is reported, joined.
func (c *Config) check() (subnet, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Interface == "" {
		bad("no interface")
	}
	var n subnet
	a := c.Address.Addr().Unmap()
	if !c.Address.IsValid() || !a.Is4() || c.Address.Bits() < 1 || c.Address.Bits() > 30 {
		bad("address %s: need an IPv4 address with a prefix length from /1 to /30", c.Address)
		return n, errors.Join(errs...)
	}
	n.router = u32(a)
	n.mask = ^uint32(0) << (32 - c.Address.Bits())
	n.network = n.router & n.mask
	n.bcast = n.network | ^n.mask
	if n.router == n.network || n.router == n.bcast || n.network == 0 {
		bad("address %s: not a host address", c.Address)
	}
	host := func(what string, x netip.Addr) uint32 {
		x = x.Unmap()
		if !x.Is4() {
			bad("%s %s: not an IPv4 address", what, x)
			return 0
		}
		v := u32(x)
		if !n.contains(v) || v == n.network || v == n.bcast {
			bad("%s %s: not a host address of %s", what, x, c.Address.Masked())
		}
		return v
	}
	n.poolStart = host("pool start", c.PoolStart)
	n.poolEnd = host("pool end", c.PoolEnd)
	if n.poolStart > n.poolEnd {
		bad("pool %s-%s: start after end", c.PoolStart, c.PoolEnd)
	}
	macs := map[string]bool{}
	addrs := map[uint32]bool{}
	for i, s := range c.Static {
		if len(s.MAC) != 6 {
			bad("static lease %d: MAC %s is not an Ethernet address", i, s.MAC)
		}
		v := host(fmt.Sprintf("static lease %d: address", i), s.Address)
		if v == n.router {
			bad("static lease %d: %s is the router address", i, s.Address)
		}
		if macs[string(s.MAC)] {
			bad("static lease %d: MAC %s listed twice", i, s.MAC)
		}
		if addrs[v] {
			bad("static lease %d: address %s listed twice", i, s.Address)
		}
		if len(s.Hostname) > 255 {
			bad("static lease %d: host name longer than 255 bytes", i)
		}
		macs[string(s.MAC)], addrs[v] = true, true
	}
	for _, d := range c.DNS {
		if !d.Unmap().Is4() {
			bad("DNS server %s: not an IPv4 address", d)
		}
	}
	if len(c.Domain) > 255 {
		bad("domain longer than 255 bytes")
	}
	if c.MTU != 0 && (c.MTU < 68 || c.MTU > 65535) {
		bad("MTU %d: outside 68..65535", c.MTU)
	}
	if c.LeaseTime == 0 {
		c.LeaseTime = DefaultLeaseTime
	}
	if c.LeaseTime < time.Second || c.LeaseTime > 0xfffffffe*time.Second {
		bad("lease time %s: outside 1s..136y", c.LeaseTime)
	}
	if c.OfferHold <= 0 {
		c.OfferHold = DefaultOfferHold
	}
	if c.DeclineHold <= 0 {
		c.DeclineHold = DefaultDeclineHold
	}
	if c.Rate <= 0 {
		c.Rate = DefaultRate
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	return n, errors.Join(errs...)
}
