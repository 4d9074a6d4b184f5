// Command enclave is the command line of the enclave: every person drives
// the daemon through it with their own token.
package main

import (
	"os"

	"github.com/enclave-dev/enclave/cmd/enclave/cli"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = "dev"

func main() {
	cli.Version = version
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
