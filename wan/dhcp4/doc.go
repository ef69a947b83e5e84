// Package dhcp4 owns the DHCPv4 client of a WAN uplink: the RFC 2131 state
// machine that gets, keeps and gives back an IPv4 lease, and the facts
// (address, routes, DNS, MTU, timers) it learns for the planner.
//
// # Engine and driver
//
// Client is a pure state machine. Its inputs are Start, Receive (a DHCP
// payload), Timer, LinkUp, LinkDown, ForceRenew, Decline and Release, each
// with the current time; each returns an Output: packets to send (broadcast, or
// unicast to the server), the next deadline, the facts when they changed and
// the lease to save when that changed. It reads no clock, opens no socket
// and writes no file, so tests drive days of lease time in microseconds.
//
// Driver is the thin part with goroutines: Run(ctx) feeds a Client from an
// injected Conn and Clock and reports through OnLease and OnPersist. NewConn
// is the Linux Conn: an AF_PACKET socket, since replies must be received
// before the interface has an address, plus a UDP socket for unicasts.
//
// # Behaviour
//
// Acquisition: DISCOVER, the first acceptable OFFER, REQUEST, ACK, BOUND.
// DISCOVER and the REQUESTs of SELECTING and INIT-REBOOT are broadcast with
// the BROADCAST flag set and retransmitted after 4 s, 8 s, ... up to 64 s, each ±1 s (RFC 2131 4.1);
// DISCOVER forever, REQUEST four times (about 60 s, RFC 2131 3.2) before
// starting over. The lease starts when the answered REQUEST was sent.
//
// T1 and T2 come from options 58 and 59 when T1 < T2 < lease, otherwise
// they are 0.5 and 0.875 of the lease. At T1 the client unicasts REQUESTs
// to the server (RENEWING), at T2 it broadcasts them (REBINDING),
// retransmitting after half the time left to T2 or to expiry, at least 60 s
// (RFC 2131 4.4.5). At expiry the facts are withdrawn and the client starts
// over from INIT.
//
// A saved, unexpired lease given to Start, or the lease in hand at LinkUp,
// is verified with INIT-REBOOT: a broadcast REQUEST with the address as
// requested address and no server identifier. An ACK binds; a NAK withdraws
// it; four unanswered REQUESTs lead back to INIT, and the DISCOVER then
// suggests the old address. RFC 2131 3.2 would let the client keep using
// the address; this client does not publish one no server confirmed, but a
// lease already published before a link flap stays until it expires.
//
// Any NAK to a REQUEST withdraws the lease and the saved copy and restarts
// from INIT after 1 s plus up to 1 s of jitter, doubling with consecutive
// NAKs up to 64 s.
//
// Replies must be BOOTREPLY with our xid and chaddr, an echoed client
// identifier (RFC 6842) equal to ours and a message type. OFFER and ACK need
// a usable unicast yiaddr that is not its subnet's network or broadcast
// address, a non-zero lease time, a contiguous mask (classful when absent)
// and, for an OFFER, a server identifier. Malformed options are dropped one
// by one: option 121 (RFC 3442) replaces option 3 when valid and is
// ignored as a whole when not; an MTU outside 68..65535 is ignored. Every
// dropped packet and ignored option is counted in Counters, and nothing a
// packet holds can make the engine panic (FuzzReceive).
//
// The client identifier (option 61) is the RFC 4361 form (ClientIDFromDUID)
// when the caller passes the DUID and IAID kept for DHCPv6, otherwise type 1
// and the MAC. With IPv6OnlyPreferred, option 108 is requested and an OFFER
// (or an INIT-REBOOT ACK) carrying it stops DHCPv4 for its V6ONLY_WAIT, at
// least 300 s, or until LinkUp (RFC 8925); without it the value is only
// recorded in the facts.
//
// Release sends a DHCPRELEASE and stops; it is meant for an uplink removed
// from the config, never for a restart.
//
// Decline sends a DHCPDECLINE and starts over after 10 s (RFC 2131 3.1).
// The engine cannot tell that an address is in use: the ARP probe of RFC
// 2131 4.4.1 needs the link, so it is the driver's job, and the driver has
// none yet: an ACK is trusted as is.
//
// Not done: option overload (52) is not decoded; only the first acceptable OFFER is considered; the
// 1 to 10 s random delay before the first DISCOVER (RFC 2131 4.4.1) is left
// out, boot time already spreads CPEs apart and the retransmission jitter
// keeps them apart.
package dhcp4
