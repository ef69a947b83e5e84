package babel

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkSteadyState measures what a node spends on the packets of a
// stable network: a neighbour's Hello with its periodic update of n
// routes, all already known, so that nothing changes but timers.
func BenchmarkSteadyState(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			e, err := New(Options{RouterID: rid2, Announce: announce("2001:db8:1::/48"), Rand: zeroRand{}}, t0)
			if err != nil {
				b.Fatal(err)
			}
			e.AddInterface(t0, Interface{Name: "mesh0", Type: Wireless})
			e.LinkUp(t0, "mesh0", fuzzLL)
			peer := netip.MustParseAddrPort("[fe80::2]:6696")
			dst := netip.AddrPortFrom(MulticastGroup, Port)
			var ups []TLV
			for i := range n {
				ups = append(ups, Update{Interval: 1600, Seqno: 7, Metric: 256,
					Prefix:   netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x10, 0, byte(i >> 8), byte(i)}), 64),
					RouterID: rid1})
			}
			bld := NewBuilder(DefaultMTU - ipUDPHeaders)
			var pkts [][]byte
			for seq := range uint16(64) {
				bld.Add(Hello{Seqno: seq, Interval: 400}, IHU{Rxcost: 256, Interval: 1200, Address: fuzzLL})
				bld.Add(ups...)
				pkts = append(pkts, bld.Packets()...)
			}
			now := t0
			for i := range 20 {
				e.Receive(now, "mesh0", peer, dst, pkts[i%len(pkts)])
				now = now.Add(10 * time.Millisecond)
			}
			if got := len(e.Installed()); got != n {
				b.Fatalf("%d routes installed, want %d", got, n)
			}
			b.ReportAllocs()
			b.ResetTimer()
			helloSeqno := uint16(100)
			for i := range b.N {
				// Ten packets a second of simulated time, the Hellos' seqnos
				// counting up as a live neighbour's do.
				now = now.Add(100 * time.Millisecond)
				p := pkts[i%len(pkts)]
				if Type(p[HeaderLen]) == TypeHello {
					binary.BigEndian.PutUint16(p[HeaderLen+4:], helloSeqno)
					helloSeqno++
				}
				e.Receive(now, "mesh0", peer, dst, p)
				if !e.Next().After(now) {
					e.Tick(now)
				}
				e.Output()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
			if got := len(e.Installed()); got != n {
				b.Fatalf("%d routes installed at the end, want %d", got, n)
			}
		})
	}
}

// BenchmarkIdle measures what an idle box spends on its own timers: a
// node with two wired interfaces, a neighbour on each, woken for each of
// its deadlines (Hellos, IHUs, full updates) and for the neighbours'
// Hellos, which come every 4 s with one route. One operation is one
// wake-up: a Tick, or a received packet, and what it sends.
func BenchmarkIdle(b *testing.B) {
	e, err := New(Options{RouterID: rid2, Announce: announce("2001:db8:1::/64", "2001:db8:2::/64"), Rand: zeroRand{}}, t0)
	if err != nil {
		b.Fatal(err)
	}
	type peer struct {
		ifname string
		ll     netip.Addr
		pkt    []byte // its Hello, IHU and Update; the Hello seqno is set for each
		seqno  uint16
		next   time.Time
	}
	var peers []*peer
	for i, ifname := range []string{"m0", "m1"} {
		ours := netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: byte(10 + i)})
		e.AddInterface(t0, Interface{Name: ifname, Type: Wired})
		e.LinkUp(t0, ifname, ours)
		pkt, err := Marshal(Hello{Interval: 400}, IHU{Rxcost: 96, Interval: 1200, Address: ours},
			Update{Interval: 1600, Seqno: 7, Metric: 96, Prefix: netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x10, byte(i)}), 64), RouterID: rid1})
		if err != nil {
			b.Fatal(err)
		}
		peers = append(peers, &peer{ifname: ifname, ll: netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: byte(2 + i)}), pkt: pkt, next: t0})
	}
	dst := netip.AddrPortFrom(MulticastGroup, Port)
	// wake does what the next event is, as the router would.
	wake := func() {
		next, due := e.Next(), (*peer)(nil)
		for _, p := range peers {
			if p.next.Before(next) && (due == nil || p.next.Before(due.next)) {
				due = p
			}
		}
		if due == nil {
			e.Tick(next)
		} else {
			binary.BigEndian.PutUint16(due.pkt[HeaderLen+4:], due.seqno)
			due.seqno++
			e.Receive(due.next, due.ifname, netip.AddrPortFrom(due.ll, Port), dst, due.pkt)
			due.next = due.next.Add(4 * time.Second)
		}
		e.Output()
	}
	for range 100 {
		wake()
	}
	if got := len(e.Installed()); got != 2 {
		b.Fatalf("%d routes installed, want 2", got)
	}
	start, sent := e.now, e.counters.PacketsOut
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		wake()
	}
	b.StopTimer()
	if got := len(e.Installed()); got != 2 {
		b.Fatalf("%d routes installed at the end, want 2", got)
	}
	b.ReportMetric(float64(b.N)/e.now.Sub(start).Minutes(), "wakes/min")
	b.ReportMetric(float64(e.counters.PacketsOut-sent)/e.now.Sub(start).Minutes(), "sent/min")
}
