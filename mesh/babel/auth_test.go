package babel

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

var (
	key1 = Key{ID: "k1", Secret: bytes.Repeat([]byte{0x11}, 32)}
	key2 = Key{ID: "k2", Secret: bytes.Repeat([]byte{0x22}, 32)}
)

func authPair(t *testing.T, ka, kb []Key) (*sim, *simNode, *simNode) {
	s := newSim(t)
	a := s.add("a", Options{Announce: announce("2001:db8:a::/64")})
	b := s.add("b", Options{Announce: announce("2001:db8:b::/64")})
	ia, ib := wired, wired
	ia.Name, ib.Name, ia.Keys, ib.Keys = "to-b", "to-a", ka, kb
	s.connect(wired, s.iface(a, ia), s.iface(b, ib))
	return s, a, b
}

// TestHMAC: RFC 8967 between two engines. Matching keys (one of several
// is enough) interoperate after a challenge each way; a wrong key, no key
// and a changed packet are dropped and counted; a replayed packet is
// dropped for its counter; a neighbour that restarts with a new index is
// challenged and accepted again.
func TestHMAC(t *testing.T) {
	t.Run("matching keys", func(t *testing.T) {
		s, a, b := authPair(t, []Key{key1}, []Key{key1})
		s.run(5 * time.Second)
		if r, ok := a.route("2001:db8:b::/64", ""); !ok || r.Metric != 96 {
			t.Fatalf("route %+v %v", r, ok)
		}
		n, _ := neighbourOf(a, "to-b")
		if !n.Authenticated {
			t.Error("neighbour not authenticated")
		}
		for _, x := range []*simNode{a, b} {
			c := x.e.Counters()
			if c.ChallengesSent == 0 || c.ChallengeReplies == 0 {
				t.Errorf("%s: challenges %d replies %d", x.name, c.ChallengesSent, c.ChallengeReplies)
			}
			if c.Dropped[DropBadMAC]+c.Dropped[DropUnsigned]+c.Dropped[DropReplay] != 0 {
				t.Errorf("%s dropped %v", x.name, c.Dropped)
			}
		}
	})
	t.Run("rotation: one common key of several", func(t *testing.T) {
		s, a, _ := authPair(t, []Key{key1, key2}, []Key{key2})
		s.run(5 * time.Second)
		if _, ok := a.route("2001:db8:b::/64", ""); !ok {
			t.Fatal("no route with a common key")
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		s, a, b := authPair(t, []Key{key1}, []Key{key2})
		s.run(20 * time.Second)
		if _, ok := a.route("2001:db8:b::/64", ""); ok {
			t.Error("route across a wrong key")
		}
		if len(a.e.Neighbours())+len(b.e.Neighbours()) != 0 {
			t.Error("neighbour entry created by an unauthenticated packet")
		}
		if a.e.Counters().Dropped[DropBadMAC] == 0 || b.e.Counters().Dropped[DropBadMAC] == 0 {
			t.Errorf("bad MACs not counted: %v %v", a.e.Counters().Dropped, b.e.Counters().Dropped)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		s, a, b := authPair(t, []Key{key1}, nil)
		s.run(20 * time.Second)
		if _, ok := a.route("2001:db8:b::/64", ""); ok {
			t.Error("route from an unsigned neighbour")
		}
		if _, ok := b.route("2001:db8:a::/64", ""); ok {
			t.Error("route without IHUs from the other side")
		}
		if a.e.Counters().Dropped[DropUnsigned] == 0 {
			t.Errorf("unsigned packets not counted: %v", a.e.Counters().Dropped)
		}
	})
	t.Run("changed packet", func(t *testing.T) {
		s, a, b := authPair(t, []Key{key1}, []Key{key1})
		s.run(time.Second)
		before := a.e.Counters().Dropped[DropBadMAC]
		s.delivered = func(to simEnd, src, dst netip.Addr, data []byte) {}
		b.e.Tick(s.now.Add(10 * time.Second))
		for _, d := range b.e.Output() {
			d.Data[HeaderLen+len(d.Data)/3]++
			a.e.Receive(s.now, "to-b", netip.AddrPortFrom(b.addrs["to-a"], Port), netip.AddrPortFrom(d.Dst, Port), d.Data)
		}
		if a.e.Counters().Dropped[DropBadMAC] == before {
			t.Error("changed packet not dropped for its MAC")
		}
	})
	t.Run("replay", func(t *testing.T) {
		s, a, b := authPair(t, []Key{key1}, []Key{key1})
		var last []byte
		s.delivered = func(to simEnd, src, dst netip.Addr, data []byte) {
			if to.node == a && dst == MulticastGroup {
				last = bytes.Clone(data)
			}
		}
		s.run(5 * time.Second)
		c := a.e.Counters()
		a.e.Receive(s.now, "to-b", netip.AddrPortFrom(b.addrs["to-a"], Port), netip.AddrPortFrom(MulticastGroup, Port), last)
		c2 := a.e.Counters()
		if c2.Dropped[DropReplay] != c.Dropped[DropReplay]+1 {
			t.Errorf("replay not dropped: %v", c2.Dropped)
		}
	})
	t.Run("neighbour restarts", func(t *testing.T) {
		s, a, b := authPair(t, []Key{key1}, []Key{key1})
		s.run(5 * time.Second)
		// b comes back with a fresh engine: a new index, a counter that
		// starts anywhere.
		e, err := New(Options{RouterID: b.e.RouterID(), State: b.e.State(), Announce: announce("2001:db8:b::/64", "2001:db8:bb::/64"),
			Rand: bytes.NewReader(bytes.Repeat([]byte{0x5a}, 4096))}, s.now)
		if err != nil {
			t.Fatal(err)
		}
		b.e = e
		ib := wired
		ib.Name, ib.Keys = "to-a", []Key{key1}
		if err := e.AddInterface(s.now, ib); err != nil {
			t.Fatal(err)
		}
		if err := e.LinkUp(s.now, "to-a", b.addrs["to-a"]); err != nil {
			t.Fatal(err)
		}
		unknown := a.e.Counters().Dropped[DropUnknownIndex]
		s.run(5 * time.Second)
		if a.e.Counters().Dropped[DropUnknownIndex] == unknown {
			t.Error("new index not challenged")
		}
		if _, ok := a.route("2001:db8:bb::/64", ""); !ok {
			t.Errorf("restarted neighbour not accepted again\n%s", dumpRoutes(a))
		}
	})
}
