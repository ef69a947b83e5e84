package vm

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill qemu if the test binary dies without
// running its cleanups (a go test timeout, say).
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
