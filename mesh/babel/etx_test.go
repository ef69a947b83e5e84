package babel

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestRxcost checks the link quality formulas on Hello histories worked
// out by hand from RFC 8966 appendix A and babeld's ETX weighting.
func TestRxcost(t *testing.T) {
	for _, tc := range []struct {
		name  string
		typ   LinkType
		reach uint16
		want  uint16
	}{
		{"wired all", Wired, 0xFFFF, 96},
		{"wired last two", Wired, 0xC000, 96},
		{"wired last and third", Wired, 0xA000, 96},
		{"wired last only", Wired, 0x8000 | 0x0F00, Infinity},
		{"wired second and third", Wired, 0x6000, 96},
		{"wired third only", Wired, 0x2000 | 0x0F00, Infinity},
		{"wired nothing recent", Wired, 0x000F, Infinity},
		// sreach = 0x2000 + 0x2000 + 0x3FFF = 0x7FFF; 0x8000*256/0x8000.
		{"wireless all", Wireless, 0xFFFF, 256},
		// sreach = 0x2000 + 0x2AAA = 0x4AAA = 19114; 8388608/19115 = 438.8.
		{"wireless every other", Wireless, 0xAAAA, 438},
		// 0x2000 + 0x2000 + 0x2EEE = 28398; 8388608/28399 = 295.4.
		{"wireless 1110", Wireless, 0xEEEE, 295},
		// 0x2000 + 0x2000 + 0x1DDD = 24029; 8388608/24030 = 349.1.
		{"wireless 1101", Wireless, 0xDDDD, 349},
		// 0x2000 + 0x3BBB = 23483; 8388608/23484 = 357.2.
		{"wireless 1011", Wireless, 0xBBBB, 357},
		// Only the oldest four bits: too little to count.
		{"wireless ancient", Wireless, 0x000F, Infinity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ifo := Interface{Name: "x", Type: tc.typ}
			ifo.setDefaults()
			e := &Engine{now: t0}
			n := &neighbour{ifc: &iface{cfg: ifo, up: true}, mc: helloHistory{reach: tc.reach, time: t0}}
			if got := e.rxcostOf(n); got != tc.want {
				t.Errorf("rxcost(%04x) = %d, want %d", tc.reach, got, tc.want)
			}
		})
	}
}

func TestLinkCost(t *testing.T) {
	for _, tc := range []struct {
		name   string
		typ    LinkType
		tx, rx uint16
		ext    uint16
		want   uint16
	}{
		{"wired takes txcost", Wired, 96, 96, 0, 96},
		{"wired unreachable", Wired, 96, Infinity, 0, Infinity},
		{"wireless perfect", Wireless, 256, 256, 0, 256},
		// (438*256 + 128) >> 8 = 438.
		{"wireless lossy one way", Wireless, 256, 438, 0, 438},
		// (438*438 + 128) >> 8 = 191972 >> 8 = 749.
		{"wireless lossy both ways", Wireless, 438, 438, 0, 749},
		{"wireless below 256 takes txcost", Wireless, 200, 100, 0, 200},
		{"external raises", Wireless, 256, 256, 600, 600},
		{"external never lowers", Wireless, 438, 438, 300, 749},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ifo := Interface{Name: "x", Type: tc.typ}
			ifo.setDefaults()
			e := &Engine{now: t0}
			n := &neighbour{ifc: &iface{cfg: ifo, up: true}, txcost: tc.tx, ext: tc.ext}
			if got := e.linkCost(n, tc.rx); got != tc.want {
				t.Errorf("cost = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestETXLossPatterns drops b's Hellos to a in fixed patterns on a
// wireless link and checks the rxcost a computes right after each Hello
// it hears, once the 16-Hello history is full of the pattern.
func TestETXLossPatterns(t *testing.T) {
	for _, tc := range []struct {
		name  string
		every int // drop every nth Hello from b; 0: none
		want  []uint16
	}{
		{"no loss", 0, []uint16{256}},
		{"every other", 2, []uint16{438}},
		// Three heard, one lost: 1011…, 1101…, 1110… in turn.
		{"one in four", 4, []uint16{295, 349, 357}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t)
			a := s.add("a", Options{})
			b := s.add("b", Options{Announce: announce("2001:db8:b::/64")})
			l := s.wire(a, b, wireless)
			hellos := 0
			l.loss = func(from, to simEnd, d Datagram) bool {
				if from.node != b || d.Dst != MulticastGroup || !hasHello(d.Data) {
					return false
				}
				hellos++
				return tc.every > 0 && hellos > 4 && hellos%tc.every == 0
			}
			var seen []uint16
			s.delivered = func(to simEnd, src, dst netip.Addr, data []byte) {
				if to.node == a && hasHello(data) {
					n, _ := neighbourOf(a, "to-b")
					seen = append(seen, n.RxCost)
				}
			}
			s.run(60 * 4 * time.Second)
			if len(seen) < 30 {
				t.Fatalf("only %d Hellos heard", len(seen))
			}
			steady := slices.Clone(seen[len(seen)-12:])
			slices.Sort(steady)
			steady = slices.Compact(steady)
			if !slices.Equal(steady, tc.want) {
				t.Errorf("rxcosts in the steady state %v, want %v (all: %v)", steady, tc.want, seen)
			}
			n, _ := neighbourOf(a, "to-b")
			// b hears a perfectly, so the link cost is the rxcost.
			if n.TxCost != 256 || n.Cost != n.RxCost {
				t.Errorf("neighbour %+v: want txcost 256 and cost = rxcost", n)
			}
			r, ok := a.route("2001:db8:b::/64", "")
			if !ok || r.Metric != n.Cost {
				t.Errorf("route metric %d, want the link cost %d", r.Metric, n.Cost)
			}
		})
	}
}

func hasHello(data []byte) bool {
	p, err := Parse(data)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(p.TLVs, func(t TLV) bool { h, ok := t.(Hello); return ok && h.Flags&HelloUnicast == 0 })
}

// TestExternalCostHysteresis: radio statistics move the cost only when
// they move by more than an eighth (and 32).
func TestExternalCostHysteresis(t *testing.T) {
	s := newSim(t)
	a := s.add("a", Options{})
	b := s.add("b", Options{Announce: announce("2001:db8:b::/64")})
	s.wire(a, b, wireless)
	// Until sixteen Hellos fill the history, ETX counts the empty slots.
	s.run(80 * time.Second)
	addr := b.addrs["to-a"]
	for _, step := range []struct {
		give, want uint16
	}{
		{512, 512},
		{540, 512}, // +28 < max(32, 64)
		{570, 512}, // +58 < 64
		{580, 580}, // +68
		{520, 580}, // -60 < 72
		{500, 500}, // -80
		{300, 300},
		{100, 256}, // below the Hello-based cost: that one counts
		{0, 256},
	} {
		a.e.SetLinkCost(s.now, "to-b", addr, step.give)
		n, _ := neighbourOf(a, "to-b")
		if n.Cost != step.want || n.LinkCostRaw != step.give {
			t.Errorf("after %d: cost %d raw %d, want cost %d", step.give, n.Cost, n.LinkCostRaw, step.want)
		}
		if r, _ := a.route("2001:db8:b::/64", ""); r.Metric != step.want {
			t.Errorf("after %d: route metric %d, want %d", step.give, r.Metric, step.want)
		}
	}
}
