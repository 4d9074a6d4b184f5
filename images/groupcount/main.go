package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

func main() {
	in := flag.String("in", "", "input Arrow IPC file, for example /in/NAME/data.arrow")
	by := flag.String("by", "", "column to group by")
	out := flag.String("out", "", "output Arrow IPC file, for example /out/counts.arrow")
	min := flag.Int64("min", 10, "smallest group size written (smaller groups are suppressed)")
	flag.Parse()
	if *in == "" || *by == "" || *out == "" || *min < 10 {
		fmt.Fprintln(os.Stderr, "usage: groupcount -in FILE -by COLUMN -out FILE [-min N>=10]")
		os.Exit(2)
	}
	if err := run(*in, *by, *out, *min); err != nil {
		fmt.Fprintln(os.Stderr, "groupcount:", err)
		os.Exit(1)
	}
}

func run(in, by, out string, min int64) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	mem := memory.NewGoAllocator()
	rec, err := Count(mem, f, by, min)
	if err != nil {
		return err
	}
	defer rec.Release()
	o, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := Write(mem, o, rec); err != nil {
		o.Close()
		return err
	}
	if err := o.Close(); err != nil {
		return err
	}
	fmt.Printf("groupcount: %d groups of %q written\n", rec.NumRows(), by)
	return nil
}
