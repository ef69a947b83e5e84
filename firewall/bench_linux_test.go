package firewall

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// bigInput has 10,000 pinholes and 10,000 own prefixes.
func bigInput() Input {
	in := configs[0].in
	in.Own, in.Pinholes = nil, nil
	for i := range 10000 {
		p := netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i)}), 64)
		in.Own = append(in.Own, p)
		in.Pinholes = append(in.Pinholes, Pinhole{Prefix: netip.PrefixFrom(p.Addr().Next(), 128), Protocol: "tcp", Ports: []PortRange{{443, 443}}})
	}
	return in
}

// BenchmarkApply10k loads a ruleset with 2×10,000 set elements by netlink;
// BenchmarkNftFile10k loads the same text with nft -f, for comparison.
func BenchmarkApply10k(b *testing.B) {
	_, fd := newNetns(b)
	rs := Build(bigInput())
	b.ResetTimer()
	for b.Loop() {
		a := NewApplier(ApplierOptions{NetNS: fd}) // fresh: a full replace every time
		if _, err := a.Apply(context.Background(), rs); err != nil {
			b.Fatal(err)
		}
		a.Close()
	}
}

// dropOurTables is nft input that deletes our tables, there or not.
var dropOurTables = fmt.Sprintf("table inet %s\ndelete table inet %s\ntable ip %s\ndelete table ip %s\n",
	FilterTable, FilterTable, NATTable, NATTable)

func BenchmarkNftFile10k(b *testing.B) {
	ns, _ := newNetns(b)
	text := dropOurTables + Build(bigInput()).String()
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}

// BenchmarkSetOnly10k changes one prefix of a 10,000-element set in place;
// BenchmarkSetOnlyHome the same in the small ruleset of a home.
func BenchmarkSetOnly10k(b *testing.B)  { benchSetOnly(b, bigInput(), renumberOne) }
func BenchmarkSetOnlyHome(b *testing.B) { benchSetOnly(b, configs[0].in, renumberOne) }

// BenchmarkPinhole10k adds one pinhole next to 10,000 and takes it away
// again, one per iteration; BenchmarkPinholeHome the same in a home.
func BenchmarkPinhole10k(b *testing.B)  { benchSetOnly(b, bigInput(), addPinhole) }
func BenchmarkPinholeHome(b *testing.B) { benchSetOnly(b, configs[0].in, addPinhole) }

func renumberOne(in Input) Input {
	in.Own = append([]netip.Prefix{pfx("2001:db8:ffff::/64")}, in.Own[1:]...)
	return in
}

func addPinhole(in Input) Input {
	in.Pinholes = append(slices.Clone(in.Pinholes), Pinhole{Prefix: pfx("2001:db8:ffff::22/128"), Protocol: "tcp", Ports: []PortRange{{22, 22}}})
	return in
}

// benchSetOnly applies change(in) and in by turns.
func benchSetOnly(b *testing.B, in Input, change func(Input) Input) {
	_, fd := newNetns(b)
	a := newApplier(b, fd)
	if _, err := a.Apply(context.Background(), Build(in)); err != nil {
		b.Fatal(err)
	}
	rss := []Ruleset{Build(change(in)), Build(in)}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		ch, err := a.Apply(context.Background(), rss[i%2])
		if err != nil || len(ch.Replaced) != 0 || len(ch.Sets) == 0 {
			b.Fatal(ch, err)
		}
		i++
	}
}
