//go:build linux

package dhcp4

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"cpe/internal/netnstest"
)

// lab is two fresh network namespaces joined by a veth pair: the client's
// dhcpc0 (no address) and the server's dhcps0 (192.0.2.1/24).
type lab struct{ client, server netns.NsHandle }

// inLab runs f on a thread that owns the lab; f switches between the two
// namespaces with netns.Set before opening sockets or changing links.
// Sockets keep their namespace; both namespaces go away with the thread and
// the last socket.
func inLab(t *testing.T, f func(l lab)) {
	t.Helper()
	var err error
	netnstest.Run(t, func() {
		var l lab
		if l, err = buildLab(); err == nil {
			f(l)
			l.client.Close()
			l.server.Close()
		}
	})
	if err != nil {
		t.Skipf("cannot build the test network: %v", err)
	}
}

// buildLab makes the server's namespace next to the thread's fresh one,
// which becomes the client's.
func buildLab() (l lab, err error) {
	if l.client, err = netns.Get(); err != nil {
		return l, err
	}
	if l.server, err = netns.New(); err != nil { // also moves the thread there
		return l, err
	}
	if err := netns.Set(l.client); err != nil {
		return l, err
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "dhcpc0"}, PeerName: "dhcps0"}
	if err := netlink.LinkAdd(veth); err != nil {
		return l, err
	}
	peer, err := netlink.LinkByName("dhcps0")
	if err != nil {
		return l, err
	}
	if err := netlink.LinkSetNsFd(peer, int(l.server)); err != nil {
		return l, err
	}
	if err := linksUp("lo", "dhcpc0"); err != nil {
		return l, err
	}
	if err := netns.Set(l.server); err != nil {
		return l, err
	}
	if err := linksUp("lo", "dhcps0"); err != nil {
		return l, err
	}
	if err := addAddr("dhcps0", "192.0.2.1/24"); err != nil {
		return l, err
	}
	// Frames sent before a veth end has carrier are dropped; a DHCP client
	// would retransmit, a test would time out. Each end gets its carrier
	// from the kernel's link watch on its own, so wait for both.
	if err := waitOperUp("dhcps0"); err != nil {
		return l, err
	}
	if err := netns.Set(l.client); err != nil {
		return l, err
	}
	return l, waitOperUp("dhcpc0")
}

func waitOperUp(name string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		if l.Attrs().OperState == netlink.OperUp {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: operstate %v", name, l.Attrs().OperState)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func linksUp(names ...string) error {
	for _, name := range names {
		l, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return err
		}
	}
	return nil
}

func addAddr(link, prefix string) error {
	l, err := netlink.LinkByName(link)
	if err != nil {
		return err
	}
	a, err := netlink.ParseAddr(prefix)
	if err != nil {
		return err
	}
	return netlink.AddrAdd(l, a)
}

// serverSocket listens on 67 on dhcps0, broadcast capable.
func serverSocket() (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = errors.Join(unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1),
				unix.BindToDevice(int(fd), "dhcps0"))
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:67")
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

func TestPacketConn(t *testing.T) {
	inLab(t, func(l lab) {
		if err := netns.Set(l.client); err != nil {
			t.Error(err)
			return
		}
		conn, err := NewConn("dhcpc0")
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		if err := netns.Set(l.server); err != nil {
			t.Error(err)
			return
		}
		srv, err := serverSocket()
		if err != nil {
			t.Error(err)
			return
		}
		defer srv.Close()
		// Broadcast from an interface without an address. The link watch
		// marks a veth up a moment before its queue takes frames, so send
		// again, as a client would, until the server hears one.
		buf := make([]byte, 1500)
		var (
			n    int
			from netip.AddrPort
		)
		for deadline := time.Now().Add(5 * time.Second); ; {
			if err := conn.Send(Packet{Data: []byte("discover"), Broadcast: true, To: limitedBroadcast}); err != nil {
				t.Error(err)
				return
			}
			srv.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, from, err = srv.ReadFromUDPAddrPort(buf)
			if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || time.Now().After(deadline) {
				break
			}
		}
		if err != nil || string(buf[:n]) != "discover" || from != netip.MustParseAddrPort("0.0.0.0:68") {
			t.Errorf("server got %q from %v: %v", buf[:n], from, err)
			return
		}
		srv.SetDeadline(time.Now().Add(5 * time.Second))
		// A broadcast reply reaches the client that has no address; its own
		// broadcast, looped back by the packet socket, must not.
		if _, err := srv.WriteToUDPAddrPort([]byte("offer"), netip.MustParseAddrPort("255.255.255.255:68")); err != nil {
			t.Error(err)
			return
		}
		got := receive(t, conn)
		if got != "offer" {
			t.Errorf("client got %q, want the server's broadcast", got)
		}

		// With an address: unicast to the server and back.
		if err := errors.Join(netns.Set(l.client), addAddr("dhcpc0", "192.0.2.10/24")); err != nil {
			t.Error(err)
			return
		}
		from10 := netip.MustParseAddr("192.0.2.10")
		if err := conn.Send(Packet{Data: []byte("renew"), To: netip.MustParseAddr("192.0.2.1"), From: from10}); err != nil {
			t.Error(err)
			return
		}
		n, from, err = srv.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != "renew" || from != netip.AddrPortFrom(from10, 68) {
			t.Errorf("server got %q from %v: %v", buf[:n], from, err)
			return
		}
		if _, err := srv.WriteToUDPAddrPort([]byte("ack"), from); err != nil {
			t.Error(err)
			return
		}
		if got := receive(t, conn); got != "ack" {
			t.Errorf("client got %q, want the unicast ACK", got)
		}
	})
}

// receive waits for one payload, closing conn to unblock it on timeout.
func receive(t *testing.T, conn Conn) string {
	type result struct {
		s   string
		err error
	}
	r := make(chan result, 1)
	go func() {
		buf := make([]byte, 1500)
		n, err := conn.Receive(buf)
		r <- result{string(buf[:n]), err}
	}()
	select {
	case res := <-r:
		if res.err != nil {
			t.Error(res.err)
		}
		return res.s
	case <-time.After(5 * time.Second):
		conn.Close()
		<-r
		t.Error("nothing received")
		return ""
	}
}

func TestPacketConnCloseUnblocksReceive(t *testing.T) {
	inLab(t, func(l lab) {
		if err := netns.Set(l.client); err != nil {
			t.Error(err)
			return
		}
		conn, err := NewConn("dhcpc0")
		if err != nil {
			t.Error(err)
			return
		}
		done := make(chan error, 1)
		go func() {
			_, err := conn.Receive(make([]byte, 100))
			done <- err
		}()
		conn.Close()
		select {
		case err := <-done:
			if err == nil {
				t.Error("Receive after Close returned no error")
			}
		case <-time.After(5 * time.Second):
			t.Error("Close did not unblock Receive")
		}
	})
}

func TestNewConnNoInterface(t *testing.T) {
	if _, err := NewConn("no-such-if0"); err == nil {
		t.Error("no error for a missing interface")
	}
}

// TestDriverOverPacketConn runs the real driver and socket against a small
// server in the lab: DORA with no address on the interface, then, once the
// address is configured as the planner would, a unicast renewal.
func TestDriverOverPacketConn(t *testing.T) {
	inLab(t, func(l lab) {
		if err := netns.Set(l.client); err != nil {
			t.Error(err)
			return
		}
		ifi, err := net.InterfaceByName("dhcpc0")
		if err != nil {
			t.Error(err)
			return
		}
		conn, err := NewConn("dhcpc0")
		if err != nil {
			t.Error(err)
			return
		}
		if err := netns.Set(l.server); err != nil {
			t.Error(err)
			return
		}
		srv, err := serverSocket()
		if err != nil {
			t.Error(err)
			return
		}
		defer srv.Close()
		if err := netns.Set(l.client); err != nil {
			t.Error(err)
			return
		}

		// The server answers everything: OFFER to a DISCOVER, ACK to a
		// REQUEST, broadcast until the client has an address.
		served := make(chan struct{})
		go func() {
			defer close(served)
			buf := make([]byte, 1500)
			for {
				n, _, err := srv.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				m, err := dhcpv4.FromBytes(buf[:n])
				if err != nil {
					continue
				}
				typ := dhcpv4.MessageTypeAck
				if m.MessageType() == dhcpv4.MessageTypeDiscover {
					typ = dhcpv4.MessageTypeOffer
				}
				dst := netip.MustParseAddrPort("255.255.255.255:68")
				if ci, _ := netip.AddrFromSlice(m.ClientIPAddr.To4()); ci.IsValid() && !ci.IsUnspecified() {
					dst = netip.AddrPortFrom(ci, 68)
				}
				srv.WriteToUDPAddrPort(answer(t, buf[:n], typ), dst)
			}
		}()

		c, err := New(Config{Interface: "dhcpc0", HWAddr: ifi.HardwareAddr})
		if err != nil {
			t.Error(err)
			return
		}
		leases := make(chan Lease, 16)
		d := NewDriver(c, Options{Conn: conn, OnLease: func(l Lease) { leases <- l },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		runErr := make(chan error, 1)
		go func() { runErr <- d.Run(ctx) }()

		bound := func() (Lease, bool) {
			for {
				select {
				case l := <-leases:
					if l.State == StateBound {
						return l, true
					}
				case <-ctx.Done():
					t.Error("no lease")
					return Lease{}, false
				}
			}
		}
		first, ok := bound()
		if !ok {
			return
		}
		if first.Address != netip.MustParsePrefix("192.0.2.10/24") {
			t.Errorf("bound to %v", first.Address)
		}
		if err := addAddr("dhcpc0", first.Address.String()); err != nil {
			t.Error(err)
			return
		}
		if err := d.ForceRenew(ctx); err != nil {
			t.Error(err)
			return
		}
		if again, ok := bound(); ok && !again.Start.After(first.Start) {
			t.Errorf("renewal did not extend the lease: %v then %v", first.Start, again.Start)
		}
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
		srv.Close()
		<-served
	})
}
