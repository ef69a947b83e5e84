package boot

// Reaper collects the exit status of orphans: on Linux every process whose
// parent dies is re-parented to PID 1, and stays a zombie until PID 1 waits for it.
//
// It waits only for children nobody else will: programs PID 1 runs itself
// are started with supervisor.StartChild (supervisor.RunProcess and RunChild do),
// which records them until their Cmd.Wait has returned, so the reaper never
// takes their exit status, however long they run.
// A pass runs at start and on every SIGCHLD.
type Reaper struct{}

// NewReaper returns a reaper; start it with Run.
func NewReaper() *Reaper { return &Reaper{} }
