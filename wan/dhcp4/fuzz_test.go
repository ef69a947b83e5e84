package dhcp4

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"cpe/internal/golden"
)

// fuzzStates are the states FuzzReceive puts a client in before feeding it.
var fuzzStates = []State{StateSelecting, StateRequesting, StateRebooting, StateBound, StateRenewing,
	StateRebinding, StateInit, StateIPv6Only, StateLinkDown, StateStopped}

// clientIn returns a client in state s, IPv6-only capable when v6 is set,
// and the time it got there.
func clientIn(t testing.TB, s State, v6 bool) *Client {
	t.Helper()
	c := newClient(t, func(c *Config) { c.IPv6OnlyPreferred = v6 })
	if s == StateStopped {
		return c
	}
	if s == StateRebooting {
		saved := Lease{Address: netip.MustParsePrefix("192.0.2.10/24"), ServerID: serverIP, Start: t0, T1: at(1800), T2: at(3150), Expiry: at(3600)}
		c.Start(t0, &saved)
		return c
	}
	out := c.Start(t0, nil)
	switch s {
	case StateSelecting:
		return c
	case StateIPv6Only:
		c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer, opt(optIPv6Only, u32(600))))
		if !v6 {
			// Without the option configured, IPv6-only needs it anyway.
			c = newClient(t, func(c *Config) { c.IPv6OnlyPreferred = true })
			out = c.Start(t0, nil)
			c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer, opt(optIPv6Only, u32(600))))
		}
		return c
	}
	out = c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer))
	switch s {
	case StateRequesting:
		return c
	case StateInit:
		c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeNak))
		return c
	}
	c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeAck))
	switch s {
	case StateRenewing:
		c.Timer(at(1800))
	case StateRebinding:
		c.Timer(at(3150))
	case StateLinkDown:
		c.LinkDown(at(10))
	}
	return c
}

// checkInvariants holds whatever a packet did.
func checkInvariants(t *testing.T, c *Client, out Output) {
	t.Helper()
	l := c.Lease()
	switch c.State() {
	case StateBound, StateRenewing, StateRebinding:
		if !l.Bound() {
			t.Fatalf("%s without a lease", c.State())
		}
	case StateStopped:
		if !out.Deadline.IsZero() {
			t.Fatal("stopped client with a deadline")
		}
	case StateLinkDown:
	default:
		if out.Deadline.IsZero() {
			t.Fatalf("%s without a deadline", c.State())
		}
	}
	if l.Bound() {
		if !l.Address.Addr().Is4() || !usableUnicast(l.Address.Addr()) || l.Address.Bits() < 1 {
			t.Fatalf("bad address %v", l.Address)
		}
		if !(l.Start.Before(l.T1) && l.T1.Before(l.T2) && l.T2.Before(l.Expiry)) {
			t.Fatalf("times out of order: %+v", l)
		}
		if l.MTU != 0 && l.MTU < 68 {
			t.Fatalf("MTU %d", l.MTU)
		}
		for _, r := range l.StaticRoutes {
			if !r.Dst.IsValid() || r.Dst != r.Dst.Masked() || (r.Via.IsValid() && !usableUnicast(r.Via)) {
				t.Fatalf("bad route %+v", r)
			}
		}
		if len(l.StaticRoutes) > 0 && len(l.Routers) > 0 {
			t.Fatal("option 3 kept next to option 121")
		}
	}
	if out.Persist != nil && out.Persist.Bound() && !out.Persist.Equal(l.binding()) {
		t.Fatalf("persisted %+v, published %+v", out.Persist, l)
	}
	for _, p := range out.Send {
		m, err := dhcpv4.FromBytes(p.Data)
		if err != nil || m.OpCode != dhcpv4.OpcodeBootRequest || !p.To.IsValid() {
			t.Fatalf("sent a bad packet to %v: %v", p.To, err)
		}
	}
}

// FuzzReceive feeds arbitrary bytes to a client in every state. With fix
// set the xid, op and chaddr are patched to match, so the fuzzer spends its
// time on options rather than on guessing the transaction ID. The seed
// corpus is testdata/fuzz/FuzzReceive (see TestFuzzSeedCorpus).
func FuzzReceive(f *testing.F) {
	f.Fuzz(func(t *testing.T, state uint8, fix bool, data []byte) {
		c := clientIn(t, fuzzStates[int(state&0x7f)%len(fuzzStates)], state&0x80 != 0)
		if fix && len(data) >= 34 {
			data[0] = byte(dhcpv4.OpcodeBootReply)
			data[2] = 6
			copy(data[4:8], c.xid[:])
			copy(data[28:34], mac)
		}
		out := c.Receive(at(20), data)
		checkInvariants(t, c, out)
		if !out.Deadline.IsZero() {
			out = c.Timer(out.Deadline)
			checkInvariants(t, c, out)
		}
	})
}

type fuzzSeed struct {
	name  string
	state uint8
	fix   bool
	data  []byte
}

// fuzzSeeds are valid and broken replies for each state.
func fuzzSeeds(t testing.TB) []fuzzSeed {
	var seeds []fuzzSeed
	for i, s := range fuzzStates {
		req := one(t, newClient(t).Start(t0, nil)).Data
		add := func(kind string, fix bool, b []byte) {
			st := uint8(i)
			if kind == "v6only" {
				st |= 0x80 // the IPv6OnlyPreferred client
			}
			seeds = append(seeds, fuzzSeed{fmt.Sprintf("%s-%s", s, kind), st, fix, b})
		}
		add("offer", true, answer(t, req, dhcpv4.MessageTypeOffer))
		add("ack", true, answer(t, req, dhcpv4.MessageTypeAck,
			opt(optClassless, []byte{0, 192, 0, 2, 1, 24, 10, 0, 0, 0, 0, 0, 0}), opt(optT1, u32(100)), opt(optT2, u32(200))))
		add("nak", true, answer(t, req, dhcpv4.MessageTypeNak))
		add("v6only", true, answer(t, req, dhcpv4.MessageTypeOffer, opt(optIPv6Only, u32(1))))
		add("truncated", false, answer(t, req, dhcpv4.MessageTypeAck)[:240])
	}
	return seeds
}

// TestFuzzSeedCorpus keeps testdata/fuzz/FuzzReceive in step with
// fuzzSeeds (rewritten with -update), so the corpus checked in is the one
// that reaches every state.
func TestFuzzSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReceive")
	for _, s := range fuzzSeeds(t) {
		body := fmt.Sprintf("go test fuzz v1\nbyte(%q)\nbool(%v)\n[]byte(%q)\n", s.state, s.fix, s.data)
		golden.Check(t, filepath.Join("fuzz", "FuzzReceive", s.name), []byte(body))
	}
	if !golden.Update() {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if want := len(fuzzSeeds(t)); len(entries) != want {
			t.Errorf("%d files in %s, want %d", len(entries), dir, want)
		}
	}
}
