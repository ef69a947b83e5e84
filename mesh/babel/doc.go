// Package babel owns the Babel routing protocol (RFC 8966, with RFC 8967
// MAC authentication, RFC 9079 source-specific routes and RFC 9229 IPv4
// via IPv6 next hops). The files tlv.go, parse.go, builder.go and mac.go
// are its wire format: packets to TLVs and back, no protocol state.
package babel
