// Package review is the contract of the egress checks: what a request to
// take files out of the enclave holds, what a check returns, and Run, which
// runs every check over a request and folds the findings into one verdict.
//
// A failed check is a value (a Finding with VerdictFail), not an error.
// Anything that keeps a check from answering (an error, a panic, a file that
// changed since the request froze it) becomes a fail finding too: Run fails
// closed. Evidence never holds a data value: counts, column names, hashes,
// levels and rule names only; names that themselves match an input value are
// withheld from findings.
//
// The checks themselves live in the subpackage checks (checks.Default);
// fingerprint sets and hashing in the subpackage fingerprint.
package review

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// Verdict is the outcome of a finding or of a whole review.
type Verdict string

// Verdicts, from best to worst.
const (
	// VerdictPass means nothing stops the release.
	VerdictPass Verdict = "pass"
	// VerdictReview means officers must look and approve explicitly.
	VerdictReview Verdict = "review"
	// VerdictFail means the release is refused unless officers override
	// with a written justification.
	VerdictFail Verdict = "fail"
)

func (v Verdict) rank() int {
	switch v {
	case VerdictPass:
		return 0
	case VerdictReview:
		return 1
	default: // fail, and anything unknown: fail closed
		return 2
	}
}

// Worse returns the worse of two verdicts; an unknown verdict counts as fail.
func Worse(a, b Verdict) Verdict {
	if b.rank() > a.rank() {
		if b.rank() == 2 {
			return VerdictFail
		}
		return b
	}
	if a.rank() == 2 {
		return VerdictFail
	}
	return a
}

// Finding is one result of one check, about one file (and column) or about
// the whole request when File is empty.
type Finding struct {
	Check    string  `json:"check"`
	Verdict  Verdict `json:"verdict"`
	File     string  `json:"file,omitempty"`
	Column   string  `json:"column,omitempty"`
	Count    int     `json:"count,omitempty"`
	Evidence string  `json:"evidence"`
}

// File is one candidate output file.
type File struct {
	// Name is the file's name relative to the job's outputs ("table.arrow").
	Name string `json:"name"`
	// Path is where the file is on disk, already collected safely (no
	// symlinks, inside the job's frozen output area).
	Path string `json:"path"`
	// SHA256 is the hex digest frozen when the export was requested.
	SHA256 string `json:"sha256"`
}

// Input describes one dataset version the job read.
type Input struct {
	Dataset string `json:"dataset"`
	Version int    `json:"version"`
	// Level is the highest level of the dataset version ("general-3").
	Level string `json:"level"`
	// Market is its market class ("ordinary", "authorized", "withheld").
	Market string `json:"market,omitempty"`
	// HasPI says whether any column has a personal-information type.
	HasPI bool `json:"has_pi"`
	// Marks are the dataset's schema-level marks (enclave.* keys).
	Marks map[string]string `json:"marks,omitempty"`
	// Fingerprints is the dataset version's fingerprint index; nil when
	// it has none (then nothing of it can be recognised).
	Fingerprints *fingerprint.Set `json:"-"`
	// Rows is the dataset version's row count, for the row-copy threshold
	// (0 when unknown).
	Rows int64 `json:"rows,omitempty"`
	// Path is a decrypted Arrow IPC file of the version's rows, which the
	// output contract reads to learn the inputs' labels and to recover the
	// group of records behind every cell of an output table. Empty when the
	// rows cannot be read (a destroyed version): then no table cell can be
	// traced to this input and tables fail the contract.
	Path string `json:"-"`
}

// PreviousRelease is a file already released under the same grant, for the
// differencing check.
type PreviousRelease struct {
	// Release identifies the release (for evidence).
	Release string `json:"release"`
	// File is the released file on disk (Path) and its name.
	File File `json:"file"`
}

// ManifestName is the name, relative to the job's outputs, of the manifest
// in which a job declares the marks of its non-Arrow outputs.
const ManifestName = "MANIFEST.json"

// Request is everything the checks need to judge one export request.
type Request struct {
	// Files are the candidate files.
	Files []File
	// Manifest is the job's MANIFEST.json, when it wrote one (it may also
	// be one of Files). Nil when there is none.
	Manifest *File
	// Inputs are the dataset versions the job read.
	Inputs []Input
	// Hasher is keyed with the keyring's "fingerprint" secret, the key the
	// inputs' fingerprint sets were built with.
	Hasher *fingerprint.Hasher
	// DeclaredLevels holds the levels the operator declares lower than the
	// inputs': key "NAME" for a whole file, "NAME#COLUMN" for a column.
	// A declared lower level turns a marks failure into a review.
	DeclaredLevels map[string]string
	// Params are the thresholds; the zero value means Default().
	Params Params
	// Previous are files already released under the same grant.
	Previous []PreviousRelease
}

// Params are the thresholds of the checks. Policy may set them.
type Params struct {
	// MinCell is the smallest allowed non-zero count in a table (10).
	MinCell int `json:"min_cell"`
	// DominanceN and DominanceK: a cell fails when its N largest
	// contributions make up more than K of its total (2, 0.9).
	DominanceN int     `json:"dominance_n"`
	DominanceK float64 `json:"dominance_k"`
	// PRatio: a cell fails when the total less its two largest
	// contributions is below PRatio times the largest (0.1).
	PRatio float64 `json:"p_ratio"`
	// MinDoF is the smallest residual degrees of freedom of a model (10).
	MinDoF int `json:"min_dof"`
	// RowCopyPIThreshold is how many copied rows of an input with
	// personal-information columns are tolerated (0).
	RowCopyPIThreshold int `json:"row_copy_pi_threshold"`
	// RowCopyFraction is the fraction of copied rows tolerated otherwise
	// (0.01), of the output's rows and of the input's rows.
	RowCopyFraction float64 `json:"row_copy_fraction"`
	// MaxFileBytes is the largest file accepted (1 GiB).
	MaxFileBytes int64 `json:"max_file_bytes"`
	// MaxTotalBytes is the largest total accepted (4 GiB).
	MaxTotalBytes int64 `json:"max_total_bytes"`
	// MaxFiles is the most files in one request (1000).
	MaxFiles int `json:"max_files"`
	// DiffMaxCellDelta: a table equal in shape to a released one whose
	// counts differ by at most this much in every cell is flagged (5).
	DiffMaxCellDelta float64 `json:"diff_max_cell_delta"`

	// The output contract (checks.Contract).

	// MaxLabels is the most distinct labels one column of an output table
	// may hold (200).
	MaxLabels int `json:"max_labels"`
	// MagnitudeTolerance is how far, relative to the value, a sum or mean
	// cell may be from the aggregate recomputed from the inputs and rounded
	// as its column is rounded (1e-9: the noise of summation order).
	MagnitudeTolerance float64 `json:"magnitude_tolerance"`
	// TextBudgetBits is the information a text file may carry in tokens
	// that the inputs' labels, the language and statistics-like numbers
	// cannot explain (512 bits); a request's files together may carry four
	// times as much.
	TextBudgetBits float64 `json:"text_budget_bits"`
	// TextFreeNumbers is how many statistics-like numbers a text file may
	// hold before each further one counts against its budget (64); a
	// request's files together hold four times as many.
	TextFreeNumbers int `json:"text_free_numbers"`
	// LogLineBudgetBits is the budget of one job log line an operator
	// reads (20 bits); a line over it is withheld.
	LogLineBudgetBits float64 `json:"log_line_budget_bits"`
}

// Default returns the default parameters, after ACRO's defaults.
func Default() Params {
	return Params{
		MinCell:            10,
		DominanceN:         2,
		DominanceK:         0.9,
		PRatio:             0.1,
		MinDoF:             10,
		RowCopyPIThreshold: 0,
		RowCopyFraction:    0.01,
		MaxFileBytes:       1 << 30,
		MaxTotalBytes:      4 << 30,
		MaxFiles:           1000,
		DiffMaxCellDelta:   5,
		MaxLabels:          200,
		MagnitudeTolerance: 1e-9,
		TextBudgetBits:     512,
		TextFreeNumbers:    64,
		LogLineBudgetBits:  20,
	}
}

// Effective returns p with every zero field replaced by its default.
func (p Params) Effective() Params {
	d := Default()
	if p.MinCell > 0 {
		d.MinCell = p.MinCell
	}
	if p.DominanceN > 0 {
		d.DominanceN = p.DominanceN
	}
	if p.DominanceK > 0 {
		d.DominanceK = p.DominanceK
	}
	if p.PRatio > 0 {
		d.PRatio = p.PRatio
	}
	if p.MinDoF > 0 {
		d.MinDoF = p.MinDoF
	}
	if p.RowCopyPIThreshold > 0 {
		d.RowCopyPIThreshold = p.RowCopyPIThreshold
	}
	if p.RowCopyFraction > 0 {
		d.RowCopyFraction = p.RowCopyFraction
	}
	if p.MaxFileBytes > 0 {
		d.MaxFileBytes = p.MaxFileBytes
	}
	if p.MaxTotalBytes > 0 {
		d.MaxTotalBytes = p.MaxTotalBytes
	}
	if p.MaxFiles > 0 {
		d.MaxFiles = p.MaxFiles
	}
	if p.DiffMaxCellDelta > 0 {
		d.DiffMaxCellDelta = p.DiffMaxCellDelta
	}
	if p.MaxLabels > 0 {
		d.MaxLabels = p.MaxLabels
	}
	if p.MagnitudeTolerance > 0 {
		d.MagnitudeTolerance = p.MagnitudeTolerance
	}
	if p.TextBudgetBits > 0 {
		d.TextBudgetBits = p.TextBudgetBits
	}
	if p.TextFreeNumbers > 0 {
		d.TextFreeNumbers = p.TextFreeNumbers
	}
	if p.LogLineBudgetBits > 0 {
		d.LogLineBudgetBits = p.LogLineBudgetBits
	}
	return d
}

// Check is one automatic egress check. Implementations are safe for
// concurrent use and do not modify the request.
type Check interface {
	// Name is the check's stable name ("marks", "raw-values").
	Name() string
	// Version changes whenever the check's behaviour changes; it goes into
	// the release attestation.
	Version() string
	// Run judges the request. A failed check is a finding with
	// VerdictFail; an error means the check could not answer, and Run
	// (the package function) turns it into a fail finding.
	Run(ctx context.Context, req *Request) ([]Finding, error)
}

// CheckResult records which check ran, in which version, with what verdict.
type CheckResult struct {
	Name    string  `json:"name"`
	Version string  `json:"version"`
	Verdict Verdict `json:"verdict"`
}

// Result is the outcome of a review.
type Result struct {
	// Findings of every check, in check order.
	Findings []Finding `json:"findings"`
	// Checks lists every check that ran, for the attestation.
	Checks []CheckResult `json:"checks"`
	// Verdict is fail if any finding fails, review if any asks for review,
	// else pass. With no checks at all it is fail.
	Verdict Verdict `json:"verdict"`
}

// LimitsCheck is the name of the finding Run makes, without running any
// check, when a request names more than Params.MaxFiles files.
const LimitsCheck = "limits"

// IntegrityCheck is the name of the findings Run itself makes about files
// whose content no longer matches the hash frozen with the request.
const IntegrityCheck = "integrity"

// Run runs every check over req concurrently and folds their findings. A
// request with more than Params.MaxFiles files fails at once. Run never
// returns an error: a check's error or panic is a fail finding for
// that check, and a file whose SHA-256 differs from its frozen SHA256
// (before or after the checks ran) fails the integrity check. Names of
// files and columns that match an input fingerprint are withheld from the
// findings.
func Run(ctx context.Context, req *Request, checks ...Check) Result {
	var res Result
	if req == nil {
		res.Findings = []Finding{{Check: IntegrityCheck, Verdict: VerdictFail, Evidence: "no request"}}
		res.Verdict = VerdictFail
		return res
	}
	if p := req.Params.Effective(); len(req.Files) > p.MaxFiles {
		// Refuse before hashing or parsing anything: a request naming
		// 100,000 files must not keep the checks busy.
		res.Findings = []Finding{{Check: LimitsCheck, Verdict: VerdictFail, Count: len(req.Files),
			Evidence: fmt.Sprintf("%d files, more than the limit of %d", len(req.Files), p.MaxFiles)}}
		res.Checks = []CheckResult{{Name: LimitsCheck, Version: "1", Verdict: VerdictFail}}
		res.Verdict = VerdictFail
		return res
	}
	integrity := verifyFiles(req)

	per := make([][]Finding, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			per[i] = runOne(ctx, c, req)
		}()
	}
	wg.Wait()
	after := verifyFiles(req)
	if len(integrity) == 0 {
		integrity = after
	}
	res.Findings = append(res.Findings, integrity...)
	res.Checks = append(res.Checks, CheckResult{Name: IntegrityCheck, Version: "1", Verdict: fold(integrity)})
	for i, c := range checks {
		res.Findings = append(res.Findings, per[i]...)
		res.Checks = append(res.Checks, CheckResult{Name: safeName(c), Version: safeVersion(c), Verdict: fold(per[i])})
	}
	redactNames(req, res.Findings)
	redactCoded(req, res.Findings, checks)
	res.Verdict = fold(res.Findings)
	if len(checks) == 0 {
		res.Findings = append(res.Findings, Finding{Check: "review", Verdict: VerdictFail, Evidence: "no checks configured"})
		res.Verdict = VerdictFail
	}
	return res
}

func fold(fs []Finding) Verdict {
	v := VerdictPass
	for _, f := range fs {
		v = Worse(v, f.Verdict)
	}
	return v
}

func safeName(c Check) (name string) {
	defer func() {
		if recover() != nil {
			name = "unnamed"
		}
	}()
	return c.Name()
}

func safeVersion(c Check) (v string) {
	defer func() {
		if recover() != nil {
			v = "unknown"
		}
	}()
	return c.Version()
}

func runOne(ctx context.Context, c Check, req *Request) (fs []Finding) {
	name := safeName(c)
	defer func() {
		if r := recover(); r != nil {
			// The panic value may hold data; keep only that it happened
			// and where (the stack holds code locations, not values).
			_ = debug.Stack()
			fs = []Finding{{Check: name, Verdict: VerdictFail, Evidence: "check panicked; failing closed"}}
		}
	}()
	if err := ctx.Err(); err != nil {
		return []Finding{{Check: name, Verdict: VerdictFail, Evidence: "review cancelled: " + err.Error()}}
	}
	out, err := c.Run(ctx, req)
	if err != nil {
		return []Finding{{Check: name, Verdict: VerdictFail, Evidence: "check could not answer: " + err.Error()}}
	}
	// Copy: a check may return a slice it shares with other calls.
	out = append([]Finding(nil), out...)
	for i := range out {
		out[i].Check = name
		if out[i].Verdict != VerdictPass && out[i].Verdict != VerdictReview {
			out[i].Verdict = VerdictFail
		}
	}
	return out
}

// verifyFiles hashes every file and the manifest and fails those whose
// content differs from the frozen digest.
func verifyFiles(req *Request) []Finding {
	var fs []Finding
	files := req.Files
	if req.Manifest != nil {
		files = append(files[:len(files):len(files)], *req.Manifest)
	}
	for _, f := range files {
		got, err := FileSHA256(f.Path)
		switch {
		case err != nil:
			fs = append(fs, Finding{Check: IntegrityCheck, Verdict: VerdictFail, File: f.Name, Evidence: "cannot read file to verify its hash"})
		case f.SHA256 == "" || got != f.SHA256:
			fs = append(fs, Finding{Check: IntegrityCheck, Verdict: VerdictFail, File: f.Name,
				Evidence: fmt.Sprintf("sha256 %s does not match the digest frozen with the request", got)})
		}
	}
	return fs
}

// FileSHA256 returns the lowercase hex SHA-256 of the file at path.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open output file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash output file: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
