package opa

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	policy "github.com/enclave-dev/enclave/policies"
)

// ThresholdsQuery is the query of the egress checks' thresholds, evaluated
// once when the policies load.
const ThresholdsQuery = "data.enclave.egress_thresholds"

// evalThresholds evaluates ThresholdsQuery over modules, without input,
// and validates the result (policy.ParseEgressThresholds). Undefined
// thresholds are an error unless optional; then they are the zero value.
// Errors are of class errdefs.ErrInvalidArgument and name the file and
// line (evaluation) or the key (validation).
func evalThresholds(ctx context.Context, caps *ast.Capabilities, modules []*ast.Module, optional bool) (policy.EgressThresholds, error) {
	ropts := []func(*rego.Rego){
		rego.Query(ThresholdsQuery),
		rego.Capabilities(caps),
		rego.SetRegoVersion(ast.RegoV1),
		rego.StrictBuiltinErrors(true),
	}
	for _, m := range modules {
		ropts = append(ropts, rego.ParsedModule(m))
	}
	pq, err := rego.New(ropts...).PrepareForEval(ctx)
	if err != nil {
		return policy.EgressThresholds{}, fmt.Errorf("compile the egress thresholds: %s: %w", errorsText(err), errdefs.ErrInvalidArgument)
	}
	rs, err := pq.Eval(ctx)
	if err != nil {
		return policy.EgressThresholds{}, fmt.Errorf("evaluate the egress thresholds: %s: %w", errorsText(err), errdefs.ErrInvalidArgument)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		if optional {
			return policy.EgressThresholds{}, nil
		}
		return policy.EgressThresholds{}, fmt.Errorf("%s is undefined: %w", ThresholdsQuery, errdefs.ErrInvalidArgument)
	}
	t, err := policy.ParseEgressThresholds(rs[0].Expressions[0].Value)
	if err != nil {
		return policy.EgressThresholds{}, fmt.Errorf("%s: %w", ThresholdsQuery, err)
	}
	return t, nil
}

// EgressThresholds returns the thresholds of the egress checks the loaded
// policies hold, as evaluated and validated when they loaded. With
// WithoutBuiltin and a policy directory that does not define them, it is
// the zero value.
func (e *Engine) EgressThresholds() policy.EgressThresholds { return e.thresholds }
