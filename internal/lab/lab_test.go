package lab

import (
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLab(t *testing.T) {
	RequireRoot(t)
	var names []string
	t.Run("build", func(t *testing.T) {
		l := New(t)
		a, b := l.Netns("a"), l.Netns("b")
		names = []string{a.Name, b.Name}
		l.Veth(a, "v-a", b, "v-b")
		a.Addr("v-a", netip.MustParsePrefix("192.0.2.1/24"))
		b.Addr("v-b", netip.MustParsePrefix("192.0.2.2/24"))
		a.Addr("v-a", netip.MustParsePrefix("2001:db8::1/64"))
		b.Addr("v-b", netip.MustParsePrefix("2001:db8::2/64"))
		for _, dst := range []string{"192.0.2.2:7", "[2001:db8::2]:7"} {
			udpPing(t, a, b, dst)
		}

		b.Tap("tap0")
		b.Bridge("br0", "tap0")
		if out := b.Run("ip", "-o", "link", "show", "master", "br0"); !strings.Contains(out, "tap0") {
			t.Errorf("tap0 not in br0: %s", out)
		}

		// Go code inside a namespace sees its devices, and the thread comes back.
		err := a.Do(func() error {
			_, err := net.InterfaceByName("v-a")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := net.InterfaceByName("v-a"); err == nil {
			t.Error("v-a visible outside its namespace after Do")
		}

		p := b.Start("sleep", "60")
		pidFile := "/proc/" + strconv.Itoa(p.Cmd.Process.Pid)
		t.Cleanup(func() {
			// Registered after Start's cleanup, so it runs before it: the process lives.
			if _, err := os.Stat(pidFile); err != nil {
				t.Errorf("process gone before its cleanup: %v", err)
			}
		})
		names = append(names, pidFile)
	})
	if len(names) != 3 {
		t.FailNow()
	}
	// After the subtest: namespaces and the process are gone.
	for _, n := range names[:2] {
		if _, err := os.Stat("/var/run/netns/" + n); err == nil {
			t.Errorf("namespace %s left behind", n)
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		stat, err := os.ReadFile(names[2] + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %s still running after cleanup", names[2])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// udpPing sends a datagram from namespace a to dst, where namespace b listens.
func udpPing(t *testing.T, a, b *Netns, dst string) {
	t.Helper()
	var ln net.PacketConn
	if err := b.Do(func() (err error) {
		ln, err = net.ListenPacket("udp", dst)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := a.Do(func() error {
		c, err := net.Dial("udp", dst)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ln.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 16)
	n, _, err := ln.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("to %s: got %q, %v", dst, buf[:n], err)
	}
}
