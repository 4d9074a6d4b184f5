// Package show prints the tables of a verified release bundle for a
// person to read: Arrow IPC files as text tables, text files as they are.
// It reads only files whose hashes release.Verify already checked.
package show

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/enclave-dev/enclave/enclave/release"
)

// maxRows is how many rows of a table are printed.
const maxRows = 50

// Bundle prints every file of a bundle that verified: r must read the same
// bytes that release.Verify accepted.
func Bundle(w io.Writer, r io.Reader, v *release.Verified) error {
	want := map[string]string{}
	for _, f := range v.Files {
		want[release.FilesDir+f.Name] = f.SHA256
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, ok := want[h.Name]; !ok {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(h.Name, release.FilesDir)
		fmt.Fprintf(w, "\n-- %s\n", name)
		if err := Table(w, data); err != nil {
			if utf8.Valid(data) {
				w.Write(data)
				continue
			}
			fmt.Fprintf(w, "(%d bytes, not a table)\n", len(data))
		}
	}
}

// Table prints an Arrow IPC file as a text table.
func Table(w io.Writer, data []byte) error {
	mem := memory.NewGoAllocator()
	r, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(mem))
	if err != nil {
		return err
	}
	defer r.Close()
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	sc := r.Schema()
	var head []string
	for _, f := range sc.Fields() {
		head = append(head, strings.ToUpper(f.Name))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	rows := 0
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			return err
		}
		for row := 0; row < int(rec.NumRows()) && rows < maxRows; row++ {
			cells := make([]string, rec.NumCols())
			for c := range cells {
				col := rec.Column(c)
				if col.IsNull(row) {
					cells[c] = "(null)"
				} else {
					cells[c] = col.ValueStr(row)
				}
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
			rows++
		}
	}
	return tw.Flush()
}
