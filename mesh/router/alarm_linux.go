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

// kernelAlarm keeps the router's deadline in a timerfd that the runtime's
// poller waits on, like the Babel socket. The runtime knows nothing of it: a
// deadline kept in a Go timer also wakes the runtime's monitor thread,
// which sleeps until the next timer of the process and then polls for a
// while before it parks again. On an idle mesh box those two extra thread
// switches per Hello cost more than sending the Hello. Arming it is one
// raw system call, and an expiry costs none (see wait).
type kernelAlarm struct {
	f    *os.File
	raw  syscall.RawConn
	fire func()
	wg   sync.WaitGroup

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
	// A non-blocking descriptor is registered with the poller; one the
	// poller refused takes no deadline.
	f := os.NewFile(uintptr(fd), "babel-alarm")
	raw, err := f.SyscallConn()
	if err == nil {
		err = f.SetReadDeadline(time.Time{})
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	a := &kernelAlarm{f: f, raw: raw, fire: fire}
	a.settime = a.settimeFD
	waiting := make(chan struct{})
	a.wg.Add(1)
	go a.wait(waiting)
	<-waiting
	return a, nil
}

// wait calls fire for each expiry until the descriptor is closed, in one
// wait for readiness that lasts as long as the alarm. It never reads the
// descriptor: the poller's registration is edge-triggered and each expiry
// is an edge of its own, and arming the timer again starts its count
// afresh. A read would cost two system calls an expiry, one of them to
// find the descriptor empty, because the poller forgets what it saw
// whenever a new wait begins; in this one wait it forgets nothing from
// the moment waiting is closed, so nothing may arm the alarm before.
func (a *kernelAlarm) wait(waiting chan<- struct{}) {
	defer a.wg.Done()
	started := false
	a.raw.Read(func(uintptr) bool {
		if !started {
			started = true
			close(waiting)
		} else {
			a.fire()
		}
		return false
	})
	if !started {
		close(waiting)
	}
}

// set is called by one goroutine at a time (the router's step).
func (a *kernelAlarm) set(d time.Duration) {
	// A zero value would disarm it.
	d = max(d, time.Nanosecond)
	a.spec = unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	a.errno = 0
	err := a.raw.Control(a.settime)
	if err != nil || a.errno != 0 {
		// Not seen with an open descriptor and a valid time; should it
		// happen, the router must still wake up.
		time.AfterFunc(d, a.fire)
	}
}

func (a *kernelAlarm) settimeFD(fd uintptr) {
	_, _, a.errno = unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&a.spec)), 0, 0, 0)
}

func (a *kernelAlarm) close() {
	a.f.Close()
	a.wg.Wait()
}
