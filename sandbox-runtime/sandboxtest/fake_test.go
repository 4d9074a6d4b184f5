package sandboxtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/containerd/errdefs"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

func TestFake(t *testing.T) {
	good := sandbox.Spec{ID: "j1", Image: FakeDigest, Args: []string{"true"}, OutDir: "/tmp/out", Limits: sandbox.DefaultLimits()}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		spec     sandbox.Spec
		wantErr  error
		wantWhy  sandbox.Reason
		wantLogs string
	}{
		{"runs", context.Background(), good, nil, sandbox.ReasonExited, "ok\n"},
		{"cancelled", canceled, good, nil, sandbox.ReasonCanceled, ""},
		{"invalid", context.Background(), sandbox.Spec{ID: "bad/id"}, errdefs.ErrInvalidArgument, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &Fake{}
			var logs bytes.Buffer
			ex, err := f.Run(tc.ctx, tc.spec, &logs)
			if tc.wantErr != nil {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("Run: got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || ex.Reason != tc.wantWhy || logs.String() != tc.wantLogs {
				t.Fatalf("Run: got %s, %q, %v; want %s, %q", ex.Reason, logs.String(), err, tc.wantWhy, tc.wantLogs)
			}
			if got := f.Specs(); len(got) != 1 || got[0].ID != "j1" {
				t.Errorf("recorded specs: got %v, want the one run", got)
			}
		})
	}
	t.Run("function field", func(t *testing.T) {
		f := &Fake{RunFunc: func(context.Context, sandbox.Spec, io.Writer) (sandbox.Exit, error) {
			return sandbox.Exit{Reason: sandbox.ReasonOOM}, nil
		}}
		ex, err := f.Run(context.Background(), good, nil)
		if err != nil || ex.Reason != sandbox.ReasonOOM {
			t.Errorf("Run: got %s, %v; want oom from RunFunc", ex.Reason, err)
		}
	})
	t.Run("detached", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(sandbox.ErrDetached)
		f := &Fake{}
		if _, err := f.Run(ctx, good, nil); !errors.Is(err, sandbox.ErrDetached) {
			t.Errorf("Run detached: got %v, want sandbox.ErrDetached", err)
		}
		if _, err := f.Reattach(context.Background(), good, nil); !errdefs.IsNotFound(err) {
			t.Errorf("Reattach of a job the fake does not keep: got %v, want not found", err)
		}
	})
}
