package babel

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"cpe/internal/netnstest"

	"golang.org/x/sys/unix"
)

// TestBabeldInterop runs Debian's babeld on one end of a veth in a fresh
// namespace and parses what arrives on the other end for a few seconds.
func TestBabeldInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: takes seconds")
	}
	babeld, err := exec.LookPath("babeld")
	if err != nil {
		t.Skip("babeld not installed (apt-get install babeld)")
	}
	dir := t.TempDir()
	netnstest.Run(t, func() {
		netnstest.Veth(t, "mesh0", "2001:db8::1/64", "mesh0p", "2001:db8::2/64")
		peer, err := net.InterfaceByName("mesh0p")
		if err != nil {
			t.Fatal(err)
		}
		// babeld binds the same port in this namespace; both sockets need
		// SO_REUSEADDR to share the multicast group's datagrams.
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			})
			if err != nil {
				return err
			}
			return serr
		}}
		pc, err := lc.ListenPacket(t.Context(), "udp6", "[::]:6696")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		fd, err := pc.(*net.UDPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var jerr error
		fd.Control(func(s uintptr) {
			mreq := &unix.IPv6Mreq{Interface: uint32(peer.Index)}
			copy(mreq.Multiaddr[:], netip.MustParseAddr("ff02::1:6").AsSlice())
			jerr = unix.SetsockoptIPv6Mreq(int(s), unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq)
		})
		if jerr != nil {
			t.Fatal(jerr)
		}

		cmd := exec.Command(babeld, "-d", "0",
			"-I", filepath.Join(dir, "babeld.pid"), "-S", filepath.Join(dir, "babeld.state"),
			"-C", "redistribute local allow", "mesh0")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}()

		buf := make([]byte, 65536)
		deadline := time.Now().Add(6 * time.Second)
		packets, updates := 0, 0
		for time.Now().Before(deadline) {
			pc.SetReadDeadline(deadline)
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				break
			}
			p, err := Parse(buf[:n])
			if err != nil {
				t.Errorf("packet from %v: %v (% x)", from, err, buf[:n])
				continue
			}
			if len(p.Ignored) != 0 {
				t.Errorf("packet from %v: ignored %+v (% x)", from, p.Ignored, buf[:n])
			}
			packets++
			for _, x := range p.TLVs {
				if _, ok := x.(Update); ok {
					updates++
				}
			}
			t.Logf("from %v: %d TLVs %v", from, len(p.TLVs), tlvTypes(p.TLVs))
		}
		if packets == 0 {
			t.Fatal("no packet from babeld in 6 s")
		}
		t.Logf("%d packets, %d Updates", packets, updates)
	})
}

func tlvTypes(tlvs []TLV) []Type {
	out := make([]Type, len(tlvs))
	for i, x := range tlvs {
		out[i] = x.Type()
	}
	return out
}
