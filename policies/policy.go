// Package policy is the contract of the enclave's single decision point:
// the input document that describes a request, the decision that answers it,
// and the Engine interface that turns one into the other. The built-in Rego
// policies are embedded here (see Builtin); the OPA implementation lives in
// the subpackage policies/opa.
//
// Every API endpoint and every job admission builds an Input and asks an
// Engine. A deny is a value (Decision.Allow false, with Reasons); an error
// means "no answer" and callers treat it as a deny (fail closed).
package policy

import (
	"context"
)

// Decision is the answer of an Engine for one Input.
type Decision struct {
	// Allow is true only when every rule passed.
	Allow bool `json:"allow"`
	// Reasons lists every rule that refused the request, sorted by rule
	// and message. It is empty when Allow is true and never empty when
	// Allow is false.
	Reasons []Reason `json:"reasons"`
	// Grants maps each dataset name of a job.run to the id of the grant
	// that admits it; nil for other actions. A job uses one batch of each
	// distinct batch-limited grant named here.
	Grants map[string]string `json:"grants,omitempty"`
	// Revision identifies the policies that decided: "sha256:" and the hex
	// SHA-256 over the names and contents of the loaded policy files.
	// Audit entries record it next to the decision.
	Revision string `json:"revision"`
}

// Reason is one rule's refusal. Messages name identifiers (dataset,
// organisation, person, action), quoted, and never carry data values.
type Reason struct {
	// Rule is a stable dotted name, for example "grant.dataset_not_granted".
	Rule string `json:"rule"`
	// Message says in one sentence why the rule refused.
	Message string `json:"message"`
}

// Engine decides whether a request may proceed.
//
// Decide returns a Decision for in. It returns an error, and no decision,
// when in is invalid (errdefs.ErrInvalidArgument), when ctx ends, or when
// the policies could not be evaluated or yielded an undefined or malformed
// result (errdefs.ErrInternal); callers treat every error as a deny.
// Revision returns the revision of the loaded policies, the same value as
// Decision.Revision. EgressThresholds returns the thresholds of the egress
// checks the loaded policies hold (data.enclave.egress_thresholds),
// evaluated and validated once when the policies load: policies whose
// thresholds are undefined or invalid do not load.
//
// Implementations are safe for concurrent use.
type Engine interface {
	Decide(ctx context.Context, in Input) (Decision, error)
	Revision() string
	EgressThresholds() EgressThresholds
}
