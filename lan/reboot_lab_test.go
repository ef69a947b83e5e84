package lan_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"cpe/internal/lab"
)

// TestRebootIntoNewPrefix: the box is off while the ISP renumbers; after it
// comes back on its state directory with a new delegation, it still
// advertises the /64 of the old one as stale (preferred 0, valid 0) next
// to the new one, since the old prefix is remembered on disk (RFC 9096).
func TestRebootIntoNewPrefix(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireCommands(t, "kea-dhcp6", "radvd", "rdisc6")
	l := lab.New(t)
	ispNS, cpeNS, host := l.Netns("isp"), l.Netns("cpe"), l.Netns("host")
	l.Veth(ispNS, "isp0", cpeNS, "wan0")
	l.Veth(cpeNS, "lan0", host, "eth0")
	isp := l.NewISP(ispNS, "isp0", lab.ISPOptions{PD: true, RA: true})
	const cfg = `{"wan": [{"interface": "wan0", "dhcp6": {"ia_na": false}, "ra": {}}],
	  "lan": [{"interface": "lan0", "ipv6": {}}]}`
	box := cpeNS.StartCPE(cfg, "")
	box.WaitCLI(30*time.Second, []string{"show", "lan"}, "2001:db8:1000:")
	state := box.State
	box.Stop()

	isp.Renumber()
	box = cpeNS.StartCPE(cfg, state)
	out := box.WaitCLI(30*time.Second, []string{"show", "lan"}, "2001:db8:1100:", "stale 2001:db8:1000:")
	t.Logf("show lan after the reboot:\n%s", out)

	host.WaitLinkLocal("eth0")
	ra, err := host.Exec("rdisc6", "-1", "-w", "5000", "eth0")
	if err != nil {
		t.Fatalf("rdisc6: %v\n%s", err, ra)
	}
	flat := strings.Join(strings.Fields(ra), " ")
	if !regexp.MustCompile(`Prefix : 2001:db8:1000::/64 On-link : Yes Autonomous address conf\.: Yes Valid time : 0 \(0x00000000\) seconds Pref\. time : 0 `).MatchString(flat) {
		t.Errorf("the old prefix is not advertised with lifetimes 0/0 after the reboot:\n%s", ra)
	}
	if !strings.Contains(flat, "Prefix : 2001:db8:1100::/64") {
		t.Errorf("the new prefix is not advertised:\n%s", ra)
	}
}
