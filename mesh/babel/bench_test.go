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
