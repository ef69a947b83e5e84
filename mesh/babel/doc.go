// Package babel owns the Babel routing protocol (RFC 8966, with RFC 8967
// MAC authentication, RFC 9079 source-specific routes and RFC 9229 IPv4
// via IPv6 next hops): its wire format (tlv.go, parse.go, builder.go,
// mac.go: packets to TLVs and back) and Engine, the protocol state of one
// node, pure and driven by the caller's clock. mesh/router runs an Engine
// on real sockets.
//
// Choices the RFCs leave open follow babeld, the reference
// implementation, unless said otherwise: ETX and 2-out-of-3 as babeld
// computes them, smoothed-metric hysteresis, triggered update thresholds,
// intervals drawn between 3/4 and 5/4 of the configured ones, split
// horizon on wired links, HMAC packet counters kept apart for multicast
// and unicast. Departures: every call's output is sent at once rather
// than after a flush delay, but the periodic full update and the IHUs
// ride on a scheduled Hello, whose timing is drawn with the update's,
// and every Hello, IHU and Update announces the interval actually drawn
// (babeld announces the nominal one and may come later); an IHU goes out
// as soon as a neighbour becomes reachable or unreachable; when the
// selected route is lost the shortest feasible one replaces it, whatever
// the smoothed metrics say; a forwarded seqno request follows the route
// when it changes, one that cannot be forwarded yet is held, and a
// requester's resend is not taken for a duplicate of the first; a node
// that starts without its saved seqno takes the seqno its neighbours
// request for a few minutes, instead of staying silent (babeld) or being
// disbelieved until their source entries age; and an unfeasible update
// of a selected route is always answered with a seqno request, which
// makes that jump happen.
package babel
