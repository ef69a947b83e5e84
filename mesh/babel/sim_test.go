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

// The simulated network: engines joined by links under the test's
// control, driven by one fake clock. A datagram takes simDelay to cross a
// link; a link's loss function may drop any of them.

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const simDelay = time.Millisecond

type simNode struct {
	name  string
	e     *Engine
	addrs map[string]netip.Addr
	index int
}

type simEnd struct {
	node   *simNode
	ifname string
}

func (e simEnd) String() string { return e.node.name + "/" + e.ifname }

type simLink struct {
	ends []simEnd
	down bool
	// loss drops a datagram from one end to another; nil drops nothing.
	loss func(from, to simEnd, d Datagram) bool
	// delay, when set, is the link's own transit time.
	delay time.Duration
}

type delivery struct {
	at   time.Time
	to   simEnd
	src  netip.Addr
	dst  netip.Addr
	data []byte
}

type sim struct {
	t      testing.TB
	now    time.Time
	nodes  []*simNode
	byName map[string]*simNode
	links  []*simLink
	queue  []delivery
	// check runs after every event; a test asserts its invariants there.
	check func()
	// delivered sees every datagram handed to an engine.
	delivered func(to simEnd, src, dst netip.Addr, data []byte)
	// ticked sees every Tick and what it sent.
	ticked func(n *simNode, out []Datagram)
	steps  int
	// delay, when set, gives each datagram its time on a link without a
	// delay of its own.
	delay func() time.Duration
}

func newSim(t testing.TB) *sim {
	return &sim{t: t, now: t0, byName: map[string]*simNode{}}
}

func simRouterID(i int) RouterID { return RouterID{0x02, 0, 0, 0, 0, 0, 0, byte(i)} }

func simAddr(node, ifc int) netip.Addr {
	return netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 13: byte(node), 15: byte(ifc)})
}

// add creates a node; opts.Interfaces may be left empty and given by
// connect.
func (s *sim) add(name string, opts Options) *simNode {
	s.t.Helper()
	i := len(s.nodes) + 1
	if opts.RouterID.IsZero() {
		opts.RouterID = simRouterID(i)
	}
	if opts.Rand == nil {
		var seed [32]byte
		seed[0] = byte(i)
		opts.Rand = mrand.NewChaCha8(seed)
	}
	e, err := New(opts, s.now)
	if err != nil {
		s.t.Fatal(err)
	}
	n := &simNode{name: name, e: e, addrs: map[string]netip.Addr{}, index: i}
	s.nodes = append(s.nodes, n)
	s.byName[name] = n
	return n
}

// iface adds an interface to n and brings it up.
func (s *sim) iface(n *simNode, ifo Interface) simEnd {
	s.t.Helper()
	if err := n.e.AddInterface(s.now, ifo); err != nil {
		s.t.Fatal(err)
	}
	a := simAddr(n.index, len(n.addrs)+1)
	n.addrs[ifo.Name] = a
	if err := n.e.LinkUp(s.now, ifo.Name, a); err != nil {
		s.t.Fatal(err)
	}
	return simEnd{n, ifo.Name}
}

// connect joins interfaces (configured alike from tmpl) of the nodes
// into one link.
func (s *sim) connect(tmpl Interface, ends ...simEnd) *simLink {
	l := &simLink{ends: ends}
	s.links = append(s.links, l)
	return l
}

// wire joins two nodes with a new interface each, named after the peer.
func (s *sim) wire(a, b *simNode, tmpl Interface) *simLink {
	s.t.Helper()
	ia, ib := tmpl, tmpl
	ia.Name, ib.Name = "to-"+b.name, "to-"+a.name
	return s.connect(tmpl, s.iface(a, ia), s.iface(b, ib))
}

func (s *sim) linkOf(e simEnd) *simLink {
	for _, l := range s.links {
		if slices.Contains(l.ends, e) {
			return l
		}
	}
	return nil
}

// collect moves every engine's output onto the links.
func (s *sim) collect() {
	for _, n := range s.nodes {
		s.send(n, n.e.Output())
	}
}

// send puts datagrams n emitted onto its links.
func (s *sim) send(n *simNode, ds []Datagram) {
	for _, d := range ds {
		from := simEnd{n, d.Interface}
		l := s.linkOf(from)
		if l == nil || l.down {
			continue
		}
		for _, to := range l.ends {
			if to == from {
				continue
			}
			if d.Dst != MulticastGroup && to.node.addrs[to.ifname] != d.Dst {
				continue
			}
			if l.loss != nil && l.loss(from, to, d) {
				continue
			}
			at := s.now.Add(simDelay)
			switch {
			case l.delay != 0:
				at = s.now.Add(l.delay)
			case s.delay != nil:
				at = s.now.Add(s.delay())
			}
			s.queue = append(s.queue, delivery{
				at: at, to: to, src: n.addrs[d.Interface], dst: d.Dst, data: d.Data,
			})
		}
	}
}

// run advances the network by d, event by event.
func (s *sim) run(d time.Duration) {
	s.t.Helper()
	end := s.now.Add(d)
	for {
		s.collect()
		next := end.Add(time.Nanosecond)
		for _, q := range s.queue {
			if q.at.Before(next) {
				next = q.at
			}
		}
		for _, n := range s.nodes {
			if w := n.e.Next(); w.Before(next) {
				next = w
			}
		}
		if next.After(end) {
			s.now = end
			return
		}
		s.now = next
		s.steps++
		if s.steps > 5_000_000 {
			s.t.Fatal("simulation does not settle")
		}
		if i := slices.IndexFunc(s.queue, func(q delivery) bool { return !q.at.After(s.now) }); i >= 0 {
			q := s.queue[i]
			s.queue = slices.Delete(s.queue, i, i+1)
			q.to.node.e.Receive(s.now, q.to.ifname,
				netip.AddrPortFrom(q.src, Port), netip.AddrPortFrom(q.dst, Port), q.data)
			if s.delivered != nil {
				s.delivered(q.to, q.src, q.dst, q.data)
			}
		} else {
			for _, n := range s.nodes {
				if !n.e.Next().After(s.now) {
					n.e.Tick(s.now)
					out := n.e.Output()
					if s.ticked != nil {
						s.ticked(n, out)
					}
					s.send(n, out)
				}
			}
		}
		if s.check != nil {
			s.check()
		}
	}
}

// route returns n's installed route to (prefix, src), if any.
func (n *simNode) route(prefix, src string) (InstalledRoute, bool) {
	var sp netip.Prefix
	if src != "" {
		sp = netip.MustParsePrefix(src)
	}
	for _, r := range n.e.Installed() {
		if r.Prefix == netip.MustParsePrefix(prefix) && r.Source == sp {
			return r, true
		}
	}
	return InstalledRoute{}, false
}

// nextHop names the node n forwards (prefix, src) to, "" for none or
// unreachable.
func (s *sim) nextHop(n *simNode, prefix, src string) string {
	r, ok := n.route(prefix, src)
	if !ok || r.Unreachable {
		return ""
	}
	for _, m := range s.nodes {
		for _, a := range m.addrs {
			if a == r.Via {
				return m.name
			}
		}
	}
	return "?" + r.Via.String()
}

// loop follows next hops from every node towards prefix and returns a
// description of the first forwarding loop found, or "".
func (s *sim) loop(prefix, src string) string {
	for _, start := range s.nodes {
		seen := map[string]bool{}
		path := []string{start.name}
		n := start
		for {
			if seen[n.name] {
				return strings.Join(path, " -> ")
			}
			seen[n.name] = true
			next := s.nextHop(n, prefix, src)
			if next == "" || strings.HasPrefix(next, "?") {
				break
			}
			path = append(path, next)
			n = s.byName[next]
		}
	}
	return ""
}

func (s *sim) node(name string) *simNode { return s.byName[name] }

func neighbourOf(n *simNode, ifname string) (NeighbourInfo, bool) {
	for _, x := range n.e.Neighbours() {
		if x.Interface == ifname {
			return x, true
		}
	}
	return NeighbourInfo{}, false
}

func dumpRoutes(n *simNode) string {
	var b strings.Builder
	for _, r := range n.e.Routes() {
		fmt.Fprintf(&b, "%+v\n", r)
	}
	return b.String()
}

var (
	wired    = Interface{Type: Wired}
	wireless = Interface{Type: Wireless}
)

func announce(ps ...string) []Announcement {
	var out []Announcement
	for _, p := range ps {
		a := Announcement{}
		dst, src, ok := strings.Cut(p, " from ")
		a.Prefix = netip.MustParsePrefix(dst)
		if ok {
			a.Source = netip.MustParsePrefix(src)
		}
		out = append(out, a)
	}
	return out
}
