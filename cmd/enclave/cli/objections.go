package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
)

// Issue 20 item 4 (001 art. 13, 002 art. 20): objections about datasets.
// Anyone with a token files one; the dataset's custodian organisation
// answers within 5 working days; the bureau lists the overdue ones.
func init() {
	register(
		&command{path: "objection file", short: "file an objection about a dataset you see in the catalogue: its custodian organisation answers within 5 working days", maxArgs: 0,
			flags: func(fs *flag.FlagSet) {
				fs.String("dataset", "", "the dataset's name (required)")
				fs.String("text", "", "what is wrong, in your words (required)")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				req := api.ObjectionRequest{Dataset: get(fs, "dataset"), Text: get(fs, "text")}
				if req.Dataset == "" || strings.TrimSpace(req.Text) == "" {
					return usagef("--dataset and --text are required")
				}
				o, err := e.client.FileObjection(ctx, req)
				if err != nil {
					return err
				}
				return e.print(o, func(tw *tabwriter.Writer) { objectionTable(tw, o) })
			}},
		&command{path: "objection answer", args: "ID", short: "answer an objection (the dataset's custodian organisation), optionally naming the corrected version", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) {
				fs.String("text", "", "the answer (required)")
				fs.String("corrected-version", "", "the version of the dataset that corrects it (an existing version)")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				req := api.ObjectionAnswerRequest{Text: get(fs, "text")}
				if strings.TrimSpace(req.Text) == "" {
					return usagef("--text is required")
				}
				if v := get(fs, "corrected-version"); v != "" {
					n, err := strconv.Atoi(v)
					if err != nil || n < 1 {
						return usagef("--corrected-version must be a version number (1, 2, ...), not %q", v)
					}
					req.CorrectedVersion = n
				}
				o, err := e.client.AnswerObjection(ctx, args[0], req)
				if err != nil {
					return err
				}
				return e.print(o, func(tw *tabwriter.Writer) { objectionTable(tw, o) })
			}},
		&command{path: "objection list", short: "objections your organisation filed or must answer (bureau, authority: every one)", maxArgs: 0,
			flags: func(fs *flag.FlagSet) { fs.Bool("overdue", false, "only those open past their due time") },
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				os, err := e.client.ListObjections(ctx, get(fs, "overdue") == "true")
				if err != nil {
					return err
				}
				return e.print(os, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "ID\tDATASET\tCUSTODIAN\tSTATE\tFILED\tDUE\tBY\tTEXT")
					for _, o := range os {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s (%s)\t%s\n", o.ID, o.Dataset, o.Org, o.State, o.FiledAt.Format(time.RFC3339),
							o.DueAt.Format(time.RFC3339), o.FiledBy, o.FilerOrg, clip(o.Text, 40))
					}
				})
			}},
		&command{path: "objection show", args: "ID", short: "one objection: the dataset, the filer's text, the due time, the answer", minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				o, err := e.client.ShowObjection(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(o, func(tw *tabwriter.Writer) { objectionTable(tw, o) })
			}},
	)
}

func objectionTable(tw *tabwriter.Writer, o api.Objection) {
	fmt.Fprintf(tw, "objection\t%s\ndataset\t%s\ncustodian\t%s\nstate\t%s\nfiled\t%s by %s (%s)\ndue\t%s\ntext\t%s\n", o.ID, o.Dataset, o.Org, o.State,
		o.FiledAt.Format(time.RFC3339), o.FiledBy, o.FilerOrg, o.DueAt.Format(time.RFC3339), o.Text)
	if o.AnsweredAt != nil {
		fmt.Fprintf(tw, "answered\t%s by %s\nanswer\t%s\n", o.AnsweredAt.Format(time.RFC3339), o.AnsweredBy, o.Answer)
		if o.CorrectedVersion > 0 {
			fmt.Fprintf(tw, "corrected version\t%s@%d\n", o.Dataset, o.CorrectedVersion)
		}
	}
}
