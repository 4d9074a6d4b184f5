package jobs

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// lineScanner withholds the lines holding "secret", or fails.
type lineScanner struct {
	err  error
	seen []byte
}

func (s *lineScanner) WithheldLines(_ context.Context, _ *Job, log []byte) (map[int]bool, error) {
	s.seen = log
	if s.err != nil {
		return nil, s.err
	}
	out := map[int]bool{}
	for i, l := range strings.SplitAfter(string(log), "\n") {
		if strings.Contains(l, "secret") {
			out[i] = true
		}
	}
	return out, nil
}

const testLog = "start\nsecret 320583199001010\nrows 3\n"

// TestLogs: a log read exactly is the whole log; read filtered, once the
// job has ended as its coarse view shows, each line the scan withholds is
// replaced by a notice; a filtered read that cannot be scanned, or of a
// job that has not ended, shows nothing.
func TestLogs(t *testing.T) {
	rt := &sandboxtest.Fake{RunFunc: func(_ context.Context, _ sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
		io.WriteString(logs, testLog)
		return sandbox.Exit{Reason: sandbox.ReasonExited, Usage: sandbox.Usage{Wall: 1500 * time.Millisecond}}, nil
	}}
	m, _ := newManager(t, rt)
	j, err := submit(t, m, "j-log", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	after := func() time.Time { return j.RevealAt().Add(time.Second) }
	read := func(l *Log) string {
		var b strings.Builder
		if _, err := l.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name      string
		scan      *lineScanner
		noScanner bool
		now       func() time.Time
		exact     bool
		want      string // the text shown, or the error class below
		wantErr   func(error) bool
	}{
		{name: "exact", exact: true, noScanner: true, now: func() time.Time { return j.CreatedAt }, want: testLog},
		{name: "filtered", scan: &lineScanner{}, now: after,
			want: "start\n[line 2 withheld: it may carry data of the job's inputs]\nrows 3\n"},
		{name: "not revealed yet", scan: &lineScanner{}, now: func() time.Time { return j.RevealAt().Add(-time.Millisecond) },
			wantErr: errdefs.IsFailedPrecondition},
		{name: "scan fails", scan: &lineScanner{err: errors.New("check process crashed")}, now: after, wantErr: errdefs.IsUnavailable},
		{name: "no scanner", noScanner: true, now: after, wantErr: errdefs.IsUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Logs{Jobs: m, Now: tc.now}
			if !tc.noScanner {
				s.Scan = tc.scan
			}
			l, err := s.Read(ctx, j, tc.exact)
			if tc.wantErr != nil {
				if !tc.wantErr(err) || l != nil {
					t.Fatalf("got %v, %v, want the error class and no log", l, err)
				}
				if strings.Contains(err.Error(), "3205831990") {
					t.Errorf("the error carries a value of the log: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := read(l); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if l.Bytes != len(testLog) || l.Filtered == tc.exact || (!tc.exact && l.Withheld != 1) {
				t.Errorf("got %+v, want %d bytes, filtered %v and one line withheld when filtered", l, len(testLog), !tc.exact)
			}
			if !tc.exact && string(tc.scan.seen) != testLog {
				t.Errorf("the scan saw %q, want the whole log", tc.scan.seen)
			}
		})
	}
	// A job that has not run has no log; read filtered, it has not ended.
	q := m.New(NewJob{ID: "j-queued", Org: "acme", Owner: "p_op", Image: sandboxtest.FakeDigest, Args: []string{"job"}, Limits: sandbox.DefaultLimits(), Revision: "r1"})
	if _, err := (&Logs{Jobs: m}).Read(ctx, q, true); !errdefs.IsNotFound(err) {
		t.Errorf("exact read of a job without a log: got %v, want not found", err)
	}
	if _, err := (&Logs{Jobs: m, Scan: &lineScanner{}}).Read(ctx, q, false); !errdefs.IsFailedPrecondition(err) {
		t.Errorf("filtered read of a queued job: got %v, want failed precondition", err)
	}
}
