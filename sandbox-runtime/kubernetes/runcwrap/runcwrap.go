// Package runcwrap is the enclave's OCI runtime on Kubernetes nodes: a
// front of runc that containerd's CRI runs for the pods of the enclave's
// RuntimeClass (the runtime's BinaryName). Before runc creates a job's
// container it rewrites the bundle's config.json, which the CRI built from
// the pod, with the very options of sandbox-runtime/hardening that the
// containerd backend gives its jobs (a user namespace mapping root to the
// pod's unprivileged uid, new network, pid, ipc, uts and mount namespaces,
// no capabilities, the enclave's seccomp profile, the minimal system
// mounts and no host path but the inputs and /out, a capped noexec /tmp,
// per-job pids and rlimits, PATH as the whole environment), and refuses to
// go on, so that runc never runs the container, unless the result passes
// hardening.Validate. The job's limits come from the pod annotation
// AnnotationLimits, which containerd passes through to the container's
// spec (the runtime's pod_annotations).
package runcwrap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/hardening"
)

// AnnotationLimits is the pod annotation carrying the job's limits (JSON
// of sandbox.Limits).
const AnnotationLimits = "enclave.dev/limits"

// The CRI's annotations on a container's spec.
const (
	criContainerType = "io.kubernetes.cri.container-type"
	criContainerName = "io.kubernetes.cri.container-name"
	typeSandbox      = "sandbox"
	typeContainer    = "container"
)

// Container names of a job's pod.
const (
	JobContainer  = "job"
	HoldContainer = "hold"
)

// IDSize is the size of the uid and gid range of a job's user namespace.
const IDSize = 65536

// HoldLimits are the holder container's limits: it only sleeps (a Go
// pause, as the test cluster's, needs a few threads: pids 16), but runc's
// init loads the seccomp filter inside its CPU quota (0.1 core: at 0.01 a
// start took 1.4-1.7 s).
func HoldLimits() sandbox.Limits {
	return sandbox.Limits{CPUs: 0.1, MemoryBytes: 16 << 20, TmpBytes: 1 << 20, OutBytes: 1 << 20,
		FileSizeBytes: 1 << 20, Pids: 16, NoFile: 64, Timeout: 1 << 62, MaxOutputFiles: 1, LogBytes: 1 << 10}
}

// EncodeLimits is the value of AnnotationLimits for l.
func EncodeLimits(l sandbox.Limits) string {
	b, _ := json.Marshal(l)
	return string(b)
}

// DecodeLimits parses a value of AnnotationLimits strictly and validates
// the limits.
func DecodeLimits(v string) (sandbox.Limits, error) {
	var l sandbox.Limits
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return sandbox.Limits{}, fmt.Errorf("annotation %s: not the job's limits", AnnotationLimits)
	}
	if dec.More() {
		return sandbox.Limits{}, fmt.Errorf("annotation %s: trailing data", AnnotationLimits)
	}
	if err := l.Validate(); err != nil {
		return sandbox.Limits{}, fmt.Errorf("annotation %s: %w", AnnotationLimits, err)
	}
	return l, nil
}

// Harden rewrites a container spec the CRI made for a pod of the enclave's
// RuntimeClass. A pod's sandbox (pause) container is left as it is; the
// job and holder containers get every hardening option; anything else, or
// a spec that fails hardening.Validate afterwards, is refused.
func Harden(s *specs.Spec) error {
	if s == nil || s.Process == nil || s.Root == nil || s.Linux == nil {
		return errors.New("container spec incomplete")
	}
	switch s.Annotations[criContainerType] {
	case typeSandbox:
		return nil
	case typeContainer:
	default:
		return errors.New("container spec: not a CRI sandbox or container")
	}
	name := s.Annotations[criContainerName]
	var limits sandbox.Limits
	switch name {
	case JobContainer:
		v, ok := s.Annotations[AnnotationLimits]
		if !ok {
			return fmt.Errorf("job container: annotation %s missing (the runtime's pod_annotations must pass it)", AnnotationLimits)
		}
		l, err := DecodeLimits(v)
		if err != nil {
			return err
		}
		limits = l
	case HoldContainer:
		limits = HoldLimits()
	default:
		return fmt.Errorf("container %q: not a container of a job's pod", name)
	}
	u := s.Process.User
	if u.UID < hardening.MinHostID || u.GID < hardening.MinHostID || uint64(u.UID)+IDSize > 1<<32 || uint64(u.GID)+IDSize > 1<<32 {
		return fmt.Errorf("container %q: its uid and gid are not an unprivileged range (runAsUser, runAsGroup)", name)
	}
	p := hardening.Params{Limits: limits, HostUID: u.UID, HostGID: u.GID, IDSize: IDSize, Args: slices.Clone(s.Process.Args)}
	for _, m := range s.Mounts {
		switch {
		case strings.HasPrefix(m.Destination, "/in/"):
			if !isBind(m) || !filepath.IsAbs(m.Source) {
				return fmt.Errorf("container %q: input %q not a host directory", name, m.Destination)
			}
			p.Inputs = append(p.Inputs, hardening.Bind{HostDir: m.Source, Target: m.Destination})
		case m.Destination == "/out":
			if !isBind(m) || !filepath.IsAbs(m.Source) || p.OutDir != "" {
				return fmt.Errorf("container %q: /out not one host directory", name)
			}
			p.OutDir = m.Source
		}
	}
	if name == JobContainer && p.OutDir == "" {
		return fmt.Errorf("container %q: /out not mounted", name)
	}
	var shares *uint64
	if r := s.Linux.Resources; r != nil && r.CPU != nil {
		shares = r.CPU.Shares
	}
	for _, o := range hardening.Options(p) {
		if err := o(context.Background(), nil, nil, s); err != nil {
			return fmt.Errorf("container %q: %w", name, err)
		}
	}
	if p.OutDir == "" {
		// The holder has no /out; hardening's /out option bound "".
		s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/out" })
	}
	s.Linux.Resources.CPU.Shares = shares
	if err := validate(s, p); err != nil {
		return fmt.Errorf("container %q: %w", name, err)
	}
	return nil
}

// validate is hardening.Validate; the holder, which has no /out, skips
// only the check of /out.
func validate(s *specs.Spec, p hardening.Params) error {
	if p.OutDir != "" {
		return hardening.Validate(s, p)
	}
	var errs []error
	for _, c := range hardening.Checks {
		if c.Name == "output" {
			continue
		}
		if err := c.Fn(s, p); err != nil {
			errs = append(errs, fmt.Errorf("check %q: %w", c.Name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("hardened spec refused: %w", errors.Join(errs...))
	}
	return nil
}

func isBind(m specs.Mount) bool {
	return m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// maxConfig bounds the config.json read.
const maxConfig = 4 << 20

// HardenBundle rewrites bundle/config.json in place (through a temporary
// file renamed over it), or returns why not, leaving it as it was.
func HardenBundle(bundle string) error {
	path := filepath.Join(bundle, "config.json")
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("bundle config: %w", err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxConfig {
		f.Close()
		return errors.New("bundle config: not a regular file of at most 4 MiB")
	}
	b := make([]byte, fi.Size())
	_, err = io.ReadFull(f, b)
	f.Close()
	if err != nil {
		return fmt.Errorf("bundle config: %w", err)
	}
	s, err := hardenJSON(b)
	if err != nil {
		return err
	}
	out, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("bundle config: %w", err)
	}
	if s.Annotations[criContainerType] == typeContainer {
		root := s.Root.Path
		if !filepath.IsAbs(root) {
			root = filepath.Join(bundle, root)
		}
		for _, m := range s.Mounts {
			if err := mkdirInRoot(root, m.Destination); err != nil {
				return fmt.Errorf("container root: %w", err)
			}
		}
	}
	if len(s.Linux.GIDMappings) == 1 {
		// The namespace's root must reach its root file system through
		// the bundle, as containerd prepares a bundle whose spec has a user
		// namespace from the start: group search for the mapped root only.
		if err := os.Chown(bundle, -1, int(s.Linux.GIDMappings[0].HostID)); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
		if err := os.Chmod(bundle, 0o710); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
	}
	tmp := path + ".enclave"
	if err := os.WriteFile(tmp, out, fi.Mode().Perm()); err != nil {
		return fmt.Errorf("bundle config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("bundle config: %w", err)
	}
	return nil
}

// HardenJSON parses a config.json, hardens it and returns the new one.
func HardenJSON(b []byte) ([]byte, error) {
	s, err := hardenJSON(b)
	if err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

func hardenJSON(b []byte) (*specs.Spec, error) {
	var s specs.Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&s); err != nil {
		return nil, errors.New("bundle config: not an OCI runtime spec")
	}
	if err := Harden(&s); err != nil {
		return nil, err
	}
	return &s, nil
}
