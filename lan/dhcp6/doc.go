// Package dhcp6 owns the DHCPv6 server of a LAN segment (RFC 8415): the
// stateless answers (DNS servers, domain list), the IA_NA bindings of the
// segment's /64s, and the IA_PD bindings that delegate prefixes out of the
// LAN prefix plan's pools to routers on the segment (RFC 9818).
//
// # Engine and driver
//
// Server is pure: Handle takes the time, the message bytes, the incoming
// interface and source, and returns the Reply to send or nil. It reads no
// clock, opens no socket and writes no file. One Server serves one segment
// (Config.Interface) and drops what comes from any other interface or from
// anything but a link-local address, so a LAN's pools can never be handed
// out on the WAN or through a relay. Update gives it a new Config (a new
// prefix plan, new DNS servers) without losing bindings; it is safe to call
// while packets are being handled.
//
// Driver is the thin part: Run(ctx) reads an injected Conn, hands packets
// to the Server, sends the replies, reclaims expired bindings on time,
// reports the delegated prefixes (OnRoutes) whenever they change, and saves
// the bindings through OnPersist at most once per PersistEvery while they
// change. NewConn is the Linux Conn: UDP [::]:547 bound to the interface
// with SO_BINDTODEVICE, joined to ff02::1:2 there, replies unicast to the
// client's link-local address and port.
//
// # Behaviour
//
// Client messages are checked as RFC 8415 16 says (a Client Identifier
// where required, a Server Identifier where required and equal to ours,
// none where forbidden); anything else, and every server-only or relay
// message, is dropped without an answer. The server identifier is one
// DUID kept in the state directory for ever and shared by all segments.
//
// Solicit is answered with an Advertise holding what a Request would get;
// with Rapid Commit it is answered with a committed Reply at once (RFC 8415
// 18.3.1). What the bindings are:
//
//   - IA_NA: one address in each of the segment's /64s (delegated and ULA),
//     all with the same interface identifier, chosen by hashing the DUID
//     and IAID (the same host gets the same address after a reboot or a
//     renumbering) and probing further on a collision, a declined address
//     or a low identifier (::1 is the router's). Lifetimes are those the
//     /64 is advertised with (prefix.Assigned.Lifetimes), so they never
//     exceed the delegation's.
//   - IA_PD: one prefix of the configured length from each pool of the plan
//     (one per uplink delegation), stable per segment, DUID and IAID (the
//     pool key is "<segment>/<DUID hex>/<IAID hex>", so segments sharing
//     the pools never take each other's bindings) as long as the
//     delegation stays, kept slot for slot across renumbering by the pool. Lifetimes are the pool's (prefix.PDPool.Lifetimes). A
//     delegated prefix is routed to the requester's link-local address
//     (Routes) while its binding is committed and valid.
//
// T1 and T2 are 0.5 and 0.8 of the shortest preferred lifetime given in the
// IA (RFC 8415 21.4). An IA that gets nothing is answered with NoAddrsAvail
// or NoPrefixAvail inside it; an Advertise in which no IA gets anything
// carries only a top-level NoAddrsAvail (RFC 8415 18.3.1). An offer holds
// its address or prefix for OfferHold (60 s).
//
// Renew and Rebind extend the binding and add what new pools or /64s
// offer; what the client lists that it no longer gets (the /64 or the
// delegation went away, or it was another's) is returned with lifetimes 0,
// so it stops using it at once (RFC 8415 18.3.4, 18.3.5); a delegated
// prefix whose delegation went away or that a segment now needs stops
// being routed at once and is returned with lifetimes 0 in the client's
// next Reply. A binding the server has no record of is recreated when what
// the client holds is still free; otherwise Renew gets NoBinding, and
// Rebind gets NoBinding or, when what it holds is plainly not on this
// link, lifetimes 0. A Rebind goes to all servers, so its IAs of a kind
// this server does not hand out are left alone. Bindings loaded from the
// state directory whose delegation is not known yet (the uplink is still
// coming up) are answered with the lifetimes they had, not extended, and
// are not routed until their pool appears.
//
// Release frees what it lists; Decline quarantines the interface identifier
// of the declined address for DeclineHold (1 h) and drops the binding, so
// the next Solicit gets another one; both answer NoBinding for unknown IAs
// (RFC 8415 18.3.7, 18.3.8). Confirm is answered Success when every listed
// address is in one of the segment's /64s, NotOnLink otherwise, and not at
// all when it lists none (RFC 8415 18.3.3). Information-request is
// answered when Config.Stateless is set.
//
// Advertise and Reply to Solicit, Request, Renew, Rebind and
// Information-request always carry the DNS servers (option 23) and domain
// list (option 24) when there are any, asked for in the ORO or not, as
// most servers do; Information Refresh Time only when asked for. Replies
// to Release, Decline and Confirm, and an Advertise with nothing to offer,
// carry a status only.
//
// Each client (DUID; the source address when there is none) has a token
// bucket (10/s, burst 20); a DUID holds at most MaxIAs IAs of each type, a
// server at most MaxBindings bindings and 1024 quarantined identifiers, so
// forged DUIDs cannot grow its memory without bound. Expired offers,
// bindings and quarantines are reclaimed from a heap ordered by expiry.
//
// Not done: relayed messages (Relay-forw) and IA_TA are not served;
// Reconfigure is never sent; the Server Unicast option is never sent, so
// clients always multicast and UseMulticast is never needed.
package dhcp6
