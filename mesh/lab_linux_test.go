package mesh_test

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

// meshBox starts `cpe run` in ns with a LAN on lan0 (ULA only: no uplink)
// and Babel on the given wired interfaces.
func meshBox(t *testing.T, ns *lab.Netns, ifaces ...string) *lab.CPE {
	t.Helper()
	var mi []string
	for _, i := range ifaces {
		mi = append(mi, fmt.Sprintf(`{"interface": %q, "type": "wired", "hello_interval": "1s", "update_interval": "4s"}`, i))
	}
	return ns.StartCPE(`{"lan": [{"interface": "lan0", "ipv6": {}}],
	  "mesh": {"interfaces": [`+strings.Join(mi, ", ")+`]}}`, "")
}

// lanAddr waits for the box's own address on its LAN's ULA /64.
func lanAddr(t *testing.T, ns *lab.Netns) string {
	t.Helper()
	re := regexp.MustCompile(`inet6 (fd[0-9a-f:]+::1)/64`)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if m := re.FindStringSubmatch(ns.Run("ip", "-6", "addr", "show", "dev", "lan0")); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no ULA address on lan0 in %s", ns.Name)
	return ""
}

// TestTwoBoxes: two boxes on a wired link learn each other's LAN prefixes
// over Babel, install them, and reach each other's LAN addresses.
func TestTwoBoxes(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireCommands(t, "ping")
	l := lab.New(t)
	a, b := l.Netns("a"), l.Netns("b")
	ha, hb := l.Netns("ha"), l.Netns("hb")
	l.Veth(a, "mesh0", b, "mesh0")
	l.Veth(a, "lan0", ha, "eth0")
	l.Veth(b, "lan0", hb, "eth0")
	boxA, boxB := meshBox(t, a, "mesh0"), meshBox(t, b, "mesh0")
	addrA, addrB := lanAddr(t, a), lanAddr(t, b)

	out := boxA.WaitCLI(30*time.Second, []string{"show", "babel", "routes"}, strings.TrimSuffix(addrB, "1")+"/64")
	t.Logf("A's Babel routes:\n%s", out)
	if !regexp.MustCompile(regexp.QuoteMeta(strings.TrimSuffix(addrB, "1")+"/64") + `\s+-\s+96\s`).MatchString(out) {
		t.Errorf("B's prefix not at metric 96 over one wired hop:\n%s", out)
	}
	boxA.WaitCLI(10*time.Second, []string{"show", "routes"}, strings.TrimSuffix(addrB, "1")+"/64")
	var pingOut string
	var err error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if pingOut, err = a.Exec("ping", "-6", "-c", "2", "-i", "0.2", "-W", "1", "-I", addrA, addrB); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("A cannot reach B's LAN address %s: %v\n%s\n%s\n%s", addrB, err, pingOut, a.Run("ip", "-6", "route"), boxB.Proc.Output())
	}
	if out := boxB.WaitCLI(5*time.Second, []string{"show", "babel", "neighbours"}, "mesh0"); !strings.Contains(out, "fe80::") {
		t.Errorf("show babel neighbours:\n%s", out)
	}
}
