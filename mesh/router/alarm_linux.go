package router

import (
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"cpe/internal/pollwait"
)

// kernelAlarm keeps the router's deadline in a timerfd that the runtime's
// poller waits on, like the Babel socket. The runtime knows nothing of it: a
// deadline kept in a Go timer also wakes the runtime's monitor thread,
// which sleeps until the next timer of the process and then polls for a
// while before it parks again. On an idle mesh box those two extra thread
// switches per Hello cost more than sending the Hello. Arming it is one
// raw system call, and an expiry costs none: the timerfd is never read.
// Each expiry is an edge of its own to the poller's one wait (pollwait),
// and arming the timer again starts its count afresh. A read would cost
// two system calls an expiry, one of them to find the descriptor empty.
type kernelAlarm struct {
	w    *pollwait.Waiter
	fire func()

	// set's system call, made without allocating: the time to arm and
	// the result live here, the call is bound once.
	spec    unix.ItimerSpec
	errno   syscall.Errno
	settime func(fd uintptr)
}

func newKernelAlarm(fire func()) (*kernelAlarm, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	a := &kernelAlarm{fire: fire}
	a.settime = a.settimeFD
	if a.w, err = pollwait.Start(fd, "babel-alarm", fire); err != nil {
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	return a, nil
}

// set is called by one goroutine at a time (the router's step).
func (a *kernelAlarm) set(d time.Duration) {
	// A zero value would disarm it.
	d = max(d, time.Nanosecond)
	a.spec = unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	a.errno = 0
	err := a.w.Control(a.settime)
	if err != nil || a.errno != 0 {
		// Not seen with an open descriptor and a valid time; should it
		// happen, the router must still wake up.
		time.AfterFunc(d, a.fire)
	}
}

func (a *kernelAlarm) settimeFD(fd uintptr) {
	_, _, a.errno = unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&a.spec)), 0, 0, 0)
}

func (a *kernelAlarm) close() { a.w.Close() }
