package dhcp6

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
)

// Config is what the uplink's configuration asks of the client.
type Config struct {
	IANA bool // ask for an address (IA_NA)
	IAPD bool // ask for a delegated prefix (IA_PD)
	// PrefixHint is the prefix length sent with IA_PD (RFC 7084 WPD-2);
	// 0 sends no hint.
	PrefixHint int
	// RapidCommit offers the two-message exchange (RFC 8415 18.2.1).
	RapidCommit bool
	// InformationOnly asks only for other configuration (DNS) with
	// Information-request. It is implied when neither IA is wanted.
	InformationOnly bool
}

// stateless reports whether the client runs Information-request only.
func (c Config) stateless() bool { return c.InformationOnly || (!c.IANA && !c.IAPD) }

// State names where the client is in RFC 8415's client state machine.
type State uint8

const (
	StateIdle       State = iota // not started
	StateSoliciting              // looking for a server (Solicit, collecting Advertise)
	StateRequesting              // Request sent to the chosen server
	StateBound                   // leases held, waiting for T1
	StateRenewing                // Renew sent to our server (T1 passed)
	StateRebinding               // Rebind sent to any server (T2 passed, restart, link back)
	StateInforming               // Information-request sent (stateless)
	StateInformed                // other configuration held, waiting for the refresh time
	StateReleasing               // Release sent because the uplink was removed
	StateReleased                // nothing held, nothing sent until Start
	StateLinkDown                // link down: nothing sent, leases kept until they expire
)

var stateNames = [...]string{"idle", "soliciting", "requesting", "bound", "renewing", "rebinding",
	"informing", "informed", "releasing", "released", "link-down"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("dhcp6: unknown state %q", b)
}

// DUID is a DHCP Unique Identifier in wire form (type included). It reads and
// writes as colon-separated hex, the way servers such as kea print it.
type DUID []byte

func (d DUID) String() string {
	var b strings.Builder
	for i, c := range d {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02x", c)
	}
	return b.String()
}

// MarshalText writes the DUID as colon-separated hex.
func (d DUID) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads colon-separated (or plain) hex.
func (d *DUID) UnmarshalText(b []byte) error {
	raw, err := hex.DecodeString(strings.ReplaceAll(string(b), ":", ""))
	if err != nil {
		return fmt.Errorf("dhcp6: duid: %w", err)
	}
	*d = raw
	return nil
}

// Address is one address leased in IA_NA. Times are absolute; a lifetime of
// 0xffffffff (infinity) lands 136 years ahead, which nothing downstream needs
// to tell apart from infinity.
type Address struct {
	Addr      netip.Addr `json:"addr"`
	Preferred time.Time  `json:"preferred"`
	Valid     time.Time  `json:"valid"`
}

// Prefix is one prefix delegated in IA_PD.
type Prefix struct {
	Prefix    netip.Prefix `json:"prefix"`
	Preferred time.Time    `json:"preferred"`
	Valid     time.Time    `json:"valid"`
	// TooLong marks a prefix longer than /64: recorded because the server
	// delegated it, but no LAN /64 can be carved out of it.
	TooLong bool `json:"too_long,omitempty"`
}

// Lease is what the client learned: the facts the planner works from.
type Lease struct {
	State State     `json:"state,omitzero"`
	Since time.Time `json:"since,omitzero"` // when State was entered

	ServerID   DUID       `json:"server_id,omitempty"`
	ServerAddr netip.Addr `json:"server_addr,omitzero"` // source of the last accepted Reply

	Addresses []Address `json:"addresses,omitempty"`
	Prefixes  []Prefix  `json:"prefixes,omitempty"`
	// T1 and T2 are when the client renews and rebinds (the earliest over the
	// IAs of the last Reply; RFC 7550 4.3 renews all IAs together).
	T1 time.Time `json:"t1,omitzero"`
	T2 time.Time `json:"t2,omitzero"`

	DNS     []netip.Addr `json:"dns,omitempty"`     // option 23
	Domains []string     `json:"domains,omitempty"` // option 24

	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// HintRefused is set once a server answered a prefix-length hint with no
	// prefix; the client then asks without the hint.
	HintRefused bool `json:"hint_refused,omitempty"`
}

// Bound reports whether the lease holds any address or prefix.
func (l Lease) Bound() bool { return len(l.Addresses) > 0 || len(l.Prefixes) > 0 }

// Equal reports whether two leases state the same facts (times compared as
// instants).
func (l Lease) Equal(o Lease) bool {
	return l.State == o.State && l.Since.Equal(o.Since) &&
		slices.Equal(l.ServerID, o.ServerID) && l.ServerAddr == o.ServerAddr &&
		slices.EqualFunc(l.Addresses, o.Addresses, func(a, b Address) bool {
			return a.Addr == b.Addr && a.Preferred.Equal(b.Preferred) && a.Valid.Equal(b.Valid)
		}) &&
		slices.EqualFunc(l.Prefixes, o.Prefixes, func(a, b Prefix) bool {
			return a.Prefix == b.Prefix && a.Preferred.Equal(b.Preferred) && a.Valid.Equal(b.Valid) && a.TooLong == b.TooLong
		}) &&
		l.T1.Equal(o.T1) && l.T2.Equal(o.T2) &&
		slices.Equal(l.DNS, o.DNS) && slices.Equal(l.Domains, o.Domains) &&
		l.LastError == o.LastError && l.LastErrorAt.Equal(o.LastErrorAt) && l.HintRefused == o.HintRefused
}

// Clone returns a deep copy.
func (l Lease) Clone() Lease {
	l.ServerID = slices.Clone(l.ServerID)
	l.Addresses = slices.Clone(l.Addresses)
	l.Prefixes = slices.Clone(l.Prefixes)
	l.DNS = slices.Clone(l.DNS)
	l.Domains = slices.Clone(l.Domains)
	return l
}

// binding is the part of a lease worth keeping across a restart.
func (l Lease) binding() Lease {
	return Lease{ServerID: l.ServerID, ServerAddr: l.ServerAddr, Addresses: l.Addresses, Prefixes: l.Prefixes,
		T1: l.T1, T2: l.T2, DNS: l.DNS, Domains: l.Domains}.Clone()
}

// Persist is what must survive restarts, in the state directory, forever:
// the DUID and IAIDs (RFC 9096 WPD-10, RFC 8415 12: an identity that changes
// makes the ISP hand out a new prefix), the last binding so a restart can
// Rebind for it, and a refused prefix hint.
type Persist struct {
	DUID   DUID   `json:"duid"`
	IAIDNA uint32 `json:"iaid_na"`
	IAIDPD uint32 `json:"iaid_pd"`
	// RefusedHint is the prefix-length hint a server refused (0: none). It
	// only applies while the configured hint is the same.
	RefusedHint int    `json:"refused_hint,omitempty"`
	Lease       *Lease `json:"lease,omitempty"`
}

// Equal reports whether two Persist values hold the same facts.
func (p Persist) Equal(o Persist) bool {
	if !slices.Equal(p.DUID, o.DUID) || p.IAIDNA != o.IAIDNA || p.IAIDPD != o.IAIDPD || p.RefusedHint != o.RefusedHint {
		return false
	}
	if (p.Lease == nil) != (o.Lease == nil) {
		return false
	}
	return p.Lease == nil || p.Lease.Equal(*o.Lease)
}

// Clone returns a deep copy.
func (p Persist) Clone() Persist {
	p.DUID = slices.Clone(p.DUID)
	if p.Lease != nil {
		l := p.Lease.Clone()
		p.Lease = &l
	}
	return p
}

// Counters count received packets by what became of them. Packets are
// outside input: every one lands in exactly one of the first group.
type Counters struct {
	Received      uint64 // packets handed to Receive
	Accepted      uint64 // valid and acted upon
	Malformed     uint64 // not a parseable DHCPv6 message (truncated, bad options)
	WrongType     uint64 // a message type a client never takes (Solicit, relay, ...)
	Unexpected    uint64 // a valid type, but no exchange in progress wants it
	WrongXID      uint64 // transaction id of no exchange in progress
	WrongClientID uint64 // Client Identifier missing or not ours
	NoServerID    uint64 // Server Identifier missing
	WrongServerID uint64 // Reply to Request/Renew from another server
	Ignored       uint64 // valid, but nothing usable in it (RFC 8415 18.2.9, 18.2.10)
	Reconfigure   uint64 // Reconfigure: not supported, discarded

	// Inside accepted or ignored messages:
	WrongIAID    uint64 // IAs with an IAID we did not send, skipped
	BadTimers    uint64 // IAs with T1 > T2: default timers used
	BadLifetimes uint64 // leases with preferred > valid, dropped (RFC 8415 21.6, 21.22)
	BadLeases    uint64 // unusable addresses or prefixes (multicast, link-local, ::/0 ...), dropped
	LongPrefixes uint64 // prefixes longer than /64, kept but flagged
	BadOptions   uint64 // optional options that failed to parse, skipped
	Sent         uint64 // messages handed out to send
}

// Packet is a message to send.
type Packet struct {
	Type dhcpv6.MessageType
	// To is ff02::1:2 port 547 (no zone: the connection adds its interface)
	// or the server's unicast address from the Server Unicast option.
	To   netip.AddrPort
	Data []byte
}

// Output is what one event produced.
type Output struct {
	Send []Packet
	// Deadline is when Timer wants to be called next (zero: no timer).
	Deadline time.Time
	Lease    *Lease   // set when the lease facts changed
	Persist  *Persist // set when what must be persisted changed
}

// Options builds a Client.
type Options struct {
	Config Config
	// Persist is what the driver loaded from the state directory; the zero
	// value on a first boot.
	Persist Persist
	// HardwareAddr is the uplink's MAC address; a DUID-LL is made from it
	// when Persist has none.
	HardwareAddr []byte
	// Rand is the source for transaction ids, jitter and delays. Nil means a
	// source seeded from crypto/rand; tests pass a seeded one.
	Rand RandSource
}

// RandSource is math/rand/v2's Source.
type RandSource interface{ Uint64() uint64 }
