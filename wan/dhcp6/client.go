package dhcp6

import (
	"bytes"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
)

// Client is the DHCPv6 client state machine of one uplink. It is pure:
// every method takes the current time, returns what to send and when to be
// called again, and touches no socket, clock or file. It is not safe for
// concurrent use; the Driver serialises calls.
type Client struct {
	cfg    Config
	rnd    RandSource
	duid   DUID
	iaidNA [4]byte
	iaidPD [4]byte
	// refusedHint is the hint length a server refused (0: none).
	refusedHint int

	started  bool
	state    State
	since    time.Time
	linkDown bool
	lease    Lease      // facts; State and Since are filled in on output
	unicast  netip.Addr // Server Unicast address of our server, if any

	x         *exchange
	adverts   []advert
	solMaxRT  time.Duration
	infMaxRT  time.Duration
	refreshAt time.Time // stateless: next Information-request
	failures  int       // discovery restarts since the last binding, for backoff

	counters    Counters
	out         Output
	lastLease   Lease
	lastPersist Persist
}

// advert is a usable Advertise collected while soliciting.
type advert struct {
	server  DUID
	pref    uint8
	na, pd  iaIn
	unicast netip.Addr
}

// New makes a client. A Persist without a valid DUID gets a new identity
// (DUID-LL from the MAC, IAIDs from its last four bytes), handed out with the
// first Output for the driver to save.
func New(o Options) (*Client, error) {
	cfg := o.Config
	if cfg.PrefixHint < 0 || cfg.PrefixHint > 128 {
		return nil, fmt.Errorf("dhcp6: prefix hint /%d out of range", cfg.PrefixHint)
	}
	rnd := o.Rand
	if rnd == nil {
		var seed [32]byte
		_, _ = crand.Read(seed[:]) // never fails on Linux (Go 1.24+ crashes instead)
		rnd = rand.NewChaCha8(seed)
	}
	c := &Client{cfg: cfg, rnd: rnd, solMaxRT: solMaxRT, infMaxRT: infMaxRT,
		lastPersist: o.Persist.Clone(), lastLease: Lease{}}
	p := o.Persist
	if validDUID(p.DUID) {
		c.duid = slices.Clone(p.DUID)
		binary.BigEndian.PutUint32(c.iaidNA[:], p.IAIDNA)
		binary.BigEndian.PutUint32(c.iaidPD[:], p.IAIDPD)
	} else {
		c.newIdentity(o.HardwareAddr)
	}
	if cfg.PrefixHint > 0 && p.RefusedHint == cfg.PrefixHint {
		c.refusedHint = p.RefusedHint
		c.lease.HintRefused = true
	}
	if p.Lease != nil && !cfg.stateless() && validDUID(p.Lease.ServerID) {
		l := p.Lease.binding()
		if !cfg.IANA {
			l.Addresses = nil
		}
		if !cfg.IAPD {
			l.Prefixes = nil
		}
		if l.Bound() {
			l.HintRefused = c.lease.HintRefused
			c.lease = l
		}
	}
	return c, nil
}

// validDUID checks the shape RFC 8415 11.1 gives a DUID: a 2-byte type and
// at most 128 bytes of identifier.
func validDUID(d []byte) bool {
	return len(d) >= 3 && len(d) <= 130 && (d[0] != 0 || d[1] != 0)
}

// newIdentity makes the DUID and IAIDs. DUID-LL (RFC 8415 11.4) rather than
// DUID-LLT: it depends on nothing but the MAC, so even a wiped state
// directory brings back the same identity and, with it, the same prefix.
// IAIDs are the MAC's last four bytes for the same reason (one IA of each
// type: RFC 8415 12 only asks IAIDs to be unique per type).
func (c *Client) newIdentity(mac []byte) {
	var hw uint16
	switch len(mac) {
	case 6:
		hw = uint16(iana.HWTypeEthernet)
	case 8:
		hw = 27 // EUI-64
	}
	if hw != 0 {
		c.duid = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, uint16(dhcpv6.DUID_LL)), hw)
		c.duid = append(c.duid, mac...)
		copy(c.iaidNA[:], mac[len(mac)-4:])
		c.iaidPD = c.iaidNA
		return
	}
	// No MAC (PPP, tunnels): a random DUID-UUID (RFC 6355), kept forever
	// through Persist.
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], c.rnd.Uint64())
	binary.BigEndian.PutUint64(u[8:], c.rnd.Uint64())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	c.duid = append(binary.BigEndian.AppendUint16(nil, uint16(dhcpv6.DUID_UUID)), u[:]...)
	binary.BigEndian.PutUint32(c.iaidNA[:], uint32(c.rnd.Uint64()))
	c.iaidPD = c.iaidNA
}

// Counters returns the packet counters.
func (c *Client) Counters() Counters { return c.counters }

// State returns where the client is.
func (c *Client) State() State { return c.state }

// Lease returns the current facts.
func (c *Client) Lease() Lease { return c.current() }

// Persist returns what must be saved now.
func (c *Client) Persist() Persist { return c.persistValue() }

// Start begins: Rebind for a saved binding that has not expired (RFC 8415
// 18.2.12: a restart may have moved us; IA_PD wants Rebind, not Confirm),
// otherwise Solicit (or Information-request) after the random initial delay.
func (c *Client) Start(now time.Time) Output {
	if c.started && c.state != StateReleased {
		return c.finish(now)
	}
	c.started = true
	c.dropExpired(now)
	c.begin(now, true)
	return c.finish(now)
}

// begin picks the first exchange after start or link up.
func (c *Client) begin(now time.Time, delayed bool) {
	d := func(max time.Duration) time.Duration {
		if !delayed {
			return 0
		}
		return c.jitter(max)
	}
	switch {
	case c.linkDown:
		c.x = nil
		c.setState(now, StateLinkDown)
	case c.cfg.stateless():
		c.startInform(now, d(infMaxDelay))
	case c.lease.Bound():
		c.startConfirm(now, d(cnfMaxDelay))
	default:
		c.startSolicit(now, d(solMaxDelay))
	}
}

// Timer handles the deadline the last Output asked for. Calling it early is
// harmless.
func (c *Client) Timer(now time.Time) Output {
	return c.finish(now)
}

// LinkDown stops all sending; leases are kept until they expire.
func (c *Client) LinkDown(now time.Time) Output {
	if c.linkDown {
		return c.finish(now)
	}
	c.linkDown = true
	c.adverts = nil
	if c.state == StateReleasing {
		c.x = nil
		c.setState(now, StateReleased)
	} else if c.started && c.state != StateReleased {
		c.x = nil
		c.setState(now, StateLinkDown)
	}
	return c.finish(now)
}

// LinkUp resumes after LinkDown: Rebind what we hold (RFC 8415 18.2.12,
// with Confirm's timers), else start over.
func (c *Client) LinkUp(now time.Time) Output {
	if !c.linkDown {
		return c.finish(now)
	}
	c.linkDown = false
	if c.started && c.state != StateReleased {
		c.dropExpired(now)
		c.begin(now, true)
	}
	return c.finish(now)
}

// ForceRenew starts a Renew now (the console's "renew wan N"): Rebind past
// T2, Solicit or Information-request when nothing is held.
func (c *Client) ForceRenew(now time.Time) Output {
	if !c.started || c.linkDown || c.state == StateReleased || c.state == StateReleasing {
		return c.finish(now)
	}
	switch {
	case c.cfg.stateless():
		c.startInform(now, 0)
	case c.lease.Bound():
		c.renewOrRebind(now)
	default:
		c.failures = 0
		c.startSolicit(now, 0)
	}
	return c.finish(now)
}

// Release gives the leases back to the server. Only for an uplink removed
// from the configuration: never on restart (RFC 9096 WPD-9). The leases are
// withdrawn from the facts at once (RFC 8415 18.2.7: stop using them before
// releasing); the client then stays released until Start.
func (c *Client) Release(now time.Time) Output {
	c.adverts = nil
	c.x = nil
	held := c.lease
	c.lease = Lease{HintRefused: held.HintRefused, LastError: held.LastError, LastErrorAt: held.LastErrorAt}
	if !c.started || c.linkDown || !held.Bound() || len(held.ServerID) == 0 {
		c.setState(now, StateReleased)
		return c.finish(now)
	}
	c.setState(now, StateReleasing)
	c.newExchange(now, &exchange{typ: dhcpv6.MessageTypeRelease, purpose: forRelease,
		irt: relTimeout, mrc: relMaxRC, server: held.ServerID,
		wantNA: len(held.Addresses) > 0, wantPD: len(held.Prefixes) > 0,
		askNA: held.Addresses, askPD: held.Prefixes, unicast: c.unicast.IsValid()}, 0)
	return c.finish(now)
}

// Receive handles a packet from the uplink.
func (c *Client) Receive(now time.Time, b []byte, from netip.AddrPort) Output {
	c.receive(now, b, from)
	return c.finish(now)
}

func (c *Client) receive(now time.Time, b []byte, from netip.AddrPort) {
	c.counters.Received++
	if len(b) < dhcpv6.MessageHeaderSize {
		c.counters.Malformed++
		return
	}
	switch dhcpv6.MessageType(b[0]) {
	case dhcpv6.MessageTypeAdvertise, dhcpv6.MessageTypeReply:
	case dhcpv6.MessageTypeReconfigure:
		// Without Reconfigure Accept and authentication a client MUST
		// discard it (RFC 8415 18.2.11); we never offer either.
		c.counters.Reconfigure++
		return
	default:
		c.counters.WrongType++ // including relay messages: never sent to a client
		return
	}
	in, err := c.decode(b)
	if err != nil {
		c.counters.Malformed++
		return
	}
	x := c.x
	if x == nil || x.count == 0 || c.linkDown {
		c.counters.Unexpected++
		return
	}
	// RFC 8415 16.3, 16.10: transaction id, Client Identifier and Server
	// Identifier decide whether a message is for us at all.
	if in.xid != x.xid {
		c.counters.WrongXID++
		return
	}
	if !bytes.Equal(in.clientID, c.duid) {
		c.counters.WrongClientID++
		return
	}
	if !validDUID(in.serverID) {
		c.counters.NoServerID++
		return
	}
	// RFC 8415 21.24, 21.25: processed even from a message otherwise ignored.
	c.maxRTOptions(in)
	switch {
	case in.typ == dhcpv6.MessageTypeAdvertise && x.purpose == forSolicit:
		c.advertise(now, in)
	case in.typ == dhcpv6.MessageTypeAdvertise:
		c.counters.Unexpected++
	case x.purpose == forSolicit && !(c.cfg.RapidCommit && in.rapid):
		c.counters.Ignored++ // a Reply to Solicit is only taken with Rapid Commit
	case len(x.server) > 0 && !bytes.Equal(in.serverID, x.server):
		c.counters.WrongServerID++
	default:
		c.reply(now, in, from)
	}
}

func (c *Client) maxRTOptions(in *inMsg) {
	if v := in.solMaxRT; v >= maxRTOptionMin && v <= maxRTOptionMax {
		c.solMaxRT = time.Duration(v) * time.Second
		if c.x != nil && c.x.typ == dhcpv6.MessageTypeSolicit {
			c.x.mrt = c.solMaxRT
		}
	}
	if v := in.infMaxRT; v >= maxRTOptionMin && v <= maxRTOptionMax {
		c.infMaxRT = time.Duration(v) * time.Second
		if c.x != nil && c.x.typ == dhcpv6.MessageTypeInformationRequest {
			c.x.mrt = c.infMaxRT
		}
	}
}

// advertise collects an Advertise (RFC 8415 18.2.9).
func (c *Client) advertise(now time.Time, in *inMsg) {
	x := c.x
	na, pd := c.leasesIn(in, now)
	// A failure status for the whole message (RFC 3315-era servers say
	// NoAddrsAvail there) voids whatever IAs came with it.
	failed := in.hasStatus && in.status != iana.StatusSuccess
	naOK := c.cfg.IANA && na.usable() && !failed
	pdOK := c.cfg.IAPD && pd.usable() && !failed
	refused := false
	if c.cfg.IAPD && x.hint && !pdOK {
		refused = c.refuseHint(now)
	}
	if !naOK && !pdOK {
		// "The client MUST ignore any Advertise message that contains no
		// addresses ... and no delegated prefixes."
		c.counters.Ignored++
		if !refused {
			c.setError(now, "advertise without leases: "+iaText(in, na, pd))
		}
		if refused && len(c.adverts) == 0 {
			// Field lesson: some ISPs refuse any hint; ask again without it
			// at once rather than after the next retransmission.
			c.startSolicit(now, 0)
		}
		return
	}
	c.counters.Accepted++
	a := advert{server: slices.Clone(DUID(in.serverID)), pref: in.pref, unicast: in.unicast}
	if naOK {
		a.na = na
	}
	if pdOK {
		a.pd = pd
	}
	c.adverts = append(c.adverts, a)
	// Preference 255 is taken at once; after the first RT, any Advertise is.
	if in.pref == 255 || x.count >= 2 {
		c.requestBest(now)
	}
}

// requestBest picks among the collected Advertise messages and sends
// Request. The one offering more of the IAs we want wins (RFC 7550 4.2: a
// CE needs its prefix more than a server's stated preference), then the
// higher preference (RFC 8415 18.2.9), then the earliest.
func (c *Client) requestBest(now time.Time) {
	best := -1
	score := func(a advert) int {
		n := 0
		if a.na.usable() {
			n++
		}
		if a.pd.usable() {
			n++
		}
		return n<<8 | int(a.pref)
	}
	for i, a := range c.adverts {
		if best < 0 || score(a) > score(c.adverts[best]) {
			best = i
		}
	}
	a := c.adverts[best]
	c.adverts = nil
	c.unicast = a.unicast
	c.setState(now, StateRequesting)
	// RFC 7550 4.2: ask for every IA we want, also the ones not offered.
	c.newExchange(now, &exchange{typ: dhcpv6.MessageTypeRequest, purpose: forRequest,
		irt: reqTimeout, mrt: reqMaxRT, mrc: reqMaxRC, server: a.server,
		wantNA: c.cfg.IANA, wantPD: c.cfg.IAPD, askNA: a.na.addrs, askPD: a.pd.prefixes,
		hint: c.hintActive() && len(a.pd.prefixes) == 0, unicast: c.unicast.IsValid()}, 0)
}

// reply handles a Reply that answers the running exchange (RFC 8415 18.2.10).
func (c *Client) reply(now time.Time, in *inMsg, from netip.AddrPort) {
	x := c.x
	if x.purpose == forRelease {
		c.counters.Accepted++ // whatever the status: we are done (RFC 8415 18.2.10.2)
		c.x = nil
		c.setState(now, StateReleased)
		return
	}
	if in.hasStatus && in.status != iana.StatusSuccess {
		if in.status == iana.StatusUseMulticast {
			// Record it, and resend the same message by multicast at once.
			c.counters.Accepted++
			c.unicast = netip.Addr{}
			x.unicast = false
			x.next = now
			return
		}
		// UnspecFail and the like: keep retransmitting on schedule.
		c.counters.Ignored++
		c.setError(now, "server: "+statusText(in.status, in.statusMsg))
		return
	}
	switch x.purpose {
	case forInform:
		c.informed(now, in, from)
	case forSolicit, forRequest:
		c.bindNew(now, in, from)
	default:
		c.refresh(now, in, from)
	}
}

// bindNew takes the Reply to a Request (or a rapid-commit Solicit): a new
// binding, replacing anything held.
func (c *Client) bindNew(now time.Time, in *inMsg, from netip.AddrPort) {
	x := c.x
	na, pd := c.leasesIn(in, now)
	naOK := c.cfg.IANA && na.usable()
	pdOK := c.cfg.IAPD && pd.usable()
	refused := false
	if c.cfg.IAPD && x.hint && !pdOK {
		refused = c.refuseHint(now)
	}
	if !naOK && !pdOK {
		c.counters.Ignored++
		if !refused {
			c.setError(now, "nothing granted: "+iaText(in, na, pd))
		}
		switch {
		case x.purpose == forRequest:
			// RFC 8415 18.2.10.1: no usable lease, try discovery again.
			c.restartDiscovery(now)
		case refused && len(c.adverts) == 0:
			c.startSolicit(now, 0)
		}
		return
	}
	c.counters.Accepted++
	l := Lease{ServerID: slices.Clone(DUID(in.serverID)), ServerAddr: from.Addr().WithZone(""),
		DNS: in.dns, Domains: in.domains,
		LastError: c.lease.LastError, LastErrorAt: c.lease.LastErrorAt, HintRefused: c.lease.HintRefused}
	var got []iaIn
	if naOK {
		l.Addresses = na.addrs
		got = append(got, na)
	}
	if pdOK {
		l.Prefixes = pd.prefixes
		got = append(got, pd)
	}
	// RFC 7550: keep what one IA gave; the other is asked for at renewals.
	if c.cfg.IANA && !naOK {
		c.setErrorOn(&l, now, "no address: "+iaOneText(na))
	}
	if c.cfg.IAPD && !pdOK {
		c.setErrorOn(&l, now, "no prefix: "+iaOneText(pd))
	}
	l.T1, l.T2 = c.timers(now, got...)
	c.lease = l
	if in.unicast.IsValid() {
		c.unicast = in.unicast
	}
	c.bound(now)
}

// refresh takes the Reply to a Renew, Rebind, or a Request that rebuilds
// an IA the server had lost (RFC 8415 18.2.10.1).
func (c *Client) refresh(now time.Time, in *inMsg, from netip.AddrPort) {
	x := c.x
	na, pd := c.leasesIn(in, now)
	var got []iaIn
	var lostNA, lostPD, answered bool
	if x.wantNA && na.present {
		switch na.status {
		case iana.StatusSuccess:
			answered = true
			c.lease.Addresses = mergeAddrs(c.lease.Addresses, na, x.purpose == forRebuild)
			if len(na.addrs) > 0 {
				got = append(got, na)
			}
		case iana.StatusNoBinding:
			lostNA = x.purpose != forRebuild
		default:
			// NoAddrsAvail and the like: the server will not extend; what
			// we hold runs out on its own.
			c.setError(now, "no address: "+iaOneText(na))
		}
	}
	if x.wantPD && pd.present {
		switch pd.status {
		case iana.StatusSuccess:
			answered = true
			c.lease.Prefixes = mergePrefixes(c.lease.Prefixes, pd, x.purpose == forRebuild)
			if len(pd.prefixes) > 0 {
				got = append(got, pd)
			}
		case iana.StatusNoBinding:
			lostPD = x.purpose != forRebuild
		default:
			if x.hint {
				c.refuseHint(now)
			}
			c.setError(now, "no prefix: "+iaOneText(pd))
		}
	}
	if !answered && !lostNA && !lostPD {
		// None of our IAs came back: as if not received (RFC 8415
		// 18.2.10.1: MAY wait for the normal retransmission time).
		c.counters.Ignored++
		return
	}
	c.counters.Accepted++
	// Rebind may be answered by another server: it is ours from now on.
	c.lease.ServerID = slices.Clone(DUID(in.serverID))
	c.lease.ServerAddr = from.Addr().WithZone("")
	if in.dns != nil {
		c.lease.DNS = in.dns
	}
	if in.domains != nil {
		c.lease.Domains = in.domains
	}
	if in.unicast.IsValid() {
		c.unicast = in.unicast
	}
	if len(got) > 0 {
		t1, t2 := c.timers(now, got...)
		if x.purpose == forRebuild && c.lease.T1.After(now) {
			// Only some IAs were rebuilt; the others keep their schedule.
			t1, t2 = minTime(t1, c.lease.T1), minTime(t2, c.lease.T2)
		}
		c.lease.T1, c.lease.T2 = t1, t2
	}
	if lostNA || lostPD {
		// NoBinding: Request that IA from the server that answered.
		c.setError(now, "server lost our binding: requesting it again")
		c.setState(now, StateRequesting)
		c.newExchange(now, &exchange{typ: dhcpv6.MessageTypeRequest, purpose: forRebuild,
			irt: reqTimeout, mrt: reqMaxRT, mrc: reqMaxRC, server: c.lease.ServerID,
			wantNA: lostNA, wantPD: lostPD, askNA: pick(lostNA, c.lease.Addresses), askPD: pick(lostPD, c.lease.Prefixes),
			unicast: c.unicast.IsValid()}, 0)
		return
	}
	if !c.lease.Bound() {
		c.withdraw(now, "server withdrew every lease")
		return
	}
	if len(got) == 0 {
		return // nothing extended: keep asking on schedule
	}
	c.bound(now)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func pick[T any](ok bool, s []T) []T {
	if !ok {
		return nil
	}
	return s
}

// mergeAddrs applies an IA_NA from a Reply to what is held: lifetime 0
// removes, others add or update, the rest stays (RFC 8415 18.2.10.1).
// replace is for a Request's Reply, which is the whole binding.
func mergeAddrs(held []Address, ia iaIn, replace bool) []Address {
	if replace {
		return slices.Clone(ia.addrs)
	}
	out := slices.DeleteFunc(slices.Clone(held), func(a Address) bool {
		return slices.Contains(ia.withdrawn, netip.PrefixFrom(a.Addr, 128)) ||
			slices.ContainsFunc(ia.addrs, func(b Address) bool { return b.Addr == a.Addr })
	})
	return append(out, ia.addrs...)
}

func mergePrefixes(held []Prefix, ia iaIn, replace bool) []Prefix {
	if replace {
		return slices.Clone(ia.prefixes)
	}
	out := slices.DeleteFunc(slices.Clone(held), func(p Prefix) bool {
		return slices.Contains(ia.withdrawn, p.Prefix) ||
			slices.ContainsFunc(ia.prefixes, func(q Prefix) bool { return q.Prefix == p.Prefix })
	})
	return append(out, ia.prefixes...)
}

// timers returns T1 and T2 for the IAs of a Reply: the server's when given,
// else 0.5 and 0.8 of the shortest preferred lifetime (RFC 8415 21.4), the
// earliest over the IAs (RFC 7550 4.3: renew them together).
func (c *Client) timers(now time.Time, ias ...iaIn) (t1, t2 time.Time) {
	for _, ia := range ias {
		a, b := ia.t1, ia.t2
		if a == 0 || b == 0 {
			short := time.Duration(-1)
			shortest := func(pref, valid time.Time) {
				d := pref.Sub(now)
				if d <= 0 {
					d = valid.Sub(now) // deprecated leases: go by valid
				}
				if short < 0 || d < short {
					short = d
				}
			}
			for _, l := range ia.addrs {
				shortest(l.Preferred, l.Valid)
			}
			for _, l := range ia.prefixes {
				shortest(l.Preferred, l.Valid)
			}
			a, b = short/2, short*4/5
		}
		a, b = max(a, minTimer), max(b, minTimer)
		b = max(a, b)
		if t1.IsZero() || now.Add(a).Before(t1) {
			t1 = now.Add(a)
		}
		if t2.IsZero() || now.Add(b).Before(t2) {
			t2 = now.Add(b)
		}
	}
	return t1, t2
}

// informed takes the Reply to an Information-request.
func (c *Client) informed(now time.Time, in *inMsg, from netip.AddrPort) {
	c.counters.Accepted++
	c.lease.ServerID = slices.Clone(DUID(in.serverID))
	c.lease.ServerAddr = from.Addr().WithZone("")
	c.lease.DNS, c.lease.Domains = in.dns, in.domains
	irt := irtDefault
	if in.hasIRT {
		irt = max(time.Duration(in.irt)*time.Second, irtMinimum) // RFC 8415 21.23
	}
	c.refreshAt = now.Add(irt)
	c.x = nil
	c.setState(now, StateInformed)
}

func (c *Client) bound(now time.Time) {
	c.x = nil
	c.failures = 0
	c.setState(now, StateBound)
}

// refuseHint records that a server answered our prefix-length hint with no
// prefix; reports whether that is news.
func (c *Client) refuseHint(now time.Time) bool {
	if c.cfg.PrefixHint == 0 || c.refusedHint == c.cfg.PrefixHint {
		return false
	}
	c.refusedHint = c.cfg.PrefixHint
	c.lease.HintRefused = true
	c.setError(now, fmt.Sprintf("prefix hint /%d refused: asking without it", c.cfg.PrefixHint))
	return true
}

func (c *Client) hintActive() bool {
	return c.cfg.IAPD && c.cfg.PrefixHint > 0 && c.refusedHint != c.cfg.PrefixHint
}

// step runs every event that is due at now.
func (c *Client) step(now time.Time) {
	for range 64 { // each round moves time-bound state forward; the cap is a guard
		if !c.stepOnce(now) {
			return
		}
	}
}

func (c *Client) stepOnce(now time.Time) bool {
	if c.dropExpired(now) {
		if !c.lease.Bound() {
			if c.stateful() {
				c.withdraw(now, "lease expired")
			} else {
				c.setError(now, "lease expired")
			}
		}
		return true
	}
	if x := c.x; x != nil {
		if !x.end.IsZero() && !now.Before(x.end) {
			c.exchangeFailed(now)
			return true
		}
		if now.Before(x.next) {
			return false
		}
		if x.purpose == forSolicit && x.count == 1 && len(c.adverts) > 0 {
			c.requestBest(now) // the first RT is over: pick among what came
			return true
		}
		if x.mrc > 0 && x.count >= x.mrc {
			c.exchangeFailed(now)
			return true
		}
		c.transmit(now)
		return true
	}
	switch c.state {
	case StateBound:
		if !now.Before(c.lease.T1) {
			c.renewOrRebind(now)
			return true
		}
	case StateInformed:
		if !now.Before(c.refreshAt) {
			c.startInform(now, 0)
			return true
		}
	}
	return false
}

// stateful reports whether losing the lease should restart discovery.
func (c *Client) stateful() bool {
	switch c.state {
	case StateBound, StateRenewing, StateRebinding, StateRequesting:
		return true
	}
	return false
}

// dropExpired removes leases whose valid lifetime ran out.
func (c *Client) dropExpired(now time.Time) bool {
	n := len(c.lease.Addresses) + len(c.lease.Prefixes)
	c.lease.Addresses = slices.DeleteFunc(c.lease.Addresses, func(a Address) bool { return !now.Before(a.Valid) })
	c.lease.Prefixes = slices.DeleteFunc(c.lease.Prefixes, func(p Prefix) bool { return !now.Before(p.Valid) })
	if n == len(c.lease.Addresses)+len(c.lease.Prefixes) {
		return false
	}
	if !c.lease.Bound() {
		c.lease.ServerID, c.lease.ServerAddr = nil, netip.Addr{}
		c.lease.T1, c.lease.T2 = time.Time{}, time.Time{}
		c.lease.DNS, c.lease.Domains = nil, nil
	}
	return true
}

// withdraw drops every lease and starts over.
func (c *Client) withdraw(now time.Time, why string) {
	c.lease = Lease{HintRefused: c.lease.HintRefused, LastError: c.lease.LastError, LastErrorAt: c.lease.LastErrorAt}
	c.setError(now, why)
	c.unicast = netip.Addr{}
	c.startSolicit(now, 0)
}

// exchangeFailed handles an exchange that ran out of retransmissions (MRC)
// or time (MRD).
func (c *Client) exchangeFailed(now time.Time) {
	x := c.x
	c.x = nil
	switch x.purpose {
	case forRequest:
		c.setError(now, "no reply to Request")
		c.restartDiscovery(now)
	case forRebuild:
		// The server had no binding for these IAs and did not make one:
		// what we hold for them is not valid there.
		c.setError(now, "no reply to Request for a lost binding")
		if x.wantNA {
			c.lease.Addresses = nil
		}
		if x.wantPD {
			c.lease.Prefixes = nil
		}
		if !c.lease.Bound() {
			c.withdraw(now, "no reply to Request for a lost binding")
			return
		}
		c.resume(now)
	case forRenew:
		c.startRebind(now) // T2 reached
	case forRebind:
		c.withdraw(now, "no reply to Rebind")
	case forConfirm:
		c.resume(now)
	case forRelease:
		c.setState(now, StateReleased)
	default:
		c.startSolicit(now, 0)
	}
}

// resume goes back to the schedule the lease's timers set.
func (c *Client) resume(now time.Time) {
	if now.Before(c.lease.T1) {
		c.setState(now, StateBound)
		return
	}
	c.renewOrRebind(now)
}

func (c *Client) renewOrRebind(now time.Time) {
	if len(c.lease.ServerID) > 0 && now.Before(c.lease.T2) {
		c.startRenew(now)
		return
	}
	c.startRebind(now)
}

// restartDiscovery starts Solicit again after a failed attempt, backing off
// so a server that offers and then refuses cannot make us loop.
func (c *Client) restartDiscovery(now time.Time) {
	c.failures++
	d := min(solTimeout<<min(c.failures-1, 12), c.solMaxRT)
	c.lease = Lease{HintRefused: c.lease.HintRefused, LastError: c.lease.LastError, LastErrorAt: c.lease.LastErrorAt}
	c.unicast = netip.Addr{}
	c.startSolicit(now, d+c.jitter(d/10))
}

func (c *Client) startSolicit(now time.Time, delay time.Duration) {
	c.adverts = nil
	c.unicast = netip.Addr{}
	c.setState(now, StateSoliciting)
	c.newExchange(now, &exchange{typ: dhcpv6.MessageTypeSolicit, purpose: forSolicit,
		irt: solTimeout, mrt: c.solMaxRT, wantNA: c.cfg.IANA, wantPD: c.cfg.IAPD, hint: c.hintActive()}, delay)
}

func (c *Client) startRenew(now time.Time) {
	c.setState(now, StateRenewing)
	c.newExchange(now, c.refreshExchange(dhcpv6.MessageTypeRenew, forRenew, renTimeout, renMaxRT, c.lease.T2), 0)
}

func (c *Client) startRebind(now time.Time) {
	c.setState(now, StateRebinding)
	// MRD: until the last lease expires (expiry itself ends it first).
	c.newExchange(now, c.refreshExchange(dhcpv6.MessageTypeRebind, forRebind, rebTimeout, rebMaxRT, c.lastValid()), 0)
}

// startConfirm rebinds after a restart or link up (RFC 8415 18.2.12) with
// Confirm's timers; when nobody answers we fall back to the lease's timers.
func (c *Client) startConfirm(now time.Time, delay time.Duration) {
	c.setState(now, StateRebinding)
	c.newExchange(now, c.refreshExchange(dhcpv6.MessageTypeRebind, forConfirm, cnfTimeout, cnfMaxRT,
		now.Add(delay+cnfMaxRD)), delay)
}

// refreshExchange asks for every IA we want: what we hold, and the missing
// one empty, so a partial binding keeps asking for the rest (RFC 7550 4.3).
func (c *Client) refreshExchange(typ dhcpv6.MessageType, p purpose, irt, mrt time.Duration, end time.Time) *exchange {
	x := &exchange{typ: typ, purpose: p, irt: irt, mrt: mrt, end: end,
		wantNA: c.cfg.IANA, wantPD: c.cfg.IAPD, askNA: c.lease.Addresses, askPD: c.lease.Prefixes,
		hint: c.hintActive() && len(c.lease.Prefixes) == 0}
	if typ == dhcpv6.MessageTypeRenew {
		x.server = c.lease.ServerID
		x.unicast = c.unicast.IsValid()
	}
	return x
}

func (c *Client) startInform(now time.Time, delay time.Duration) {
	c.setState(now, StateInforming)
	c.newExchange(now, &exchange{typ: dhcpv6.MessageTypeInformationRequest, purpose: forInform,
		irt: infTimeout, mrt: c.infMaxRT}, delay)
}

// newExchange makes x the running exchange, with a fresh transaction id,
// first sent after delay.
func (c *Client) newExchange(now time.Time, x *exchange, delay time.Duration) {
	v := c.rnd.Uint64()
	x.xid = dhcpv6.TransactionID{byte(v >> 16), byte(v >> 8), byte(v)}
	x.askNA = slices.Clone(x.askNA)
	x.askPD = slices.Clone(x.askPD)
	x.next = now.Add(delay)
	c.x = x
}

// transmit sends the running exchange's message and schedules the next one.
func (c *Client) transmit(now time.Time) {
	x := c.x
	data := c.build(x, now)
	if x.count == 0 {
		x.first = now
	}
	x.count++
	x.rt = c.nextRT(x)
	x.next = now.Add(x.rt)
	to := allServers
	if x.unicast && c.unicast.IsValid() {
		to = netip.AddrPortFrom(c.unicast, dhcpv6.DefaultServerPort)
	}
	c.out.Send = append(c.out.Send, Packet{Type: x.typ, To: to, Data: data})
	c.counters.Sent++
}

func (c *Client) lastValid() time.Time {
	var t time.Time
	for _, a := range c.lease.Addresses {
		if a.Valid.After(t) {
			t = a.Valid
		}
	}
	for _, p := range c.lease.Prefixes {
		if p.Valid.After(t) {
			t = p.Valid
		}
	}
	return t
}

func (c *Client) setState(now time.Time, s State) {
	if c.state != s {
		c.state, c.since = s, now
	}
}

// setError records an error; "since when" stays while the text does.
func (c *Client) setError(now time.Time, msg string) { c.setErrorOn(&c.lease, now, msg) }

func (c *Client) setErrorOn(l *Lease, now time.Time, msg string) {
	if l.LastError != msg {
		l.LastError, l.LastErrorAt = msg, now
	}
}

// finish runs what the event made due and assembles its Output.
func (c *Client) finish(now time.Time) Output {
	if c.started {
		c.step(now)
	}
	out := c.out
	c.out = Output{}
	out.Deadline = c.deadline()
	if l := c.current(); !l.Equal(c.lastLease) {
		c.lastLease = l.Clone()
		out.Lease = &l
	}
	if p := c.persistValue(); !p.Equal(c.lastPersist) {
		c.lastPersist = p.Clone()
		out.Persist = &p
	}
	return out
}

func (c *Client) deadline() time.Time {
	var d time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	if !c.started {
		return d
	}
	if c.x != nil {
		consider(c.x.next)
		consider(c.x.end)
	}
	switch c.state {
	case StateBound:
		consider(c.lease.T1)
	case StateInformed:
		consider(c.refreshAt)
	}
	for _, a := range c.lease.Addresses {
		consider(a.Valid)
	}
	for _, p := range c.lease.Prefixes {
		consider(p.Valid)
	}
	return d
}

func (c *Client) current() Lease {
	l := c.lease.Clone()
	l.State, l.Since = c.state, c.since
	return l
}

func (c *Client) persistValue() Persist {
	p := Persist{DUID: slices.Clone(c.duid), IAIDNA: binary.BigEndian.Uint32(c.iaidNA[:]),
		IAIDPD: binary.BigEndian.Uint32(c.iaidPD[:]), RefusedHint: c.refusedHint}
	if c.lease.Bound() && !c.cfg.stateless() {
		b := c.lease.binding()
		p.Lease = &b
	}
	return p
}

// statusText names a status code for LastError.
func statusText(code iana.StatusCode, msg string) string {
	s := code.String()
	if msg != "" {
		s += " (" + msg + ")"
	}
	return s
}

func iaOneText(ia iaIn) string {
	switch {
	case !ia.present:
		return "IA not in reply"
	case ia.status != iana.StatusSuccess:
		return statusText(ia.status, ia.statusMsg)
	default:
		return "IA empty"
	}
}

func iaText(in *inMsg, na, pd iaIn) string {
	if in.hasStatus && in.status != iana.StatusSuccess {
		return statusText(in.status, in.statusMsg)
	}
	return "IA_NA: " + iaOneText(na) + ", IA_PD: " + iaOneText(pd)
}
