package lan_test

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpe/internal/lab"
)

// BenchmarkMemoryBindings measures the resident memory of `cpe run` serving
// one LAN before and after perfdhcp made 1,000 DHCPv4 leases and 1,000
// DHCPv6 IA_NA bindings (each iteration adds a fresh thousand of each).
func BenchmarkMemoryBindings(b *testing.B) {
	lab.RequireRoot(b)
	lab.RequireCommands(b, "perfdhcp")
	l := lab.New(b)
	srv, cli := l.Netns("srv"), l.Netns("cli")
	l.Veth(srv, "lan0", cli, "cli0")
	cli.Addr("cli0", netip.MustParsePrefix("10.0.0.2/16"))
	box := srv.StartCPE(`{"lan": [{"interface": "lan0",
	  "ipv6": {"dhcp6": {"ia_na": true}},
	  "ipv4": {"address": "10.0.0.1/16", "nat": false,
	    "dhcp4": {"pool_start": "10.0.0.10", "pool_end": "10.0.255.250", "lease_time": "12h"}}}]}`, "")
	box.WaitCLI(15*time.Second, []string{"show", "lan"}, "ULA")
	cli.WaitLinkLocal("cli0")
	time.Sleep(2 * time.Second) // the servers bind once the plan is made
	before := rssKiB(b, box)
	b.ResetTimer()
	i := 0
	for b.Loop() {
		// -n 1000 exchanges from -R 1000 distinct clients; -b moves the
		// client identities on every iteration.
		out4, err := cli.Exec("perfdhcp", "-4", "-l", "cli0", "-R", "1000", "-n", "1000", "-r", "500",
			"-b", "mac=00:0c:"+twoHex(i)+":00:00:00")
		if err != nil && !strings.Contains(out4, "exchanges") {
			b.Fatalf("perfdhcp -4: %v\n%s", err, out4)
		}
		out6, err := cli.Exec("perfdhcp", "-6", "-l", "cli0", "-R", "1000", "-n", "1000", "-r", "500", "-e", "address-only",
			"-b", "duid=0001000100000000000c"+twoHex(i)+"000000")
		if err != nil && !strings.Contains(out6, "exchanges") {
			b.Fatalf("perfdhcp -6: %v\n%s", err, out6)
		}
		i++
	}
	b.StopTimer()
	leases, _ := box.CLI("show", "dhcp", "leases")
	v4 := len(regexp.MustCompile(`(?m)^lan0\s+10\.0\.`).FindAllString(leases, -1))
	v6 := len(regexp.MustCompile(`(?m)^lan0\s+[0-9a-f]{2}(:[0-9a-f]{2})+\s.*\sbound\s`).FindAllString(leases, -1))
	after := rssKiB(b, box)
	b.ReportMetric(float64(after), "KiB-RSS")
	b.ReportMetric(float64(after-before), "KiB-added")
	b.ReportMetric(float64(v4), "v4-leases")
	b.ReportMetric(float64(v6), "v6-bindings")
}

func rssKiB(b *testing.B, box *lab.CPE) int {
	b.Helper()
	out, err := box.CLI("show", "system")
	if err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`rss: (\d+) KiB`).FindStringSubmatch(out)
	if m == nil {
		b.Fatalf("no rss in show system:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func twoHex(i int) string { return strconv.FormatInt(int64(i&0xff|0x100), 16)[1:] }
