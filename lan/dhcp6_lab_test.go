package lan_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"golang.org/x/sys/unix"

	"cpe/internal/lab"
)

// TestDownstreamRouterGetsPrefix: dhcpcd in a router namespace behind the
// box asks for a prefix (IA_PD) and gets a /62 out of the /56 kea delegated
// to the box; the box routes it to the router's link-local address, and
// dhcpcd numbers the router's downstream link from it. A stateless
// Information-request on the same link gets the ISP's DNS servers.
func TestDownstreamRouterGetsPrefix(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireCommands(t, "kea-dhcp6", "radvd", "dhcpcd")
	l := lab.New(t)
	ispNS, cpeNS, router := l.Netns("isp"), l.Netns("cpe"), l.Netns("router")
	l.Veth(ispNS, "isp0", cpeNS, "wan0")
	l.Veth(cpeNS, "lan0", router, "eth0")
	// The router's downstream link, where dhcpcd puts a /64 of its prefix.
	router.Run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")
	router.Run("ip", "link", "set", "eth1", "up")
	router.Run("ip", "link", "set", "eth1p", "up")
	isp := l.NewISP(ispNS, "isp0", lab.ISPOptions{PD: true, RA: true})
	box := cpeNS.StartCPE(`{"wan": [{"interface": "wan0", "dhcp6": {"ia_na": false}, "ra": {}}],
	  "lan": [{"interface": "lan0", "ipv6": {"dhcp6": {"stateless": true, "pd": {"length": 62}}}}]}`, "")
	out := box.WaitCLI(30*time.Second, []string{"show", "wan"}, "prefix  2001:db8:1")
	m := regexp.MustCompile(`prefix  (2001:db8:1[0-9a-f:]*/56)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no /56 delegated:\n%s", out)
	}
	delegated := netip.MustParsePrefix(m[1])
	lanOut := box.WaitCLI(15*time.Second, []string{"show", "lan"}, strings.TrimSuffix(delegated.Addr().String(), "::"))
	lan64 := netip.MustParsePrefix(regexp.MustCompile(`(2001:db8:[0-9a-f:]+/64)`).FindString(lanOut))

	router.WaitLinkLocal("eth0")
	routerLL := linkLocal(t, router, "eth0")
	router.StartDHCPCD(`ipv6only
noipv6rs
allowinterfaces eth0 eth1
interface eth0
	ia_pd 1 eth1/0/64
`)

	// The binding, and the route the planner made from the published fact.
	out = box.WaitCLI(30*time.Second, []string{"show", "dhcp", "leases"}, "bound", routerLL.String())
	t.Logf("show dhcp leases:\n%s", out)
	row := regexp.MustCompile(`lan0\s+(\S+)\s+1\s+(2001:db8:[0-9a-f:]+/62)\s+(fe80::\S+)\s+bound`).FindStringSubmatch(out)
	if row == nil {
		t.Fatalf("no bound /62 in show dhcp leases:\n%s", out)
	}
	got, via := netip.MustParsePrefix(row[2]), netip.MustParseAddr(row[3])
	if !delegated.Contains(got.Addr()) || got.Overlaps(lan64) {
		t.Errorf("delegated %s: want inside %s and off lan0's %s", got, delegated, lan64)
	}
	if via != routerLL {
		t.Errorf("route via %s, want the router's link-local %s", via, routerLL)
	}
	var routes string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		routes = cpeNS.Run("ip", "-6", "route", "show", got.String())
		if strings.Contains(routes, "via "+routerLL.String()) {
			break
		}
	}
	if !strings.Contains(routes, "via "+routerLL.String()) || !strings.Contains(routes, "dev lan0") {
		t.Errorf("no route to %s via %s on lan0 in the box:\n%s", got, routerLL, routes)
	}
	// dhcpcd took the Reply: its downstream link is numbered from the
	// prefix.
	var addrs string
	want := strings.TrimSuffix(got.Addr().String(), "::")
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		addrs = router.Run("ip", "-6", "addr", "show", "dev", "eth1", "scope", "global")
		if strings.Contains(addrs, want) {
			break
		}
	}
	if !strings.Contains(addrs, want) {
		t.Errorf("dhcpcd put no address of %s on eth1:\n%s", got, addrs)
	}

	// Stateless: the ISP's DNS server passed through.
	dns := informationRequest(t, router, "eth0", routerLL)
	if want := isp.Options().DNS6(); len(dns) == 0 || !netip.MustParseAddr(dns[0].String()).IsValid() || !containsIP(dns, want) {
		t.Errorf("Information-request: DNS %v, want %s", dns, want)
	}
}

func linkLocal(t *testing.T, ns *lab.Netns, dev string) netip.Addr {
	t.Helper()
	out := ns.Run("ip", "-6", "-o", "addr", "show", "dev", dev, "scope", "link")
	m := regexp.MustCompile(`inet6 (fe80::[0-9a-f:]+)/64`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no link-local address on %s:\n%s", dev, out)
	}
	return netip.MustParseAddr(m[1])
}

// informationRequest sends a stateless Information-request from ifname's
// link-local address (an ephemeral port: dhcpcd holds 546) and returns the
// DNS servers of the Reply.
func informationRequest(t *testing.T, ns *lab.Netns, ifname string, ll netip.Addr) []net.IP {
	t.Helper()
	var dns []net.IP
	err := ns.Do(func() error {
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), ifname) })
			return errors.Join(err, serr)
		}}
		// The zone by index: the net package caches the names of
		// interfaces for a minute, and may still have another namespace's
		// eth0 from an earlier test.
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		zone := strconv.Itoa(ifi.Index)
		pc, err := lc.ListenPacket(context.Background(), "udp6", "["+ll.String()+"%"+zone+"]:0")
		if err != nil {
			return err
		}
		defer pc.Close()
		c := pc.(*net.UDPConn)
		req, err := dhcpv6.NewMessage(dhcpv6.WithRequestedOptions(dhcpv6.OptionDNSRecursiveNameServer))
		if err != nil {
			return err
		}
		req.MessageType = dhcpv6.MessageTypeInformationRequest
		req.Options.Add(dhcpv6.OptElapsedTime(0))
		to := netip.AddrPortFrom(netip.MustParseAddr("ff02::1:2").WithZone(zone), 547)
		buf := make([]byte, 1500)
		for range 3 {
			if _, err := c.WriteToUDPAddrPort(req.ToBytes(), to); err != nil {
				return err
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, _, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				continue
			}
			rep, err := dhcpv6.MessageFromBytes(buf[:n])
			if err != nil {
				return err
			}
			if rep.TransactionID != req.TransactionID || rep.MessageType != dhcpv6.MessageTypeReply {
				continue
			}
			dns = rep.Options.DNS()
			return nil
		}
		return errors.New("no Reply to the Information-request")
	})
	if err != nil {
		t.Fatal(err)
	}
	return dns
}

func containsIP(list []net.IP, a netip.Addr) bool {
	for _, x := range list {
		if x.Equal(a.AsSlice()) {
			return true
		}
	}
	return false
}
