package jobs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// MaxLogRead is how much of a job's log is read for a reader.
const MaxLogRead = 64 << 20

// LineScanner tells which lines of a job's log may carry data of its
// inputs: the fingerprint scan and the egress text rule
// (exports.Service.WithheldLines, run in a check process). Lines are
// numbered from 0 as strings.SplitAfter(log, "\n") cuts them. An error
// means no answer: the whole log is withheld.
type LineScanner interface {
	WithheldLines(ctx context.Context, j *Job, log []byte) (map[int]bool, error)
}

// Logs is the domain service behind a job's log. Officers of another
// organisation and the bureau read a log unfiltered, at any time. For
// anyone else, the job's own operators and officers of their
// organisation included, the log is a way out of the enclave like any
// other (DESIGN.md section 5, promise 4): it is shown only once the coarse
// view shows the job ended (lines read as they appear would time the job),
// and line by line, a line the scanner withholds replaced by a notice.
// It is safe for concurrent use.
type Logs struct {
	Jobs *Manager
	// Scan checks the lines of a filtered read; nil serves no filtered
	// reads (they are refused as unavailable).
	Scan LineScanner
	// Log records why a scan failed; nil discards.
	Log *slog.Logger
	// Now returns the current time; nil is time.Now.
	Now func() time.Time
}

// Log is a job's log as one reader may see it.
type Log struct {
	// Bytes is the size of the log read.
	Bytes int
	// Filtered says the lines went through the scan; Withheld counts the
	// lines replaced by a notice.
	Filtered bool
	Withheld int

	data     []byte
	withheld map[int]bool
}

// Read reads job j's log for a reader: exact (unfiltered) or filtered.
// A filtered read of a job that has not ended, as the coarse view shows
// it, is errdefs.ErrFailedPrecondition; one that cannot be scanned (no
// scanner, or the scan failed) is errdefs.ErrUnavailable and shows
// nothing. A job without a log yet is errdefs.ErrNotFound.
func (s *Logs) Read(ctx context.Context, j *Job, exact bool) (*Log, error) {
	if !exact && (!j.State.Terminal() || s.now().Before(j.RevealAt())) {
		return nil, fmt.Errorf("job %q has not ended; its log is shown once it has: %w", j.ID, errdefs.ErrFailedPrecondition)
	}
	f, err := s.Jobs.Logs(j.ID)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxLogRead))
	if err != nil {
		return nil, err
	}
	l := &Log{Bytes: len(data), data: data}
	if exact {
		return l, nil
	}
	if s.Scan == nil {
		return nil, fmt.Errorf("the log of job %q cannot be checked: no egress checks are configured: %w", j.ID, errdefs.ErrUnavailable)
	}
	l.withheld, err = s.Scan.WithheldLines(ctx, j, data)
	if err != nil {
		if s.Log != nil {
			s.Log.Error("log scan failed; withholding the whole log", "job", j.ID, "err", err)
		}
		return nil, fmt.Errorf("the log of job %q cannot be checked now, so none of it is shown: %w", j.ID, errdefs.ErrUnavailable)
	}
	l.Filtered, l.Withheld = true, len(l.withheld)
	return l, nil
}

// WriteTo writes the log as its reader sees it: unfiltered, or each
// withheld line replaced by a notice that names its number.
func (l *Log) WriteTo(w io.Writer) (int64, error) {
	if !l.Filtered {
		n, err := w.Write(l.data)
		return int64(n), err
	}
	var total int64
	for i, line := range strings.SplitAfter(string(l.data), "\n") {
		if line == "" {
			continue
		}
		if l.withheld[i] {
			line = fmt.Sprintf("[line %d withheld: it may carry data of the job's inputs]\n", i+1)
		}
		n, err := io.WriteString(w, line)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (s *Logs) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}
