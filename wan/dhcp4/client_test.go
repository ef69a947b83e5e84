package dhcp4

import (
	"encoding/json"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestDORA(t *testing.T) {
	c := newClient(t)
	out := c.Start(t0, nil)
	p := one(t, out)
	d := decode(t, p.Data)
	if d.MessageType() != dhcpv4.MessageTypeDiscover || !p.Broadcast || p.To != limitedBroadcast || p.From.IsValid() {
		t.Fatalf("first packet %v to %v broadcast=%v from %v, want DISCOVER broadcast from 0.0.0.0", d.MessageType(), p.To, p.Broadcast, p.From)
	}
	if !d.IsBroadcast() {
		t.Error("DISCOVER without the BROADCAST flag")
	}
	if c.State() != StateSelecting || out.Lease == nil || out.Lease.State != StateSelecting {
		t.Fatalf("state %s, published %+v", c.State(), out.Lease)
	}

	out = c.Receive(at(0.5), answer(t, p.Data, dhcpv4.MessageTypeOffer))
	p = one(t, out)
	r := decode(t, p.Data)
	if r.MessageType() != dhcpv4.MessageTypeRequest || !p.Broadcast {
		t.Fatalf("after OFFER sent %v broadcast=%v, want broadcast REQUEST", r.MessageType(), p.Broadcast)
	}
	if r.TransactionID != d.TransactionID {
		t.Error("REQUEST must keep the DISCOVER's xid (RFC 2131 4.4.1)")
	}
	if got := r.RequestedIPAddress(); !got.Equal(leaseIP.AsSlice()) {
		t.Errorf("requested address %v, want %v", got, leaseIP)
	}
	if got := r.ServerIdentifier(); !got.Equal(serverIP.AsSlice()) {
		t.Errorf("server identifier %v, want %v", got, serverIP)
	}
	if !r.ClientIPAddr.IsUnspecified() {
		t.Errorf("ciaddr %v in SELECTING, want 0", r.ClientIPAddr)
	}
	if c.State() != StateRequesting {
		t.Fatalf("state %s, want REQUESTING", c.State())
	}

	out = c.Receive(at(1), answer(t, p.Data, dhcpv4.MessageTypeAck))
	if len(out.Send) != 0 {
		t.Errorf("sent %d packets on ACK", len(out.Send))
	}
	want := Lease{
		State:    StateBound,
		Address:  netip.MustParsePrefix("192.0.2.10/24"),
		Routers:  []netip.Addr{serverIP},
		DNS:      []netip.Addr{dnsIP},
		Domain:   "isp.example",
		MTU:      1500,
		ServerID: serverIP,
		Start:    at(0.5), // the REQUEST was sent when the OFFER came
		T1:       at(0.5 + 1800),
		T2:       at(0.5 + 3150),
		Expiry:   at(0.5 + 3600),
	}
	if out.Lease == nil || !out.Lease.Equal(want) {
		t.Fatalf("facts\n got %+v\nwant %+v", out.Lease, want)
	}
	if out.Persist == nil || !out.Persist.Equal(want.binding()) {
		t.Fatalf("persist %+v, want the binding", out.Persist)
	}
	if !out.Deadline.Equal(want.T1) {
		t.Errorf("deadline %v, want T1 %v", out.Deadline, want.T1)
	}
	if got := c.Lease().Routes(); !slices.Equal(got, []Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Via: serverIP}}) {
		t.Errorf("routes %v, want default via the router", got)
	}
	if n := c.Counters(); n.Offers != 1 || n.Acks != 1 || n.Sent != 2 || n.Received != 2 {
		t.Errorf("counters %+v", n)
	}
	// Nothing is due before T1; an early timer does nothing.
	if out := c.Timer(at(1000)); len(out.Send) != 0 || out.Lease != nil || c.State() != StateBound {
		t.Errorf("early timer acted: %+v", out)
	}
}

func TestTimers(t *testing.T) {
	tests := []struct {
		name      string
		mods      []mod
		t1, t2    time.Duration
		badTimers uint64
	}{
		{"defaults", nil, 1800 * time.Second, 3150 * time.Second, 0},
		{"server given", []mod{opt(optT1, u32(1000)), opt(optT2, u32(2000))}, 1000 * time.Second, 2000 * time.Second, 0},
		{"only T1", []mod{opt(optT1, u32(600))}, 600 * time.Second, 3150 * time.Second, 0},
		{"only T2", []mod{opt(optT2, u32(3000))}, 1800 * time.Second, 3000 * time.Second, 0},
		{"T1 > T2", []mod{opt(optT1, u32(3000)), opt(optT2, u32(2000))}, 1800 * time.Second, 3150 * time.Second, 1},
		{"T1 = T2", []mod{opt(optT1, u32(2000)), opt(optT2, u32(2000))}, 1800 * time.Second, 3150 * time.Second, 1},
		{"T2 = lease", []mod{opt(optT1, u32(1000)), opt(optT2, u32(3600))}, 1800 * time.Second, 3150 * time.Second, 1},
		{"T1 zero", []mod{opt(optT1, u32(0)), opt(optT2, u32(2000))}, 1800 * time.Second, 3150 * time.Second, 1},
		{"only T1 beyond default T2", []mod{opt(optT1, u32(3200))}, 1800 * time.Second, 3150 * time.Second, 1},
		{"T1 malformed", []mod{opt(optT1, []byte{1, 2}), opt(optT2, u32(2000))}, 1800 * time.Second, 3150 * time.Second, 1},
		{"odd lease", []mod{opt(optLeaseTime, u32(1001))}, 500500 * time.Millisecond, 875875 * time.Millisecond, 0},
		{"infinite lease", []mod{opt(optLeaseTime, u32(infiniteLease))},
			time.Duration(infiniteLease) * time.Second / 2, time.Duration(infiniteLease) * time.Second / 8 * 7, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t)
			out := c.Start(t0, nil)
			out = c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer, tt.mods...))
			out = c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeAck, tt.mods...))
			if c.State() != StateBound {
				t.Fatalf("state %s: %s", c.State(), c.Lease().LastError)
			}
			l := c.Lease()
			if got := l.T1.Sub(l.Start); got != tt.t1 {
				t.Errorf("T1 = start + %v, want %v", got, tt.t1)
			}
			if got := l.T2.Sub(l.Start); got != tt.t2 {
				t.Errorf("T2 = start + %v, want %v", got, tt.t2)
			}
			if !(l.T1.Before(l.T2) && l.T2.Before(l.Expiry)) {
				t.Errorf("T1 %v, T2 %v, expiry %v out of order", l.T1, l.T2, l.Expiry)
			}
			// OFFER and ACK both carried the options.
			if got := c.Counters().BadTimers; got != 2*tt.badTimers {
				t.Errorf("BadTimers = %d, want %d", got, 2*tt.badTimers)
			}
			if !out.Deadline.Equal(l.T1) {
				t.Errorf("deadline %v, want T1", out.Deadline)
			}
		})
	}
}

// TestRenewRebindExpire walks a 3600 s lease with a silent server from T1
// to expiry: unicast REQUESTs, then broadcast ones, at half the time left,
// at least 60 s (RFC 2131 4.4.5), then the lease is withdrawn.
func TestRenewRebindExpire(t *testing.T) {
	c := newClient(t)
	bind(t, c)
	addr := leaseIP

	steps := []struct {
		at    float64
		state State
		next  float64
	}{
		{1800, StateRenewing, 2475},
		{2475, StateRenewing, 2812.5},
		{2812.5, StateRenewing, 2981.25},
		{2981.25, StateRenewing, 3065.625},
		{3065.625, StateRenewing, 3125.625}, // 42.2 s would be below the 60 s minimum
		{3125.625, StateRenewing, 3150},     // capped at T2
		{3150, StateRebinding, 3375},
		{3375, StateRebinding, 3487.5},
		{3487.5, StateRebinding, 3547.5},
		{3547.5, StateRebinding, 3600}, // capped at expiry
	}
	var lastXID dhcpv4.TransactionID
	for _, s := range steps {
		out := c.Timer(at(s.at))
		if c.State() != s.state {
			t.Fatalf("at %v: state %s, want %s", s.at, c.State(), s.state)
		}
		p := one(t, out)
		r := decode(t, p.Data)
		if r.MessageType() != dhcpv4.MessageTypeRequest {
			t.Fatalf("at %v: sent %v", s.at, r.MessageType())
		}
		if !r.ClientIPAddr.Equal(addr.AsSlice()) || r.Options.Has(dhcpv4.OptionServerIdentifier) ||
			r.Options.Has(dhcpv4.OptionRequestedIPAddress) || r.IsBroadcast() {
			t.Errorf("at %v: REQUEST ciaddr %v, opts %v, flags %x: want ciaddr set, no 50/54, no BROADCAST flag",
				s.at, r.ClientIPAddr, r.Options, r.Flags)
		}
		if p.From != addr {
			t.Errorf("at %v: from %v, want %v", s.at, p.From, addr)
		}
		if s.state == StateRenewing && (p.Broadcast || p.To != serverIP) {
			t.Errorf("at %v: RENEWING sends to %v broadcast=%v, want unicast to %v", s.at, p.To, p.Broadcast, serverIP)
		}
		if s.state == StateRebinding && (!p.Broadcast || p.To != limitedBroadcast) {
			t.Errorf("at %v: REBINDING sends to %v broadcast=%v, want broadcast", s.at, p.To, p.Broadcast)
		}
		if r.TransactionID == lastXID {
			t.Errorf("at %v: xid reused", s.at)
		}
		lastXID = r.TransactionID
		if !out.Deadline.Equal(at(s.next)) {
			t.Fatalf("at %v: deadline %v, want %v", s.at, out.Deadline.Sub(t0).Seconds(), s.next)
		}
		if l := c.Lease(); l.Address.Addr() != addr {
			t.Fatalf("at %v: lease withdrawn early", s.at)
		}
		// Nothing happens between deadlines.
		if out := c.Timer(at(s.next - 0.001)); len(out.Send) != 0 {
			t.Fatalf("after %v: sent before the deadline", s.at)
		}
	}

	out := c.Timer(at(3600))
	if out.Lease == nil || out.Lease.Bound() || out.Lease.State != StateSelecting {
		t.Fatalf("at expiry facts %+v, want no address, SELECTING", out.Lease)
	}
	if out.Lease.LastError == "" || !out.Lease.ErrorSince.Equal(at(3600)) {
		t.Errorf("expiry not reported: %q since %v", out.Lease.LastError, out.Lease.ErrorSince)
	}
	if out.Persist == nil || out.Persist.Bound() {
		t.Errorf("persist %+v, want deletion", out.Persist)
	}
	if p := one(t, out); msgType(t, p) != dhcpv4.MessageTypeDiscover {
		t.Errorf("after expiry sent %v, want DISCOVER", msgType(t, p))
	}
}

func TestRenewAck(t *testing.T) {
	c := newClient(t)
	bind(t, c)
	out := c.Timer(at(1800))
	// The server answers the second REQUEST only.
	out = c.Timer(at(2475))
	req := one(t, out).Data
	out = c.Receive(at(2476), answer(t, req, dhcpv4.MessageTypeAck, opt(optLeaseTime, u32(7200))))
	if c.State() != StateBound {
		t.Fatalf("state %s, want BOUND", c.State())
	}
	l := c.Lease()
	if !l.Start.Equal(at(2475)) || !l.T1.Equal(at(2475+3600)) || !l.Expiry.Equal(at(2475+7200)) {
		t.Errorf("renewed lease start %v T1 %v expiry %v, want from the REQUEST's send time 2475",
			l.Start.Sub(t0), l.T1.Sub(t0), l.Expiry.Sub(t0))
	}
	if out.Persist == nil || !out.Persist.Expiry.Equal(l.Expiry) {
		t.Errorf("renewed lease not persisted: %+v", out.Persist)
	}
	if !out.Deadline.Equal(l.T1) {
		t.Errorf("deadline %v, want the new T1", out.Deadline.Sub(t0))
	}
}

func TestRenewAckOldXIDIgnored(t *testing.T) {
	c := newClient(t)
	bind(t, c)
	first := one(t, c.Timer(at(1800))).Data
	c.Timer(at(2475))
	before := c.Counters().WrongXID
	c.Receive(at(2476), answer(t, first, dhcpv4.MessageTypeAck))
	if c.State() != StateRenewing || c.Counters().WrongXID != before+1 {
		t.Errorf("ACK for a superseded xid: state %s, WrongXID %d", c.State(), c.Counters().WrongXID)
	}
}

// restart binds a client, then returns a new one with the lease it saved,
// decoded from JSON the way the state directory keeps it.
func restart(t *testing.T) (*Client, *Lease) {
	t.Helper()
	a := newClient(t)
	out := bind(t, a)
	b, err := json.Marshal(out.Persist)
	if err != nil {
		t.Fatal(err)
	}
	var saved Lease
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatal(err)
	}
	if !saved.Equal(*out.Persist) {
		t.Fatalf("JSON round trip changed the lease:\n%+v\n%+v", saved, *out.Persist)
	}
	return newClient(t, func(c *Config) { c.Rand = randFor(99) }), &saved
}

func TestInitReboot(t *testing.T) {
	t.Run("ACK", func(t *testing.T) {
		c, saved := restart(t)
		out := c.Start(at(600), saved)
		if out.Lease == nil || out.Lease.Bound() {
			t.Fatalf("saved lease published before a server confirmed it: %+v", out.Lease)
		}
		p := one(t, out)
		r := decode(t, p.Data)
		if c.State() != StateRebooting || r.MessageType() != dhcpv4.MessageTypeRequest || !p.Broadcast {
			t.Fatalf("state %s, sent %v broadcast=%v", c.State(), r.MessageType(), p.Broadcast)
		}
		if !r.RequestedIPAddress().Equal(leaseIP.AsSlice()) || r.Options.Has(dhcpv4.OptionServerIdentifier) ||
			!r.ClientIPAddr.IsUnspecified() {
			t.Errorf("INIT-REBOOT REQUEST: requested %v, server id present %v, ciaddr %v",
				r.RequestedIPAddress(), r.Options.Has(dhcpv4.OptionServerIdentifier), r.ClientIPAddr)
		}
		out = c.Receive(at(601), answer(t, p.Data, dhcpv4.MessageTypeAck))
		if c.State() != StateBound || out.Lease == nil || out.Lease.Address.Addr() != leaseIP {
			t.Fatalf("after ACK: state %s, facts %+v", c.State(), out.Lease)
		}
		if !out.Lease.Start.Equal(at(600)) {
			t.Errorf("lease start %v, want the REQUEST's send time", out.Lease.Start.Sub(t0))
		}
	})
	t.Run("NAK", func(t *testing.T) {
		c, saved := restart(t)
		out := c.Start(at(600), saved)
		out = c.Receive(at(601), answer(t, one(t, out).Data, dhcpv4.MessageTypeNak))
		if c.State() != StateInit || len(out.Send) != 0 {
			t.Fatalf("after NAK: state %s, sent %d", c.State(), len(out.Send))
		}
		if out.Persist == nil || out.Persist.Bound() {
			t.Errorf("saved lease not deleted after NAK: %+v", out.Persist)
		}
		if out.Lease == nil || out.Lease.LastError == "" {
			t.Errorf("NAK not reported: %+v", out.Lease)
		}
		if d := out.Deadline.Sub(at(601)); d < time.Second || d >= 2*time.Second {
			t.Errorf("restart after %v, want 1..2 s", d)
		}
		out = c.Timer(out.Deadline)
		p := one(t, out)
		if r := decode(t, p.Data); r.MessageType() != dhcpv4.MessageTypeDiscover || r.Options.Has(dhcpv4.OptionRequestedIPAddress) {
			t.Errorf("after NAK delay sent %v with options %v, want DISCOVER without the NAKed address", r.MessageType(), r.Options)
		}
	})
	t.Run("silence", func(t *testing.T) {
		c, saved := restart(t)
		out := c.Start(at(600), saved)
		sends := 1
		for c.State() == StateRebooting {
			if out.Deadline.Sub(at(600)) > 70*time.Second {
				t.Fatalf("still REBOOTING at %v", out.Deadline.Sub(t0))
			}
			out = c.Timer(out.Deadline)
			if c.State() == StateRebooting {
				sends++
			}
		}
		if sends != maxRequests {
			t.Errorf("sent %d REQUESTs before giving up, want %d", sends, maxRequests)
		}
		p := one(t, out)
		r := decode(t, p.Data)
		if c.State() != StateSelecting || r.MessageType() != dhcpv4.MessageTypeDiscover {
			t.Fatalf("after silence: state %s, sent %v", c.State(), r.MessageType())
		}
		if !r.RequestedIPAddress().Equal(leaseIP.AsSlice()) {
			t.Errorf("DISCOVER does not suggest the old address: %v", r.RequestedIPAddress())
		}
		if c.Lease().Bound() {
			t.Error("unconfirmed lease published")
		}
	})
	t.Run("expired", func(t *testing.T) {
		c, saved := restart(t)
		out := c.Start(saved.Expiry, saved)
		if c.State() != StateSelecting || msgType(t, one(t, out)) != dhcpv4.MessageTypeDiscover {
			t.Fatalf("expired lease: state %s", c.State())
		}
		if out.Persist == nil || out.Persist.Bound() {
			t.Errorf("expired saved lease not deleted: %+v", out.Persist)
		}
	})
}

func TestNakWhileRenewing(t *testing.T) {
	c := newClient(t)
	bind(t, c)
	out := c.Timer(at(1800))
	out = c.Receive(at(1801), answer(t, one(t, out).Data, dhcpv4.MessageTypeNak))
	if c.State() != StateInit {
		t.Fatalf("state %s after NAK, want INIT", c.State())
	}
	if out.Lease == nil || out.Lease.Bound() {
		t.Fatalf("lease not withdrawn: %+v", out.Lease)
	}
	if want := "wan0: NAK from 192.0.2.1: address not yours"; out.Lease.LastError != want {
		t.Errorf("last error %q, want %q", out.Lease.LastError, want)
	}
	if out.Persist == nil || out.Persist.Bound() {
		t.Errorf("persist %+v, want deletion", out.Persist)
	}
	if d := out.Deadline.Sub(at(1801)); d < time.Second || d >= 2*time.Second {
		t.Errorf("restart after %v, want 1..2 s", d)
	}
	if c.Counters().Naks != 1 {
		t.Errorf("Naks = %d", c.Counters().Naks)
	}
	if out := c.Timer(out.Deadline); msgType(t, one(t, out)) != dhcpv4.MessageTypeDiscover {
		t.Error("no DISCOVER after the NAK delay")
	}
}

func TestNakInBoundIgnored(t *testing.T) {
	c := newClient(t)
	out := c.Start(t0, nil)
	out = c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer))
	req := one(t, out).Data
	c.Receive(t0, answer(t, req, dhcpv4.MessageTypeAck))
	c.Receive(t0, answer(t, req, dhcpv4.MessageTypeNak))
	if c.State() != StateBound || c.Counters().Unexpected != 1 {
		t.Errorf("NAK in BOUND: state %s, unexpected %d (RFC 2131 figure 5 discards it)", c.State(), c.Counters().Unexpected)
	}
}

func TestConsecutiveNaksBackOff(t *testing.T) {
	c := newClient(t)
	out := c.Start(t0, nil)
	now := t0
	var delays []time.Duration
	for range 9 {
		out = c.Receive(now, answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer))
		out = c.Receive(now, answer(t, one(t, out).Data, dhcpv4.MessageTypeNak))
		delays = append(delays, out.Deadline.Sub(now))
		now = out.Deadline
		out = c.Timer(now)
	}
	for i, d := range delays {
		base := time.Second << min(i, 6)
		if d < base || d >= base+time.Second {
			t.Errorf("NAK %d: delay %v, want [%v, %v)", i+1, d, base, base+time.Second)
		}
	}
	// A lease resets the count.
	out = c.Receive(now, answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer))
	c.Receive(now, answer(t, one(t, out).Data, dhcpv4.MessageTypeAck))
	out = c.ForceRenew(now)
	out = c.Receive(now, answer(t, one(t, out).Data, dhcpv4.MessageTypeNak))
	if d := out.Deadline.Sub(now); d >= 2*time.Second {
		t.Errorf("first NAK after a lease waits %v", d)
	}
}

func TestClasslessRoutes(t *testing.T) {
	r121 := []byte{
		0, 192, 0, 2, 254, // default via 192.0.2.254
		24, 203, 0, 113, 0, 0, 0, 0, // 203.0.113.0/24 on-link
		32, 198, 51, 100, 7, 192, 0, 2, 253, // host route
		25, 10, 1, 2, 200, 192, 0, 2, 252, // host bits beyond /25 are cleared
	}
	tests := []struct {
		name      string
		mods      []mod
		routers   []netip.Addr
		static    []Route
		routes    []Route
		badRoutes uint64
	}{
		{
			name:    "option 3 only",
			routers: []netip.Addr{serverIP},
			routes:  []Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Via: serverIP}},
		},
		{
			name: "121 preferred over 3",
			mods: []mod{opt(optClassless, r121)},
			static: []Route{
				{Dst: netip.MustParsePrefix("0.0.0.0/0"), Via: netip.MustParseAddr("192.0.2.254")},
				{Dst: netip.MustParsePrefix("203.0.113.0/24")},
				{Dst: netip.MustParsePrefix("198.51.100.7/32"), Via: netip.MustParseAddr("192.0.2.253")},
				{Dst: netip.MustParsePrefix("10.1.2.128/25"), Via: netip.MustParseAddr("192.0.2.252")},
			},
		},
		{
			name:      "121 truncated: option 3 used",
			mods:      []mod{opt(optClassless, r121[:len(r121)-2])},
			routers:   []netip.Addr{serverIP},
			routes:    []Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Via: serverIP}},
			badRoutes: 1,
		},
		{
			name:      "121 width 33: option 3 used",
			mods:      []mod{opt(optClassless, []byte{33, 1, 2, 3, 4, 5, 192, 0, 2, 1})},
			routers:   []netip.Addr{serverIP},
			routes:    []Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Via: serverIP}},
			badRoutes: 1,
		},
		{
			name:      "121 multicast router: option 3 used",
			mods:      []mod{opt(optClassless, []byte{0, 224, 0, 0, 1})},
			routers:   []netip.Addr{serverIP},
			routes:    []Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Via: serverIP}},
			badRoutes: 1,
		},
		{
			name: "121 without 3",
			mods: []mod{without(optRouter), opt(optClassless, r121[:5])},
			static: []Route{
				{Dst: netip.MustParsePrefix("0.0.0.0/0"), Via: netip.MustParseAddr("192.0.2.254")},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t)
			out := c.Start(t0, nil)
			out = c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer))
			c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeAck, tt.mods...))
			l := c.Lease()
			if !l.Bound() {
				t.Fatalf("not bound: %s", l.LastError)
			}
			if !slices.Equal(l.Routers, tt.routers) {
				t.Errorf("routers %v, want %v", l.Routers, tt.routers)
			}
			if !slices.Equal(l.StaticRoutes, tt.static) {
				t.Errorf("static routes %v, want %v", l.StaticRoutes, tt.static)
			}
			want := tt.routes
			if want == nil {
				want = tt.static
			}
			if got := l.Routes(); !slices.Equal(got, want) {
				t.Errorf("Routes() %v, want %v", got, want)
			}
			if got := c.Counters().BadRoutes; got != tt.badRoutes {
				t.Errorf("BadRoutes %d, want %d", got, tt.badRoutes)
			}
		})
	}
}

func TestIPv6OnlyPreferred(t *testing.T) {
	v6 := func(c *Config) { c.IPv6OnlyPreferred = true }
	tests := []struct {
		name  string
		value uint32
		wait  time.Duration
	}{
		{"server value", 1800, 1800 * time.Second},
		{"below MIN_V6ONLY_WAIT", 60, 300 * time.Second},
		{"zero", 0, 300 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, v6)
			out := c.Start(t0, nil)
			d := decode(t, one(t, out).Data)
			if !d.IsOptionRequested(dhcpv4.OptionIPv6OnlyPreferred) {
				t.Fatal("option 108 not requested")
			}
			out = c.Receive(at(1), answer(t, d.ToBytes(), dhcpv4.MessageTypeOffer, opt(optIPv6Only, u32(tt.value))))
			if len(out.Send) != 0 {
				t.Fatalf("requested the address despite option 108: %v", msgType(t, out.Send[0]))
			}
			if c.State() != StateIPv6Only || out.Lease == nil {
				t.Fatalf("state %s", c.State())
			}
			if out.Lease.IPv6OnlyWait != time.Duration(tt.value)*time.Second || !out.Lease.IPv6OnlyUntil.Equal(at(1).Add(tt.wait)) {
				t.Errorf("recorded wait %v until %v, want %v until +%v", out.Lease.IPv6OnlyWait, out.Lease.IPv6OnlyUntil, tt.value, tt.wait)
			}
			if !out.Deadline.Equal(at(1).Add(tt.wait)) {
				t.Errorf("deadline %v", out.Deadline.Sub(t0))
			}
			if out := c.Timer(at(1).Add(tt.wait - time.Millisecond)); len(out.Send) != 0 {
				t.Error("asked for IPv4 before V6ONLY_WAIT ended")
			}
			out = c.Timer(at(1).Add(tt.wait))
			if c.State() != StateSelecting || msgType(t, one(t, out)) != dhcpv4.MessageTypeDiscover {
				t.Errorf("after the wait: state %s", c.State())
			}
		})
	}
	t.Run("link up ends the wait", func(t *testing.T) {
		c := newClient(t, v6)
		out := c.Start(t0, nil)
		c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer, opt(optIPv6Only, u32(3600))))
		c.LinkDown(at(10))
		out = c.LinkUp(at(20))
		if c.State() != StateSelecting || msgType(t, one(t, out)) != dhcpv4.MessageTypeDiscover {
			t.Errorf("after link up: state %s", c.State())
		}
	})
	t.Run("INIT-REBOOT ACK", func(t *testing.T) {
		_, saved := restart(t)
		c := newClient(t, v6)
		out := c.Start(at(60), saved)
		out = c.Receive(at(61), answer(t, one(t, out).Data, dhcpv4.MessageTypeAck, opt(optIPv6Only, u32(900))))
		if c.State() != StateIPv6Only || c.Lease().Bound() {
			t.Errorf("state %s, bound %v", c.State(), c.Lease().Bound())
		}
		if out.Persist == nil || out.Persist.Bound() {
			t.Errorf("saved IPv4 lease kept: %+v", out.Persist)
		}
	})
	t.Run("not configured: recorded only", func(t *testing.T) {
		c := newClient(t)
		out := c.Start(t0, nil)
		if decode(t, one(t, out).Data).IsOptionRequested(dhcpv4.OptionIPv6OnlyPreferred) {
			t.Error("option 108 requested without IPv6OnlyPreferred")
		}
		out = c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer, opt(optIPv6Only, u32(1800))))
		c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeAck, opt(optIPv6Only, u32(1800))))
		if l := c.Lease(); c.State() != StateBound || l.IPv6OnlyWait != 1800*time.Second {
			t.Errorf("state %s, recorded %v", c.State(), l.IPv6OnlyWait)
		}
	})
}

func TestRetransmission(t *testing.T) {
	for seed := range uint64(50) {
		c := newClient(t, func(c *Config) { c.Rand = randFor(seed) })
		out := c.Start(t0, nil)
		now := t0
		for i := range 10 {
			base := min(4*time.Second<<i, 64*time.Second)
			d := out.Deadline.Sub(now)
			if d < base-time.Second || d > base+time.Second {
				t.Fatalf("seed %d: DISCOVER retransmission %d after %v, want %v ±1 s", seed, i+1, d, base)
			}
			now = out.Deadline
			out = c.Timer(now)
			if msgType(t, one(t, out)) != dhcpv4.MessageTypeDiscover {
				t.Fatal("not a DISCOVER")
			}
		}
		// REQUESTING: four REQUESTs 4, 8, 16 s apart, then 32 s of waiting.
		out = c.Receive(now, answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer))
		for i := range maxRequests {
			base := 4 * time.Second << i
			d := out.Deadline.Sub(now)
			if d < base-time.Second || d > base+time.Second {
				t.Fatalf("seed %d: REQUEST wait %d is %v, want %v ±1 s", seed, i+1, d, base)
			}
			now = out.Deadline
			out = c.Timer(now)
			want := dhcpv4.MessageTypeRequest
			if i == maxRequests-1 {
				want = dhcpv4.MessageTypeDiscover
			}
			if got := msgType(t, one(t, out)); got != want {
				t.Fatalf("seed %d: after wait %d sent %v, want %v", seed, i+1, got, want)
			}
		}
		if c.State() != StateSelecting || c.Lease().LastError == "" {
			t.Fatalf("state %s, error %q after an unanswered REQUEST", c.State(), c.Lease().LastError)
		}
	}
}

func TestDiscoverSecs(t *testing.T) {
	c := newClient(t)
	out := c.Start(t0, nil)
	out = c.Timer(out.Deadline)
	if secs := decode(t, one(t, out).Data).NumSeconds; secs < 3 || secs > 5 {
		t.Errorf("secs %d on the first retransmission, want about 4", secs)
	}
}

func TestLinkDownUp(t *testing.T) {
	c := newClient(t)
	bind(t, c)
	out := c.LinkDown(at(100))
	if c.State() != StateLinkDown || len(out.Send) != 0 {
		t.Fatalf("state %s, sent %d", c.State(), len(out.Send))
	}
	if out.Lease == nil || !out.Lease.Bound() {
		t.Fatalf("lease withdrawn on link down: %+v", out.Lease)
	}
	if !out.Deadline.Equal(at(3600)) {
		t.Errorf("deadline %v, want expiry", out.Deadline.Sub(t0))
	}
	if out := c.Timer(at(1800)); len(out.Send) != 0 {
		t.Error("sent while the link is down")
	}
	out = c.LinkUp(at(2000))
	p := one(t, out)
	r := decode(t, p.Data)
	if c.State() != StateRebooting || !r.RequestedIPAddress().Equal(leaseIP.AsSlice()) || !p.Broadcast {
		t.Fatalf("link up: state %s, requested %v", c.State(), r.RequestedIPAddress())
	}
	if !c.Lease().Bound() {
		t.Error("lease withdrawn while verifying it")
	}
	c.Receive(at(2001), answer(t, p.Data, dhcpv4.MessageTypeAck))
	if c.State() != StateBound || !c.Lease().Start.Equal(at(2000)) {
		t.Errorf("state %s, start %v", c.State(), c.Lease().Start.Sub(t0))
	}

	t.Run("lease expires while down", func(t *testing.T) {
		c := newClient(t)
		bind(t, c)
		c.LinkDown(at(100))
		out := c.Timer(at(3600))
		if out.Lease == nil || out.Lease.Bound() || c.State() != StateLinkDown || len(out.Send) != 0 {
			t.Fatalf("at expiry: state %s, facts %+v, sent %d", c.State(), out.Lease, len(out.Send))
		}
		if !out.Deadline.IsZero() {
			t.Errorf("deadline %v with no lease and no link", out.Deadline)
		}
		out = c.LinkUp(at(4000))
		if msgType(t, one(t, out)) != dhcpv4.MessageTypeDiscover {
			t.Error("no DISCOVER on link up without a lease")
		}
	})
	t.Run("link flap, server silent: lease kept until expiry", func(t *testing.T) {
		c := newClient(t)
		bind(t, c)
		c.LinkDown(at(100))
		out := c.LinkUp(at(200))
		for c.State() == StateRebooting {
			out = c.Timer(out.Deadline)
		}
		if c.State() != StateSelecting || !c.Lease().Bound() {
			t.Fatalf("state %s, bound %v", c.State(), c.Lease().Bound())
		}
		var now time.Time
		for i := 0; c.Lease().Bound(); i++ {
			if i > 100 {
				t.Fatal("lease never expired")
			}
			now = out.Deadline
			out = c.Timer(now)
		}
		if !now.Equal(at(3600)) {
			t.Errorf("lease withdrawn at %v, want at its expiry", now.Sub(t0))
		}
	})
}

func TestForceRenew(t *testing.T) {
	c := newClient(t)
	bind(t, c)
	out := c.ForceRenew(at(10))
	p := one(t, out)
	if c.State() != StateRenewing || p.Broadcast || p.To != serverIP {
		t.Fatalf("state %s, packet to %v", c.State(), p.To)
	}
	c.Receive(at(11), answer(t, p.Data, dhcpv4.MessageTypeAck))
	if c.State() != StateBound || !c.Lease().Start.Equal(at(10)) {
		t.Errorf("state %s, start %v", c.State(), c.Lease().Start.Sub(t0))
	}
}

func TestRelease(t *testing.T) {
	c := newClient(t)
	bind(t, c)
	out := c.Release(at(10))
	p := one(t, out)
	r := decode(t, p.Data)
	if r.MessageType() != dhcpv4.MessageTypeRelease || p.Broadcast || p.To != serverIP || p.From != leaseIP {
		t.Fatalf("sent %v to %v from %v", r.MessageType(), p.To, p.From)
	}
	if !r.ClientIPAddr.Equal(leaseIP.AsSlice()) || !r.ServerIdentifier().Equal(serverIP.AsSlice()) ||
		r.Options.Has(dhcpv4.OptionParameterRequestList) || r.Options.Has(dhcpv4.OptionRequestedIPAddress) {
		t.Errorf("RELEASE fields: ciaddr %v, options %v", r.ClientIPAddr, r.Options)
	}
	if c.State() != StateStopped || out.Lease == nil || out.Lease.Bound() || !out.Deadline.IsZero() {
		t.Errorf("after release: state %s, facts %+v, deadline %v", c.State(), out.Lease, out.Deadline)
	}
	if out.Persist == nil || out.Persist.Bound() {
		t.Errorf("persist %+v, want deletion", out.Persist)
	}
	if out := c.Timer(at(5000)); len(out.Send) != 0 {
		t.Error("stopped client sent")
	}
}

func TestClientIdentifier(t *testing.T) {
	duid := []byte{0, 1, 0, 1, 0x2a, 0x2b, 0x2c, 0x2d, 2, 0, 0x5e, 0x10, 0, 1}
	want := append([]byte{0xff, 0, 0, 0, 7}, duid...)
	if got := ClientIDFromDUID(7, duid); string(got) != string(want) {
		t.Errorf("ClientIDFromDUID = %x, want %x", got, want)
	}
	c := newClient(t)
	if got := decode(t, one(t, c.Start(t0, nil)).Data).Options[optClientID]; string(got) != string(ClientIDFromMAC(mac)) {
		t.Errorf("default client id %x", got)
	}
	c = newClient(t, func(c *Config) { c.ClientID = want })
	out := c.Start(t0, nil)
	if got := decode(t, one(t, out).Data).Options[optClientID]; string(got) != string(want) {
		t.Errorf("client id %x, want %x", got, want)
	}
	// A reply echoing it (RFC 6842) is ours.
	c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer, opt(optClientID, want)))
	if c.State() != StateRequesting {
		t.Errorf("echoed client id refused: %+v", c.Counters())
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"short MAC", func(c *Config) { c.HWAddr = c.HWAddr[:4] }},
		{"client id of one byte", func(c *Config) { c.ClientID = []byte{1} }},
		{"client id too long", func(c *Config) { c.ClientID = make([]byte, 256) }},
		{"host name too long", func(c *Config) { c.Hostname = string(make([]byte, 256)) }},
	}
	for _, tt := range tests {
		cfg := testConfig()
		tt.mod(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestDecline(t *testing.T) {
	c := newClient(t)
	bind(t, c)
	out := c.Decline(at(2))
	p := one(t, out)
	r := decode(t, p.Data)
	if r.MessageType() != dhcpv4.MessageTypeDecline || !p.Broadcast || p.From.IsValid() {
		t.Fatalf("sent %v to %v from %v", r.MessageType(), p.To, p.From)
	}
	if !r.RequestedIPAddress().Equal(leaseIP.AsSlice()) || !r.ServerIdentifier().Equal(serverIP.AsSlice()) ||
		!r.ClientIPAddr.IsUnspecified() || r.Options.Has(dhcpv4.OptionParameterRequestList) || r.Options.Has(dhcpv4.OptionHostName) {
		t.Errorf("DECLINE fields (RFC 2131 table 5): ciaddr %v, options %v", r.ClientIPAddr, r.Options)
	}
	if out.Lease == nil || out.Lease.Bound() || c.State() != StateInit || out.Persist == nil || out.Persist.Bound() {
		t.Fatalf("after decline: state %s, facts %+v, persist %+v", c.State(), out.Lease, out.Persist)
	}
	if !out.Deadline.Equal(at(12)) {
		t.Errorf("restart at %v, want 10 s later", out.Deadline.Sub(t0))
	}
	if out := c.Timer(at(12)); msgType(t, one(t, out)) != dhcpv4.MessageTypeDiscover {
		t.Error("no DISCOVER after the decline delay")
	}
	if out := c.Decline(at(13)); len(out.Send) != 0 {
		t.Error("declined without a lease")
	}
}
