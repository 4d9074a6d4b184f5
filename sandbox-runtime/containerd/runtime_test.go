package containerd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/errdefs"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

// writeDataset writes a marked Arrow IPC file: region a x25, b x4, c x11.
func writeDataset(t *testing.T, dir string) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	md := arrow.NewMetadata([]string{"enclave.dataset", "enclave.version", "enclave.level"}, []string{"credit_penalties", "2", "general-2"})
	schema := arrow.NewSchema([]arrow.Field{{Name: "region", Type: arrow.BinaryTypes.String,
		Metadata: arrow.NewMetadata([]string{"enclave.level"}, []string{"general-3"})}}, &md)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for v, n := range map[string]int{"a": 25, "b": 4, "c": 11} {
		for i := 0; i < n; i++ {
			b.Field(0).(*array.StringBuilder).Append(v)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.arrow"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunGroupcount(t *testing.T) {
	setup(t)
	in := filepath.Join(env.base, "inputs", "groupcount")
	writeDataset(t, in)
	spec := newSpec(t, "groupcount", "groupcount", "-in", "/in/credit/data.arrow", "-by", "region", "-out", "/out/counts.arrow")
	spec.Inputs = []sandbox.Mount{{Name: "credit", HostDir: in}}
	spec.Outputs = []string{"counts.arrow"}
	ex, logs := run(t, context.Background(), spec)
	if ex.Reason != sandbox.ReasonExited || ex.Code != 0 {
		t.Fatalf("exit: got %s/%d, want exited/0; logs %q", ex.Reason, ex.Code, logs)
	}
	if len(ex.Outputs) != 1 || ex.Outputs[0].Name != "counts.arrow" || ex.Usage.OutputBytes != uint64(ex.Outputs[0].Size) {
		t.Fatalf("outputs: got %+v (%d bytes), want counts.arrow", ex.Outputs, ex.Usage.OutputBytes)
	}
	f, err := os.Open(filepath.Join(spec.OutDir, "counts.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fr, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatalf("output: %v", err)
	}
	defer fr.Close()
	rec, err := fr.RecordBatch(0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < int(rec.NumRows()); i++ {
		got = append(got, rec.Column(0).ValueStr(i)+"="+rec.Column(1).ValueStr(i))
	}
	if want := "a=25,c=11"; strings.Join(got, ",") != want {
		t.Errorf("counts: got %v, want %s (b suppressed)", got, want)
	}
	md := fr.Schema().Metadata()
	if i := md.FindKey("enclave.source"); i < 0 || md.Values()[i] != "credit_penalties@2" {
		t.Errorf("enclave.source: got %v, want credit_penalties@2", md)
	}
	if i := md.FindKey("enclave.level"); i < 0 || md.Values()[i] != "general-3" {
		t.Errorf("enclave.level: got %v, want general-3 (highest input level)", md)
	}
}

func TestRunCancel(t *testing.T) {
	setup(t)
	spec := newSpec(t, "toolbox", "sleep", "3600")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel)
	start := time.Now()
	ex, _ := run(t, ctx, spec)
	if ex.Reason != sandbox.ReasonCanceled {
		t.Fatalf("reason: got %s, want canceled", ex.Reason)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("cancel took %v, want the job killed promptly", d)
	}
}

func TestRunRefuses(t *testing.T) {
	rt := setup(t)
	ctx := context.Background()
	other, err := New(ctx, env.daemon.Address(), "enclave-test-unprepared", WithWorkDir(filepath.Join(env.base, "work2")))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	f, err := os.Open(filepath.Join(env.base, "images", "toolbox.tar"))
	if err != nil {
		t.Fatal(err)
	}
	unprepared, err := other.ImportImage(ctx, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}

	busy := newSpec(t, "toolbox", "sleep", "3600")
	bctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); rt.Run(bctx, busy, nil) }()
	defer func() { stop(); <-done }()
	time.Sleep(500 * time.Millisecond)

	tests := []struct {
		name string
		rt   *Runtime
		spec func() sandbox.Spec
		want error
	}{
		{"bad id", rt, func() sandbox.Spec { s := newSpec(t, "toolbox", "true"); s.ID = "../x"; return s }, errdefs.ErrInvalidArgument},
		{"no limits", rt, func() sandbox.Spec { s := newSpec(t, "toolbox", "true"); s.Limits = sandbox.Limits{}; return s }, errdefs.ErrInvalidArgument},
		{"unknown image", rt, func() sandbox.Spec {
			s := newSpec(t, "toolbox", "true")
			s.Image = "sha256:" + strings.Repeat("0", 64)
			return s
		}, errdefs.ErrNotFound},
		{"unprepared image", other, func() sandbox.Spec { s := newSpec(t, "toolbox", "true"); s.Image = unprepared; return s }, errdefs.ErrFailedPrecondition},
		{"duplicate id", rt, func() sandbox.Spec { s := newSpec(t, "toolbox", "true"); s.ID = busy.ID; return s }, errdefs.ErrAlreadyExists},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.rt.Run(ctx, tc.spec(), nil)
			if !errors.Is(err, tc.want) {
				t.Errorf("Run: got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("garbage archive", func(t *testing.T) {
		_, err := rt.ImportImage(ctx, strings.NewReader("this is not a tar"))
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("ImportImage: got %v, want invalid argument", err)
		}
	})
}

func TestRecoverAfterRestart(t *testing.T) {
	setup(t)
	ctx := context.Background()
	dir := filepath.Join(env.base, "recover")
	work := filepath.Join(env.base, "recover-work")
	const ns = "enclave-recover"
	d1, err := StartDaemon(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := New(ctx, d1.Address(), ns, WithWorkDir(work))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(filepath.Join(env.base, "images", "toolbox.tar"))
	dg, err := r1.ImportImage(ctx, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := r1.PrepareImage(ctx, dg); err != nil {
		t.Fatal(err)
	}
	spec := newSpec(t, "toolbox", "sleep", "3600")
	spec.Image = dg
	done := make(chan struct{})
	go func() { defer close(done); r1.Run(ctx, spec, nil) }()
	// wait until the job's task runs
	for i := 0; ; i++ {
		if tk, err := r1.client.TaskService().List(r1.ctx(ctx), nil); err == nil && len(tk.Tasks) == 1 {
			break
		}
		if i > 100 {
			t.Fatal("job did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The daemon goes away while the job runs; its shim keeps the job alive.
	if err := d1.Stop(); err != nil {
		t.Fatal(err)
	}
	<-done
	r1.Close()

	d2, err := StartDaemon(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Stop()
	r2, err := New(ctx, d2.Address(), ns, WithWorkDir(work))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	// The caller keeps none of the jobs it is asked about: each is killed
	// and removed.
	var asked []string
	ids, err := r2.Recover(ctx, func(id string) bool { asked = append(asked, id); return false })
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if len(asked) != 1 || asked[0] != spec.ID || len(ids) != 0 {
		t.Errorf("recovered: asked about %v and kept %v, want asked about [%s] and kept none", asked, ids, spec.ID)
	}
	nctx := r2.ctx(ctx)
	cs, _ := r2.client.Containers(nctx)
	tk, _ := r2.client.TaskService().List(nctx, nil)
	var snaps []string
	r2.client.SnapshotService(r2.snapshotter).Walk(nctx, func(_ context.Context, i snapshots.Info) error {
		if strings.HasPrefix(i.Name, jobSnapshot) || i.Kind == snapshots.KindActive {
			snaps = append(snaps, i.Name)
		}
		return nil
	})
	left, _ := os.ReadDir(work)
	if len(cs) != 0 || len(tk.Tasks) != 0 || len(snaps) != 0 || len(left) != 0 {
		t.Errorf("leaked: got %d containers, %d tasks, snapshots %v, work areas %d; want none", len(cs), len(tk.Tasks), snaps, len(left))
	}
	// The prepared image survives and runs again.
	again := newSpec(t, "toolbox", "true")
	again.Image = dg
	ex, err := r2.Run(ctx, again, nil)
	if err != nil || ex.Reason != sandbox.ReasonExited || ex.Code != 0 {
		t.Errorf("job after recovery: got %+v, %v; want exited/0", ex, err)
	}
}
