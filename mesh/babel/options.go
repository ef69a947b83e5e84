package babel

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// Protocol constants (RFC 8966 appendix B, and babeld's where the RFC
// leaves a choice).
const (
	DefaultHelloInterval  = 4 * time.Second
	DefaultUpdateInterval = 16 * time.Second
	DefaultHalfLife       = 4 * time.Second // babeld's smoothing-half-life
	DefaultMTU            = 1500
	WiredRxCost           = 96
	WirelessRxCost        = 256

	// sourceGCTime is how long a source table entry outlives the last
	// update sent for it (RFC 8966 appendix B: 3 minutes).
	sourceGCTime = 3 * time.Minute
	// smoothEvery is the longest a smoothed metric that still converges
	// waits for its next step (and route selection for another look)
	// when nothing else wakes the engine: any Tick takes the step a
	// second or more after the last, so the Hellos carry it.
	smoothEvery = 4 * time.Second
	// lostSeqnoWindow is how long after a start without saved state the
	// node jumps its seqno to whatever a neighbour asks for: its routes
	// may carry seqnos older than the ones the network remembers.
	lostSeqnoWindow = sourceGCTime + time.Minute
	// seqnoHorizon is the distance beyond which a seqno is taken for one
	// of a node that lost its state rather than a newer one (babeld's 100).
	seqnoHorizon = 100
	// resendDelay and resends govern the repetition of retractions and
	// seqno requests, which a lossy link must not swallow.
	resendDelay = 2 * time.Second
	resends     = 2
	// neighbourGrace keeps a neighbour heard without Hellos (its first
	// packet under HMAC, say) while a challenge completes.
	neighbourGrace = time.Minute
	// maxHelloSilence forgets a neighbour whatever its history (babeld: 5 min).
	maxHelloSilence = 5 * time.Minute
	// challengeTimeout and challengeRate are RFC 8967's 30 s and 300 ms.
	challengeTimeout = 30 * time.Second
	challengeRate    = 300 * time.Millisecond
	nonceLen         = 16
	indexLen         = 8
)

// inf is Infinity for arithmetic in int.
const inf = int(Infinity)

// MulticastGroup is the Babel group all-Babel-routers (RFC 8966 section 5).
var MulticastGroup = netip.MustParseAddr("ff02::1:6")

// LinkType selects the link quality estimation of an interface.
type LinkType uint8

const (
	// Wireless estimates the link with ETX from the Hello history
	// (RFC 8966 appendix A.2.2).
	Wireless LinkType = iota
	// Wired uses 2-out-of-3 (RFC 8966 appendix A.2.1) and split horizon.
	Wired
)

func (t LinkType) String() string {
	if t == Wired {
		return "wired"
	}
	return "wireless"
}

// Key is an HMAC-SHA256 key (RFC 8967).
type Key struct {
	ID     string
	Secret []byte
}

// Interface configures Babel on one interface. It is down until LinkUp
// gives its link-local address.
type Interface struct {
	Name string
	Type LinkType
	// HelloInterval defaults to 4 s, UpdateInterval to 4 hello intervals.
	// They are means: each interval is drawn between 3/4 and 5/4 of its
	// share, so that nodes do not synchronise, the full update goes with
	// the last Hello of the update interval (as many Hellos as it holds
	// at the Hello interval, rounded up), and each TLV announces the
	// interval drawn, the upper bound RFC 8966 asks for.
	HelloInterval  time.Duration
	UpdateInterval time.Duration
	// RxCost is the nominal cost of hearing a neighbour perfectly
	// (babeld's rxcost): 96 on wired links, 256 on wireless ones by
	// default. ETX scales it with the loss.
	RxCost uint16
	// Keys turn RFC 8967 authentication on: packets are signed with every
	// key and accepted when any key verifies one of their MACs.
	Keys []Key
	// Unicast sends IHUs and Updates to each neighbour rather than to the
	// multicast group (and unicast Hellos along the multicast ones), for
	// radios whose multicast is slow and lossy.
	Unicast bool
	// IPv4 is the interface's IPv4 address, if it has one: IPv4 routes are
	// then announced with it as next hop (AE 1). Without it they go out as
	// v4-via-v6 (RFC 9229, AE 4) with the link-local address as next hop.
	IPv4 netip.Addr
	// MTU defaults to 1500.
	MTU int
}

// Announcement is a route this node originates: a prefix, optionally
// source-specific (RFC 9079), with the metric it is announced with.
type Announcement struct {
	Prefix netip.Prefix
	Source netip.Prefix // zero: not source-specific
	Metric uint16
}

// Candidate is a route offered by a neighbour, for Options.Accept.
type Candidate struct {
	Interface string
	From      netip.Addr
	RouterID  RouterID
	Prefix    netip.Prefix
	Source    netip.Prefix
	Metric    uint16
}

// Options configure an Engine.
type Options struct {
	// RouterID is the configured router-id; zero takes the saved one, or
	// a random one when nothing was saved.
	RouterID RouterID
	// State is what State returned before a restart (zero: nothing saved).
	State      State
	Interfaces []Interface
	Announce   []Announcement
	// Accept may refuse routes beyond the built-in filter (martians, our
	// own prefixes, default routes from our own source prefixes).
	Accept func(Candidate) bool
	// HalfLife is the smoothing half-life of route selection; zero gives
	// the default, a negative value turns smoothing off.
	HalfLife time.Duration
	// Rand supplies nonces, PC indexes, router-ids and jitter; nil is
	// crypto/rand.
	Rand   io.Reader
	Logger *slog.Logger
}

// State is what a node keeps across restarts (RFC 8966 section 3.1).
type State struct {
	RouterID RouterID `json:"router_id"`
	Seqno    uint16   `json:"seqno"`
}

// MarshalText writes a router-id as eight colon-separated hex octets.
func (r RouterID) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (r *RouterID) UnmarshalText(b []byte) error {
	hw, err := net.ParseMAC(string(b))
	if err != nil || len(hw) != 8 {
		return fmt.Errorf("babel: bad router-id %q", b)
	}
	copy(r[:], hw)
	return nil
}

var errReservedID = errors.New("reserved router-id")

func (ifo *Interface) setDefaults() error {
	if ifo.Name == "" {
		return errors.New("interface without a name")
	}
	if ifo.HelloInterval <= 0 {
		ifo.HelloInterval = DefaultHelloInterval
	}
	if ifo.UpdateInterval <= 0 {
		ifo.UpdateInterval = 4 * ifo.HelloInterval
	}
	// Intervals travel in centiseconds in 16 bits.
	if ifo.HelloInterval > 655*time.Second || ifo.UpdateInterval > 655*time.Second ||
		ifo.HelloInterval < 10*time.Millisecond || ifo.UpdateInterval < 10*time.Millisecond {
		return fmt.Errorf("%s: intervals must lie between 10 ms and 655 s", ifo.Name)
	}
	if ifo.RxCost == 0 {
		ifo.RxCost = WirelessRxCost
		if ifo.Type == Wired {
			ifo.RxCost = WiredRxCost
		}
	}
	if ifo.MTU == 0 {
		ifo.MTU = DefaultMTU
	}
	if ifo.MTU < 512 {
		return fmt.Errorf("%s: MTU %d too small", ifo.Name, ifo.MTU)
	}
	for _, k := range ifo.Keys {
		if len(k.Secret) == 0 {
			return fmt.Errorf("%s: key %q is empty", ifo.Name, k.ID)
		}
	}
	if ifo.IPv4.IsValid() && !ifo.IPv4.Is4() {
		return fmt.Errorf("%s: IPv4 address %v is not IPv4", ifo.Name, ifo.IPv4)
	}
	return nil
}

func checkAnnouncement(a Announcement) (Announcement, error) {
	if !a.Prefix.IsValid() {
		return a, errors.New("announcement without a prefix")
	}
	a.Prefix = a.Prefix.Masked()
	if a.Source.IsValid() {
		a.Source = a.Source.Masked()
		if a.Source.Addr().Is4() != a.Prefix.Addr().Is4() {
			return a, fmt.Errorf("%v from %v: families differ", a.Prefix, a.Source)
		}
		if a.Source.Bits() == 0 {
			// RFC 9079 section 4.1: a zero-length source prefix is the
			// non-specific route.
			a.Source = netip.Prefix{}
		}
	}
	if a.Metric == Infinity {
		return a, fmt.Errorf("%v: infinite metric", a.Prefix)
	}
	return a, nil
}

// seqnoLess compares 16-bit seqnos modulo 2^16 (RFC 8966 section 3.2.1).
func seqnoLess(a, b uint16) bool {
	d := b - a
	return d != 0 && d < 0x8000
}

// seqnoMinus is a - b as a signed distance modulo 2^16.
func seqnoMinus(a, b uint16) int { return int(int16(a - b)) }

func centiseconds(d time.Duration) uint16 {
	cs := (d + 5*time.Millisecond) / (10 * time.Millisecond)
	return uint16(min(cs, 0xFFFF))
}

func fromCentiseconds(cs uint16) time.Duration { return time.Duration(cs) * 10 * time.Millisecond }
