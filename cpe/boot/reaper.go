package boot

import (
	"os/exec"
	"sync"
)

// Reaper collects the exit status of orphans: on Linux every process whose
// parent dies is re-parented to PID 1, and stays a zombie until PID 1 waits for it.
//
// Reaping with wait4(-1) would also steal the status of children PID 1 started
// itself with os/exec, whose Cmd.Wait then fails with ECHILD. So programs started
// by PID 1 go through Reaper.Exec (or hold Reaper.Hold while they run): while any
// is in flight the reaper pauses, and it catches up as soon as the last one is
// waited for. Orphans stay zombies for at most that long.
type Reaper struct {
	mu   sync.RWMutex // readers: children being waited for by os/exec; writer: a reap pass
	kick chan struct{}
}

// NewReaper returns a reaper; start it with Run.
func NewReaper() *Reaper { return &Reaper{kick: make(chan struct{}, 1)} }

// Hold pauses reaping until the returned release function is called.
func (r *Reaper) Hold() (release func()) {
	r.mu.RLock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.RUnlock()
			select {
			case r.kick <- struct{}{}:
			default:
			}
		})
	}
}

// Exec starts cmd and waits for it without the reaper taking its exit status.
func (r *Reaper) Exec(cmd *exec.Cmd) error {
	release := r.Hold()
	defer release()
	return cmd.Run()
}
