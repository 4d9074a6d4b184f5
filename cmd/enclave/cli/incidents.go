package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
)

// Issue 18: grants that end with their basis, and the incident register.
func init() {
	register(
		&command{path: "application revoke", args: "ID", short: "revoke the grant of an application (authority): jobs under it stop, its exports are not approved", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) { fs.String("reason", "", "why the grant ends (required, recorded)") },
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				if strings.TrimSpace(get(fs, "reason")) == "" {
					return usagef("--reason is required")
				}
				g, err := e.client.RevokeGrant(ctx, args[0], get(fs, "reason"))
				if err != nil {
					return err
				}
				return e.print(g, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "grant\t%s (application %s)\norganisation\t%s\nstatus\t%s\nreason\t%s\nby\t%s at %s\nstopped jobs\t%s\n",
						g.Grant, g.Application, g.Org, g.Status, g.Reason, g.EndedBy, g.EndedAt.Format(time.RFC3339), dash(strings.Join(g.Stopped, ",")))
				})
			}},
		&command{path: "application standing", args: "ID", short: "a grant's status, how it ended and what holds it (ID: the application's or the grant's)", minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				st, err := e.client.GrantStanding(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(st, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "grant\t%s (application %s)\norganisation\t%s\nperiod\t%s..%s\nstatus\t%s\n", st.Grant, st.Application, st.Org, st.From, st.Until, st.Status)
					if st.End != nil {
						fmt.Fprintf(tw, "ended\t%s by %s at %s: %s\n", st.End.Status, st.End.By, st.End.At.Format(time.RFC3339), st.End.Reason)
					}
					for _, h := range st.Holds {
						fmt.Fprintf(tw, "held by\t%s since %s (%s): %s\n", h.Cause, h.At.Format(time.RFC3339), h.By, h.Reason)
					}
				})
			}},
		&command{path: "incident report", short: "report an incident on a job, a dataset or a grant (operator: your organisation's work; officer, bureau): its use stops until the authority closes it", maxArgs: 0,
			flags: func(fs *flag.FlagSet) {
				fs.String("job", "", "the job")
				fs.String("dataset", "", "the dataset (every version)")
				fs.String("grant", "", "the grant")
				fs.String("reason", "", "what happened (required, recorded)")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				req := api.IncidentRequest{Job: get(fs, "job"), Dataset: get(fs, "dataset"), Grant: get(fs, "grant"), Reason: get(fs, "reason")}
				n := 0
				for _, v := range []string{req.Job, req.Dataset, req.Grant} {
					if v != "" {
						n++
					}
				}
				if n != 1 || strings.TrimSpace(req.Reason) == "" {
					return usagef("give exactly one of --job, --dataset and --grant, and --reason")
				}
				in, err := e.client.ReportIncident(ctx, req)
				if err != nil {
					return err
				}
				return e.print(in, func(tw *tabwriter.Writer) { incidentTable(tw, in) })
			}},
		&command{path: "incident list", short: "the incident register (officer, bureau, authority)", maxArgs: 0,
			flags: func(fs *flag.FlagSet) {
				fs.String("state", "", "only open or closed incidents")
				fs.String("org", "", "only incidents on or affecting this organisation")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				ins, err := e.client.ListIncidents(ctx, get(fs, "state"), get(fs, "org"))
				if err != nil {
					return err
				}
				return e.print(ins, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "ID\tON\tSTATE\tREPORTED\tBY\tSTOPPED\tREASON\tDECISION")
					for _, in := range ins {
						fmt.Fprintf(tw, "%s\t%s:%s\t%s\t%s\t%s\t%d\t%s\t%s\n", in.ID, in.Target.Kind, in.Target.ID, in.State,
							in.ReportedAt.Format(time.RFC3339), in.ReportedBy, len(in.Stopped), clip(in.Reason, 40), dash(clip(in.Decision, 40)))
					}
				})
			}},
		&command{path: "incident show", args: "ID", short: "one incident: who, what, when, the affected data, the decision", minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				in, err := e.client.ShowIncident(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(in, func(tw *tabwriter.Writer) { incidentTable(tw, in) })
			}},
		&command{path: "incident close", args: "ID", short: "close an incident with a decision (authority): its holds are lifted", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) { fs.String("decision", "", "the authority's decision (required, recorded)") },
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				if strings.TrimSpace(get(fs, "decision")) == "" {
					return usagef("--decision is required")
				}
				in, err := e.client.CloseIncident(ctx, args[0], get(fs, "decision"))
				if err != nil {
					return err
				}
				return e.print(in, func(tw *tabwriter.Writer) { incidentTable(tw, in) })
			}},
		&command{path: "incident halt", short: "halt every job of an organisation or of a dataset at once and open an incident on it (bureau, emergency response)", maxArgs: 0,
			flags: func(fs *flag.FlagSet) {
				fs.String("org", "", "every job of this organisation")
				fs.String("dataset", "", "every job reading this dataset")
				fs.String("reason", "", "why (required, recorded)")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				req := api.HaltAllRequest{Org: get(fs, "org"), Dataset: get(fs, "dataset"), Reason: get(fs, "reason")}
				if (req.Org == "") == (req.Dataset == "") || strings.TrimSpace(req.Reason) == "" {
					return usagef("give exactly one of --org and --dataset, and --reason")
				}
				in, err := e.client.HaltAll(ctx, req)
				if err != nil {
					return err
				}
				return e.print(in, func(tw *tabwriter.Writer) { incidentTable(tw, in) })
			}},
	)
}

func incidentTable(tw *tabwriter.Writer, in api.Incident) {
	fmt.Fprintf(tw, "incident\t%s\non\t%s %s\nstate\t%s\nreported\t%s by %s (%s)\nreason\t%s\n", in.ID, in.Target.Kind, in.Target.ID, in.State,
		in.ReportedAt.Format(time.RFC3339), in.ReportedBy, in.ReporterOrg, in.Reason)
	a := in.Affected
	fmt.Fprintf(tw, "affected datasets\t%s\naffected grants\t%s\naffected jobs\t%s\naffected organisations\t%s\nstopped jobs\t%s\n",
		dash(strings.Join(a.Datasets, ",")), dash(strings.Join(a.Grants, ",")), dash(strings.Join(a.Jobs, ",")), dash(strings.Join(a.Orgs, ",")),
		dash(strings.Join(in.Stopped, ",")))
	if in.ClosedAt != nil {
		fmt.Fprintf(tw, "decision\t%s\nclosed\t%s by %s\n", in.Decision, in.ClosedAt.Format(time.RFC3339), in.ClosedBy)
	}
}
