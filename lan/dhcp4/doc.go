// Package dhcp4 owns the DHCPv4 server of a LAN segment: the lease table
// of its IPv4 subnet (the NAT44 fallback) and the RFC 2131 server side of
// DISCOVER, REQUEST, DECLINE, RELEASE and INFORM.
//
// # Engine and driver
//
// Server is pure: Handle takes the time, the message bytes, the incoming
// interface and source, and returns the Reply to send (bytes and how to
// address them) or nil. It reads no clock, opens no socket and writes no
// file. One Server serves one segment (Config.Interface) and drops what
// comes from any other interface, so a LAN's pool can never answer on the
// WAN or on another LAN even if a socket is misconfigured; the box runs one
// Server and one Driver per LAN with DHCPv4.
//
// Driver is the thin part: Run(ctx) reads an injected Conn, hands packets
// to the Server on the receiving goroutine, sends the replies and saves the
// table through OnPersist at most once a second while it changes (and
// once more at the end). NewConn is the Linux Conn: a UDP socket on port 67
// bound to the interface with SO_BINDTODEVICE, SO_BROADCAST, and IP_PKTINFO
// on send so replies come from the router address.
//
// # Behaviour
//
// Client identity is option 61 when present, else hardware type + chaddr.
// DISCOVER is answered (RFC 2131 4.3.1) with, in order: the static
// address of a known MAC (a static host always gets its address, even over
// a previous dynamic lease); the client's current or previous address if
// still free; the requested address (option 50) if free; the lowest free
// pool address. The address is reserved for OfferHold (30 s). With the
// pool exhausted the DISCOVER goes unanswered and a warning is logged once
// per episode.
//
// REQUEST (RFC 2131 4.3.2): SELECTING with our server identifier is ACKed
// when the address may be given to the client, else NAKed; with another
// server's identifier our reservation is dropped silently. INIT-REBOOT is
// ACKed when the address is the client's, NAKed when it is off the subnet,
// another client's or not the one we hold for the client, and met with
// silence when we have no record of the client and the address is free.
// RENEWING and REBINDING extend the lease; a free pool address is granted
// to a client we have no record of, so a lost lease file does not
// renumber the LAN. ACKs carry subnet mask, router, broadcast address,
// DNS, domain and MTU when configured, lease time, T1 (1/2) and T2 (7/8),
// the server identifier, the client identifier echoed (RFC 6842) and the
// relay agent option echoed (RFC 3046).
//
// DECLINE by the holder quarantines the address for DeclineHold (1 h);
// forged DECLINEs for someone else's address are ignored; a declined
// static address is only logged. RELEASE frees the address but keeps the
// record, so the client gets it back while nobody else took it. INFORM is
// ACKed with the options and no lease.
//
// Replies are addressed by RFC 2131 4.1: to the relay (giaddr) when there
// is one; NAKs broadcast; to ciaddr when set; broadcast when the client
// set the BROADCAST bit; else to yiaddr at chaddr (DestHW), which the Linux
// Conn broadcasts since the client cannot answer ARP yet.
//
// Each client has a token bucket (Rate, Burst: 10/s, 20); excess is
// dropped and counted. Expired offers, leases and quarantines are
// reclaimed lazily, from a heap ordered by expiry, on the next call.
//
// # Cost
//
// Free pool addresses live in a bitmap with summary levels (lowest free in
// O(log64 n)); bindings are in maps by client and by address. Nothing is
// O(pool) per message; see BenchmarkDORA. State and Load carry the table
// as JSON; offers are not saved.
//
// Not done: relayed requests are served only when giaddr is in our own
// subnet (no shared networks); no ICMP echo probe before offering (RFC
// 2131 4.3.1 SHOULD), the DECLINE path covers conflicts; option 52
// overload and the client's maximum message size are not used, replies
// are small.
package dhcp4
