package supervisor

import (
	"os/exec"
	"sync"
)

// PID 1 inherits every orphan and must wait for it, but waiting for any
// child would also take the exit status of a child this process started
// itself, and that child's Cmd.Wait would then fail with ECHILD. So
// children are started with StartChild, which records them until their
// starter has waited; the reaper (cpe/boot) waits only for the others,
// through ReapOthers.

var owned = struct {
	sync.Mutex
	pids map[int]bool
}{pids: map[int]bool{}}

// StartChild starts cmd as a child its caller waits for. Call waited once
// cmd.Wait has returned; until then the reaper leaves the child alone, even
// when it has exited.
func StartChild(cmd *exec.Cmd) (waited func(), err error) {
	owned.Lock()
	defer owned.Unlock()
	if err := cmd.Start(); err != nil {
		return func() {}, err
	}
	pid := cmd.Process.Pid
	owned.pids[pid] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			owned.Lock()
			delete(owned.pids, pid)
			owned.Unlock()
		})
	}, nil
}

// RunChild runs cmd to its end (cmd.Run) as a child started with StartChild.
func RunChild(cmd *exec.Cmd) error {
	waited, err := StartChild(cmd)
	if err != nil {
		return err
	}
	defer waited()
	return cmd.Wait()
}

// ReapOthers calls reap for each pid that exited lists and StartChild did
// not start. No child can be started meanwhile, so one that exits at once
// is never taken for an orphan.
func ReapOthers(exited func() []int, reap func(pid int)) {
	owned.Lock()
	defer owned.Unlock()
	for _, pid := range exited() {
		if !owned.pids[pid] {
			reap(pid)
		}
	}
}
