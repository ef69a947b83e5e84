package dhcp4

// Counters count what the client sent and received, and every reply it
// dropped or trimmed, by reason. A packet is counted under the first reason
// that stops it; options that are ignored while the reply is still accepted
// (bad MTU, bad routes, bad timers) are counted as well.
type Counters struct {
	Received uint64 // payloads handed to Receive
	Sent     uint64 // packets returned for sending

	Offers uint64 // OFFERs accepted
	Acks   uint64 // ACKs accepted
	Naks   uint64 // NAKs acted upon

	Malformed     uint64 // not a DHCP message: truncated, bad cookie, options overrun
	NotReply      uint64 // op is not BOOTREPLY
	Unexpected    uint64 // a reply the current state has no use for (RFC 2131 figure 5 "discard")
	WrongXID      uint64
	WrongHWAddr   uint64 // chaddr is not ours
	WrongClientID uint64 // option 61 echoed (RFC 6842) but not ours
	NoMessageType uint64 // option 53 missing or unknown

	NoServerID    uint64 // OFFER without a usable server identifier: rejected
	BadLeaseTime  uint64 // lease time missing or zero: rejected
	BadAddress    uint64 // yiaddr not a usable unicast address for its subnet: rejected
	BadSubnetMask uint64 // mask not contiguous, zero or malformed: rejected
	BadTimers     uint64 // T1/T2 missing a sane order (T1 < T2 < lease): defaults used
	BadMTU        uint64 // option 26 outside 68..65535 or malformed: ignored
	BadRoutes     uint64 // option 121 malformed: ignored, option 3 used instead
	BadOption     uint64 // another option malformed (DNS, routers, domain, 108): ignored
}
