//go:build linux

package dhcp4

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"cpe/internal/netnstest"
)

// TestConnDORA runs the Driver on a real socket in a fresh namespace (the
// server's, srv0 192.0.2.1/24) against a client in another one, cli0
// without any address, as a booting host is.
func TestConnDORA(t *testing.T) {
	netnstest.Run(t, func() {
		srvNS, err := netns.Get()
		if err != nil {
			t.Fatal(err)
		}
		defer srvNS.Close()
		cliNS, err := netns.New() // the thread moves there
		if err != nil {
			t.Fatal(err)
		}
		defer cliNS.Close()
		if err := netns.Set(srvNS); err != nil {
			t.Fatal(err)
		}
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "srv0"}, PeerName: "cli0"}
		if err := netlink.LinkAdd(veth); err != nil {
			t.Fatal(err)
		}
		srv, _ := netlink.LinkByName("srv0")
		cli, _ := netlink.LinkByName("cli0")
		addr, _ := netlink.ParseAddr("192.0.2.1/24")
		if err := errors.Join(netlink.AddrAdd(srv, addr), netlink.LinkSetUp(srv), netlink.LinkSetNsFd(cli, int(cliNS))); err != nil {
			t.Fatal(err)
		}

		cfg := testConfig()
		cfg.Interface = "srv0"
		cfg.Address = netip.MustParsePrefix("192.0.2.1/24")
		cfg.PoolStart, cfg.PoolEnd = netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.110")
		conn, err := NewConn("srv0", cfg.Address.Addr())
		if err != nil {
			t.Fatal(err)
		}
		d := NewDriver(newServer(t, cfg), Options{Conn: conn})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}()

		if err := netns.Set(cliNS); err != nil {
			t.Fatal(err)
		}
		cli, _ = netlink.LinkByName("cli0")
		if err := netlink.LinkSetUp(cli); err != nil {
			t.Fatal(err)
		}
		// Until linkwatch has run, a veth's qdisc drops everything.
		waitOperUp(t, cliNS, "cli0")
		waitOperUp(t, srvNS, "srv0")
		c := clientSocket(t, "cli0")
		defer c.Close()

		sidOpt := sid(net.IPv4(192, 0, 2, 1))
		for _, tc := range []struct {
			name string
			hw   net.HardwareAddr
			bc   bool
		}{{"broadcast bit", mac(1), true}, {"no broadcast bit: broadcast anyway", mac(2), false}} {
			offer, from := exchange(t, c, msg(t, dhcpv4.MessageTypeDiscover, tc.hw, dhcpv4.WithBroadcast(tc.bc)))
			if offer.MessageType() != dhcpv4.MessageTypeOffer || from.Addr().String() != "192.0.2.1" || from.Port() != ServerPort {
				t.Fatalf("%s: %s from %s", tc.name, offer.MessageType(), from)
			}
			ack, _ := exchange(t, c, msg(t, dhcpv4.MessageTypeRequest, tc.hw, sidOpt, dhcpv4.WithBroadcast(tc.bc),
				dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr))))
			if ack.MessageType() != dhcpv4.MessageTypeAck || !ack.YourIPAddr.Equal(offer.YourIPAddr) {
				t.Errorf("%s: %s of %v", tc.name, ack.MessageType(), ack.YourIPAddr)
			}
		}
		if n := len(d.Server().Snapshot(time.Now())); n != 2 {
			t.Errorf("%d leases, want 2", n)
		}
	})
}

func waitOperUp(t *testing.T, ns netns.NsHandle, name string) {
	t.Helper()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if l, err := h.LinkByName(name); err == nil && l.Attrs().OperState == netlink.OperUp {
			return
		}
	}
	t.Fatalf("%s not up", name)
}

func clientSocket(t *testing.T, ifname string) *net.UDPConn {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = errors.Join(unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1), unix.BindToDevice(int(fd), ifname))
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:68")
	if err != nil {
		t.Fatal(err)
	}
	return pc.(*net.UDPConn)
}

func exchange(t *testing.T, c *net.UDPConn, b []byte) (*dhcpv4.DHCPv4, netip.AddrPort) {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort(b, netip.MustParseAddrPort("255.255.255.255:67")); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	m, err := dhcpv4.FromBytes(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	return m, from
}
