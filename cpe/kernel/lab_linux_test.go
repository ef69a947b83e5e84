package kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// The lab tests run the real Applier in network namespaces of their own:
//
//	isp ns: isp0 192.0.2.1/24 2001:db8:ffff::1/64
//	   |
//	cpe ns: wan0 (applied)     lan0 (applied)
//	                             |
//	host ns:                   host0
func labNamespaces(t *testing.T) (cpe string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("lab test: needs root to create network namespaces (run go test as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("lab test: needs iproute2's ip")
	}
	base := fmt.Sprintf("cpekernel-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	cpe, isp, host := base+"-cpe", base+"-isp", base+"-host"
	for _, ns := range []string{cpe, isp, host} {
		ip(t, "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		})
	}
	ip(t, "-n", cpe, "link", "add", "wan0", "type", "veth", "peer", "name", "isp0", "netns", isp)
	ip(t, "-n", cpe, "link", "add", "lan0", "type", "veth", "peer", "name", "host0", "netns", host)
	ip(t, "-n", cpe, "link", "set", "lo", "up")
	ip(t, "-n", isp, "addr", "add", "192.0.2.1/24", "dev", "isp0")
	ip(t, "-n", isp, "addr", "add", "2001:db8:ffff::1/64", "dev", "isp0", "nodad")
	ip(t, "-n", isp, "link", "set", "isp0", "up")
	ip(t, "-n", host, "link", "set", "host0", "up")
	return cpe
}

// labApplier is an Applier working in ns, closed when the test ends
// (before the namespaces go).
func labApplier(t *testing.T, ns string) *Applier {
	t.Helper()
	a, err := New(Options{Netns: "/run/netns/" + ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func ip(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func ipJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := ip(t, append([]string{"-j"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("ip -j %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// labRoutes lists the routes with the box's protocol, as ip shows them.
func labRoutes(t *testing.T, ns string) []string {
	t.Helper()
	var out []string
	for _, fam := range []string{"-4", "-6"} {
		var routes []struct {
			Type, Dst, From, Gateway, Dev, Table string
			Metric                               *int
			Metrics                              []struct{ MTU int }
		}
		ipJSON(t, &routes, "-n", ns, "-d", fam, "route", "show", "table", "all", "proto", fmt.Sprint(RouteProtocol))
		for _, r := range routes {
			s := r.Type + " " + r.Dst
			for _, kv := range [][2]string{{"from", r.From}, {"via", r.Gateway}, {"dev", r.Dev}, {"table", r.Table}} {
				if kv[1] != "" {
					s += " " + kv[0] + " " + kv[1]
				}
			}
			if r.Metric != nil {
				s += fmt.Sprintf(" metric %d", *r.Metric)
			}
			for _, m := range r.Metrics {
				if m.MTU != 0 {
					s += fmt.Sprintf(" mtu %d", m.MTU)
				}
			}
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// labRules lists the policy rules other than the kernel's three defaults.
func labRules(t *testing.T, ns string) []string {
	t.Helper()
	var out []string
	for _, fam := range []string{"-4", "-6"} {
		var rules []struct {
			Priority int
			Src      string
			SrcLen   int `json:"srclen"`
			Table    string
			Protocol string
		}
		ipJSON(t, &rules, "-n", ns, fam, "rule", "show")
		for _, r := range rules {
			if r.Src == "all" && (r.Table == "local" || r.Table == "main" || r.Table == "default") {
				continue
			}
			out = append(out, fmt.Sprintf("%d from %s/%d table %s proto %s", r.Priority, r.Src, r.SrcLen, r.Table, r.Protocol))
		}
	}
	slices.Sort(out)
	return out
}

type labAddr struct {
	Local     string
	PrefixLen int
	Scope     string
	Valid     uint32 `json:"valid_life_time"`
	Preferred uint32 `json:"preferred_life_time"`
}

func labLink(t *testing.T, ns, dev string) (up bool, mtu int, addrs map[string]labAddr) {
	t.Helper()
	var links []struct {
		Flags    []string
		MTU      int
		AddrInfo []labAddr `json:"addr_info"`
	}
	ipJSON(t, &links, "-n", ns, "addr", "show", "dev", dev)
	if len(links) != 1 {
		t.Fatalf("ip addr show dev %s: %d links", dev, len(links))
	}
	addrs = map[string]labAddr{}
	for _, a := range links[0].AddrInfo {
		addrs[fmt.Sprintf("%s/%d", a.Local, a.PrefixLen)] = a
	}
	return slices.Contains(links[0].Flags, "UP"), links[0].MTU, addrs
}

func labSysctl(t *testing.T, ns, path string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/sys/"+path).CombinedOutput()
	if err != nil {
		t.Fatalf("read %s in %s: %v: %s", path, ns, err, out)
	}
	return strings.TrimSpace(string(out))
}

func labApply(t *testing.T, a *Applier, d Desired) []string {
	t.Helper()
	changes, err := a.Apply(context.Background(), d)
	if err != nil {
		t.Fatalf("Apply: %v\nchanges: %q", err, changes)
	}
	return changes
}

func labDesired(now time.Time, delegated, lan string) Desired {
	return Desired{
		Links: []Link{{Name: "wan0", Up: true, MTU: 1500}, {Name: "lan0", Up: true, MTU: 1400}},
		Sysctls: map[string]string{
			"net.ipv6.conf.all.forwarding": "1",
			"net.ipv4.ip_forward":          "1",
			"net.ipv6.conf.wan0.accept_ra": "0",
			"net/ipv6/conf/lan0/autoconf":  "0",
		},
		Addresses: []Address{
			{Link: "wan0", Prefix: mustPrefix("192.0.2.2/24")},
			{Link: "wan0", Prefix: mustPrefix("2001:db8:ffff::2/64"), PreferredUntil: now.Add(30 * time.Minute), ValidUntil: now.Add(time.Hour)},
			{Link: "lan0", Prefix: mustPrefix("198.51.100.1/24"), PreferredUntil: now.Add(30 * time.Minute), ValidUntil: now.Add(time.Hour)},
			{Link: "lan0", Prefix: mustPrefix(lan)},
		},
		Routes: []Route{
			{Dst: mustPrefix("0.0.0.0/0"), Via: mustAddr("192.0.2.1"), Link: "wan0"},
			{Dst: mustPrefix("0.0.0.0/0"), Src: mustPrefix("198.51.100.0/24"), Via: mustAddr("192.0.2.1"), Link: "wan0", Table: 100},
			{Dst: mustPrefix("2001:db8:2::/48"), Via: mustAddr("2001:db8:ffff::1"), Link: "wan0", MTU: 1400},
			{Dst: mustPrefix(delegated), Type: Unreachable},
			{Dst: mustPrefix("2001:db8:3::/48"), Type: Blackhole, Metric: 2000},
			{Dst: mustPrefix("::/0"), Src: mustPrefix("2001:db8:1::/48"), Via: mustAddr("2001:db8:ffff::1"), Link: "wan0"},
		},
		Rules: []Rule{{Family: IPv6, Src: mustPrefix("2001:db8:1::/48"), Table: 100, Priority: 9000}},
	}
}

func TestLabApply(t *testing.T) {
	ns := labNamespaces(t)
	a := labApplier(t, ns)
	now := time.Now()
	d := labDesired(now, "2001:db8:1::/56", "2001:db8:1:1::1/64")

	changes := labApply(t, a, d)
	// 4 sysctls, wan0 up, lan0 mtu and up, 4 addresses, 6 routes, 2 rules
	if len(changes) != 19 {
		t.Errorf("first Apply made %d changes, want 19:\n\t%s", len(changes), strings.Join(changes, "\n\t"))
	}
	wantRoutes := []string{
		"blackhole 2001:db8:3::/48 dev lo table main metric 2000",
		"unicast 2001:db8:2::/48 via 2001:db8:ffff::1 dev wan0 table main metric 1024 mtu 1400",
		"unicast default from 2001:db8:1::/48 via 2001:db8:ffff::1 dev wan0 table main metric 1024",
		"unicast default via 192.0.2.1 dev wan0 table 100",
		"unicast default via 192.0.2.1 dev wan0 table main",
		"unreachable 2001:db8:1::/56 dev lo table main metric 1024",
	}
	diffLines(t, labRoutes(t, ns), wantRoutes)
	wantRules := []string{
		"10000 from 198.51.100.0/24 table 100 proto 206",
		"9000 from 2001:db8:1::/48 table 100 proto 206",
	}
	diffLines(t, labRules(t, ns), wantRules)

	up, mtu, addrs := labLink(t, ns, "wan0")
	if !up || mtu != 1500 {
		t.Errorf("wan0 up=%v mtu %d", up, mtu)
	}
	if a := addrs["192.0.2.2/24"]; a.Valid != lifetimeForever || a.Preferred != lifetimeForever {
		t.Errorf("192.0.2.2/24: %+v, want forever", a)
	}
	if a, ok := addrs["2001:db8:ffff::2/64"]; !ok || a.Valid > 3600 || a.Valid < 3500 || a.Preferred > 1800 || a.Preferred < 1700 {
		t.Errorf("2001:db8:ffff::2/64: %+v (present %v), want about 1800/3600 s left", a, ok)
	}
	linkLocal := ""
	for p, a := range addrs {
		if a.Scope == "link" {
			linkLocal = p
		}
	}
	if linkLocal == "" {
		t.Errorf("wan0 has no link-local address: %v", addrs)
	}
	up, mtu, addrs = labLink(t, ns, "lan0")
	if !up || mtu != 1400 {
		t.Errorf("lan0 up=%v mtu %d", up, mtu)
	}
	if a, ok := addrs["198.51.100.1/24"]; !ok || a.Valid > 3600 || a.Valid < 3500 {
		t.Errorf("198.51.100.1/24: %+v (present %v), want about 3600 s valid", a, ok)
	}
	if _, ok := addrs["2001:db8:1:1::1/64"]; !ok {
		t.Errorf("lan0 lacks 2001:db8:1:1::1/64: %v", addrs)
	}
	for path, want := range map[string]string{
		"net/ipv6/conf/all/forwarding": "1",
		"net/ipv4/ip_forward":          "1",
		"net/ipv6/conf/wan0/accept_ra": "0",
		"net/ipv6/conf/lan0/autoconf":  "0",
	} {
		if got := labSysctl(t, ns, path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}

	// The kernel routes by the rules and source-specific routes applied.
	var got []struct{ Gateway, Dev string }
	ipJSON(t, &got, "-n", ns, "route", "get", "192.0.2.77", "from", "198.51.100.1")
	if len(got) != 1 || got[0].Gateway != "192.0.2.1" {
		t.Errorf("route get 192.0.2.77 from 198.51.100.1 = %+v, want via the table 100 default", got)
	}
	ipJSON(t, &got, "-n", ns, "-6", "route", "get", "2001:db8:99::1", "from", "2001:db8:1:1::1")
	if len(got) != 1 || got[0].Gateway != "2001:db8:ffff::1" || got[0].Dev != "wan0" {
		t.Errorf("route get 2001:db8:99::1 from 2001:db8:1:1::1 = %+v, want the source-specific default", got)
	}
	if out, err := exec.Command("ip", "-n", ns, "-6", "route", "get", "2001:db8:99::1", "from", "2001:db8:ffff::2").CombinedOutput(); err == nil {
		t.Errorf("a source outside 2001:db8:1::/48 has a default route: %s", out)
	}

	if again := labApply(t, a, d); len(again) != 0 {
		t.Errorf("second Apply changed:\n\t%s", strings.Join(again, "\n\t"))
	}

	// Someone else's route (even in the box's table 100), rule and address.
	ip(t, "-n", ns, "-6", "route", "add", "2001:db8:dead::/48", "via", "2001:db8:ffff::1", "dev", "wan0", "proto", "static")
	// Not through wan0: deleting the box's last address in 192.0.2.0/24
	// at the end makes the kernel drop routes via 192.0.2.1 by itself.
	ip(t, "-n", ns, "route", "add", "blackhole", "192.0.2.128/25", "table", "100", "proto", "static")
	ip(t, "-n", ns, "rule", "add", "from", "192.0.2.0/24", "lookup", "200", "priority", "9500")
	ip(t, "-n", ns, "addr", "add", "192.0.2.200/32", "dev", "lo")
	foreignRoutes := ip(t, "-n", ns, "route", "show", "table", "all", "proto", "static")
	for i := range 2 {
		if again := labApply(t, a, d); len(again) != 0 {
			t.Errorf("Apply %d with foreign entries changed:\n\t%s", i, strings.Join(again, "\n\t"))
		}
	}
	if got := ip(t, "-n", ns, "route", "show", "table", "all", "proto", "static"); got != foreignRoutes || !strings.Contains(got, "192.0.2.128/25") || !strings.Contains(ip(t, "-n", ns, "-6", "route", "show", "proto", "static"), "2001:db8:dead::/48") {
		t.Errorf("foreign routes changed:\n%s\nwas:\n%s", got, foreignRoutes)
	}
	if !strings.Contains(ip(t, "-n", ns, "rule", "show"), "9500:\tfrom 192.0.2.0/24 lookup 200") {
		t.Errorf("foreign rule gone:\n%s", ip(t, "-n", ns, "rule", "show"))
	}

	// A renewal extends the lifetimes: replaced in place, nothing else.
	d.Addresses[1].PreferredUntil = now.Add(2 * time.Hour)
	d.Addresses[1].ValidUntil = now.Add(3 * time.Hour)
	changes = labApply(t, a, d)
	if len(changes) != 1 || !strings.HasPrefix(changes[0], "replace address 2001:db8:ffff::2/64 dev wan0 preferred until ") {
		t.Errorf("renewal changes = %q, want one replace", changes)
	}
	_, _, addrs = labLink(t, ns, "wan0")
	if a := addrs["2001:db8:ffff::2/64"]; a.Valid < 3*3600-100 || a.Preferred < 2*3600-100 {
		t.Errorf("after renewal 2001:db8:ffff::2/64: %+v", a)
	}

	// A new delegated prefix inside the same /48: only the difference moves,
	// new before old.
	d2 := labDesired(now, "2001:db8:1:100::/56", "2001:db8:1:101::1/64")
	d2.Addresses[1] = d.Addresses[1]
	changes = labApply(t, a, d2)
	diffLines(t, changes, []string{
		"add address 2001:db8:1:101::1/64 dev lan0",
		"add route 2001:db8:1:100::/56 type unreachable metric 1024",
		"delete route 2001:db8:1::/56 type unreachable metric 1024",
		"delete address 2001:db8:1:1::1/64 dev lan0",
	})
	wantRoutes[5] = "unreachable 2001:db8:1:100::/56 dev lo table main metric 1024"
	slices.Sort(wantRoutes)
	diffLines(t, labRoutes(t, ns), wantRoutes)
	_, _, addrs = labLink(t, ns, "lan0")
	if _, ok := addrs["2001:db8:1:101::1/64"]; !ok {
		t.Errorf("lan0 lacks the new address: %v", addrs)
	}
	if _, ok := addrs["2001:db8:1:1::1/64"]; ok {
		t.Errorf("lan0 keeps the old address: %v", addrs)
	}
	if again := labApply(t, a, d2); len(again) != 0 {
		t.Errorf("Apply after the move changed:\n\t%s", strings.Join(again, "\n\t"))
	}

	// Wanting nothing removes what the box made and only that.
	changes = labApply(t, a, Desired{})
	if len(changes) != 12 { // 6 routes, 2 rules, 4 addresses
		t.Errorf("empty Apply made %d changes, want 12:\n\t%s", len(changes), strings.Join(changes, "\n\t"))
	}
	if r := labRoutes(t, ns); len(r) != 0 {
		t.Errorf("own routes left: %q", r)
	}
	diffLines(t, labRules(t, ns), []string{"9500 from 192.0.2.0/24 table 200 proto "})
	for _, dev := range []string{"wan0", "lan0"} {
		_, _, addrs := labLink(t, ns, dev)
		for p, a := range addrs {
			if a.Scope != "link" {
				t.Errorf("%s keeps %s", dev, p)
			}
		}
	}
	if !strings.Contains(ip(t, "-n", ns, "addr", "show", "dev", "lo"), "192.0.2.200/32") {
		t.Error("foreign address on lo gone")
	}
	if got := ip(t, "-n", ns, "route", "show", "table", "all", "proto", "static"); got != foreignRoutes {
		t.Errorf("foreign routes changed:\n%s\nwas:\n%s", got, foreignRoutes)
	}
	if again := labApply(t, a, Desired{}); len(again) != 0 {
		t.Errorf("second empty Apply changed %q", again)
	}
}

func TestLabErrors(t *testing.T) {
	ns := labNamespaces(t)
	a := labApplier(t, ns)
	d := Desired{
		Links: []Link{{Name: "wan0", Up: true}},
		Sysctls: map[string]string{
			"net.ipv6.conf.wan9.accept_ra": "0", // no such link
			"net.ipv4.ip_forward":          "1",
		},
		Addresses: []Address{{Link: "wan0", Prefix: mustPrefix("192.0.2.2/24")}},
		Routes: []Route{
			// No route to the gateway: the kernel refuses it.
			{Dst: mustPrefix("2001:db8:2::/48"), Via: mustAddr("2001:db8:77::1"), Link: "wan0"},
			{Dst: mustPrefix("0.0.0.0/0"), Via: mustAddr("192.0.2.1"), Link: "wan0"},
		},
	}
	changes, err := a.Apply(context.Background(), d)
	if err == nil {
		t.Fatal("no error")
	}
	t.Logf("Apply error:\n%v", err)
	for _, want := range []string{
		"kernel: read sysctl net.ipv6.conf.wan9.accept_ra: ",
		"kernel: add route 2001:db8:2::/48 via 2001:db8:77::1 dev wan0 metric 1024: ",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	diffLines(t, changes, []string{
		"set sysctl net.ipv4.ip_forward = 1 (was 0)",
		"set link wan0 up",
		"add address 192.0.2.2/24 dev wan0",
		"add route 0.0.0.0/0 via 192.0.2.1 dev wan0 metric 0",
	})
}

func TestLabNoNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("lab test: needs root")
	}
	if _, err := New(Options{Netns: "/run/netns/cpekernel-does-not-exist"}); err == nil || !strings.Contains(err.Error(), "kernel: open netns") {
		t.Errorf("New with a missing netns: %v", err)
	}
}

// TestLabQuietKernel: the Applier hears the kernel's change notifications.
// Once the kernel matches, applying the same again reads nothing; a route,
// an address or a link changed by hand is heard at once (Heard is ready)
// and repaired by the next Apply, and the Apply after that is quiet again.
func TestLabQuietKernel(t *testing.T) {
	ns := labNamespaces(t)
	a := labApplier(t, ns)
	d := labDesired(time.Now(), "2001:db8:1::/56", "2001:db8:1:1::1/64")
	labApply(t, a, d)
	// Our own address and link changes were heard: one Apply
	// reads them back.
	labApply(t, a, d)
	for i := range 3 {
		if a.ops.Changed() {
			t.Fatalf("round %d: a kernel nobody touched reports a change", i)
		}
	}
	// Route changes of our own are no news (the mesh reroutes often).
	more := d
	more.Routes = append(slices.Clone(d.Routes), Route{Dst: mustPrefix("2001:db8:9::/48"), Via: mustAddr("2001:db8:ffff::1"), Link: "wan0"})
	for _, step := range []struct {
		name string
		d    Desired
	}{{"route added", more}, {"route deleted", d}} {
		if changes := labApply(t, a, step.d); len(changes) != 1 {
			t.Fatalf("%s: changes %q", step.name, changes)
		}
		if a.ops.Changed() {
			t.Errorf("%s by the Applier: taken for a change by someone else", step.name)
		}
	}
	for _, c := range []struct {
		name   string
		change []string
		want   string
	}{
		{"route deleted", []string{"-6", "route", "del", "2001:db8:2::/48"}, "add route 2001:db8:2::/48"},
		{"address deleted", []string{"addr", "del", "192.0.2.2/24", "dev", "wan0"}, "add address 192.0.2.2/24 dev wan0"},
		{"link down", []string{"link", "set", "lan0", "down"}, "set link lan0 up"},
	} {
		labApply(t, a, d) // quiet: nothing to read
		// What the last repair was heard saying, the listener may
		// still be passing on.
		time.Sleep(100 * time.Millisecond)
		drain(a.Heard())
		ip(t, append([]string{"-n", ns}, c.change...)...)
		select {
		case <-a.Heard():
		case <-time.After(5 * time.Second):
			t.Errorf("%s: not heard within 5 s", c.name)
		}
		changes := labApply(t, a, d)
		if !slices.ContainsFunc(changes, func(s string) bool { return strings.HasPrefix(s, c.want) }) {
			t.Errorf("%s: repaired with %q, want %q", c.name, changes, c.want)
		}
	}
}

// drain empties a signal channel.
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
