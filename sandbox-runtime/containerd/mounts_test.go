package containerd

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

// TestJobSeesNoHostPaths: what a job can read of its mounts
// (/proc/self/mountinfo, whose root field is the path of a bind's source
// inside its file system, and the options `mount` prints) names no path of
// the host: not the test's base directory, under which the containerd,
// the work areas and the inputs live, nor any other directory of the host
// beyond the devices runc binds from /dev.
func TestJobSeesNoHostPaths(t *testing.T) {
	setup(t)
	in := inputDir(t)
	spec := newSpec(t, "toolbox", "sh", "-c", "cat /proc/self/mountinfo; echo ---; mount; echo ---; cat /in/credit/data.arrow")
	spec.Inputs = []sandbox.Mount{{Name: "credit", HostDir: in}}
	ex, logs := run(t, context.Background(), spec)
	if ex.Reason != sandbox.ReasonExited || ex.Code != 0 {
		t.Fatalf("exit: got %s/%d, want exited/0; logs %q", ex.Reason, ex.Code, logs)
	}
	// The job still gets its root, its input and its output.
	for _, want := range []string{" / / ", " / /in/credit ", " / /out ", "not really arrow"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("logs: got %q, want %q in them", logs, want)
		}
	}
	if strings.Contains(logs, env.base) {
		t.Errorf("the job sees the host path %q:\n%s", env.base, logs)
	}
	mountinfo, _, _ := strings.Cut(logs, "---")
	for _, line := range strings.Split(strings.TrimSpace(mountinfo), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			t.Fatalf("mountinfo line %q", line)
		}
		// The root of every mount is the root of its file system, or one
		// of the device nodes and /proc entries runc binds.
		if root := f[3]; root != "/" && !regexp.MustCompile(`^/[a-z_]+$`).MatchString(root) {
			t.Errorf("mount %s has the root %q, a path of the host", f[4], root)
		}
		// Overlays name their layers by descriptors only.
		for _, o := range strings.Split(f[len(f)-1], ",") {
			k, v, _ := strings.Cut(o, "=")
			if k != "lowerdir" && k != "upperdir" && k != "workdir" {
				continue
			}
			for _, dir := range strings.Split(v, ":") {
				if !regexp.MustCompile(`^/proc/self/fd/[0-9]+$`).MatchString(dir) {
					t.Errorf("mount %s names the layer %q", f[4], dir)
				}
			}
		}
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/a/b", "/a/b"},
		{`/with\040space`, "/with space"},
		{`/tab\011and\134back`, "/tab\tand\\back"},
		{`/short\04`, `/short\04`},
	} {
		if got := unescapeMountinfo(tc.in); got != tc.want {
			t.Errorf("unescapeMountinfo(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRemoveWorkArea: everything mounted in a work area is unmounted
// before the area is removed, and the files of a mounted input survive.
func TestRemoveWorkArea(t *testing.T) {
	setup(t)
	area := filepath.Join(env.base, "remove-area")
	in := inputDir(t)
	if err := os.MkdirAll(area, 0o711); err != nil {
		t.Fatal(err)
	}
	if _, err := mountInputs(area, []sandbox.Mount{{Name: "x", HostDir: in}}); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(area, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", filepath.Join(area, "tmp"), "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	if ms, err := mountsUnder(area); err != nil || len(ms) != 2 {
		t.Fatalf("mounts under the area: got %v, %v; want 2", ms, err)
	}
	if err := removeWorkArea(area); err != nil {
		t.Fatalf("removeWorkArea: %v", err)
	}
	if _, err := os.Stat(area); !os.IsNotExist(err) {
		t.Errorf("area: got %v, want removed", err)
	}
	if _, err := os.Stat(filepath.Join(in, "data.arrow")); err != nil {
		t.Errorf("the input's file: got %v, want it kept", err)
	}
}
