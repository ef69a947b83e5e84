//go:build linux

package ra

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"

	"cpe/internal/netnstest"
)

// TestListenLinux runs the Driver on a real socket against a router made
// with the ndp package: it must solicit with our MAC, drop an RA that
// crossed a router (hop limit below 255) and learn from a proper one.
func TestListenLinux(t *testing.T) {
	netnstest.Run(t, func() {
		if _, err := Listen("c0"); err == nil {
			t.Error("Listen on a missing interface succeeded")
		}
		netnstest.Veth(t, "c0", "fe80::c/64", "s0", "fe80::5/64")
		c0, _ := net.InterfaceByName("c0")
		s0, _ := net.InterfaceByName("s0")

		router, _, err := ndp.Listen(s0, ndp.Addr("fe80::5"))
		if err != nil {
			t.Fatal(err)
		}
		defer router.Close()
		// As radvd does: a host that does not forward is no member of
		// all-routers, and the kernel would drop the RS before any socket.
		if err := router.JoinGroup(netip.MustParseAddr("ff02::2")); err != nil {
			t.Fatal(err)
		}
		var f ipv6.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv6.ICMPTypeRouterSolicitation)
		if err := router.SetICMPFilter(&f); err != nil {
			t.Fatal(err)
		}

		conn, err := Listen("c0")
		if err != nil {
			t.Fatal(err)
		}
		r, err := New(Options{Config: Config{Interface: "c0", HardwareAddr: c0.HardwareAddr, LinkMTU: c0.MTU, SecretKey: testKey}})
		if err != nil {
			t.Fatal(err)
		}
		facts := make(chan Facts, 32)
		d := &Driver{Receiver: r, Interface: "c0", Conn: conn, OnFacts: func(f Facts) { facts <- f }}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ran := make(chan error, 1)
		go func() { ran <- d.Run(ctx) }()

		_ = router.SetReadDeadline(time.Now().Add(10 * time.Second))
		m, _, from, err := router.ReadFrom()
		if err != nil {
			t.Fatalf("router waiting for a solicitation: %v", err)
		}
		rs, ok := m.(*ndp.RouterSolicitation)
		if !ok || !from.IsLinkLocalUnicast() || len(rs.Options) != 1 {
			t.Fatalf("got %T %+v from %v", m, m, from)
		}
		if lla, ok := rs.Options[0].(*ndp.LinkLayerAddress); !ok || lla.Addr.String() != c0.HardwareAddr.String() {
			t.Fatalf("solicitation options %+v, want our MAC %v", rs.Options, c0.HardwareAddr)
		}

		adv := &ndp.RouterAdvertisement{CurrentHopLimit: 64, RouterLifetime: 1800 * time.Second, Options: []ndp.Option{
			&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: s0.HardwareAddr},
			pio("2001:db8:1::/64", true, true, 3600, 7200),
			rdnss(600, "2001:db8::53"),
		}}
		all := netip.MustParseAddr("ff02::1")
		forwarded := &ipv6.ControlMessage{HopLimit: 64, Src: netip.MustParseAddr("fe80::5").AsSlice(), IfIndex: s0.Index}
		if err := router.WriteTo(adv, forwarded, all); err != nil {
			t.Fatal(err)
		}
		if err := router.WriteTo(adv, nil, all); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(10 * time.Second)
		for learned := false; !learned; {
			select {
			case f := <-facts:
				learned = len(f.Routers) == 1 && len(f.Addresses) == 1
				if learned && (f.Routers[0].Addr != netip.MustParseAddr("fe80::5") ||
					f.Addresses[0].Addr != stableAddrOn("2001:db8:1::/64", "c0") || len(f.DNS) != 1) {
					t.Fatalf("facts %+v", f)
				}
			case <-timeout:
				_, c := d.Snapshot()
				t.Fatalf("nothing learned over a real socket; counters %+v", c)
			}
		}
		if _, c := d.Snapshot(); c.BadHopLimit != 1 || c.Accepted != 1 {
			t.Errorf("counters %+v, want one RA dropped for its hop limit and one accepted", c)
		}
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
		conn.Close()
	})
}

func stableAddrOn(prefix, ifname string) netip.Addr {
	p := netip.MustParsePrefix(prefix)
	return withIID(p, StableIID(testKey, p, ifname, 0))
}
