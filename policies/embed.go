package policy

import (
	"embed"
	"io/fs"
)

//go:embed rego/*.rego
var builtin embed.FS

// Builtin returns the built-in Rego policies: the files of policies/rego,
// including their _test.rego unit tests (loaders skip those). The policies
// are Rego v1 in package `enclave`; the engine queries
// `data.enclave.decision`, an object {"allow": bool, "reasons": [{"rule",
// "message"}], "grants": {dataset: grant id}}.
func Builtin() fs.FS {
	sub, err := fs.Sub(builtin, "rego")
	if err != nil {
		panic(err) // the embedded tree always has rego/
	}
	return sub
}
