// Command enclave is the command line of the enclave: every person drives
// the daemon through it with their own token.
package main

import (
	"os"

	"github.com/enclave-dev/enclave/cmd/enclave/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
