package runcwrap

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// mkdirInRoot makes the directory target (absolute, inside the container)
// below the container's root file system root, one component at a time
// and never through a symbolic link or "..": the namespace's root cannot
// make mount points in a root file system that host root owns, so the
// wrapper makes them, as the host's root, before runc runs.
func mkdirInRoot(root, target string) error {
	if !filepath.IsAbs(target) || filepath.Clean(target) != target {
		return errors.New("mount point not a clean absolute path")
	}
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the root file system: %w", err)
	}
	for _, c := range strings.Split(strings.TrimPrefix(target, "/"), "/") {
		if c == "" || c == "." || c == ".." {
			unix.Close(fd)
			return errors.New("mount point not a clean absolute path")
		}
		how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV}
		next, err := unix.Openat2(fd, c, how)
		if errors.Is(err, unix.ENOENT) {
			if err := unix.Mkdirat(fd, c, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				unix.Close(fd)
				return fmt.Errorf("make a mount point: %w", err)
			}
			next, err = unix.Openat2(fd, c, how)
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("mount point: %w", err)
		}
		fd = next
	}
	unix.Close(fd)
	return nil
}
