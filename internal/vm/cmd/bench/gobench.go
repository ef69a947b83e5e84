package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A comparison is one row of docs/benchmarks.md: our benchmark against a
// peer's, run side by side in the same Go benchmark binary and set-up.
type comparison struct {
	What   string
	Ours   string // benchmark name without the -N suffix
	Peer   string // "" for an absolute goal
	Metric string // "ns/op" or a custom metric the benchmark reports
	Higher bool   // higher is better (throughput); else lower (time)
	Goal   string // "≤ 1.0", "≥ 0.95", "≤ 1 ms"
	// Limit checks an absolute goal on our value (in the metric's unit);
	// nil for ratio goals.
	Limit func(v float64) bool
}

// suite is a package's benchmarks to run and the rows they feed.
type suite struct {
	Title     string
	Pkg       string
	Bench     string // -bench regexp
	BenchTime string
	Note      string
	Rows      []comparison
	// Run replaces `go test` on this machine (the benchmarks that need the
	// image's kernel run inside the VM).
	Run func(suite) (map[string]map[string]float64, map[string]string, error)
}

var suites = []suite{
	{
		Title: "Firewall apply", Pkg: "./firewall/", Bench: "^Benchmark(Apply10k|NftFile10k)$", BenchTime: "10x",
		Note: "Ruleset with 10,000 own prefixes and 10,000 pinholes (30,000 kernel set elements) in a fresh network namespace; the peer is `nft -f` loading the same ruleset text.",
		Rows: []comparison{
			{What: "full apply", Ours: "BenchmarkApply10k", Peer: "BenchmarkNftFile10k", Metric: "ns/op", Goal: "≤ 1.0"},
		},
	},
	{
		Title: "Firewall changes", Pkg: "./firewall/", Bench: "^Benchmark(SetOnly10k|SetOnlyHome|Pinhole10k|PinholeHome)$", BenchTime: "200x",
		Note: "One prefix renumbered, or one pinhole added and taken away again, in the same 10,000-prefix ruleset and in a home-sized one; 200 changes each.",
		Rows: []comparison{
			{What: "one prefix changed, 10,000-element sets", Ours: "BenchmarkSetOnly10k", Metric: "ns/op", Goal: "≤ 1 ms", Limit: func(v float64) bool { return v <= 1e6 }},
			{What: "one prefix changed, home ruleset", Ours: "BenchmarkSetOnlyHome", Metric: "ns/op", Goal: "≤ 1 ms", Limit: func(v float64) bool { return v <= 1e6 }},
			{What: "one pinhole added or removed, 10,000-element sets", Ours: "BenchmarkPinhole10k", Metric: "ns/op", Goal: "≤ 1 ms", Limit: func(v float64) bool { return v <= 1e6 }},
			{What: "one pinhole added or removed, home ruleset", Ours: "BenchmarkPinholeHome", Metric: "ns/op", Goal: "≤ 1 ms", Limit: func(v float64) bool { return v <= 1e6 }},
		},
	},
	{
		Title: "Forwarding through the firewall", Pkg: "./firewall/", Bench: "^BenchmarkForward$", BenchTime: "3x",
		Note: "iperf3 TCP, 3 s per run, client and server namespaces on either side of a router namespace over veth pairs; the peer is the same path with no ruleset loaded. " +
			"The modes (none, ruleset, offload, conntrack) take turns in one lab for five rounds, so that a slow spell of the machine falls on all of them; each figure is the median of its five runs. " +
			"The reference rows load connection tracking alone (`ct state established,related accept`, and the masquerade rule for IPv4): what any stateful firewall costs before its first rule.",
		Rows: []comparison{
			{What: "IPv4 (NAT44, stateful)", Ours: "BenchmarkForward/IPv4/ruleset", Peer: "BenchmarkForward/IPv4/none", Metric: "Mbit/s", Higher: true, Goal: "≥ 0.95"},
			{What: "IPv6 (stateful)", Ours: "BenchmarkForward/IPv6/ruleset", Peer: "BenchmarkForward/IPv6/none", Metric: "Mbit/s", Higher: true, Goal: "≥ 0.95"},
			{What: "IPv4 with flow offload", Ours: "BenchmarkForward/IPv4/offload", Peer: "BenchmarkForward/IPv4/none", Metric: "Mbit/s", Higher: true, Goal: "≥ 1.0"},
			{What: "IPv6 with flow offload", Ours: "BenchmarkForward/IPv6/offload", Peer: "BenchmarkForward/IPv6/none", Metric: "Mbit/s", Higher: true, Goal: "≥ 1.0"},
			{What: "IPv4, conntrack and NAT44 alone", Ours: "BenchmarkForward/IPv4/conntrack", Peer: "BenchmarkForward/IPv4/none", Metric: "Mbit/s", Higher: true, Goal: "reference"},
			{What: "IPv6, conntrack alone", Ours: "BenchmarkForward/IPv6/conntrack", Peer: "BenchmarkForward/IPv6/none", Metric: "Mbit/s", Higher: true, Goal: "reference"},
		},
	},
}

func init() {
	suites = append(suites, suite{
		Title: "DHCPv4 server", Pkg: "./lan/dhcp4/", Bench: "^BenchmarkPerfdhcp$", BenchTime: "3x",
		Note: "perfdhcp -4 over a veth pair, 20,000 clients offered at 20,000 exchanges/s for 5 s per run (far above what any of the servers answers; perfdhcp counts what completes); the same /16 pool for `cpe run` (one LAN segment, leases saved in its state directory), kea-dhcp4 (memfile) and dnsmasq (--no-ping). The first run hands out new leases, the later ones re-serve the same clients.",
		Rows: []comparison{
			{What: "4-way exchanges per second vs kea-dhcp4", Ours: "BenchmarkPerfdhcp/cpe", Peer: "BenchmarkPerfdhcp/kea", Metric: "exchanges/s", Higher: true, Goal: "≥ 1.0"},
			{What: "4-way exchanges per second vs dnsmasq", Ours: "BenchmarkPerfdhcp/cpe", Peer: "BenchmarkPerfdhcp/dnsmasq", Metric: "exchanges/s", Higher: true, Goal: "≥ 1.0"},
			{What: "mean REQUEST→ACK delay vs kea-dhcp4", Ours: "BenchmarkPerfdhcp/cpe", Peer: "BenchmarkPerfdhcp/kea", Metric: "ms-RA", Goal: "≤ 1.0"},
		},
	})
}

func init() {
	suites = append(suites,
		suite{
			Title: "DHCPv6 server", Pkg: "./lan/dhcp6/", Bench: "^BenchmarkPerfdhcp$", BenchTime: "1x",
			Note: "perfdhcp -6 over a veth pair, 10,000 clients offered at 30,000 exchanges/s for 5 s (far above what either server answers); the cpe server engine and driver in-process against kea-dhcp6 (memfile), the same pool sizes.",
			Rows: []comparison{
				{What: "IA_NA exchanges per second vs kea-dhcp6", Ours: "BenchmarkPerfdhcp/cpe/address-only", Peer: "BenchmarkPerfdhcp/kea/address-only", Metric: "exchanges/s", Higher: true, Goal: "≥ 1.0"},
				{What: "IA_PD exchanges per second vs kea-dhcp6", Ours: "BenchmarkPerfdhcp/cpe/prefix-only", Peer: "BenchmarkPerfdhcp/kea/prefix-only", Metric: "exchanges/s", Higher: true, Goal: "≥ 1.0"},
			},
		},
		suite{
			Title: "Memory with DHCP bindings", Pkg: "./lan/", Bench: "^BenchmarkMemoryBindings$", BenchTime: "1x",
			Note: "RSS of `cpe run` (the whole daemon, one LAN segment) after perfdhcp made 1,000 DHCPv4 leases and 1,000 DHCPv6 IA_NA bindings.",
			Rows: []comparison{
				{What: "RSS with 1,000 + 1,000 bindings", Ours: "BenchmarkMemoryBindings", Metric: "KiB-RSS", Goal: "recorded", Limit: func(float64) bool { return true }},
				{What: "RSS added by the bindings", Ours: "BenchmarkMemoryBindings", Metric: "KiB-added", Goal: "recorded", Limit: func(float64) bool { return true }},
			},
		},
	)
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// runSuite runs one suite's benchmarks and returns name → metric → value,
// and the names that were skipped with their reasons.
func runSuite(s suite) (map[string]map[string]float64, map[string]string, error) {
	if s.Run != nil {
		return s.Run(s)
	}
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", s.Bench, "-benchtime", s.BenchTime, "-v", s.Pkg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	res, skipped := parseBench(&out)
	if err != nil {
		return res, skipped, fmt.Errorf("%s: %v\n%s", s.Pkg, err, out.String())
	}
	return res, skipped, nil
}

// parseBench reads `go test -bench -v` output.
func parseBench(out io.Reader) (map[string]map[string]float64, map[string]string) {
	res := map[string]map[string]float64{}
	skipped := map[string]string{}
	// A benchmark's log lines (the reason of a skip) come before its
	// "--- SKIP" line.
	var lastLog string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if m := benchLine.FindStringSubmatch(line); m != nil {
			fields := strings.Fields(m[2])
			vals := map[string]float64{}
			for i := 0; i+1 < len(fields); i += 2 {
				if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
					vals[fields[i+1]] = v
				}
			}
			res[m[1]] = vals
			continue
		}
		trimmed := strings.TrimSpace(line)
		if name, ok := strings.CutPrefix(trimmed, "--- SKIP: "); ok {
			skipped[name] = lastLog
			continue
		}
		if _, msg, ok := strings.Cut(trimmed, ": "); ok && strings.Contains(trimmed, "_test.go:") {
			lastLog = msg
		}
	}
	return res, skipped
}

// formatValue renders a value in its metric's unit.
func formatValue(v float64, metric string) string {
	if metric == "ns/op" {
		return time.Duration(v).Round(10 * time.Microsecond).String()
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " " + metric
}

// goBenchSection runs every suite and renders the results as Markdown.
func goBenchSection(logf func(string, ...any)) string {
	var b strings.Builder
	for _, s := range suites {
		logf("running %s (%s %s)", s.Title, s.Pkg, s.Bench)
		res, skipped, err := runSuite(s)
		fmt.Fprintf(&b, "\n### %s\n\n%s\n\n", s.Title, s.Note)
		if err != nil {
			logf("%v", err)
			fmt.Fprintf(&b, "**The benchmarks failed**: `%s`\n", strings.SplitN(err.Error(), "\n", 2)[0])
			continue
		}
		b.WriteString("| what | cpe | peer | ratio | goal | met |\n| --- | --- | --- | --- | --- | --- |\n")
		for _, r := range s.Rows {
			ours, ok := res[r.Ours][r.Metric]
			if !ok {
				why := skipped[r.Ours]
				if why == "" {
					why = "no result"
				}
				fmt.Fprintf(&b, "| %s | skipped: %s | | | %s | n/a |\n", r.What, why, r.Goal)
				continue
			}
			if r.Peer == "" {
				met := "no"
				if r.Limit(ours) {
					met = "yes"
				}
				fmt.Fprintf(&b, "| %s | %s | — | — | %s | %s |\n", r.What, formatValue(ours, r.Metric), r.Goal, met)
				continue
			}
			peer, ok := res[r.Peer][r.Metric]
			if !ok || peer == 0 {
				fmt.Fprintf(&b, "| %s | %s | no result | | %s | n/a |\n", r.What, formatValue(ours, r.Metric), r.Goal)
				continue
			}
			ratio := ours / peer
			goal, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimLeft(r.Goal, "≤≥ ")), 64)
			met := "no"
			switch {
			case err != nil:
				met = "—" // a reference row, with no goal of its own
			case (r.Higher && ratio >= goal) || (!r.Higher && ratio <= goal):
				met = "yes"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %.2f | %s | %s |\n", r.What, formatValue(ours, r.Metric), formatValue(peer, r.Metric), ratio, r.Goal, met)
		}
	}
	return b.String()
}

// replaceSection puts section between the markers in the file's text, or
// appends it.
func replaceSection(text, begin, end, section string) string {
	if i, j := strings.Index(text, begin), strings.Index(text, end); i >= 0 && j > i {
		return text[:i] + strings.TrimSuffix(section, "\n") + text[j+len(end):]
	}
	if text == "" {
		text = "# Benchmarks\n"
	}
	return strings.TrimRight(text, "\n") + "\n\n" + section
}
