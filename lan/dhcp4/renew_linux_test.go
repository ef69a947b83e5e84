package dhcp4_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"cpe/internal/lab"
)

// TestDHCPCDRenews: dhcpcd on a LAN host gets a lease from `cpe run` and
// renews it at T1 (lease 60 s, so T1 is 30 s in): the unicast REQUEST of
// RENEWING is answered and dhcpcd extends the lease.
func TestDHCPCDRenews(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireCommands(t, "dhcpcd")
	l := lab.New(t)
	box, host := l.Netns("cpe"), l.Netns("host")
	l.Veth(box, "lan0", host, "eth0")
	cpe := box.StartCPE(`{"lan": [{"interface": "lan0", "ipv4": {"address": "192.168.7.1/24",
	    "dhcp4": {"pool_start": "192.168.7.100", "pool_end": "192.168.7.199", "lease_time": "1m"}}}]}`, "")
	cpe.WaitCLI(10*time.Second, []string{"show", "components"}, "lan")
	p := host.StartDHCPCD("", "--ipv4only", "--noipv4ll", "--debug", "eth0")
	deadline := time.Now().Add(50 * time.Second)
	for time.Now().Before(deadline) {
		if n := len(regexp.MustCompile(`leased 192\.168\.7\.1\d\d for 60 seconds`).FindAllString(p.Output(), -1)); n >= 2 {
			if !strings.Contains(p.Output(), "renewing lease of 192.168.7.1") {
				t.Errorf("the second lease did not come from renewing:\n%s", p.Output())
			}
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("dhcpcd did not renew:\n%s\n--- cpe:\n%s", p.Output(), lastLines(cpe.Proc.Output(), 40))
}

func lastLines(s string, n int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
