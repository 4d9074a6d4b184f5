// Package authz is the one seam through which every request is authorized:
// Authorize(ctx, subject, action, resource). The server calls it for every
// endpoint and refuses to answer a handler that did not; the decision comes
// from the policy engine (policies/), and a failure to decide is a deny.
package authz

import (
	"context"

	"github.com/enclave-dev/enclave/enclave/people"
)

// Resource is what an action is aimed at.
type Resource struct {
	Kind  string `json:"kind"`            // "org", "person", "token", "dataset", "job", ...
	ID    string `json:"id,omitempty"`    // its id or name
	Org   string `json:"org,omitempty"`   // the organisation that owns or requested it
	Owner string `json:"owner,omitempty"` // the person who filed or submitted it
	// Attrs carries further facts the policy needs (datasets, grants, ...).
	Attrs map[string]any `json:"attrs,omitempty"`
}

// Reason explains one rule's part in a decision.
type Reason struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// Decision is the answer to one authorization question. A deny is a value,
// not an error.
type Decision struct {
	Allow    bool     `json:"allow"`
	Reasons  []Reason `json:"reasons,omitempty"`
	Revision string   `json:"revision,omitempty"`
}

// Authorizer decides whether a subject may perform an action on a
// resource. An error means no answer, and callers treat it as a deny.
// Implementations are safe for concurrent use.
type Authorizer interface {
	Authorize(ctx context.Context, subject people.Subject, action string, res Resource) (Decision, error)
}
