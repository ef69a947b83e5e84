package babel

import (
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// failLink takes a link down as the kernel reports a deleted veth: both
// ends at once, what was in flight lost.
func (s *sim) failLink(l *simLink) {
	s.collect()
	l.down = true
	for _, end := range l.ends {
		end.node.e.LinkDown(s.now, end.ifname)
	}
	s.queue = slices.DeleteFunc(s.queue, func(d delivery) bool { return slices.Contains(l.ends, d.to) })
}

// reaches follows the next hops towards prefix from every node over the
// links that are up and reports where that fails: no route, a route over
// a dead link, a loop. owner is the node that announces prefix.
func (s *sim) reaches(prefix string, owner *simNode) []string {
	var wrong []string
	for _, start := range s.nodes {
		seen := map[*simNode]bool{}
		for n := start; n != owner; {
			if seen[n] {
				wrong = append(wrong, fmt.Sprintf("%s: loop at %s", start.name, n.name))
				break
			}
			seen[n] = true
			next := s.nextHop(n, prefix, "")
			if next == "" || strings.HasPrefix(next, "?") {
				wrong = append(wrong, fmt.Sprintf("%s: no route at %s", start.name, n.name))
				break
			}
			if l := s.linkOf(simEnd{n, "to-" + next}); l == nil || l.down {
				wrong = append(wrong, fmt.Sprintf("%s: %s routes over a dead link to %s", start.name, n.name, next))
				break
			}
			n = s.node(next)
		}
	}
	return wrong
}

// TestLostRouteTakesShortest: when the selected route goes, the next one
// is the shortest, not the one whose smoothed metric happens to be
// lowest. E's direct route to B's prefix has just come back (its link
// cost was infinite for a while) and its smoothed metric still remembers
// that, so E keeps its detour through D, A. Then the A–B link fails: D
// loses its route and retracts. E must take its direct route at once,
// for only that one carries the new seqno that B sends in answer to the
// starvation request, which D and A wait for. Taking the route through F
// (lower smoothed metric, old seqno) left D and A without a route until
// D's resend found its way round, seconds later.
//
//	a ── b ── c
//	│    │    │
//	d ── e ── f   (E pays 200 to reach F)
func TestLostRouteTakesShortest(t *testing.T) {
	s := newSim(t)
	pa, pb := "2001:db8:a::/64", "2001:db8:b::/64"
	a := s.add("a", Options{Announce: announce(pa)})
	b := s.add("b", Options{Announce: announce(pb)})
	c := s.add("c", Options{})
	d := s.add("d", Options{})
	e := s.add("e", Options{})
	f := s.add("f", Options{})
	ab := s.wire(a, b, wired)
	s.wire(b, c, wired)
	s.wire(a, d, wired)
	s.wire(b, e, wired)
	s.wire(c, f, wired)
	s.wire(d, e, wired)
	s.wire(e, f, wired)
	s.run(time.Minute)
	e.e.SetLinkCost(s.now, "to-f", f.addrs["to-e"], 200)
	if via := s.nextHop(e, pb, ""); via != "b" {
		t.Fatalf("e routes %s via %q, want b\n%s", pb, via, dumpRoutes(e))
	}

	// The E–B link looks dead for a while, then comes back.
	e.e.SetLinkCost(s.now, "to-b", b.addrs["to-e"], Infinity)
	s.run(10 * time.Second)
	e.e.SetLinkCost(s.now, "to-b", b.addrs["to-e"], 0)
	s.run(2 * time.Second)
	if via := s.nextHop(e, pb, ""); via != "d" {
		t.Fatalf("scenario not set up: e routes %s via %q, want d (its detour)\n%s", pb, via, dumpRoutes(e))
	}

	s.failLink(ab)
	s.run(300 * time.Millisecond)
	if via := s.nextHop(e, pb, ""); via != "b" {
		t.Errorf("e routes %s via %q after the failure, want b, the shortest\n%s", pb, via, dumpRoutes(e))
	}
	for _, p := range []struct {
		prefix string
		owner  *simNode
	}{{pa, a}, {pb, b}} {
		if wrong := s.reaches(p.prefix, p.owner); len(wrong) != 0 {
			t.Errorf("300 ms after the failure, traffic for %s does not get there: %v\nd: %s", p.prefix, wrong, dumpRoutes(d))
		}
	}
}

// TestResendPassesForwarder: a starvation request that a node forwarded
// but that went no further (lost on the next link) is sent again by its
// requester after the resend delay; the node that forwarded the first
// must pass the resend on rather than take it for a duplicate of the
// first, or the requester waits for its second resend.
func TestResendPassesForwarder(t *testing.T) {
	s := starvationNet(t)
	S, b, x := s.node("s"), s.node("b"), s.node("x")
	const p = "2001:db8:5::/64"
	lost := 0
	s.linkOf(simEnd{x, "to-s"}).loss = func(from, to simEnd, d Datagram) bool {
		if from.node != x || lost > 0 {
			return false
		}
		for _, tlv := range mustParse(t, d.Data).TLVs {
			if _, ok := tlv.(SeqnoRequest); ok {
				lost++
				return true
			}
		}
		return false
	}
	seqno := S.e.State().Seqno
	s.failLink(s.linkOf(simEnd{b, "to-a"}))
	s.run(resendDelay / 2)
	if lost != 1 {
		t.Fatalf("x sent S %d seqno requests, want the first lost", lost)
	}
	if via := s.nextHop(b, p, ""); via != "" {
		t.Fatalf("b routes via %q before its resend: the loss proves nothing", via)
	}
	s.run(resendDelay/2 + 100*time.Millisecond)
	if via := s.nextHop(b, p, ""); via != "c1" && via != "c2" {
		t.Errorf("b routes via %q just after its first resend, want c1 or c2\n%s", via, dumpRoutes(b))
	}
	if got := S.e.State().Seqno; got != seqno+1 {
		t.Errorf("s's seqno %d, want %d", got, seqno+1)
	}
}

// TestForwardedRequestFollowsRoute: a request forwarded along the
// selected route follows the route when it changes. B loses its route
// to A's prefix and asks for a new seqno. Its request reaches E the
// long way (C, F) before it comes direct over the slow B–E link, and E
// forwards that copy along its route, which goes through B: back to
// the node that has no route. The direct copy is a duplicate, and the
// retraction after it moves E's route to D: the forwarded request must
// go that way now, or B waits for its resend.
//
//	a ── b ── c
//	│    ┆    │   (B–E: 5 ms; E pays 150 to reach D, F 150 to reach C)
//	d ── e ── f
func TestForwardedRequestFollowsRoute(t *testing.T) {
	s := newSim(t)
	pa := "2001:db8:a::/64"
	a := s.add("a", Options{Announce: announce(pa)})
	b := s.add("b", Options{})
	c := s.add("c", Options{})
	d := s.add("d", Options{})
	e := s.add("e", Options{})
	f := s.add("f", Options{})
	ab := s.wire(a, b, wired)
	s.wire(b, c, wired)
	s.wire(a, d, wired)
	s.wire(b, e, wired).delay = 5 * time.Millisecond
	s.wire(c, f, wired)
	s.wire(d, e, wired)
	s.wire(e, f, wired)
	s.run(time.Minute)
	e.e.SetLinkCost(s.now, "to-d", d.addrs["to-e"], 150)
	f.e.SetLinkCost(s.now, "to-c", c.addrs["to-f"], 150)
	s.run(time.Minute)
	for _, want := range []struct{ node, via string }{{"e", "b"}, {"f", "e"}, {"c", "b"}} {
		if via := s.nextHop(s.node(want.node), pa, ""); via != want.via {
			t.Fatalf("scenario not set up: %s routes via %q, want %s\n%s", want.node, via, want.via, dumpRoutes(s.node(want.node)))
		}
	}
	forwarded := e.e.Counters().SeqnoRequestsForwarded

	s.failLink(ab)
	s.run(300 * time.Millisecond)
	if wrong := s.reaches(pa, a); len(wrong) != 0 {
		t.Errorf("300 ms after the failure, traffic for %s does not get there: %v\ne: %s", pa, wrong, dumpRoutes(e))
	}
	if got := e.e.Counters().SeqnoRequestsForwarded - forwarded; got != 2 {
		t.Errorf("e forwarded %d requests, want 2 (to b, then along its new route to d)", got)
	}
}

// TestHeldRequestGoesWithOurs: a node asked for a seqno it cannot
// forward (its only route is through the asker) holds the request; when
// it then loses that route and asks for itself, it asks for as much, for
// its own feasibility distance may be older than the asker's, and what
// would satisfy it would not satisfy the asker.
//
//	a ── d ── e
//	│         │   (E pays 300 to reach B, D 150 to reach E)
//	b ────────╯
func TestHeldRequestGoesWithOurs(t *testing.T) {
	s := newSim(t)
	pb := "2001:db8:b::/64"
	a := s.add("a", Options{})
	b := s.add("b", Options{Announce: announce(pb)})
	d := s.add("d", Options{})
	e := s.add("e", Options{})
	ab := s.wire(a, b, wired)
	s.wire(a, d, wired)
	// A wired link costs what the far end's rxcost says. E–B comes last,
	// so that E never selects it and D never hears of a route through E.
	s.connect(wired, s.iface(d, Interface{Name: "to-e", Type: Wired}), s.iface(e, Interface{Name: "to-d", Type: Wired, RxCost: 150}))
	s.run(30 * time.Second)
	s.connect(wired, s.iface(e, Interface{Name: "to-b", Type: Wired}), s.iface(b, Interface{Name: "to-e", Type: Wired, RxCost: 300}))
	s.run(time.Minute)
	for _, r := range d.e.Routes() {
		if r.Prefix.String() == pb && r.Interface == "to-e" {
			t.Fatalf("scenario not set up: d has a route through e: %+v", r)
		}
	}
	for _, want := range []struct{ node, via string }{{"a", "b"}, {"d", "a"}, {"e", "d"}} {
		if via := s.nextHop(s.node(want.node), pb, ""); via != want.via {
			t.Fatalf("scenario not set up: %s routes via %q, want %s\n%s", want.node, via, want.via, dumpRoutes(s.node(want.node)))
		}
	}
	// B increases its seqno for A alone (a request of A's); A passes it
	// on in its next full update, and D records it in its own next one:
	// in between, A's feasibility distance is newer than D's.
	k := routeKey{prefix: netip.MustParsePrefix(pb)}
	fd := func(n *simNode) uint16 { return n.e.sources[sourceKey{b.e.RouterID(), k}].seqno }
	seqno := b.e.State().Seqno
	req, err := Marshal(SeqnoRequest{Seqno: seqno + 1, HopCount: 2, RouterID: b.e.RouterID(), Prefix: k.prefix})
	if err != nil {
		t.Fatal(err)
	}
	b.e.Receive(s.now, "to-a", netip.AddrPortFrom(a.addrs["to-b"], Port), netip.AddrPortFrom(b.addrs["to-a"], Port), req)
	for start := s.now; fd(a) != seqno+1 || fd(d) != seqno; s.run(10 * time.Millisecond) {
		if s.now.Sub(start) > time.Minute {
			t.Fatalf("no moment when a's feasibility distance is at seqno %d and d's at %d: %d, %d", seqno+1, seqno, fd(a), fd(d))
		}
	}

	s.failLink(ab)
	s.run(300 * time.Millisecond)
	if wrong := s.reaches(pb, b); len(wrong) != 0 {
		t.Errorf("300 ms after the failure, traffic for %s does not get there: %v\na: %s\nd: %s", pb, wrong, dumpRoutes(a), dumpRoutes(d))
	}
}

// gridScenario plays the mesh convergence benchmark's grid: n×n nodes
// each announcing a prefix, linked up in waves outward from the corner a
// (each wave once every node routes to a over a shortest path), then,
// once every link has its cost both ways, the link between a and its
// neighbour b fails. It returns how long until traffic for a's and b's
// prefixes gets there from every node. Datagrams take 0.5 to 3 ms.
func gridScenario(t *testing.T, n int, seed uint64) time.Duration {
	s := newSim(t)
	dr := mrand.New(mrand.NewPCG(seed, 1))
	s.delay = func() time.Duration { return time.Duration(500+dr.IntN(2500)) * time.Microsecond }
	name := func(i int) string { return string(rune('a' + i)) }
	prefix := func(i int) string { return fmt.Sprintf("2001:db8:%x::/64", i+1) }
	for i := range n * n {
		var sd [32]byte
		sd[0], sd[1], sd[2] = byte(i+1), byte(seed), byte(seed>>8)
		s.add(name(i), Options{Announce: announce(prefix(i)), Rand: mrand.NewChaCha8(sd)})
	}
	// Wave w links the nodes w-1 hops from a to those w hops away.
	waves := map[int][][2]int{}
	for i := range n * n {
		if i%n+1 < n {
			waves[i%n+i/n+1] = append(waves[i%n+i/n+1], [2]int{i, i + 1})
		}
		if i+n < n*n {
			waves[i%n+i/n+1] = append(waves[i%n+i/n+1], [2]int{i, i + n})
		}
	}
	hops := func(i int) int { return i%n + i/n }
	var links []*simLink
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for start := s.now; !cond(); s.run(250 * time.Millisecond) {
			if s.now.Sub(start) > 3*time.Minute {
				t.Fatalf("seed %d: %s: not within 3 minutes", seed, what)
			}
		}
	}
	for w := 1; w <= 2*(n-1); w++ {
		for _, p := range waves[w] {
			links = append(links, s.wire(s.nodes[p[0]], s.nodes[p[1]], Interface{Type: Wired}))
		}
		waitFor(fmt.Sprintf("shortest routes after wave %d", w), func() bool {
			for i, nd := range s.nodes {
				if i == 0 || hops(i) > w {
					continue
				}
				via := s.nextHop(nd, prefix(0), "")
				if via == "" || strings.HasPrefix(via, "?") || hops(int(via[0]-'a')) != hops(i)-1 {
					return false
				}
			}
			return true
		})
	}
	waitFor("every link up", func() bool {
		for _, nd := range s.nodes {
			for _, ni := range nd.e.Neighbours() {
				if ni.Cost >= Infinity {
					return false
				}
			}
		}
		return true
	})
	s.run(time.Duration(dr.IntN(1000)) * time.Millisecond)
	s.failLink(links[0]) // a–b, the first link of the first wave
	start := s.now
	for {
		if len(s.reaches(prefix(0), s.nodes[0])) == 0 && len(s.reaches(prefix(1), s.nodes[1])) == 0 {
			return s.now.Sub(start)
		}
		if s.now.Sub(start) > time.Minute {
			t.Fatalf("seed %d: not converged within a minute: %v", seed, s.reaches(prefix(0), s.nodes[0]))
		}
		s.run(5 * time.Millisecond)
	}
}

// TestGridConvergence runs the grid scenario of the convergence
// benchmark under many timings: rerouting around a failed link the kernel
// reports must never wait for a timer. Before the shortest route was
// taken when the selected one went (TestLostRouteTakesShortest), about
// one timing in seventy waited two or four seconds for resends.
func TestGridConvergence(t *testing.T) {
	seeds := 150
	if testing.Short() {
		seeds = 10
	}
	var worst time.Duration
	for seed := range uint64(seeds) {
		took := gridScenario(t, 3, seed)
		if took > 200*time.Millisecond {
			t.Errorf("seed %d: traffic got through again after %v", seed, took)
		}
		worst = max(worst, took)
	}
	t.Logf("%d timings, the slowest converged in %v", seeds, worst)
}
