// Package dhcp6 is the DHCPv6 client of an uplink: it obtains an address
// (IA_NA) and a delegated prefix (IA_PD), or only DNS, and keeps them.
//
// # Shape
//
// Client is a pure state machine (RFC 8415 18.2). Every input is an event
// with the current time — Start, Receive, Timer, LinkDown, LinkUp,
// ForceRenew, Release — and every output is an Output: encoded messages
// with their destination, the one deadline at which Timer wants to run, the
// Lease facts when they changed and the Persist value when what must be
// saved changed. It owns no socket, clock, goroutine or file; randomness
// (transaction ids, jitter, delays) comes from an injected source, so a
// seeded test gets the same bytes and times every run.
//
// Driver is the thin loop around it: a Conn (Listen opens [::]:546 bound
// to the interface on Linux), a Clock, and callbacks for Lease and
// Persist. The caller saves Persist in the state directory and hands it
// back to New on the next start.
//
// # Behaviour
//
// Start: a saved binding that has not expired is rebound at once (Rebind,
// after 0–1 s, with Confirm's timers: 1 s doubling to 4 s, given up after
// 10 s — RFC 8415 18.2.12; Confirm only covers addresses, IA_PD needs
// Rebind). When nobody answers, the client falls back to the saved T1/T2:
// Bound until T1, Renew until T2, Rebind until the leases expire. Without a
// binding it sends Solicit after a random 0–1 s (SOL_MAX_DELAY). Link up
// after link down does the same. A restart never sends Release (RFC 9096
// WPD-9); Release is only for an uplink removed from the configuration,
// and withdraws the leases from the facts before it is sent.
//
// Solicit asks for IA_NA and IA_PD together (RFC 7084 WPD-4), each as
// configured, with the prefix-length hint as an IA Prefix ::/hint (WPD-2)
// and Rapid Commit when configured. Retransmission follows RFC 8415 15
// with RAND in [-0.1, +0.1]: Solicit 1 s doubling to SOL_MAX_RT 3600 s (or
// a server's SOL_MAX_RT option within 60..86400 s), the first RT strictly
// above 1 s; Request 1 s to 30 s, 10 transmissions; Renew and Rebind 10 s
// to 600 s, Renew until T2, Rebind until the last valid lifetime;
// Information-request 1 s to INF_MAX_RT 3600 s; Release 1 s, 4
// transmissions. Every message carries Elapsed Time.
//
// Advertise messages without any address or prefix are ignored (RFC 8415
// 18.2.9) apart from their SOL_MAX_RT. Preference 255 is requested at
// once; otherwise the client collects until the first RT ends and picks
// the Advertise offering more of the wanted IAs, then the higher
// preference, then the earliest. After the first RT, any usable Advertise
// is acted on at once. The Request asks for every wanted IA, also those the
// server did not offer (RFC 7550).
//
// Replies: a status UseMulticast drops the Server Unicast address and
// resends at once by multicast; any other failure status at message level
// (UnspecFail, ...) is recorded and the message retransmitted on schedule.
// Per IA: NoAddrsAvail or NoPrefixAvail keep what the other IA gave (RFC
// 7550); the missing IA is asked for again, empty, in every Renew and
// Rebind. NoBinding in a Reply to Renew or Rebind sends a Request for that
// IA to the server that answered. Leases with valid lifetime 0 are removed;
// leases not in the Reply stay as they were; leases with preferred >
// valid are dropped (RFC 8415 21.6, 21.22). A Reply with none of our IAs
// is treated as not received. A Rebind may be answered by another server,
// which becomes ours. A Request whose Reply grants nothing, or that gets
// no Reply, restarts Solicit with a backoff (1 s doubling to SOL_MAX_RT).
//
// T1 and T2 are the server's when both are non-zero; when either is 0 they
// are 0.5 and 0.8 of the shortest preferred lifetime in the IA (RFC 8415
// 21.4), at least 1 s. With both IAs, the earliest T1 and T2 of the IAs in
// the last Reply apply to the whole binding. An IA with T1 > T2 is a
// deliberate departure from RFC 8415 21.4/21.21, which say to discard it:
// its leases are kept and its timers replaced by the defaults (counted in
// Counters.BadTimers), since dropping a delegated prefix over a server's
// timer bug costs the household more than renewing on our own schedule.
// Each lease expires on its own at its valid lifetime; when none is left
// the facts are withdrawn and Solicit starts again.
//
// Prefix hint: when a server answers a hinted IA_PD with no prefix
// (NoPrefixAvail or nothing) the hint is recorded as refused (Lease.
// HintRefused, Persist.RefusedHint) and the next Solicit — at once, when no
// other Advertise is usable — goes without it; some ISPs refuse any hint.
// A changed configured hint is tried again. Servers that drop hinted
// Solicits silently are not detected.
//
// Checks on every received message (RFC 8415 16): transaction id of the
// running exchange, our Client Identifier, a Server Identifier (the one we
// addressed for Request, Renew and Release), our IAIDs. Reconfigure is
// discarded (never offered). Addresses or prefixes that cannot be leases
// (link-local, multicast, ::/0, v4-mapped) are dropped; prefixes longer
// than /64 are kept and flagged TooLong. Counters counts every packet by
// outcome and every dropped part. Malformed input never panics: identifier,
// IA, status and preference options must parse or the message is dropped;
// other options that fail to parse are skipped.
//
// Server Unicast (RFC 8415 21.12, deprecated by RFC 9915) is honoured for
// Request, Renew and Release until a UseMulticast; Solicit, Rebind and
// Information-request always go to ff02::1:2.
//
// Identity: a DUID-LL from the interface MAC (RFC 8415 11.4: it depends
// on nothing else, so even a wiped state directory gives the same identity
// back) and IAIDs from the MAC's last four bytes, made once and kept
// through Persist (RFC 9096 WPD-10). Without a MAC, a random DUID-UUID and
// IAID, kept the same way. Times are absolute (a lifetime of 0xffffffff
// lands 136 years ahead); saved leases are read against the wall clock, so
// a box that boots with a wrong clock rebinds with odd lifetimes until the
// server's Reply corrects them.
//
// Stateless (Information-only, or no IA wanted): Information-request after
// 0–1 s for DNS servers (option 23) and domains (24), refreshed after the
// Information Refresh Time (default 86400 s, at least 600 s).
package dhcp6
