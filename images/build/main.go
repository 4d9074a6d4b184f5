// Command build writes the enclave's built-in job images as OCI
// image-layout archives, from local files only (no registry, no docker):
//
//	go run ./images/build -out DIR
//
// writes DIR/toolbox.tar (static busybox from Debian's busybox-static),
// DIR/groupcount.tar (images/groupcount compiled statically) and
// DIR/probes.tar (the hostile-suite probes of images/probes, plus busybox).
// The archives are deterministic: the same inputs give the same bytes and
// so the same digests.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

func main() {
	out := flag.String("out", "images/out", "directory that receives the archives")
	busybox := flag.String("busybox", "/bin/busybox", "static busybox binary")
	only := flag.String("only", "", "comma-separated subset of toolbox,groupcount,probes")
	flag.Parse()
	if err := run(*out, *busybox, *only); err != nil {
		slog.Error("build images", "err", err)
		os.Exit(1)
	}
}

func run(out, busybox, only string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	want := func(n string) bool { return only == "" || strings.Contains(","+only+",", ","+n+",") }
	tmp, err := os.MkdirTemp("", "enclave-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	bb, err := busyboxFiles(busybox)
	if err != nil {
		return err
	}
	if want("toolbox") {
		img := Image{Name: "toolbox", Files: bb, Cmd: []string{"/bin/sh"}}
		if err := writeArchive(filepath.Join(out, "toolbox.tar"), img); err != nil {
			return err
		}
	}
	for _, name := range []string{"groupcount", "probes"} {
		if !want(name) {
			continue
		}
		bin := filepath.Join(tmp, name)
		if err := goBuild(root, "./images/"+name, bin); err != nil {
			return err
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		files := []File{{Path: "bin/" + name, Mode: 0o755, Data: data}}
		if name == "probes" {
			files = append(files, bb...)
		}
		img := Image{Name: name, Files: files, Entrypoint: []string{"/bin/" + name}}
		if err := writeArchive(filepath.Join(out, name+".tar"), img); err != nil {
			return err
		}
	}
	return nil
}

// moduleRoot finds the directory holding go.mod.
func moduleRoot() (string, error) {
	b, err := exec.Command(goTool(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the enclave module")
	}
	return filepath.Dir(mod), nil
}

func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); runtime.GOROOT() != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// goBuild compiles a static, reproducible linux/amd64 binary.
func goBuild(root, pkg, out string) error {
	cmd := exec.Command(goTool(), "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid=", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %q: %w", pkg, err)
	}
	return nil
}

// busyboxFiles returns the busybox binary and one symlink per applet.
func busyboxFiles(path string) ([]File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read busybox: %w", err)
	}
	list, err := exec.Command(path, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	files := []File{{Path: "bin/busybox", Mode: 0o755, Data: data}}
	for _, a := range strings.Fields(string(list)) {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		files = append(files, File{Path: "bin/" + a, Link: "busybox"})
	}
	return files, nil
}
