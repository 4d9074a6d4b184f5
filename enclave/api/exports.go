package api

import "time"

// Export is an export request and its fate as the API shows it (POST
// /v1/exports and the other export answers). View says which view it is:
// in the coarse view file sizes are rounded up and hashes withheld until
// the release, and previews of files whose checks did not pass are empty.
type Export struct {
	ID        string `json:"id"`
	Job       string `json:"job"`
	Org       string `json:"org"`
	Requester string `json:"requester"`
	// RequesterName is the requester's name beside the id (issue 21).
	RequesterName string       `json:"requester_name,omitempty"`
	Purpose       string       `json:"purpose"`
	Scenario      string       `json:"scenario"`
	Files         []ExportFile `json:"files"`
	// Declared are the lower levels the requester declared, by FILE or
	// FILE#COLUMN, for officers to approve explicitly.
	Declared        map[string]string `json:"declared_levels,omitempty"`
	Level           string            `json:"level"`
	State           string            `json:"state"`
	Checks          ExportChecks      `json:"checks"`
	ApprovalsNeeded int               `json:"approvals_needed"`
	Reviews         []ExportReview    `json:"reviews"`
	Previews        []ExportPreview   `json:"previews"`
	BundleSHA256    string            `json:"bundle_sha256,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	ReleasedAt      string            `json:"released_at,omitempty"`
	// View is ViewExact or ViewCoarse.
	View string `json:"view,omitempty"`
	// Thresholds are the egress checks' thresholds in force, by their
	// names in the policies (data.enclave.egress_thresholds, as `policy
	// explain` shows them), so that a page saying what a check tests
	// states the figures a deployer set; only in GET /v1/exports/{id}.
	Thresholds map[string]float64 `json:"thresholds,omitempty"`
}

// ExportFile is one candidate file, frozen by hash when the request was
// made (the hash empty in the coarse view until the release).
type ExportFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ExportChecks is the outcome of the egress checks of an export.
type ExportChecks struct {
	// Findings of every check, in check order.
	Findings []Finding `json:"findings"`
	// Checks lists every check that ran.
	Checks []CheckRun `json:"checks"`
	// Verdict is "fail" if any finding fails, "review" if any asks for
	// review, else "pass".
	Verdict string `json:"verdict"`
}

// Finding is one check's finding about the files of an export. Evidence
// never holds data values.
type Finding struct {
	Check    string `json:"check"`
	Verdict  string `json:"verdict"`
	File     string `json:"file,omitempty"`
	Column   string `json:"column,omitempty"`
	Count    int    `json:"count,omitempty"`
	Evidence string `json:"evidence"`
}

// CheckRun names one check that ran, its version and its verdict.
type CheckRun struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Verdict string `json:"verdict"`
}

// ExportReview is one officer's decision on an export.
type ExportReview struct {
	Person        string    `json:"person"`
	PersonName    string    `json:"person_name,omitempty"` // the officer's name beside the id (issue 21)
	Org           string    `json:"org"`
	Decision      string    `json:"decision"`
	Comment       string    `json:"comment,omitempty"`
	Justification string    `json:"justification,omitempty"`
	Time          time.Time `json:"time"`
}

// ExportPreview is a safe summary of one candidate file for the reviewers:
// its shape and marks, and the first rows of its columns that carry no
// personal-information mark.
type ExportPreview struct {
	File    string          `json:"file"`
	Kind    string          `json:"kind"`
	Rows    int64           `json:"rows"`
	Columns []PreviewColumn `json:"columns,omitempty"`
	Sample  [][]string      `json:"sample,omitempty"`
	Note    string          `json:"note,omitempty"`
}

// PreviewColumn describes one column of a previewed table.
type PreviewColumn struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Level string `json:"level,omitempty"`
	PI    string `json:"pi,omitempty"`
	Nulls int64  `json:"nulls"`
}
