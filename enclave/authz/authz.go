// Package authz is the one seam through which every request is authorized:
// Authorize(ctx, subject, action, resource). The server calls it for every
// endpoint before the handler runs; the decision comes from the policy
// engine (policies/), and a failure to decide is a deny.
package authz

import (
	"context"

	"github.com/enclave-dev/enclave/enclave/people"
	policy "github.com/enclave-dev/enclave/policies"
)

// Resource is what an action is aimed at, with the facts the policies
// need about it: the policy resource (kind, id, owning organisation, owner,
// datasets with their marks, image, period, ...) and, for job admission,
// the organisation's grants, usage, quota and the job's request.
type Resource struct {
	policy.Resource
	Grants  []policy.Grant
	Usage   policy.Usage
	Quota   policy.Quota
	Request policy.Request
}

// Decision is the answer to one authorization question; a deny is a value.
type Decision = policy.Decision

// Reason is one rule's refusal.
type Reason = policy.Reason

// Authorizer decides whether a subject may perform an action on a
// resource. An error means no answer, and callers treat it as a deny.
// Implementations are safe for concurrent use.
type Authorizer interface {
	Authorize(ctx context.Context, subject people.Subject, action string, res Resource) (Decision, error)
}
