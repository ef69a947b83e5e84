package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ExitDoNotRestart is the exit status by which a child process says it is
// done and must not be restarted (gokrazy's convention); Run turns it into
// ErrDone.
const ExitDoNotRestart = 125

// DefaultGrace is how long a child has between SIGTERM and SIGKILL. It is
// below the default stop timeout so that the child is killed, and waited
// for, before the supervisor would give up on it.
const DefaultGrace = 3 * time.Second

// ProcessComponent runs an external program as a component. Spec.New must
// return a fresh one with a fresh Cmd each time: an exec.Cmd runs once.
type ProcessComponent struct {
	Cmd   *exec.Cmd
	Grace time.Duration // default DefaultGrace
}

// Run runs the program; see RunProcess.
func (p *ProcessComponent) Run(ctx context.Context) error {
	return RunProcess(ctx, p.Cmd, p.Grace)
}

// RunProcess starts cmd in a process group of its own and waits for it.
// When ctx ends it sends SIGTERM to the group, then SIGKILL after grace
// (DefaultGrace if zero), and still waits. When the program exits, what is
// left of its group is killed: a supervised program must not daemonize.
//
// It returns nil if the program exited with status 0 or was stopped
// through ctx by SIGTERM, ErrDone for ExitDoNotRestart, and an error
// otherwise.
func RunProcess(ctx context.Context, cmd *exec.Cmd, grace time.Duration) error {
	if grace <= 0 {
		grace = DefaultGrace
	}
	if ctx.Err() != nil {
		return nil
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	name := cmd.Path
	if len(cmd.Args) > 0 {
		name = cmd.Args[0]
	}
	waited, err := StartChild(cmd)
	if err != nil {
		return fmt.Errorf("supervisor: start %s: %w", name, err)
	}
	pgid := cmd.Process.Pid

	// The group id is the leader's pid. Until the leader is reaped that
	// pid cannot be reused, so signalling the group is safe; reaped guards
	// against signalling a stranger's group afterwards.
	var mu sync.Mutex
	reaped := false
	signalGroup := func(sig syscall.Signal) {
		mu.Lock()
		defer mu.Unlock()
		if !reaped {
			_ = unix.Kill(-pgid, sig) // ESRCH: the group is already gone
		}
	}
	exited := make(chan error, 1)
	go func() {
		if err := waitExited(pgid); err != nil {
			// Cannot wait without reaping (someone else reaped it, or an
			// old kernel): fall back to plain Wait.
			err := cmd.Wait()
			waited()
			mu.Lock()
			reaped = true
			mu.Unlock()
			exited <- err
			return
		}
		signalGroup(syscall.SIGKILL) // the leader is a zombie: only leftovers remain
		mu.Lock()
		reaped = true
		mu.Unlock()
		err := cmd.Wait()
		waited()
		exited <- err
	}()

	select {
	case err := <-exited:
		var ee *exec.ExitError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ee) && ee.ExitCode() == ExitDoNotRestart:
			return ErrDone
		default:
			return fmt.Errorf("supervisor: %s: %w", name, err)
		}
	case <-ctx.Done():
	}
	signalGroup(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-exited:
		return nil
	case <-t.C:
	}
	signalGroup(syscall.SIGKILL)
	<-exited
	return fmt.Errorf("supervisor: %s ignored SIGTERM for %v; killed", name, grace)
}

// waitExited blocks until the process pid has exited, leaving it a zombie.
func waitExited(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err
		}
	}
}
