package lan_test

import (
	"os"
	"regexp"
	"testing"
	"time"

	"cpe/internal/lab"
)

// TestExampleLabConfig: `cpe run -config examples/lab.json` between the
// lab's ISP and a LAN host just works: the host gets a DHCPv4 lease and a
// SLAAC address from the delegated prefix and reaches the ISP side over
// IPv4 (NAT44) and IPv6.
func TestExampleLabConfig(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireCommands(t, "kea-dhcp4", "kea-dhcp6", "radvd", "dhcpcd", "ping")
	doc, err := os.ReadFile("../examples/lab.json")
	if err != nil {
		t.Fatal(err)
	}
	l := lab.New(t)
	ispNS, cpeNS, host := l.Netns("isp"), l.Netns("cpe"), l.Netns("host")
	l.Veth(ispNS, "isp0", cpeNS, "wan0")
	l.Veth(cpeNS, "lan0", host, "eth0")
	isp := l.NewISP(ispNS, "isp0", lab.ISPOptions{DHCP4: true, IANA: true, PD: true, RA: true, Managed: true, Other: true})
	box := cpeNS.StartCPE(string(doc), "")
	out := box.WaitCLI(30*time.Second, []string{"show", "wan"}, "dhcp4: BOUND", "prefix  2001:db8:1")
	// The ISP routes the delegation to the box, as its DHCPv6 relay would.
	ll := regexp.MustCompile(`inet6 (fe80::[0-9a-f:]+)/64`).FindStringSubmatch(cpeNS.Run("ip", "-6", "addr", "show", "dev", "wan0", "scope", "link"))
	if ll == nil {
		t.Fatalf("no link-local address on wan0\n%s", out)
	}
	ispNS.Run("ip", "-6", "route", "add", isp.Options().PDPool().String(), "via", ll[1], "dev", "isp0")

	host.WaitLinkLocal("eth0")
	host.StartDHCPCD("", "--ipv4only", "--noipv4ll", "eth0")
	var addrs string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		addrs = host.Run("ip", "addr", "show", "dev", "eth0", "scope", "global", "-tentative")
		if regexp.MustCompile(`inet 192\.168\.1\.\d+/24`).MatchString(addrs) && regexp.MustCompile(`inet6 2001:db8:1`).MatchString(addrs) {
			break
		}
	}
	if !regexp.MustCompile(`inet 192\.168\.1\.\d+/24`).MatchString(addrs) || !regexp.MustCompile(`inet6 2001:db8:1`).MatchString(addrs) {
		t.Fatalf("the host has no lease or no address from the delegation:\n%s", addrs)
	}
	for _, dst := range []string{isp.Options().Internet4().String(), isp.Options().Internet6().String()} {
		var pingOut string
		var err error
		for try := 0; try < 10; try++ {
			if pingOut, err = host.Exec("ping", "-c", "2", "-i", "0.3", "-W", "2", dst); err == nil {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("the host cannot reach %s: %v\n%s", dst, err, pingOut)
		}
	}
}
