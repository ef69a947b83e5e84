package wan_test

import (
	"fmt"
	"os"
	"regexp"
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

func requirePeers(t *testing.T) {
	t.Helper()
	lab.RequireRoot(t)
	lab.RequireCommands(t, "kea-dhcp4", "kea-dhcp6", "radvd")
}

// uplinkLab is an ISP and a box joined by one link: isp0 <-> wan0.
func uplinkLab(t *testing.T, opts lab.ISPOptions) (*lab.Lab, *lab.ISP, *lab.Netns) {
	l := lab.New(t)
	ispNS, cpeNS := l.Netns("isp"), l.Netns("cpe")
	l.Veth(ispNS, "isp0", cpeNS, "wan0")
	return l, l.NewISP(ispNS, "isp0", opts), cpeNS
}

const dualStack = `{
  "system": {"hostname": "lab"},
  "wan": [{"interface": "wan0", "dhcp4": {}, "dhcp6": {"prefix_hint": %d}}]
}`

// TestDualStackFromKea: a DHCPv4 lease, an IA_NA address and a delegated
// prefix from kea, installed in the kernel with the right lifetimes and the
// RFC 7084 WPD-5 unreachable route.
func TestDualStackFromKea(t *testing.T) {
	requirePeers(t)
	for _, pd := range []int{56, 60} {
		t.Run(fmt.Sprintf("pd/%d", pd), func(t *testing.T) {
			_, isp, cpeNS := uplinkLab(t, lab.ISPOptions{DHCP4: true, IANA: true, PD: true, PDLength: pd})
			box := cpeNS.StartCPE(fmt.Sprintf(dualStack, pd), "")
			out := box.WaitCLI(30*time.Second, []string{"show", "wan"}, "dhcp4: BOUND", "prefix  2001:db8:")
			t.Logf("show wan:\n%s", out)
			if m := regexp.MustCompile(`prefix  (\S+)`).FindStringSubmatch(out); m == nil || !strings.HasSuffix(m[1], fmt.Sprintf("/%d", pd)) {
				t.Errorf("delegated prefix is not a /%d:\n%s", pd, out)
			}

			addrs := cpeNS.Run("ip", "addr", "show", "dev", "wan0")
			if !strings.Contains(addrs, "inet 192.0.2.1") {
				t.Errorf("no DHCPv4 address on wan0:\n%s", addrs)
			}
			if !regexp.MustCompile(`inet6 2001:db8:a0::1[0-9a-f]{3}/128 scope global .*noprefixroute`).MatchString(addrs) {
				t.Errorf("no IA_NA /128 with noprefixroute on wan0:\n%s", addrs)
			}
			routes6 := cpeNS.Run("ip", "-6", "route", "show", "proto", "206")
			if !regexp.MustCompile(fmt.Sprintf(`unreachable 2001:db8:1[0-9a-f]+::/%d`, pd)).MatchString(routes6) {
				t.Errorf("no unreachable route for the delegated prefix:\n%s", routes6)
			}
			routes4 := cpeNS.Run("ip", "-4", "route", "show", "proto", "206")
			if !strings.Contains(routes4, "default via "+isp.Options().Gateway4().String()+" dev wan0") {
				t.Errorf("no IPv4 default route via the ISP:\n%s", routes4)
			}
			box.WaitCLI(5*time.Second, []string{"show", "wan", "history"}, "dhcp4", "bound", "prefix")
		})
	}
}

// TestRestartKeepsIdentity: a box restarted on the same state sends the
// same DUID and IAIDs (RFC 9096 WPD-10) and gets the same prefix back from
// kea, without having sent a Release (WPD-9).
func TestRestartKeepsIdentity(t *testing.T) {
	requirePeers(t)
	_, _, cpeNS := uplinkLab(t, lab.ISPOptions{DHCP4: true, IANA: true, PD: true})
	box := cpeNS.StartCPE(fmt.Sprintf(dualStack, 56), "")
	out := box.WaitCLI(30*time.Second, []string{"show", "wan"}, "prefix  2001:db8:")
	first := regexp.MustCompile(`prefix  (\S+)`).FindStringSubmatch(out)[1]
	duid, err := os.ReadFile(box.State + "/wan/wan0/dhcp6.json")
	if err != nil {
		t.Fatal(err)
	}
	box.Stop()
	if log := box.Proc.Output(); strings.Contains(strings.ToLower(log), "release") {
		t.Errorf("the box sent a Release when stopped:\n%s", log)
	}

	again := cpeNS.StartCPE(fmt.Sprintf(dualStack, 56), box.State)
	out = again.WaitCLI(30*time.Second, []string{"show", "wan"}, "prefix  "+first)
	t.Logf("after restart:\n%s", out)
	after, _ := os.ReadFile(box.State + "/wan/wan0/dhcp6.json")
	if duidOf(t, duid) != duidOf(t, after) {
		t.Errorf("DUID changed across a restart: %s -> %s", duidOf(t, duid), duidOf(t, after))
	}
}

func duidOf(t *testing.T, persist []byte) string {
	m := regexp.MustCompile(`"duid":\s*"([^"]+)"`).FindSubmatch(persist)
	if m == nil {
		t.Fatalf("no duid in the persisted state:\n%s", persist)
	}
	return string(m[1])
}

// TestTwoUplinks: wan0 and wan1 each get their own lease from their own ISP.
func TestTwoUplinks(t *testing.T) {
	requirePeers(t)
	l := lab.New(t)
	isp0, isp1, cpeNS := l.Netns("isp0"), l.Netns("isp1"), l.Netns("cpe")
	l.Veth(isp0, "isp0", cpeNS, "wan0")
	l.Veth(isp1, "isp1", cpeNS, "wan1")
	l.NewISP(isp0, "isp0", lab.ISPOptions{DHCP4: true, PD: true})
	l.NewISP(isp1, "isp1", lab.ISPOptions{DHCP4: true, PD: true, Variant: 1})
	box := cpeNS.StartCPE(`{"wan": [
	  {"interface": "wan0", "dhcp4": {}, "dhcp6": {"ia_na": false}},
	  {"interface": "wan1", "dhcp4": {}, "dhcp6": {"ia_na": false}}]}`, "")
	out := box.WaitCLI(30*time.Second, []string{"show", "wan"}, "192.0.2.", "203.0.113.", "prefix  2001:db8:1", "prefix  2001:db8:2")
	t.Logf("show wan:\n%s", out)
	routes4 := cpeNS.Run("ip", "-4", "route", "show", "proto", "206")
	if !strings.Contains(routes4, "dev wan0") || !strings.Contains(routes4, "dev wan1") {
		t.Errorf("both uplinks should have a default route (different metrics):\n%s", routes4)
	}
}

// TestRAOnly: an uplink with router advertisements and nothing else gets a
// SLAAC address and an IPv6 default route (RFC 7084 W-1, W-3).
func TestRAOnly(t *testing.T) {
	requirePeers(t)
	_, _, cpeNS := uplinkLab(t, lab.ISPOptions{RA: true, SLAAC: true})
	box := cpeNS.StartCPE(`{"wan": [{"interface": "wan0", "ra": {}}]}`, "")
	box.WaitCLI(30*time.Second, []string{"show", "wan", "history"}, "learned router fe80::", "learned prefix 2001:db8:a0::/64")
	box.WaitCLI(5*time.Second, []string{"show", "wan"}, "router  fe80::", "on-link 2001:db8:a0::/64", "slaac   2001:db8:a0:")
	var routes, addrs string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		routes = cpeNS.Run("ip", "-6", "route", "show", "proto", "206")
		addrs = cpeNS.Run("ip", "-6", "addr", "show", "dev", "wan0", "scope", "global")
		if strings.Contains(routes, "default via fe80::") && strings.Contains(addrs, "2001:db8:a0:") {
			break
		}
	}
	if !strings.Contains(routes, "default via fe80::") {
		t.Errorf("no default route via the router's link-local address:\n%s", routes)
	}
	if !regexp.MustCompile(`inet6 2001:db8:a0:[0-9a-f:]+/64 scope global`).MatchString(addrs) {
		t.Errorf("no SLAAC address from the advertised prefix:\n%s", addrs)
	}
	if got := cpeNS.Run("sysctl", "-n", "net.ipv6.conf.wan0.accept_ra"); strings.TrimSpace(got) != "0" {
		t.Errorf("accept_ra on wan0 is %q: the kernel must leave RAs to the box", got)
	}
}

// TestDHCPv6StartsOnManagedFlag: with start "auto", DHCPv6 runs only once an
// RA's M flag asks for it, and then gets a prefix.
func TestDHCPv6StartsOnManagedFlag(t *testing.T) {
	requirePeers(t)
	_, _, cpeNS := uplinkLab(t, lab.ISPOptions{RA: true, Managed: true, IANA: true, PD: true})
	box := cpeNS.StartCPE(`{"wan": [{"interface": "wan0", "ra": {}, "dhcp6": {"start": "auto"}}]}`, "")
	box.WaitCLI(30*time.Second, []string{"show", "wan", "history"}, "M/O flags ask for DHCPv6")
	box.WaitCLI(30*time.Second, []string{"show", "wan"}, "prefix  2001:db8:1")
}

// TestNoBindingAfterServerForgets: kea restarted with its leases wiped
// answers the box's Renew for a binding it no longer has (with NoBinding or
// a fresh allocation, as it chooses; the engine's NoBinding -> Request path
// is pinned by its unit tests); the box ends up bound with a prefix again.
func TestNoBindingAfterServerForgets(t *testing.T) {
	requirePeers(t)
	_, isp, cpeNS := uplinkLab(t, lab.ISPOptions{IANA: true, PD: true})
	box := cpeNS.StartCPE(`{"wan": [{"interface": "wan0", "dhcp6": {}}]}`, "")
	box.WaitCLI(30*time.Second, []string{"show", "wan"}, "prefix  2001:db8:1")
	isp.Stop()
	isp.WipeLeases()
	isp.Start()
	time.Sleep(time.Second) // kea opening its sockets
	if _, err := box.CLI("renew", "wan", "0"); err != nil {
		t.Fatal(err)
	}
	out := box.WaitCLI(40*time.Second, []string{"show", "wan"}, "dhcp6: bound", "prefix  2001:db8:1")
	t.Logf("after the server forgot:\n%s", out)
}

// TestLeaseExpiresWhenServerGone: with the ISP's servers gone the DHCPv4
// lease runs out and its address and routes are withdrawn on time.
func TestLeaseExpiresWhenServerGone(t *testing.T) {
	requirePeers(t)
	_, isp, cpeNS := uplinkLab(t, lab.ISPOptions{DHCP4: true, Lifetime: 20 * time.Second})
	box := cpeNS.StartCPE(`{"wan": [{"interface": "wan0", "dhcp4": {}}]}`, "")
	box.WaitCLI(30*time.Second, []string{"show", "wan"}, "dhcp4: BOUND")
	isp.Stop()
	start := time.Now()
	box.WaitCLI(40*time.Second, []string{"show", "wan", "history"}, "lost 192.0.2.")
	t.Logf("lease withdrawn %v after the server went away", time.Since(start).Round(time.Second))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		addrs := cpeNS.Run("ip", "-4", "addr", "show", "dev", "wan0")
		routes := cpeNS.Run("ip", "-4", "route", "show", "proto", "206")
		if !strings.Contains(addrs, "192.0.2.") && !strings.Contains(routes, "default") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("address or route kept after expiry:\n%s\n%s", addrs, routes)
		}
	}
}

// TestReleaseOnlyWhenRemoved: removing the uplink from the configuration
// releases its leases (the only time the box sends Release) and withdraws
// its addresses and routes.
func TestReleaseOnlyWhenRemoved(t *testing.T) {
	requirePeers(t)
	_, isp, cpeNS := uplinkLab(t, lab.ISPOptions{IANA: true, PD: true})
	box := cpeNS.StartCPE(`{"wan": [{"interface": "wan0", "dhcp6": {}}]}`, "")
	box.WaitCLI(30*time.Second, []string{"show", "wan"}, "prefix  2001:db8:1")
	if out, err := box.Script("configure\ndelete wan 0\ncommit comment \"uplink gone\"\n"); err != nil {
		t.Fatalf("removing the uplink: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if strings.Contains(isp.Log("dhcp6"), "RELEASE") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kea saw no Release:\n%s", isp.Log("dhcp6"))
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		routes := cpeNS.Run("ip", "-6", "route", "show", "proto", "206")
		if !strings.Contains(routes, "unreachable") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delegated prefix route kept after the uplink was removed:\n%s", routes)
		}
	}
}

// TestHintRefused: an ISP that gives nothing to a Solicit with a
// prefix-length hint is asked again without it, and the box gets a prefix.
func TestHintRefused(t *testing.T) {
	requirePeers(t)
	_, isp, cpeNS := uplinkLab(t, lab.ISPOptions{PD: true, RefuseHint: true})
	box := cpeNS.StartCPE(`{"wan": [{"interface": "wan0", "dhcp6": {"ia_na": false, "prefix_hint": 48}}]}`, "")
	out := box.WaitCLI(60*time.Second, []string{"show", "wan"}, "prefix  2001:db8:1", "refused the prefix-length hint")
	t.Logf("show wan:\n%s", out)
	// kea classified a hinted Solicit (and so refused it) before the
	// unhinted one succeeded.
	if log := isp.Log("dhcp6"); !strings.Contains(log, "ALLOC_ENGINE_V6_ALLOC_FAIL_CLASSES") {
		t.Errorf("kea never saw a hinted Solicit:\n%s", log)
	}
}
