// Command enclave-cni is the CNI plugin of the nodes that run enclave jobs
// on Kubernetes: a pod gets its loopback interface and nothing else (see
// sandbox-runtime/kubernetes/cni). Install it in the CNI binary directory
// as "enclave-loopback" and as "loopback".
package main

import (
	"encoding/json"
	"errors"
	"os"

	"github.com/enclave-dev/enclave/sandbox-runtime/kubernetes/cni"
)

func main() {
	env := cni.Env{Command: os.Getenv("CNI_COMMAND"), Netns: os.Getenv("CNI_NETNS"), IfName: os.Getenv("CNI_IFNAME")}
	if err := cni.Run(env, os.Stdin, os.Stdout); err != nil {
		var ce *cni.Error
		if !errors.As(err, &ce) {
			ce = &cni.Error{CNIVersion: "0.4.0", Code: 999, Msg: err.Error()}
		}
		json.NewEncoder(os.Stdout).Encode(ce)
		os.Exit(1)
	}
}
