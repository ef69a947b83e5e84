//go:build linux

package dhcp6

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"

	"cpe/internal/netnstest"
)

func TestListenLinux(t *testing.T) {
	netnstest.Run(t, func() {
		netnstest.Veth(t, "c0", "fe80::c/64", "s0", "fe80::5/64")
		if _, err := Listen("nosuch0"); err == nil {
			t.Error("Listen on a missing interface succeeded")
		}
		conn, err := Listen("c0")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		s0, _ := net.InterfaceByName("s0")
		srvConn, err := net.ListenMulticastUDP("udp6", s0, &net.UDPAddr{IP: net.ParseIP("ff02::1:2"), Port: 547})
		if err != nil {
			t.Fatal(err)
		}
		defer srvConn.Close()
		c, _ := New(Options{Config: both, HardwareAddr: testMAC})
		d := &Driver{Client: c, Interface: "c0", Conn: conn}
		leases := make(chan Lease, 32)
		d.OnLease = func(l Lease) { leases <- l }
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ran := make(chan error, 1)
		go func() { ran <- d.Run(ctx) }()

		// A minimal server on s0: Advertise with preference 255, then Reply.
		_ = srvConn.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 1500)
		var iaid [4]byte
		copy(iaid[:], testMAC[2:])
		ias := []dhcpv6.Option{iaNA(iaid, 0, 0, addr(stdAddr, 3600, 7200)), iaPD(iaid, 0, 0, pfx(stdPrefix, 3600, 7200))}
		for _, want := range []dhcpv6.MessageType{dhcpv6.MessageTypeSolicit, dhcpv6.MessageTypeRequest} {
			var m *dhcpv6.Message
			var from netip.AddrPort
			for m == nil || m.MessageType != want {
				n, src, err := srvConn.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Fatalf("server waiting for %s: %v", want, err)
				}
				from = src
				m, _ = dhcpv6.MessageFromBytes(buf[:n])
			}
			if from.Port() != 546 || from.Addr().WithZone("") != netip.MustParseAddr("fe80::c") {
				t.Errorf("%s from %v, want [fe80::c]:546", want, from)
			}
			var ans *dhcpv6.Message
			if want == dhcpv6.MessageTypeSolicit {
				ans = srv.advertise(sent{m: m}, append([]dhcpv6.Option{dhcpv6.OptPreference(255)}, ias...)...)
			} else {
				ans = srv.reply(sent{m: m}, ias...)
			}
			if _, err := srvConn.WriteToUDPAddrPort(ans.ToBytes(), from); err != nil {
				t.Fatal(err)
			}
		}
		timeout := time.After(10 * time.Second)
		for bound := false; !bound; {
			select {
			case l := <-leases:
				bound = l.State == StateBound && len(l.Prefixes) == 1
			case <-timeout:
				t.Fatal("not bound over a real socket")
			}
		}
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
