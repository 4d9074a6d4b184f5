package outputs

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

func limits(bytes int64, files int) sandbox.Limits {
	l := sandbox.DefaultLimits()
	l.OutBytes = bytes
	l.MaxOutputFiles = files
	return l
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func skipReason(rep Report, name string) string {
	for _, s := range rep.Skipped {
		if s.Name == displayName(name) {
			return s.Reason
		}
	}
	return ""
}

func TestCollect(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T, src, outside string)
		lim       sandbox.Limits
		wantFiles []string
		wantSkip  map[string]string
		wantTrunc bool
	}{
		{
			name: "regular files and subdirectory",
			setup: func(t *testing.T, src, _ string) {
				write(t, filepath.Join(src, "a.arrow"), []byte("aaaa"))
				write(t, filepath.Join(src, "sub", "b.txt"), []byte("bb"))
			},
			lim:       limits(1<<20, 10),
			wantFiles: []string{"a.arrow", "sub/b.txt"},
		},
		{
			name: "symlink to a host file is not followed",
			setup: func(t *testing.T, src, outside string) {
				write(t, filepath.Join(outside, "shadow"), []byte("secret"))
				if err := os.Symlink(filepath.Join(outside, "shadow"), filepath.Join(src, "shadow")); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(outside, filepath.Join(src, "dirlink")); err != nil {
					t.Fatal(err)
				}
			},
			lim:      limits(1<<20, 10),
			wantSkip: map[string]string{"shadow": SkipSymlink, "dirlink": SkipSymlink},
		},
		{
			name: "hardlinks are refused",
			setup: func(t *testing.T, src, outside string) {
				write(t, filepath.Join(src, "orig"), []byte("x"))
				if err := os.Link(filepath.Join(src, "orig"), filepath.Join(src, "link")); err != nil {
					t.Fatal(err)
				}
			},
			lim:      limits(1<<20, 10),
			wantSkip: map[string]string{"orig": SkipHardlink, "link": SkipHardlink},
		},
		{
			name: "fifo and device are refused",
			setup: func(t *testing.T, src, _ string) {
				if err := unix.Mkfifo(filepath.Join(src, "fifo"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3))); err != nil {
					t.Skipf("mknod: %v", err)
				}
			},
			lim:      limits(1<<20, 10),
			wantSkip: map[string]string{"fifo": SkipSpecial, "null": SkipSpecial},
		},
		{
			name: "bad names",
			setup: func(t *testing.T, src, _ string) {
				write(t, filepath.Join(src, "..."), []byte("x"))
				write(t, filepath.Join(src, ".hidden"), []byte("x"))
				write(t, filepath.Join(src, "a\nb"), []byte("x"))
			},
			lim:      limits(1<<20, 10),
			wantSkip: map[string]string{"...": SkipBadName, ".hidden": SkipBadName, "a\nb": SkipBadName},
		},
		{
			name: "count cap",
			setup: func(t *testing.T, src, _ string) {
				for _, n := range []string{"f1", "f2", "f3"} {
					write(t, filepath.Join(src, n), []byte("x"))
				}
			},
			lim:       limits(1<<20, 2),
			wantFiles: []string{"f1", "f2"},
			wantSkip:  map[string]string{"f3": SkipCountLimit},
			wantTrunc: true,
		},
		{
			name: "sparse file counted by apparent size",
			setup: func(t *testing.T, src, _ string) {
				f, err := os.Create(filepath.Join(src, "sparse"))
				if err != nil {
					t.Fatal(err)
				}
				if err := f.Truncate(1 << 40); err != nil {
					t.Fatal(err)
				}
				f.Close()
				write(t, filepath.Join(src, "small"), []byte("ok"))
			},
			lim:       limits(1<<20, 10),
			wantFiles: []string{"small"},
			wantSkip:  map[string]string{"sparse": SkipSizeLimit},
			wantTrunc: true,
		},
		{
			name: "too deep",
			setup: func(t *testing.T, src, _ string) {
				p := src
				for i := 0; i < MaxDepth+1; i++ {
					p = filepath.Join(p, "d")
				}
				write(t, filepath.Join(p, "f"), []byte("x"))
			},
			lim:      limits(1<<20, 10),
			wantSkip: map[string]string{strings.Repeat("d/", MaxDepth-1) + "d": SkipTooDeep},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			src, dst, outside := filepath.Join(root, "src"), filepath.Join(root, "dst"), filepath.Join(root, "outside")
			for _, d := range []string{src, dst, outside} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			tc.setup(t, src, outside)
			rep, err := Collect(src, dst, tc.lim)
			if err != nil {
				t.Fatalf("Collect: got error %v, want nil", err)
			}
			var got []string
			for _, f := range rep.Files {
				got = append(got, f.Name)
				want, err := os.ReadFile(filepath.Join(src, f.Name))
				if err != nil {
					t.Fatal(err)
				}
				have, err := os.ReadFile(filepath.Join(dst, f.Name))
				if err != nil {
					t.Fatalf("collected %q: %v", f.Name, err)
				}
				if !bytes.Equal(have, want) {
					t.Errorf("content of %q: got %q, want %q", f.Name, have, want)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.wantFiles, ",") {
				t.Errorf("files: got %v, want %v", got, tc.wantFiles)
			}
			for n, reason := range tc.wantSkip {
				if r := skipReason(rep, n); r != reason {
					t.Errorf("skip of %q: got %q, want %q (report %v)", n, r, reason, rep.Skipped)
				}
			}
			if rep.Truncated != tc.wantTrunc {
				t.Errorf("truncated: got %v, want %v", rep.Truncated, tc.wantTrunc)
			}
			// nothing but collected files (and their directories) in dst
			filepath.Walk(dst, func(p string, fi os.FileInfo, err error) error {
				if err == nil && fi.Mode()&os.ModeSymlink != 0 {
					t.Errorf("symlink %q in destination", p)
				}
				return nil
			})
		})
	}
}

func TestCollectManyTinyFiles(t *testing.T) {
	root := t.TempDir()
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
	os.Mkdir(src, 0o755)
	os.Mkdir(dst, 0o755)
	const n = 3000
	for i := 0; i < n; i++ {
		write(t, filepath.Join(src, "f"+strings.Repeat("0", 5)+itoa(i)), []byte("x"))
	}
	rep, err := Collect(src, dst, limits(1<<20, 100))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != 100 {
		t.Errorf("files: got %d, want 100", len(rep.Files))
	}
	if len(rep.Skipped) != MaxSkips+1 {
		t.Errorf("skip entries: got %d, want %d", len(rep.Skipped), MaxSkips+1)
	}
	last := rep.Skipped[len(rep.Skipped)-1].Reason
	if want := itoa(n-100-MaxSkips) + " more entries skipped"; last != want {
		t.Errorf("summary: got %q, want %q", last, want)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestCollectRefusesSymlinkedRoots(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(root, "real")
	os.Mkdir(real, 0o755)
	link := filepath.Join(root, "link")
	os.Symlink(real, link)
	tests := []struct{ name, src, dst string }{
		{"source is a symlink", link, real},
		{"destination is a symlink", real, link},
		{"source missing", filepath.Join(root, "none"), real},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Collect(tc.src, tc.dst, sandbox.DefaultLimits()); err == nil {
				t.Errorf("got nil error, want an error")
			}
		})
	}
}

func FuzzValidName(f *testing.F) {
	for _, s := range []string{"a.arrow", "..", ".", "a/b", "", "-x", "x\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !ValidName(name) {
			return
		}
		if name == "." || name == ".." || strings.ContainsAny(name, "/\x00\n") || name[0] == '.' || name[0] == '-' || len(name) > 128 {
			t.Errorf("ValidName(%q) = true, want false", name)
		}
	})
}

func TestCollectDeclared(t *testing.T) {
	tests := []struct {
		name           string
		setup          func(t *testing.T, src, outside string)
		declared       []string
		lim            sandbox.Limits
		wantFiles      []string
		wantSkip       map[string]string
		wantUndeclared int
		wantTrunc      bool
	}{
		{
			name: "only declared files are kept",
			setup: func(t *testing.T, src, _ string) {
				write(t, filepath.Join(src, "counts.arrow"), []byte("aaaa"))
				write(t, filepath.Join(src, "MANIFEST.json"), []byte("{}"))
				write(t, filepath.Join(src, "91990104A6N74W818W"), []byte("x"))
				write(t, filepath.Join(src, "sub", "b.txt"), []byte("bb"))
			},
			declared:       []string{"counts.arrow"},
			lim:            limits(1<<20, 10),
			wantFiles:      []string{"counts.arrow"},
			wantUndeclared: 3,
		},
		{
			name: "the manifest is kept only when declared",
			setup: func(t *testing.T, src, _ string) {
				write(t, filepath.Join(src, "counts.arrow"), []byte("aaaa"))
				write(t, filepath.Join(src, "MANIFEST.json"), []byte("{}"))
			},
			declared:  []string{"MANIFEST.json", "counts.arrow"},
			lim:       limits(1<<20, 10),
			wantFiles: []string{"MANIFEST.json", "counts.arrow"},
		},
		{
			name:      "nothing declared collects nothing",
			setup:     func(t *testing.T, src, _ string) { write(t, filepath.Join(src, "a.txt"), []byte("a")) },
			lim:       limits(1<<20, 10),
			wantFiles: nil, wantUndeclared: 1,
		},
		{
			name: "declared but not a lone regular file",
			setup: func(t *testing.T, src, outside string) {
				write(t, filepath.Join(outside, "shadow"), []byte("secret"))
				if err := os.Symlink(filepath.Join(outside, "shadow"), filepath.Join(src, "link")); err != nil {
					t.Fatal(err)
				}
				write(t, filepath.Join(src, "dir", "x"), []byte("x"))
				write(t, filepath.Join(src, "orig"), []byte("x"))
				if err := os.Link(filepath.Join(src, "orig"), filepath.Join(src, "hard")); err != nil {
					t.Fatal(err)
				}
				if err := unix.Mkfifo(filepath.Join(src, "fifo"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			declared: []string{"link", "dir", "hard", "fifo", "never"},
			lim:      limits(1<<20, 10),
			wantSkip: map[string]string{"link": SkipSymlink, "dir": SkipDirectory, "hard": SkipHardlink, "fifo": SkipSpecial,
				"never": SkipMissing},
			wantUndeclared: 1, // orig
		},
		{
			name: "caps apply to declared files",
			setup: func(t *testing.T, src, _ string) {
				write(t, filepath.Join(src, "big"), bytes.Repeat([]byte("x"), 2<<20))
				write(t, filepath.Join(src, "small"), []byte("ok"))
			},
			declared:  []string{"big", "small"},
			lim:       limits(1<<20, 10),
			wantFiles: []string{"small"},
			wantSkip:  map[string]string{"big": SkipSizeLimit},
			wantTrunc: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			src, dst, outside := filepath.Join(root, "src"), filepath.Join(root, "dst"), filepath.Join(root, "outside")
			for _, d := range []string{src, dst, outside} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			tc.setup(t, src, outside)
			rep, err := CollectDeclared(src, dst, tc.lim, tc.declared)
			if err != nil {
				t.Fatalf("CollectDeclared: got error %v, want nil", err)
			}
			var got []string
			for _, f := range rep.Files {
				got = append(got, f.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.wantFiles, ",") {
				t.Errorf("files: got %v, want %v", got, tc.wantFiles)
			}
			if rep.Undeclared != tc.wantUndeclared {
				t.Errorf("undeclared: got %d, want %d", rep.Undeclared, tc.wantUndeclared)
			}
			if len(rep.Skipped) != len(tc.wantSkip) {
				t.Errorf("skipped: got %v, want only the declared names %v", rep.Skipped, tc.wantSkip)
			}
			for n, reason := range tc.wantSkip {
				if r := skipReason(rep, n); r != reason {
					t.Errorf("skip of %q: got %q, want %q (report %v)", n, r, reason, rep.Skipped)
				}
			}
			if rep.Truncated != tc.wantTrunc {
				t.Errorf("truncated: got %v, want %v", rep.Truncated, tc.wantTrunc)
			}
			// Only the collected files reach the destination.
			ents, _ := os.ReadDir(dst)
			var in []string
			for _, e := range ents {
				in = append(in, e.Name())
			}
			if strings.Join(in, ",") != strings.Join(tc.wantFiles, ",") {
				t.Errorf("destination holds %v, want %v", in, tc.wantFiles)
			}
		})
	}
}

func TestCollectDeclaredRefusesBadNames(t *testing.T) {
	root := t.TempDir()
	for _, bad := range []string{"../etc/passwd", "a/b", ".hidden", ""} {
		t.Run(bad, func(t *testing.T) {
			_, err := CollectDeclared(root, root, sandbox.DefaultLimits(), []string{bad})
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("got %v, want an invalid-argument error", err)
			}
		})
	}
}

// TestFinish: the end of a run on either backend. A job that wrote its
// declared file and an undeclared one ended "exited" with the one file
// collected and the other counted; a reason the backend already set (an
// OOM death) stands; a file cut at the output limit makes the reason
// output-limit.
func TestFinish(t *testing.T) {
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "r.txt"), []byte("12345678"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "x.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		reason, want sandbox.Reason
		limit        int64
		wantFiles    int
	}{
		{"exited", "", sandbox.ReasonExited, 1 << 20, 1},
		{"reason kept", sandbox.ReasonOOM, sandbox.ReasonOOM, 1 << 20, 1},
		{"cut at the limit", "", sandbox.ReasonOutputLimit, 4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := sandbox.Spec{ID: "j-1", OutDir: t.TempDir(), Limits: limits(tc.limit, 10), Outputs: []string{"r.txt"}}
			ex := sandbox.Exit{Reason: tc.reason}
			if err := Finish(out, spec, &ex); err != nil {
				t.Fatal(err)
			}
			if ex.Reason != tc.want || len(ex.Outputs) != tc.wantFiles || ex.Undeclared != 1 {
				t.Fatalf("got reason %q, %d outputs, %d undeclared; want %q, %d, 1", ex.Reason, len(ex.Outputs), ex.Undeclared, tc.want, tc.wantFiles)
			}
			if tc.wantFiles == 1 && ex.Usage.OutputBytes != 8 {
				t.Errorf("output bytes: got %d, want 8", ex.Usage.OutputBytes)
			}
		})
	}
}
