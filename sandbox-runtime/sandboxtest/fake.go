package sandboxtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

var _ sandbox.Runtime = (*Fake)(nil)

// Fake is a hand-written sandbox.Runtime for tests of callers (the job
// queue): each method calls its function field when set, and otherwise
// behaves as a trivial runtime (imports hash nothing and return a fixed
// digest; Run validates the spec, writes "ok\n" to logs and exits 0). It
// records every spec it ran. It is safe for concurrent use.
type Fake struct {
	ImportFunc   func(ctx context.Context, r io.Reader) (string, error)
	PrepareFunc  func(ctx context.Context, digest string) error
	RunFunc      func(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error)
	RecoverFunc  func(ctx context.Context, keep func(id string) bool) ([]string, error)
	ReattachFunc func(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error)

	mu         sync.Mutex
	Ran        []sandbox.Spec
	Reattached []sandbox.Spec
}

// FakeDigest is what Fake.ImportImage returns by default.
const FakeDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000001"

// ImportImage calls ImportFunc or returns FakeDigest.
func (f *Fake) ImportImage(ctx context.Context, r io.Reader) (string, error) {
	if f.ImportFunc != nil {
		return f.ImportFunc(ctx, r)
	}
	return FakeDigest, nil
}

// PrepareImage calls PrepareFunc or succeeds.
func (f *Fake) PrepareImage(ctx context.Context, digest string) error {
	if f.PrepareFunc != nil {
		return f.PrepareFunc(ctx, digest)
	}
	return nil
}

// Run records spec and calls RunFunc, or validates spec and exits 0;
// a cancelled ctx yields ReasonCanceled, or an error wrapping
// sandbox.ErrDetached when that is the cause.
func (f *Fake) Run(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
	if err := spec.Validate(); err != nil {
		return sandbox.Exit{}, err
	}
	f.mu.Lock()
	f.Ran = append(f.Ran, spec)
	f.mu.Unlock()
	if f.RunFunc != nil {
		return f.RunFunc(ctx, spec, logs)
	}
	start := time.Now()
	if err := ctx.Err(); err != nil {
		if errors.Is(context.Cause(ctx), sandbox.ErrDetached) {
			return sandbox.Exit{}, fmt.Errorf("job %q: %w", spec.ID, sandbox.ErrDetached)
		}
		return sandbox.Exit{Reason: sandbox.ReasonCanceled, Code: -1, Started: start, Ended: time.Now()}, nil
	}
	if logs != nil {
		fmt.Fprint(logs, "ok\n")
	}
	end := time.Now()
	return sandbox.Exit{Reason: sandbox.ReasonExited, Started: start, Ended: end, Usage: sandbox.Usage{Wall: end.Sub(start)}}, nil
}

// Recover calls RecoverFunc or returns nothing.
func (f *Fake) Recover(ctx context.Context, keep func(id string) bool) ([]string, error) {
	if f.RecoverFunc != nil {
		return f.RecoverFunc(ctx, keep)
	}
	return nil, nil
}

// Reattach records spec and calls ReattachFunc, or validates spec and
// reports errdefs.ErrNotFound: by default the fake keeps no job.
func (f *Fake) Reattach(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
	if err := spec.Validate(); err != nil {
		return sandbox.Exit{}, err
	}
	f.mu.Lock()
	f.Reattached = append(f.Reattached, spec)
	f.mu.Unlock()
	if f.ReattachFunc != nil {
		return f.ReattachFunc(ctx, spec, logs)
	}
	return sandbox.Exit{}, fmt.Errorf("job %q: %w", spec.ID, errdefs.ErrNotFound)
}

// Close does nothing.
func (f *Fake) Close() error { return nil }

// Specs returns a copy of the specs Run received.
func (f *Fake) Specs() []sandbox.Spec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sandbox.Spec(nil), f.Ran...)
}

// ReattachedSpecs returns a copy of the specs Reattach received.
func (f *Fake) ReattachedSpecs() []sandbox.Spec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sandbox.Spec(nil), f.Reattached...)
}

// ErrFakeRefused is a convenience error for RunFunc: a spec refused as
// invalid.
var ErrFakeRefused = fmt.Errorf("fake runtime refused the spec: %w", errdefs.ErrInvalidArgument)
