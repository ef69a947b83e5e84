package ra

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mdlayher/ndp"
)

// Protocol constants of RFC 4861 10 (router side) and RFC 9096 3.
const (
	MaxInitialRtrAdvertInterval = 16 * time.Second
	MaxInitialRtrAdvertisements = 3
	MinDelayBetweenRAs          = 3 * time.Second
	MaxRADelayTime              = 500 * time.Millisecond

	DefaultMaxInterval = 600 * time.Second
	// MaxRouterLifetime is the largest AdvDefaultLifetime (RFC 4861 6.2.1).
	MaxRouterLifetime = 9000 * time.Second
	// NDPreferredLimit and NDValidLimit cap what a CE router advertises for
	// a LAN prefix (RFC 9096 L-13/L-14), whatever the delegation says.
	NDPreferredLimit = 2700 * time.Second
	NDValidLimit     = 5400 * time.Second

	// maxMessage is the largest RA that still fits an IPv6 minimum-MTU
	// packet (1280 minus the 40-byte IPv6 header), so no RA is fragmented.
	maxMessage = 1280 - 40
	// defaultHopLimit is AdvCurHopLimit (RFC 4861 6.2.1 points at the
	// IANA default, 64).
	defaultHopLimit = 64
	minMTU          = 1280
)

// Config is everything one LAN segment's RAs say. The plan builds it from
// the config and the facts; lifetimes are absolute times so that every RA
// advertises what is left of them at the moment it is sent.
type Config struct {
	// MaxInterval is MaxRtrAdvInterval, 4 s..1800 s; 0 means 600 s.
	MaxInterval time.Duration
	// MinInterval is MinRtrAdvInterval, 3 s..0.75×MaxInterval; 0 means
	// 0.33×MaxInterval, or MaxInterval below 9 s (RFC 4861 6.2.1).
	MinInterval time.Duration

	// DefaultRouter says that some uplink has an IPv6 default route. Without
	// one the Router Lifetime is 0 (RFC 7084 G-4), prefixes and DNS stay.
	DefaultRouter bool
	// RouterLifetime applies while DefaultRouter: MaxInterval..9000 s;
	// 0 means 3×MaxInterval, at most 9000 s.
	RouterLifetime time.Duration
	// Preference is the Default Router Preference (RFC 4191 2.2); the
	// reserved value 2 is refused.
	Preference ndp.Preference
	// Managed and Other are the M and O flags (DHCPv6 addresses, DHCPv6
	// for other configuration).
	Managed, Other bool
	// HopLimit is the Cur Hop Limit hosts should use; 0 means 64.
	HopLimit uint8
	// MTU is the MTU option's value, 1280 or more; 0 sends no MTU option.
	MTU uint32
	// SourceLL is the segment's MAC for the Source Link-Layer Address
	// option; nil leaves the option out.
	SourceLL net.HardwareAddr

	// Prefixes are the segment's prefixes (PIOs).
	Prefixes []Prefix
	// Stale are prefixes the segment had and lost (RFC 9096): advertised
	// with L and A set and both lifetimes 0 until the caller drops them.
	Stale []netip.Prefix
	// Routes are Route Information options (RFC 4191) for prefixes
	// reachable through this router beyond the segment's own.
	Routes []Route

	// DNSServers and SearchDomains are passed through from the uplinks
	// (RFC 8106); the box runs no resolver, so these are never its own
	// addresses. Link-local servers are refused: an uplink's link-local
	// server is not reachable from the LAN.
	DNSServers    []netip.Addr
	SearchDomains []string
	// DNSLifetime is the RDNSS and DNSSL lifetime: at least MaxInterval;
	// 0 means 3×MaxInterval (RFC 8106 5.1).
	DNSLifetime time.Duration
}

// Prefix is one PIO's prefix, flags and end times.
type Prefix struct {
	Prefix     netip.Prefix
	OnLink     bool // L
	Autonomous bool // A: hosts form SLAAC addresses from it
	// Preferred and Valid are when the lifetimes end. A time in the past
	// advertises 0; the RA carries the remaining seconds, capped by RFC
	// 9096 and with preferred never above valid.
	Preferred, Valid time.Time
}

// Route is one Route Information option.
type Route struct {
	Prefix     netip.Prefix
	Preference ndp.Preference
	// Until is when the route ends; zero means it lasts as long as the
	// router advertises it (3×MaxInterval per RA).
	Until time.Time
}

// Clone returns a deep copy, so the caller may reuse its slices.
func (c Config) Clone() Config {
	c.SourceLL = slices.Clone(c.SourceLL)
	c.Prefixes = slices.Clone(c.Prefixes)
	c.Stale = slices.Clone(c.Stale)
	c.Routes = slices.Clone(c.Routes)
	c.DNSServers = slices.Clone(c.DNSServers)
	c.SearchDomains = slices.Clone(c.SearchDomains)
	return c
}

// normalize validates c and fills in the defaults; every problem is
// reported, joined.
func (c Config) normalize() (Config, error) {
	c = c.Clone()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.MaxInterval == 0 {
		c.MaxInterval = DefaultMaxInterval
	}
	if c.MaxInterval < 4*time.Second || c.MaxInterval > 1800*time.Second {
		bad("max interval %v: must be 4s..30m0s", c.MaxInterval)
	}
	if c.MinInterval == 0 {
		c.MinInterval = c.MaxInterval
		if c.MaxInterval >= 9*time.Second {
			c.MinInterval = c.MaxInterval * 33 / 100
		}
		c.MinInterval = max(c.MinInterval, 3*time.Second)
	} else if c.MinInterval < 3*time.Second || c.MinInterval > c.MaxInterval*3/4 {
		bad("min interval %v: must be 3s..0.75×max interval (%v)", c.MinInterval, c.MaxInterval*3/4)
	}
	if c.RouterLifetime == 0 {
		c.RouterLifetime = min(3*c.MaxInterval, MaxRouterLifetime)
	} else if c.RouterLifetime < c.MaxInterval || c.RouterLifetime > MaxRouterLifetime {
		bad("router lifetime %v: must be max interval (%v)..2h30m0s", c.RouterLifetime, c.MaxInterval)
	}
	if c.DNSLifetime == 0 {
		c.DNSLifetime = 3 * c.MaxInterval
	} else if c.DNSLifetime < c.MaxInterval || c.DNSLifetime > 0xffffffff*time.Second {
		bad("dns lifetime %v: must be at least max interval (%v)", c.DNSLifetime, c.MaxInterval)
	}
	if !validPreference(c.Preference) {
		bad("router preference %d: reserved", c.Preference)
	}
	if c.HopLimit == 0 {
		c.HopLimit = defaultHopLimit
	}
	if c.MTU != 0 && c.MTU < minMTU {
		bad("mtu %d: must be at least %d", c.MTU, minMTU)
	}
	if c.SourceLL != nil && len(c.SourceLL) != 6 {
		bad("source link-layer address %v: not a 6-byte MAC", c.SourceLL)
	}

	seen := map[netip.Prefix]bool{}
	checkPrefix := func(what string, p netip.Prefix) {
		switch {
		case !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6():
			bad("%s %v: not an IPv6 prefix", what, p)
		case p.Addr().Zone() != "":
			bad("%s %v: has a zone", what, p)
		case p.Masked() != p:
			bad("%s %v: host bits set", what, p)
		case p.Addr().IsLinkLocalUnicast() || p.Addr().IsMulticast():
			bad("%s %v: link-local or multicast", what, p)
		case seen[p]:
			bad("%s %v: listed twice", what, p)
		}
		seen[p] = true
	}
	for _, p := range c.Prefixes {
		checkPrefix("prefix", p.Prefix)
	}
	for _, p := range c.Stale {
		checkPrefix("stale prefix", p)
	}
	routes := map[netip.Prefix]bool{}
	for _, r := range c.Routes {
		switch p := r.Prefix; {
		case !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() || p.Addr().Zone() != "":
			bad("route %v: not an IPv6 prefix", p)
		case p.Masked() != p:
			bad("route %v: host bits set", p)
		case routes[p]:
			bad("route %v: listed twice", p)
		}
		routes[r.Prefix] = true
		if !validPreference(r.Preference) {
			bad("route %v: preference %d reserved", r.Prefix, r.Preference)
		}
	}
	servers := map[netip.Addr]bool{}
	for _, a := range c.DNSServers {
		switch {
		case !a.Is6() || a.Is4In6() || a.Zone() != "":
			bad("dns server %v: not an IPv6 address", a)
		case a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast():
			bad("dns server %v: not reachable from the LAN", a)
		case servers[a]:
			bad("dns server %v: listed twice", a)
		}
		servers[a] = true
	}
	domains := map[string]bool{}
	for i, d := range c.SearchDomains {
		d = strings.TrimSuffix(strings.ToLower(d), ".")
		c.SearchDomains[i] = d
		if err := checkDomain(d); err != nil {
			bad("search domain %q: %w", d, err)
		} else if domains[d] {
			bad("search domain %q: listed twice", d)
		}
		domains[d] = true
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("ra: config: %w", errors.Join(errs...))
	}
	if n := c.size(); n > maxMessage {
		return Config{}, fmt.Errorf("ra: config: the RA would be %d bytes, more than %d", n, maxMessage)
	}
	return c, nil
}

func validPreference(p ndp.Preference) bool {
	return p == ndp.Low || p == ndp.Medium || p == ndp.High
}

// checkDomain accepts what DNSSL can carry: ASCII labels of 1..63 bytes,
// 253 bytes in all. ndp would turn Unicode into punycode; the plan is
// expected to hand over the A-labels the uplink gave.
func checkDomain(d string) error {
	if d == "" || len(d) > 253 {
		return errors.New("empty or longer than 253 bytes")
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return errors.New("a label is empty or longer than 63 bytes")
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("label %q: not a hostname label", l)
			}
		}
	}
	return nil
}

// size is the RA's length in bytes with every option of c and nothing
// withdrawn.
func (c Config) size() int {
	n := 16
	if c.SourceLL != nil {
		n += 8
	}
	if c.MTU != 0 {
		n += 8
	}
	n += 32 * (len(c.Prefixes) + len(c.Stale))
	for _, r := range c.Routes {
		n += rioSize(r.Prefix.Bits())
	}
	n += rdnssSize(len(c.DNSServers)) + dnsslSize(c.SearchDomains)
	return n
}

func rioSize(bits int) int {
	switch {
	case bits == 0:
		return 8
	case bits <= 64:
		return 16
	}
	return 24
}

func rdnssSize(n int) int {
	if n == 0 {
		return 0
	}
	return 8 + 16*n
}

func dnsslSize(domains []string) int {
	if len(domains) == 0 {
		return 0
	}
	n := 8
	for _, d := range domains {
		n += len(d) + 2 // length bytes of the labels, and the root label
	}
	return (n + 7) / 8 * 8
}
