package containerd

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/containerd/mount"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/hardening"
)

// A job's work area, WORKDIR/ID, holds everything of the host the job
// sees, each as the root of a file system of its own, so that the job's
// /proc/self/mountinfo (whose root field is the path of a bind mount's
// source inside its file system) and the options of its overlay mounts
// name no host path:
//
//	rootfs/    the job's root: an overlay of its snapshot's layers
//	in/NAME/   each input: a read-only overlay of its host directory
//	out/       the /out tmpfs
//	empty/     the second lower layer of the input overlays
//	fifo/      the job's stdout and stderr fifos
//
// The overlays name their layers as /proc/self/fd/N of descriptors that
// are open only while the mount is made, which is all the kernel shows of
// them. Everything stays mounted in the host's mount namespace while the
// job runs, also across a restart of the daemon, until the job is removed.
const (
	areaRoot  = "rootfs"
	areaIn    = "in"
	areaOut   = "out"
	areaEmpty = "empty"
	areaFIFO  = "fifo"
)

// overlayAt mounts an overlay at target whose layer directories are given
// by descriptors, so that its options name no host path. opts are the
// overlay's options as containerd's snapshotter gives them (lowerdir,
// upperdir, workdir and feature options such as index=off); "ro" and "rw"
// become flags.
func overlayAt(target string, opts []string, flags uintptr) error {
	var data []string
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	byFD := func(dir string) (string, error) {
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return "", fmt.Errorf("open overlay layer: %w", err)
		}
		fds = append(fds, fd)
		return "/proc/self/fd/" + strconv.Itoa(fd), nil
	}
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "ro":
			flags |= unix.MS_RDONLY
		case "rw":
		case "lowerdir":
			var layers []string
			for _, dir := range strings.Split(v, ":") {
				p, err := byFD(dir)
				if err != nil {
					return err
				}
				layers = append(layers, p)
			}
			data = append(data, "lowerdir="+strings.Join(layers, ":"))
		case "upperdir", "workdir":
			p, err := byFD(v)
			if err != nil {
				return err
			}
			data = append(data, k+"="+p)
		default:
			if strings.Contains(v, "/") {
				return fmt.Errorf("overlay option %q names a path: %w", k, errdefs.ErrNotImplemented)
			}
			data = append(data, o)
		}
	}
	if err := os.Mkdir(target, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("overlay", target, "overlay", flags, strings.Join(data, ",")); err != nil {
		return fmt.Errorf("mount overlay: %w", err)
	}
	return nil
}

// mountRoot mounts a job's snapshot at AREA/rootfs.
func mountRoot(area string, mounts []mount.Mount) (string, error) {
	if len(mounts) != 1 || mounts[0].Type != "overlay" {
		return "", fmt.Errorf("job snapshot is not one overlay mount: %w", errdefs.ErrNotImplemented)
	}
	target := filepath.Join(area, areaRoot)
	if err := overlayAt(target, mounts[0].Options, unix.MS_NOSUID|unix.MS_NODEV); err != nil {
		return "", fmt.Errorf("job root: %w", err)
	}
	return target, nil
}

// mountInputs mounts each input directory read-only at AREA/in/NAME (an
// overlay needs two lower layers when it has no upper one: the second is
// the empty AREA/empty) and returns the binds of the job's spec.
func mountInputs(area string, inputs []sandbox.Mount) ([]hardening.Bind, error) {
	if len(inputs) == 0 {
		return nil, nil
	}
	empty := filepath.Join(area, areaEmpty)
	if err := os.Mkdir(empty, 0o555); err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(area, areaIn), 0o755); err != nil {
		return nil, err
	}
	var binds []hardening.Bind
	for _, in := range inputs {
		target := filepath.Join(area, areaIn, in.Name)
		opts := []string{"lowerdir=" + in.HostDir + ":" + empty}
		if err := overlayAt(target, opts, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC); err != nil {
			return nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		binds = append(binds, hardening.Bind{HostDir: target, Target: hardening.InputTarget(in.Name)})
	}
	return binds, nil
}

// mountsUnder returns the mount points at or below dir in this process's
// mount table, deepest first.
func mountsUnder(dir string) ([]string, error) { return mountsUnderOf("self", dir) }

// mountsUnderOf is mountsUnder in the mount table of the process pid
// ("self" or a number).
func mountsUnderOf(pid, dir string) ([]string, error) {
	f, err := os.Open("/proc/" + pid + "/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountinfo(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(out), nil
}

// unescapeMountinfo undoes the octal escapes (\040 and the like) of a
// path in /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isMount reports whether dir is a mount point.
func isMount(dir string) bool {
	ms, err := mountsUnder(dir)
	return err == nil && slices.Contains(ms, dir)
}

// mountedArea returns the path by which this process reaches a job's work
// area with its mounts, or "" when none holds them any more. That is the
// area itself when its /out is mounted in this process's mount namespace.
// A previous daemon that ran in a mount namespace of its own (as systemd
// gives a service with ProtectSystem= or PrivateTmp=) made the mounts
// there, where a new daemon does not see them; the holder of the job's
// fifos lives on in that namespace, and the area is reached through its
// root, /proc/PID/root/AREA. The mounts go with that namespace when its
// last process (the job's shim, the holder) ends.
func mountedArea(area string) string {
	out := filepath.Join(area, areaOut)
	if isMount(out) {
		return area
	}
	pid := holderOf(area)
	if pid == 0 {
		return ""
	}
	if ms, err := mountsUnderOf(strconv.Itoa(pid), out); err != nil || !slices.Contains(ms, out) {
		return ""
	}
	return fmt.Sprintf("/proc/%d/root%s", pid, area)
}

// removeWorkArea unmounts everything mounted in a job's work area and
// removes it. It refuses to remove an area that still holds a mount: the
// removal would reach into the mounted file system.
func removeWorkArea(area string) error {
	for i := 0; i < 8; i++ {
		ms, err := mountsUnder(area)
		if err != nil {
			return fmt.Errorf("read the mount table: %w", err)
		}
		if len(ms) == 0 {
			if err := os.RemoveAll(area); err != nil {
				return fmt.Errorf("remove work area: %w", err)
			}
			return nil
		}
		for _, m := range ms {
			if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("unmount in work area: %w", err)
			}
		}
	}
	return fmt.Errorf("work area %q still holds mounts: %w", filepath.Base(area), errdefs.ErrFailedPrecondition)
}
