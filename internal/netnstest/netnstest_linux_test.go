package netnstest

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestRunAndVeth(t *testing.T) {
	Run(t, func() {
		links, err := netlink.LinkList()
		if err != nil {
			t.Error(err)
			return
		}
		if len(links) != 1 || links[0].Attrs().Name != "lo" {
			t.Errorf("a new namespace has links %v, want only lo", links)
		}
		Veth(t, "t0", "fe80::1/64", "t1", "fe80::2/64")
		for _, name := range []string{"t0", "t1"} {
			l, err := netlink.LinkByName(name)
			if err != nil {
				t.Error(err)
				continue
			}
			if l.Attrs().Flags&net.FlagUp == 0 {
				t.Errorf("%s is down", name)
			}
			addrs, err := netlink.AddrList(l, netlink.FAMILY_V6)
			if err != nil {
				t.Error(err)
				continue
			}
			var found bool
			for _, a := range addrs {
				found = found || (a.IP.String() == map[string]string{"t0": "fe80::1", "t1": "fe80::2"}[name] && a.Flags&unix.IFA_F_TENTATIVE == 0)
			}
			if !found {
				t.Errorf("%s: addresses %v, want a non-tentative test address", name, addrs)
			}
		}
	})
	// The links stayed in the namespace, which went with its thread.
	after, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range after {
		if ifi.Name == "t0" || ifi.Name == "t1" {
			t.Errorf("%s leaked into the host namespace", ifi.Name)
		}
	}
}
