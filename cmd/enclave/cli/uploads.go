package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/enclave-dev/enclave/enclave/api"
)

// Operators' own data (issue 20): upload, then an officer of another
// organisation approves or rejects.
func init() {
	register(
		&command{path: "dataset upload", args: "FILE", short: "upload your organisation's own data through the import; pending until an officer of another organisation approves it (operator)", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) {
				fs.String("spec", "", "the import spec (YAML): per column level, personal-information type and rule")
				fs.String("name", "", "the dataset's name (default: the spec's name)")
			},
			run: uploadDataset},
		uploadReviewCommand("approve", "approve an operator's upload pending review, after reading its schema, marks, row count and findings (officer of another organisation)"),
		uploadReviewCommand("reject", "reject an operator's upload pending review, with a reason (officer of another organisation)"),
	)
}

func uploadDataset(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	specPath := get(fs, "spec")
	if specPath == "" {
		return usagef("--spec is required")
	}
	spec, err := os.ReadFile(specPath)
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
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
	d, err := e.client.UploadDataset(ctx, get(fs, "name"), spec, f,
		func(sent int64) { bar.update("upload", sent, 0) },
		func(p api.ImportProgress) { bar.update("import", p.Bytes, p.Rows) })
	bar.done()
	if err != nil {
		return err
	}
	return e.print(d, func(tw *tabwriter.Writer) { datasetTable(tw, d) })
}

func uploadReviewCommand(verb, short string) *command {
	return &command{path: "dataset " + verb, args: "NAME[@V]", short: short, minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) { fs.String("reason", "", "why (required to reject, recorded)") },
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if verb == "reject" && strings.TrimSpace(get(fs, "reason")) == "" {
				return usagef("--reason is required")
			}
			d, err := e.client.ReviewUpload(ctx, args[0], verb, get(fs, "reason"))
			if err != nil {
				return err
			}
			return e.print(d, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "%s\t%s\t%s\nreviewed by\t%s at %s\n", d.ID, d.State, d.StateReason, d.ReviewedBy, d.ReviewedAt)
			})
		}}
}
