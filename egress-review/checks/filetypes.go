package checks

import (
	"context"
	"fmt"
	"os"
	"path"
	"strings"

	review "github.com/enclave-dev/enclave/egress-review"
)

// FileTypes checks outputs by content, not name: Arrow IPC (file and
// stream), Parquet, CSV, JSON, plain text, Markdown, PNG and PDF may leave;
// archives, executables (ELF, PE, Mach-O, WebAssembly, #! scripts) and
// anything unknown fail, as do names that are not clean relative paths,
// files over MaxFileBytes, more than MaxFiles files or more than
// MaxTotalBytes in all.
type FileTypes struct{}

var _ review.Check = FileTypes{}

// Name implements review.Check.
func (FileTypes) Name() string { return "file-types" }

// Version implements review.Check.
func (FileTypes) Version() string { return "1" }

// Run implements review.Check.
func (FileTypes) Run(ctx context.Context, req *review.Request) ([]review.Finding, error) {
	p := req.Params.Effective()
	var out []review.Finding
	fail := func(f, ev string) {
		out = append(out, review.Finding{Verdict: review.VerdictFail, File: f, Evidence: ev})
	}
	if len(req.Files) == 0 {
		fail("", "no files in the request")
	}
	if len(req.Files) > p.MaxFiles {
		out = append(out, review.Finding{Verdict: review.VerdictFail, Count: len(req.Files),
			Evidence: fmt.Sprintf("%d files, more than the limit of %d", len(req.Files), p.MaxFiles)})
		return out, nil
	}
	var total int64
	seen := map[string]bool{}
	for _, f := range req.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !cleanName(f.Name) {
			fail(f.Name, "name is not a clean relative path")
			continue
		}
		if seen[f.Name] {
			fail(f.Name, "file named twice")
			continue
		}
		seen[f.Name] = true
		st, err := os.Lstat(f.Path)
		if err != nil {
			fail(f.Name, "cannot stat file")
			continue
		}
		if !st.Mode().IsRegular() {
			fail(f.Name, "not a regular file")
			continue
		}
		total += st.Size()
		if st.Size() > p.MaxFileBytes {
			fail(f.Name, fmt.Sprintf("%d bytes, more than the limit of %d", st.Size(), p.MaxFileBytes))
			continue
		}
		kind, what, err := Sniff(f.Path, f.Name)
		if err != nil {
			fail(f.Name, "cannot read file")
			continue
		}
		if !kind.Allowed() {
			fail(f.Name, fmt.Sprintf("content is %s (%s), which may not leave", kind, what))
			continue
		}
		out = append(out, review.Finding{Verdict: review.VerdictPass, File: f.Name, Evidence: "content is " + string(kind)})
	}
	if total > p.MaxTotalBytes {
		out = append(out, review.Finding{Verdict: review.VerdictFail,
			Evidence: fmt.Sprintf("%d bytes in all, more than the limit of %d", total, p.MaxTotalBytes)})
	}
	return out, nil
}

// cleanName reports whether name is a clean, relative, slash-separated
// path without "..", control characters or backslashes.
func cleanName(name string) bool {
	if name == "" || len(name) > 1024 || path.IsAbs(name) || path.Clean(name) != name || name == "." {
		return false
	}
	if name == ".." || strings.HasPrefix(name, "../") {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return false
		}
	}
	return true
}
