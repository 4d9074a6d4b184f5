// Package cni is a CNI plugin that gives a pod its loopback interface and
// nothing else: the network of a job pod on a node that runs enclave jobs
// (DESIGN.md section 5, promise 1). It brings "lo" up inside the pod's
// network namespace, refuses a namespace that holds any other interface,
// and reports 127.0.0.1 as the pod's address so that the container
// runtime, which insists on an address for the pod's interface, starts the
// pod. No interface is created, no address is allocated, no route leaves
// the namespace; DEL and CHECK change nothing.
//
// The same binary serves as the "loopback" plugin that containerd's CRI
// calls for every pod, and as the "enclave-loopback" plugin of the node's
// only network configuration (see Conflist).
package cni

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Type is the plugin type the node's network configuration names.
const Type = "enclave-loopback"

// Conflist is the node's network configuration: one network whose only
// plugin is this one. Write it into the CNI configuration directory of
// the nodes that run jobs, with this binary installed as Type and as
// "loopback" in the CNI binary directory.
const Conflist = `{
  "cniVersion": "0.4.0",
  "name": "enclave-loopback-only",
  "plugins": [{"type": "` + Type + `"}]
}
`

// supported are the CNI spec versions whose result format Run writes.
var supported = []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0"}

// netConf is the part of the network configuration the plugin reads.
type netConf struct {
	CNIVersion string `json:"cniVersion"`
	Name       string `json:"name"`
	Type       string `json:"type"`
}

// Env is what the runtime passes in the plugin's environment.
type Env struct {
	Command, Netns, IfName string
}

// Error is a CNI error result.
type Error struct {
	CNIVersion string `json:"cniVersion"`
	Code       int    `json:"code"`
	Msg        string `json:"msg"`
}

func (e *Error) Error() string { return e.Msg }

// Run carries out one plugin call and writes its result to out. An error
// is an *Error, to be written to out as JSON with exit status 1.
func Run(env Env, stdin io.Reader, out io.Writer) error {
	if env.Command == "VERSION" {
		return json.NewEncoder(out).Encode(map[string]any{"cniVersion": "1.0.0", "supportedVersions": supported})
	}
	body, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
	if err != nil {
		return &Error{CNIVersion: "0.4.0", Code: 4, Msg: "read network configuration"}
	}
	var conf netConf
	if err := json.Unmarshal(body, &conf); err != nil {
		return &Error{CNIVersion: "0.4.0", Code: 6, Msg: "network configuration is not JSON"}
	}
	ver := conf.CNIVersion
	known := false
	for _, v := range supported {
		known = known || v == ver
	}
	if !known {
		return &Error{CNIVersion: "0.4.0", Code: 1, Msg: fmt.Sprintf("cni version %q not supported", ver)}
	}
	switch env.Command {
	case "DEL", "CHECK", "GC", "STATUS":
		return nil
	case "ADD":
	default:
		return &Error{CNIVersion: ver, Code: 4, Msg: fmt.Sprintf("command %q unknown", env.Command)}
	}
	if env.Netns == "" || env.IfName == "" {
		return &Error{CNIVersion: ver, Code: 4, Msg: "CNI_NETNS and CNI_IFNAME are required"}
	}
	if err := loopbackOnly(env.Netns); err != nil {
		return &Error{CNIVersion: ver, Code: 11, Msg: err.Error()}
	}
	// The runtime looks for an address on the interface it asked for
	// (CNI_IFNAME): that is the pod's loopback address, on its only
	// interface.
	ip := map[string]any{"interface": 0, "address": "127.0.0.1/8"}
	if ver != "1.0.0" {
		ip["version"] = "4"
	}
	return json.NewEncoder(out).Encode(map[string]any{
		"cniVersion": ver,
		"interfaces": []map[string]string{{"name": env.IfName, "sandbox": env.Netns}},
		"ips":        []any{ip},
	})
}

// loopbackOnly brings lo up in the network namespace at path and checks
// that it is the namespace's only interface.
func loopbackOnly(path string) error {
	errc := make(chan error, 1)
	// The thread that enters the namespace is never given back to the Go
	// scheduler: it ends with the goroutine.
	go func() {
		runtime.LockOSThread()
		errc <- func() error {
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open network namespace: %w", err)
			}
			defer unix.Close(fd)
			if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("enter network namespace: %w", err)
			}
			sock, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("socket: %w", err)
			}
			defer unix.Close(sock)
			ifr, err := unix.NewIfreq("lo")
			if err != nil {
				return err
			}
			if err := unix.IoctlIfreq(sock, unix.SIOCGIFFLAGS, ifr); err != nil {
				return fmt.Errorf("read lo flags: %w", err)
			}
			ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
			if err := unix.IoctlIfreq(sock, unix.SIOCSIFFLAGS, ifr); err != nil {
				return fmt.Errorf("bring lo up: %w", err)
			}
			ifs, err := net.Interfaces()
			if err != nil {
				return fmt.Errorf("list interfaces: %w", err)
			}
			var other []string
			for _, i := range ifs {
				if i.Name != "lo" {
					other = append(other, i.Name)
				}
			}
			if len(other) > 0 {
				return fmt.Errorf("network namespace holds interfaces other than lo: %s", strings.Join(other, ","))
			}
			return nil
		}()
	}()
	return <-errc
}
