// Command enclave-runc is the OCI runtime of the enclave's RuntimeClass on
// Kubernetes nodes: containerd's CRI runs it as the runtime's BinaryName.
// For a create (or run) it hardens the bundle's config.json with
// sandbox-runtime/kubernetes/runcwrap and refuses, exiting 1 before runc
// runs, when it cannot; then, and for every other command, it executes
// runc with the same arguments.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/enclave-dev/enclave/sandbox-runtime/kubernetes/runcwrap"
)

// runcPaths are where the real runc is looked for when PATH has none.
var runcPaths = []string{"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"}

func main() {
	args := os.Args[1:]
	bundle, creates, err := runcwrap.Bundle(args)
	if err != nil {
		fail(err)
	}
	if creates {
		if err := runcwrap.HardenBundle(bundle); err != nil {
			fail(err)
		}
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		for _, p := range runcPaths {
			if fi, serr := os.Stat(p); serr == nil && fi.Mode().IsRegular() {
				runc, err = p, nil
				break
			}
		}
	}
	if err != nil {
		fail(fmt.Errorf("runc not found: %w", err))
	}
	err = syscall.Exec(runc, append([]string{"runc"}, args...), os.Environ())
	fail(fmt.Errorf("exec runc: %w", err))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "enclave-runc:", err)
	os.Exit(1)
}
