package babel

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestNeighbourAcquisitionAndLoss: two wired nodes find each other within
// milliseconds, learn each other's prefix at metric 96, and when the link goes silent they
// lose the route after the 2-out-of-3 rule fails and forget the neighbour
// once its Hello history is empty.
func TestNeighbourAcquisitionAndLoss(t *testing.T) {
	s := newSim(t)
	a := s.add("a", Options{Announce: announce("2001:db8:a::/64")})
	b := s.add("b", Options{Announce: announce("2001:db8:b::/64", "10.0.0.0/24")})
	l := s.wire(a, b, wired)

	s.run(simDelay)
	// One Hello each way: not yet two out of three.
	if _, ok := a.route("2001:db8:b::/64", ""); ok {
		t.Fatalf("route before the link is established:\n%s", dumpRoutes(a))
	}
	// A new neighbour is answered with a Hello at once (and that Hello
	// with another), so the link comes up in a few transit times rather
	// than hello intervals.
	s.run(10 * simDelay)
	nb, ok := neighbourOf(a, "to-b")
	if !ok || nb.Cost != 96 || nb.RxCost != 96 || nb.TxCost != 96 {
		t.Fatalf("neighbour b at a: %+v %v", nb, ok)
	}
	r, ok := a.route("2001:db8:b::/64", "")
	if !ok || r.Metric != 96 || r.Via != b.addrs["to-a"] || r.Interface != "to-b" {
		t.Fatalf("route to b: %+v %v\n%s", r, ok, dumpRoutes(a))
	}
	r4, ok := a.route("10.0.0.0/24", "")
	if !ok || r4.Metric != 96 || r4.Via != b.addrs["to-a"] {
		t.Fatalf("v4-via-v6 route to b: %+v %v", r4, ok)
	}
	if r, ok := b.route("2001:db8:a::/64", ""); !ok || r.Metric != 96 {
		t.Fatalf("route to a at b: %+v %v\n%s\n%+v", r, ok, dumpRoutes(b), b.e.Neighbours())
	}

	// Silence. Two missed Hellos break 2-out-of-3: the route is lost and
	// held unreachable; sixteen empty the history and the neighbour goes.
	l.down = true
	lost := time.Duration(0)
	for step := time.Duration(0); step < 100*time.Second; step += 500 * time.Millisecond {
		s.run(500 * time.Millisecond)
		if r, ok := a.route("2001:db8:b::/64", ""); lost == 0 && (!ok || r.Unreachable) {
			lost = step
		}
		if _, ok := neighbourOf(a, "to-b"); !ok {
			if lost == 0 || lost > 3*DefaultHelloInterval {
				t.Errorf("route lost after %v, want within 3 hello intervals", lost)
			}
			// Hellos are missed at the interval the last one announced,
			// at least 3/4 of the configured one.
			if step < 15*DefaultHelloInterval*3/4 {
				t.Errorf("neighbour forgotten after %v, before its history emptied", step)
			}
			return
		}
	}
	t.Fatalf("neighbour still there after 100 s: %+v", a.e.Neighbours())
}

func TestSeqnoArithmetic(t *testing.T) {
	for _, tc := range []struct {
		a, b uint16
		less bool
	}{
		{1, 2, true}, {2, 1, false}, {1, 1, false},
		{0xFFFF, 0, true}, {0, 0xFFFF, false},
		{0, 0x7FFF, true}, {0, 0x8000, false},
	} {
		if got := seqnoLess(tc.a, tc.b); got != tc.less {
			t.Errorf("seqnoLess(%d, %d) = %v", tc.a, tc.b, got)
		}
	}
	if seqnoMinus(2, 0xFFFF) != 3 || seqnoMinus(0xFFFF, 2) != -3 {
		t.Error("seqnoMinus across the wrap")
	}
}

// TestUnicastInterface: on an interface in unicast mode only Hellos go to
// the group; IHUs and updates go to each neighbour, and the routes are
// the same.
func TestUnicastInterface(t *testing.T) {
	s := newSim(t)
	a := s.add("a", Options{Announce: announce("2001:db8:a::/64")})
	b := s.add("b", Options{Announce: announce("2001:db8:b::/64")})
	c := s.add("c", Options{Announce: announce("2001:db8:c::/64")})
	uni := Interface{Name: "radio", Type: Wireless, Unicast: true}
	l := s.connect(uni, s.iface(a, uni), s.iface(b, uni), s.iface(c, uni))
	multicastUpdates := 0
	l.loss = func(from, to simEnd, d Datagram) bool {
		if d.Dst != MulticastGroup {
			return false
		}
		for _, x := range mustParse(t, d.Data).TLVs {
			switch x.(type) {
			case Update, IHU:
				if s.now.Sub(t0) > time.Second {
					multicastUpdates++
				}
			}
		}
		return false
	}
	s.run(90 * time.Second)
	for _, n := range []*simNode{a, b, c} {
		for _, p := range []string{"2001:db8:a::/64", "2001:db8:b::/64", "2001:db8:c::/64"} {
			if _, own := n.e.own[routeKey{netip.MustParsePrefix(p), netip.Prefix{}}]; own {
				continue
			}
			r, ok := n.route(p, "")
			if !ok || r.Metric != 256 {
				t.Errorf("%s: route to %s %+v %v", n.name, p, r, ok)
			}
		}
		for _, nb := range n.e.Neighbours() {
			if nb.UnicastReach == 0 {
				t.Errorf("%s: no unicast Hellos from %v", n.name, nb.Address)
			}
		}
	}
	if multicastUpdates != 0 {
		t.Errorf("%d IHUs or updates sent to the group in unicast mode", multicastUpdates)
	}
}

// TestListsFollowChanges: the engine keeps its neighbours and its up
// interfaces in sorted lists between changes; a neighbour that comes or
// goes and an interface that goes down or comes back show at once.
func TestListsFollowChanges(t *testing.T) {
	s := newSim(t)
	a, b, c := s.add("a", Options{}), s.add("b", Options{}), s.add("c", Options{})
	ab := s.wire(a, b, wired)
	s.wire(a, c, wired)
	neighbours := func() string {
		var out []string
		for _, n := range a.e.Neighbours() {
			out = append(out, n.Interface)
		}
		return strings.Join(out, " ")
	}
	fromA := map[string]int{}
	s.delivered = func(to simEnd, src, _ netip.Addr, _ []byte) {
		if src == a.addrs["to-"+to.node.name] {
			fromA[to.node.name]++
		}
	}
	step := func(d time.Duration, want string) {
		t.Helper()
		clear(fromA)
		s.run(d)
		if got := neighbours(); got != want {
			t.Errorf("%v: a's neighbours on %q, want %q", s.now.Sub(t0), got, want)
		}
	}

	step(10*time.Second, "to-b to-c")
	ab.down = true
	step(time.Minute, "to-c")
	ab.down = false
	step(10*time.Second, "to-b to-c")

	a.e.LinkDown(s.now, "to-c")
	step(time.Minute, "to-b")
	if fromA["c"] != 0 || fromA["b"] == 0 {
		t.Errorf("with to-c down, a sent %d datagrams to c and %d to b", fromA["c"], fromA["b"])
	}
	if err := a.e.LinkUp(s.now, "to-c", a.addrs["to-c"]); err != nil {
		t.Fatal(err)
	}
	step(10*time.Second, "to-b to-c")
	if fromA["c"] == 0 {
		t.Error("to-c back up, and a sent nothing on it")
	}
}
