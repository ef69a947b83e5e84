package firewall_test

import (
	"fmt"
	"net/netip"
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

// trafficLab is the box between the lab ISP and a LAN host, with a far
// network behind the ISP over a link of MTU 1300, as a path with a lower
// MTU somewhere on the Internet.
type trafficLab struct {
	t               *testing.T
	isp, box, host  *lab.Netns
	far             *lab.Netns
	opts            lab.ISPOptions
	cpe             *lab.CPE
	wan4, hostV6    netip.Addr
	delegated       netip.Prefix
	farAddr         netip.Addr
	ispNft, hostNft string
}

const farNet = "2001:db8:ff::"

func newTrafficLab(t *testing.T, wanMTU int) *trafficLab {
	lab.RequireRoot(t)
	lab.RequireCommands(t, "kea-dhcp4", "kea-dhcp6", "radvd", "nft", "ping")
	l := lab.New(t)
	tl := &trafficLab{t: t, isp: l.Netns("isp"), box: l.Netns("cpe"), host: l.Netns("host"), far: l.Netns("far")}
	l.Veth(tl.isp, "isp0", tl.box, "wan0")
	l.Veth(tl.box, "lan0", tl.host, "eth0")
	l.Veth(tl.isp, "isp1", tl.far, "far0")
	tl.opts = lab.ISPOptions{DHCP4: true, PD: true, RA: true}
	if wanMTU != 0 {
		tl.isp.Run("ip", "link", "set", "isp0", "mtu", strconv.Itoa(wanMTU))
	}
	l.NewISP(tl.isp, "isp0", tl.opts)
	for _, ns := range []*lab.Netns{tl.isp, tl.far} {
		dev := map[*lab.Netns]string{tl.isp: "isp1", tl.far: "far0"}[ns]
		ns.Run("ip", "link", "set", dev, "mtu", "1300")
	}
	tl.isp.Addr("isp1", netip.MustParsePrefix(farNet+"1/64"))
	tl.far.Addr("far0", netip.MustParsePrefix(farNet+"2/64"))
	tl.far.WaitLinkLocal("far0")
	tl.far.Run("ip", "-6", "route", "add", "default", "via", farNet+"1")
	tl.farAddr = netip.MustParseAddr(farNet + "2")

	mtu := ""
	if wanMTU != 0 {
		mtu = fmt.Sprintf(`"mtu": %d, `, wanMTU)
	}
	tl.cpe = tl.box.StartCPE(`{"wan": [{"interface": "wan0", `+mtu+`"dhcp4": {}, "dhcp6": {"ia_na": false}, "ra": {}}],
	  "lan": [{"interface": "lan0", "ipv6": {}, "ipv4": {"address": "192.168.7.1/24"}}]}`, "")
	out := tl.cpe.WaitCLI(30*time.Second, []string{"show", "wan"}, "dhcp4: BOUND", "prefix  2001:db8:1")
	m := regexp.MustCompile(`prefix  (2001:db8:1[0-9a-f:]*/56)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no /56 delegated:\n%s", out)
	}
	tl.delegated = netip.MustParsePrefix(m[1])
	a4 := regexp.MustCompile(`inet (192\.0\.2\.\d+)/`).FindStringSubmatch(tl.box.Run("ip", "-4", "addr", "show", "dev", "wan0"))
	if a4 == nil {
		t.Fatal("the box has no IPv4 address on wan0")
	}
	tl.wan4 = netip.MustParseAddr(a4[1])
	tl.cpe.WaitCLI(15*time.Second, []string{"show", "firewall"}, "ruleset: loaded", tl.delegated.Addr().String())

	// The ISP routes the delegation to the box, as a real ISP's DHCPv6
	// relay would.
	ll := regexp.MustCompile(`inet6 (fe80::[0-9a-f:]+)/64`).FindStringSubmatch(tl.box.Run("ip", "-6", "addr", "show", "dev", "wan0", "scope", "link"))
	if ll == nil {
		t.Fatal("no link-local address on the box's wan0")
	}
	tl.isp.Run("ip", "-6", "route", "add", tl.delegated.String(), "via", ll[1], "dev", "isp0")

	// The host: SLAAC from the box's RAs, static IPv4 behind NAT44.
	tl.host.Addr("eth0", netip.MustParsePrefix("192.168.7.10/24"))
	tl.host.Run("ip", "-4", "route", "add", "default", "via", "192.168.7.1")
	tl.host.WaitLinkLocal("eth0")
	tl.hostV6 = tl.waitHostV6()
	return tl
}

func (tl *trafficLab) waitHostV6() netip.Addr {
	re := regexp.MustCompile(`inet6 (2001:db8:1[0-9a-f:]+)/64`)
	var out string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out = tl.host.Run("ip", "-6", "addr", "show", "dev", "eth0", "scope", "global", "-tentative")
		if m := re.FindStringSubmatch(out); m != nil {
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				if r := tl.host.Run("ip", "-6", "route", "show", "default"); strings.Contains(r, "via fe80::") {
					return netip.MustParseAddr(m[1])
				}
			}
		}
	}
	tl.t.Fatalf("the host got no global address from the box:\n%s", out)
	return netip.Addr{}
}

// ping runs ping in ns and reports whether any reply came back.
func ping(ns *lab.Netns, args ...string) (bool, string) {
	out, err := ns.Exec(append([]string{"ping", "-c", "2", "-i", "0.2", "-W", "1"}, args...)...)
	return err == nil, out
}

// dropCount reads a drop reason's packet count from show firewall.
func (tl *trafficLab) dropCount(reason string) int {
	tl.t.Helper()
	out, err := tl.cpe.CLI("show", "firewall")
	if err != nil {
		tl.t.Fatalf("show firewall: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^\s*` + reason + `\s+(\d+)\s+\d+`).FindStringSubmatch(out)
	if m == nil {
		tl.t.Fatalf("show firewall has no %s drop counter:\n%s", reason, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// commit applies console configuration lines and waits for the firewall
// to have them.
func (tl *trafficLab) commit(lines ...string) {
	tl.t.Helper()
	script := "configure\n" + strings.Join(lines, "\n") + "\ncommit\nexit\n"
	out, err := tl.cpe.Script(script)
	if err != nil || strings.Contains(out, "error") {
		tl.t.Fatalf("commit %q: %v\n%s", lines, err, out)
	}
}

// nftCounter adds a counting rule in ns's own table and returns a function
// reading its packet count.
func nftCounter(t *testing.T, ns *lab.Netns, hook, match string) func() int {
	t.Helper()
	name := fmt.Sprintf("c%d", time.Now().UnixNano()%1e9)
	ns.Run("nft", "add", "table", "inet", "probe")
	ns.Run("nft", "add", "chain", "inet", "probe", name, "{ type filter hook "+hook+" priority -300; }")
	ns.Run("nft", "add", "rule", "inet", "probe", name, match+" counter")
	return func() int {
		out := ns.Run("nft", "list", "chain", "inet", "probe", name)
		m := regexp.MustCompile(`counter packets (\d+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no counter in:\n%s", out)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
}

// TestTraffic sends real packets through the box and its ruleset.
func TestTraffic(t *testing.T) {
	tl := newTrafficLab(t, 0)
	internet4 := tl.opts.Internet4().String()
	internet6 := tl.opts.Internet6().String()

	t.Run("NAT44", func(t *testing.T) {
		fromBox := nftCounter(t, tl.isp, "input", "ip saddr "+tl.wan4.String()+" icmp type echo-request")
		fromLAN := nftCounter(t, tl.isp, "input", "ip saddr 192.168.7.0/24")
		if ok, out := ping(tl.host, "-4", internet4); !ok {
			t.Fatalf("the LAN host cannot reach %s over IPv4:\n%s", internet4, out)
		}
		if n := fromBox(); n < 2 {
			t.Errorf("%d echo requests reached the ISP from the box's address %s, want 2", n, tl.wan4)
		}
		if n := fromLAN(); n != 0 {
			t.Errorf("%d packets reached the ISP with a private source", n)
		}
	})

	t.Run("IPv6 outbound and answers", func(t *testing.T) {
		if ok, out := ping(tl.host, "-6", internet6); !ok {
			t.Fatalf("the LAN host cannot reach %s over IPv6:\n%s", internet6, out)
		}
	})

	t.Run("IPv6 inbound stateful", func(t *testing.T) {
		before := tl.dropCount("inbound")
		if ok, out := ping(tl.isp, "-6", tl.hostV6.String()); ok {
			t.Fatalf("unsolicited inbound ping reached the host in stateful mode:\n%s", out)
		}
		if after := tl.dropCount("inbound"); after < before+2 {
			t.Errorf("inbound drops %d → %d, want the 2 echo requests counted", before, after)
		}
	})

	t.Run("pinhole", func(t *testing.T) {
		tl.commit("set firewall pinholes 0 name ping", "set firewall pinholes 0 address "+tl.hostV6.String()+"/128",
			"set firewall pinholes 0 protocol icmpv6")
		tl.cpe.WaitCLI(10*time.Second, []string{"show", "firewall"}, "PINHOLES", tl.hostV6.String()+" . ipv6-icmp")
		if ok, out := ping(tl.isp, "-6", tl.hostV6.String()); !ok {
			t.Fatalf("ping through the pinhole failed:\n%s", out)
		}
		// The pinhole is for ICMPv6 only: TCP to the host is still dropped.
		before := tl.dropCount("inbound")
		tl.isp.Exec("bash", "-c", "timeout 2 bash -c 'echo > /dev/tcp/"+tl.hostV6.String()+"/22'")
		if after := tl.dropCount("inbound"); after == before {
			t.Errorf("TCP outside the pinhole was not dropped as inbound (%d → %d)", before, after)
		}
		tl.commit("delete firewall pinholes 0")
	})

	t.Run("open", func(t *testing.T) {
		tl.commit("set lan 0 ipv6 firewall open")
		prefix64 := netip.PrefixFrom(tl.hostV6, 64).Masked().String()
		tl.cpe.WaitCLI(10*time.Second, []string{"show", "firewall"}, "inet cpe open_v6: "+prefix64)
		if ok, out := ping(tl.isp, "-6", tl.hostV6.String()); !ok {
			t.Fatalf("inbound ping in open mode failed:\n%s", out)
		}
		tl.commit("set lan 0 ipv6 firewall stateful")
		tl.cpe.WaitCLI(10*time.Second, []string{"show", "firewall"}, "inet cpe open_v6: (empty)")
		if ok, _ := ping(tl.isp, "-6", tl.hostV6.String()); ok {
			t.Fatal("inbound ping still passes after going back to stateful")
		}
	})

	t.Run("Packet Too Big", func(t *testing.T) {
		// The far network is behind a 1300-byte link: the ISP router
		// answers a 1400-byte packet with Packet Too Big, which must reach
		// the host through the box for path MTU discovery to work.
		ping(tl.host, "-6", "-M", "do", "-s", "1400", tl.farAddr.String())
		route := tl.host.Run("ip", "-6", "route", "get", tl.farAddr.String())
		if !strings.Contains(route, "mtu 1300") {
			t.Fatalf("the host did not learn the path MTU of 1300:\n%s", route)
		}
		if ok, out := ping(tl.host, "-6", "-M", "do", "-s", "1200", tl.farAddr.String()); !ok {
			t.Errorf("ping below the path MTU failed:\n%s", out)
		}
	})

	t.Run("spoofing", func(t *testing.T) {
		tl.host.Run("ip", "addr", "add", "2001:db8:dead::1/128", "dev", "eth0", "nodad")
		tl.host.Run("ip", "addr", "add", "10.99.0.1/32", "dev", "eth0")
		before := tl.dropCount("spoof_lan")
		reached := nftCounter(t, tl.isp, "input", "ip6 saddr 2001:db8:dead::1")
		ping(tl.host, "-6", "-I", "2001:db8:dead::1", internet6)
		ping(tl.host, "-4", "-I", "10.99.0.1", internet4)
		if after := tl.dropCount("spoof_lan"); after < before+4 {
			t.Errorf("spoof_lan drops %d → %d, want the 4 spoofed packets counted", before, after)
		}
		if n := reached(); n != 0 {
			t.Errorf("%d spoofed packets reached the ISP", n)
		}
	})
}

// TestPortScan: a scan of the box's addresses from the ISP side finds
// nothing open: the box runs no services.
func TestPortScan(t *testing.T) {
	lab.RequireCommands(t, "nmap")
	tl := newTrafficLab(t, 0)
	lanAddr := netip.PrefixFrom(tl.hostV6, 64).Masked().Addr().Next() // the box's ::1 on the LAN
	for _, scan := range [][]string{
		{"-sS", "-p", "1-1024,6696,8080", tl.wan4.String()},
		{"-sU", "-p", "53,67,68,123,161,546,547,1900,5353,6696", tl.wan4.String()},
		{"-6", "-sS", "-p", "1-1024,6696,8080", lanAddr.String()},
		{"-6", "-sU", "-p", "53,67,68,123,161,546,547,1900,5353,6696", lanAddr.String()},
	} {
		args := append([]string{"nmap", "-Pn", "-n", "-T5", "--max-retries", "0", "--initial-rtt-timeout", "50ms", "--max-rtt-timeout", "100ms"}, scan...)
		out, err := tl.isp.Exec(args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if !strings.Contains(out, "Nmap done: 1 IP address (1 host up)") {
			t.Errorf("%v scanned nothing:\n%s", scan, out)
		}
		if open := regexp.MustCompile(`(?m)^\d+/(tcp|udp)\s+open\s`).FindAllString(out, -1); len(open) > 0 {
			t.Errorf("%v found open ports %q:\n%s", scan, open, out)
		}
	}
	if n := tl.dropCount("input"); n == 0 {
		t.Error("the scan left no input drops counted")
	}
}

// TestMSSClamp: TCP SYNs from the LAN leave the box with the MSS clamped
// to the uplink's MTU, in both families.
func TestMSSClamp(t *testing.T) {
	tl := newTrafficLab(t, 1400)
	for _, c := range []struct {
		dst, match string
	}{
		{tl.opts.Internet4().String(), "ip saddr " + tl.wan4.String() + " tcp flags syn tcp option maxseg size 1360"},
		{"[" + tl.opts.Internet6().String() + "]", "ip6 saddr " + tl.hostV6.String() + " tcp flags syn tcp option maxseg size 1340"},
	} {
		clamped := nftCounter(t, tl.isp, "input", c.match)
		dst := strings.Trim(c.dst, "[]")
		tl.host.Exec("bash", "-c", "timeout 2 bash -c 'echo > /dev/tcp/"+dst+"/80'")
		if n := clamped(); n == 0 {
			t.Errorf("no SYN to %s arrived with the clamped MSS (%s)", c.dst, c.match)
		}
	}
}
