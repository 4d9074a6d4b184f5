package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/enclave-dev/enclave/enclave/api"
)

func init() {
	register(
		&command{path: "dataset import", args: "FILE", short: "import a CSV, Parquet or Arrow file as a new dataset version (custodian)", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) {
				fs.String("spec", "", "the import spec (YAML): per column level, personal-information type and rule")
				fs.String("name", "", "the dataset's name (default: the spec's name)")
			},
			run: importDataset},
		&command{path: "dataset list", short: "the catalogue: schemas and marks, never rows", maxArgs: 0,
			flags: func(fs *flag.FlagSet) { fs.Bool("all", false, "every version, not only the newest") },
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				ds, err := e.client.ListDatasets(ctx, get(fs, "all") == "true")
				if err != nil {
					return err
				}
				return e.print(ds, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "DATASET\tOWNER\tCATEGORY\tLEVEL\tMARKET\tSTATE\tROWS\tCOLUMNS\tIMPORTED\tBY")
					for _, d := range ds {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", d.ID, d.Owner, d.Category, d.Level, d.Market, d.State, d.Rows, len(d.Columns),
							d.CreatedAt.Local().Format("2006-01-02 15:04"), named(d.CreatedByName, d.CreatedBy))
					}
				})
			}},
		&command{path: "dataset show", args: "NAME[@V]", short: "one dataset version: schema, marks, row count, state", minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				d, err := e.client.ShowDataset(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(d, func(tw *tabwriter.Writer) { datasetTable(tw, d) })
			}},
		datasetStateCommand("seal", "seal a dataset: no job can read any of its versions (custodian)"),
		datasetStateCommand("unseal", "unseal a dataset (custodian); withheld data stays sealed"),
		&command{path: "dataset destroy", args: "NAME[@V]", short: "destroy a dataset version, or all versions, irreversibly (custodian)", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) { fs.String("reason", "", "why (required, recorded)") },
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				if strings.TrimSpace(get(fs, "reason")) == "" {
					return usagef("--reason is required")
				}
				r, err := e.client.DestroyDataset(ctx, args[0], get(fs, "reason"))
				if err != nil {
					return err
				}
				return e.print(r, func(tw *tabwriter.Writer) {
					for _, d := range r.Destructions {
						fmt.Fprintf(tw, "destroyed\t%s@%d\nkey\t%s\ntechnique\t%s\nfiles removed\t%d\nreason\t%s\nby\t%s at %s\n\n",
							d.Dataset, d.Version, d.KeyID, d.Technique, d.Files, d.Reason, d.Actor, d.Time.Local().Format(time.RFC3339))
					}
					// What jobs derived from it died with it.
					for _, d := range r.Derived {
						fmt.Fprintf(tw, "destroyed derived\t%s (from %s)\nkey\t%s\nfiles removed\t%d\n\n", d.Object, d.Cause, d.KeyID, d.Files)
					}
					if len(r.Derived) == 0 {
						fmt.Fprintf(tw, "derived outputs destroyed\tnone (no unreleased output read it)\n")
					}
				})
			}},
	)
}

func datasetStateCommand(verb, short string) *command {
	return &command{path: "dataset " + verb, args: "NAME", short: short, minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) { fs.String("reason", "", "why (required, recorded)") },
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if strings.TrimSpace(get(fs, "reason")) == "" {
				return usagef("--reason is required")
			}
			ds, err := e.client.SetDatasetState(ctx, args[0], verb, get(fs, "reason"))
			if err != nil {
				return err
			}
			return e.print(ds, func(tw *tabwriter.Writer) {
				for _, d := range ds {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", d.ID, d.State, d.StateReason)
				}
			})
		}}
}

func importDataset(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	specPath := get(fs, "spec")
	if specPath == "" {
		return usagef("--spec is required")
	}
	spec, err := os.ReadFile(specPath)
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	name, specName := get(fs, "name"), specDatasetName(spec)
	switch {
	case name == "" && specName == "":
		return usagef("--name is required: the spec %q names no dataset (it has no name: line)", specPath)
	case name != "" && specName != "" && name != specName:
		return usagef("--name %q differs from the name %q in the spec %q: give the same name in both, or leave --name out", name, specName, specPath)
	}
	f, err := os.Open(args[0])
	if err != nil {
		return fmt.Errorf("open data file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	bar := newProgressBar(e.stderr, fi.Size(), !e.json)
	d, err := e.client.ImportDataset(ctx, name, spec, f,
		func(sent int64) { bar.update("upload", sent, 0) },
		func(p api.ImportProgress) { bar.update("import", p.Bytes, p.Rows) })
	bar.done()
	if err != nil {
		return err
	}
	return e.print(d, func(tw *tabwriter.Writer) { datasetTable(tw, d) })
}

// specDatasetName is the name: of an import spec, or "" when it has none
// or is not YAML (the daemon then says what is wrong with it).
func specDatasetName(spec []byte) string {
	var doc struct {
		Name any `yaml:"name"`
	}
	if yaml.Unmarshal(spec, &doc) != nil {
		return ""
	}
	name, _ := doc.Name.(string)
	return name
}

func datasetTable(tw *tabwriter.Writer, d api.Dataset) {
	fmt.Fprintf(tw, "dataset\t%s\nowner\t%s\ncategory\t%s\nlevel\t%s\nmarket\t%s\nstate\t%s %s\nrows\t%d\nimported\t%s by %s (%s)\nspec sha256\t%s\nfingerprints\t%d values, %d rows\n",
		d.ID, d.Owner, d.Category, d.Level, d.Market, d.State, d.StateReason, d.Rows, d.CreatedAt.Local().Format("2006-01-02 15:04"), named(d.CreatedByName, d.CreatedBy), d.Org,
		d.SpecSHA256, d.FingerprintValues, d.FingerprintRows)
	if d.DestroyedAt != "" {
		fmt.Fprintf(tw, "destroyed\t%s\n", d.DestroyedAt)
	}
	if sh := d.Marks["enclave.sharing"]; sh != "" {
		fmt.Fprintf(tw, "sharing\t%s\n", sh)
	}
	if d.Upload {
		fmt.Fprintf(tw, "upload\tthe organisation's own data; reviewed by %s %s\n", dash(named(d.ReviewedByName, d.ReviewedBy)), d.ReviewedAt)
	}
	fmt.Fprintln(tw, "\nCOLUMN\tTYPE\tLEVEL\tPI\tRULE")
	for _, c := range d.Columns {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Name, c.Type, c.Level, dash(c.PI), c.Rule)
	}
	keys := make([]string, 0, len(d.Marks))
	for k := range d.Marks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(tw, "\nMARK\tVALUE")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\n", k, d.Marks[k])
	}
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
