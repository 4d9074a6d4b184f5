package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/enclave-dev/enclave/enclave/api"
)

func init() {
	register(
		&command{path: "application file", short: "file a data-use application (operator): one application, one list, one approval", maxArgs: 0,
			flags: func(fs *flag.FlagSet) {
				fs.String("datasets", "", "datasets, comma-separated (NAME or NAME@V)")
				fs.String("columns", "", "only these columns, comma-separated DATASET.COLUMN (default: every column)")
				fs.String("purpose", "", "what the data is used for")
				fs.String("scenario", "", "the usage scenario the products will serve")
				fs.String("data-flow", "", "how the data flows: inputs, processing, outputs")
				fs.String("from", "", "first day, YYYY-MM-DD (default today)")
				fs.String("until", "", "last day, YYYY-MM-DD (within the organisation's licence)")
				fs.String("batches", "", "number of jobs the grant admits (default unlimited)")
				fs.Bool("public-interest", false, "public-interest use: public governance or public welfare (required for universities and research institutes; its use is then priced as public-interest once approved)")
				fs.String("conditions", "", "how the conditions of the conditional datasets named are met (required when any is of sharing class conditional)")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				req := api.ApplicationRequest{Datasets: splitList(get(fs, "datasets")), Columns: splitList(get(fs, "columns")),
					Purpose: get(fs, "purpose"), Scenario: get(fs, "scenario"), DataFlow: get(fs, "data-flow"),
					From: get(fs, "from"), Until: get(fs, "until"), PublicInterest: get(fs, "public-interest") == "true",
					Conditions: get(fs, "conditions")}
				if len(req.Datasets) == 0 || req.Purpose == "" || req.Scenario == "" || req.Until == "" {
					return usagef("--datasets, --purpose, --scenario and --until are required")
				}
				if b := get(fs, "batches"); b != "" {
					n, err := strconv.ParseInt(b, 10, 64)
					if err != nil {
						return usagef("--batches must be a number")
					}
					req.Batches = &n
				}
				a, err := e.client.FileApplication(ctx, req)
				if err != nil {
					return err
				}
				return e.print(a, func(tw *tabwriter.Writer) { applicationTable(tw, a) })
			}},
		decideCommand("approve"), decideCommand("reject"),
		&command{path: "application list", short: "list applications", maxArgs: 0,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				as, err := e.client.ListApplications(ctx)
				if err != nil {
					return err
				}
				return e.print(as, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "ID\tORG\tDATASETS\tSCENARIO\tPERIOD\tSTATUS\tAPPROVALS\tGRANT")
					for _, a := range as {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s..%s\t%s\t%d/%d\t%s\n", a.ID, a.Org, appDatasets(a), clip(a.Scenario, 30), a.From, a.Until,
							a.Status, approvals(a), a.ApprovalsNeeded, dash(a.Grant))
					}
				})
			}},
		&command{path: "application show", args: "ID", short: "one application with its decisions", minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				a, err := e.client.ShowApplication(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(a, func(tw *tabwriter.Writer) { applicationTable(tw, a) })
			}},
	)
}

func decideCommand(verb string) *command {
	return &command{path: "application " + verb, args: "ID", short: verb + " an application (authority of another organisation)", minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) { fs.String("comment", "", "a comment, recorded") },
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			a, err := e.client.DecideApplication(ctx, args[0], verb, get(fs, "comment"))
			if err != nil {
				return err
			}
			return e.print(a, func(tw *tabwriter.Writer) { applicationTable(tw, a) })
		}}
}

func approvals(a api.Application) int {
	n := 0
	for _, d := range a.Decisions {
		if d.Decision == "approved" {
			n++
		}
	}
	return n
}

func appDatasets(a api.Application) string {
	var s []string
	for _, d := range a.Datasets {
		if len(d.Columns) > 0 {
			s = append(s, d.Name+"("+strings.Join(d.Columns, ",")+")")
		} else {
			s = append(s, d.Name)
		}
	}
	return strings.Join(s, ",")
}

func applicationTable(tw *tabwriter.Writer, a api.Application) {
	batches := "unlimited"
	if a.Batches != nil {
		batches = strconv.FormatInt(*a.Batches, 10)
	}
	fmt.Fprintf(tw, "application\t%s\norganisation\t%s (applicant %s)\ndatasets\t%s\npurpose\t%s\nscenario\t%s\ndata flow\t%s\npublic interest\t%v\nconditions\t%s\nperiod\t%s..%s\nbatches\t%s\nstatus\t%s (%d of %d approvals)\ngrant\t%s\n",
		a.ID, a.Org, a.Applicant, appDatasets(a), a.Purpose, a.Scenario, dash(a.DataFlow), a.PublicInterest, dash(a.Conditions), a.From, a.Until, batches,
		a.Status, approvals(a), a.ApprovalsNeeded, dash(a.Grant))
	for _, d := range a.Decisions {
		fmt.Fprintf(tw, "decision\t%s by %s %s\n", d.Decision, d.Person, d.Comment)
	}
}
