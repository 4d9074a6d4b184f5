package api

import "time"

// ServiceRequest is the body of POST /v1/services (issue 19): a service
// over one dataset. Mode "verify" needs Key (a column stored kept or as a
// keyed pseudonym) and optional Match columns (under the same rules).
// Rate is "N/m" or "N/s" (default 600/m); DailyMisses is the enumeration
// guard's daily budget of non-matching calls per subscription.
type ServiceRequest struct {
	Name    string   `json:"name"`
	Mode    string   `json:"mode"`
	Dataset string   `json:"dataset"`
	Key     string   `json:"key"`
	Match   []string `json:"match,omitempty"`
	// Columns are what a query service returns of a subject.
	Columns     []string `json:"columns,omitempty"`
	Scenario    string   `json:"scenario"`
	Rate        string   `json:"rate,omitempty"`
	DailyMisses int      `json:"daily_misses,omitempty"`
	// Export is a released export: a bulk service hands it out (and the
	// later releases of the same product); a query service reads File, a
	// table of its bundle (the only file when empty).
	Export string `json:"export,omitempty"`
	File   string `json:"file,omitempty"`
}

// Service is a service definition and its review state.
type Service struct {
	Name        string    `json:"name"`
	Mode        string    `json:"mode"`
	Dataset     string    `json:"dataset"`
	Version     int       `json:"version"`
	Key         string    `json:"key"`
	Match       []string  `json:"match"`
	Columns     []string  `json:"columns,omitempty"`
	Export      string    `json:"export,omitempty"`
	File        string    `json:"file,omitempty"`
	Scenario    string    `json:"scenario"`
	RatePerMin  int       `json:"rate_per_min"`
	DailyMisses int       `json:"daily_misses"`
	Org         string    `json:"org"`
	Grant       string    `json:"grant,omitempty"`
	Until       string    `json:"until,omitempty"`
	Level       string    `json:"level"`
	Market      string    `json:"market"`
	State       string    `json:"state"`
	Comment     string    `json:"comment,omitempty"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	Approvers   []string  `json:"approvers"`
	Needed      int       `json:"approvals_needed"`
	// Running says whether the service answers calls now; Stopped says
	// why not when it is approved but does not.
	Running bool   `json:"running"`
	Stopped string `json:"stopped,omitempty"`
}

// ServiceDecision is the body of an officer's approval or rejection.
type ServiceDecision struct {
	Comment string `json:"comment,omitempty"`
}

// SubscribeRequest is the body of POST /v1/services/{name}/subscriptions.
type SubscribeRequest struct {
	Scenario string `json:"scenario"`
	Until    string `json:"until"`
	// PublicInterest claims public-interest use (public governance or
	// public welfare, 001 art. 23): the calls are charged at the price
	// list's public-interest call price once the authority approves the
	// subscription with this claim.
	PublicInterest bool `json:"public_interest,omitempty"`
}

// Subscription is a consumer organisation's subscription to a service.
type Subscription struct {
	ID        string    `json:"id"`
	Service   string    `json:"service"`
	Org       string    `json:"org"`
	Person    string    `json:"person"`
	Scenario  string    `json:"scenario"`
	Until     string    `json:"until"`
	State     string    `json:"state"`
	DecidedBy string    `json:"decided_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// PublicInterest is the subscription's claim of public-interest use,
	// which the authority's approval grants (the price class of its calls).
	PublicInterest bool `json:"public_interest"`
}

// CredentialRequest is the body of POST /v1/credentials.
type CredentialRequest struct {
	Subscription string `json:"subscription"`
	System       string `json:"system"`
	// CSR, a PEM certificate request, asks for a client certificate for
	// its key instead of a token.
	CSR string `json:"csr,omitempty"`
}

// Credential is an application system's credential; Token is set only in
// the answer to its issue, once.
type Credential struct {
	ID           string    `json:"id"`
	Subscription string    `json:"subscription"`
	Service      string    `json:"service"`
	Org          string    `json:"org"`
	System       string    `json:"system"`
	Until        string    `json:"until"`
	CreatedBy    string    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
	Revoked      bool      `json:"revoked"`
	// Kind is "token" or "certificate".
	Kind  string `json:"kind"`
	Token string `json:"token,omitempty"`
	// Certificate is the client certificate (PEM), in the answer to its
	// issue only.
	Certificate string `json:"certificate,omitempty"`
}

// VerifyRequest is the body of POST /v1/services/{name}/verify: one key
// (with optional claimed values of the service's match columns), or a
// batch of at most 100 in Keys.
type VerifyRequest struct {
	Key    string            `json:"key,omitempty"`
	Claims map[string]string `json:"claims,omitempty"`
	Keys   []VerifyItem      `json:"keys,omitempty"`
}

// VerifyItem is one subject of a batch verify.
type VerifyItem struct {
	Key    string            `json:"key"`
	Claims map[string]string `json:"claims,omitempty"`
}

// VerifyAnswer is the answer for one subject: whether the key matched
// and, per claimed column, whether the claim matched. Nothing else.
type VerifyAnswer struct {
	Match   bool            `json:"match"`
	Columns map[string]bool `json:"columns,omitempty"`
}

// VerifyBatchAnswer answers a batch, in the order of its keys.
type VerifyBatchAnswer struct {
	Results []VerifyAnswer `json:"results"`
}

// ServiceUsage is one service's calls by one subscription on one day.
type ServiceUsage struct {
	Service      string  `json:"service"`
	Subscription string  `json:"subscription"`
	Org          string  `json:"org"`
	Day          string  `json:"day"`
	Calls        int64   `json:"calls"`
	Matches      int64   `json:"matches"`
	Misses       int64   `json:"misses"`
	Refused      int64   `json:"refused"`
	Charge       float64 `json:"charge"`
	// Class is the price class the calls were charged at: "industry", or
	// "public-interest" for a subscription approved for public-interest use.
	Class string `json:"class"`
}

// SignedStatement is a DSSE envelope (as a release's attestation): the
// signed daily usage statement of a subscription, an in-toto statement
// whose predicate is the day's calls and charge. It verifies offline with
// the enclave's public key (GET /v1/keys/public).
type SignedStatement struct {
	PayloadType string            `json:"payloadType"`
	Payload     string            `json:"payload"`
	Signatures  []StatementSigner `json:"signatures"`
}

// UsageStatementType is the predicate type of a signed daily usage
// statement.
const UsageStatementType = "https://enclave.dev/attestations/service-usage/v1"

// UsageStatement is the predicate of a signed daily usage statement of
// one subscription (issue 19 item 6): its calls on one day, what they
// cost, when it was made. It verifies offline (enclave service
// verify-statement).
type UsageStatement struct {
	Subscription string    `json:"subscription"`
	Service      string    `json:"service"`
	Org          string    `json:"org"`
	Day          string    `json:"day"`
	Calls        int64     `json:"calls"`
	Matches      int64     `json:"matches"`
	Misses       int64     `json:"misses"`
	Refused      int64     `json:"refused"`
	Charge       float64   `json:"charge"`
	Currency     string    `json:"currency"`
	MadeAt       time.Time `json:"made_at"`
	// Class is the price class of the subscription's calls (see
	// ServiceUsage.Class).
	Class string `json:"class,omitempty"`
}

// StatementSigner is one signature of a SignedStatement.
type StatementSigner struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// QueryRequest is the body of POST /v1/services/{name}/query: one
// subject's key.
type QueryRequest struct {
	Key string `json:"key"`
}

// QueryAnswer answers a query: whether the subject is known and its rows
// of the service's approved columns, personal information desensitized.
type QueryAnswer struct {
	Found bool                `json:"found"`
	Rows  []map[string]string `json:"rows"`
}
