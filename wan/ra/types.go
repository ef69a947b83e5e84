package ra

import (
	"net"
	"net/netip"
	"slices"
	"time"
)

// Config describes the uplink the Receiver listens on.
type Config struct {
	// Interface is the uplink's name. It is RFC 7217's Net_Iface, so it must
	// stay the same across reboots for the SLAAC address to stay the same.
	Interface string
	// HardwareAddr is the uplink's MAC: sent as the Source Link-Layer
	// Address option of every Router Solicitation (when it is 6 bytes) and
	// the source of EUI-64 identifiers. Nil on links without one (PPP).
	HardwareAddr net.HardwareAddr
	// LinkMTU is the largest MTU option accepted (RFC 4861 6.3.4: no larger
	// than the link can carry); 0 accepts 1280..65535.
	LinkMTU int
	// SecretKey is RFC 7217's secret_key: at least 16 random bytes made once
	// and kept in the state directory, so the SLAAC address survives
	// reboots. Required unless EUI64 is set.
	SecretKey []byte
	// EUI64 forms SLAAC interface identifiers from the MAC (RFC 4291
	// appendix A) instead of RFC 7217 stable opaque identifiers.
	EUI64 bool
}

// Preference is a router's or route's preference (RFC 4191 2.1). The numeric
// order is the order of preference.
type Preference int8

const (
	PreferenceLow    Preference = -1
	PreferenceMedium Preference = 0
	PreferenceHigh   Preference = 1
)

func (p Preference) String() string {
	switch p {
	case PreferenceLow:
		return "low"
	case PreferenceMedium:
		return "medium"
	case PreferenceHigh:
		return "high"
	}
	return "invalid"
}

// DHCPv6Mode is what the M and O flags ask of a host's DHCPv6 client.
type DHCPv6Mode uint8

const (
	DHCPv6None            DHCPv6Mode = iota // neither flag: RA is all there is
	DHCPv6InformationOnly                   // O: other configuration (DNS) by Information-request
	DHCPv6Stateful                          // M: addresses by DHCPv6 (RFC 7084 WAA-6: ask for IA_NA)
)

func (m DHCPv6Mode) String() string {
	switch m {
	case DHCPv6None:
		return "none"
	case DHCPv6InformationOnly:
		return "information-only"
	case DHCPv6Stateful:
		return "stateful"
	}
	return "invalid"
}

// Router is an entry of the Default Router List (RFC 4861 5.1).
type Router struct {
	Addr       netip.Addr // link-local, without zone
	Expires    time.Time
	Preference Preference
}

// Prefix is a prefix from a Prefix Information option with the L or A flag.
type Prefix struct {
	Prefix netip.Prefix
	// OnLink: a PIO with the L flag made the prefix on-link until Valid.
	// Without it the prefix says nothing about on-link (RFC 5942): install
	// no prefix route for it.
	OnLink bool
	// Autonomous is the A flag of the last PIO; the address itself is in
	// Facts.Addresses.
	Autonomous bool
	// PD is the P flag (RFC 9762): the network would rather the host asked
	// for a delegated prefix than used this one.
	PD        bool
	Preferred time.Time
	Valid     time.Time
}

// Address is an address formed by SLAAC (RFC 4862 5.5.3). Install it as
// Addr/64 without a prefix route: on-link comes only from Prefix.OnLink
// (RFC 7084 WAA-2, RFC 5942).
type Address struct {
	Addr   netip.Addr
	Prefix netip.Prefix // the /64 it was formed from
	// DADCounter is RFC 7217's DAD_Counter the identifier was made with;
	// always 0 for EUI-64.
	DADCounter int
	Preferred  time.Time // deprecated after this
	Valid      time.Time // removed at this time
}

// Route is a Route Information option (RFC 4191 2.3): Prefix via Router.
type Route struct {
	Prefix     netip.Prefix
	Router     netip.Addr
	Preference Preference
	Expires    time.Time
}

// DNSServer is a Recursive DNS Server (RFC 8106 5.1).
type DNSServer struct {
	Addr    netip.Addr // a link-local server is reachable on this uplink only
	Expires time.Time
}

// SearchDomain is a DNS Search List entry (RFC 8106 5.2).
type SearchDomain struct {
	Name    string
	Expires time.Time
}

// Facts is what the uplink's routers told us, for cpe/state. Times are
// absolute and carry the monotonic reading of the clock they came from, so
// a wall-clock step at boot does not expire them early; an infinite
// lifetime (0xffffffff) lands 136 years ahead.
type Facts struct {
	// Routers are the default routers, most preferred first.
	Routers []Router
	// Managed and Other are the M and O flags of the most recent valid RA
	// of any router (kept when routers go away).
	Managed, Other bool
	// DHCPv6 is the "auto" hint for the uplink's DHCPv6 client, from M and
	// O; DHCPv6None also before any RA (LastRA is zero then).
	DHCPv6    DHCPv6Mode
	Prefixes  []Prefix  // sorted by prefix
	Addresses []Address // sorted by prefix
	// MTU is the last accepted MTU option; 0 when none was.
	MTU     int
	DNS     []DNSServer    // in the order first learned (option order)
	Domains []SearchDomain // in the order first learned
	Routes  []Route        // sorted by prefix, then most preferred
	// LastRA is when the last valid RA arrived; LastError is the last
	// problem met (a dropped RA, an ignored option). Neither alone makes
	// the Receiver hand out new Facts: packets from off the link would
	// otherwise make the box re-plan at their rate.
	LastRA    time.Time
	LastError string
}

// Clone returns a deep copy.
func (f Facts) Clone() Facts {
	f.Routers = slices.Clone(f.Routers)
	f.Prefixes = slices.Clone(f.Prefixes)
	f.Addresses = slices.Clone(f.Addresses)
	f.DNS = slices.Clone(f.DNS)
	f.Domains = slices.Clone(f.Domains)
	f.Routes = slices.Clone(f.Routes)
	return f
}

// Counters count packets by outcome and the parts of accepted RAs that were
// ignored. Every packet handed to Receive lands in exactly one of Accepted
// and the drop counters.
type Counters struct {
	Received uint64 // packets handed to Receive
	Accepted uint64 // valid RAs, acted upon

	// Drops (RFC 4861 6.1.2): the whole packet is discarded.
	NotLinkLocal    uint64 // source address not link-local
	BadHopLimit     uint64 // hop limit not 255: it crossed a router
	NotRA           uint64 // not ICMPv6 type 134 code 0
	Truncated       uint64 // shorter than the 16-byte RA header
	ZeroLengthOpt   uint64 // an option with length 0
	TruncatedOption uint64 // an option running past the end of the packet

	// Parts of accepted RAs that were ignored.
	BadPrefixes uint64 // PIOs: unparseable, link-local or multicast prefix, preferred > valid
	BadRoutes   uint64 // RIOs: bad length, reserved preference, link-local or multicast prefix
	BadMTU      uint64 // MTU options out of 1280..LinkMTU
	BadDNS      uint64 // RDNSS and DNSSL options that failed to parse, unusable servers
	Overflow    uint64 // entries not stored because their list was full

	Solicitations uint64 // Router Solicitations handed out to send
	DADFailures   uint64 // SLAAC addresses reported duplicate
}

// Packet is a Router Solicitation to send. Data is the ICMPv6 message with
// a zero checksum, which the kernel fills in.
type Packet struct {
	Data []byte
	To   netip.Addr // ff02::2, without zone
}

// Output is what one call into the Receiver asks of its caller.
type Output struct {
	Send []Packet
	// Deadline is when Timer wants to be called next: the next solicitation
	// or the next expiry (zero: nothing pending).
	Deadline time.Time
	// Facts is set when the facts changed (apart from LastRA and LastError).
	Facts *Facts
}

// Options builds a Receiver.
type Options struct {
	Config Config
	// Rand is the source for the solicitation delay and jitter. Nil means a
	// source seeded from crypto/rand; tests pass a seeded one.
	Rand RandSource
}

// RandSource is math/rand/v2's Source.
type RandSource interface{ Uint64() uint64 }
