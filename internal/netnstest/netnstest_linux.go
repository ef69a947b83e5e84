package netnstest

import (
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Run calls f on a new goroutine whose OS thread has been moved into a
// fresh network namespace, and returns when f does. The thread stays
// locked, so the runtime throws it away afterwards and the namespace goes
// with it (and with the last socket opened in it): there is nothing to
// clean up. Sockets and netlink calls meant for the namespace must be made
// on f's goroutine. Run skips the test when not root.
func Run(t testing.TB, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Never unlocked: the thread must not go back to the pool in the
		// test's namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		f()
	}()
	<-done
}

// Veth adds the veth pair name–peer in the calling thread's namespace,
// gives each end the address given for it (IPv6 ones without DAD, so the
// test need not wait for it) and sets both up.
func Veth(t testing.TB, name, addr, peer, peerAddr string) {
	t.Helper()
	la := netlink.NewLinkAttrs()
	la.Name = name
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: peer}); err != nil {
		t.Fatalf("veth: %v", err)
	}
	for _, end := range [][2]string{{name, addr}, {peer, peerAddr}} {
		l, err := netlink.LinkByName(end[0])
		if err != nil {
			t.Fatal(err)
		}
		a, err := netlink.ParseAddr(end[1])
		if err != nil {
			t.Fatal(err)
		}
		a.Flags = unix.IFA_F_NODAD
		if err := netlink.AddrAdd(l, a); err != nil {
			t.Fatal(err)
		}
		if err := netlink.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
}
