package dhcp4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Retransmission and retry parameters.
const (
	// RFC 2131 4.1: 4 s before the first retransmission, doubling up to
	// 64 s, each randomised by a uniform -1..+1 s.
	firstRetransmit = 4 * time.Second
	maxRetransmit   = 64 * time.Second
	retransmitFuzz  = time.Second
	// RFC 2131 3.2 suggests four REQUESTs, about 60 s, before giving up
	// (in REQUESTING and REBOOTING alike).
	maxRequests = 4
	// RFC 2131 4.4.5: in RENEWING and REBINDING wait half the time left,
	// down to a minimum of 60 s.
	minRenewWait = 60 * time.Second
	// After a NAK: 1 s, doubling with consecutive NAKs up to 64 s, plus up
	// to 1 s of randomness, so a server that NAKs everything is not hammered
	// and a rack of CPEs NAKed together does not stay in step.
	nakDelayBase = time.Second
	// RFC 2131 3.1 step 5: after a DECLINE wait at least ten seconds.
	declineDelay = 10 * time.Second
)

// Config is what a Client needs to know about its interface.
type Config struct {
	// Interface names the uplink in errors and LastError.
	Interface string
	// HWAddr is the interface's Ethernet address (chaddr).
	HWAddr net.HardwareAddr
	// ClientID is the option 61 payload. It must be the same on every
	// start, or the ISP hands out a new address; ClientIDFromDUID builds the
	// RFC 4361 form from the DUID and IAID kept in the state directory.
	// Empty means ClientIDFromMAC(HWAddr).
	ClientID []byte
	// Hostname is sent as option 12 when not empty.
	Hostname string
	// IPv6OnlyPreferred asks for option 108 (RFC 8925). Set it only when the
	// box can live without IPv4 on this uplink (a CLAT or DNS64 path exists),
	// since a server that answers with 108 gets no IPv4 lease from us.
	IPv6OnlyPreferred bool
	// Rand provides transaction IDs and jitter. Nil means a generator seeded
	// from the runtime's randomness; tests pass a seeded one.
	Rand *rand.Rand
}

// Packet is one message for the driver to put on the wire, UDP from port 68
// to port 67.
type Packet struct {
	Data []byte
	// Broadcast is set for messages sent to 255.255.255.255 on the link
	// (DISCOVER, REQUEST except when RENEWING); To is then that address.
	Broadcast bool
	// To is the destination: the server identifier for RENEWING and
	// RELEASE, otherwise the limited broadcast address.
	To netip.Addr
	// From is the source address: the leased address once there is one,
	// the zero Addr (0.0.0.0 on the wire, RFC 2131 4.1) before.
	From netip.Addr
}

// Output is what one call into the Client asks of the driver.
type Output struct {
	// Send lists the packets to transmit, in order.
	Send []Packet
	// Deadline is when Timer must be called next; the zero Time means no
	// timer (STOPPED, or LINK-DOWN without a lease). It is set on every
	// call, changed or not.
	Deadline time.Time
	// Lease is non-nil when the published facts changed.
	Lease *Lease
	// Persist is non-nil when the lease to keep in the state directory
	// changed: save it, or delete the saved one when it holds no Address.
	Persist *Lease
}

// Client is the DHCPv4 client state machine of one uplink. It is pure: it
// never reads a clock, touches a socket or a file; every input carries the
// current time and every output is returned. It is not safe for concurrent
// use; the driver serialises calls.
type Client struct {
	cfg      Config
	clientID []byte
	rng      *rand.Rand

	state    State
	xid      dhcpv4.TransactionID
	started  time.Time // first transmission of the exchange, for secs
	reqSent  time.Time // first transmission of the current xid's REQUEST: lease start
	attempts int       // transmissions in the current exchange
	nextTx   time.Time // retransmission, give-up or restart time

	offerAddr  netip.Addr // REQUESTING: the offered address
	offerFrom  netip.Addr // REQUESTING: the offering server
	rebootAddr netip.Addr // REBOOTING: the address being verified

	bound     *Lease // the binding in force; its facts are published
	saved     *Lease // loaded at Start, not confirmed by a server yet
	persisted bool   // a lease may be on disk, so withdrawing must delete it
	naks      int    // consecutive NAKs, for the restart delay
	v6wait    time.Duration

	lastErr   string
	errSince  time.Time
	published Lease
	counters  Counters
}

// New checks cfg and returns a client in STOPPED; call Start.
func New(cfg Config) (*Client, error) {
	if len(cfg.HWAddr) != 6 {
		return nil, fmt.Errorf("dhcp4: %s: hardware address must be 6 bytes (Ethernet), got %d", cfg.Interface, len(cfg.HWAddr))
	}
	id := cfg.ClientID
	if len(id) == 0 {
		id = ClientIDFromMAC(cfg.HWAddr)
	}
	if len(id) < 2 || len(id) > 255 {
		return nil, fmt.Errorf("dhcp4: %s: client identifier must be 2 to 255 bytes, got %d", cfg.Interface, len(id))
	}
	if len(cfg.Hostname) > 255 {
		return nil, errors.New("dhcp4: " + cfg.Interface + ": host name longer than 255 bytes")
	}
	cfg.HWAddr = append(net.HardwareAddr(nil), cfg.HWAddr...)
	rng := cfg.Rand
	if rng == nil {
		var seed [32]byte
		for i := 0; i < len(seed); i += 8 {
			binary.LittleEndian.PutUint64(seed[i:], rand.Uint64())
		}
		rng = rand.New(rand.NewChaCha8(seed))
	}
	return &Client{cfg: cfg, clientID: append([]byte(nil), id...), rng: rng, state: StateStopped}, nil
}

// State returns the current state.
func (c *Client) State() State { return c.state }

// Lease returns the facts as last published.
func (c *Client) Lease() Lease { return c.published.clone() }

// Counters returns a copy of the packet counters.
func (c *Client) Counters() Counters { return c.counters }

// Start begins acquisition with the link assumed up. With a saved lease that
// has not expired the client verifies it with INIT-REBOOT (RFC 2131 3.2);
// otherwise it sends a DISCOVER. The saved lease is not published before a
// server confirms it. Start does nothing unless the client is STOPPED.
func (c *Client) Start(now time.Time, saved *Lease) Output {
	var out Output
	if c.state != StateStopped {
		return c.finish(&out)
	}
	if saved != nil {
		c.persisted = true
		if validSaved(*saved, now) {
			s := saved.binding()
			c.saved = &s
			c.reboot(now, s.Address.Addr(), &out)
			return c.finish(&out)
		}
		c.forget(&out)
	}
	c.discover(now, &out)
	return c.finish(&out)
}

// Receive handles one DHCP payload (the UDP data) from the link.
func (c *Client) Receive(now time.Time, b []byte) Output {
	var out Output
	c.counters.Received++
	// Anything overdue happens first: an ACK arriving after the lease ran
	// out belongs to an exchange that is already over.
	c.tick(now, &out)
	r, ok := c.checkReply(b)
	if !ok {
		return c.finish(&out)
	}
	switch {
	case r.typ == dhcpv4.MessageTypeOffer && c.state == StateSelecting:
		c.onOffer(now, r, &out)
	case r.typ == dhcpv4.MessageTypeAck && c.awaitsAck():
		c.onAck(now, r, &out)
	case r.typ == dhcpv4.MessageTypeNak && c.awaitsAck():
		c.onNak(now, r, &out)
	default:
		c.counters.Unexpected++
	}
	return c.finish(&out)
}

// Timer handles the deadline given in the last Output. Calling it early or
// twice is harmless.
func (c *Client) Timer(now time.Time) Output {
	var out Output
	c.tick(now, &out)
	return c.finish(&out)
}

// LinkDown stops all transmission. A lease in force stays published until
// it expires: the address is still ours (RFC 2131 3.7).
func (c *Client) LinkDown(now time.Time) Output {
	var out Output
	if c.state != StateStopped {
		c.state, c.nextTx = StateLinkDown, time.Time{}
		c.expire(now, &out)
	}
	return c.finish(&out)
}

// LinkUp is a network attachment event (RFC 2131 3.7, RFC 8925 3.2): with a
// lease in hand, published or saved, the client verifies it with
// INIT-REBOOT; otherwise it starts over with a DISCOVER.
func (c *Client) LinkUp(now time.Time) Output {
	var out Output
	if c.state == StateStopped {
		return c.finish(&out)
	}
	c.tick(now, &out)
	switch {
	case c.bound != nil:
		c.reboot(now, c.bound.Address.Addr(), &out)
	case c.saved != nil && validSaved(*c.saved, now):
		c.reboot(now, c.saved.Address.Addr(), &out)
	default:
		c.discover(now, &out)
	}
	return c.finish(&out)
}

// ForceRenew is the console's "renew now": a bound client enters RENEWING
// at once; one waiting (after a NAK, or IPv6-only) starts over; one in the
// middle of an exchange retransmits now.
func (c *Client) ForceRenew(now time.Time) Output {
	var out Output
	if c.state == StateStopped || c.state == StateLinkDown {
		return c.finish(&out)
	}
	c.tick(now, &out)
	switch c.state {
	case StateBound:
		c.enter(now, StateRenewing, &out)
	case StateRenewing, StateRebinding, StateRequesting, StateRebooting:
		c.transmit(now, &out)
	case StateSelecting, StateInit, StateIPv6Only:
		c.discover(now, &out)
	}
	return c.finish(&out)
}

// Release gives the lease back (RFC 2131 4.4.6) and stops the client. Call
// it only when the uplink is removed from the config: a restart must keep
// the lease (the same reasoning as RFC 9096 WPD-9 for DHCPv6).
func (c *Client) Release(now time.Time) Output {
	var out Output
	if c.state == StateStopped {
		return c.finish(&out)
	}
	c.tick(now, &out)
	if c.bound != nil {
		c.xid = c.newXID()
		addr := c.bound.Address.Addr()
		p := Packet{Data: c.encode(request{typ: dhcpv4.MessageTypeRelease, ciaddr: addr, server: c.bound.ServerID}),
			To: c.bound.ServerID, From: addr}
		if !p.To.IsValid() {
			p.Broadcast, p.To = true, limitedBroadcast
		}
		c.emit(&out, p)
	}
	c.forget(&out)
	c.state, c.nextTx = StateStopped, time.Time{}
	return c.finish(&out)
}

// Decline refuses the lease in force because its address is already in use
// (RFC 2131 3.1 step 5, 4.4.1): it broadcasts a DHCPDECLINE, withdraws the
// lease and starts over after ten seconds. Detecting the conflict (an ARP
// probe) is the driver's business; the engine has no link access.
func (c *Client) Decline(now time.Time) Output {
	var out Output
	if c.state == StateStopped {
		return c.finish(&out)
	}
	c.tick(now, &out)
	if c.bound == nil {
		return c.finish(&out)
	}
	addr := c.bound.Address.Addr()
	c.xid = c.newXID()
	c.emit(&out, Packet{Data: c.encode(request{typ: dhcpv4.MessageTypeDecline, requested: addr, server: c.bound.ServerID}),
		Broadcast: true, To: limitedBroadcast})
	c.setError(now, "declined "+addr.String()+": address in use")
	c.forget(&out)
	if c.state != StateLinkDown {
		c.state, c.nextTx = StateInit, now.Add(declineDelay)
	}
	return c.finish(&out)
}

// expire withdraws the lease in force once it has run out; RFC 2131
// 4.4.5: stop using the address, back to INIT.
func (c *Client) expire(now time.Time, out *Output) {
	if c.bound == nil || now.Before(c.bound.Expiry) {
		return
	}
	c.setError(now, "lease of "+c.bound.Address.String()+" expired")
	c.forget(out)
	if c.state != StateLinkDown {
		c.discover(now, out)
	}
}

// tick runs whatever is due at now.
func (c *Client) tick(now time.Time, out *Output) {
	c.expire(now, out)
	due := !c.nextTx.IsZero() && !now.Before(c.nextTx)
	switch c.state {
	case StateBound:
		switch {
		case !now.Before(c.bound.T2):
			c.enter(now, StateRebinding, out)
		case !now.Before(c.bound.T1):
			c.enter(now, StateRenewing, out)
		}
	case StateRenewing:
		switch {
		case !now.Before(c.bound.T2):
			c.enter(now, StateRebinding, out)
		case due:
			c.transmit(now, out)
		}
	case StateRebinding, StateSelecting:
		if due {
			c.transmit(now, out)
		}
	case StateRequesting, StateRebooting:
		if !due {
			break
		}
		if c.attempts < maxRequests {
			c.transmit(now, out)
			break
		}
		if c.state == StateRequesting {
			c.setError(now, "no answer to REQUEST for "+c.offerAddr.String()+" from "+c.offerFrom.String())
		} else {
			// RFC 2131 3.2 lets a client keep using the remembered address
			// here; we do not, since no server confirmed it. A lease already
			// published (link flap) stays until it expires.
			c.setError(now, "no answer to INIT-REBOOT REQUEST for "+c.rebootAddr.String())
		}
		c.discover(now, out)
	case StateInit, StateIPv6Only:
		if due {
			c.discover(now, out)
		}
	}
}

// discover starts a new acquisition: INIT, then SELECTING with a DISCOVER.
func (c *Client) discover(now time.Time, out *Output) {
	c.state = StateSelecting
	c.xid = c.newXID()
	c.started, c.attempts = now, 0
	c.offerAddr, c.offerFrom, c.rebootAddr = netip.Addr{}, netip.Addr{}, netip.Addr{}
	c.v6wait = 0
	c.transmit(now, out)
}

// reboot starts INIT-REBOOT for addr: REQUEST with it as requested address
// and no server identifier (RFC 2131 4.4.2).
func (c *Client) reboot(now time.Time, addr netip.Addr, out *Output) {
	c.state = StateRebooting
	c.xid = c.newXID()
	c.started, c.attempts = now, 0
	c.rebootAddr = addr
	c.v6wait = 0
	c.transmit(now, out)
}

// enter moves a bound client to RENEWING or REBINDING and sends the first
// REQUEST of that state.
func (c *Client) enter(now time.Time, s State, out *Output) {
	c.state = s
	c.started, c.attempts = now, 0
	c.transmit(now, out)
}

// transmit sends the current state's message and schedules the next one.
func (c *Client) transmit(now time.Time, out *Output) {
	secs := uint16(min(max(now.Sub(c.started)/time.Second, 0), 0xffff))
	bcast := Packet{Broadcast: true, To: limitedBroadcast}
	c.attempts++
	switch c.state {
	case StateSelecting:
		// RFC 2131 4.4.1: a DISCOVER may suggest the address we last had.
		p := bcast
		p.Data = c.encode(request{typ: dhcpv4.MessageTypeDiscover, secs: secs, broadcast: true, requested: c.hint(now)})
		c.emit(out, p)
		c.nextTx = now.Add(c.backoff(c.attempts))
	case StateRequesting, StateRebooting:
		if c.attempts == 1 {
			c.reqSent = now
		}
		r := request{typ: dhcpv4.MessageTypeRequest, secs: secs, broadcast: true, requested: c.rebootAddr}
		if c.state == StateRequesting {
			r.requested, r.server = c.offerAddr, c.offerFrom
		}
		p := bcast
		p.Data = c.encode(r)
		c.emit(out, p)
		c.nextTx = now.Add(c.backoff(c.attempts))
	case StateRenewing, StateRebinding:
		// A fresh xid per transmission makes the lease start exactly the
		// send time of the REQUEST that was answered.
		c.xid = c.newXID()
		c.reqSent = now
		addr := c.bound.Address.Addr()
		p := Packet{Data: c.encode(request{typ: dhcpv4.MessageTypeRequest, secs: secs, ciaddr: addr}),
			To: c.bound.ServerID, From: addr}
		end := c.bound.Expiry
		if c.state == StateRenewing {
			end = c.bound.T2
		}
		if c.state == StateRebinding || !p.To.IsValid() {
			p.Broadcast, p.To = true, limitedBroadcast
		}
		c.emit(out, p)
		c.nextTx = now.Add(min(max(end.Sub(now)/2, minRenewWait), end.Sub(now)))
	}
}

func (c *Client) emit(out *Output, p Packet) {
	out.Send = append(out.Send, p)
	c.counters.Sent++
}

// hint is the address a DISCOVER suggests: the one we hold or remember.
func (c *Client) hint(now time.Time) netip.Addr {
	switch {
	case c.bound != nil:
		return c.bound.Address.Addr()
	case c.saved != nil && now.Before(c.saved.Expiry):
		return c.saved.Address.Addr()
	}
	return netip.Addr{}
}

func (c *Client) onOffer(now time.Time, r reply, out *Output) {
	wait, has108 := c.ipv6OnlyWait(r.msg)
	if c.cfg.IPv6OnlyPreferred && has108 {
		// RFC 8925 3.2: do not request the offered address, stop DHCPv4.
		c.counters.Offers++
		c.ipv6Only(now, wait, out)
		return
	}
	g, reason := c.decodeGrant(r.msg)
	if reason == "" && !g.server.IsValid() {
		c.counters.NoServerID++
		reason = "no usable server identifier"
	}
	if reason != "" {
		c.setError(now, "OFFER"+from(r.msg)+" rejected: "+reason)
		return
	}
	c.counters.Offers++
	// The first acceptable OFFER wins (RFC 2131 4.4.1 allows it); the
	// REQUEST keeps the DISCOVER's xid.
	c.state = StateRequesting
	c.offerAddr, c.offerFrom = g.addr.Addr(), g.server
	c.attempts = 0
	c.transmit(now, out)
}

func (c *Client) onAck(now time.Time, r reply, out *Output) {
	wait, has108 := c.ipv6OnlyWait(r.msg)
	if c.cfg.IPv6OnlyPreferred && has108 && c.state == StateRebooting {
		// RFC 8925 3.2: the INIT-REBOOT case of the same rule.
		c.counters.Acks++
		c.ipv6Only(now, wait, out)
		return
	}
	g, reason := c.decodeGrant(r.msg)
	if reason != "" {
		// Keep retransmitting: another server, or a second thought, may
		// still answer properly.
		c.setError(now, "ACK"+from(r.msg)+" rejected: "+reason)
		return
	}
	c.counters.Acks++
	server := g.server
	if !server.IsValid() {
		switch {
		case c.state == StateRequesting:
			server = c.offerFrom
		case c.bound != nil:
			server = c.bound.ServerID
		}
	}
	start := c.reqSent
	c.bound = &Lease{
		Address:      g.addr,
		Routers:      g.routers,
		StaticRoutes: g.routes,
		DNS:          g.dns,
		Domain:       g.domain,
		MTU:          g.mtu,
		ServerID:     server,
		Start:        start,
		T1:           start.Add(g.t1),
		T2:           start.Add(g.t2),
		Expiry:       start.Add(g.lease),
		IPv6OnlyWait: wait,
	}
	c.saved = nil
	c.state, c.nextTx, c.naks = StateBound, time.Time{}, 0
	c.offerAddr, c.offerFrom, c.rebootAddr = netip.Addr{}, netip.Addr{}, netip.Addr{}
	c.lastErr, c.errSince = "", time.Time{}
	p := c.bound.binding()
	out.Persist = &p
	c.persisted = true
}

// onNak handles a NAK in any state that sent a REQUEST: the address is not
// ours (any more), so it is withdrawn, and the client starts over after a
// short randomised delay (RFC 2131 3.1 step 5, 3.2 step 3, 4.4.5).
func (c *Client) onNak(now time.Time, r reply, out *Output) {
	c.counters.Naks++
	msg := "NAK" + from(r.msg)
	if text := printable(r.msg.Options[optMessage]); text != "" {
		msg += ": " + text
	}
	c.setError(now, msg)
	c.forget(out)
	c.naks++
	c.state = StateInit
	c.nextTx = now.Add(nakDelayBase<<min(c.naks-1, 6) + time.Duration(c.rng.Int64N(int64(time.Second))))
}

// ipv6Only stops DHCPv4 for the server's V6ONLY_WAIT, at least
// MIN_V6ONLY_WAIT (RFC 8925 3.2), or until the next LinkUp.
func (c *Client) ipv6Only(now time.Time, wait time.Duration, out *Output) {
	c.forget(out)
	c.state = StateIPv6Only
	c.v6wait = wait
	c.nextTx = now.Add(max(wait, minV6OnlyWait))
}

// forget withdraws the lease in force and the saved one.
func (c *Client) forget(out *Output) {
	c.bound, c.saved = nil, nil
	if c.persisted {
		out.Persist = &Lease{}
		c.persisted = false
	}
}

func (c *Client) awaitsAck() bool {
	switch c.state {
	case StateRequesting, StateRebooting, StateRenewing, StateRebinding:
		return true
	}
	return false
}

// inExchange reports whether a reply could be for us now.
func (c *Client) inExchange() bool {
	return c.state == StateSelecting || c.awaitsAck()
}

func (c *Client) setError(now time.Time, msg string) {
	if c.cfg.Interface != "" {
		msg = c.cfg.Interface + ": " + msg
	}
	if msg != c.lastErr {
		c.lastErr, c.errSince = msg, now
	}
}

// finish completes out with the next deadline and the facts, if changed.
func (c *Client) finish(out *Output) Output {
	out.Deadline = c.deadline()
	l := Lease{}
	if c.bound != nil {
		l = c.bound.clone()
	}
	l.State, l.LastError, l.ErrorSince = c.state, c.lastErr, c.errSince
	if c.state == StateIPv6Only {
		l.IPv6OnlyWait, l.IPv6OnlyUntil = c.v6wait, c.nextTx
	}
	if !l.Equal(c.published) {
		c.published = l
		pub := l.clone()
		out.Lease = &pub
	}
	return *out
}

func (c *Client) deadline() time.Time {
	var d time.Time
	switch c.state {
	case StateStopped, StateLinkDown:
	case StateBound:
		d = c.bound.T1
	default:
		d = c.nextTx
	}
	if c.bound != nil && (d.IsZero() || c.bound.Expiry.Before(d)) {
		d = c.bound.Expiry
	}
	return d
}

// backoff is the wait after the n-th transmission (RFC 2131 4.1).
func (c *Client) backoff(n int) time.Duration {
	d := maxRetransmit
	if n <= 4 {
		d = firstRetransmit << (n - 1)
	}
	return d - retransmitFuzz + time.Duration(c.rng.Int64N(int64(2*retransmitFuzz)+1))
}

func (c *Client) newXID() dhcpv4.TransactionID {
	var x dhcpv4.TransactionID
	binary.BigEndian.PutUint32(x[:], c.rng.Uint32())
	return x
}

func validSaved(l Lease, now time.Time) bool {
	return l.Address.IsValid() && usableUnicast(l.Address.Addr()) && now.Before(l.Expiry)
}

// from names the server of a reply for LastError.
func from(m *dhcpv4.DHCPv4) string {
	if a, ok := addr4(m.Options[optServerID]); ok {
		return " from " + a.String()
	}
	return ""
}

// printable keeps a server-supplied text safe for logs and the console.
func printable(b []byte) string {
	var s strings.Builder
	for _, r := range string(b) {
		if s.Len() >= 120 {
			break
		}
		if r >= 0x20 && r < 0x7f {
			s.WriteRune(r)
		}
	}
	return s.String()
}
