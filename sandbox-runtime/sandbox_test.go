package sandbox

import (
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

func validSpec() Spec {
	return Spec{
		ID:     "job-1",
		Image:  "sha256:" + strings.Repeat("ab", 32),
		Args:   []string{"groupcount", "-in", "/in/credit/data.arrow"},
		Inputs: []Mount{{Name: "credit", HostDir: "/var/lib/enclave/jobs/job-1/in/credit"}},
		OutDir: "/var/lib/enclave/jobs/job-1/out",
		Limits: DefaultLimits(),
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Spec)
		ok     bool
	}{
		{"valid", func(*Spec) {}, true},
		{"no inputs", func(s *Spec) { s.Inputs = nil }, true},
		{"id with slash", func(s *Spec) { s.ID = "a/b" }, false},
		{"id uppercase", func(s *Spec) { s.ID = "Job" }, false},
		{"id empty", func(s *Spec) { s.ID = "" }, false},
		{"image tag", func(s *Spec) { s.Image = "toolbox:latest" }, false},
		{"no command", func(s *Spec) { s.Args = nil }, false},
		{"nul in argument", func(s *Spec) { s.Args = []string{"sh", "a\x00b"} }, false},
		{"input name dotdot", func(s *Spec) { s.Inputs[0].Name = ".." }, false},
		{"input name slash", func(s *Spec) { s.Inputs[0].Name = "a/b" }, false},
		{"input twice", func(s *Spec) { s.Inputs = append(s.Inputs, s.Inputs[0]) }, false},
		{"input relative", func(s *Spec) { s.Inputs[0].HostDir = "in/credit" }, false},
		{"input unclean", func(s *Spec) { s.Inputs[0].HostDir = "/var/lib/../../etc" }, false},
		{"out relative", func(s *Spec) { s.OutDir = "out" }, false},
		{"limits missing", func(s *Spec) { s.Limits = Limits{} }, false},
		{"outputs declared", func(s *Spec) { s.Outputs = []string{"counts.arrow", "MANIFEST.json", "_x=1+2"} }, true},
		{"output with slash", func(s *Spec) { s.Outputs = []string{"sub/counts.arrow"} }, false},
		{"output dotdot", func(s *Spec) { s.Outputs = []string{".."} }, false},
		{"output hidden", func(s *Spec) { s.Outputs = []string{".hidden"} }, false},
		{"output leading dash", func(s *Spec) { s.Outputs = []string{"-rf"} }, false},
		{"output empty", func(s *Spec) { s.Outputs = []string{""} }, false},
		{"output twice", func(s *Spec) { s.Outputs = []string{"a.txt", "a.txt"} }, false},
		{"outputs beyond the file limit", func(s *Spec) {
			s.Limits.MaxOutputFiles = 2
			s.Outputs = []string{"a", "b", "c"}
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			tc.mutate(&s)
			err := s.Validate()
			if tc.ok && err != nil {
				t.Fatalf("Validate: got %v, want nil", err)
			}
			if !tc.ok && !errdefs.IsInvalidArgument(err) {
				t.Fatalf("Validate: got %v, want an invalid-argument error", err)
			}
		})
	}
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Limits)
		bad    string
	}{
		{"defaults", func(*Limits) {}, ""},
		{"no cpu", func(l *Limits) { l.CPUs = 0 }, "cpus"},
		{"tiny memory", func(l *Limits) { l.MemoryBytes = 1 << 10 }, "memory"},
		{"no tmp", func(l *Limits) { l.TmpBytes = 0 }, "tmp"},
		{"no out cap", func(l *Limits) { l.OutBytes = 0 }, "out"},
		{"no fsize", func(l *Limits) { l.FileSizeBytes = 0 }, "file-size"},
		{"no pids", func(l *Limits) { l.Pids = 0 }, "pids"},
		{"no nofile", func(l *Limits) { l.NoFile = 0 }, "nofile"},
		{"no timeout", func(l *Limits) { l.Timeout = 0 }, "timeout"},
		{"week-long timeout", func(l *Limits) { l.Timeout = 8 * 24 * time.Hour }, "timeout"},
		{"no outputs", func(l *Limits) { l.MaxOutputFiles = 0 }, "max-output-files"},
		{"no logs", func(l *Limits) { l.LogBytes = 0 }, "log-bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := DefaultLimits()
			tc.mutate(&l)
			err := l.Validate()
			if tc.bad == "" {
				if err != nil {
					t.Fatalf("Validate: got %v, want nil", err)
				}
				return
			}
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `"`+tc.bad+`"`) {
				t.Fatalf("Validate: got %v, want invalid argument naming %q", err, tc.bad)
			}
		})
	}
}

// FuzzSpecValidate feeds job ids, input names and paths as an API client
// could: Validate must never panic, and what it accepts must be safe to
// use as a container id and a path element.
func FuzzSpecValidate(f *testing.F) {
	f.Add("job-1", "credit", "/var/lib/in", "sh")
	f.Add("../x", "..", "relative", "")
	f.Fuzz(func(t *testing.T, id, name, dir, arg string) {
		s := validSpec()
		s.ID, s.Inputs[0].Name, s.Inputs[0].HostDir, s.Args[0] = id, name, dir, arg
		if s.Validate() != nil {
			return
		}
		if strings.ContainsAny(id, "/.\x00") || strings.Contains(name, "/") || strings.Contains(name, "..") || !strings.HasPrefix(dir, "/") {
			t.Errorf("Validate accepted id %q name %q dir %q", id, name, dir)
		}
	})
}
