// Package pollwait calls a function each time a descriptor becomes
// readable, in one wait on the Go runtime's network poller that lasts
// until Close, without reading the descriptor.
//
// The poller's registration is edge-triggered, and each event the kernel
// signals (a timer's expiry, a datagram or a netlink message queued) is an
// edge of its own: nothing goes unsignalled while the wait lasts, and the
// owner reads, drains or arms the descriptor again when it likes. A wait
// begun anew, as every Read on an os.File or a syscall.RawConn begins,
// forgets what the poller saw before it; this one forgets nothing from the
// moment Start returns. And the goroutine waiting costs no thread: the
// runtime's poller wakes it, so no Go timer and no monitor thread is
// involved.
package pollwait

import (
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A Waiter waits for one descriptor's readiness.
type Waiter struct {
	f   *os.File
	raw syscall.RawConn
	wg  sync.WaitGroup
}

// Start takes fd over (Close closes it, and so does a failed Start),
// registers it with the poller, and calls fn for each readiness after
// Start returned, from its own goroutine. fn runs inside the wait: it
// must not block, and it should not read fd when another reader may.
func Start(fd int, name string, fn func()) (*Waiter, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	raw, err := f.SyscallConn()
	if err == nil {
		// Fails for a descriptor the poller refused.
		err = f.SetReadDeadline(time.Time{})
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	w := &Waiter{f: f, raw: raw}
	waiting := make(chan struct{})
	w.wg.Add(1)
	go w.wait(waiting, fn)
	<-waiting
	return w, nil
}

// wait is the one wait. Its function is called once before the wait
// begins, which is when Start may return.
func (w *Waiter) wait(waiting chan<- struct{}, fn func()) {
	defer w.wg.Done()
	started := false
	w.raw.Read(func(uintptr) bool {
		if !started {
			started = true
			close(waiting)
		} else {
			fn()
		}
		return false
	})
	if !started {
		close(waiting)
	}
}

// Control calls fn with the descriptor, as syscall.RawConn's Control
// does: for a system call on it (arming a timer again, say).
func (w *Waiter) Control(fn func(fd uintptr)) error { return w.raw.Control(fn) }

// Close closes the descriptor and returns when the wait has ended: fn is
// not called after.
func (w *Waiter) Close() {
	w.f.Close()
	w.wg.Wait()
}
