package firewall

import (
	"context"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

// configs are the representative inputs the golden files cover.
var configs = []struct {
	name string
	in   Input
}{
	{"home", Input{
		Uplinks:  []Uplink{{Interface: "wan0", IPv4: []netip.Addr{addr("198.51.100.2")}}},
		LANs:     []Segment{{Interface: "lan0", IPv6: []netip.Prefix{pfx("2001:db8:1:1::/64")}, IPv4: pfx("192.168.1.1/24"), NAT: true}},
		Own:      []netip.Prefix{pfx("2001:db8:1::/56")},
		Pinholes: []Pinhole{{Name: "web", Prefix: pfx("2001:db8:1:1::10/128"), Protocol: "tcp", Ports: []PortRange{{80, 80}, {443, 443}}}},
		LogDrops: true,
	}},
	{"multi", Input{
		Uplinks: []Uplink{{Interface: "wan0", IPv4: []netip.Addr{addr("198.51.100.2")}}, {Interface: "wan1", IPv4: []netip.Addr{addr("203.0.113.9")}}},
		LANs: []Segment{
			{Interface: "lan0", IPv6: []netip.Prefix{pfx("2001:db8:1:1::/64"), pfx("2001:db8:2:1::/64")}, IPv4: pfx("192.168.1.1/24"), NAT: true},
			{Interface: "lan1", IPv6: []netip.Prefix{pfx("2001:db8:1:2::/64")}, Mode: Open},
		},
		Downstream: []Delegation{{Interface: "lan0", Prefix: pfx("2001:db8:1:f0::/62")}},
		Mesh:       []string{"mesh0"},
		Own:        []netip.Prefix{pfx("2001:db8:1::/56"), pfx("2001:db8:2::/56")},
		Pinholes: []Pinhole{
			{Name: "games", Prefix: pfx("2001:db8:1:1::/64"), Protocol: "udp", Ports: []PortRange{{6000, 6010}}},
			{Name: "ping", Prefix: pfx("2001:db8:1:1::20/128"), Protocol: "icmpv6"},
			{Name: "all", Prefix: pfx("2001:db8:1:1::30/128")},
		},
		LogDrops: true,
	}},
	{"offload-nolog", Input{
		Uplinks:     []Uplink{{Interface: "wan0"}},
		LANs:        []Segment{{Interface: "br-lan.1", IPv4: pfx("10.0.0.1/24"), NAT: false, Mode: Open}},
		FlowOffload: true,
	}},
}

var counterRE = regexp.MustCompile(`packets \d+ bytes \d+`)

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update to accept):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// TestModelGolden pins String(), which `show firewall ruleset` prints.
func TestModelGolden(t *testing.T) {
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			golden(t, filepath.Join("testdata", c.name+".model.nft"), Build(c.in).String())
		})
	}
}

// TestKernelGolden applies each config in a fresh namespace and compares
// what nft lists with the golden text; it also checks that String() loaded
// by nft -f gives the same listing, so the renderer and the netlink encoder
// cannot drift apart.
func TestKernelGolden(t *testing.T) {
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			ns, fd := newNetns(t)
			rs := Build(c.in)
			a := newApplier(t, fd)
			ch, err := a.Apply(context.Background(), rs)
			if err != nil {
				t.Fatal(err)
			}
			if len(ch.Replaced) != 2 {
				t.Errorf("first apply: %v, want both tables created", ch)
			}
			if c.in.FlowOffload {
				flow := strings.Contains(listTables(t, ns), "flowtable")
				if flow == (ch.OffloadUnavailable != "") {
					t.Errorf("flowtable listed: %v, but offload unavailable reason %q", flow, ch.OffloadUnavailable)
				}
				if !flow {
					rs = withoutOffload(rs)
				}
			}
			got := listTables(t, ns)
			golden(t, filepath.Join("testdata", c.name+".nft"), got)

			ch, err = a.Apply(context.Background(), Build(c.in))
			if err != nil || !ch.Empty() {
				t.Errorf("second apply: %v, %v; want no change", ch, err)
			}
			if again := listTables(t, ns); again != got {
				t.Errorf("second apply changed the listing:\n%s", again)
			}

			ns2, _ := newNetns(t)
			inNetns(t, ns2, rs.String(), "nft", "-f", "-")
			if viaText := listTables(t, ns2); viaText != got {
				t.Errorf("nft -f of String() lists differently:\n--- netlink\n%s\n--- nft -f\n%s", got, viaText)
			}
		})
	}
}

// TestOtherTablesSurvive: tables the firewall does not own are never touched.
func TestOtherTablesSurvive(t *testing.T) {
	ns, fd := newNetns(t)
	inNetns(t, ns, "table inet other {\n chain c {\n  type filter hook input priority 10; policy accept;\n  tcp dport 22 counter accept\n }\n}\n", "nft", "-f", "-")
	before := inNetns(t, ns, "", "nft", "-a", "list", "table", "inet", "other")
	a := newApplier(t, fd)
	in := configs[0].in
	for i, rs := range []Ruleset{Build(in), Build(configs[1].in), Build(in)} {
		if _, err := a.Apply(context.Background(), rs); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	inNetns(t, ns, "add table ip other4\n", "nft", "-f", "-")
	if _, err := a.Apply(context.Background(), Build(configs[1].in)); err != nil {
		t.Fatal(err)
	}
	if after := inNetns(t, ns, "", "nft", "-a", "list", "table", "inet", "other"); after != before {
		t.Errorf("table inet other changed:\n--- before\n%s\n--- after\n%s", before, after)
	}
	inNetns(t, ns, "", "nft", "list", "table", "ip", "other4") // fails the test if gone
}

var handleRE = regexp.MustCompile(`# handle (\d+)`)

// ruleLines lists our tables with handles and keeps the rule lines only.
func ruleLines(t *testing.T, ns string) []string {
	out := inNetns(t, ns, "", "nft", "-a", "--numeric", "list", "table", "inet", FilterTable) +
		inNetns(t, ns, "", "nft", "-a", "--numeric", "list", "table", "ip", NATTable)
	var rules []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "table") || strings.HasPrefix(l, "chain") || strings.HasPrefix(l, "set") ||
			strings.HasPrefix(l, "counter ") && !strings.Contains(l, "goto") && !strings.Contains(l, "accept") && !strings.Contains(l, "masquerade") {
			continue
		}
		if handleRE.MatchString(l) && !strings.HasPrefix(l, "type ") {
			rules = append(rules, counterRE.ReplaceAllString(l, ""))
		}
	}
	return rules
}

// TestSetOnlyChange: renumbering and a new pinhole rewrite set elements and
// leave every rule, with its handle, in place.
func TestSetOnlyChange(t *testing.T) {
	ns, fd := newNetns(t)
	a := newApplier(t, fd)
	in := configs[0].in
	if _, err := a.Apply(context.Background(), Build(in)); err != nil {
		t.Fatal(err)
	}
	before := ruleLines(t, ns)
	if len(before) < 20 {
		t.Fatalf("only %d rules listed: %q", len(before), before)
	}

	in.LANs = []Segment{{Interface: "lan0", IPv6: []netip.Prefix{pfx("2001:db8:9:1::/64")}, IPv4: pfx("192.168.1.1/24"), NAT: true}}
	in.Own = []netip.Prefix{pfx("2001:db8:9::/56")}
	in.Pinholes = append(slices.Clone(in.Pinholes), Pinhole{Name: "ssh", Prefix: pfx("2001:db8:9:1::22/128"), Protocol: "tcp", Ports: []PortRange{{22, 22}}})
	ch, err := a.Apply(context.Background(), Build(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Replaced) != 0 {
		t.Errorf("tables replaced for a set-only change: %v", ch)
	}
	var names []string
	for _, s := range ch.Sets {
		names = append(names, s.Set)
	}
	if want := []string{"own_v6", "pinholes", "lan_lan0_v6"}; !slices.Equal(names, want) {
		t.Errorf("sets changed = %v, want %v (%v)", names, want, ch)
	}
	if after := ruleLines(t, ns); !slices.Equal(before, after) {
		t.Errorf("rules changed:\n--- before\n%s\n--- after\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	list := listTables(t, ns)
	for _, want := range []string{"2001:db8:9::/56", "2001:db8:9:1::22 . 6 . 22", "2001:db8:9:1::/64"} {
		if !strings.Contains(list, want) {
			t.Errorf("listing lacks %q", want)
		}
	}
	if strings.Contains(list, "2001:db8:1::/56") {
		t.Error("old prefix still listed")
	}
	if ch, err := a.Apply(context.Background(), Build(in)); err != nil || !ch.Empty() {
		t.Errorf("re-apply: %v, %v; want no change", ch, err)
	}

	// Someone deleting one of our rules is noticed and repaired.
	inNetns(t, ns, "", "nft", "flush", "chain", "inet", FilterTable, "output")
	ch, err = a.Apply(context.Background(), Build(in))
	if err != nil || len(ch.Replaced) != 2 {
		t.Errorf("after tampering: %v, %v; want tables replaced", ch, err)
	}
}

// TestHandEditedSetRepaired: once anyone else commits to nftables, the
// Applier no longer trusts its memory of the sets: an element added by hand
// to one of our sets is gone after the next Apply, and a change made while
// nobody else committed is patched in place.
func TestHandEditedSetRepaired(t *testing.T) {
	ns, fd := newNetns(t)
	a := newApplier(t, fd)
	in := configs[0].in
	if _, err := a.Apply(context.Background(), Build(in)); err != nil {
		t.Fatal(err)
	}
	if !a.genOK {
		t.Fatal("the generation after our own commit is not known")
	}

	in.Own = []netip.Prefix{pfx("2001:db8:9::/56")}
	if _, err := a.Apply(context.Background(), Build(in)); err != nil {
		t.Fatal(err)
	}
	if a.patched != 1 {
		t.Errorf("a change with nobody else committing took the slow path (patched %d)", a.patched)
	}

	inNetns(t, ns, "", "nft", "add", "element", "inet", FilterTable, "own_v6", "{ 2001:db8:77::/48 }")
	in.Own = []netip.Prefix{pfx("2001:db8:9::/56"), pfx("2001:db8:a::/56")}
	ch, err := a.Apply(context.Background(), Build(in))
	if err != nil {
		t.Fatal(err)
	}
	if a.patched != 1 {
		t.Errorf("patched after a foreign commit (patched %d)", a.patched)
	}
	list := listTables(t, ns)
	if strings.Contains(list, "2001:db8:77::/48") {
		t.Errorf("hand-added element survived: %v\n%s", ch, list)
	}
	for _, want := range []string{"2001:db8:9::/56", "2001:db8:a::/56"} {
		if !strings.Contains(list, want) {
			t.Errorf("listing lacks %s:\n%s", want, list)
		}
	}
	// Adjacent, then containing prefixes patched in: the kernel keeps
	// exactly the normalised elements.
	for _, own := range [][]netip.Prefix{
		{pfx("2001:db8:9::/56"), pfx("2001:db8:9:100::/56")},
		{pfx("2001:db8:8::/46")},
		{pfx("2001:db8:9:100::/56")},
	} {
		in.Own = own
		if _, err := a.Apply(context.Background(), Build(in)); err != nil {
			t.Fatalf("%v: %v", own, err)
		}
		got := listTables(t, ns)
		fresh, freshFD := newNetns(t)
		if _, err := newApplier(t, freshFD).Apply(context.Background(), Build(in)); err != nil {
			t.Fatal(err)
		}
		if want := listTables(t, fresh); counterRE.ReplaceAllString(got, "") != counterRE.ReplaceAllString(want, "") {
			t.Errorf("own %v: patched kernel lists differently from a fresh load:\n--- patched\n%s\n--- fresh\n%s", own, got, want)
		}
	}
}
