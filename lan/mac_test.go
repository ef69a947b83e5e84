package lan

import (
	"net"
	"testing"

	"cpe/internal/netnstest"

	"github.com/vishvananda/netlink"
)

func TestLinkMAC(t *testing.T) {
	netnstest.Run(t, func() {
		netnstest.Veth(t, "lan0", "2001:db8::1/64", "lanp", "2001:db8::2/64")
		l, err := netlink.LinkByName("lan0")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"02:00:5e:10:00:01", "02:00:5e:10:00:02"} {
			mac, _ := net.ParseMAC(s)
			if err := netlink.LinkSetHardwareAddr(l, mac); err != nil {
				t.Fatal(err)
			}
			if got := linkMAC("lan0"); got.String() != s {
				t.Errorf("linkMAC(lan0) = %v, want %s", got, s)
			}
		}
		for _, name := range []string{"lo", "missing0", "a-name-longer-than-ifnamsiz"} {
			if got := linkMAC(name); got != nil {
				t.Errorf("linkMAC(%s) = %v, want none", name, got)
			}
		}
	})
}
