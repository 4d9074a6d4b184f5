package k8stest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enclave-dev/enclave/sandbox-runtime/hardening"
)

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// writeImage writes an OCI image-layout archive of one layer holding the
// static binary bin as /NAME, its entrypoint.
func writeImage(archive, bin, name string) error {
	exe, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(exe)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(exe); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	lb := layer.Bytes()
	cfg, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Entrypoint": []string{"/" + name}, "User": "65535:65535"},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digestOf(lb)}},
	})
	if err != nil {
		return err
	}
	type desc struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int64             `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	man, err := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": desc{"application/vnd.oci.image.config.v1+json", digestOf(cfg), int64(len(cfg)), nil},
		"layers": []desc{{"application/vnd.oci.image.layer.v1.tar", digestOf(lb), int64(len(lb)), nil}},
	})
	if err != nil {
		return err
	}
	idx, err := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []desc{{"application/vnd.oci.image.manifest.v1+json", digestOf(man), int64(len(man)), nil}},
	})
	if err != nil {
		return err
	}
	f, err := os.Create(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	aw := tar.NewWriter(f)
	files := []struct {
		name string
		body []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", idx},
	}
	for _, b := range [][]byte{lb, cfg, man} {
		files = append(files, struct {
			name string
			body []byte
		}{"blobs/sha256/" + digestOf(b)[len("sha256:"):], b})
	}
	for _, x := range files {
		if err := aw.WriteHeader(&tar.Header{Name: x.name, Mode: 0o644, Size: int64(len(x.body)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := aw.Write(x.body); err != nil {
			return err
		}
	}
	if err := aw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// seccompProfile is the enclave's seccomp profile of
// sandbox-runtime/hardening (containerd's default for a process without
// capabilities, minus the syscalls the enclave denies, socket(2) limited to
// local families), in the form containerd reads a Localhost profile in.
func seccompProfile() *specs.LinuxSeccomp {
	s := &specs.Spec{}
	_ = hardening.WithSeccomp()(nil, nil, nil, s)
	return s.Linux.Seccomp
}
