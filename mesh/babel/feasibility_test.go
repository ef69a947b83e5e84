package babel

import (
	"testing"
	"time"
)

// loopScript builds the diamond D–A, A–B, A–C, B–C (all wired) and plays
// a sequence of failures and cost changes that makes a naive
// distance-vector router loop between B and C, checking after every
// single event whether the next hops towards D's prefix form a loop.
// It returns the loops seen.
func loopScript(t *testing.T, naive bool) (loops []string, s *sim) {
	s = newSim(t)
	d := s.add("d", Options{Announce: announce("2001:db8:d::/64")})
	a := s.add("a", Options{})
	b := s.add("b", Options{})
	c := s.add("c", Options{})
	for _, n := range s.nodes {
		n.e.ignoreFeasibility = naive
	}
	da := s.wire(d, a, wired)
	s.wire(a, b, wired)
	ac := s.wire(a, c, wired)
	s.wire(b, c, wired)
	const p = "2001:db8:d::/64"
	s.check = func() {
		if l := s.loop(p, ""); l != "" && (len(loops) == 0 || loops[len(loops)-1] != l) {
			loops = append(loops, s.now.Sub(t0).String()+": "+l)
		}
	}
	s.run(30 * time.Second)
	if got := s.nextHop(b, p, ""); got != "a" {
		t.Fatalf("b routes via %q, want a", got)
	}

	// 1. D's link dies silently: A loses the route, and B and C each
	//    still hear the other's route through A.
	da.down = true
	s.run(40 * time.Second)
	// 2. It comes back.
	da.down = false
	s.run(40 * time.Second)
	// 3. The A–B link degrades: B would rather go through C, whose
	//    route is no shorter than B's own feasibility distance.
	b.e.SetLinkCost(s.now, "to-a", a.addrs["to-b"], 1000)
	s.run(40 * time.Second)
	// 4. The A–C link dies: C's only other route goes through B, which
	//    goes through C.
	ac.down = true
	s.run(60 * time.Second)
	return loops, s
}

// TestFeasibilityPreventsLoops runs loopScript twice: as a naive
// distance-vector router (no feasibility condition) the network loops,
// which shows the script is a real test; as Babel it never does, and it
// still ends with every node routing to D.
func TestFeasibilityPreventsLoops(t *testing.T) {
	naive, _ := loopScript(t, true)
	if len(naive) == 0 {
		t.Fatal("the naive router never looped: the script proves nothing")
	}
	t.Logf("naive distance-vector: %d loops, the first %v", len(naive), naive[:min(3, len(naive))])

	loops, s := loopScript(t, false)
	if len(loops) != 0 {
		t.Errorf("forwarding loops with the feasibility condition: %v", loops)
	}
	const p = "2001:db8:d::/64"
	for _, want := range []struct{ node, via string }{{"a", "d"}, {"b", "a"}, {"c", "b"}} {
		if got := s.nextHop(s.node(want.node), p, ""); got != want.via {
			t.Errorf("%s routes via %q at the end, want %s\n%s", want.node, got, want.via, dumpRoutes(s.node(want.node)))
		}
	}
	if r, _ := s.node("c").route(p, ""); r.Metric != 96+1000+96 {
		t.Errorf("c's metric %d, want 1192 (through b and the degraded link)", r.Metric)
	}
}
