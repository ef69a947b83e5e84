package babel

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"cpe/internal/golden"
)

// Golden datagrams: what the engine emits in representative states, byte
// for byte. Randomness is zeros and time is fixed, so the files change
// only when the engine's behaviour does.

var (
	goldenLL   = netip.MustParseAddr("fe80::1")
	goldenPeer = netip.MustParseAddrPort("[fe80::2]:6696")
)

func goldenEngine(t *testing.T, ifo Interface, announced ...string) *Engine {
	t.Helper()
	e, err := New(Options{RouterID: rid2, State: State{RouterID: rid2, Seqno: 99}, Announce: announce(announced...), Rand: zeroRand{}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if ifo.Name == "" {
		ifo.Name = "mesh0"
	}
	if err := e.AddInterface(t0, ifo); err != nil {
		t.Fatal(err)
	}
	if err := e.LinkUp(t0, ifo.Name, goldenLL); err != nil {
		t.Fatal(err)
	}
	return e
}

func dumpDatagrams(t *testing.T, ds []Datagram) []byte {
	t.Helper()
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "# %s -> %v\n", d.Interface, d.Dst)
		p := mustParse(t, d.Data)
		if len(p.Ignored) != 0 {
			t.Errorf("our own datagram has ignored TLVs: %+v", p.Ignored)
		}
		for _, x := range p.TLVs {
			fmt.Fprintf(&b, "#   %v\n", x.Type())
		}
		b.WriteString(hexLines(d.Data))
	}
	return []byte(b.String())
}

func feed(t *testing.T, e *Engine, at time.Time, dst netip.Addr, tlvs ...TLV) {
	t.Helper()
	pkt, err := Marshal(tlvs...)
	if err != nil {
		t.Fatal(err)
	}
	e.Receive(at, "mesh0", goldenPeer, netip.AddrPortFrom(dst, Port), pkt)
}

func TestGoldenEngine(t *testing.T) {
	all := []string{"2001:db8:1::/48", "2001:db8:1:2::/64", "::/0 from 2001:db8:1::/48", "10.1.0.0/16"}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T) []Datagram
	}{
		{"linkup", func(t *testing.T) []Datagram {
			// A Hello, a wildcard request and the whole table.
			return goldenEngine(t, Interface{Type: Wired}, all...).Output()
		}},
		{"linkup_ipv4_nexthop", func(t *testing.T) []Datagram {
			return goldenEngine(t, Interface{Type: Wired, IPv4: netip.MustParseAddr("192.0.2.1")}, "10.1.0.0/16").Output()
		}},
		{"linkup_hmac", func(t *testing.T) []Datagram {
			return goldenEngine(t, Interface{Type: Wired, Keys: []Key{key1, key2}}, "2001:db8:1::/48").Output()
		}},
		{"new_neighbour", func(t *testing.T) []Datagram {
			// Its first Hello is answered with ours and an IHU; the
			// second makes the link usable and asks for its table.
			e := goldenEngine(t, Interface{Type: Wired})
			e.Output()
			feed(t, e, t0.Add(time.Second), MulticastGroup, Hello{Seqno: 10, Interval: 400})
			out := e.Output()
			feed(t, e, t0.Add(2*time.Second), MulticastGroup, Hello{Seqno: 11, Interval: 400},
				IHU{Rxcost: 96, Interval: 1200, Address: goldenLL})
			return append(out, e.Output()...)
		}},
		{"periodic_with_learned_routes", func(t *testing.T) []Datagram {
			e := goldenEngine(t, Interface{Type: Wireless}, "2001:db8:1::/48")
			feed(t, e, t0.Add(time.Second), MulticastGroup, Hello{Seqno: 10, Interval: 400})
			feed(t, e, t0.Add(2*time.Second), MulticastGroup, Hello{Seqno: 11, Interval: 400},
				IHU{Rxcost: 256, Interval: 1200, Address: goldenLL},
				Update{Interval: 1600, Seqno: 7, Metric: 100, Prefix: mp("2001:db8:9::/48"), RouterID: rid1},
				Update{Interval: 1600, Seqno: 7, Metric: 100, Prefix: mp("10.9.0.0/16"), V4ViaV6: true, RouterID: rid1})
			for at := 5 * time.Second; at < 20*time.Second; at += 3 * time.Second {
				feed(t, e, t0.Add(at), MulticastGroup, Hello{Seqno: 10 + uint16(at/time.Second), Interval: 400})
			}
			e.Output()
			// The first periodic update, at the end of the first cycle.
			e.Tick(e.ifaces["mesh0"].cycleEnd)
			var dumps []Datagram
			for _, d := range e.Output() {
				if strings.Contains(string(dumpDatagrams(t, []Datagram{d})), "Update") {
					dumps = append(dumps, d)
				}
			}
			return dumps
		}},
		{"retraction_and_seqno_request", func(t *testing.T) []Datagram {
			e := goldenEngine(t, Interface{Type: Wired})
			feed(t, e, t0.Add(time.Second), MulticastGroup, Hello{Seqno: 10, Interval: 400})
			feed(t, e, t0.Add(2*time.Second), MulticastGroup, Hello{Seqno: 11, Interval: 400},
				IHU{Rxcost: 96, Interval: 1200, Address: goldenLL},
				Update{Interval: 1600, Seqno: 7, Metric: 100, Prefix: mp("2001:db8:9::/48"), RouterID: rid1})
			e.Output()
			e.NeighbourGone(t0.Add(3*time.Second), "mesh0", goldenPeer.Addr())
			return e.Output()
		}},
		{"forwarded_seqno_request", func(t *testing.T) []Datagram {
			e, err := New(Options{RouterID: rid2, State: State{RouterID: rid2, Seqno: 99}, Rand: zeroRand{}}, t0)
			if err != nil {
				t.Fatal(err)
			}
			for i, name := range []string{"mesh0", "mesh1"} {
				e.AddInterface(t0, Interface{Name: name, Type: Wired})
				e.LinkUp(t0, name, netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: byte(i + 1)}))
			}
			up := netip.MustParseAddrPort("[fe80::99]:6696")
			for _, pkt := range [][]TLV{
				{Hello{Seqno: 1, Interval: 400}},
				{Hello{Seqno: 2, Interval: 400}, IHU{Rxcost: 96, Interval: 1200, Address: netip.MustParseAddr("fe80::2")},
					Update{Interval: 1600, Seqno: 7, Metric: 0, Prefix: mp("2001:db8:9::/48"), RouterID: rid1}},
			} {
				b, _ := Marshal(pkt...)
				e.Receive(t0.Add(time.Second), "mesh1", up, netip.AddrPortFrom(MulticastGroup, Port), b)
			}
			e.Output()
			feed(t, e, t0.Add(2*time.Second), goldenLL, SeqnoRequest{Seqno: 8, HopCount: 5, RouterID: rid1, Prefix: mp("2001:db8:9::/48")})
			return e.Output()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := tc.run(t)
			if len(ds) == 0 {
				t.Fatal("nothing emitted")
			}
			golden.Check(t, "engine/"+tc.name+".txt", dumpDatagrams(t, ds))
		})
	}
}
