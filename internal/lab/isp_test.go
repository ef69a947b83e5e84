package lab

import (
	"strings"
	"testing"
	"time"
)

// TestISP checks the ISP peers themselves: the servers start on the link
// and radvd's advertisement reaches a host (rdisc6) with the flags asked for.
func TestISP(t *testing.T) {
	RequireRoot(t)
	for _, bin := range []string{"kea-dhcp4", "kea-dhcp6", "radvd", "rdisc6"} {
		if _, err := runCmd("sh", "-c", "command -v "+bin); err != nil {
			t.Skipf("lab test: %s is not installed (make deps installs it)", bin)
		}
	}
	l := New(t)
	isp, host := l.Netns("isp"), l.Netns("host")
	l.Veth(isp, "isp0", host, "wan0")
	i := l.NewISP(isp, "isp0", ISPOptions{DHCP4: true, IANA: true, PD: true, RA: true, Managed: true, Other: true})

	host.WaitLinkLocal("wan0")
	out, err := host.Exec("rdisc6", "-1", "-w", "3000", "wan0")
	if err != nil {
		t.Fatalf("rdisc6: %v\n%s", err, out)
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{"Stateful address conf. : Yes", "Stateful other conf. : Yes", i.opts.v6Net().String(), i.opts.DNS6().String()} {
		if !strings.Contains(flat, want) {
			t.Errorf("RA seen by the host lacks %q:\n%s", want, out)
		}
	}
	time.Sleep(500 * time.Millisecond)
	for name, p := range i.procs {
		select {
		case <-p.Exited():
			t.Errorf("%s exited: %s", name, p.Output())
		default:
		}
	}
	i.Stop()
	if len(i.procs) != 0 {
		t.Errorf("servers left after Stop: %v", i.procs)
	}
}
