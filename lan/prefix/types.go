package prefix

import (
	"net/netip"
	"time"
)

// RFC 9096 section 3 (L-13) limits and the time a stale prefix is kept.
const (
	// NDPreferredLimit caps the Preferred Lifetime of every advertised /64.
	NDPreferredLimit = 2700 * time.Second
	// NDValidLimit caps the Valid Lifetime of every advertised /64.
	NDValidLimit = 5400 * time.Second
	// StaleHold is how long a /64 that went away keeps being advertised with
	// lifetimes 0/0 (RFC 9096: hosts may hold addresses from it that long,
	// since they were told at most NDValidLimit, which is shorter).
	StaleHold = 2 * time.Hour
	// MaxIndex is the largest subnet index: the ULA /48 has 65536 /64s.
	MaxIndex = 1<<16 - 1
)

// Segment is one LAN segment that gets IPv6 prefixes.
type Segment struct {
	Name string
	// SubnetID is the configured subnet index (config lan[].ipv6.subnet_id);
	// nil lets the allocator pick one and keep it.
	SubnetID *int
}

// Delegation is one prefix delegated to an uplink (from wan/dhcp6's Prefix).
type Delegation struct {
	Uplink string
	Prefix netip.Prefix
	// Preferred and Valid are when the delegation's lifetimes end. A zero
	// or past Valid means the delegation is gone.
	Preferred time.Time
	Valid     time.Time
	// TooLong is set when the server delegated a prefix longer than /64.
	TooLong bool
	// Up is false when the uplink is down: its /64s stay valid but are
	// deprecated (RFC 8475).
	Up bool
}

// Input is everything one Plan depends on.
type Input struct {
	Segments    []Segment
	Delegations []Delegation
	// ULA is the /48 from GenerateULA kept in State; zero means no ULA.
	ULA netip.Prefix
	// PDLength is the length of prefixes delegated to LAN clients
	// (config lan[].ipv6.dhcp6.pd.length); 0 makes no pools.
	PDLength int
	Now      time.Time
}

// Assigned is one /64 of a segment.
type Assigned struct {
	Prefix netip.Prefix // the /64
	From   netip.Prefix // the delegation or the ULA it is carved from
	Uplink string       // the delegation's uplink; "" for the ULA
	ULA    bool
	// Preferred and Valid are the lifetimes to advertise at the Plan's Now.
	Preferred time.Duration
	Valid     time.Duration

	preferredEnd, validEnd time.Time
	up                     bool
}

// Never is when a ULA's lifetimes end: it is advertised at the RFC 9096
// caps for as long as it is kept.
var Never = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// Ends returns when the lifetimes to advertise end, for an advertiser that
// counts them down (and caps them) as it sends: the delegation's, the
// preferred one over while its uplink is down.
func (a Assigned) Ends() (preferred, valid time.Time) {
	switch {
	case a.ULA:
		return Never, Never
	case !a.up:
		return time.Time{}, a.validEnd
	}
	return a.preferredEnd, a.validEnd
}

// Lifetimes returns the lifetimes to advertise at a later time than the
// Plan's (they shrink with the delegation's), so an RA sent between two
// plans is still right.
func (a Assigned) Lifetimes(at time.Time) (preferred, valid time.Duration) {
	if a.ULA {
		return NDPreferredLimit, NDValidLimit
	}
	return lifetimes(at, a.preferredEnd, a.validEnd, a.up)
}

// SegmentPlan is what one segment gets.
type SegmentPlan struct {
	Name string
	// Index is the segment's subnet index in every delegation; -1 when it
	// has none (a problem says why).
	Index    int
	Prefixes []Assigned
}

// Stale is a /64 that was advertised on Segment but is no longer: it is
// advertised with preferred 0 and valid 0 until Until.
type Stale struct {
	Segment string       `json:"segment"`
	Index   int          `json:"index"`
	Prefix  netip.Prefix `json:"prefix"`
	Until   time.Time    `json:"until"`
}

// Plan is the LAN addressing for one Input.
type Plan struct {
	Segments []SegmentPlan // in the order of Input.Segments
	Stale    []Stale       // sorted by segment, then prefix
	// Pools hold the prefixes left for delegation to LAN clients, one per
	// usable delegation, when Input.PDLength is set.
	Pools    []*PDPool
	Problems []string
	// Next is when the plan changes by itself (a lifetime ends, a stale
	// prefix is dropped): plan again then. Zero when nothing is pending.
	Next time.Time
	// State is set when the persistent state changed: save it.
	State *State
}

// Segment returns the plan of the named segment.
func (p Plan) Segment(name string) (SegmentPlan, bool) {
	for _, s := range p.Segments {
		if s.Name == name {
			return s, true
		}
	}
	return SegmentPlan{}, false
}

// Advertised is one /64 in use on a segment, remembered so that it can be
// deprecated once it goes away, even after a reboot.
type Advertised struct {
	Segment string       `json:"segment"`
	Index   int          `json:"index"`
	Prefix  netip.Prefix `json:"prefix"`
}

// State is what the allocator keeps in the state directory.
type State struct {
	ULA netip.Prefix `json:"ula,omitzero"`
	// Assignments maps a segment name to its subnet index. A removed
	// segment stays here while it has stale prefixes, so its index is not
	// reused and it gets it back if it returns.
	Assignments map[string]int `json:"assignments,omitempty"`
	Advertised  []Advertised   `json:"advertised,omitempty"`
	Stale       []Stale        `json:"stale,omitempty"`
}

// lifetimes applies RFC 9096 L-13 and RFC 8475 to a delegation's ends.
// Lifetimes go out in whole seconds, rounded down so they never exceed what
// is left.
func lifetimes(at, preferredEnd, validEnd time.Time, up bool) (preferred, valid time.Duration) {
	valid = min(max(validEnd.Sub(at), 0), NDValidLimit).Truncate(time.Second)
	preferred = min(max(preferredEnd.Sub(at), 0), NDPreferredLimit, valid).Truncate(time.Second)
	if !up {
		preferred = 0
	}
	return preferred, valid
}
