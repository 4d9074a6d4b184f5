package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/enclave-dev/enclave/enclave/api"
)

func TestJobRunOutputsRefusedBeforeAnythingRuns(t *testing.T) {
	// The daemon's address leads nowhere: a refusal that reached it would
	// fail with exit code 1, not 2.
	env := map[string]string{"ENCLAVE_ADDR": filepath.Join(t.TempDir(), "none.sock"), "ENCLAVE_TOKEN": "x", "HOME": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	img := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		outputs []string
		want    string
	}{
		{"path", []string{"--output", "sub/x.csv"}, api.OutputNameRule},
		{"hidden", []string{"--output", ".x"}, api.OutputNameRule},
		{"too long", []string{"--output", strings.Repeat("a", 65)}, api.OutputNameRule},
		{"twice", []string{"--output", "a.csv", "--output", "a.csv"}, "declared twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"job", "run", "--image", img, "--input", "penalties"}, tc.outputs...)
			args = append(args, "--", "true")
			var stdout, stderr bytes.Buffer
			code := Main(args, strings.NewReader(""), &stdout, &stderr, getenv)
			if code != ExitUsage || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("got exit %d, stderr %q; want %d naming %q", code, stderr.String(), ExitUsage, tc.want)
			}
		})
	}
	t.Run("none declared", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := Main([]string{"job", "run", "--image", img, "--input", "penalties", "--", "true"}, strings.NewReader(""), &stdout, &stderr, getenv)
		if code != ExitFailure || !strings.Contains(stderr.String(), "nothing the job writes to /out will be collected") {
			t.Errorf("got exit %d, stderr %q; want the note and then the failure to reach the daemon", code, stderr.String())
		}
	})
}

func TestHelpNamesDeclaredOutputs(t *testing.T) {
	var stdout bytes.Buffer
	if code := Main([]string{"help"}, strings.NewReader(""), &stdout, &stdout, func(string) string { return "" }); code != ExitOK {
		t.Fatalf("help: exit %d", code)
	}
	if !strings.Contains(stdout.String(), "only the files named with --output are collected, none without") {
		t.Errorf("help does not say how outputs are collected:\n%s", stdout.String())
	}
}

func TestJobTableViews(t *testing.T) {
	three := 3
	base := api.Job{ID: "j-1", Org: "acme", State: "executor-error", Outcome: api.OutcomeFailed, DeclaredOutputs: []string{"counts.csv"},
		Outputs: []api.JobOutput{{Name: "counts.csv", Size: 8192}}, UndeclaredDropped: 4}
	coarse, exact := base, base
	coarse.View, coarse.Message = api.ViewCoarse, "the job failed"
	coarse.Usage = api.JobUsage{PeakMemoryBytes: 8 << 20, WallSeconds: 4}
	exact.View, exact.ExitCode, exact.Reason, exact.Message = api.ViewExact, &three, "exited", "the command exited with status 3"
	exact.Outputs = []api.JobOutput{{Name: "counts.csv", Size: 5000, SHA256: strings.Repeat("a", 64)}}
	render := func(j api.Job) string {
		var buf bytes.Buffer
		tw := tabwriter.NewWriter(&buf, 2, 4, 2, ' ', 0)
		jobTable(tw, j)
		tw.Flush()
		return strings.Join(strings.Fields(buf.String()), " ")
	}
	c, x := render(coarse), render(exact)
	for _, want := range []string{"outcome failed", "peak memory ≤8.0MiB", "wall ≤4.00s", "undeclared_dropped ≤4", "counts.csv ≤8.0KiB -"} {
		if !strings.Contains(c, want) {
			t.Errorf("coarse view: want %q in\n%s", want, c)
		}
	}
	if strings.Contains(c, "status") {
		t.Errorf("coarse view shows an exit status:\n%s", c)
	}
	for _, want := range []string{"exit exited, status 3", "counts.csv 4.9KiB " + strings.Repeat("a", 64)} {
		if !strings.Contains(x, want) {
			t.Errorf("exact view: want %q in\n%s", want, x)
		}
	}
	none := render(api.Job{ID: "j-2", State: "complete", View: api.ViewCoarse})
	if !strings.Contains(none, "declared outputs none: nothing was collected") {
		t.Errorf("a job without outputs: got\n%s", none)
	}
}
