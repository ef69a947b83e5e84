//go:build linux

package dhcp6

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"cpe/internal/lab"
	"cpe/lan/prefix"
)

// perfdhcpRate is the exchange rate offered: above what either server
// sustains on the lab machines, so the figure is each server's ceiling.
const perfdhcpRate = "30000"

// BenchmarkPerfdhcp runs perfdhcp -6 (10,000 clients, 5 s, Solicit,
// Advertise, Request, Reply) against this server (the Driver on a real
// socket, in-process) and against kea-dhcp6, each alone in the same pair
// of namespaces with the same pool sizes, for IA_NA and for IA_PD. It
// reports the exchanges per second completed, the share of exchanges
// dropped and the mean Request–Reply delay. Run it with -benchtime 1x.
func BenchmarkPerfdhcp(b *testing.B) {
	lab.RequireRoot(b)
	lab.RequireCommands(b, "perfdhcp", "kea-dhcp6")
	for _, mode := range []string{"address-only", "prefix-only"} {
		for _, server := range []string{"cpe", "kea"} {
			b.Run(server+"/"+mode, func(b *testing.B) {
				l := lab.New(b)
				srv, cli := l.Netns("srv"), l.Netns("cli")
				l.Veth(srv, "srv0", cli, "cli0")
				srv.WaitLinkLocal("srv0")
				cli.WaitLinkLocal("cli0")
				if server == "cpe" {
					startServer(b, srv)
				} else {
					startKea(b, srv)
				}
				waitServer(b, cli, mode)
				for b.Loop() {
					out, _ := cli.Exec("perfdhcp", "-6", "-l", "cli0", "-r", perfdhcpRate, "-R", "10000", "-p", "5", "-e", mode)
					rate, drops, delay := parsePerfdhcp(b, out)
					b.ReportMetric(rate, "exchanges/s")
					b.ReportMetric(drops, "%dropped")
					b.ReportMetric(delay, "ms/reply")
				}
			})
		}
	}
}

// startServer runs the Driver in srv on srv0 with a /48 delegated and /64
// prefixes for clients: 65,535 of each, as kea gets.
func startServer(b *testing.B, srv *lab.Netns) {
	now := time.Now()
	p := newPlannerAt(b, now, prefix.Delegation{Uplink: "wan0", Prefix: netip.MustParsePrefix("2001:db8:100::/48"),
		Preferred: now.Add(24 * time.Hour), Valid: now.Add(48 * time.Hour), Up: true})
	p.in.PDLength = 64
	p.replan(now)
	c := p.config()
	c.Interface = "srv0"
	s := newServer(b, c)
	var conn Conn
	if err := srv.Do(func() (err error) { conn, err = NewConn("srv0"); return err }); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewDriver(s, Options{Conn: conn}).Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
	})
}

func startKea(b *testing.B, srv *lab.Netns) {
	dir := b.TempDir()
	cfg := map[string]any{"Dhcp6": map[string]any{
		"interfaces-config":  map[string]any{"interfaces": []string{"srv0"}},
		"server-id":          map[string]any{"type": "LL", "persist": false},
		"lease-database":     map[string]any{"type": "memfile", "persist": false},
		"preferred-lifetime": 2700, "valid-lifetime": 5400, "renew-timer": 1350, "rebind-timer": 2160,
		"subnet6": []any{map[string]any{
			"id": 1, "subnet": "2001:db8:1::/64", "interface": "srv0",
			"pools":       []any{map[string]any{"pool": "2001:db8:1::1:0 - 2001:db8:1::1:ffff"}},
			"pd-pools":    []any{map[string]any{"prefix": "2001:db8:100::", "prefix-len": 48, "delegated-len": 64}},
			"option-data": []any{map[string]any{"name": "dns-servers", "data": dns1.String()}},
		}},
		"loggers": []any{map[string]any{"name": "kea-dhcp6", "severity": "WARN", "output_options": []any{map[string]any{"output": "stderr"}}}},
	}}
	data, err := json.Marshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(dir, "kea-dhcp6.json")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		b.Fatal(err)
	}
	srv.StartEnv([]string{"KEA_PIDFILE_DIR=" + dir, "KEA_LOCKFILE_DIR=" + dir}, "kea-dhcp6", "-c", file)
}

// waitServer waits until one exchange completes.
func waitServer(b *testing.B, cli *lab.Netns, mode string) {
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		// perfdhcp -n 1 exits before the answer is in: run it for a second.
		out, _ := cli.Exec("perfdhcp", "-6", "-l", "cli0", "-r", "10", "-p", "1", "-e", mode)
		if m := perfRate.FindStringSubmatch(out); m != nil && m[1] != "0" {
			return
		}
	}
	b.Fatal("the server does not answer perfdhcp")
}

var (
	perfRate  = regexp.MustCompile(`Rate: ([0-9.]+) 4-way exchanges/second`)
	perfSent  = regexp.MustCompile(`sent packets: (\d+)`)
	perfDrops = regexp.MustCompile(`drops: (\d+)`)
	perfDelay = regexp.MustCompile(`avg delay: ([0-9.]+) ms`)
)

// parsePerfdhcp reads the rate, the share of Solicits that got no
// complete exchange, and the Request–Reply delay.
func parsePerfdhcp(b *testing.B, out string) (rate, dropped, delay float64) {
	num := func(re *regexp.Regexp, i int) float64 {
		m := re.FindAllStringSubmatch(out, -1)
		if len(m) <= i {
			b.Fatalf("perfdhcp output lacks %s:\n%s", re, out)
		}
		v, err := strconv.ParseFloat(m[i][1], 64)
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	rate = num(perfRate, 0)
	sent := num(perfSent, 0)
	if sent > 0 {
		dropped = 100 * (num(perfDrops, 0) + num(perfDrops, 1)) / sent
	}
	delay = num(perfDelay, 1)
	if rate == 0 {
		b.Fatalf("no exchange completed:\n%s", out)
	}
	b.Logf("perfdhcp: %.0f exchanges/s, %.2f%% dropped, %.3f ms Request-Reply", rate, dropped, delay)
	return rate, dropped, delay
}
