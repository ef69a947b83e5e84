package lan_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpe/internal/lab"
)

func TestMain(m *testing.M) {
	code := m.Run()
	lab.RemoveBinary()
	os.Exit(code)
}

// TestHostGetsDelegatedPrefix: a LAN host running the kernel's SLAAC gets a
// global address inside the prefix kea delegated to the box, and the box as
// its default router (the ISP's radvd gives the box its default route).
func TestHostGetsDelegatedPrefix(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireCommands(t, "kea-dhcp6", "radvd", "rdisc6")
	l := lab.New(t)
	ispNS, cpeNS, host := l.Netns("isp"), l.Netns("cpe"), l.Netns("host")
	l.Veth(ispNS, "isp0", cpeNS, "wan0")
	l.Veth(cpeNS, "lan0", host, "eth0")
	l.NewISP(ispNS, "isp0", lab.ISPOptions{PD: true, RA: true})
	box := cpeNS.StartCPE(`{"wan": [{"interface": "wan0", "dhcp6": {"ia_na": false}, "ra": {}}],
	  "lan": [{"interface": "lan0", "ipv6": {}}]}`, "")
	out := box.WaitCLI(30*time.Second, []string{"show", "wan"}, "prefix  2001:db8:1")
	delegated := regexp.MustCompile(`prefix  (2001:db8:1[0-9a-f:]*)/56`).FindStringSubmatch(out)
	if delegated == nil {
		t.Fatalf("no /56 delegated:\n%s", out)
	}
	lanOut := box.WaitCLI(15*time.Second, []string{"show", "lan"}, "2001:db8:1", "ULA")
	t.Logf("show lan:\n%s", lanOut)

	host.WaitLinkLocal("eth0")
	ra, err := host.Exec("rdisc6", "-1", "-w", "5000", "eth0")
	if err != nil {
		t.Fatalf("rdisc6 on the LAN: %v\n%s\n%s", err, ra, box.Proc.Output())
	}
	flat := strings.Join(strings.Fields(ra), " ")
	// O: stateless DHCPv6 (on by default) has the ISP's DNS server to give;
	// M: no IA_NA configured.
	for _, want := range []string{"Prefix : " + strings.TrimSuffix(delegated[1], "::"), "Router lifetime",
		"Stateful address conf. : No", "Stateful other conf. : Yes"} {
		if !strings.Contains(flat, want) {
			t.Errorf("RA on the LAN lacks %q:\n%s", want, ra)
		}
	}
	if m := regexp.MustCompile(`Pref\. time : (\d+)`).FindAllStringSubmatch(flat, -1); len(m) == 0 {
		t.Errorf("no preferred lifetime in the RA:\n%s", ra)
	} else {
		for _, x := range m {
			if n, _ := strconv.Atoi(x[1]); n > 2700 {
				t.Errorf("preferred lifetime %d s exceeds RFC 9096's 2700 s", n)
			}
		}
	}
	var addrs string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		addrs = host.Run("ip", "-6", "addr", "show", "dev", "eth0", "scope", "global")
		if strings.Contains(addrs, strings.TrimSuffix(delegated[1], "::")) {
			break
		}
	}
	if !strings.Contains(addrs, strings.TrimSuffix(delegated[1], "::")) {
		t.Fatalf("the host has no address in %s/56:\n%s", delegated[1], addrs)
	}
	routes := host.Run("ip", "-6", "route", "show", "default")
	if !strings.Contains(routes, "via fe80::") {
		t.Errorf("the host has no default route via the box:\n%s", routes)
	}
}

// TestRenumbering: the ISP hands out a new prefix; the box advertises the
// old /64 as stale (preferred 0, valid 0) right away next to the new one,
// and the host's address moves to the new prefix (RFC 9096).
func TestRenumbering(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireCommands(t, "kea-dhcp6", "radvd", "rdisc6")
	l := lab.New(t)
	ispNS, cpeNS, host := l.Netns("isp"), l.Netns("cpe"), l.Netns("host")
	l.Veth(ispNS, "isp0", cpeNS, "wan0")
	l.Veth(cpeNS, "lan0", host, "eth0")
	isp := l.NewISP(ispNS, "isp0", lab.ISPOptions{PD: true, RA: true})
	box := cpeNS.StartCPE(`{"wan": [{"interface": "wan0", "dhcp6": {"ia_na": false}, "ra": {}}],
	  "lan": [{"interface": "lan0", "ipv6": {}}]}`, "")
	box.WaitCLI(30*time.Second, []string{"show", "lan"}, "2001:db8:1000:")
	host.WaitLinkLocal("eth0")
	waitHostAddr(t, host, "2001:db8:1000:")

	isp.Renumber()
	if _, err := box.CLI("renew", "wan", "0"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out := box.WaitCLI(30*time.Second, []string{"show", "lan"}, "2001:db8:1100:", "stale 2001:db8:1000:")
	t.Logf("show lan after renumbering (%v):\n%s", time.Since(start).Round(time.Millisecond), out)

	ra, err := host.Exec("rdisc6", "-1", "-w", "5000", "eth0")
	if err != nil {
		t.Fatalf("rdisc6: %v\n%s", err, ra)
	}
	flat := strings.Join(strings.Fields(ra), " ")
	if !regexp.MustCompile(`Prefix : 2001:db8:1000::/64 On-link : Yes Autonomous address conf\.: Yes Valid time : 0 \(0x00000000\) seconds Pref\. time : 0 `).MatchString(flat) {
		t.Errorf("the old prefix is not advertised with lifetimes 0/0:\n%s", ra)
	}
	if !strings.Contains(flat, "Prefix : 2001:db8:1100::/64") {
		t.Errorf("the new prefix is not advertised:\n%s", ra)
	}
	waitHostAddr(t, host, "2001:db8:1100:")
}

func waitHostAddr(t *testing.T, host *lab.Netns, want string) {
	t.Helper()
	var addrs string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		addrs = host.Run("ip", "-6", "addr", "show", "dev", "eth0", "scope", "global")
		if strings.Contains(addrs, want) {
			return
		}
	}
	t.Fatalf("the host has no %s… address:\n%s", want, addrs)
}

// TestDHCPv4Lease: dhcpcd on the LAN host gets a lease from the pool with
// the box as router.
func TestDHCPv4Lease(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireCommands(t, "kea-dhcp4", "dhcpcd")
	l := lab.New(t)
	ispNS, cpeNS, host := l.Netns("isp"), l.Netns("cpe"), l.Netns("host")
	l.Veth(ispNS, "isp0", cpeNS, "wan0")
	l.Veth(cpeNS, "lan0", host, "eth0")
	l.NewISP(ispNS, "isp0", lab.ISPOptions{DHCP4: true})
	box := cpeNS.StartCPE(`{"wan": [{"interface": "wan0", "dhcp4": {}}],
	  "lan": [{"interface": "lan0", "ipv4": {"address": "192.168.7.1/24",
	    "dhcp4": {"pool_start": "192.168.7.100", "pool_end": "192.168.7.199", "lease_time": "1m"}}}]}`, "")
	box.WaitCLI(30*time.Second, []string{"show", "wan"}, "dhcp4: BOUND")

	host.StartDHCPCD("", "--ipv4only", "--noipv4ll", "eth0")
	var addrs string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		addrs = host.Run("ip", "-4", "addr", "show", "dev", "eth0")
		if strings.Contains(addrs, "192.168.7.1") {
			break
		}
	}
	if !regexp.MustCompile(`inet 192\.168\.7\.1[0-9][0-9]/24`).MatchString(addrs) {
		t.Fatalf("dhcpcd got no address from the pool:\n%s\n%s", addrs, box.Proc.Output())
	}
	out := box.WaitCLI(10*time.Second, []string{"show", "dhcp", "leases"}, "lan0", "192.168.7.1", "bound")
	t.Logf("show dhcp leases:\n%s", out)
	// Renewal: lan/dhcp4's TestDHCPCDRenews.
}
