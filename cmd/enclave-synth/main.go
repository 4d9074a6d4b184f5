// Command enclave-synth writes synthetic credit penalty data as CSV, and
// optionally a matching import spec, for demos, tests and benchmarks:
//
//	enclave-synth -rows 100000 -seed 1 -o penalties.csv -spec penalties.yaml
//
// With -resident-id N or -uscc N it prints the N-th synthetic resident ID
// number or unified social credit code instead (fictional division 990100,
// valid check characters), for registering people and organisations in
// demos:
//
//	enclave-synth -resident-id 3
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/enclave-dev/enclave/enclave/synth"
)

func main() {
	rows := flag.Int("rows", 1000, "number of records")
	seed := flag.Uint64("seed", 1, "random seed; the same seed gives the same data")
	out := flag.String("o", "-", "CSV output file, - for standard output")
	spec := flag.String("spec", "", "also write an import spec (YAML) to this file")
	name := flag.String("name", "credit_penalties", "dataset name in the spec")
	residentID := flag.Int("resident-id", -1, "print the N-th synthetic resident ID number and exit")
	uscc := flag.Int("uscc", -1, "print the N-th synthetic unified social credit code and exit")
	flag.Parse()
	if *residentID >= 0 || *uscc >= 0 {
		if err := printID(*residentID, *uscc); err != nil {
			fmt.Fprintln(os.Stderr, "enclave-synth:", err)
			os.Exit(2)
		}
		return
	}
	if err := run(*rows, *seed, *out, *spec, *name); err != nil {
		fmt.Fprintln(os.Stderr, "enclave-synth:", err)
		os.Exit(1)
	}
}

func printID(residentID, uscc int) error {
	switch {
	case residentID >= 0 && uscc >= 0:
		return fmt.Errorf("give one of -resident-id and -uscc")
	case max(residentID, uscc) >= synth.MaxIDs:
		return fmt.Errorf("sequence number must be below %d", synth.MaxIDs)
	case residentID >= 0:
		fmt.Println(synth.ResidentID(residentID))
	default:
		fmt.Println(synth.USCC(uscc))
	}
	return nil
}

func run(rows int, seed uint64, out, spec, name string) error {
	if rows < 0 {
		return fmt.Errorf("rows must not be negative")
	}
	var w io.Writer = os.Stdout
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
		if err := synth.WriteCSV(w, seed, rows); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	} else if err := synth.WriteCSV(w, seed, rows); err != nil {
		return err
	}
	if spec != "" {
		return os.WriteFile(spec, []byte(synth.Spec(name)), 0o644)
	}
	return nil
}
