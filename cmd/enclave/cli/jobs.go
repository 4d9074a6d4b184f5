package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
)

func init() {
	register(
		&command{path: "image import", args: "FILE.tar", short: "import an OCI image archive; pending until an officer approves it (operator)", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) { fs.String("name", "", "a label for the image (default: from the digest)") },
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("open image archive: %w", err)
				}
				defer f.Close()
				im, err := e.client.ImportImage(ctx, get(fs, "name"), f)
				if err != nil {
					return err
				}
				return e.print(im, func(tw *tabwriter.Writer) { imageTable(tw, []api.Image{im}) })
			}},
		imageDecideCommand("approve"), imageDecideCommand("reject"),
		&command{path: "image list", short: "list job images and their review state", maxArgs: 0,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				ims, err := e.client.ListImages(ctx)
				if err != nil {
					return err
				}
				return e.print(ims, func(tw *tabwriter.Writer) { imageTable(tw, ims) })
			}},
		&command{path: "job run", args: "-- CMD...", short: "run an approved image over granted datasets; only the files named with --output are collected, none without (operator)", minArgs: 1, maxArgs: -1,
			flags: func(fs *flag.FlagSet) {
				fs.String("image", "", "the approved image: its digest (sha256:...) or its name in enclave image list")
				fs.Var(&multiFlag{}, "input", "a dataset to read, NAME or NAME@V, at /in/NAME/data.arrow (repeat for more)")
				fs.Var(&multiFlag{}, "output", "a file the job writes as /out/NAME, to be collected (repeat for more, at most 100; NAME is "+
					api.OutputNameRule+"); everything else in /out is dropped and only counted; without --output nothing is collected")
				fs.String("columns", "", "read only these columns, comma-separated DATASET.COLUMN (needed when the grant names columns)")
				fs.String("cpu", "", "CPU cores (default 1)")
				fs.String("memory", "", "memory limit, for example 512Mi or 2Gi (default 512Mi)")
				fs.String("timeout", "", "wall-clock limit, for example 10m (default 30m)")
				fs.Bool("wait", false, "wait for the job to end and show it; exit 1 unless it completed")
				fs.Bool("follow", false, "with --wait: print the job's log (your view of it) as it grows, to stderr with -o json|yaml")
			},
			run: runJob},
		&command{path: "job list", short: "list jobs", maxArgs: 0,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				js, err := e.client.ListJobs(ctx)
				if err != nil {
					return err
				}
				return e.print(js, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "JOB\tORG\tOWNER\tSTATE\tOUTCOME\tINPUTS\tCOMMAND\tCPU-S\tPEAK MEM\tCREATED")
					for _, j := range js {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s%.2f\t%s%s\t%s\n", j.ID, j.Org, named(j.OwnerName, j.Owner), j.State, dash(j.Outcome), jobInputs(j),
							clip(strings.Join(j.Args, " "), 40), upTo(j), j.Usage.CPUSeconds, upTo(j), human(int64(j.Usage.PeakMemoryBytes)),
							j.CreatedAt.Local().Format("2006-01-02 15:04:05"))
					}
					if len(js) > 0 && js[0].View == api.ViewCoarse {
						fmt.Fprintln(tw, "(≤: figures rounded up to a power of two)")
					}
				})
			}},
		&command{path: "job show", args: "ID", short: "one job: state, exit, resource use, outputs", minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				j, err := e.client.ShowJob(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(j, func(tw *tabwriter.Writer) { jobTable(tw, j) })
			}},
		&command{path: "job wait", args: "ID", short: "wait until a job ends and show it", minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				j, err := e.client.WaitJob(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(j, func(tw *tabwriter.Writer) { jobTable(tw, j) })
			}},
		&command{path: "job outputs", args: "ID", short: "a job's collected outputs: names, sizes, hashes (operators: sizes rounded up, hashes once released)", minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				os, err := e.client.JobOutputs(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(os, func(tw *tabwriter.Writer) { outputsTable(tw, os) })
			}},
		&command{path: "job logs", args: "ID", short: "a job's output stream (unfiltered only for officers of another organisation)", minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				rc, err := e.client.JobLogs(ctx, args[0])
				if err != nil {
					return err
				}
				defer rc.Close()
				_, err = io.Copy(e.stdout, rc)
				return err
			}},
		jobStopCommand("cancel", "cancel a job of your organisation (operator)", false),
		jobStopCommand("halt", "halt a job that reveals a risk and record an incident (officer, bureau)", true),
	)
}

// multiFlag collects a repeated flag.
type multiFlag struct{ vals []string }

func (m *multiFlag) String() string     { return strings.Join(m.vals, ",") }
func (m *multiFlag) Set(v string) error { m.vals = append(m.vals, splitList(v)...); return nil }
func (m *multiFlag) Type() string       { return "list" }

func runJob(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	if len(args) < 2 || args[0] != "--" {
		return usagef("give the command after --, for example: job run --image DIGEST --input NAME -- groupcount -in ...")
	}
	req := api.JobRequest{Image: get(fs, "image"), Inputs: fs.Lookup("input").Value.(*multiFlag).vals, Columns: splitList(get(fs, "columns")), Args: args[1:],
		Outputs: fs.Lookup("output").Value.(*multiFlag).vals, Memory: get(fs, "memory"), Timeout: get(fs, "timeout")}
	if req.Image == "" || len(req.Inputs) == 0 {
		return usagef("--image and --input are required")
	}
	if err := api.CheckOutputs(req.Outputs); err != nil {
		return usagef("--output: %s", strings.TrimSuffix(err.Error(), ": "+errdefs.ErrInvalidArgument.Error()))
	}
	if len(req.Outputs) == 0 {
		fmt.Fprintln(e.stderr, "enclave job run: no --output given: nothing the job writes to /out will be collected")
	}
	if v := get(fs, "cpu"); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return usagef("--cpu must be a number")
		}
		req.CPUs = n
	}
	wait, follow := get(fs, "wait") == "true", get(fs, "follow") == "true"
	if follow && !wait {
		return usagef("--follow needs --wait")
	}
	img, err := resolveImage(ctx, e, req.Image, true)
	if err != nil {
		return err
	}
	req.Image = img
	j, err := e.client.RunJob(ctx, req)
	if err != nil {
		return err
	}
	if !wait {
		return e.print(j, func(tw *tabwriter.Writer) { jobTable(tw, j) })
	}
	if j, err = e.waitJob(ctx, j, follow); err != nil {
		return err
	}
	if err := e.print(j, func(tw *tabwriter.Writer) { jobTable(tw, j) }); err != nil {
		return err
	}
	if j.State != "complete" {
		return fmt.Errorf("job %s did not complete: %s", j.ID, first(j.Outcome, j.State))
	}
	return nil
}

func imageDecideCommand(verb string) *command {
	return &command{path: "image " + verb, args: "DIGEST", short: verb + " a pending image, by digest or name (officer of another organisation)", minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) { fs.String("comment", "", "a comment, recorded") },
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			digest, err := resolveImage(ctx, e, args[0], false)
			if err != nil {
				return err
			}
			im, err := e.client.DecideImage(ctx, digest, verb, get(fs, "comment"))
			if err != nil {
				return err
			}
			return e.print(im, func(tw *tabwriter.Writer) { imageTable(tw, []api.Image{im}) })
		}}
}

func jobStopCommand(verb, short string, needReason bool) *command {
	return &command{path: "job " + verb, args: "ID", short: short, minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) { fs.String("reason", "", "why (recorded)") },
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if needReason && strings.TrimSpace(get(fs, "reason")) == "" {
				return usagef("--reason is required")
			}
			j, err := e.client.StopJob(ctx, args[0], verb, get(fs, "reason"))
			if err != nil {
				return err
			}
			return e.print(j, func(tw *tabwriter.Writer) { jobTable(tw, j) })
		}}
}

func imageTable(tw *tabwriter.Writer, ims []api.Image) {
	fmt.Fprintln(tw, "DIGEST\tNAME\tSTATUS\tSIZE\tIMPORTED BY\tDECIDED BY")
	for _, im := range ims {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s (%s)\t%s\n", im.Digest, im.Name, im.Status, human(im.Size), named(im.ImportedByName, im.ImportedBy), im.Org,
			dash(named(im.DecidedByName, im.DecidedBy)))
	}
}

func jobInputs(j api.Job) string {
	var s []string
	for _, in := range j.Inputs {
		s = append(s, fmt.Sprintf("%s@%d", in.Dataset, in.Version))
	}
	return strings.Join(s, ",")
}

// upTo marks the figures of a job's coarse view.
func upTo(j api.Job) string {
	if j.View == api.ViewCoarse {
		return "≤"
	}
	return ""
}

func jobTable(tw *tabwriter.Writer, j api.Job) {
	fmt.Fprintf(tw, "job\t%s\norganisation\t%s (by %s)\nimage\t%s\ncommand\t%s\ninputs\t%s\nstate\t%s\n", j.ID, j.Org, named(j.OwnerName, j.Owner), j.Image,
		strings.Join(j.Args, " "), jobInputs(j), j.State)
	if j.Outcome != "" {
		fmt.Fprintf(tw, "outcome\t%s\n", j.Outcome)
	}
	if j.ExitCode != nil {
		fmt.Fprintf(tw, "exit\t%s, status %d\n", j.Reason, *j.ExitCode)
	}
	if j.Message != "" {
		fmt.Fprintf(tw, "message\t%s\n", j.Message)
	}
	fmt.Fprintf(tw, "limits\t%.2g CPU, %s memory, %gs\n", j.Limits.CPUs, human(j.Limits.MemoryBytes), j.Limits.TimeoutSeconds)
	u, le := j.Usage, upTo(j)
	fmt.Fprintf(tw, "resource use\tCPU %s%.3fs, peak memory %s%s, wall %s%.2fs, read %s%s in, IO %s%s/%s%s, outputs %s%s\n", le, u.CPUSeconds,
		le, human(int64(u.PeakMemoryBytes)), le, u.WallSeconds, le, human(u.InputBytes), le, human(int64(u.IOReadBytes)), le,
		human(int64(u.IOWriteBytes)), le, human(int64(u.OutputBytes)))
	if le != "" {
		fmt.Fprintln(tw, "\t(≤: rounded up to a power of two; sizes to 4 KiB and beyond; exact figures are for officers of another organisation and the bureau)")
	}
	if len(j.DeclaredOutputs) == 0 {
		fmt.Fprintln(tw, "declared outputs\tnone: nothing was collected")
	} else {
		fmt.Fprintf(tw, "declared outputs\t%s\n", strings.Join(j.DeclaredOutputs, ", "))
	}
	if j.UndeclaredDropped > 0 {
		fmt.Fprintf(tw, "undeclared_dropped\t%s%d (written to /out without --output; not collected)\n", le, j.UndeclaredDropped)
	}
	if len(j.Outputs) > 0 {
		fmt.Fprintln(tw)
		outputsTable(tw, j.Outputs)
	}
	for _, s := range j.Skipped {
		fmt.Fprintf(tw, "not collected\t%s (%s)\n", s.Name, s.Reason)
	}
}

func outputsTable(tw *tabwriter.Writer, os []api.JobOutput) {
	fmt.Fprintln(tw, "OUTPUT\tSIZE\tSHA256")
	for _, o := range os {
		size := human(o.Size)
		if o.SHA256 == "" {
			size = "≤" + size // rounded up until a release
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", o.Name, size, dash(o.SHA256))
	}
}
