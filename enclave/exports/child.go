package exports

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/containerd/errdefs"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/egress-review/checks"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	egscan "github.com/enclave-dev/enclave/egress-review/scan"
	"github.com/enclave-dev/enclave/enclave/checker"
)

// The operations this package runs in a check process (enclave/checker),
// besides the review itself: each parses what a job wrote.
const (
	opPreviews    = "previews"
	opReleaseFile = "release-file"
	opLogFilter   = "log-filter"
)

// DefaultCheckSet names checks.Default among the check sets of ChildOps.
const DefaultCheckSet = "default"

// ChildOps are the operations a check process serves for this package:
// the review over the check sets given (DefaultCheckSet: checks.Default),
// previews, the rebuild of a file for its release and the filter of a job's
// log. cmd/enclaved serves them under checker.ChildCommand.
func ChildOps(sets checker.CheckSets) checker.Ops {
	ops := checker.ReviewOps(sets)
	ops[opPreviews] = func(ctx context.Context, in *checker.Input) (any, error) {
		var files []review.File
		if err := json.Unmarshal(in.Payload, &files); err != nil {
			return nil, fmt.Errorf("preview request: %w", errdefs.ErrInvalidArgument)
		}
		return previews(files), nil
	}
	ops[opReleaseFile] = func(ctx context.Context, in *checker.Input) (any, error) {
		var p releaseFileRequest
		if err := json.Unmarshal(in.Payload, &p); err != nil {
			return nil, fmt.Errorf("release file request: %w", errdefs.ErrInvalidArgument)
		}
		return releaseFile(ctx, p)
	}
	ops[opLogFilter] = func(ctx context.Context, in *checker.Input) (any, error) {
		var p review.Params
		if err := json.Unmarshal(in.Payload, &p); err != nil {
			return nil, fmt.Errorf("log filter request: %w", errdefs.ErrInvalidArgument)
		}
		h, err := fingerprint.NewHasher(in.Secret)
		if err != nil {
			return nil, err
		}
		return filterLog(ctx, h, in.Sets, p, in.Blob)
	}
	return ops
}

// DefaultCheckSets is the check set the daemon's check processes know.
func DefaultCheckSets() checker.CheckSets {
	return checker.CheckSets{DefaultCheckSet: checks.Default}
}

func previews(files []review.File) []Preview {
	out := make([]Preview, 0, len(files))
	for _, f := range files {
		out = append(out, preview(f.Name, f.Path))
	}
	return out
}

// previews summarises the frozen files, in a check process when there is
// a runner. A preview that cannot be made says so and shows nothing.
func (s *Service) previews(ctx context.Context, files []review.File) []Preview {
	if s.Runner == nil {
		return previews(files)
	}
	var out []Preview
	err := s.Runner.Call(ctx, checker.Request{Op: opPreviews, Payload: files}, &out)
	if err == nil && len(out) == len(files) {
		for i := range out {
			out[i].File = files[i].Name
		}
		return out
	}
	why := "the check process answered for other files"
	var f *checker.Failure
	if errors.As(err, &f) {
		why = f.Error()
	}
	out = make([]Preview, len(files))
	for i, f := range files {
		out[i] = Preview{File: f.Name, Kind: "unknown", Note: "not previewed: " + why}
	}
	return out
}

// releaseFileRequest asks for one file of a release: rebuilt into Dst when
// it is a table that can be rebuilt, and its marks.
type releaseFileRequest struct {
	Src  string `json:"src"`
	Name string `json:"name"`
	Dst  string `json:"dst"`
}

// releasedFile is what goes into the attestation of one file.
type releasedFile struct {
	// Rebuilt says the file leaves as Dst, with SHA256 and Size.
	Rebuilt bool              `json:"rebuilt"`
	SHA256  string            `json:"sha256,omitempty"`
	Size    int64             `json:"size,omitempty"`
	Marks   map[string]string `json:"marks,omitempty"`
	Fields  map[string]string `json:"fields,omitempty"`
	Level   string            `json:"level,omitempty"`
}

func releaseFile(ctx context.Context, p releaseFileRequest) (releasedFile, error) {
	var out releasedFile
	path := p.Src
	ok, err := checks.Canonical(ctx, p.Src, p.Name, p.Dst)
	switch {
	case err != nil && !errdefs.IsNotImplemented(err):
		return out, fmt.Errorf("rebuild %q for release: %w", p.Name, err)
	case ok:
		sum, err := review.FileSHA256(p.Dst)
		if err != nil {
			return out, err
		}
		st, err := os.Stat(p.Dst)
		if err != nil {
			return out, err
		}
		path, out.Rebuilt, out.SHA256, out.Size = p.Dst, true, sum, st.Size()
	}
	out.Marks, out.Fields, out.Level = arrowMarks(path)
	return out, nil
}

// releaseFile rebuilds and reads one file of a release, in a check process
// when there is a runner.
func (s *Service) releaseFile(ctx context.Context, p releaseFileRequest) (releasedFile, error) {
	if s.Runner == nil {
		return releaseFile(ctx, p)
	}
	var out releasedFile
	err := s.Runner.Call(ctx, checker.Request{Op: opReleaseFile, Payload: p}, &out)
	return out, err
}

// filterLog returns the 0-based numbers of the lines of a job's log an
// operator may not read: lines that hold a value of the sets (the
// fingerprint scan) and lines the egress text rule withholds.
func filterLog(ctx context.Context, h *fingerprint.Hasher, sets []*fingerprint.Set, p review.Params, data []byte) ([]int, error) {
	sc, err := egscan.New(h, sets)
	if err != nil {
		return nil, err
	}
	scanned, err := sc.ScanText(ctx, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	withheld := map[int]bool{}
	for _, n := range scanned {
		withheld[n] = true
	}
	rule := checks.NewLogFilter(p)
	for i, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" || withheld[i] {
			continue
		}
		if rule.Withhold([]byte(strings.TrimRight(line, "\r\n"))) {
			withheld[i] = true
		}
	}
	out := make([]int, 0, len(withheld))
	for n := range withheld {
		out = append(out, n)
	}
	return out, nil
}
