package dhcp6

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"cpe/lan/prefix"
)

// Defaults for the Config fields left zero.
const (
	DefaultOfferHold   = time.Minute
	DefaultDeclineHold = time.Hour
	// DefaultInfoRefresh is sent as Information Refresh Time when a client
	// asks for it: the uplinks' DNS servers can change with the uplink, so
	// a day (RFC 8415's default) is too long.
	DefaultInfoRefresh = time.Hour
	DefaultRate        = 10 // messages per second per client
	DefaultBurst       = 20
	// MaxIAs bounds the IAs of each type one DUID may hold, so that one
	// client cannot drain a pool by inventing IAIDs; MaxBindings bounds the
	// bindings (offers included) of one server, so that forged DUIDs cannot
	// exhaust the memory of the box.
	MaxIAs      = 8
	MaxBindings = 1 << 14
	maxDeclined = 1024
)

// Config is one LAN segment's DHCPv6 service. A Server serves exactly one
// segment: packets from any other interface are dropped.
type Config struct {
	// Interface is the LAN interface (the bridge, for a bridged LAN).
	Interface string
	// Segment names the segment; it prefixes the client keys in the PD
	// pools, which all segments share.
	Segment string
	// DUID is the server identifier (RFC 8415 11), the same on every
	// segment and kept for ever.
	DUID []byte
	// Stateless answers Information-request; IANA hands out addresses, PD
	// delegates prefixes.
	Stateless bool
	IANA      bool
	PD        bool
	// DNS and Domains are options 23 and 24: the uplinks' passed through.
	// Domains that do not fit the DNS wire format are left out: they come
	// from outside.
	DNS     []netip.Addr
	Domains []string
	// Prefixes are the segment's /64s from the LAN prefix plan
	// (prefix.SegmentPlan.Prefixes): IA_NA addresses come from them and
	// Confirm is checked against them.
	Prefixes []prefix.Assigned
	// Pools are the plan's PD pools (prefix.Plan.Pools).
	Pools []*prefix.PDPool
	// OfferHold is how long an Advertised address or prefix stays reserved
	// (60 s when zero); DeclineHold how long a declined address is kept
	// out of use (1 h when zero); InfoRefresh the Information Refresh Time
	// (1 h when zero).
	OfferHold, DeclineHold, InfoRefresh time.Duration
	// Rate and Burst make the per-client token bucket (10/s and 20 when
	// zero). Excess is dropped.
	Rate  float64
	Burst int
}

// Enabled reports whether the segment runs a server at all.
func (c Config) Enabled() bool { return c.Stateless || c.IANA || c.PD }

// clone copies the slices the caller may reuse.
func (c Config) clone() Config {
	c.DUID = slices.Clone(c.DUID)
	c.DNS = slices.Clone(c.DNS)
	c.Domains = slices.Clone(c.Domains)
	c.Prefixes = slices.Clone(c.Prefixes)
	c.Pools = slices.Clone(c.Pools)
	return c
}

// validDUID checks the shape RFC 8415 11.1 gives a DUID: a 2-byte type and
// 1 to 128 bytes of identifier.
func validDUID(d []byte) bool {
	return len(d) >= 3 && len(d) <= 130 && (d[0] != 0 || d[1] != 0)
}

// check validates c and fills in the defaults. Every problem is reported,
// joined.
func (c *Config) check() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Interface == "" {
		bad("no interface")
	}
	if c.Segment == "" || strings.Contains(c.Segment, "/") {
		bad("segment %q: need a name without '/'", c.Segment)
	}
	if !validDUID(c.DUID) {
		bad("server DUID %x: not a DUID", c.DUID)
	}
	for _, d := range c.DNS {
		if !d.Is6() || d.Is4In6() || d.IsUnspecified() || d.IsMulticast() {
			bad("DNS server %s: not an IPv6 unicast address", d)
		}
	}
	for _, a := range c.Prefixes {
		if !a.Prefix.Addr().Is6() || a.Prefix.Bits() != 64 {
			bad("segment prefix %s: not an IPv6 /64", a.Prefix)
		}
	}
	for i, p := range c.Pools {
		if p == nil {
			bad("pool %d: nil", i)
		}
	}
	if c.OfferHold <= 0 {
		c.OfferHold = DefaultOfferHold
	}
	if c.DeclineHold <= 0 {
		c.DeclineHold = DefaultDeclineHold
	}
	if c.InfoRefresh <= 0 {
		c.InfoRefresh = DefaultInfoRefresh
	}
	if c.Rate <= 0 {
		c.Rate = DefaultRate
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	return errors.Join(errs...)
}

// encodeDomain appends d in the DNS wire format (RFC 1035 3.1), as option
// 24 carries it (RFC 3646).
func encodeDomain(b []byte, d string) ([]byte, error) {
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > 253 {
		return b, errors.New("empty or longer than 253 bytes")
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return b, errors.New("empty label or one longer than 63 bytes")
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0), nil
}
