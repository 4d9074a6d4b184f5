package api

import "time"

// IncidentRequest is the body of POST /v1/incidents: exactly one of Job,
// Dataset (a name: every version) and Grant, and the reason (issue 18).
type IncidentRequest struct {
	Job     string `json:"job,omitempty"`
	Dataset string `json:"dataset,omitempty"`
	Grant   string `json:"grant,omitempty"`
	Reason  string `json:"reason"`
}

// HaltAllRequest is the body of POST /v1/jobs/halt: the bureau halts every
// job of an organisation or of a dataset (exactly one) at once, which opens
// an incident on it (R-20, emergency response).
type HaltAllRequest struct {
	Org     string `json:"org,omitempty"`
	Dataset string `json:"dataset,omitempty"`
	Reason  string `json:"reason"`
}

// DecisionRequest is the body of POST /v1/incidents/{id}/close: the
// authority's decision.
type DecisionRequest struct {
	Decision string `json:"decision"`
}

// IncidentTarget is what an incident is on: kind "job", "dataset",
// "grant" or "org", and its id.
type IncidentTarget struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// IncidentAffected is the data an incident affects, computed when it was
// reported: dataset versions (NAME@V, or NAME for every version), grants,
// jobs and organisations.
type IncidentAffected struct {
	Datasets []string `json:"datasets"`
	Grants   []string `json:"grants"`
	Jobs     []string `json:"jobs"`
	Orgs     []string `json:"orgs"`
}

// Incident is one entry of the incident register: who reported what, when
// and why, the affected data, the jobs it stopped and, once the authority
// closed it, the decision.
type Incident struct {
	ID          string           `json:"id"`
	Target      IncidentTarget   `json:"target"`
	Org         string           `json:"org,omitempty"`
	Reason      string           `json:"reason"`
	ReportedBy  string           `json:"reported_by"`
	ReporterOrg string           `json:"reporter_org"`
	ReportedAt  time.Time        `json:"reported_at"`
	Affected    IncidentAffected `json:"affected"`
	Stopped     []string         `json:"stopped"`
	State       string           `json:"state"`
	Decision    string           `json:"decision,omitempty"`
	ClosedBy    string           `json:"closed_by,omitempty"`
	ClosedAt    *time.Time       `json:"closed_at,omitempty"`
}

// GrantRevoked is the answer of POST /v1/applications/{id}/revoke: the
// grant as it stands now, how it ended, and the jobs the revocation
// stopped.
type GrantRevoked struct {
	Grant       string    `json:"grant"`
	Application string    `json:"application"`
	Org         string    `json:"org"`
	Status      string    `json:"status"`
	Reason      string    `json:"reason"`
	EndedBy     string    `json:"ended_by"`
	EndedAt     time.Time `json:"ended_at"`
	Stopped     []string  `json:"stopped"`
}

// GrantStanding is the answer of GET /v1/grants/{id}/standing: a grant's
// status, how it ended (revoked or expired: who, why, when) and what holds
// it suspended.
type GrantStanding struct {
	Grant       string      `json:"grant"`
	Application string      `json:"application"`
	Org         string      `json:"org"`
	Status      string      `json:"status"`
	From        string      `json:"from"`
	Until       string      `json:"until"`
	End         *GrantEnd   `json:"end,omitempty"`
	Holds       []GrantHold `json:"holds"`
}

// GrantHold is one thing that holds a grant suspended: its organisation's
// suspension ("org") or an open incident ("incident:ID").
type GrantHold struct {
	Cause  string    `json:"cause"`
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// GrantEnd is how and why a grant ended (revoked or expired).
type GrantEnd struct {
	Status string    `json:"status"`
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}
