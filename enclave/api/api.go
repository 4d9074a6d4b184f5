// Package api holds the request and response bodies of the enclave's HTTP
// API under /v1/, shared by the server and the client so that the two
// cannot disagree.
package api

import "time"

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong: an errdefs class name, a message that
// never holds data values, tokens or keys, the request id, and for a deny
// the policy's reasons.
type ErrorDetail struct {
	Class     string   `json:"class"`
	Message   string   `json:"message"`
	RequestID string   `json:"request_id"`
	Reasons   []string `json:"reasons,omitempty"`
}

// Health is the answer of /v1/health.
type Health struct {
	Status string `json:"status"`
	Audit  uint64 `json:"audit_entries"`
}

// Version is the answer of /v1/version.
type Version struct {
	Version string `json:"version"`
	API     string `json:"api"`
	Schema  int    `json:"schema"`
}

// OrgRequest is the body of POST /v1/orgs: a licence application. USCC
// (GB 32100) and the fields of 001 art. 11 that Application holds are
// required.
type OrgRequest struct {
	Name         string `json:"name"`
	Type         string `json:"type"`
	USCC         string `json:"uscc"`
	LicenceFrom  string `json:"licence_from,omitempty"` // default today
	LicenceUntil string `json:"licence_until"`
	// The licence application (001 art. 11).
	BusinessScope string `json:"business_scope"`
	SecurityLead  string `json:"security_lead"`
	Principal     string `json:"principal"`
	DataDisposal  string `json:"data_disposal"`
}

// RenewRequest is the body of POST /v1/orgs/{name}/renew: the last day of
// the new term, which starts the day after the current licence ends.
type RenewRequest struct {
	LicenceUntil string `json:"licence_until"`
}

// StatusRequest is the body of the organisation status changes.
type StatusRequest struct {
	Reason string `json:"reason"`
}

// PersonRequest is the body of POST /v1/people. IDNumber is required; the
// agreement (its last day and the liability accepted) is required for the
// roles that see data or decide (people.AgreementRoles).
type PersonRequest struct {
	Name     string   `json:"name"`
	Org      string   `json:"org"`
	Roles    []string `json:"roles"`
	IDNumber string   `json:"id_number"`
	// The confidentiality agreement (001 art. 16.1).
	AgreementFrom      string `json:"agreement_from,omitempty"`
	AgreementUntil     string `json:"agreement_until,omitempty"`
	AgreementLiability string `json:"agreement_liability,omitempty"`
}

// AgreementRequest records a person's renewed confidentiality agreement:
// its term (From defaults to today) and the liability text or reference
// the person accepted.
type AgreementRequest struct {
	From      string `json:"from,omitempty"`
	Until     string `json:"until"`
	Liability string `json:"liability"`
}

// PublicKey is the enclave's release and checkpoint signing key.
type PublicKey struct {
	Algorithm string `json:"algorithm"`
	Key       string `json:"key"` // base64 of the raw key
	Keyring   string `json:"keyring"`
}

// AuditEvent is one audit record as the API shows it.
type AuditEvent struct {
	Index     uint64            `json:"index"`
	Time      time.Time         `json:"time"`
	Actor     string            `json:"actor"`
	ActorName string            `json:"actor_name,omitempty"` // the actor's name beside the id (issue 21)
	Org       string            `json:"org,omitempty"`
	Action    string            `json:"action"`
	Objects   []string          `json:"objects,omitempty"`
	Outcome   string            `json:"outcome"`
	Reason    string            `json:"reason,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Retention string            `json:"retention"`
	Details   map[string]string `json:"details,omitempty"`
}

// AuditReport is the answer of /v1/audit/verify.
type AuditReport struct {
	OK             bool      `json:"ok"`
	Entries        uint64    `json:"entries"`
	FirstBad       int64     `json:"first_bad"` // -1 when every entry matches
	Reason         string    `json:"reason,omitempty"`
	Note           string    `json:"note,omitempty"`
	CheckpointSize uint64    `json:"checkpoint_size"`
	CheckpointRoot string    `json:"checkpoint_root"`
	CheckpointTime time.Time `json:"checkpoint_time"`
}

// ImportProgress is one line of the answer stream of a dataset import.
type ImportProgress struct {
	Bytes int64 `json:"bytes"`
	Total int64 `json:"total"`
	Rows  int64 `json:"rows"`
}

// ImportLine is one JSON line of POST /v1/datasets: progress lines, then
// exactly one line with either the published version or an error.
type ImportLine struct {
	Progress *ImportProgress `json:"progress,omitempty"`
	Dataset  *Dataset        `json:"dataset,omitempty"`
	Error    *ErrorDetail    `json:"error,omitempty"`
}

// ReasonRequest carries a reason, for seals and destructions.
type ReasonRequest struct {
	Reason string `json:"reason"`
}

// Column is one column of a dataset version with its marks.
type Column struct {
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Level        string   `json:"level"`
	PI           string   `json:"pi,omitempty"`
	Rule         string   `json:"rule"`
	Acknowledged []string `json:"acknowledged,omitempty"`
}

// Dataset is one dataset version in the catalogue: schema, marks, counts
// and state, never rows.
type Dataset struct {
	ID                string            `json:"id"` // NAME@V
	Name              string            `json:"name"`
	Version           int               `json:"version"`
	Category          string            `json:"category"`
	Level             string            `json:"level"`
	Market            string            `json:"market"`
	State             string            `json:"state"`
	StateReason       string            `json:"state_reason,omitempty"`
	Rows              int64             `json:"rows"`
	Bytes             int64             `json:"bytes"`
	Columns           []Column          `json:"columns"`
	Marks             map[string]string `json:"marks"`
	SpecSHA256        string            `json:"spec_sha256"`
	DataSHA256        string            `json:"data_sha256"`
	FingerprintValues int               `json:"fingerprint_values"`
	FingerprintRows   int               `json:"fingerprint_rows"`
	CreatedAt         time.Time         `json:"created_at"`
	CreatedBy         string            `json:"created_by"`
	// CreatedByName is the importer's name beside the id (issue 21).
	CreatedByName string `json:"created_by_name,omitempty"`
	// Org imported this version; Owner owns the name (the first
	// organisation to import it), and only its custodians import, seal,
	// unseal or destroy it.
	Org         string `json:"org"`
	Owner       string `json:"owner"`
	DestroyedAt string `json:"destroyed_at,omitempty"`
	// Upload is true for an operator's own data (issue 20); ReviewedBy
	// and ReviewedAt name the officer who approved or rejected it.
	Upload     bool   `json:"upload,omitempty"`
	ReviewedBy string `json:"reviewed_by,omitempty"`
	ReviewedAt string `json:"reviewed_at,omitempty"`
	// ReviewedByName is the reviewing officer's name (issue 21).
	ReviewedByName string `json:"reviewed_by_name,omitempty"`
}

// Destruction is the record of one destroyed dataset version.
type Destruction struct {
	Dataset   string    `json:"dataset"`
	Version   int       `json:"version"`
	KeyID     string    `json:"key_id"`
	Technique string    `json:"technique"`
	Files     int       `json:"files_removed"`
	Reason    string    `json:"reason"`
	Actor     string    `json:"actor"`
	Time      time.Time `json:"time"`
}

// DestroyResult is the answer of a destruction.
type DestroyResult struct {
	ID           string        `json:"id"`
	Destructions []Destruction `json:"destructions"`
	// Derived are the job outputs and unreleased exports destroyed with
	// the versions (their lineage named them).
	Derived []DerivedDestruction `json:"derived"`
}

// DerivedDestruction is the record of one derived object destroyed with
// its basis (R-13; 004 art. 47): a job's work area and outputs or an
// unreleased export's frozen files.
type DerivedDestruction struct {
	Object    string    `json:"object"` // job:ID or export:ID
	Cause     string    `json:"cause"`  // dataset:NAME@V, grant:ID or org:NAME
	Process   string    `json:"process"`
	Technique string    `json:"technique"`
	KeyID     string    `json:"key_id,omitempty"`
	Files     int       `json:"files_removed"` // rounded by the coarse rule for all but the bureau
	Actor     string    `json:"actor"`
	Reason    string    `json:"reason"`
	Time      time.Time `json:"time"`
}

// ApplicationRequest is the body of POST /v1/applications.
type ApplicationRequest struct {
	Datasets       []string `json:"datasets"`
	Columns        []string `json:"columns,omitempty"` // DATASET.COLUMN; none: every column
	Purpose        string   `json:"purpose"`
	Scenario       string   `json:"scenario"`
	DataFlow       string   `json:"data_flow,omitempty"`
	PublicInterest bool     `json:"public_interest,omitempty"`
	// Conditions: how the applicant meets the conditions of the
	// conditional datasets it names; required when it names any.
	Conditions string `json:"conditions,omitempty"`
	From       string `json:"from,omitempty"` // default today
	Until      string `json:"until"`
	Batches    *int64 `json:"batches,omitempty"`
}

// CommentRequest carries an optional comment, for decisions.
type CommentRequest struct {
	Comment string `json:"comment,omitempty"`
}

// JobRequest is the body of POST /v1/jobs.
type JobRequest struct {
	Image   string   `json:"image"`             // an approved image digest
	Inputs  []string `json:"inputs"`            // NAME or NAME@V
	Columns []string `json:"columns,omitempty"` // DATASET.COLUMN: read only these columns of that input
	// Outputs are the files the job will write at the top of /out, the
	// only ones collected (CheckOutputs); none collects nothing.
	Outputs []string `json:"outputs,omitempty"`
	Args    []string `json:"args"`
	CPUs    float64  `json:"cpus,omitempty"`
	Memory  string   `json:"memory,omitempty"`  // for example "512Mi", "2Gi"
	Timeout string   `json:"timeout,omitempty"` // a Go duration, for example "10m"
}

// ExportRequest is the body of POST /v1/exports.
type ExportRequest struct {
	Job      string            `json:"job"`
	Files    []string          `json:"files"`
	Purpose  string            `json:"purpose"`
	Scenario string            `json:"scenario,omitempty"` // default: the grant's; must match it
	Declare  map[string]string `json:"declare,omitempty"`  // FILE or FILE#COLUMN -> a lower level, for officers to approve explicitly
}

// ReviewRequest is an officer's decision on an export.
type ReviewRequest struct {
	Comment       string `json:"comment,omitempty"`
	Justification string `json:"justification,omitempty"` // required to override failed checks
}

// PurgeRequest is the body of POST /v1/audit/purge.
type PurgeRequest struct {
	DryRun bool `json:"dry_run,omitempty"`
}

// PurgeResult says what an audit purge removed (or, in a dry run, would
// remove): how many segments and entries, the first and the last index.
type PurgeResult struct {
	DryRun   bool   `json:"dry_run"`
	Segments int    `json:"segments"`
	Entries  uint64 `json:"entries"`
	First    uint64 `json:"first"`
	Last     uint64 `json:"last"`
}
