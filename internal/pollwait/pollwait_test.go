package pollwait

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cpe/internal/leaktest"
)

// TestEveryDatagramSignals: each datagram queued calls the function, also
// when the ones before were never read; after Close it is not called.
func TestEveryDatagramSignals(t *testing.T) {
	leaktest.Check(t)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	ready := make(chan struct{}, 10)
	w, err := Start(fds[0], "test", func() { ready <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			w.Close()
		}
	}()
	select {
	case <-ready:
		t.Fatal("called before anything was queued")
	case <-time.After(50 * time.Millisecond):
	}
	for i := range 3 {
		if _, err := unix.Write(fds[1], []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ready:
		case <-time.After(5 * time.Second):
			t.Fatalf("datagram %d (%d unread before it): not signalled", i, i)
		}
	}
	// Control reaches the descriptor: the three datagrams are there.
	var n int
	if err := w.Control(func(fd uintptr) {
		for {
			if _, _, err := unix.Recvfrom(int(fd), make([]byte, 8), unix.MSG_DONTWAIT); err != nil {
				return
			}
			n++
		}
	}); err != nil || n != 3 {
		t.Errorf("Control: read %d datagrams, %v; want 3", n, err)
	}
	w.Close()
	closed = true
	unix.Write(fds[1], []byte{9})
	select {
	case <-ready:
		t.Error("called after Close")
	case <-time.After(50 * time.Millisecond):
	}
}

// TestStartRefused: a descriptor the poller cannot wait on (a regular
// file) is an error, and closed.
func TestStartRefused(t *testing.T) {
	leaktest.Check(t)
	f, err := os.Create(filepath.Join(t.TempDir(), "plain"))
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if w, err := Start(fd, "plain", func() {}); err == nil {
		w.Close()
		t.Fatal("Start on a regular file: no error")
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != unix.EBADF {
		t.Errorf("the refused descriptor is still open: %v", err)
	}
}
