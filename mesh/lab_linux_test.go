package mesh_test

import (
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpe/internal/lab"
)

func TestMain(m *testing.M) {
	code := m.Run()
	lab.RemoveBinary()
	os.Exit(code)
}

// meshBox starts `cpe run` in ns with a LAN on lan0 (ULA only: no uplink)
// and Babel on the given wired interfaces, with 1 s Hellos.
func meshBox(t testing.TB, ns *lab.Netns, ifaces ...string) *lab.CPE {
	t.Helper()
	return startBox(t, ns, time.Second, 4*time.Second, "", ifaces...)
}

// lanAddr waits for the box's own address on its LAN's ULA /64.
func lanAddr(t testing.TB, ns *lab.Netns) string {
	t.Helper()
	re := regexp.MustCompile(`inet6 (fd[0-9a-f:]+::1)/64`)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if m := re.FindStringSubmatch(ns.Run("ip", "-6", "addr", "show", "dev", "lan0")); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no ULA address on lan0 in %s", ns.Name)
	return ""
}

// TestTwoBoxes: two boxes on a wired link learn each other's LAN prefixes
// over Babel, install them, and reach each other's LAN addresses.
func TestTwoBoxes(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireCommands(t, "ping")
	l := lab.New(t)
	a, b := l.Netns("a"), l.Netns("b")
	ha, hb := l.Netns("ha"), l.Netns("hb")
	l.Veth(a, "mesh0", b, "mesh0")
	l.Veth(a, "lan0", ha, "eth0")
	l.Veth(b, "lan0", hb, "eth0")
	boxA, boxB := meshBox(t, a, "mesh0"), meshBox(t, b, "mesh0")
	addrA, addrB := lanAddr(t, a), lanAddr(t, b)
	lanB := strings.TrimSuffix(addrB, "1") + "/64"

	// The route may first show at infinity: B's update can come before
	// B's IHU tells A that B hears it.
	at96 := regexp.MustCompile(regexp.QuoteMeta(lanB) + `\s+-\s+96\s`)
	var out string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, _ = boxA.CLI("show", "babel", "routes")
		if at96.MatchString(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B's prefix not at metric 96 over one wired hop:\n%s", out)
		}
	}
	t.Logf("A's Babel routes:\n%s", out)
	boxA.WaitCLI(10*time.Second, []string{"show", "routes"}, lanB)
	var pingOut string
	var err error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if pingOut, err = a.Exec("ping", "-6", "-c", "2", "-i", "0.2", "-W", "1", "-I", addrA, addrB); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("A cannot reach B's LAN address %s: %v\n%s\n%s\n%s", addrB, err, pingOut, a.Run("ip", "-6", "route"), boxB.Proc.Output())
	}
	if out := boxB.WaitCLI(5*time.Second, []string{"show", "babel", "neighbours"}, "mesh0"); !strings.Contains(out, "fe80::") {
		t.Errorf("show babel neighbours:\n%s", out)
	}

	// A route deleted by hand comes back at once: the box hears the
	// kernel say so. (It used to wait for its next periodic apply.)
	a.Run("ip", "-6", "route", "del", lanB)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(a.Run("ip", "-6", "route", "show", lanB), "mesh0"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the route to %s deleted by hand is not back within 5 s:\n%s", lanB, a.Run("ip", "-6", "route"))
		}
	}
}

// ring5 starts the ring a–b–c–d–e–a, babeld on c and `cpe run` on the
// others, all with 1 s Hellos; keys gives a box's HMAC key by name.
func ring5(t *testing.T, keys map[string]string) *meshLab {
	t.Helper()
	m := newMeshLab(t, time.Second, 4*time.Second)
	names := []string{"a", "b", "c", "d", "e"}
	for _, n := range names {
		kind := kindCPE
		if n == "c" {
			kind = kindBabeld
		}
		m.node(n, kind)
	}
	for i, n := range names {
		m.link(n, names[(i+1)%len(names)])
	}
	m.start(keys)
	return m
}

// learned reports whether every box but skip has selected a route to
// every other box's LAN but skip's whose metric is 96 (the wired link
// cost of both babeld and us) for every hop the kernel's routes take to
// get there, and whether none has any route to skip's LAN.
//
// The path need not be the shortest: a longer one that was known first
// stays in use until the better one's smoothed metric has caught up,
// which takes half a minute from 4 s half-lives (as in babeld).
func (m *meshLab) learned(skip string) (bool, string) {
	var wrong, skips []string
	if skip != "" {
		skips = append(skips, skip)
	}
	hops := map[string]map[string]int{}
	for _, target := range m.names {
		if target != skip {
			h, w := m.routeHops(target, skips...)
			hops[target] = h
			wrong = append(wrong, w...)
		}
	}
	for _, name := range m.names {
		if name == skip {
			continue
		}
		n := m.nodes[name]
		selected := map[netip.Prefix]int{}
		known := map[netip.Prefix]bool{}
		var table string
		switch n.kind {
		case kindCPE:
			rs, out, err := babelRoutes(n.box)
			if err != nil {
				wrong = append(wrong, fmt.Sprintf("%s: %v: %s", name, err, out))
				continue
			}
			table = out
			for _, r := range rs {
				known[r.Prefix] = true
				if r.State == "installed" {
					selected[r.Prefix], _ = strconv.Atoi(r.Metric)
				}
			}
		case kindBabeld:
			rs, err := n.babeldRoutes()
			if err != nil {
				wrong = append(wrong, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			for _, r := range rs {
				known[r.Prefix] = true
				if r.Installed {
					selected[r.Prefix] = r.Metric
				}
				table += fmt.Sprintf("%+v\n", r)
			}
		}
		before := len(wrong)
		for _, other := range m.names {
			if other == name || other == skip {
				continue
			}
			lan := m.nodes[other].lan
			h, ok := hops[other][name]
			if got := selected[lan]; !ok || got != 96*h {
				wrong = append(wrong, fmt.Sprintf("%s: route to %s's %s: metric %d over %d hops", name, other, lan, got, h))
			}
		}
		if skip != "" && known[m.nodes[skip].lan] {
			wrong = append(wrong, fmt.Sprintf("%s: has a route to %s's %s", name, skip, m.nodes[skip].lan))
		}
		if len(wrong) > before {
			wrong = append(wrong, name+"'s routes:\n"+table)
		}
	}
	return len(wrong) == 0, strings.Join(wrong, "\n")
}

// routeVia reports whether box has selected a route to target's LAN with
// the metric, leaving on dev.
func (m *meshLab) routeVia(box, target string, metric int, dev string) func() (bool, string) {
	return m.hasRoute(box, target, metric, dev, "installed")
}

// hasRoute reports whether box has a route to target's LAN with the
// metric, leaving on dev, in one of the states (as `show babel routes`
// says).
func (m *meshLab) hasRoute(box, target string, metric int, dev string, states ...string) func() (bool, string) {
	return func() (bool, string) {
		rs, out, err := babelRoutes(m.nodes[box].box)
		if err != nil {
			return false, fmt.Sprintf("%v: %s", err, out)
		}
		for _, r := range rs {
			if r.Prefix == m.nodes[target].lan && slices.Contains(states, r.State) &&
				r.Metric == strconv.Itoa(metric) && strings.HasSuffix(r.NextHop, " dev "+dev) {
				return true, out
			}
		}
		return false, out
	}
}

// TestRing: four boxes and babeld in a ring learn each other's LANs with
// the metric each hop adds, forward between them, reroute through babeld
// when the link on the shorter path goes, and come back when it returns.
func TestRing(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a lab test of many seconds")
	}
	m := ring5(t, nil)
	took := waitFor(t, 30*time.Second, 250*time.Millisecond, "every box routes to every LAN at 96 a hop", func() (bool, string) { return m.learned("") })
	t.Logf("routes learned in %v", took.Round(10*time.Millisecond))
	// a's shorter path to d is through e. It is nearly always the first
	// one known; if not, it takes over once its smoothed metric is better.
	waitFor(t, 45*time.Second, 250*time.Millisecond, "a's route to d through e", m.routeVia("a", "d", 192, "m-ae"))
	waitFor(t, 10*time.Second, 100*time.Millisecond, "a pings d", func() (bool, string) { return m.ping("a", "d", 2) })

	// Without the e–d link it goes through b and babeld on c: three hops.
	m.unlink("e", "d")
	took = waitFor(t, 20*time.Second, 200*time.Millisecond, "a's route to d through b", m.routeVia("a", "d", 288, "m-ab"))
	t.Logf("rerouted in %v", took.Round(10*time.Millisecond))
	waitFor(t, 20*time.Second, 250*time.Millisecond, "every box routes to every LAN without the e–d link", func() (bool, string) { return m.learned("") })
	waitFor(t, 10*time.Second, 100*time.Millisecond, "a pings d through babeld", func() (bool, string) { return m.ping("a", "d", 2) })

	// Back again. e's direct route to d must prove itself for a while
	// before it replaces the one through a (its smoothed metric starts
	// high, as in babeld); then a hears of the shorter path through e, and
	// takes it as soon as that one has proved itself in turn.
	m.link("e", "d")
	took = waitFor(t, 45*time.Second, 250*time.Millisecond, "e's route to d over the link again", m.routeVia("e", "d", 96, "m-ed"))
	t.Logf("e's route back in %v", took.Round(10*time.Millisecond))
	waitFor(t, 10*time.Second, 250*time.Millisecond, "a's route to d through e known again", m.hasRoute("a", "d", 192, "m-ae", "feasible", "installed"))
	waitFor(t, 20*time.Second, 250*time.Millisecond, "every box routes to every LAN with the e–d link back", func() (bool, string) { return m.learned("") })
	waitFor(t, 10*time.Second, 100*time.Millisecond, "e pings d over the link", func() (bool, string) { return m.ping("e", "d", 2) })
	waitFor(t, 10*time.Second, 100*time.Millisecond, "a pings d", func() (bool, string) { return m.ping("a", "d", 2) })
}

// TestRingHMAC: the same ring with one HMAC-SHA256 key on every box but
// a, whose key differs. b, babeld and d route between them through the
// keyed links; a and its neighbours ignore each other both ways.
func TestRingHMAC(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a lab test of many seconds")
	}
	good := strings.Repeat("0123456789abcdef", 4)
	m := ring5(t, map[string]string{"a": strings.Repeat("fedcba9876543210", 4), "b": good, "c": good, "d": good, "e": good})
	took := waitFor(t, 30*time.Second, 250*time.Millisecond, "every box but a routes to every LAN but a's at 96 a hop", func() (bool, string) { return m.learned("a") })
	t.Logf("routes learned in %v", took.Round(10*time.Millisecond))
	waitFor(t, 10*time.Second, 100*time.Millisecond, "b pings d through babeld", func() (bool, string) { return m.ping("b", "d", 2) })
	for _, name := range []string{"b", "d", "e"} {
		if out, _ := m.nodes[name].box.CLI("show", "babel", "neighbours"); !strings.Contains(out, "true") || strings.Contains(out, "false") {
			t.Errorf("%s's neighbours are not all authenticated:\n%s", name, out)
		}
	}
	// a has heard several Hellos from b and e by now, and they from it.
	for _, name := range []string{"a", "b", "e"} {
		m.nodes[name].box.WaitCLI(10*time.Second, []string{"show", "babel", "interfaces"}, "dropped")
	}
	a := m.nodes["a"]
	if out, _ := a.box.CLI("show", "babel", "neighbours"); strings.Contains(out, "fe80::") {
		t.Errorf("a has neighbours with a wrong key:\n%s", out)
	}
	rs, out, err := babelRoutes(a.box)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.State != "announced" {
			t.Errorf("a learned a route with a wrong key:\n%s", out)
			break
		}
	}
	for _, name := range []string{"b", "e"} {
		if out, _ := m.nodes[name].box.CLI("show", "babel", "neighbours"); strings.Contains(out, "m-"+name+"a") {
			t.Errorf("%s lists a as a neighbour:\n%s", name, out)
		}
	}
	if ok, state := m.learned("a"); !ok {
		t.Errorf("after a's packets were dropped:\n%s", state)
	}
}
