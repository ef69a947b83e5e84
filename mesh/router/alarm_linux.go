package router

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelAlarm keeps Run's deadline in a timerfd that the runtime's poller
// waits on, like the Babel socket. The runtime knows nothing of it: a
// deadline kept in a Go timer also wakes the runtime's monitor thread,
// which sleeps until the next timer of the process and then polls for a
// while before it parks again. On an idle mesh box those two extra thread
// switches per Hello cost more than sending the Hello. Arming it is one
// raw system call.
type kernelAlarm struct {
	f   *os.File
	raw syscall.RawConn
	c   chan time.Time
	wg  sync.WaitGroup
}

func newKernelAlarm() (*kernelAlarm, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	// A non-blocking descriptor is registered with the poller.
	f := os.NewFile(uintptr(fd), "babel-alarm")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	a := &kernelAlarm{f: f, raw: raw, c: make(chan time.Time, 1)}
	a.wg.Add(1)
	go a.wait()
	return a, nil
}

// wait delivers each expiry to C, until the descriptor is closed.
func (a *kernelAlarm) wait() {
	defer a.wg.Done()
	var n [8]byte // the expiry count
	for {
		err := a.raw.Read(func(fd uintptr) bool {
			_, _, errno := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&n[0])), uintptr(len(n)))
			return errno != unix.EAGAIN
		})
		if err != nil {
			return
		}
		a.fire()
	}
}

func (a *kernelAlarm) fire() {
	select {
	case a.c <- time.Now():
	default: // one firing pending is enough
	}
}

func (a *kernelAlarm) set(d time.Duration) {
	// A zero value would disarm it.
	d = max(d, time.Nanosecond)
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	var errno syscall.Errno
	err := a.raw.Control(func(fd uintptr) {
		_, _, errno = unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
	})
	if err != nil || errno != 0 {
		// Not seen with an open descriptor and a valid time; should it
		// happen, the router must still wake up.
		time.AfterFunc(d, a.fire)
	}
}

func (a *kernelAlarm) C() <-chan time.Time { return a.c }

func (a *kernelAlarm) close() {
	a.f.Close()
	a.wg.Wait()
}
