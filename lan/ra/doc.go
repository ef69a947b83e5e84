// Package ra owns the router side of Router Discovery on the LAN segments:
// it decides when to send Router Advertisements and what they say —
// prefixes, routes, DNS, router lifetime — from the plan's Config.
//
// # Shape
//
// Advertiser is a pure state machine, one per segment. Its inputs carry the
// time: Update (the segment's Config changed), Solicit (a Router
// Solicitation's bytes, source and hop limit), Timer and Stop. Its output
// is an Output: RAs to send to ff02::1 and the one deadline at which Timer
// wants to run. Last returns what was last advertised for "show ra".
// Randomness comes from an injected source. Driver is the thin loop around
// it: a Conn (Listen opens a raw ICMPv6 socket through the ndp package on
// Linux), a Clock, SetConfig and Snapshot.
//
// # Timing (RFC 4861 6.2)
//
// Unsolicited RAs go out at uniformly random intervals in
// [MinRtrAdvInterval, MaxRtrAdvInterval] (defaults 0.33×600 s and 600 s).
// The first Update sends an RA at once and the next two at most 16 s apart
// (MAX_INITIAL_RTR_ADVERTISEMENTS, MAX_INITIAL_RTR_ADVERT_INTERVAL); an
// Update that changes an option or flag, or cuts a lifetime short (a
// prefix deprecated when its uplink went down, RFC 8475), does the same.
// An extended lifetime waits for the next periodic RA. A valid RS is
// answered by a multicast RA after a random 0–0.5 s, or by the RA already
// scheduled within that window; all RSs before the answer share it. No
// two multicast RAs are ever less than MIN_DELAY_BETWEEN_RAS (3 s) apart,
// the final one of Stop included: its Router Lifetime is 0 (6.2.5).
// Answers are never unicast.
//
// # Content
//
// Router Lifetime is 0 while no uplink has an IPv6 default route (RFC 7084
// G-4), else 3×MaxRtrAdvInterval capped at 9000 s unless configured. Each
// PIO carries what is left of its absolute lifetimes at the moment of
// sending, in whole seconds rounded down, never negative, capped at
// ND_PREFERRED_LIMIT and ND_VALID_LIMIT (RFC 9096), preferred never above
// valid; stale prefixes are advertised with both lifetimes 0. RDNSS and
// DNSSL (RFC 8106) carry the uplinks' servers and domains with a lifetime
// of 3×MaxRtrAdvInterval by default. RIOs (RFC 4191) announce extra
// prefixes. Anything that leaves the Config after it was advertised — a
// prefix, route, server or domain — goes on being advertised with lifetime
// 0 until hosts would have dropped it anyway, so nothing lingers on the
// LAN after a change.
//
// ndp v1.1.0 writes Route Information options correctly but parses only
// PrefixLength/8 whole bytes of their prefix (a /60 loses four bits), so
// RIOs are encoded here, and Conn implementations send the RA's bytes as
// they are rather than a parsed copy.
package ra
