package api

import "time"

// Application is a data-use application as the API shows it: what
// it asks for, its decisions and, once approved, its grant.
type Application struct {
	ID              string                `json:"id"`
	Org             string                `json:"org"`
	Applicant       string                `json:"applicant"`
	Datasets        []GrantDataset        `json:"datasets"`
	Purpose         string                `json:"purpose"`
	Scenario        string                `json:"scenario"`
	DataFlow        string                `json:"data_flow"`
	PublicInterest  bool                  `json:"public_interest"`
	Conditions      string                `json:"conditions,omitempty"` // of the conditional datasets named (issue 20)
	From            string                `json:"from"`
	Until           string                `json:"until"`
	Batches         *int64                `json:"batches,omitempty"`
	ApprovalsNeeded int                   `json:"approvals_needed"`
	Status          string                `json:"status"`
	Grant           string                `json:"grant,omitempty"`
	Decisions       []ApplicationDecision `json:"decisions"`
	CreatedAt       time.Time             `json:"created_at"`
}

// GrantDataset is one dataset an application asks for or a grant allows:
// its name, the columns (none: every column) and, once a grant pins it,
// the owner, marks and version it was approved with.
type GrantDataset struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns,omitempty"`
	Owner   string   `json:"owner,omitempty"`
	Market  string   `json:"market,omitempty"`
	Level   string   `json:"level,omitempty"`
	Version int      `json:"version,omitempty"`
}

// ApplicationDecision is one authority's decision on an application.
type ApplicationDecision struct {
	Person   string    `json:"person"`
	Decision string    `json:"decision"`
	Comment  string    `json:"comment,omitempty"`
	Time     time.Time `json:"time"`
}

// Grant is an approved application: what jobs of an organisation may read.
type Grant struct {
	ID             string         `json:"id"`
	Application    string         `json:"application"`
	Org            string         `json:"org"`
	Datasets       []GrantDataset `json:"datasets"`
	Purpose        string         `json:"purpose"`
	Scenario       string         `json:"scenario"`
	PublicInterest bool           `json:"public_interest"`
	Conditions     string         `json:"conditions,omitempty"`
	From           string         `json:"from"`
	Until          string         `json:"until"`
	Approvers      []string       `json:"approvers"`
	BatchesLeft    *int64         `json:"batches_left,omitempty"`
	Status         string         `json:"status"`
	CreatedAt      time.Time      `json:"created_at"`
}
