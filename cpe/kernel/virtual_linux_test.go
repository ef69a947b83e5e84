package kernel

import (
	"context"
	"os/exec"
	"strings"
	"testing"
)

// TestLabVirtual: the Applier creates a bridge over a port and a VLAN
// sub-interface, leaves them alone on a second Apply, releases a port
// dropped from the bridge, deletes what it created once no longer wanted,
// and never deletes or re-shapes a link it did not create.
func TestLabVirtual(t *testing.T) {
	ns := labNamespaces(t)
	// veth pairs stand for NICs: this test machine's kernel may lack dummy.
	for _, name := range []string{"eth1", "eth2", "theirs"} {
		ip(t, "-n", ns, "link", "add", name, "type", "veth", "peer", "name", name+"p")
	}
	a := labApplier(t, ns)
	apply := func(d Desired) ([]string, error) { return a.Apply(context.Background(), d) }

	// The lab machine's kernel may have no 802.1Q: then eth2 is a plain
	// port and VLANs are left to the system tier, whose kernel has them.
	port2 := "eth2"
	d := Desired{
		Virtual: []VirtualLink{{Name: "br-lan", Kind: Bridge, Ports: []string{"eth1", "eth2"}}},
		Links:   []Link{{Name: "br-lan", Up: true}},
	}
	wantChanges := []string{"create bridge br-lan", "set link eth1 master br-lan", "set link eth2 master br-lan", "set link br-lan up"}
	vlan := exec.Command("ip", "-n", ns, "link", "add", "link", "eth2", "name", "probe.1", "type", "vlan", "id", "1").Run() == nil
	if vlan {
		ip(t, "-n", ns, "link", "del", "probe.1")
		port2 = "eth2.10"
		d.Virtual = []VirtualLink{
			{Name: "br-lan", Kind: Bridge, Ports: []string{"eth1", "eth2.10"}},
			{Name: "eth2.10", Kind: VLAN, Parent: "eth2", ID: 10},
		}
		wantChanges = append(wantChanges, "create vlan eth2.10 on eth2 id 10", "set link eth2.10 master br-lan")
	} else {
		t.Log("no 802.1Q in this kernel: VLAN sub-interfaces not tested here")
	}
	changes, err := apply(d)
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(changes, "\n"))
	}
	for _, want := range wantChanges {
		if !strings.Contains(strings.Join(changes, "\n"), want) {
			t.Errorf("changes lack %q:\n%s", want, strings.Join(changes, "\n"))
		}
	}
	if out := ip(t, "-n", ns, "-d", "link", "show", port2); !strings.Contains(out, "master br-lan") ||
		(vlan && !strings.Contains(out, "vlan protocol 802.1Q id 10")) {
		t.Errorf("%s:\n%s", port2, out)
	}
	if out := ip(t, "-n", ns, "link", "show", "eth1"); !strings.Contains(out, "master br-lan") || !strings.Contains(out, "UP") {
		t.Errorf("eth1 not an up port of br-lan:\n%s", out)
	}
	if changes, err := apply(d); err != nil || len(changes) != 0 {
		t.Errorf("second Apply: %v %v, want nothing", changes, err)
	}

	// eth1 leaves the bridge.
	d.Virtual[0].Ports = []string{port2}
	changes, err = apply(d)
	if err != nil || strings.Join(changes, "\n") != "set link eth1 nomaster" {
		t.Errorf("dropping a port: %q, %v", changes, err)
	}

	// A link of the box's name that it did not create is refused, and kept.
	_, err = apply(Desired{Virtual: []VirtualLink{{Name: "theirs", Kind: Bridge}}})
	if err == nil || !strings.Contains(err.Error(), "not the box's") {
		t.Errorf("taking over a foreign link: %v", err)
	}
	if out := ip(t, "-n", ns, "-d", "link", "show", "theirs"); !strings.Contains(out, "veth") {
		t.Errorf("foreign link changed:\n%s", out)
	}
	// The Desired above named neither br-lan nor eth2.10: both were deleted.
	if out := ip(t, "-n", ns, "link", "show"); strings.Contains(out, "br-lan") || (vlan && strings.Contains(out, "eth2.10")) {
		t.Errorf("links the box made and no longer wants are still there:\n%s", out)
	}
	if out := ip(t, "-n", ns, "link", "show", "eth2"); !strings.Contains(out, "eth2") {
		t.Errorf("the VLAN's parent went too:\n%s", out)
	}
}

func TestVirtualChecked(t *testing.T) {
	for _, v := range []VirtualLink{
		{Name: "v", Kind: VLAN, Parent: "eth0", ID: 0},
		{Name: "v", Kind: VLAN, Parent: "eth0", ID: 4095},
		{Name: "v", Kind: VLAN, Parent: ""},
		{Name: "br", Kind: Bridge, Ports: []string{"br"}},
		{Name: "bad name", Kind: Bridge},
		{Name: "x", Kind: 9},
	} {
		if _, err := (Desired{Virtual: []VirtualLink{v}}).normalize(); err == nil {
			t.Errorf("%+v accepted", v)
		}
	}
	_, err := (Desired{Virtual: []VirtualLink{{Name: "a", Kind: Bridge, Ports: []string{"p"}}, {Name: "b", Kind: Bridge, Ports: []string{"p"}}}}).normalize()
	if err == nil || !strings.Contains(err.Error(), "already a port of a") {
		t.Errorf("a port in two bridges: %v", err)
	}
}
