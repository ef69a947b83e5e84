package mesh_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpe/internal/lab"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A meshLab is a mesh of boxes in namespaces joined by wired veth links,
// each box either `cpe run` or babeld, each with a LAN (lan0, a veth to a
// host namespace) whose /64 it announces. The link between boxes a and b
// is m-ab on a and m-ba on b.
//
// The links are made once every box runs, without duplicate address
// detection, and all at once (start) or in waves outward from one box
// (connectFrom): a route over a longer path that happened to be known
// first holds its place for half a minute or more, as both babeld and we
// replace a selected route only with one whose smoothed metric is better,
// and a new route's starts high.
type meshLab struct {
	tb            testing.TB
	l             *lab.Lab
	hello, update time.Duration
	nodes         map[string]*meshNode
	names         []string           // in the order they were added
	planned       map[[2]string]bool // the boxes' Babel interfaces
	links         map[[2]string]bool // the links that exist
	started       bool
}

type nodeKind int

const (
	kindCPE nodeKind = iota
	kindBabeld
)

func (k nodeKind) String() string {
	if k == kindBabeld {
		return "babeld"
	}
	return "cpe"
}

type meshNode struct {
	name   string
	kind   nodeKind
	ns     *lab.Netns
	box    *lab.CPE  // kindCPE
	babeld *lab.Proc // kindBabeld
	// babeldPort is babeld's read-only local interface (on ::1 in ns).
	babeldPort int
	lan        netip.Prefix
	addr       netip.Addr // the box's address on its LAN
	// h is a netlink handle opened in ns, so polling the kernel's routes
	// costs no process.
	h *netlink.Handle
}

func newMeshLab(tb testing.TB, hello, update time.Duration) *meshLab {
	tb.Helper()
	lab.RequireRoot(tb)
	lab.RequireCommands(tb, "ping", "babeld")
	return &meshLab{tb: tb, l: lab.New(tb), hello: hello, update: update,
		nodes: map[string]*meshNode{}, planned: map[[2]string]bool{}, links: map[[2]string]bool{}}
}

// node adds a box (name: a short lowercase word, part of interface names)
// and its LAN host.
func (m *meshLab) node(name string, kind nodeKind) *meshNode {
	m.tb.Helper()
	n := &meshNode{name: name, kind: kind, ns: m.l.Netns(name)}
	n.ns.Sysctl("net.ipv6.conf.default.accept_dad", "0")
	m.l.Veth(n.ns, "lan0", m.l.Netns("h"+name), "eth0")
	if err := n.ns.Do(func() (err error) {
		n.h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	}); err != nil {
		m.tb.Fatalf("netlink in %s: %v", name, err)
	}
	m.tb.Cleanup(n.h.Close)
	m.nodes[name] = n
	m.names = append(m.names, name)
	return n
}

// randomULA is the first /64 of a random ULA /48.
func randomULA() netip.Prefix {
	var a [16]byte
	a[0] = 0xfd
	for i := 1; i < 6; i++ {
		a[i] = byte(rand.IntN(256))
	}
	return netip.PrefixFrom(netip.AddrFrom16(a), 64)
}

func ifName(a, b string) string { return "m-" + a + b }

// link joins two boxes: at once when the lab runs, else when it starts.
func (m *meshLab) link(a, b string) {
	m.tb.Helper()
	m.planned[[2]string{a, b}], m.planned[[2]string{b, a}] = true, true
	if m.started {
		m.connect([2]string{a, b})
	}
}

// connect creates the veth pairs, then sets them all up.
func (m *meshLab) connect(pairs ...[2]string) {
	m.tb.Helper()
	for _, p := range pairs {
		a, b := m.nodes[p[0]], m.nodes[p[1]]
		a.ns.Run("ip", "link", "add", ifName(p[0], p[1]), "type", "veth", "peer", "name", ifName(p[1], p[0]), "netns", b.ns.Name)
	}
	for _, p := range pairs {
		for _, end := range [][2]string{{p[0], p[1]}, {p[1], p[0]}} {
			n := m.nodes[end[0]]
			l, err := n.h.LinkByName(ifName(end[0], end[1]))
			if err == nil {
				err = n.h.LinkSetUp(l)
			}
			if err != nil {
				m.tb.Fatalf("setting %s up in %s: %v", ifName(end[0], end[1]), end[0], err)
			}
		}
		m.links[p], m.links[[2]string{p[1], p[0]}] = true, true
	}
}

// unlink deletes the veth pair between a and b: the kernel reports the
// interface gone on both sides at once.
func (m *meshLab) unlink(a, b string) {
	m.tb.Helper()
	n := m.nodes[a]
	l, err := n.h.LinkByName(ifName(a, b))
	if err == nil {
		err = n.h.LinkDel(l)
	}
	if err != nil {
		m.tb.Fatalf("deleting %s in %s: %v", ifName(a, b), a, err)
	}
	delete(m.links, [2]string{a, b})
	delete(m.links, [2]string{b, a})
}

// neighbours lists a box's linked neighbours, sorted.
func (m *meshLab) neighbours(name string) []string { return neighboursIn(m.links, name) }

func neighboursIn(links map[[2]string]bool, name string) []string {
	var out []string
	for k := range links {
		if k[0] == name {
			out = append(out, k[1])
		}
	}
	slices.Sort(out)
	return out
}

// pairs lists the links of a set once each, sorted.
func pairs(links map[[2]string]bool) [][2]string {
	var out [][2]string
	for k := range links {
		if k[0] < k[1] {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(x, y [2]string) int { return strings.Compare(x[0]+x[1], y[0]+y[1]) })
	return out
}

// start runs every box and makes all the links at once.
func (m *meshLab) start(keys map[string]string) {
	m.tb.Helper()
	m.run(keys)
	m.connect(pairs(m.planned)...)
}

// run starts every box, on the Babel interfaces of the links planned so
// far, and waits for their LAN addresses. keys gives a box's HMAC key
// (hex, 32 bytes) by name; a box without one runs unauthenticated.
func (m *meshLab) run(keys map[string]string) {
	m.tb.Helper()
	for _, name := range m.names {
		n := m.nodes[name]
		var ifaces []string
		for _, nb := range neighboursIn(m.planned, name) {
			ifaces = append(ifaces, ifName(name, nb))
		}
		switch n.kind {
		case kindCPE:
			n.box = startBox(m.tb, n.ns, m.hello, m.update, keys[name], ifaces...)
		case kindBabeld:
			// babeld announces a LAN of its own: a static /64 on lan0,
			// the first of a random ULA /48 (RFC 4193) as cpe's are, so
			// that both announce prefixes that compress alike.
			n.lan = randomULA()
			n.addr = n.lan.Addr().Next()
			n.ns.Addr("lan0", netip.PrefixFrom(n.addr, 64))
			n.babeldPort = 33123
			n.babeld = startBabeld(m.tb, n.ns, m.hello, m.update, keys[name], n.babeldPort,
				[]string{fmt.Sprintf("redistribute ip %s eq 64 allow", n.lan)}, ifaces...)
		}
	}
	for _, name := range m.names {
		n := m.nodes[name]
		if n.kind == kindCPE {
			n.addr = netip.MustParseAddr(lanAddr(m.tb, n.ns))
			n.lan = netip.PrefixFrom(n.addr, 64).Masked()
			waitFor(m.tb, 10*time.Second, 100*time.Millisecond, name+" announces its LAN", n.announces)
		}
	}
	m.started = true
}

// announces reports whether Babel on the box announces its LAN.
func (n *meshNode) announces() (bool, string) {
	rs, out, err := babelRoutes(n.box)
	if err != nil {
		return false, fmt.Sprintf("%v: %s", err, out)
	}
	for _, r := range rs {
		if r.Prefix == n.lan && r.State == "announced" {
			return true, out
		}
	}
	return false, out
}

// connectFrom makes the planned links in waves outward from target: the
// links from the boxes n hops away to those n+1 hops away once every box
// up to n hops away routes to target over a shortest path, and links
// between boxes as far away as each other one wave later. Every box thus
// first hears of target's LAN over a shortest path, and keeps it: the
// steady state for routes to target, in a fraction of the time it takes
// the whole mesh to settle when every link comes up at once.
func (m *meshLab) connectFrom(target string, within time.Duration) {
	m.tb.Helper()
	level := hopsIn(m.planned, target)
	waves := map[int][][2]string{}
	last := 0
	for _, p := range pairs(m.planned) {
		w := max(level[p[0]], level[p[1]])
		if level[p[0]] == level[p[1]] {
			w++
		}
		waves[w] = append(waves[w], p)
		last = max(last, w)
	}
	for w := 1; w <= last; w++ {
		if len(waves[w]) == 0 {
			continue
		}
		m.connect(waves[w]...)
		waitFor(m.tb, within, 250*time.Millisecond, fmt.Sprintf("shortest routes to %s's LAN after wave %d", target, w), func() (bool, string) { return m.shortest(target) })
	}
}

// durationConfig renders d the way the config's durations are written.
func durationConfig(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// startBox runs `cpe run` in ns with a LAN on lan0 (ULA only: no uplink)
// and Babel on the given wired interfaces, signing with key (hex) unless
// it is "".
func startBox(tb testing.TB, ns *lab.Netns, hello, update time.Duration, key string, ifaces ...string) *lab.CPE {
	tb.Helper()
	var mi []string
	for _, i := range ifaces {
		mi = append(mi, fmt.Sprintf(`{"interface": %q, "type": "wired", "hello_interval": %q, "update_interval": %q}`,
			i, durationConfig(hello), durationConfig(update)))
	}
	keys := ""
	if key != "" {
		keys = fmt.Sprintf(`, "keys": [{"id": "k1", "secret": %q}]`, key)
	}
	// Benchmarks run the box at its default log level, as babeld runs at its.
	var args []string
	if _, bench := tb.(*testing.B); bench {
		args = []string{"-log-level", "info"}
	}
	return ns.StartCPE(`{"lan": [{"interface": "lan0", "ipv6": {}}],
	  "mesh": {"interfaces": [`+strings.Join(mi, ", ")+`]`+keys+`}}`, "", args...)
}

// startBabeld runs babeld in ns on the given wired interfaces with its
// own state and pid files, forwarding on, and its local interface on
// port (read-only). extra are configuration lines (redistribution); every
// other route of the namespace stays private.
func startBabeld(tb testing.TB, ns *lab.Netns, hello, update time.Duration, key string, port int, extra []string, ifaces ...string) *lab.Proc {
	tb.Helper()
	dir, err := os.MkdirTemp("", "cpe-babeld-")
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	ns.Sysctl("net.ipv6.conf.all.forwarding", "1")
	conf := append([]string(nil), extra...)
	conf = append(conf, "redistribute local deny")
	keyOpt := ""
	if key != "" {
		conf = append(conf, "key id k1 type hmac-sha256 value "+key)
		keyOpt = " key k1"
	}
	for _, i := range ifaces {
		conf = append(conf, fmt.Sprintf("interface %s type wired hello-interval %s update-interval %s%s",
			i, strconv.FormatFloat(hello.Seconds(), 'f', -1, 64), strconv.FormatFloat(update.Seconds(), 'f', -1, 64), keyOpt))
	}
	cf := filepath.Join(dir, "babeld.conf")
	if err := os.WriteFile(cf, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		tb.Fatalf("%v", err)
	}
	p := ns.Start("babeld", "-I", filepath.Join(dir, "babeld.pid"), "-S", filepath.Join(dir, "babeld.state"),
		"-g", strconv.Itoa(port), "-c", cf)
	// A configuration babeld refuses ends it at once.
	select {
	case <-p.Exited():
		tb.Fatalf("babeld exited:\n%s", p.Output())
	case <-time.After(100 * time.Millisecond):
	}
	return p
}

// babeldRoute is one route of babeld's table.
type babeldRoute struct {
	Prefix    netip.Prefix
	Metric    int
	Via       netip.Addr
	Installed bool
}

// babeldRoutes lists babeld's routes.
func (n *meshNode) babeldRoutes() ([]babeldRoute, error) {
	lines, err := n.ns.BabeldDump(n.babeldPort)
	var out []babeldRoute
	for _, f := range lines {
		if f[1] != "route" {
			continue
		}
		kv := lab.BabeldAttrs(f)
		var r babeldRoute
		r.Prefix, _ = netip.ParsePrefix(kv["prefix"])
		r.Metric, _ = strconv.Atoi(kv["metric"])
		r.Via, _ = netip.ParseAddr(kv["via"])
		r.Installed = kv["installed"] == "yes"
		out = append(out, r)
	}
	return out, err
}

// linkCosts is the cost of the neighbour on each of the box's Babel
// interfaces (65535 until Hellos and IHUs have gone both ways).
func (n *meshNode) linkCosts() (map[string]int, error) {
	costs := map[string]int{}
	switch n.kind {
	case kindCPE:
		out, err := n.box.CLI("show", "babel", "neighbours")
		if err != nil {
			return nil, fmt.Errorf("%w: %s", err, out)
		}
		// INTERFACE NEIGHBOUR REACH RXCOST TXCOST LINKCOST COST AUTH
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 7 && f[0] != "INTERFACE" {
				costs[f[0]], _ = strconv.Atoi(f[6])
			}
		}
	case kindBabeld:
		lines, err := n.ns.BabeldDump(n.babeldPort)
		if err != nil {
			return nil, err
		}
		for _, f := range lines {
			if f[1] == "neighbour" {
				kv := lab.BabeldAttrs(f)
				costs[kv["if"]], _ = strconv.Atoi(kv["cost"])
			}
		}
	}
	return costs, nil
}

// linksUp reports whether every box has a neighbour with a finite cost
// on each of its links.
func (m *meshLab) linksUp() (bool, string) {
	var wrong []string
	for _, name := range m.names {
		costs, err := m.nodes[name].linkCosts()
		if err != nil {
			wrong = append(wrong, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		for _, nb := range m.neighbours(name) {
			if c, ok := costs[ifName(name, nb)]; !ok || c >= 65535 {
				wrong = append(wrong, fmt.Sprintf("%s: no neighbour with a cost on %s (%v)", name, ifName(name, nb), costs))
			}
		}
	}
	return len(wrong) == 0, strings.Join(wrong, "\n")
}

// kernelDev is the interface of the kernel's route to p in the box's
// main table ("" for none; "lo" for an unreachable route).
func (n *meshNode) kernelDev(p netip.Prefix) (string, error) {
	rs, err := n.h.RouteListFiltered(netlink.FAMILY_V6, &netlink.Route{
		Dst: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 128)},
	}, netlink.RT_FILTER_DST)
	if err != nil {
		return "", err
	}
	best := -1
	for i, r := range rs {
		if best < 0 || r.Priority < rs[best].Priority {
			best = i
		}
	}
	if best < 0 {
		return "", nil
	}
	if rs[best].Type != unix.RTN_UNICAST || rs[best].LinkIndex == 0 {
		return "lo", nil
	}
	l, err := n.h.LinkByIndex(rs[best].LinkIndex)
	if err != nil {
		return "", err
	}
	return l.Attrs().Name, nil
}

// hops is the number of links from every box to target over the links
// that exist now, not passing through the boxes in skip.
func (m *meshLab) hops(target string, skip ...string) map[string]int {
	return hopsIn(m.links, target, skip...)
}

func hopsIn(links map[[2]string]bool, target string, skip ...string) map[string]int {
	dist := map[string]int{target: 0}
	queue := []string{target}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, nb := range neighboursIn(links, x) {
			if _, ok := dist[nb]; !ok && !slices.Contains(skip, nb) {
				dist[nb] = dist[x] + 1
				queue = append(queue, nb)
			}
		}
	}
	return dist
}

// shortest reports whether every box's kernel route to target's LAN
// leaves on a link of a shortest path (all links cost the same), with
// the boxes that are not there yet: the steady state. Boxes with no path
// to target are left out.
func (m *meshLab) shortest(target string) (bool, string) {
	dist := m.hops(target)
	var wrong []string
	for _, name := range m.names {
		if _, ok := dist[name]; !ok || name == target {
			continue
		}
		n := m.nodes[name]
		dev, err := n.kernelDev(m.nodes[target].lan)
		if err != nil {
			wrong = append(wrong, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		ok := false
		for _, nb := range m.neighbours(name) {
			if dist[nb] == dist[name]-1 && dev == ifName(name, nb) {
				ok = true
			}
		}
		if !ok {
			wrong = append(wrong, fmt.Sprintf("%s: route for %s via %q, %d hops away; %s", name, target, dev, dist[name], n.babelRoutesTo(target, m.nodes[target].lan)))
		}
	}
	return len(wrong) == 0, strings.Join(wrong, "\n")
}

// babelRoutesTo says what the box's Babel knows of routes to p, for a
// failure's message.
func (n *meshNode) babelRoutesTo(target string, p netip.Prefix) string {
	var lines []string
	switch n.kind {
	case kindCPE:
		rs, out, err := babelRoutes(n.box)
		if err != nil {
			return fmt.Sprintf("show babel routes: %v: %s", err, out)
		}
		for _, r := range rs {
			if r.Prefix == p {
				lines = append(lines, fmt.Sprintf("%+v", r))
			}
		}
		if len(lines) == 0 {
			out, _ := n.box.CLI("show", "babel", "interfaces")
			nb, _ := n.box.CLI("show", "babel", "neighbours")
			lines = append(lines, "none; interfaces:\n"+out+nb)
		}
	case kindBabeld:
		rs, err := n.babeldRoutes()
		if err != nil {
			return fmt.Sprintf("babeld dump: %v", err)
		}
		for _, r := range rs {
			if r.Prefix == p {
				lines = append(lines, fmt.Sprintf("%+v", r))
			}
		}
	}
	return "routes to " + target + ":\n\t" + strings.Join(lines, "\n\t")
}

// routeHops follows every box's kernel route for target's LAN, hop by
// hop over the links that exist now. It returns the number of hops to
// target from each box whose trail gets there, and what went wrong for
// the others: a loop, or a dead end (no route, or one over no link).
// Which of several paths the trail takes is Babel's choice. Boxes in skip
// are not asked.
func (m *meshLab) routeHops(target string, skip ...string) (map[string]int, []string) {
	lan := m.nodes[target].lan
	next := map[string]string{}
	var wrong []string
	for _, name := range m.names {
		if name == target || slices.Contains(skip, name) {
			continue
		}
		dev, err := m.nodes[name].kernelDev(lan)
		if err != nil {
			wrong = append(wrong, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if nb, ok := strings.CutPrefix(dev, "m-"+name); ok && m.links[[2]string{name, nb}] {
			next[name] = nb
		} else {
			wrong = append(wrong, fmt.Sprintf("%s: route for %s via %q", name, target, dev))
		}
	}
	hops := map[string]int{target: 0}
	for _, name := range m.names {
		if slices.Contains(skip, name) {
			continue
		}
		trail := []string{name}
		for x := name; x != target; {
			x = next[x]
			if x == "" || slices.Contains(trail, x) {
				what := "dead end"
				if x != "" {
					what = "loop"
				}
				wrong = append(wrong, fmt.Sprintf("from %s to %s: %s → %s", name, target, strings.Join(trail, " → "), what))
				break
			}
			trail = append(trail, x)
			if x == target {
				hops[name] = len(trail) - 1
			}
		}
	}
	return hops, wrong
}

// paths reports whether traffic for target's LAN gets there from every
// box.
func (m *meshLab) paths(target string) (bool, string) {
	_, wrong := m.routeHops(target)
	return len(wrong) == 0, strings.Join(wrong, "\n")
}

// ping sends count echo requests from one box's LAN address to another's
// and reports whether one came back.
func (m *meshLab) ping(from, to string, count int) (bool, string) {
	out, err := m.nodes[from].ns.Exec("ping", "-6", "-n", "-c", strconv.Itoa(count), "-i", "0.2", "-W", "1",
		"-I", m.nodes[from].addr.String(), m.nodes[to].addr.String())
	return err == nil, out
}

// waitFor polls cond every interval until it holds, and fails the test
// with cond's last explanation when within has passed. It returns how long
// it waited.
func waitFor(tb testing.TB, within, interval time.Duration, what string, cond func() (bool, string)) time.Duration {
	tb.Helper()
	start := time.Now()
	for {
		ok, state := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			tb.Fatalf("%s: not within %v:\n%s", what, within, state)
		}
		time.Sleep(interval)
	}
}

// cliRoute is a route in `show babel routes`.
type cliRoute struct {
	Prefix  netip.Prefix
	Metric  string
	NextHop string // "fe80::… dev m-ab" or "-"
	State   string
}

// babelRoutes parses `show babel routes`.
func babelRoutes(box *lab.CPE) ([]cliRoute, string, error) {
	out, err := box.CLI("show", "babel", "routes")
	if err != nil {
		return nil, out, err
	}
	var rs []cliRoute
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		// PREFIX FROM METRIC SEQNO ROUTER-ID NEXT-HOP [dev IF] STATE
		if len(f) < 7 {
			continue
		}
		p, err := netip.ParsePrefix(f[0])
		if err != nil {
			continue
		}
		r := cliRoute{Prefix: p, Metric: f[2], NextHop: strings.Join(f[5:len(f)-1], " "), State: f[len(f)-1]}
		rs = append(rs, r)
	}
	return rs, out, nil
}
