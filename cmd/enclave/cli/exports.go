package cli

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/release"
	"github.com/enclave-dev/enclave/enclave/release/show"
)

func init() {
	register(
		&command{path: "export request", short: "ask to take outputs of a finished job out (operator); the checks run at once", maxArgs: 0,
			flags: func(fs *flag.FlagSet) {
				fs.String("job", "", "the job")
				fs.String("files", "", "output files, comma-separated, as listed by job outputs (an out/ prefix is accepted)")
				fs.String("purpose", "", "what the files are taken out for")
				fs.String("scenario", "", "the usage scenario (default: the grant's; it must match)")
				fs.Var(&multiFlag{}, "declare", "FILE=LEVEL or FILE#COLUMN=LEVEL: declare a lower level for officers to approve explicitly (repeat)")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				req := api.ExportRequest{Job: get(fs, "job"), Purpose: get(fs, "purpose"), Scenario: get(fs, "scenario")}
				for _, f := range splitList(get(fs, "files")) {
					req.Files = append(req.Files, strings.TrimPrefix(f, "out/"))
				}
				if req.Job == "" || len(req.Files) == 0 || req.Purpose == "" {
					return usagef("--job, --files and --purpose are required")
				}
				for _, d := range fs.Lookup("declare").Value.(*multiFlag).vals {
					k, v, ok := strings.Cut(d, "=")
					if !ok {
						return usagef("--declare takes FILE=LEVEL or FILE#COLUMN=LEVEL")
					}
					if req.Declare == nil {
						req.Declare = map[string]string{}
					}
					req.Declare[strings.TrimPrefix(k, "out/")] = v
				}
				x, err := e.client.RequestExport(ctx, req)
				if err != nil {
					return err
				}
				return e.print(x, func(tw *tabwriter.Writer) { exportTable(tw, x) })
			}},
		&command{path: "export list", short: "list export requests", maxArgs: 0,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				xs, err := e.client.ListExports(ctx)
				if err != nil {
					return err
				}
				return e.print(xs, func(tw *tabwriter.Writer) { exportList(tw, xs) })
			}},
		&command{path: "export show", args: "ID", short: "an export request: every check with its verdict and evidence, the reviews", minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				x, err := e.client.ShowExport(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(x, func(tw *tabwriter.Writer) { exportTable(tw, x) })
			}},
		exportDecideCommand("approve", "approve an export (officer of another organisation); overriding failed checks needs --justification and two officers"),
		exportDecideCommand("reject", "reject an export (officer)"),
		exportDecideCommand("request-changes", "ask the operator for changes (officer)"),
		&command{path: "export download", args: "ID", short: "download the signed release bundle (the requesting organisation)", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) { fs.String("o", "", "write the bundle to this file") },
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				return saveBundle(e, get(fs, "o"), func() (io.ReadCloser, error) { return e.client.DownloadRelease(ctx, args[0]) })
			}},
		&command{path: "release list", short: "the product register: every release", maxArgs: 0,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				xs, err := e.client.ListReleases(ctx)
				if err != nil {
					return err
				}
				return e.print(xs, func(tw *tabwriter.Writer) { exportList(tw, xs) })
			}},
		&command{path: "release verify", args: "BUNDLE.tar", short: "check a release bundle offline: signature, hashes, provenance", minArgs: 1, maxArgs: 1, noDaemon: true,
			flags: func(fs *flag.FlagSet) {
				fs.String("key", "", "the enclave's public key: base64 as printed by `enclave keys public`, or a file holding it")
				fs.Bool("show", false, "after verifying, print the released tables")
			},
			run: verifyRelease},
	)
}

func exportDecideCommand(verb, short string) *command {
	return &command{path: "export " + verb, args: "ID", short: short, minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) {
			fs.String("comment", "", "a comment, recorded")
			fs.String("justification", "", "why failed checks may be overridden (approve only)")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			x, err := e.client.DecideExport(ctx, args[0], verb, api.ReviewRequest{Comment: get(fs, "comment"), Justification: get(fs, "justification")})
			if err != nil {
				return err
			}
			return e.print(x, func(tw *tabwriter.Writer) { exportTable(tw, x) })
		}}
}

func exportList(tw *tabwriter.Writer, xs []api.Export) {
	fmt.Fprintln(tw, "EXPORT\tORG\tREQUESTER\tJOB\tFILES\tLEVEL\tCHECKS\tSTATE\tAPPROVALS\tREQUESTED")
	for _, x := range xs {
		var names []string
		for _, f := range x.Files {
			names = append(names, f.Name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\n", x.ID, x.Org, named(x.RequesterName, x.Requester), x.Job, clip(strings.Join(names, ","), 40), x.Level, x.Checks.Verdict,
			x.State, approvedCount(x), x.ApprovalsNeeded, x.CreatedAt.UTC().Format("2006-01-02T15:04:05"))
	}
}

// named is a person as "Name (id)", or the id alone when the name is
// not known.
func named(name, id string) string {
	if name == "" {
		return id
	}
	return name + " (" + id + ")"
}

func approvedCount(x api.Export) int {
	n := 0
	for _, r := range x.Reviews {
		if r.Decision == "approve" {
			n++
		}
	}
	return n
}

func exportTable(tw *tabwriter.Writer, x api.Export) {
	fmt.Fprintf(tw, "export\t%s\njob\t%s\norganisation\t%s (requested by %s)\npurpose\t%s\nscenario\t%s\nlevel\t%s\nstate\t%s (%d of %d approvals)\n",
		x.ID, x.Job, x.Org, named(x.RequesterName, x.Requester), x.Purpose, x.Scenario, x.Level, x.State, approvedCount(x), x.ApprovalsNeeded)
	if x.BundleSHA256 != "" {
		fmt.Fprintf(tw, "release bundle\tsha256 %s\n", x.BundleSHA256)
	}
	fmt.Fprintln(tw, "\nFILE\tSIZE\tSHA256")
	for _, f := range x.Files {
		size := human(f.Size)
		if f.SHA256 == "" {
			size = "≤" + size // rounded up until the release
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Name, size, dash(f.SHA256))
	}
	fmt.Fprintf(tw, "\nCHECK\tVERSION\tVERDICT\t(overall: %s)\n", x.Checks.Verdict)
	for _, c := range x.Checks.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", c.Name, c.Version, c.Verdict)
	}
	if len(x.Checks.Findings) > 0 {
		fmt.Fprintln(tw, "\nFINDING\tVERDICT\tWHERE\tEVIDENCE")
		for _, f := range x.Checks.Findings {
			where := f.File
			if f.Column != "" {
				where += "#" + f.Column
			}
			if f.Count > 0 {
				where += fmt.Sprintf(" (%d)", f.Count)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Check, f.Verdict, dash(where), f.Evidence)
		}
	}
	for _, r := range x.Reviews {
		fmt.Fprintf(tw, "review\t%s by %s of %s %s %s\n", r.Decision, named(r.PersonName, r.Person), r.Org, r.Comment, r.Justification)
	}
	for _, p := range x.Previews {
		if len(p.Columns) == 0 {
			fmt.Fprintf(tw, "\npreview of %s\t%s: %s\n", p.File, p.Kind, p.Note)
			continue
		}
		fmt.Fprintf(tw, "\npreview of %s\t%s, %d rows %s\n", p.File, p.Kind, p.Rows, p.Note)
		var head, marks []string
		for _, c := range p.Columns {
			head = append(head, strings.ToUpper(c.Name))
			m := c.Level
			if c.PI != "" {
				m += " pi:" + c.PI
			}
			marks = append(marks, "("+m+")")
		}
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		fmt.Fprintln(tw, strings.Join(marks, "\t"))
		for _, row := range p.Sample {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
	}
}

// saveBundle writes a downloaded release bundle to the new file out
// (which must not exist); a failed download leaves no file.
func saveBundle(e *env, out string, open func() (io.ReadCloser, error)) error {
	if out == "" {
		return usagef("-o FILE is required")
	}
	n, err := saveNew(out, open)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %s (%s); check it offline with: enclave release verify %s --key KEY\n", out, human(n), out)
	return nil
}

// saveNew writes what open returns to the new file out (which must not
// exist) and returns its size; a failed download leaves no file.
func saveNew(out string, open func() (io.ReadCloser, error)) (int64, error) {
	rc, err := open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("create %q: %w", out, err)
	}
	n, err := io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return 0, err
	}
	return n, nil
}

// publicKeyArg reads --key: the enclave's ed25519 public key in base64 as
// `enclave keys public` prints it, or a file holding it.
func publicKeyArg(keyArg string) (ed25519.PublicKey, error) {
	if keyArg == "" {
		return nil, usagef("--key is required: the base64 key printed by `enclave keys public`, or a file holding it")
	}
	if data, err := os.ReadFile(keyArg); err == nil {
		keyArg = strings.TrimSpace(string(data))
	}
	if f := strings.Fields(keyArg); len(f) > 1 {
		keyArg = f[1] // "ed25519 KEY (local keyring)" as printed in a table
	}
	raw, err := base64.StdEncoding.DecodeString(keyArg)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, usagef("--key is not a base64 ed25519 public key")
	}
	return ed25519.PublicKey(raw), nil
}

func verifyRelease(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	pub, err := publicKeyArg(get(fs, "key"))
	if err != nil {
		return err
	}
	f, err := os.Open(args[0])
	if err != nil {
		return fmt.Errorf("open bundle: %w", err)
	}
	defer f.Close()
	v, err := release.Verify(f, pub)
	if err != nil {
		return err
	}
	if get(fs, "show") == "true" && !e.json {
		defer func() {
			if _, err := f.Seek(0, io.SeekStart); err == nil {
				show.Bundle(e.stdout, f, v)
			}
		}()
	}
	return e.print(v, func(tw *tabwriter.Writer) {
		p := v.Predicate
		fmt.Fprintf(tw, "VERIFIED\tsignature by key %s…, every file matches its signed SHA-256, nothing added or missing\n", v.KeyID[:16])
		fmt.Fprintf(tw, "release\t%s (export %s)\norganisation\t%s (requested by %s)\npurpose\t%s\nscenario\t%s\n", p.Release, p.Export, p.Org, named(p.RequesterName, p.Requester), p.Purpose, p.Scenario)
		fmt.Fprintf(tw, "job\t%s, image %s\ncommand\t%s\npolicy\t%s\nreleased\t%s\n", p.Job.ID, p.Job.Image, strings.Join(p.Job.Command, " "), p.PolicyRevision, p.ReleasedAt.Local().Format("2006-01-02 15:04:05"))
		for _, in := range p.Inputs {
			fmt.Fprintf(tw, "input\t%s@%d (%s, %s)\n", in.Dataset, in.Version, in.Level, in.Market)
		}
		for _, a := range p.Approvals {
			fmt.Fprintf(tw, "approved by\t%s of %s at %s %s\n", named(a.PersonName, a.Person), a.Org, a.Time.Local().Format("2006-01-02 15:04"), a.Comment)
		}
		for _, c := range p.Checks {
			fmt.Fprintf(tw, "check\t%s %s: %s\n", c.Name, c.Version, c.Verdict)
		}
		fmt.Fprintln(tw, "\nFILE\tSIZE\tLEVEL\tSHA256\tMARKS")
		for _, fl := range v.Files {
			keys := make([]string, 0, len(fl.Marks))
			for k := range fl.Marks {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var ms []string
			for _, k := range keys {
				ms = append(ms, strings.TrimPrefix(k, "enclave.")+"="+fl.Marks[k])
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", fl.Name, human(fl.Size), dash(fl.Level), fl.SHA256[:16]+"…", strings.Join(ms, " "))
		}
	})
}
