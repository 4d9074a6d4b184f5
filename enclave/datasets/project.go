package datasets

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/ingest"
)

// DecryptColumns is Decrypt keeping only the named columns (in the
// dataset's order, with their marks and the schema's marks), for a job
// whose grant names columns. No columns means every column.
func (c *Catalog) DecryptColumns(ctx context.Context, v *Version, dst string, columns []string) (err error) {
	if len(columns) == 0 {
		return c.Decrypt(ctx, v, dst)
	}
	for _, col := range columns {
		if !slices.ContainsFunc(v.Columns, func(ci ingest.ColumnInfo) bool { return ci.Name == col }) {
			return fmt.Errorf("dataset %q version %d has no column %q: %w", v.Name, v.Version, col, errdefs.ErrInvalidArgument)
		}
	}
	full := filepath.Join(filepath.Dir(dst), ".full-"+filepath.Base(dst))
	if err := c.Decrypt(ctx, v, full); err != nil {
		return err
	}
	defer os.Remove(full)
	return project(full, dst, columns)
}

func project(src, dst string, columns []string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	mem := memory.NewGoAllocator()
	r, err := ipc.NewFileReader(in, ipc.WithAllocator(mem))
	if err != nil {
		return fmt.Errorf("read the decrypted dataset: %w", err)
	}
	defer r.Close()
	sc := r.Schema()
	var idx []int
	var fields []arrow.Field
	for i, f := range sc.Fields() {
		if slices.Contains(columns, f.Name) {
			idx = append(idx, i)
			fields = append(fields, f)
		}
	}
	md := sc.Metadata()
	out := arrow.NewSchema(fields, &md)
	tmp := dst + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(out), ipc.WithAllocator(mem))
	if err != nil {
		return err
	}
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			return err
		}
		cols := make([]arrow.Array, len(idx))
		for j, k := range idx {
			cols[j] = rec.Column(k)
		}
		sub := array.NewRecordBatch(out, cols, rec.NumRows())
		err = w.Write(sub)
		sub.Release()
		if err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o400); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
