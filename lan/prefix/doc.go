// Package prefix owns the IPv6 addressing of the LAN segments: which /64 of
// every delegated prefix (and of the ULA) each segment gets, the lifetimes
// those /64s are advertised with, the stale /64s still to be deprecated, and
// the pools left over for delegating prefixes to routers on the LAN.
//
// It is pure: the caller passes segments, delegations and the time, and saves
// the State it gets back. The rules applied:
//
//   - RFC 7084 L-2, L-3: a /64 per segment out of every delegated prefix; the
//     segment's subnet index is stable across reboots and renumbering (it is
//     persisted by segment name), and the same index is used in every
//     delegation and in the ULA. A delegation too small for all segments, or
//     a configured subnet_id that does not fit, is reported, never silently
//     truncated. Adding a segment never moves another; a removed segment's
//     index is not reused until its /64s have finished being stale.
//   - RFC 7084 WPD-5: a delegation longer than /64 yields no LAN prefix
//     (reported).
//   - RFC 7084 ULA-1..ULA-4 and RFC 4193 3.2: GenerateULA makes a /48 from
//     fd00::/8 and 40 random bits, once; the caller keeps it in State.
//   - RFC 9096 L-13: advertised lifetimes are never longer than the remaining
//     lifetimes of the delegation they come from, and are capped at
//     ND_PREFERRED_LIMIT (2700 s) and ND_VALID_LIMIT (5400 s); the ULA uses
//     the same caps.
//   - RFC 9096 L-14 and RFC 7084 L-13: a /64 that was advertised but is no
//     longer (renumbering, uplink removed, lease expired, segment removed)
//     is stale: advertised with preferred 0 and valid 0 at once, and kept
//     for StaleHold (2 h), across reboots through State.
//   - RFC 8475: the /64s from an uplink that is down are deprecated
//     (preferred 0) while still valid.
//   - RFC 9818 / RFC 7084 WPD-6: the part of each delegation no segment uses
//     is a PDPool from which prefixes are delegated to LAN clients, stably
//     per client id.
package prefix
