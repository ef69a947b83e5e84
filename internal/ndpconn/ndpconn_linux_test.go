package ndpconn

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv6"

	"cpe/internal/netnstest"
)

// TestListen: only the accepted type passes the filter, and it arrives with
// its hop limit and a source without zone.
func TestListen(t *testing.T) {
	netnstest.Run(t, func() {
		if _, err := Listen("c0", ipv6.ICMPTypeRouterSolicitation); err == nil {
			t.Error("Listen on a missing interface succeeded")
		}
		netnstest.Veth(t, "c0", "fe80::c/64", "s0", "fe80::5/64")
		s0, _ := net.InterfaceByName("s0")
		peer, _, err := ndp.Listen(s0, ndp.Addr("fe80::5"))
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()

		c, err := Listen("c0", ipv6.ICMPTypeRouterSolicitation)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()

		to := netip.MustParseAddr("fe80::c")
		if err := peer.WriteTo(&ndp.RouterAdvertisement{CurrentHopLimit: 64}, nil, to); err != nil {
			t.Fatal(err)
		}
		if err := peer.WriteTo(&ndp.RouterSolicitation{}, nil, to); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, 1500)
		n, from, hop, err := c.ReadFrom(b)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 || ipv6.ICMPType(b[0]) != ipv6.ICMPTypeRouterSolicitation {
			t.Errorf("read %x, want only the solicitation through the filter", b[:n])
		}
		if from != netip.MustParseAddr("fe80::5") || hop != 255 {
			t.Errorf("from %v hop limit %d, want fe80::5 (no zone) and 255", from, hop)
		}

		// Reading past the deadline must fail rather than block.
		_ = c.SetReadDeadline(time.Now())
		if _, _, _, err := c.ReadFrom(b); err == nil {
			t.Error("ReadFrom after the deadline succeeded")
		}
	})
}

// TestListenTentative: no socket while the only link-local address is
// still doing DAD, and the error says so.
func TestListenTentative(t *testing.T) {
	netnstest.Run(t, func() {
		la := netlink.NewLinkAttrs()
		la.Name = "c0"
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "s0"}); err != nil {
			t.Fatalf("veth: %v", err)
		}
		l, _ := netlink.LinkByName("c0")
		// No automatic link-local: only the tentative one added here.
		if err := netlink.LinkSetIP6AddrGenMode(l, 1); err != nil {
			t.Skipf("addr_gen_mode: %v", err)
		}
		peer, _ := netlink.LinkByName("s0")
		for _, x := range []netlink.Link{l, peer} {
			if err := netlink.LinkSetUp(x); err != nil {
				t.Fatal(err)
			}
		}
		ad, _ := netlink.ParseAddr("fe80::c/64")
		if err := netlink.AddrAdd(l, ad); err != nil {
			t.Fatal(err)
		}
		if _, err := UsableLinkLocal(l.Attrs().Index); !errors.Is(err, ErrNoLinkLocal) {
			t.Errorf("UsableLinkLocal on a tentative address: %v, want ErrNoLinkLocal", err)
		}
		if _, err := Listen("c0", ipv6.ICMPTypeRouterAdvertisement); !errors.Is(err, ErrNoLinkLocal) {
			t.Errorf("Listen on a tentative address: %v, want ErrNoLinkLocal", err)
		}
	})
}
