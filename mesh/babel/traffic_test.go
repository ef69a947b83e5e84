package babel

import (
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// TestSteadyStateTraffic watches a 5-ring of wired nodes at the default
// intervals for an hour once it has settled, as the control-traffic
// benchmark does with real boxes. In the steady state a node sends one
// packet per interface per Hello: full updates and IHUs ride on Hellos
// rather than pay for headers of their own. A node's interfaces keep
// their Hellos and full updates together, and it wakes up for nothing
// else: each wake-up costs a box more than what it sends. And
// every interval a TLV announces is an upper bound, as RFC 8966 wants:
// the next Hello, IHU or update for the same prefix always came within
// it.
func TestSteadyStateTraffic(t *testing.T) {
	s := newSim(t)
	r := mrand.New(mrand.NewPCG(1, 2))
	var ns []*simNode
	for i := range 5 {
		// Unique local /64s of random /48s, as the boxes take.
		p := fmt.Sprintf("fd%02x:%04x:%04x::/64", r.IntN(256), r.IntN(65536), r.IntN(65536))
		ns = append(ns, s.add(string(rune('a'+i)), Options{Announce: announce(p)}))
	}
	for i := range ns {
		s.wire(ns[i], ns[(i+1)%len(ns)], wired)
	}
	s.run(2 * time.Minute)

	type stream struct {
		from, to string // sending end, and for IHUs and updates what about
		kind     string
	}
	type last struct {
		at       time.Time
		interval time.Duration
	}
	seen := map[stream]last{}
	owner := map[netip.Addr]string{}
	for _, n := range ns {
		for _, a := range n.addrs {
			owner[a] = n.name
		}
	}
	// The times each node's Hellos went out, for its wake-ups.
	wakes := map[string]map[time.Time]bool{}
	var late []string
	var packets, bytes, hellos, dumps, alone, ticks, idle int
	s.ticked = func(n *simNode, out []Datagram) {
		ticks++
		if len(out) == 0 {
			idle++
		}
	}
	// A TLV must come again within the interval its predecessor
	// announced, give or take the time the datagrams travel.
	check := func(k stream, interval uint16) {
		if l, ok := seen[k]; ok && s.now.Sub(l.at) > l.interval+time.Millisecond && len(late) < 10 {
			late = append(late, fmt.Sprintf("%s %s from %s after %v, announced %v", k.kind, k.to, k.from, s.now.Sub(l.at), l.interval))
		}
		seen[k] = last{s.now, fromCentiseconds(interval)}
	}
	s.delivered = func(to simEnd, src, dst netip.Addr, data []byte) {
		p := mustParse(t, data)
		from := src.String()
		packets++
		// What the benchmark counts: Ethernet, IPv6 and UDP headers too.
		bytes += len(data) + 14 + ipUDPHeaders
		hello, updates := false, 0
		for _, x := range p.TLVs {
			switch x := x.(type) {
			case Hello:
				hello = true
				hellos++
				if wakes[owner[src]] == nil {
					wakes[owner[src]] = map[time.Time]bool{}
				}
				wakes[owner[src]][s.now] = true
				check(stream{from, "", "Hello"}, x.Interval)
			case IHU:
				check(stream{from, x.Address.String(), "IHU"}, x.Interval)
			case Update:
				updates++
				check(stream{from, x.Prefix.String(), "Update"}, x.Interval)
			}
		}
		if updates > 0 && !hello {
			alone++
		}
		if updates > 1 {
			dumps++
		}
	}
	const window = time.Hour
	s.run(window)

	if alone != 0 {
		t.Errorf("%d of %d packets carried updates without a Hello: they could have ridden on one", alone, packets)
	}
	if packets != hellos {
		t.Errorf("%d packets for %d Hellos: something went alone", packets, hellos)
	}
	for _, l := range late {
		t.Errorf("late: %s", l)
	}
	// 10 interfaces: a Hello every 4 s and a full update every 16 s on
	// average on each, as babeld sends them.
	perIface := func(n int) time.Duration { return window * 10 / time.Duration(n) }
	if iv := perIface(hellos); iv < 39*DefaultHelloInterval/40 || iv > 41*DefaultHelloInterval/40 {
		t.Errorf("a Hello every %v per interface, want %v on average", iv, DefaultHelloInterval)
	}
	if iv := perIface(dumps); iv < 39*DefaultUpdateInterval/40 || iv > 41*DefaultUpdateInterval/40 {
		t.Errorf("a full update every %v per interface, want %v on average", iv, DefaultUpdateInterval)
	}
	// Each node has two interfaces, whose Hellos share a wake-up (half
	// of them go with another when all do; each on its own schedule,
	// none does). Every Tick sends: a cached deadline that moved away
	// (a route or source refreshed meanwhile) wakes nobody.
	var w int
	for _, at := range wakes {
		w += len(at)
	}
	shared := 1 - float64(w)/float64(hellos)
	if shared < 0.45 {
		t.Errorf("%d wake-ups for %d Hellos: only %.0f%% of the Hellos went with another", w, hellos, 100*shared)
	}
	if idle != 0 {
		t.Errorf("%d of %d Ticks sent nothing", idle, ticks)
	}
	perNode := float64(bytes) / window.Seconds() / float64(len(ns))
	t.Logf("%.1f B/s and %.3f packets/s per node; %.0f%% of the Hellos shared a wake-up", perNode, float64(packets)/window.Seconds()/float64(len(ns)), 100*shared)
}

// TestSmoothingWakesNobody: while the smoothed metrics of new routes
// converge, which takes most of a minute, route selection looks again at
// the Ticks that come anyway for the Hellos, and at the latest every
// smoothEvery. It used to have a Tick of its own every second.
func TestSmoothingWakesNobody(t *testing.T) {
	s := newSim(t)
	a := s.add("a", Options{Announce: announce("2001:db8:a::/64")})
	b := s.add("b", Options{Announce: announce("2001:db8:b::/64")})
	c := s.add("c", Options{Announce: announce("2001:db8:c::/64")})
	s.wire(a, b, wired)
	s.wire(b, c, wired)
	s.run(10 * time.Second)
	converging := func() int {
		n := 0
		for _, r := range a.e.Routes() {
			if !r.Own && r.Metric != Infinity && r.Smoothed != r.Metric {
				n++
			}
		}
		return n
	}
	if converging() == 0 {
		t.Fatal("scenario not set up: no smoothed metric converging")
	}
	ticks, idle := 0, 0
	s.ticked = func(n *simNode, out []Datagram) {
		if n == a {
			ticks++
			if len(out) == 0 {
				idle++
			}
		}
	}
	s.run(40 * time.Second)
	if converging() == 0 {
		t.Fatal("scenario not set up: the smoothed metrics converged within the window")
	}
	// One interface, a Hello every 4 s: about 10 Ticks that send.
	if idle > 5 {
		t.Errorf("%d of a's %d Ticks in 40 s sent nothing", idle, ticks)
	}
	t.Logf("%d of a's %d Ticks in 40 s sent nothing", idle, ticks)
}
