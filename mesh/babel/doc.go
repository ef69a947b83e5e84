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
// IHU schedule, split horizon on wired links, HMAC packet counters kept
// apart for multicast and unicast. Departures: every call's output is sent
// at once rather than after a flush delay; an IHU goes out as soon as a
// neighbour becomes reachable or unreachable; a node that starts without
// its saved seqno takes the seqno its neighbours request for a few
// minutes, instead of staying silent (babeld) or being disbelieved until
// their source entries age; and an unfeasible update of a selected route
// is always answered with a seqno request, which makes that jump happen.
package babel
