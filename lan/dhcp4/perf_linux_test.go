package dhcp4_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"cpe/internal/lab"
)

// BenchmarkPerfdhcp drives a DHCPv4 server with kea's perfdhcp over a veth
// pair: cpe (the whole `cpe run` with one LAN segment, leases saved to its
// state directory), kea-dhcp4 (memfile leases) and dnsmasq, each with the
// same /16 pool, in the same namespace set-up. Each iteration is one
// perfdhcp run; the metrics are completed 4-way exchanges per second and
// the mean DISCOVER→OFFER and REQUEST→ACK delays.
func BenchmarkPerfdhcp(b *testing.B) {
	lab.RequireRoot(b)
	lab.RequireCommands(b, "perfdhcp")
	for _, srv := range []string{"cpe", "kea", "dnsmasq"} {
		b.Run(srv, func(b *testing.B) { benchPerfdhcp(b, srv) })
	}
}

const (
	perfRouter = "10.0.0.1"
	perfFirst  = "10.0.0.10"
	perfLast   = "10.0.255.250"
)

func benchPerfdhcp(b *testing.B, server string) {
	l := lab.New(b)
	srvNS, cliNS := l.Netns("srv"), l.Netns("cli")
	l.Veth(srvNS, "lan0", cliNS, "cli0")
	srvNS.Addr("lan0", netip.MustParsePrefix(perfRouter+"/16"))
	cliNS.Addr("cli0", netip.MustParsePrefix("10.0.0.2/16"))
	dir := b.TempDir()
	switch server {
	case "cpe":
		lab.RequireCommands(b, "go")
		box := srvNS.StartCPE(fmt.Sprintf(`{"lan": [{"interface": "lan0", "ipv4": {"address": "%s/16", "nat": false,
		  "dhcp4": {"pool_start": "%s", "pool_end": "%s", "lease_time": "12h"}}}]}`, perfRouter, perfFirst, perfLast), "")
		box.WaitCLI(10*time.Second, []string{"show", "components"}, "lan")
	case "kea":
		lab.RequireCommands(b, "kea-dhcp4")
		conf := filepath.Join(dir, "kea.json")
		os.WriteFile(conf, []byte(fmt.Sprintf(`{"Dhcp4": {
		  "interfaces-config": {"interfaces": ["lan0"], "dhcp-socket-type": "raw"},
		  "lease-database": {"type": "memfile", "persist": true, "name": "%s/leases4.csv", "lfc-interval": 0},
		  "valid-lifetime": 43200,
		  "subnet4": [{"id": 1, "subnet": "10.0.0.0/16", "pools": [{"pool": "%s - %s"}],
		    "option-data": [{"name": "routers", "data": "%s"}]}],
		  "loggers": [{"name": "kea-dhcp4", "severity": "WARN", "output_options": [{"output": "stderr"}]}]}}`,
			dir, perfFirst, perfLast, perfRouter)), 0o644)
		srvNS.StartEnv([]string{"KEA_PIDFILE_DIR=" + dir, "KEA_LOCKFILE_DIR=" + dir}, "kea-dhcp4", "-c", conf)
	case "dnsmasq":
		lab.RequireCommands(b, "dnsmasq")
		srvNS.Start("dnsmasq", "--keep-in-foreground", "--no-daemon", "--conf-file=/dev/null", "--port=0",
			"--interface=lan0", "--bind-interfaces", "--dhcp-authoritative", "--no-ping", "--dhcp-lease-max=100000",
			"--dhcp-range="+perfFirst+","+perfLast+",255.255.0.0,12h", "--dhcp-leasefile="+filepath.Join(dir, "leases"),
			"--pid-file="+filepath.Join(dir, "pid"), "--user=root", "--quiet-dhcp")
	}
	time.Sleep(500 * time.Millisecond) // let the server bind

	var rate, do, ra float64
	b.ResetTimer()
	for b.Loop() {
		// A fixed offered load well above what any of the servers answers,
		// 20,000 distinct clients, 5 s; perfdhcp counts what completes.
		out, err := cliNS.Exec("perfdhcp", "-4", "-l", "cli0", "-r", "20000", "-R", "20000", "-p", "5", "-W", "1000000")
		if err != nil && !regexp.MustCompile(`(?i)rate: `).MatchString(out) {
			b.Fatalf("perfdhcp: %v\n%s", err, out)
		}
		r, d1, d2 := parsePerfdhcp(b, out)
		rate, do, ra = rate+r, do+d1, ra+d2
	}
	n := float64(b.N)
	b.ReportMetric(rate/n, "exchanges/s")
	b.ReportMetric(do/n, "ms-DO")
	b.ReportMetric(ra/n, "ms-RA")
}

// parsePerfdhcp reads the 4-way exchange rate and the mean delays of the
// two exchanges from perfdhcp's report.
func parsePerfdhcp(b *testing.B, out string) (rate, do, ra float64) {
	b.Helper()
	m := regexp.MustCompile(`(?i)rate: ([0-9.]+) 4-way exchanges/second`).FindStringSubmatch(out)
	if m == nil {
		b.Fatalf("no rate in the perfdhcp report:\n%s", out)
	}
	rate, _ = strconv.ParseFloat(m[1], 64)
	delays := regexp.MustCompile(`avg delay: ([0-9.]+) ms`).FindAllStringSubmatch(out, -1)
	if len(delays) >= 2 {
		do, _ = strconv.ParseFloat(delays[0][1], 64)
		ra, _ = strconv.ParseFloat(delays[1][1], 64)
	}
	return rate, do, ra
}
