package api

import "time"

// Org is an organisation as the API shows it (GET /v1/orgs/{name} and the
// other organisation answers); ID is its name. LicenceFrom is the first
// day of its continuous licence and LicenceUntil the last day of its
// current term; Licences lists the terms where an answer includes them.
type Org struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
	// USCC is the unified social credit code (GB 32100); empty only for
	// organisations recorded before codes were required.
	USCC         string `json:"uscc"`
	LicenceFrom  string `json:"licence_from"`
	LicenceUntil string `json:"licence_until"`
	// The licence application (001 art. 11).
	BusinessScope string `json:"business_scope"`
	SecurityLead  string `json:"security_lead"`
	Principal     string `json:"principal"`
	DataDisposal  string `json:"data_disposal"`
	Status        string `json:"status"`
	StatusReason  string `json:"status_reason"`
	// StatusAt is when the status last changed.
	StatusAt  time.Time     `json:"status_at"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	Licences  []LicenceTerm `json:"licences,omitempty"`
}

// LicenceTerm is one term of an organisation's licence: the first
// ("licence") or a renewal ("renewal").
type LicenceTerm struct {
	Kind       string    `json:"kind"`
	From       string    `json:"from"`
	Until      string    `json:"until"`
	RecordedAt time.Time `json:"recorded_at"`
	RecordedBy string    `json:"recorded_by"`
}

// Person is a real-name registered participant as the API shows them: the
// resident ID number only masked, and the term of their confidentiality
// agreement.
type Person struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Org            string   `json:"org"`
	Roles          []string `json:"roles"`
	IDNumberMasked string   `json:"id_number_masked,omitempty"`
	// The confidentiality agreement: first and last day, liability.
	AgreementFrom      string    `json:"agreement_from,omitempty"`
	AgreementUntil     string    `json:"agreement_until,omitempty"`
	AgreementLiability string    `json:"agreement_liability,omitempty"`
	CreatedAt          time.Time `json:"created_at"`
	CreatedBy          string    `json:"created_by"`
}

// PersonCreated is the answer to POST /v1/people: the person and their
// first token, shown this once.
type PersonCreated struct {
	Person
	Token          string    `json:"token"`
	TokenID        string    `json:"token_id"`
	TokenExpiresAt time.Time `json:"token_expires_at"`
}

// TokenIssued is a freshly issued token, shown this once.
type TokenIssued struct {
	ID        string    `json:"id"`
	Person    string    `json:"person"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Token is the record of a token (never the token itself).
type Token struct {
	ID        string    `json:"id"`
	Person    string    `json:"person"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	RevokedAt string    `json:"revoked_at,omitempty"`
}

// Whoami is the caller as the daemon sees them.
type Whoami struct {
	Person  Person `json:"person"`
	Org     Org    `json:"org"`
	TokenID string `json:"token_id"`
}
