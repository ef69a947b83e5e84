package babel

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"
)

func TestStateResume(t *testing.T) {
	e, err := New(Options{State: State{RouterID: rid2, Seqno: 0xFFFF}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	// One past the saved seqno, across the wrap.
	if st := e.State(); st.RouterID != rid2 || st.Seqno != 0 {
		t.Errorf("state %+v, want %v seqno 0", st, rid2)
	}
	if !e.lostSeqnoUntil.IsZero() {
		t.Error("a resumed seqno is treated as lost")
	}
	b, err := json.Marshal(e.State())
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"router_id":"01:02:03:04:05:06:07:08","seqno":0}` {
		t.Errorf("JSON %s", b)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil || back != e.State() {
		t.Errorf("JSON round trip: %+v %v", back, err)
	}
}

func TestStateLost(t *testing.T) {
	// A configured router-id that is not the saved one: the saved seqno
	// belongs to someone else.
	e, err := New(Options{RouterID: rid1, State: State{RouterID: rid2, Seqno: 7}, Announce: announce("2001:db8:1::/64")}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if e.RouterID() != rid1 || e.lostSeqnoUntil.IsZero() {
		t.Fatalf("router-id %v, lost seqno until %v", e.RouterID(), e.lostSeqnoUntil)
	}
	// Nothing saved, nothing configured: a random, valid router-id.
	r, err := New(Options{}, t0)
	if err != nil || checkRouterID(r.RouterID()) != nil {
		t.Errorf("random router-id %v: %v", r.RouterID(), err)
	}

	if err := e.AddInterface(t0, Interface{Name: "m0"}); err != nil {
		t.Fatal(err)
	}
	if err := e.LinkUp(t0, "m0", netip.MustParseAddr("fe80::1")); err != nil {
		t.Fatal(err)
	}
	ask := func(now time.Time, seqno uint16) {
		req, _ := Marshal(SeqnoRequest{Seqno: seqno, HopCount: 10, RouterID: rid1, Prefix: mp("2001:db8:1::/64")})
		e.Receive(now, "m0", netip.MustParseAddrPort("[fe80::2]:6696"), netip.AddrPortFrom(MulticastGroup, Port), req)
	}
	v := e.StateVersion()
	// Within the window the node takes whatever seqno the network wants,
	// however far ahead.
	far := e.State().Seqno + 20000
	ask(t0.Add(time.Second), far)
	if e.State().Seqno != far || e.StateVersion() == v {
		t.Errorf("seqno %d (version %d), want a jump to %d", e.State().Seqno, e.StateVersion(), far)
	}
	// After it, one step at a time, and nothing for a hopeless request.
	later := t0.Add(lostSeqnoWindow + time.Second)
	ask(later, far+5)
	if e.State().Seqno != far+1 {
		t.Errorf("seqno %d, want %d", e.State().Seqno, far+1)
	}
	ask(later, far+1+seqnoHorizon+1)
	if e.State().Seqno != far+1 {
		t.Errorf("hopeless request moved the seqno to %d", e.State().Seqno)
	}
}

// TestRestart: a node that comes back with its saved state is believed at
// once; one that lost it starts with a seqno behind what its neighbour
// remembers, and is believed again as soon as it answers the neighbour's
// seqno request, not minutes later.
func TestRestart(t *testing.T) {
	for _, keep := range []bool{true, false} {
		name := "without state"
		if keep {
			name = "with state"
		}
		t.Run(name, func(t *testing.T) {
			s := newSim(t)
			a := s.add("a", Options{})
			b := s.add("b", Options{Announce: announce("2001:db8:b::/64")})
			s.wire(a, b, wired)
			s.run(30 * time.Second)
			const p = "2001:db8:b::/64"
			if _, ok := a.route(p, ""); !ok {
				t.Fatal("no route before the restart")
			}
			var st State
			if keep {
				st = b.e.State()
			}
			old := b.e.State().Seqno
			e, err := New(Options{RouterID: b.e.RouterID(), State: st, Announce: announce(p)}, s.now)
			if err != nil {
				t.Fatal(err)
			}
			if !keep {
				e.seqno = old - 1000 // the worst case: far behind
			}
			b.e = e
			if err := e.AddInterface(s.now, Interface{Name: "to-a", Type: Wired}); err != nil {
				t.Fatal(err)
			}
			if err := e.LinkUp(s.now, "to-a", b.addrs["to-a"]); err != nil {
				t.Fatal(err)
			}
			s.run(2 * time.Second)
			r, ok := a.route(p, "")
			if !ok || r.Unreachable {
				t.Fatalf("no route 2 s after the restart: %+v\n%s", r, dumpRoutes(a))
			}
			info := a.e.Routes()
			for _, x := range info {
				if x.Prefix.String() == p && x.Selected && seqnoLess(x.Seqno, old) {
					t.Errorf("selected seqno %d older than before the restart (%d)", x.Seqno, old)
				}
			}
			if !keep && !seqnoLess(old, b.e.State().Seqno) {
				t.Errorf("restarted seqno %d did not move past %d", b.e.State().Seqno, old)
			}
		})
	}
}
