//go:build linux

package dhcp6

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"cpe/internal/netnstest"
	"cpe/lan/prefix"
)

// TestConnExchange runs the Driver on a real socket in a fresh namespace
// (the server's, srv0) against a client socket in another one (cli0): the
// client multicasts to ff02::1:2 from its link-local address and gets the
// answers unicast; a Solicit arriving on another interface of the server's
// namespace (srv1) is never answered.
func TestConnExchange(t *testing.T) {
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
		for _, pair := range [][2]string{{"srv0", "cli0"}, {"srv1", "cli1"}} {
			if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: pair[0]}, PeerName: pair[1]}); err != nil {
				t.Fatal(err)
			}
			srv, _ := netlink.LinkByName(pair[0])
			cli, _ := netlink.LinkByName(pair[1])
			if err := errors.Join(addLL(srv, "fe80::1"), netlink.LinkSetUp(srv), netlink.LinkSetNsFd(cli, int(cliNS))); err != nil {
				t.Fatal(err)
			}
		}

		// Real time: the socket's packets are handled at the system clock.
		now := time.Now()
		p := newPlannerAt(t, now, prefix.Delegation{Uplink: "wan0", Prefix: deleg1, Preferred: now.Add(time.Hour), Valid: now.Add(2 * time.Hour), Up: true})
		cfg := p.config()
		cfg.Interface = "srv0"
		s := newServer(t, cfg)
		conn, err := NewConn("srv0")
		if err != nil {
			t.Fatal(err)
		}
		routes := make(chan []Route, 8)
		d := NewDriver(s, Options{Conn: conn, OnRoutes: func(r []Route) { routes <- r }})
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
		for _, name := range []string{"cli0", "cli1"} {
			cli, _ := netlink.LinkByName(name)
			if err := errors.Join(addLL(cli, "fe80::2"), netlink.LinkSetUp(cli)); err != nil {
				t.Fatal(err)
			}
			// Until linkwatch has run, a veth's qdisc drops everything.
			waitOperUp(t, cliNS, name)
		}
		waitOperUp(t, srvNS, "srv0")
		c := clientSocket(t, "cli0")
		defer c.Close()

		_, m := exchange(t, c, "cli0", msg(dhcpv6.MessageTypeSolicit, clientDUID(1), pd(1)))
		if m.MessageType != dhcpv6.MessageTypeAdvertise {
			t.Fatalf("got %s", m.Summary())
		}
		from, m := exchange(t, c, "cli0", msg(dhcpv6.MessageTypeRequest, clientDUID(1), ours, pd(1)))
		if m.MessageType != dhcpv6.MessageTypeReply || !from.Addr().IsLinkLocalUnicast() || from.Port() != ServerPort {
			t.Fatalf("got %s from %s", m.Summary(), from)
		}
		want := netip.MustParseAddr("fe80::2")
		for {
			r := wait(t, routes, "routes")
			if len(r) == 1 {
				if r[0].Via != want {
					t.Errorf("route via %s, want %s", r[0].Via, want)
				}
				break
			}
		}

		// The other interface: no answer, although srv1 is in the same
		// namespace and up.
		other := clientSocket(t, "cli1")
		defer other.Close()
		send(t, other, "cli1", msg(dhcpv6.MessageTypeSolicit, clientDUID(2), pd(1)))
		if err := other.SetReadDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if n, _, err := other.ReadFromUDPAddrPort(make([]byte, 1500)); err == nil {
			t.Errorf("answered on srv1: %d bytes", n)
		}
		if snap := d.Server().Snapshot(time.Now()); slices.ContainsFunc(snap, func(l Lease) bool { return l.DUID == hexColon(clientDUID(2)) }) {
			t.Errorf("a binding from srv1: %+v", snap)
		}
	})
}

func addLL(l netlink.Link, a string) error {
	addr, err := netlink.ParseAddr(a + "/64")
	if err != nil {
		return err
	}
	addr.Flags = unix.IFA_F_NODAD
	return netlink.AddrAdd(l, addr)
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
		err := c.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), ifname) })
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp6", "[fe80::2%"+ifname+"]:546")
	if err != nil {
		t.Fatal(err)
	}
	return pc.(*net.UDPConn)
}

func send(t *testing.T, c *net.UDPConn, ifname string, b []byte) {
	t.Helper()
	to := netip.AddrPortFrom(allServers.WithZone(ifname), ServerPort)
	if _, err := c.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatal(err)
	}
}

func exchange(t *testing.T, c *net.UDPConn, ifname string, b []byte) (netip.AddrPort, *dhcpv6.Message) {
	t.Helper()
	send(t, c, ifname, b)
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	m, err := parseReply(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	return from, m
}
