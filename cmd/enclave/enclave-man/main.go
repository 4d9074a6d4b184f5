// Command enclave-man writes the enclave CLI's man pages (section 1), one a
// command, from the same cobra tree the CLI runs: go run ./cmd/enclave/enclave-man DIR.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra/doc"

	"github.com/enclave-dev/enclave/cmd/enclave/cli"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = "dev"

func main() {
	cli.Version = version
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: enclave-man DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "enclave-man: %v\n", err)
		os.Exit(1)
	}
	root := cli.Root()
	root.DisableAutoGenTag = true // the pages do not change with the day they were made
	header := &doc.GenManHeader{Title: "ENCLAVE", Section: "1", Source: "Enclave " + cli.Version, Manual: "Enclave manual"}
	if err := doc.GenManTree(root, header, dir); err != nil {
		fmt.Fprintf(os.Stderr, "enclave-man: %v\n", err)
		os.Exit(1)
	}
}
