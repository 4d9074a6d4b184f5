// Command enclaved is the enclave's daemon: it owns all state, serves the
// API on a unix socket (and HTTPS when asked), and runs jobs.
package main

import (
	"fmt"
	"os"

	"github.com/enclave-dev/enclave/enclave/checker"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "init":
		err = runInit(os.Args[2:])
	case "run":
		err = runDaemon(os.Args[2:])
	case "backup":
		err = runBackup(os.Args[2:])
	case "restore":
		err = runRestore(os.Args[2:])
	case checker.ChildCommand:
		// Hidden: the daemon's check process (exports.go).
		os.Exit(runCheckChild(os.Args[2:]))
	case "version", "--version":
		fmt.Println(version)
		return
	case "help", "-h", "--help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "enclaved: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "enclaved %s: %v\n", os.Args[1], err)
		if _, ok := err.(usageError); ok {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  enclaved init [--data-dir D] --org-uscc CODE --admin-id-number N [--org NAME] [--admin-name NAME] [--json]
                                         create the data directory, print the first admin token once
  enclaved run  [--data-dir D] [--listen ADDR] [--containerd-address SOCK] [--vault-addr URL] [--policy-dir DIR] [--policy-evaluator vm|topdown|wasm]
                [--sandbox containerd|kubernetes|false] [--kubeconfig FILE] [--kubelet-config FILE] [--namespace NS] [--k8s-runtime-class NAME]
  enclaved backup  [--data-dir D] --to DIR           a consistent copy while the daemon serves (ENCLAVE_BACKUP_PASSPHRASE seals the keyring)
  enclaved restore --from DIR --data-dir NEW --tombstones FROM|none
                                         onto a new data directory; FROM (the live data directory, its keyring,
                                         a newer backup or a tombstones file) names what was destroyed since
  enclaved version
`)
}
