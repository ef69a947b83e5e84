package babel

import (
	"testing"
	"time"
)

// starvationNet: S announces a prefix; B reaches it through A, and also
// hears it through C1 and C2, which both go through X. Those routes are
// exactly as long as B's own, hence unfeasible for B.
//
//	S ── A ── B
//	│         ├── C1 ─┐
//	X ────────┼───────┤
//	          └── C2 ─┘
func starvationNet(t *testing.T) *sim {
	s := newSim(t)
	S := s.add("s", Options{Announce: announce("2001:db8:5::/64")})
	a := s.add("a", Options{})
	b := s.add("b", Options{})
	x := s.add("x", Options{})
	c1 := s.add("c1", Options{})
	c2 := s.add("c2", Options{})
	s.wire(S, a, wired)
	s.wire(a, b, wired)
	s.wire(S, x, wired)
	s.wire(x, c1, wired)
	s.wire(x, c2, wired)
	s.wire(c1, b, wired)
	s.wire(c2, b, wired)
	s.run(30 * time.Second)
	return s
}

// TestStarvationRecovery: when B's link to A goes down (reported by the
// kernel, so at once), B's remaining routes are unfeasible. B asks for a
// new seqno; C1 and C2 forward the request to X, which forwards one of
// them to S and suppresses the other; S increases its seqno by one and
// the new seqno reaches B through the C's, whose route B now accepts.
func TestStarvationRecovery(t *testing.T) {
	s := starvationNet(t)
	S, b, x := s.node("s"), s.node("b"), s.node("x")
	const p = "2001:db8:5::/64"
	if via := s.nextHop(b, p, ""); via != "a" {
		t.Fatalf("b routes via %q, want a\n%s", via, dumpRoutes(b))
	}
	for _, r := range b.e.Routes() {
		if r.Prefix.String() == p && (r.Neighbour == s.node("c1").addrs["to-b"]) && r.Feasible {
			t.Fatalf("the route via c1 is feasible before the failure: %+v", r)
		}
	}
	seqno := S.e.State().Seqno
	x0 := x.e.Counters()

	s.collect()
	s.linkOf(simEnd{b, "to-a"}).down = true
	b.e.LinkDown(s.now, "to-a")
	// Nothing but the failure happened, and already B has retracted and
	// asked for a new seqno, within the same call.
	var retraction, request bool
	out := b.e.Output()
	for _, d := range out {
		p, _ := Parse(d.Data)
		for _, tlv := range p.TLVs {
			switch tlv := tlv.(type) {
			case Update:
				retraction = retraction || tlv.Metric == Infinity
			case SeqnoRequest:
				request = request || (tlv.Seqno == seqno+1 && tlv.RouterID == S.e.RouterID())
			}
		}
	}
	if !retraction || !request {
		t.Fatalf("on link down: retraction %v, seqno request for %d %v", retraction, seqno+1, request)
	}
	s.send(b, out)
	s.node("a").e.LinkDown(s.now, "to-b")

	s.run(100 * time.Millisecond)
	if via := s.nextHop(b, p, ""); via != "c1" && via != "c2" {
		t.Fatalf("b routes via %q 100 ms after the failure, want c1 or c2\n%s", via, dumpRoutes(b))
	}
	if r, _ := b.route(p, ""); r.Metric != 3*96 {
		t.Errorf("metric %d, want 288", r.Metric)
	}
	if got := S.e.State().Seqno; got != seqno+1 {
		t.Errorf("s's seqno %d, want %d (one increase for all the requests)", got, seqno+1)
	}
	xc := x.e.Counters()
	if xc.SeqnoRequestsForwarded-x0.SeqnoRequestsForwarded != 1 || xc.SeqnoRequestsDuplicate-x0.SeqnoRequestsDuplicate < 1 {
		t.Errorf("x forwarded %d and suppressed %d requests, want 1 and at least 1",
			xc.SeqnoRequestsForwarded-x0.SeqnoRequestsForwarded, xc.SeqnoRequestsDuplicate-x0.SeqnoRequestsDuplicate)
	}
	for _, c := range []string{"c1", "c2"} {
		if s.node(c).e.Counters().SeqnoRequestsForwarded == 0 {
			t.Errorf("%s forwarded no request", c)
		}
	}
}

// TestRetraction: when S stops announcing its prefix, every node holds
// the destination as unreachable for a while (so that no less specific
// route carries its traffic into a loop), then forgets it.
func TestRetraction(t *testing.T) {
	s := newSim(t)
	S := s.add("s", Options{Announce: announce("2001:db8:5::/64", "2001:db8:6::/64")})
	a := s.add("a", Options{})
	b := s.add("b", Options{})
	s.wire(S, a, wired)
	s.wire(a, b, wired)
	s.run(10 * time.Second)
	const p = "2001:db8:5::/64"
	if r, ok := b.route(p, ""); !ok || r.Metric != 192 {
		t.Fatalf("b's route %+v %v", r, ok)
	}
	if err := S.e.SetAnnouncements(s.now, announce("2001:db8:6::/64")); err != nil {
		t.Fatal(err)
	}
	s.run(100 * time.Millisecond)
	for _, n := range []*simNode{a, b} {
		if r, ok := n.route(p, ""); !ok || !r.Unreachable {
			t.Errorf("%s: %+v %v, want held unreachable", n.name, r, ok)
		}
		if r, ok := n.route("2001:db8:6::/64", ""); !ok || r.Unreachable {
			t.Errorf("%s lost the other prefix: %+v %v", n.name, r, ok)
		}
	}
	s.run(2 * time.Minute)
	for _, n := range []*simNode{a, b} {
		if r, ok := n.route(p, ""); ok {
			t.Errorf("%s still has %+v two minutes later", n.name, r)
		}
		for _, r := range n.e.Routes() {
			if r.Prefix.String() == p {
				t.Errorf("%s still lists %+v", n.name, r)
			}
		}
	}
}
