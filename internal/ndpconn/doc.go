// Package ndpconn owns what the Router Discovery sockets of uplinks and LAN
// segments share: an ICMPv6 socket bound to the interface's link-local
// address once DAD has finished, reporting the hop limit of what it reads.
// It is Linux-only; elsewhere the package is empty and callers stub Listen.
package ndpconn
