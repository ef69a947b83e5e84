package dhcp4

import (
	"net/netip"
	"slices"
	"time"
)

// State is the client's position in the RFC 2131 state machine (figure 5),
// plus the few states a router needs around it.
type State string

// The RFC 2131 states keep their RFC names; INIT-REBOOT is transient (it
// sends the first REQUEST and moves to REBOOTING at once), so it never shows.
const (
	StateStopped    State = "STOPPED"    // before Start, after Release
	StateInit       State = "INIT"       // waiting a moment after a NAK
	StateSelecting  State = "SELECTING"  // DISCOVER sent, waiting for an OFFER
	StateRequesting State = "REQUESTING" // REQUEST for an OFFER sent
	StateRebooting  State = "REBOOTING"  // REQUEST for a remembered address sent
	StateBound      State = "BOUND"
	StateRenewing   State = "RENEWING"  // after T1: REQUEST unicast to the server
	StateRebinding  State = "REBINDING" // after T2: REQUEST broadcast to any server
	StateIPv6Only   State = "IPV6-ONLY" // RFC 8925: the network prefers us without IPv4
	StateLinkDown   State = "LINK-DOWN" // carrier lost: nothing is sent
)

// Route is one classless static route (RFC 3442).
type Route struct {
	Dst netip.Prefix `json:"dst"`
	// Via is the next hop; the zero Addr means the destination is on-link
	// (router 0.0.0.0 in option 121).
	Via netip.Addr `json:"via,omitzero"`
}

// Lease is what the client knows: the binding the server granted, if any,
// and where the client stands. Published as facts for the planner, it has
// every field; saved in the state directory for INIT-REBOOT after a
// restart, it has only the binding (no State, no errors). It encodes to
// JSON.
type Lease struct {
	State State `json:"state,omitempty"`

	// Address is the leased address with the subnet's prefix length
	// (203.0.113.7/24); the zero Prefix means there is no lease.
	Address netip.Prefix `json:"address,omitzero"`
	// Routers is option 3, empty when option 121 is present: RFC 3442 says
	// the Router option MUST then be ignored.
	Routers []netip.Addr `json:"routers,omitempty"`
	// StaticRoutes is option 121 (RFC 3442), default route included.
	StaticRoutes []Route      `json:"static_routes,omitempty"`
	DNS          []netip.Addr `json:"dns,omitempty"`
	Domain       string       `json:"domain,omitempty"`
	// MTU is option 26; 0 when absent or outside 68..65535.
	MTU      int        `json:"mtu,omitempty"`
	ServerID netip.Addr `json:"server_id,omitzero"`

	// Absolute times. Start is when the REQUEST that earned the ACK was
	// sent (RFC 2131 4.4.1), so the lease never outlives the server's view.
	Start  time.Time `json:"start,omitzero"`
	T1     time.Time `json:"t1,omitzero"`
	T2     time.Time `json:"t2,omitzero"`
	Expiry time.Time `json:"expiry,omitzero"`

	// IPv6OnlyWait is option 108 (RFC 8925) as the server sent it, 0 when
	// absent. It only changes behaviour when Config.IPv6OnlyPreferred is set;
	// IPv6OnlyUntil is then when the client asks for IPv4 again.
	IPv6OnlyWait  time.Duration `json:"ipv6_only_wait,omitempty"`
	IPv6OnlyUntil time.Time     `json:"ipv6_only_until,omitzero"`

	// LastError describes the latest problem (a NAK, an expired lease, a
	// rejected reply); it is cleared when a lease is bound.
	LastError  string    `json:"last_error,omitempty"`
	ErrorSince time.Time `json:"error_since,omitzero"`
}

// Bound reports whether l holds an address.
func (l Lease) Bound() bool { return l.Address.IsValid() }

// Routes are the routes to install for the lease: option 121 when the
// server sent it, otherwise a default route via the first router.
func (l Lease) Routes() []Route {
	if len(l.StaticRoutes) > 0 {
		return slices.Clone(l.StaticRoutes)
	}
	if len(l.Routers) > 0 {
		return []Route{{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Via: l.Routers[0]}}
	}
	return nil
}

// Equal reports whether l and o hold the same facts.
func (l Lease) Equal(o Lease) bool {
	return l.State == o.State && l.Address == o.Address &&
		slices.Equal(l.Routers, o.Routers) && slices.Equal(l.StaticRoutes, o.StaticRoutes) &&
		slices.Equal(l.DNS, o.DNS) && l.Domain == o.Domain && l.MTU == o.MTU &&
		l.ServerID == o.ServerID && l.Start.Equal(o.Start) && l.T1.Equal(o.T1) &&
		l.T2.Equal(o.T2) && l.Expiry.Equal(o.Expiry) && l.IPv6OnlyWait == o.IPv6OnlyWait &&
		l.IPv6OnlyUntil.Equal(o.IPv6OnlyUntil) && l.LastError == o.LastError &&
		l.ErrorSince.Equal(o.ErrorSince)
}

// clone returns a copy sharing no slices with l, so callers may keep or
// change what the client hands out.
func (l Lease) clone() Lease {
	l.Routers = slices.Clone(l.Routers)
	l.StaticRoutes = slices.Clone(l.StaticRoutes)
	l.DNS = slices.Clone(l.DNS)
	return l
}

// binding returns only the parts of l that describe the server's grant,
// which is what is worth saving across a restart.
func (l Lease) binding() Lease {
	l = l.clone()
	l.State, l.LastError, l.ErrorSince, l.IPv6OnlyUntil = "", "", time.Time{}, time.Time{}
	return l
}
