package firewall

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// TestApplierSockets: the Applier keeps its sockets from one Apply to the
// next, starts afresh after the kernel refused a change, and lets go of
// them on Close.
func TestApplierSockets(t *testing.T) {
	ns, fd := newNetns(t)
	ctx := context.Background()
	a := NewApplier(ApplierOptions{NetNS: fd})
	t.Cleanup(func() { a.Close() })
	in := configs[0].in
	if _, err := a.Apply(ctx, Build(in)); err != nil {
		t.Fatal(err)
	}
	open := openFDs(t)
	for i := range 20 {
		in.Own = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x10, byte(i)}), 56)}
		if _, err := a.Apply(ctx, Build(in)); err != nil {
			t.Fatal(err)
		}
	}
	if a.patched != 20 {
		t.Errorf("%d of 20 prefix changes patched in place", a.patched)
	}
	if n := openFDs(t); n != open {
		t.Errorf("%d files open after 20 applies, %d after the first", n, open)
	}

	// An element the kernel refuses (an IPv4 prefix in an IPv6 set) fails
	// the whole transaction, also when a later message in it is fine;
	// the next Apply works on fresh sockets, finds the kernel as it was,
	// and the one after patches again.
	for i, more := range []bool{false, true} {
		if !a.genOK {
			t.Fatal("generation not known before the refused change")
		}
		bad := in
		if more {
			bad.Pinholes = append(slices.Clone(in.Pinholes), Pinhole{Prefix: pfx("2001:db8:1:1::99/128"), Protocol: "udp", Ports: []PortRange{{53, 53}}})
		}
		rs := Build(bad)
		own, _ := rs.Tables[0].Set("own_v6")
		own.Elements = []Element{{Prefix: pfx("10.0.0.0/8")}}
		if _, err := a.Apply(ctx, rs); err == nil {
			t.Fatal("an IPv4 prefix in own_v6 was accepted")
		}
		if a.nft != nil || a.nl != nil {
			t.Error("sockets kept after a failed transaction")
		}
		if list := listTables(t, ns); strings.Contains(list, "2001:db8:1:1::99") {
			t.Errorf("part of a refused transaction was committed:\n%s", list)
		}

		want := netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x77, byte(i)}), 48)
		in.Own = []netip.Prefix{want}
		ch, err := a.Apply(ctx, Build(in))
		if err != nil {
			t.Fatalf("apply after a refused one: %v", err)
		}
		if len(ch.Replaced) != 0 || len(ch.Sets) != 1 || ch.Sets[0].Set != "own_v6" {
			t.Errorf("apply after a refused one: %v, want own_v6 rewritten in place", ch)
		}
		if list := listTables(t, ns); !strings.Contains(list, want.String()) || strings.Contains(list, "10.0.0.0/8") {
			t.Errorf("own_v6 after recovery:\n%s", list)
		}
		patched := a.patched
		in.Own = []netip.Prefix{pfx("2001:db8:78::/48")}
		if _, err := a.Apply(ctx, Build(in)); err != nil || a.patched != patched+1 {
			t.Errorf("the change after recovery was not patched in place (%v)", err)
		}
	}

	a.Close()
	if n := openFDs(t); n != open-2 {
		t.Errorf("%d files open after Close, want %d", n, open-2)
	}
	if _, err := a.Apply(ctx, Build(in)); !errors.Is(err, errClosed) {
		t.Errorf("Apply after Close: %v", err)
	}
	if _, _, err := a.Stats(); !errors.Is(err, errClosed) {
		t.Errorf("Stats after Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestPinholeTraffic sends TCP SYNs from the uplink side to a LAN host and
// sees which arrive, as pinholes to one port (hash set) and to a port
// range (interval set) come and go by patching the sets.
func TestPinholeTraffic(t *testing.T) {
	client, _, server, fd := newForwardLab(t)
	ctx := context.Background()
	a := newApplier(t, fd)
	in := Input{
		Uplinks: []Uplink{{Interface: "wan0", IPv4: []netip.Addr{addr("198.51.100.2")}}},
		LANs:    []Segment{{Interface: "lan0", IPv6: []netip.Prefix{pfx("2001:db8:1:1::/64")}, IPv4: pfx("192.168.1.1/24"), NAT: true}},
		Own:     []netip.Prefix{pfx("2001:db8:1::/48")},
	}
	if _, err := a.Apply(ctx, Build(in)); err != nil {
		t.Fatal(err)
	}
	ports := []int{2222, 2223, 3005}
	inNetns(t, client, "", "nft", "add", "table", "inet", "probe")
	inNetns(t, client, "", "nft", "add", "chain", "inet", "probe", "in", "{ type filter hook input priority -300; }")
	for _, p := range ports {
		inNetns(t, client, "", "nft", "add", "rule", "inet", "probe", "in", "tcp", "dport", strconv.Itoa(p), "tcp", "flags", "syn", "counter")
	}
	counterRE := regexp.MustCompile(`tcp dport (\d+) .*counter packets (\d+)`)
	arrived := func() map[int]int {
		out := map[int]int{}
		for _, m := range counterRE.FindAllStringSubmatch(inNetns(t, client, "", "nft", "list", "chain", "inet", "probe", "in"), -1) {
			p, _ := strconv.Atoi(m[1])
			out[p], _ = strconv.Atoi(m[2])
		}
		return out
	}
	// expect sends one SYN to each port and checks which got through.
	expect := func(step string, open ...int) {
		t.Helper()
		before := arrived()
		for _, p := range ports {
			// Without a listener the host answers a SYN that got through
			// with a reset; a dropped one times out.
			inNetns(t, server, "", "bash", "-c", "timeout 0.5 bash -c 'echo > /dev/tcp/2001:db8:1:1::10/"+strconv.Itoa(p)+"' 2>/dev/null; true")
		}
		after := arrived()
		for _, p := range ports {
			if got, want := after[p] > before[p], slices.Contains(open, p); got != want {
				t.Errorf("%s: SYN to port %d arrived %v, want %v", step, p, got, want)
			}
		}
	}
	expect("no pinholes")

	patched := a.patched
	in.Pinholes = []Pinhole{
		{Name: "ssh", Prefix: pfx("2001:db8:1:1::10/128"), Protocol: "tcp", Ports: []PortRange{{2222, 2222}}},
		{Name: "range", Prefix: pfx("2001:db8:1:1::10/128"), Protocol: "tcp", Ports: []PortRange{{3000, 3010}}},
	}
	ch, err := a.Apply(ctx, Build(in))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range ch.Sets {
		names = append(names, s.Set)
	}
	if !slices.Equal(names, []string{"pinholes", "pinhole_ranges"}) || a.patched != patched+1 {
		t.Errorf("adding pinholes: %v (patched %d → %d), want both pinhole sets patched", ch, patched, a.patched)
	}
	expect("pinholes 2222 and 3000-3010", 2222, 3005)

	in.Pinholes = in.Pinholes[1:]
	if _, err := a.Apply(ctx, Build(in)); err != nil {
		t.Fatal(err)
	}
	expect("pinhole 2222 removed", 3005)
}
