package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
)

func TestDestroy(t *testing.T) {
	e := newEnv(t)
	in := e.write(t, "a.csv", []byte("a\n1\n"))
	spec := mustSpec(t, "name: d\nmarket: ordinary\ncolumns:\n  a: {level: general-1, rule: keep}\n")
	opts := e.opts("v")
	res, err := Import(context.Background(), Source{Path: in}, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := Destroy(ctx, opts.Dir, e.kr, "dataset/test@1")
	if err != nil {
		t.Fatal(err)
	}
	if d.KeyID != "fake/dataset/test@1" || len(d.Files) != 2 || d.Keyring != "fake" || d.Technique == "" {
		t.Fatalf("got %+v, want the key id, two files, the keyring and a technique", d)
	}
	if _, err := os.Stat(opts.Dir); !os.IsNotExist(err) {
		t.Fatal("got the directory after destroy, want it removed")
	}
	if err := Decrypt(ctx, opts.Dir, e.kr, "dataset/test@1", res.WrappedKey, filepath.Join(e.root, "x")); !errdefs.IsNotFound(err) {
		t.Fatalf("got %v after destroy, want not found", err)
	}
	d, err = Destroy(ctx, opts.Dir, e.kr, "dataset/test@1")
	if err != nil || d.KeyID != "" || len(d.Files) != 0 {
		t.Fatalf("got %+v, %v for a repeated destroy, want an empty record and no error", d, err)
	}
}
