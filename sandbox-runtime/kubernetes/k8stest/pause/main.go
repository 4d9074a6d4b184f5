// Command pause is the pod sandbox image of the test cluster that
// sandbox-runtime/kubernetes/k8stest boots: it holds a pod's namespaces,
// reaps the orphans it inherits, and exits on SIGTERM or SIGINT. Built
// statically by the harness, never shipped.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
