package firewall

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// BenchmarkForward measures TCP throughput with iperf3 through a router
// namespace: with no ruleset, with the full ruleset (stateful LAN, NAT44
// for IPv4), with the ruleset plus flow offload, and, for reference, with
// connection tracking alone: what any stateful firewall costs before its
// first rule.
//
// The three take turns in one lab, round after round, so that a slow
// spell of the machine falls on all of them alike: measured one after
// the other, the ratios of two runs of the benchmark differed by more
// than the ruleset costs. Each mode's sub-benchmark then reports the
// median of its runs as Mbit/s.
func BenchmarkForward(b *testing.B) {
	if _, err := exec.LookPath("iperf3"); err != nil {
		b.Skip("iperf3 not installed")
	}
	for _, fam := range []string{"IPv4", "IPv6"} {
		b.Run(fam, func(b *testing.B) {
			runs, skipped := forwardRounds(b, fam == "IPv6")
			for _, mode := range forwardModes {
				if len(runs[mode]) > 0 {
					b.Logf("%s: %.0f Mbit/s", mode, runs[mode])
				}
			}
			for _, mode := range forwardModes {
				b.Run(mode, func(b *testing.B) {
					if skipped[mode] != "" {
						b.Skip(skipped[mode])
					}
					for b.Loop() {
					}
					b.ReportMetric(median(runs[mode]), "Mbit/s")
				})
			}
		})
	}
}

var forwardModes = []string{"none", "ruleset", "offload", "conntrack"}

// forwardInput is the router's configuration in the forwarding lab.
var forwardInput = Input{
	Uplinks:  []Uplink{{Interface: "wan0", IPv4: []netip.Addr{addr("198.51.100.2")}}},
	LANs:     []Segment{{Interface: "lan0", IPv6: []netip.Prefix{pfx("2001:db8:1:1::/64")}, IPv4: pfx("192.168.1.1/24"), NAT: true}},
	Own:      []netip.Prefix{pfx("2001:db8:1::/48")},
	LogDrops: true,
}

// conntrackOnly is our tables with nothing in them but what makes the
// kernel track connections, and for IPv4 the masquerading NAT44 needs,
// for forwardInput's uplink and LAN.
var conntrackOnly = fmt.Sprintf(`table inet %s {
	chain forward {
		type filter hook forward priority 0; policy accept;
		ct state established,related accept
	}
}
table ip %s {
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		oifname %q ip saddr %s masquerade
	}
}
`, FilterTable, NATTable, forwardInput.Uplinks[0].Interface, forwardInput.LANs[0].IPv4.Masked())

// forwardRuns is how many runs of 3 s each mode gets.
const forwardRuns = 5

// forwardRounds measures every mode forwardRuns times, in turns, and
// says why a mode the kernel cannot do was skipped.
func forwardRounds(b *testing.B, v6 bool) (runs map[string][]float64, skipped map[string]string) {
	client, router, server, fd := newForwardLab(b)
	srv := exec.Command("ip", "netns", "exec", server, "iperf3", "-s")
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		srv.Process.Kill()
		srv.Wait()
	})
	dst := "198.51.100.1"
	if v6 {
		dst = "2001:db8:a0::1"
	}
	runs, skipped = map[string][]float64{}, map[string]string{}
	for range forwardRuns {
		for _, mode := range forwardModes {
			if skipped[mode] != "" {
				continue
			}
			if why := forwardMode(b, router, fd, mode); why != "" {
				skipped[mode] = why
				continue
			}
			runs[mode] = append(runs[mode], iperf(b, client, dst))
		}
	}
	return runs, skipped
}

// forwardMode loads what mode asks for in the router namespace: nothing
// (our tables deleted), the ruleset, the ruleset with flow offload, or
// connection tracking alone. It returns why the kernel cannot do the mode.
func forwardMode(b *testing.B, router string, fd int, mode string) string {
	switch mode {
	case "none":
		inNetns(b, router, dropOurTables, "nft", "-f", "-")
		return ""
	case "conntrack":
		inNetns(b, router, dropOurTables+conntrackOnly, "nft", "-f", "-")
		return ""
	}
	in := forwardInput
	in.FlowOffload = mode == "offload"
	ch, err := newApplier(b, fd).Apply(context.Background(), Build(in))
	if err != nil {
		b.Fatal(err)
	}
	if mode == "offload" && ch.OffloadUnavailable != "" {
		return "flow offload unavailable: " + ch.OffloadUnavailable
	}
	return ""
}

// iperf runs one 3 s iperf3 test from client to dst and returns the
// throughput received, in Mbit/s.
func iperf(b *testing.B, client, dst string) float64 {
	var out []byte
	var err error
	for try := 0; try < 20; try++ { // the server takes a moment to listen
		out, err = exec.Command("ip", "netns", "exec", client, "iperf3", "-c", dst, "-t", "3", "-J").Output()
		if err == nil && !bytes.Contains(out, []byte(`"error"`)) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		b.Fatalf("iperf3: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte(`"error"`)) {
		b.Fatalf("iperf3:\n%s", out)
	}
	var res struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		b.Fatalf("iperf3 output: %v", err)
	}
	return res.End.SumReceived.BitsPerSecond / 1e6
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// newForwardLab makes a router namespace between a client on its LAN
// (lan0: 192.168.1.0/24, 2001:db8:1:1::/64, the client is ::10) and a
// server on its uplink (wan0: 198.51.100.0/24, 2001:db8:a0::/64, the
// server is ::1), forwarding on and no ruleset loaded. fd is the router's.
func newForwardLab(b testing.TB) (client, router, server string, fd int) {
	client, _ = newNetns(b)
	router, fd = newNetns(b)
	server, _ = newNetns(b)
	link := func(a, an, c, cn string) {
		run(b, "ip", "link", "add", an, "netns", a, "type", "veth", "peer", "name", cn, "netns", c)
		inNetns(b, a, "", "ip", "link", "set", an, "up")
		inNetns(b, c, "", "ip", "link", "set", cn, "up")
	}
	link(client, "eth0", router, "lan0")
	link(router, "wan0", server, "eth0")
	for _, ns := range []string{client, router, server} {
		inNetns(b, ns, "", "ip", "link", "set", "lo", "up")
	}
	inNetns(b, router, "", "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	for _, c := range [][]string{
		{client, "addr", "add", "192.168.1.10/24", "dev", "eth0"},
		{client, "route", "add", "default", "via", "192.168.1.1"},
		{client, "-6", "addr", "add", "2001:db8:1:1::10/64", "dev", "eth0", "nodad"},
		{client, "-6", "route", "add", "default", "via", "2001:db8:1:1::1"},
		{router, "addr", "add", "192.168.1.1/24", "dev", "lan0"},
		{router, "-6", "addr", "add", "2001:db8:1:1::1/64", "dev", "lan0", "nodad"},
		{router, "addr", "add", "198.51.100.2/24", "dev", "wan0"},
		{router, "-6", "addr", "add", "2001:db8:a0::2/64", "dev", "wan0", "nodad"},
		{server, "addr", "add", "198.51.100.1/24", "dev", "eth0"},
		{server, "-6", "addr", "add", "2001:db8:a0::1/64", "dev", "eth0", "nodad"},
		{server, "-6", "route", "add", "2001:db8:1::/48", "via", "2001:db8:a0::2"},
		// Without the ruleset there is no NAT44: the server routes the LAN.
		{server, "route", "add", "192.168.1.0/24", "via", "198.51.100.2"},
	} {
		inNetns(b, c[0], "", append([]string{"ip"}, c[1:]...)...)
	}
	return client, router, server, fd
}

func run(b testing.TB, args ...string) {
	b.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		b.Fatalf("%v: %v: %s", args, err, out)
	}
}
