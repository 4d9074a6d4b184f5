package vaulttest

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill the server if the test process
// dies without running its cleanup (a timeout, kill -9).
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
