package cli

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"text/tabwriter"
)

func init() {
	register(&command{path: "policy explain", short: "show what the policies would decide for a person, and why, without acting, and the egress checks' thresholds", maxArgs: 0,
		flags: func(fs *flag.FlagSet) {
			fs.String("as", "", "the person's id")
			fs.String("action", "", "the action, for example job.run or application.file")
			fs.Var(&multiFlag{}, "dataset", "a dataset the action reads, NAME or NAME@V (repeat)")
			fs.String("image", "", "the job image's digest (job.run)")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if get(fs, "as") == "" || get(fs, "action") == "" {
				return usagef("--as and --action are required")
			}
			x, err := e.client.Explain(ctx, get(fs, "as"), get(fs, "action"), fs.Lookup("dataset").Value.(*multiFlag).vals, get(fs, "image"))
			if err != nil {
				return err
			}
			return e.print(x, func(tw *tabwriter.Writer) {
				verdict := "DENY"
				if x.Decision.Allow {
					verdict = "ALLOW"
				}
				fmt.Fprintf(tw, "decision\t%s %s for %s\npolicies\t%s\n", verdict, x.Action, x.As, x.Decision.Revision)
				for ds, g := range x.Decision.Grants {
					fmt.Fprintf(tw, "grant\t%s admits %s\n", g, ds)
				}
				for _, r := range x.Decision.Reasons {
					fmt.Fprintf(tw, "reason\t%s: %s\n", r.Rule, r.Message)
				}
				printThresholds(tw, x.EgressThresholds)
			})
		}})
}

// printThresholds writes one line per egress threshold, by name, as the
// policies' data.enclave.egress_thresholds names them.
func printThresholds(tw *tabwriter.Writer, th map[string]float64) {
	keys := make([]string, 0, len(th))
	for k := range th {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(tw, "egress threshold\t%s = %s\n", k, strconv.FormatFloat(th[k], 'f', -1, 64))
	}
}
