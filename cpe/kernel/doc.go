// Package kernel reads and reconciles the kernel's network state (links,
// addresses, routes, policy rules, sysctls) over netlink: the rest of the box
// computes a Desired state and an Applier makes the kernel match it.
//
// # What the Applier owns
//
// The box shares the kernel with whatever else runs on it (a lab's ip
// commands, a routing daemon, the kernel itself), so the Applier changes only
// what is marked as its own:
//
//   - Routes and policy rules carrying RouteProtocol (0xce, 206) in their
//     protocol field. Neither the kernel's rtnetlink.h nor iproute2's
//     rt_protos gives 206 a meaning, so no routing software marks its routes
//     with it. `ip route show table all proto 206` lists exactly the routes
//     the box installed; `ip rule show` marks its rules "proto 206".
//   - Addresses on the links it manages: the links named in Desired (in Links
//     or by an Address) and the links of addresses it put in place earlier.
//     On those links the addresses the kernel makes by itself are left alone:
//     IPv6 and IPv4 link-local addresses, loopback addresses, temporary
//     (privacy) addresses and point-to-point addresses, unless Desired names
//     them. Run managed links with kernel SLAAC off (accept_ra 0), as the
//     planner does, since the kernel's SLAAC addresses would be taken for
//     stale ones of the box.
//   - The sysctls and the link settings (MTU, up/down) named in Desired; a
//     name that leaves Desired keeps its last value. Links are never created
//     or deleted here.
//
// # Order of changes
//
// A plan adds before it deletes, so traffic never falls into a gap: sysctls,
// link MTU and up, address adds and replaces, route adds and replaces, rule
// adds, then rule deletes, route deletes, address deletes and links down. A
// route whose next hop or type changes is replaced in one message; an IPv6
// address whose lifetimes change is replaced in place, keeping its
// connections.
//
// # When the kernel is read
//
// Apply reads the whole owned part of the kernel before it changes
// anything, unless it may trust what it saw last: the Applier listens to
// the kernel's notifications of link, address, route and rule changes (a
// netlink socket it drains only when applying), and applying the same
// Desired again, with nothing heard, no address lifetime in it run out and
// less than five minutes since the last full read, reads and changes
// nothing. The notifications of its own route changes are no news; those of
// its other changes make the next Apply read once more. Sysctls send no
// notifications: one changed behind the box's back is set again within
// those five minutes.
package kernel
