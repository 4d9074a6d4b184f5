package containerd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/containerd/containerd/cio"
)

// A fifo keeps what was written to it only while some process has it
// open. The shim holds a job's fifos until the job's output ends, and the
// daemon reads them; what the job writes after the daemon stopped and
// before it ends would be lost with the shim's hold. So a holder, a
// process in a session of its own that only sleeps with the fifos open,
// outlives the daemon and keeps that output for the reader of the next
// Reattach. The runtime ends the holder when the job has ended, which
// lets the reader see the end of the output.

const holderPID = "holder.pid"

// holdFIFOs starts the holder of a job's stdout and stderr fifos and
// records its pid in the work area.
func holdFIFOs(area string, cfg cio.Config) error {
	bin, err := exec.LookPath("sleep")
	if err != nil {
		return fmt.Errorf("fifo holder: %w", err)
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, p := range []string{cfg.Stdout, cfg.Stderr} {
		if p == "" {
			continue
		}
		// O_RDWR opens a fifo without waiting for a peer.
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("fifo holder: %w", err)
		}
		files = append(files, f)
	}
	cmd := exec.Command(bin, "2147483647")
	cmd.Dir, cmd.Env, cmd.ExtraFiles = "/", []string{}, files
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("fifo holder: %w", err)
	}
	go cmd.Wait() // reaped here while this daemon lives, by init after it
	if err := os.WriteFile(filepath.Join(area, holderPID), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		cmd.Process.Kill()
		return fmt.Errorf("fifo holder: %w", err)
	}
	return nil
}

// holderOf returns the pid of the holder of a job's fifos, if its pid file
// names a process that still holds a file of the work area (never another
// process that reused the pid), or 0.
func holderOf(area string) int {
	b, err := os.ReadFile(filepath.Join(area, holderPID))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(target, area+"/") {
			return pid
		}
	}
	return 0
}

// releaseFIFOs ends the holder of a job's fifos, if it still runs.
func releaseFIFOs(area string) {
	if pid := holderOf(area); pid != 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
