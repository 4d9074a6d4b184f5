package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"
)

// sandboxesDir holds the sandbox directories of data directories whose
// parents the jobs' user cannot search (a data directory under /root or
// under a mktemp -d directory, both 0700). runc resolves a job's root file
// system and mount sources as that remapped user, so the sandbox's state
// must sit where it can pass, as containerd keeps its own under
// /run/containerd; the data directory itself stays private.
const sandboxesDir = "/var/lib/enclave-sandboxes"

// defaultSandboxDir returns the sandbox directory of a data directory (an
// absolute path): DATA-sandbox beside it when the jobs' user may search
// every directory above that, or else a directory under sandboxesDir named
// for the data directory, the same on every start.
func defaultSandboxDir(dataDir string) string {
	beside := dataDir + "-sandbox"
	if searchable(filepath.Dir(beside), jobUID, jobGID) == nil {
		return beside
	}
	sum := sha256.Sum256([]byte(dataDir))
	return filepath.Join(sandboxesDir, hex.EncodeToString(sum[:8]))
}

// prepareSandboxDir creates dir and the missing directories above it 0711
// (whatever the umask) and checks that the jobs' user can reach it. It
// refuses, with errdefs.ErrFailedPrecondition, a directory that the jobs'
// user cannot reach, naming the directory in the way and the fix, rather
// than letting every job end as a system error.
func prepareSandboxDir(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("sandbox directory %q is not absolute: %w", dir, errdefs.ErrInvalidArgument)
	}
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) || d == filepath.Dir(d) {
			return fmt.Errorf("sandbox directory %q: %w", dir, err)
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o711); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create sandbox directory: %w", err)
		}
		if err := os.Chmod(missing[i], 0o711); err != nil {
			return fmt.Errorf("create sandbox directory: %w", err)
		}
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return fmt.Errorf("sandbox directory %q: %w", dir, err)
	}
	if err := searchable(dir, jobUID, jobGID); err != nil {
		return fmt.Errorf("sandbox directory %q: %w; jobs run as an unprivileged user that must reach it: "+
			"give --sandbox-dir a directory whose parents every user may search (for example under %s), or allow search there (chmod o+x)",
			dir, err, sandboxesDir)
	}
	return nil
}

// searchable returns nil when a process of uid and gid, without
// capabilities or other groups, may search dir and every directory above
// it (through symbolic links too), or an error of class
// errdefs.ErrFailedPrecondition naming the first it may not. A directory
// that does not exist yet passes: prepareSandboxDir creates it 0711.
// Access control lists are not read.
func searchable(dir string, uid, gid int) error {
	dir = filepath.Clean(dir)
	paths := []string{dir}
	if real, err := evalExisting(dir); err == nil && real != dir {
		paths = append(paths, real)
	}
	for _, p := range paths {
		for d := p; ; d = filepath.Dir(d) {
			fi, err := os.Stat(d)
			if err == nil {
				if !mayEnter(fi, uid, gid) {
					return fmt.Errorf("%q (mode %04o) cannot be searched by the jobs' user %d:%d: %w", d, uint32(fi.Mode().Perm()), uid, gid, errdefs.ErrFailedPrecondition)
				}
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%q: %v: %w", d, err, errdefs.ErrFailedPrecondition)
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	return nil
}

// evalExisting resolves the symbolic links of the longest part of p that
// exists and appends the rest.
func evalExisting(p string) (string, error) {
	var rest []string
	for d := p; ; d = filepath.Dir(d) {
		if real, err := filepath.EvalSymlinks(d); err == nil {
			return filepath.Join(append([]string{real}, rest...)...), nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("%q: %w", p, errdefs.ErrNotFound)
		}
		rest = append([]string{filepath.Base(d)}, rest...)
	}
}

// mayEnter reports whether uid and gid may search the directory fi by its
// mode bits.
func mayEnter(fi fs.FileInfo, uid, gid int) bool {
	m := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	switch {
	case int(st.Uid) == uid:
		return m&0o100 != 0
	case int(st.Gid) == gid:
		return m&0o010 != 0
	default:
		return m&0o001 != 0
	}
}

// sandboxDirHelp is the --sandbox-dir flag's help.
var sandboxDirHelp = strings.Join([]string{
	"directory for the private containerd and job work areas, which the jobs' unprivileged user must reach",
	"(default: DATA-DIR-sandbox beside the data directory, or " + sandboxesDir + "/HASH when that user cannot search the data directory's parents)",
}, " ")
