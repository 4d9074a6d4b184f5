package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
)

func auditFlags(fs *flag.FlagSet) {
	fs.String("actor", "", "only entries by this person (an id, or the name of one person)")
	fs.String("org", "", "only entries of this organisation")
	fs.String("action", "", `only this action, or a prefix ending in "." such as "org."`)
	fs.String("object", "", `only entries naming this object, such as "org:acme"`)
	fs.String("dataset", "", "only entries about this dataset, any version (custodians: their own organisation's datasets)")
	fs.String("since", "", "only entries at or after this RFC 3339 time")
	fs.String("until", "", "only entries before this RFC 3339 time")
}

func auditFilter(fs *flag.FlagSet) client.AuditFilter {
	return client.AuditFilter{Actor: get(fs, "actor"), Org: get(fs, "org"), Action: get(fs, "action"), Object: get(fs, "object"), Dataset: get(fs, "dataset"),
		Since: get(fs, "since"), Until: get(fs, "until"), Limit: get(fs, "limit")}
}

func init() {
	register(
		&command{path: "audit verify", short: "recheck every audit entry against the latest signed checkpoint", maxArgs: 0,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				r, err := e.client.AuditVerify(ctx)
				if err != nil {
					return err
				}
				if err := e.print(r, func(tw *tabwriter.Writer) {
					if r.OK {
						fmt.Fprintf(tw, "audit log intact: %d entries match the signed checkpoint (root %s, signed %s)\n",
							r.Entries, short(r.CheckpointRoot), r.CheckpointTime.Format("2006-01-02 15:04:05"))
					} else {
						fmt.Fprintf(tw, "AUDIT LOG DAMAGED: first entry that does not match: %d\n%s\n", r.FirstBad, r.Reason)
					}
					if r.Note != "" {
						fmt.Fprintf(tw, "note: %s\n", r.Note)
					}
				}); err != nil {
					return err
				}
				if !r.OK {
					return fmt.Errorf("audit log verification failed at entry %d: %w", r.FirstBad, errdefs.ErrDataLoss)
				}
				return nil
			}},
		&command{path: "audit purge", short: "purge the oldest entries past their retention (3 or 5 years); verify still passes (admin)", maxArgs: 0,
			flags: func(fs *flag.FlagSet) { fs.Bool("dry-run", false, "only say what would be purged") },
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				r, err := e.client.AuditPurge(ctx, get(fs, "dry-run") == "true")
				if err != nil {
					return err
				}
				return e.print(r, func(tw *tabwriter.Writer) {
					verb := "purged"
					if r.DryRun {
						verb = "would purge"
					}
					if r.Entries == 0 {
						fmt.Fprintln(tw, "no sealed segment is past its retention yet")
						return
					}
					fmt.Fprintf(tw, "%s\t%d entries (%d..%d) in %d segments; their leaf hashes stay\n", verb, r.Entries, r.First, r.Last, r.Segments)
				})
			}},
		&command{path: "audit list", short: "list audit entries", maxArgs: 0,
			flags: func(fs *flag.FlagSet) {
				auditFlags(fs)
				fs.String("limit", "100", "at most this many entries a page (0: all in one answer)")
				fs.String("cursor", "", "start at this page: the cursor an earlier page named")
				fs.Bool("all", false, "follow the pages to the last and list every matching entry")
				fs.Bool("oldest-first", false, "list from the oldest entry (default: the newest first)")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				f := auditFilter(fs)
				f.Newest = get(fs, "oldest-first") != "true"
				f.Cursor = get(fs, "cursor")
				if n, err := strconv.Atoi(f.Limit); err != nil || n < 0 {
					return usagef("--limit must be a non-negative number")
				}
				var es []api.AuditEvent
				var next string
				var err error
				if get(fs, "all") == "true" {
					es, err = e.client.AuditAll(ctx, f)
				} else {
					es, next, err = e.client.AuditPage(ctx, f)
				}
				if err != nil {
					return err
				}
				if next != "" {
					// More entries than this page: say how to get them
					// rather than stop silently (issue 21).
					defer fmt.Fprintf(e.stderr, "enclave audit list: more entries match: --cursor %s (with the same filters) lists the next page, --all lists them all\n", next)
				}
				return e.print(es, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "#\tTIME\tACTOR\tACTION\tOUTCOME\tOBJECTS\tREASON")
					for _, ev := range es {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Index, ev.Time.Local().Format("2006-01-02 15:04:05"), named(ev.ActorName, ev.Actor), ev.Action,
							ev.Outcome, strings.Join(ev.Objects, " "), clip(ev.Reason, 60))
					}
				})
			}},
		&command{path: "audit export", short: "write matching audit entries as JSON lines to stdout", maxArgs: 0,
			flags: func(fs *flag.FlagSet) {
				auditFlags(fs)
				fs.String("limit", "0", "at most this many entries (0: all)")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				rc, err := e.client.AuditExport(ctx, auditFilter(fs))
				if err != nil {
					return err
				}
				defer rc.Close()
				_, err = io.Copy(e.stdout, rc)
				return err
			}},
	)
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

func clip(s string, n int) string {
	if len([]rune(s)) > n {
		return string([]rune(s)[:n]) + "…"
	}
	return s
}
