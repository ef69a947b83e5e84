package dhcp4

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func benchConfig() Config {
	c := testConfig()
	c.Address = netip.MustParsePrefix("10.0.0.1/16")
	c.PoolStart, c.PoolEnd = netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.255.254")
	return c
}

// BenchmarkDORA: one DISCOVER+OFFER+REQUEST+ACK exchange per op, over 10k
// clients that already hold leases (the steady state of a busy LAN, and
// what perfdhcp -R 10000 measures against kea after its first pass).
func BenchmarkDORA(b *testing.B) {
	const clients = 10000
	s := newServer(b, benchConfig())
	disc := make([][]byte, clients)
	req := make([][]byte, clients)
	for i := range clients {
		disc[i] = msg(b, dhcpv4.MessageTypeDiscover, mac(i))
		a := dora(b, s, t0, mac(i))
		req[i] = msg(b, dhcpv4.MessageTypeRequest, mac(i), sid(netipIP(netip.MustParseAddr("10.0.0.1"))), reqIP(a.String()))
	}
	b.ReportAllocs()
	b.ResetTimer()
	now := t0
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Millisecond)
		c := i % clients
		if r, _ := s.Handle(now, disc[c], "lan0", noSrc); r == nil {
			b.Fatal("no OFFER")
		}
		if r, _ := s.Handle(now, req[c], "lan0", noSrc); r == nil || r.Type != dhcpv4.MessageTypeAck {
			b.Fatal("no ACK")
		}
	}
}

// BenchmarkDORANew: a never-seen client per op, DORA then RELEASE, so
// allocation runs through the free sets and evicts old records once the
// clean addresses are used up.
func BenchmarkDORANew(b *testing.B) {
	s := newServer(b, benchConfig())
	disc := msg(b, dhcpv4.MessageTypeDiscover, mac(0))
	req := msg(b, dhcpv4.MessageTypeRequest, mac(0), sid(netipIP(netip.MustParseAddr("10.0.0.1"))), reqIP("10.0.0.2"))
	rel := msg(b, dhcpv4.MessageTypeRelease, mac(0), ciaddr("10.0.0.2"))
	reqAt := bytes.Index(req, []byte{50, 4, 10, 0, 0, 2}) + 2
	const chaddr = 28
	b.ReportAllocs()
	now := t0
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Millisecond)
		hw := mac(i)
		copy(disc[chaddr:], hw)
		copy(req[chaddr:], hw)
		copy(rel[chaddr:], hw)
		r, _ := s.Handle(now, disc, "lan0", noSrc)
		if r == nil {
			b.Fatal("no OFFER")
		}
		yi := r.Data[16:20]
		copy(req[reqAt:], yi)
		copy(rel[12:], yi)
		if r, _ := s.Handle(now, req, "lan0", noSrc); r == nil || r.Type != dhcpv4.MessageTypeAck {
			b.Fatal("no ACK")
		}
		s.Handle(now, rel, "lan0", noSrc)
	}
}

// BenchmarkState is the cost of one save of a 10k-lease table.
func BenchmarkState(b *testing.B) {
	s := newServer(b, benchConfig())
	for i := range 10000 {
		dora(b, s, t0, mac(i))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(s.State()); err != nil {
			b.Fatal(err)
		}
	}
}

func netipIP(a netip.Addr) []byte { return a.AsSlice() }
