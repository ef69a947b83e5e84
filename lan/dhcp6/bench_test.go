package dhcp6

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
)

// benchServer is a server with a /48 delegated and /64s delegated to
// clients: room for 65535 of them.
func benchServer(b *testing.B) *Server {
	p := newPlanner(b, delegation("wan0", netip.MustParsePrefix("2001:db8:100::/48"), 24*time.Hour))
	p.in.PDLength = 64
	p.replan(t0)
	return newServer(b, p.config())
}

// BenchmarkSolicitRequest: one Solicit+Advertise+Request+Reply exchange
// per op, over 10k clients that already hold their bindings (the steady
// state of a busy LAN, and what perfdhcp -6 -R 10000 measures after its
// first pass), for IA_NA, IA_PD and both in one exchange.
func BenchmarkSolicitRequest(b *testing.B) {
	for _, bc := range []struct {
		name string
		ias  func() []dhcpv6.Option
	}{
		{"ia_na", func() []dhcpv6.Option { return []dhcpv6.Option{na(1)} }},
		{"ia_pd", func() []dhcpv6.Option { return []dhcpv6.Option{pd(1)} }},
		{"ia_na+ia_pd", func() []dhcpv6.Option { return []dhcpv6.Option{na(1), pd(2)} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const clients = 10000
			s := benchServer(b)
			sol := make([][]byte, clients)
			req := make([][]byte, clients)
			for i := range clients {
				sol[i] = msg(dhcpv6.MessageTypeSolicit, clientDUID(i), bc.ias()...)
				req[i] = msg(dhcpv6.MessageTypeRequest, clientDUID(i), append([]dhcpv6.Option{ours}, bc.ias()...)...)
				bind(b, s, t0, i, bc.ias()...)
			}
			b.ReportAllocs()
			b.ResetTimer()
			now := t0
			for i := 0; b.Loop(); i++ {
				now = now.Add(time.Millisecond)
				c := i % clients
				if r, _ := s.Handle(now, sol[c], "lan0", src); r == nil || r.Type != dhcpv6.MessageTypeAdvertise {
					b.Fatal("no Advertise")
				}
				if r, _ := s.Handle(now, req[c], "lan0", src); r == nil || r.Type != dhcpv6.MessageTypeReply {
					b.Fatal("no Reply")
				}
			}
		})
	}
}

// BenchmarkSolicitRequestNew: a never-seen client per op, Solicit, Request
// then Release, so allocation goes through the pool every time.
func BenchmarkSolicitRequestNew(b *testing.B) {
	s := benchServer(b)
	b.ReportAllocs()
	now := t0
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Millisecond)
		d := clientDUID(i)
		if r, _ := s.Handle(now, msg(dhcpv6.MessageTypeSolicit, d, na(1), pd(2)), "lan0", src); r == nil {
			b.Fatal("no Advertise")
		}
		r, _ := s.Handle(now, msg(dhcpv6.MessageTypeRequest, d, ours, na(1), pd(2)), "lan0", src)
		if r == nil {
			b.Fatal("no Reply")
		}
		m, _ := parseReply(r.Data)
		s.Handle(now, msg(dhcpv6.MessageTypeRelease, d, ours, m.Options.IANA()[0], m.Options.IAPD()[0]), "lan0", src)
	}
}

// BenchmarkState is the cost of one save of 10k IA_NA + IA_PD bindings.
func BenchmarkState(b *testing.B) {
	s := benchServer(b)
	for i := range 10000 {
		bind(b, s, t0, i, na(1), pd(2))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(s.State()); err != nil {
			b.Fatal(err)
		}
	}
}
