package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/containerd/errdefs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/enclave-dev/enclave/sandbox-runtime/kubernetes/runcwrap"
)

// WrapperName is the file name of the enclave's OCI runtime.
const WrapperName = "enclave-runc"

// criRuntime is what the CRI's verbose status says of one runtime handler
// (containerd's criconfig.Runtime as JSON).
type criRuntime struct {
	Type           string         `json:"runtimeType"`
	Options        map[string]any `json:"options"`
	PodAnnotations []string       `json:"PodAnnotations"`
}

// HandlerBinary checks the CRI configuration of the node's containerd (the
// "config" of its verbose CRI status) for the runtime handler of the jobs'
// RuntimeClass: a runc shim (io.containerd.runc.v2) whose BinaryName is an
// enclave-runc and that passes the pod annotation runcwrap.AnnotationLimits
// through. It returns the binary's path. Without that handler a job's
// container would run without the hardening, so the runtime refuses.
func HandlerBinary(config []byte, handler string) (string, error) {
	var c struct {
		Containerd struct {
			Runtimes map[string]criRuntime `json:"runtimes"`
		} `json:"containerd"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return "", errors.New("the node's CRI configuration is not containerd's")
	}
	rt, ok := c.Containerd.Runtimes[handler]
	if !ok {
		return "", fmt.Errorf("the node's containerd has no runtime handler %q", handler)
	}
	if rt.Type != "io.containerd.runc.v2" {
		return "", fmt.Errorf("runtime handler %q: not the runc shim io.containerd.runc.v2", handler)
	}
	bin, _ := rt.Options["BinaryName"].(string)
	if !filepath.IsAbs(bin) || filepath.Base(bin) != WrapperName {
		return "", fmt.Errorf("runtime handler %q: its BinaryName is not an absolute path to %s", handler, WrapperName)
	}
	passes := slices.ContainsFunc(rt.PodAnnotations, func(p string) bool {
		ok, err := path.Match(p, runcwrap.AnnotationLimits)
		return err == nil && ok
	})
	if !passes {
		return "", fmt.Errorf("runtime handler %q: pod_annotations do not pass %s", handler, runcwrap.AnnotationLimits)
	}
	return bin, nil
}

// checkHandler asks the node's containerd (its CRI, through the socket)
// how the runtime handler runs containers, and checks the binary on disk:
// a regular file of root that no one else may write.
func checkHandler(ctx context.Context, socket, handler string) error {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("the node's CRI: %w", errors.Join(errdefs.ErrUnavailable, err))
	}
	defer conn.Close()
	resp, err := runtimeapi.NewRuntimeServiceClient(conn).Status(ctx, &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		return fmt.Errorf("the node's CRI status: %w", errors.Join(errdefs.ErrUnavailable, err))
	}
	bin, err := HandlerBinary([]byte(resp.GetInfo()["config"]), handler)
	if err != nil {
		return fmt.Errorf("%w: %w", err, errdefs.ErrFailedPrecondition)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("runtime handler %q: %w: %w", handler, err, errdefs.ErrFailedPrecondition)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || !ok || st.Uid != 0 || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("runtime handler %q: %s is not a file of root that only root may write: %w", handler, WrapperName, errdefs.ErrFailedPrecondition)
	}
	return nil
}
