// Command memcheck makes large single-batch inputs and imports them in a
// process of their own, so that a test can read the peak resident memory
// of the import alone, which the child reports from its own VmHWM
// (TestImportMemoryBounded in package ingest). It is built without the race detector, whose shadow
// memory would count.
//
//	memcheck gen -format arrow|parquet -mb 1024 -out FILE
//	memcheck import -in FILE -dir DIR
//
// gen writes rows of two string columns, id and note (about 1 KiB of
// letters), as one Arrow record batch or one Parquet row group. import
// imports FILE into DIR/v with a new local keyring in DIR/keys and prints
// the rows, the plaintext bytes stored and its peak resident memory
// (peak_rss, bytes) as JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/enclave-dev/enclave/enclave/ingest/internal/procmem"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/enclave-dev/enclave/enclave/ingest"
	"github.com/enclave-dev/enclave/enclave/keys/local"
)

// Spec is the import spec of the generated columns.
const Spec = `name: big
market: ordinary
columns:
  id:   {level: general-1, rule: keep}
  note: {level: general-2, rule: keep}
`

const noteLen = 1000

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: memcheck gen|import ...")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	format := fs.String("format", "arrow", "arrow or parquet")
	mb := fs.Int("mb", 1024, "size of the generated file in MiB")
	out := fs.String("out", "", "file to write")
	in := fs.String("in", "", "file to import")
	dir := fs.String("dir", "", "work directory of the import")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "gen":
		rows := *mb << 20 / (noteLen + 16)
		if *format == "parquet" {
			err = genParquet(*out, rows)
		} else {
			err = genArrow(*out, rows)
		}
	case "import":
		err = runImport(*in, *dir)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "memcheck:", err)
		os.Exit(1)
	}
}

// cells returns row i's id and note: letters and a few digits, no
// personal identifiers.
func cells(i int, note []byte) (string, []byte) {
	for j := range note {
		note[j] = byte('a' + (i*7+j*13+j/7)%26)
	}
	return fmt.Sprintf("r%08d", i), note
}

func genArrow(path string, rows int) error {
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.BinaryTypes.String}, {Name: "note", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(memory.NewGoAllocator(), sc)
	defer b.Release()
	ids, notes := b.Field(0).(*array.StringBuilder), b.Field(1).(*array.StringBuilder)
	ids.Reserve(rows)
	ids.ReserveData(rows * 9)
	notes.Reserve(rows)
	notes.ReserveData(rows * noteLen)
	note := make([]byte, noteLen)
	for i := range rows {
		id, n := cells(i, note)
		ids.Append(id)
		notes.BinaryBuilder.Append(n)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(sc))
	if err != nil {
		return err
	}
	if err := w.Write(rec); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}

// genParquet writes one row group a column at a time, with plain encoding
// and no compression, holding one chunk of values at a time.
func genParquet(path string, rows int) error {
	var fields schema.FieldList
	for _, name := range []string{"id", "note"} {
		n, err := schema.NewPrimitiveNodeLogical(name, parquet.Repetitions.Required, schema.StringLogicalType{}, parquet.Types.ByteArray, -1, -1)
		if err != nil {
			return err
		}
		fields = append(fields, n)
	}
	root, err := schema.NewGroupNode("schema", parquet.Repetitions.Required, fields, -1)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	props := parquet.NewWriterProperties(parquet.WithDictionaryDefault(false), parquet.WithStats(false))
	w := file.NewParquetWriter(f, root, file.WithWriterProps(props))
	rg := w.AppendRowGroup()
	const chunk = 4096
	note := make([]byte, noteLen)
	for col := range 2 {
		cw, err := rg.NextColumn()
		if err != nil {
			return err
		}
		bw := cw.(*file.ByteArrayColumnChunkWriter)
		vals := make([]parquet.ByteArray, 0, chunk)
		for start := 0; start < rows; start += chunk {
			vals = vals[:0]
			for i := start; i < min(rows, start+chunk); i++ {
				id, n := cells(i, note)
				if col == 0 {
					vals = append(vals, parquet.ByteArray(id))
				} else {
					vals = append(vals, parquet.ByteArray(strings.Clone(string(n))))
				}
			}
			if _, err := bw.WriteBatch(vals, nil, nil); err != nil {
				return err
			}
		}
		if err := cw.Close(); err != nil {
			return err
		}
	}
	if err := rg.Close(); err != nil {
		return err
	}
	// Closing the writer closes the file.
	return w.Close()
}

func runImport(in, dir string) error {
	ctx := context.Background()
	kr, err := local.Create(filepath.Join(dir, "keys"))
	if err != nil {
		return err
	}
	spec, err := ingest.ParseSpec(strings.NewReader(Spec))
	if err != nil {
		return err
	}
	res, err := ingest.Import(ctx, ingest.Source{Path: in}, spec, ingest.ImportOptions{
		Version: 1, Dir: filepath.Join(dir, "v"), Keyring: kr, KeyObject: "dataset/big@1", Allocator: memory.NewGoAllocator(),
	})
	if err != nil {
		return err
	}
	peak, err := procmem.PeakRSS()
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]int64{"rows": res.Rows, "bytes": res.Bytes, "peak_rss": peak})
}
