package exports

import (
	"bytes"
	"os"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/egress-review/checks"
	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/jobs"
)

// sampleRows is how many rows a preview shows.
const sampleRows = 20

// PreviewColumn describes one column of a previewed table.
type PreviewColumn struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Level string `json:"level,omitempty"`
	PI    string `json:"pi,omitempty"`
	Nulls int64  `json:"nulls"`
}

// Preview is a safe summary of one candidate file for the reviewers: its
// shape and marks, and the first rows of its columns that carry no
// personal-information mark (never rows of sensitive columns). Operators
// see the sample only when every check passed; officers always.
type Preview struct {
	File    string          `json:"file"`
	Kind    string          `json:"kind"`
	Rows    int64           `json:"rows"`
	Columns []PreviewColumn `json:"columns,omitempty"`
	Sample  [][]string      `json:"sample,omitempty"`
	Note    string          `json:"note,omitempty"`
}

// preview summarises the frozen file at path.
func preview(name, path string) Preview {
	p := Preview{File: name}
	kind, _, err := checks.Sniff(path, name)
	if err != nil {
		p.Kind, p.Note = "unknown", "cannot be read"
		return p
	}
	p.Kind = string(kind)
	if kind != checks.KindArrowFile {
		p.Note = "no table preview for this kind of file"
		return p
	}
	if checks.GuardArrowFile(path) != nil {
		p.Note = "the file's Arrow metadata is malformed; not previewed"
		return p
	}
	data, err := os.ReadFile(path)
	if err != nil || len(data) > 256<<20 {
		p.Note = "too large to preview"
		return p
	}
	r, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(memory.NewGoAllocator()))
	if err != nil {
		p.Note = "not a readable Arrow file"
		return p
	}
	defer r.Close()
	sc := r.Schema()
	var shown []int
	for i, f := range sc.Fields() {
		c := PreviewColumn{Name: f.Name, Type: f.Type.String()}
		if k := f.Metadata.FindKey("enclave.level"); k >= 0 {
			c.Level = f.Metadata.Values()[k]
		}
		if k := f.Metadata.FindKey("enclave.pi"); k >= 0 {
			c.PI = f.Metadata.Values()[k]
		}
		if c.PI == "" {
			shown = append(shown, i)
		}
		p.Columns = append(p.Columns, c)
	}
	for b := 0; b < r.NumRecords(); b++ {
		rec, err := r.RecordBatch(b)
		if err != nil {
			p.Note = "a record batch cannot be read"
			return p
		}
		for i := range p.Columns {
			p.Columns[i].Nulls += int64(rec.Column(i).NullN())
		}
		for row := 0; row < int(rec.NumRows()) && len(p.Sample) < sampleRows; row++ {
			line := make([]string, len(p.Columns))
			for i := range line {
				line[i] = "(withheld: personal information)"
			}
			for _, i := range shown {
				if rec.Column(i).IsNull(row) {
					line[i] = "(null)"
				} else {
					line[i] = rec.Column(i).ValueStr(row)
				}
			}
			p.Sample = append(p.Sample, line)
		}
		p.Rows += rec.NumRows()
	}
	return p
}

// ForReader returns the export as a person may see it. exact is for
// officers of another organisation and the bureau, who see everything.
// Anyone else sees the files' sizes rounded up (jobs.CoarseSize) and no
// hashes until the export is released (the bundle then carries both), and
// the previews' columns, rows and samples only when every check passed:
// a preview is a way out too, and the column names of a table that failed
// were chosen by the job. What the checks found is shown by CoarseFindings.
func (e *Export) ForReader(exact bool) *Export {
	if exact {
		c := *e
		c.View = api.ViewExact
		return &c
	}
	c := *e
	c.View = api.ViewCoarse
	if e.State != Released {
		c.Files = make([]File, len(e.Files))
		for i, f := range e.Files {
			c.Files[i] = File{Name: f.Name, Size: jobs.CoarseSize(f.Size)}
		}
	}
	c.Result.Findings = CoarseFindings(e.Result.Findings)
	if e.Result.Verdict != review.VerdictPass {
		c.Previews = make([]Preview, len(e.Previews))
		for i, p := range e.Previews {
			c.Previews[i] = Preview{File: p.File, Kind: p.Kind, Note: "columns and sample withheld: the checks did not pass"}
		}
	}
	return &c
}

// CoarseFindings is what the checks found as the coarse view shows it:
// one finding per check and verdict, in check order, naming no file and no
// column, with no count and a fixed evidence text. Everything else a check
// says is computed from the files' content, which the job chose: in a run
// against the daemon, a text file whose count of long numbers was one byte
// of an input value failed with "94 long digit runs" (the byte) beside the
// file's exact bits, the lines it first failed on and the count of tokens
// scanned, about 8 bits per figure, each read by the operator at request
// time without a review. What remains is each check's verdict, at most
// log2(3) bits a check for every request, on the audit log and in an
// officer's queue; officers of another organisation and the bureau read
// the evidence in full.
func CoarseFindings(fs []review.Finding) []review.Finding {
	out := []review.Finding{}
	seen := map[review.Finding]bool{}
	for _, f := range fs {
		c := review.Finding{Check: f.Check, Verdict: f.Verdict, Evidence: coarseEvidence[f.Verdict]}
		if c.Evidence == "" {
			c.Verdict, c.Evidence = review.VerdictFail, coarseEvidence[review.VerdictFail] // a verdict of no known kind: read as a failure
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// coarseEvidence is the evidence text of the coarse view, by verdict.
var coarseEvidence = map[review.Verdict]string{
	review.VerdictPass:   "passed",
	review.VerdictReview: "needs an officer's review; the evidence is computed from the files' content and is shown only to reviewing officers of another organisation",
	review.VerdictFail:   "failed; the evidence is computed from the files' content and is shown only to reviewing officers of another organisation",
}
