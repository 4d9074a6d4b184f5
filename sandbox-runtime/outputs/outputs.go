// Package outputs collects a finished job's /out directory safely: regular
// files only, every entry opened relative to a directory handle without
// following links, hardlinks, devices, fifos and sockets refused, names
// validated, and the total size and file count capped. What was left behind
// is reported with a reason. The source is hostile: the job wrote it.
//
// CollectDeclared, what the runtime uses, takes only the files the job
// declared and counts everything else without naming it, because a name
// the job chose is a way out too. Collect walks the whole tree.
package outputs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

// MaxDepth is the deepest directory level collected below /out.
const MaxDepth = 8

// MaxSkips is how many skipped entries are reported one by one; further
// skips are summarised in one final entry.
const MaxSkips = 100

// Skip reasons.
const (
	SkipSymlink    = "symlink"
	SkipHardlink   = "hardlink"
	SkipSpecial    = "not a regular file" // device, fifo, socket
	SkipBadName    = "bad name"
	SkipTooDeep    = "too deep"
	SkipCountLimit = "count limit"
	SkipSizeLimit  = "size limit"
	SkipChanged    = "changed while collecting"
	SkipUnreadable = "unreadable"
	SkipMissing    = "not written"
	SkipDirectory  = "a directory"
)

// Report is the result of a collection.
type Report struct {
	Files   []sandbox.File
	Skipped []sandbox.Skip
	Bytes   int64 // total size of Files
	// Truncated is true when the count or size cap left files behind.
	Truncated bool
	// Undeclared counts the entries at the top of the source that were not
	// declared (CollectDeclared only): dropped, never named.
	Undeclared int
}

// ValidName reports whether one path element written by a job may be
// collected: 1-128 bytes of letters, digits and "_.=+-", not starting with
// a dot or dash, never "." or ".." (sandbox.ValidFileName).
func ValidName(name string) bool {
	return sandbox.ValidFileName(name)
}

// Collect copies the regular files under srcDir into destDir (which must
// exist and should be empty), keeping the directory structure, within
// max.OutBytes total bytes and max.MaxOutputFiles files. Sparse files count
// by their apparent size. It never follows a symbolic link, in srcDir or
// destDir. An error means the collection as a whole failed (srcDir or
// destDir unusable, a write failed); entries that are refused are reported
// in Report.Skipped, not as errors.
func Collect(srcDir, destDir string, max sandbox.Limits) (Report, error) {
	src, err := unix.Open(srcDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return Report{}, fmt.Errorf("open output source: %w", classify(err))
	}
	defer unix.Close(src)
	dst, err := unix.Open(destDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return Report{}, fmt.Errorf("open output destination: %w", classify(err))
	}
	defer unix.Close(dst)
	c := &collector{max: max}
	if err := c.dir(src, dst, "", 0); err != nil {
		return c.rep, err
	}
	if c.extra > 0 {
		c.rep.Skipped = append(c.rep.Skipped, sandbox.Skip{
			Name: "...", Reason: strconv.Itoa(c.extra) + " more entries skipped"})
	}
	return c.rep, nil
}

// CollectDeclared copies the declared files, regular files at the top of
// srcDir, into destDir, with the same care and caps as Collect. A declared
// name that is missing, a directory, a link or anything but a lone regular
// file is reported in Report.Skipped under its (declared) name; every
// other entry of srcDir is dropped and only counted in Report.Undeclared,
// without being opened. Names in declared that are not a ValidName are
// refused with errdefs.ErrInvalidArgument before anything is read.
func CollectDeclared(srcDir, destDir string, max sandbox.Limits, declared []string) (Report, error) {
	want := make(map[string]bool, len(declared))
	for _, n := range declared {
		if !ValidName(n) {
			return Report{}, fmt.Errorf("declared output name %q: %w", n, errdefs.ErrInvalidArgument)
		}
		want[n] = true
	}
	src, err := unix.Open(srcDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return Report{}, fmt.Errorf("open output source: %w", classify(err))
	}
	defer unix.Close(src)
	dst, err := unix.Open(destDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return Report{}, fmt.Errorf("open output destination: %w", classify(err))
	}
	defer unix.Close(dst)
	names, err := readNames(src)
	if err != nil {
		return Report{}, fmt.Errorf("read output directory: %w", classify(err))
	}
	c := &collector{max: max}
	found := map[string]bool{}
	for _, n := range names {
		if !want[n] {
			c.rep.Undeclared++
			continue
		}
		found[n] = true
		var st unix.Stat_t
		if err := unix.Fstatat(src, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			c.skip(n, SkipUnreadable)
			continue
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			if err := c.file(src, dst, n, n, &st); err != nil {
				return c.rep, err
			}
		case unix.S_IFLNK:
			c.skip(n, SkipSymlink)
		case unix.S_IFDIR:
			c.skip(n, SkipDirectory)
		default:
			c.skip(n, SkipSpecial)
		}
	}
	missing := make([]string, 0, len(declared))
	for _, n := range declared {
		if !found[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	for _, n := range missing {
		c.skip(n, SkipMissing)
	}
	if c.extra > 0 {
		c.rep.Skipped = append(c.rep.Skipped, sandbox.Skip{
			Name: "...", Reason: strconv.Itoa(c.extra) + " more entries skipped"})
	}
	return c.rep, nil
}

type collector struct {
	max   sandbox.Limits
	rep   Report
	extra int
}

func (c *collector) skip(name, reason string) {
	if reason == SkipCountLimit || reason == SkipSizeLimit {
		c.rep.Truncated = true
	}
	if len(c.rep.Skipped) >= MaxSkips {
		c.extra++
		return
	}
	c.rep.Skipped = append(c.rep.Skipped, sandbox.Skip{Name: displayName(name), Reason: reason})
}

// displayName quotes a job-chosen name and shortens it so that a report
// cannot carry much of what the job put into names.
func displayName(name string) string {
	if len(name) > 64 {
		name = name[:64] + "..."
	}
	return strconv.Quote(name)
}

func (c *collector) dir(src, dst int, prefix string, depth int) error {
	names, err := readNames(src)
	if err != nil {
		return fmt.Errorf("read output directory: %w", classify(err))
	}
	for _, n := range names {
		rel := prefix + n
		if !ValidName(n) {
			c.skip(rel, SkipBadName)
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(src, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			c.skip(rel, SkipUnreadable)
			continue
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			c.skip(rel, SkipSymlink)
		case unix.S_IFDIR:
			if depth+1 >= MaxDepth {
				c.skip(rel, SkipTooDeep)
				continue
			}
			if err := c.subdir(src, dst, n, rel, depth); err != nil {
				return err
			}
		case unix.S_IFREG:
			if err := c.file(src, dst, n, rel, &st); err != nil {
				return err
			}
		default:
			c.skip(rel, SkipSpecial)
		}
	}
	return nil
}

func (c *collector) subdir(src, dst int, n, rel string, depth int) error {
	sfd, err := unix.Openat(src, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		c.skip(rel, SkipChanged)
		return nil
	}
	defer unix.Close(sfd)
	if err := unix.Mkdirat(dst, n, 0o750); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create output directory: %w", classify(err))
	}
	dfd, err := unix.Openat(dst, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open output directory: %w", classify(err))
	}
	defer unix.Close(dfd)
	return c.dir(sfd, dfd, rel+"/", depth+1)
}

func (c *collector) file(src, dst int, n, rel string, st *unix.Stat_t) error {
	if st.Nlink != 1 {
		c.skip(rel, SkipHardlink)
		return nil
	}
	if len(c.rep.Files) >= c.max.MaxOutputFiles {
		c.skip(rel, SkipCountLimit)
		return nil
	}
	if st.Size < 0 || c.rep.Bytes+st.Size > c.max.OutBytes {
		c.skip(rel, SkipSizeLimit)
		return nil
	}
	fd, err := unix.Openat(src, n, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		c.skip(rel, SkipUnreadable)
		return nil
	}
	in := os.NewFile(uintptr(fd), n)
	defer in.Close()
	var st2 unix.Stat_t
	if err := unix.Fstat(fd, &st2); err != nil || st2.Mode&unix.S_IFMT != unix.S_IFREG ||
		st2.Ino != st.Ino || st2.Dev != st.Dev || st2.Nlink != 1 || st2.Size != st.Size {
		c.skip(rel, SkipChanged)
		return nil
	}
	ofd, err := unix.Openat(dst, n, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return fmt.Errorf("create output file: %w", classify(err))
	}
	out := os.NewFile(uintptr(ofd), n)
	copied, err := io.Copy(out, io.LimitReader(in, st.Size))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy output file: %w", classify(err))
	}
	if copied != st.Size {
		_ = unix.Unlinkat(dst, n, 0)
		c.skip(rel, SkipChanged)
		return nil
	}
	c.rep.Files = append(c.rep.Files, sandbox.File{Name: rel, Size: copied})
	c.rep.Bytes += copied
	return nil
}

// readNames lists a directory given by fd without closing fd.
func readNames(fd int) ([]string, error) {
	dup, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), ".")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

func classify(err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return errors.Join(errdefs.ErrNotFound, err)
	case errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP):
		return errors.Join(errdefs.ErrInvalidArgument, err)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return errors.Join(errdefs.ErrPermissionDenied, err)
	}
	return errors.Join(errdefs.ErrUnknown, err)
}

// Finish ends a job's run the same way on every backend: it collects the
// declared outputs from out (the job's /out as mounted on this host) into
// spec.OutDir and completes ex with them (files, skips, the undeclared
// count, the output bytes), then sets the reason when nothing else ended
// the job: output-limit when /out filled up (blocks or inodes) or a file
// was cut, exited otherwise.
func Finish(out string, spec sandbox.Spec, ex *sandbox.Exit) error {
	full := Full(out)
	rep, err := CollectDeclared(out, spec.OutDir, spec.Limits, spec.Outputs)
	if err != nil {
		return fmt.Errorf("job %q collect outputs: %w", spec.ID, err)
	}
	ex.Outputs, ex.Skipped, ex.Undeclared = rep.Files, rep.Skipped, rep.Undeclared
	ex.Usage.OutputBytes = uint64(rep.Bytes)
	if ex.Reason == "" && (full || rep.Truncated) {
		ex.Reason = sandbox.ReasonOutputLimit
	}
	if ex.Reason == "" {
		ex.Reason = sandbox.ReasonExited
	}
	return nil
}

// Full reports whether the file system at dir has no free block or no
// free inode left: a job that filled its /out ended for its output limit.
func Full(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Bfree == 0 || st.Ffree == 0
}
