// Package ra is the host side of Router Discovery on an uplink: it solicits
// and validates Router Advertisements and turns them into facts — default
// routers, prefixes, a SLAAC address, routes, MTU, DNS — for cpe/state.
//
// # Why not the kernel
//
// The box forwards IPv6, and Linux ignores RAs on an interface that
// forwards (accept_ra=1 only applies to hosts; accept_ra=2 would override
// that). We leave the kernel's RA processing off, and cpe/kernel should
// keep accept_ra=0 on uplinks so a lab run with forwarding off behaves the
// same. The RAs are processed here instead, because:
//
//   - every route and address on the box has one owner, the cpe/kernel
//     reconciler; routes the kernel installed on its own would be
//     "actual but not desired" and fight the plan;
//   - the plan needs the facts anyway: the RDNSS servers passed through to
//     the LANs, the prefix to share when there is no delegation (RFC 7278),
//     per-uplink routing tables and preferences for multihoming, which the
//     kernel's single main-table default route cannot express;
//   - the kernel does not keep RDNSS or DNSSL at all, and a Go state machine
//     with an injected clock can be tested through hours of lifetimes in
//     microseconds.
//
// The kernel still does what belongs to it: DAD on the addresses the plan
// installs (a failure comes back through Driver.DADFailed), neighbour
// discovery, and the ICMPv6 checksum.
//
// # Shape
//
// Receiver is a pure state machine. Every input is a call with the current
// time — Start, LinkUp, LinkDown, Receive (message bytes, source address,
// hop limit), Timer, DADFailed — and every output is an Output: Router
// Solicitations to send to ff02::2, the one deadline at which Timer wants
// to run, and the Facts when they changed. Randomness (the solicitation
// delay and jitter) comes from an injected source. Driver is the thin loop
// around it: a Conn (Listen opens a raw ICMPv6 socket through the ndp
// package on Linux), a Clock, link events, a callback for Facts and a
// Snapshot for "show wan".
//
// # Behaviour
//
// Solicitation (RFC 4861 6.3.7, RFC 7559): on Start and on LinkUp after
// LinkDown, the first RS goes out after a random 0–1 s, then two more 4 s
// apart; after that, instead of concluding there is no router, RSs go on
// with the interval doubling (±10 %) up to 3600 s, for as long as it takes.
// An RA with a non-zero router lifetime ends the round. When the last
// default router goes away (lifetime run out, or withdrawn with lifetime
// 0) a new round starts, never sooner than 4 s after the previous RS. Each
// RS carries our MAC as the Source Link-Layer Address; the socket binds
// the link-local address, so none is sent before DAD finished (RFC 7084
// W-2).
//
// Validation (RFC 4861 6.1.2): the source must be link-local, the hop
// limit 255, the message an RA with code 0 and at least 16 bytes, and
// every option must have a non-zero length that fits the packet; any
// failure drops the whole RA and is counted by reason in Counters. An
// option whose contents do not make sense is ignored on its own, as its
// RFC says (and as Linux does), and counted: a PIO with preferred >
// valid, for the link-local prefix or covering multicast (RFC 4862 5.5.3);
// a RIO with the reserved preference or a length that does not fit its
// prefix (RFC 4191 2.3); an MTU outside 1280..Config.LinkMTU (RFC 4861
// 6.3.4); an RDNSS or DNSSL that does not parse (RFC 8106). Unknown
// options are skipped.
//
// Facts: the default routers with lifetime and preference (RFC 4191; the
// reserved value counts as medium; lifetime 0 removes the router at once);
// M and O of the latest RA and the DHCPv6 hint they give (M: stateful,
// RFC 7084 WAA-6; O: information-only); prefixes of PIOs with L or A and
// their lifetimes (a PIO without L leaves an on-link entry's lifetimes
// alone, RFC 5942; valid lifetime 0 removes it); one SLAAC address per /64
// with A, its identifier an RFC 7217 stable opaque one (StableIID: from
// Config.SecretKey, the prefix, the interface name and the DAD counter;
// reserved identifiers skipped) or EUI-64; RFC 4862 5.5.3 e's two-hour
// rule for later valid lifetimes of that address; the MTU; RDNSS servers
// and DNSSL domains with their lifetimes (lifetime 0 removes); RIO routes
// per prefix and router, ::/0 included; the time of the last RA and the
// last error. Every entry goes when its lifetime runs out, and the
// Receiver's deadline is the next such expiry. Lists are bounded (8
// routers, 16 prefixes, 32 routes, 8 servers, 8 domains); what does not
// fit is counted as Overflow. Facts are handed out when anything but
// LastRA and LastError changed; both are always current in
// Receiver.Facts and Driver.Snapshot.
//
// Link down keeps the facts: their lifetimes run on, and a short carrier
// loss should not cost the uplink its address. DADFailed tries the next
// RFC 7217 DAD counter, up to IDGEN_RETRIES (3); an EUI-64 duplicate, or
// running out of retries, leaves the prefix without an address until it
// expires.
//
// ndp v1.1.0 reads only PrefixLength/8 whole bytes of a RIO's prefix (a
// /60 loses four bits), so the prefix is read from the option bytes here.
package ra
