// Package firewall owns the box's nftables tables, "inet cpe" (filter) and
// "ip cpe_nat" (NAT44): Build turns zones and policy into a pure Ruleset,
// and an Applier loads it over netlink without touching any other table.
//
// Modes. Every LAN segment is stateful or open. Stateful is the default
// because RFC 6092 (REC-11, REC-48) asks a CE router to let in only answers
// to sessions started inside, ICMPv6 errors (Packet Too Big above all, RFC
// 4890) and explicit pinholes: hosts on a home LAN get public IPv6 addresses
// and were often never meant to be reachable. Open is RFC 6092's transparent
// mode, for a user who runs servers or their own firewalls. Prefixes
// delegated onwards to routers on a LAN (RFC 9818) are open by default: the
// downstream router asked for a prefix to run its own network and firewall.
//
// What is always enforced. BCP 38: a packet forwarded from a LAN must come
// from that segment's prefixes or subnet (or a prefix delegated through it);
// from an uplink it must not claim one of our prefixes or a bogon source.
// The default bogons leave the documentation ranges, RFC 1918 and shared
// address space alone, since labs and many access networks use them. The box
// itself opens no TCP port; it answers DHCP as client on uplinks and server
// on LANs, neighbour discovery on-link only (hop limit 255) and
// rate-limited echo. TCP SYNs are clamped to the route MTU in both
// directions, as PPPoE and tunnels shrink it. IPv6 is never translated.
//
// Every rule counts; every drop goes through a chain per reason with a named
// counter and an optional rate-limited log, so `show firewall` can say why.
//
// Renumbering. Everything that a new prefix, uplink address or pinhole
// changes lives in named sets; the Applier then changes just those elements
// in one transaction and leaves rules (and their handles) alone. Pinholes to
// one address, protocol and port, the usual kind, live in a set without
// intervals, which the kernel keeps in a hash: adding or removing one costs
// the same however many there are. Any other change deletes and recreates
// our tables inside one transaction, so there is never a moment without a
// firewall. Flow offload is probed once; when the kernel
// cannot do flowtables the Applier leaves them out and says why.
package firewall
