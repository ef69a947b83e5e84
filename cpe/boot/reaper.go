package boot

import (
	"os/exec"

	"cpe/cpe/supervisor"
)

// Reaper collects the exit status of orphans: on Linux every process whose
// parent dies is re-parented to PID 1, and stays a zombie until PID 1 waits for it.
//
// It waits only for children nobody else will: programs PID 1 runs itself
// are started with supervisor.StartChild (supervisor.RunProcess and Exec do),
// which records them until their Cmd.Wait has returned, so the reaper never
// takes their exit status, however long they run.
type Reaper struct {
	kick chan struct{}
}

// NewReaper returns a reaper; start it with Run.
func NewReaper() *Reaper { return &Reaper{kick: make(chan struct{}, 1)} }

// Exec runs cmd to its end without the reaper taking its exit status.
func (r *Reaper) Exec(cmd *exec.Cmd) error {
	return supervisor.RunChild(cmd)
}
