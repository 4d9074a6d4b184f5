package cli

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
)

func init() {
	register(
		&command{path: "usage report", short: "CPU-hours, peak memory, data read, outputs, exports and charges per org, person, dataset, day or month (bureau, admin: every organisation; others: their own organisation without --org)", maxArgs: 0,
			flags: func(fs *flag.FlagSet) {
				fs.String("org", "", "only this organisation (default: every organisation for the bureau and admins, your own for everyone else)")
				fs.String("from", "", "first day, 2006-01-02 (or an RFC 3339 time)")
				fs.String("to", "", "last day, inclusive, 2006-01-02 (or an RFC 3339 time)")
				fs.String("by", "org", "roll up by org, person, dataset, day or month")
				fs.String("format", "table", "table, json or csv")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				format := get(fs, "format")
				if e.json {
					format = "json"
				}
				if format != "table" && format != "json" && format != "csv" {
					return usagef("--format must be table, json or csv")
				}
				rep, err := e.client.UsageReport(ctx, client.UsageQuery{Org: get(fs, "org"), From: get(fs, "from"), To: get(fs, "to"), By: get(fs, "by")})
				if err != nil {
					return err
				}
				switch format {
				case "csv":
					return usageCSV(e.stdout, rep)
				case "json":
					e.json = true
				}
				return e.print(rep, func(tw *tabwriter.Writer) { usageTable(tw, rep) })
			}},
		&command{path: "org quota", args: "ORG", short: "set an organisation's quota, read when a job is admitted (authority); 'unlimited' lifts a limit; no flags shows it", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) {
				fs.String("concurrent-jobs", "", "jobs queued or running at once")
				fs.String("cpu-seconds-month", "", "CPU seconds a calendar month")
				fs.String("memory-per-job", "", "memory one job may ask for, for example 4Gi")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				cur, err := e.client.Quota(ctx, args[0])
				if err != nil {
					return err
				}
				changed := false
				for _, f := range []struct {
					name string
					dst  **int64
					size bool
				}{{"concurrent-jobs", &cur.ConcurrentJobs, false}, {"cpu-seconds-month", &cur.CPUSecondsMonth, false}, {"memory-per-job", &cur.MemoryBytesPerJob, true}} {
					v := get(fs, f.name)
					if v == "" {
						continue
					}
					changed = true
					if v == "unlimited" {
						*f.dst = nil
						continue
					}
					n, err := parseQuota(v, f.size)
					if err != nil {
						return usagef("--%s: %v", f.name, err)
					}
					*f.dst = &n
				}
				if changed {
					if cur, err = e.client.SetQuota(ctx, cur); err != nil {
						return err
					}
				}
				return e.print(cur, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "ORG\tCONCURRENT JOBS\tCPU SECONDS/MONTH\tMEMORY/JOB")
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cur.Org, limit(cur.ConcurrentJobs, false), limit(cur.CPUSecondsMonth, false), limit(cur.MemoryBytesPerJob, true))
				})
			}},
		&command{path: "report annual", short: "write the annual operation report (R-14, 001 art. 18) as a PDF or a self-contained HTML file with charts", maxArgs: 0,
			flags: func(fs *flag.FlagSet) {
				fs.String("org", "", "the organisation (operators must name their own; empty: all, bureau and admin)")
				fs.String("year", "", "the year, for example 2026 (default: this year)")
				fs.String("format", "html", "pdf, html or json (the figures)")
				fs.String("output", "", "write the report to this file (default annual-YEAR.FORMAT; never overwrites)")
				fs.String("o", "", "the same as --output")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				out, year, format := get(fs, "output"), get(fs, "year"), get(fs, "format")
				if o := get(fs, "o"); o != "" {
					if out != "" && out != o {
						return usagef("-o and --output name different files")
					}
					out = o
				}
				switch format {
				case "pdf", "html", "json":
				default:
					return usagef("--format must be pdf, html or json")
				}
				if year == "" {
					year = strconv.Itoa(time.Now().UTC().Year())
				}
				if out == "" {
					out = "annual-" + year + "." + format
				}
				n, err := saveNew(out, func() (io.ReadCloser, error) {
					return e.client.AnnualReport(ctx, get(fs, "org"), year, format)
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "wrote %s (%s)\n", out, human(n))
				return nil
			}},
	)
}

func limit(v *int64, size bool) string {
	switch {
	case v == nil:
		return "unlimited"
	case size:
		return human(*v)
	}
	return strconv.FormatInt(*v, 10)
}

// parseQuota reads a count, or with size a byte size with an optional
// suffix K, M, G, T (powers of 1000) or Ki, Mi, Gi, Ti (powers of 1024).
func parseQuota(s string, size bool) (int64, error) {
	mult := int64(1)
	if size {
		for _, u := range []struct {
			suffix string
			m      int64
		}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}} {
			if rest, ok := strings.CutSuffix(s, u.suffix); ok {
				s, mult = rest, u.m
				break
			}
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("not a non-negative whole number")
	}
	return n * mult, nil
}

var usageHeader = []string{"key", "jobs", "cpu_hours", "peak_memory_bytes", "memory_gb_hours", "input_bytes", "output_bytes", "wall_seconds",
	"exports_requested", "exports_approved", "exports_rejected", "charge_cpu", "charge_memory", "charge_input", "charge_output",
	"charge_jobs", "charge_exports", "charge_total", "charge_public_interest", "charge_industry", "public_interest_applications"}

// classOf returns a row's use in one price class (zero when none).
func classOf(r api.UsageRow, class string) api.UsageClass {
	for _, c := range r.Classes {
		if c.Class == class {
			return c
		}
	}
	return api.UsageClass{Class: class}
}

func applicationIDs(c api.UsageClass) string {
	ids := make([]string, len(c.Applications))
	for i, b := range c.Applications {
		ids[i] = b.Application
	}
	return strings.Join(ids, " ")
}

func usageRecord(r api.UsageRow) []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	return []string{r.Key, i(r.Jobs), f(r.CPUHours), strconv.FormatUint(r.PeakMemoryBytes, 10), f(r.MemoryGBHours), i(r.InputBytes),
		i(r.OutputBytes), f(r.WallSeconds), i(r.ExportsRequested), i(r.ExportsApproved), i(r.ExportsRejected),
		f(r.Charge.CPU), f(r.Charge.Memory), f(r.Charge.Input), f(r.Charge.Output), f(r.Charge.Jobs), f(r.Charge.Exports), f(r.Charge.Total),
		f(classOf(r, "public-interest").Charge.Total), f(classOf(r, "industry").Charge.Total), applicationIDs(classOf(r, "public-interest"))}
}

// usageCSV writes the rows and the total as CSV, with a header; the first
// column is named by the roll-up key.
func usageCSV(w io.Writer, rep api.UsageReport) error {
	cw := csv.NewWriter(w)
	head := append([]string{rep.By}, usageHeader[1:]...)
	cw.Write(head)
	for _, r := range rep.Rows {
		cw.Write(usageRecord(r))
	}
	cw.Write(usageRecord(rep.Total))
	cw.Flush()
	return cw.Error()
}

func usageTable(tw *tabwriter.Writer, rep api.UsageReport) {
	fmt.Fprintf(tw, "%s\tJOBS\tCPU-H\tPEAK MEM\tDATA READ\tOUTPUT\tWALL-H\tEXPORTS REQ/OK/REJ\tCHARGE %s\tPUBLIC-INTEREST / INDUSTRY\n", strings.ToUpper(rep.By), rep.Currency)
	row := func(r api.UsageRow) {
		pi, ind := classOf(r, "public-interest"), classOf(r, "industry")
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%s\t%s\t%s\t%.2f\t%d/%d/%d\t%.2f\t%.2f (%d jobs) / %.2f (%d jobs)\n", r.Key, r.Jobs, r.CPUHours, human(int64(r.PeakMemoryBytes)),
			human(r.InputBytes), human(r.OutputBytes), r.WallSeconds/3600, r.ExportsRequested, r.ExportsApproved, r.ExportsRejected, r.Charge.Total,
			pi.Charge.Total, pi.Jobs, ind.Charge.Total, ind.Jobs)
	}
	for _, r := range rep.Rows {
		row(r)
	}
	row(rep.Total)
	// Which prices applied and why (001 art. 23).
	for _, c := range rep.Total.Classes {
		fmt.Fprintf(tw, "\nprices %s\t%d jobs, %d exports, %.2f %s: %s\n", c.Class, c.Jobs, c.ExportsRequested, c.Charge.Total, rep.Currency, c.Why)
		for _, b := range c.Applications {
			fmt.Fprintf(tw, "  application %s\t%s\n", b.Application, b.Purpose)
		}
	}
}
