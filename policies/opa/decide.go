package opa

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/topdown"

	policy "github.com/enclave-dev/enclave/policies"
	"github.com/enclave-dev/enclave/policies/opa/vm"
)

// Decide validates in, evaluates the action's plan on it (or, without a
// plan, its residual in topdown, or the whole policies) and decodes the
// result. It returns an errdefs.ErrInvalidArgument class error for an
// invalid input, the context's error when ctx ends, and errdefs.ErrInternal
// when evaluation fails or the result is undefined or malformed. On error
// the returned Decision is still a deny, with one reason naming the failure
// ("input.invalid", "policy.error", "policy.undefined", "policy.malformed")
// and the revision, so that callers can audit it; callers must treat any
// error as a deny.
func (e *Engine) Decide(ctx context.Context, in policy.Input) (policy.Decision, error) {
	if err := ctx.Err(); err != nil {
		return e.failed("policy.error", "the policy evaluation was canceled"), fmt.Errorf("evaluate %q: %w", Query, err)
	}
	if err := in.Validate(); err != nil {
		return e.failed("input.invalid", "the request could not be described to the policies"), err
	}
	// The decision as rego renders it (nil when undefined): from the
	// action's plan, its compiled residual, its residual in topdown, or
	// the whole policies (also for an action switched to topdown after a
	// shadow check found a mismatch, shadow.go).
	var v any
	var err error
	evaluated := false
	if e.Switched(in.Action) {
		v, err = e.evalWhole(ctx, in)
	} else if p := e.plannedFor(in.Action); p != nil {
		v, err = p.eval(ctx, &in)
		evaluated = true
	} else if w := e.wasmFor(ctx, in.Action); w != nil {
		v, err = w.eval(ctx, &in)
		evaluated = true
	} else if s := e.forAction(ctx, in.Action); s != nil {
		v, err = s.eval(ctx, &in)
	} else {
		v, err = e.evalWhole(ctx, in)
	}
	d, err := e.finish(ctx, v, err)
	if evaluated && e.shadow != nil {
		e.sample(ctx, &in, d, err)
	}
	return d, err
}

// finish turns the result of an evaluation into a decision.
func (e *Engine) finish(ctx context.Context, v any, err error) (policy.Decision, error) {
	if err != nil {
		if ctx.Err() != nil {
			return e.failed("policy.error", "the policy evaluation was canceled"), fmt.Errorf("evaluate %q: %w", Query, ctx.Err())
		}
		return e.failed("policy.error", "the policies could not be evaluated"), fmt.Errorf("evaluate %q: %s: %w", Query, evalErrorText(err), errdefs.ErrInternal)
	}
	if v == nil {
		return e.failed("policy.undefined", "the policies gave no decision"), fmt.Errorf("evaluate %q: undefined decision: %w", Query, errdefs.ErrInternal)
	}
	d, ok := decode(v)
	if !ok {
		return e.failed("policy.malformed", "the policies gave a malformed decision"), fmt.Errorf("evaluate %q: malformed decision: %w", Query, errdefs.ErrInternal)
	}
	d.Revision = e.revision
	return d, nil
}

// noMetrics keeps OPA from allocating metrics on every evaluation; the
// engine reports none.
var noMetrics = metrics.NoOp()

func (e *Engine) failed(rule, msg string) policy.Decision {
	return policy.Decision{
		Allow:    false,
		Reasons:  []policy.Reason{{Rule: rule, Message: msg}},
		Revision: e.revision,
	}
}

// decode reads {"allow": bool, "reasons": [{"rule","message"}...],
// "grants": {name: id}} strictly: as eval decoded it, or from a Value of
// package vm or a document as rego renders it. "reasons" (a set or an
// array) and "grants" may be absent. An allow with reasons is malformed; a
// deny without reasons gets the reason "policy.deny", so that every deny
// says something.
func decode(v any) (policy.Decision, bool) {
	if x, ok := v.(decoded); ok {
		return x.d, x.ok
	}
	val, err := vm.FromJSON(v)
	if err != nil {
		return policy.Decision{}, false
	}
	obj, ok := val.(*vm.Object)
	if !ok {
		return policy.Decision{}, false
	}
	d := policy.Decision{Reasons: []policy.Reason{}}
	if d.Allow, ok = obj.Get("allow").(bool); !ok {
		return policy.Decision{}, false
	}
	keys, vals := obj.Pairs()
	for i, k := range keys {
		switch k {
		case "allow":
		case "reasons":
			list, ok := vm.Members(vals[i])
			if !ok {
				return policy.Decision{}, false
			}
			for _, item := range list {
				r, ok := reason(item)
				if !ok {
					return policy.Decision{}, false
				}
				d.Reasons = append(d.Reasons, r)
			}
		case "grants":
			m, ok := vals[i].(*vm.Object)
			if !ok {
				return policy.Decision{}, false
			}
			names, ids := m.Pairs()
			for j := range names {
				name, ok1 := names[j].(string)
				id, ok2 := ids[j].(string)
				if !ok1 || !ok2 {
					return policy.Decision{}, false
				}
				if d.Grants == nil {
					d.Grants = make(map[string]string, len(names))
				}
				d.Grants[name] = id
			}
		default:
			return policy.Decision{}, false
		}
	}
	if d.Allow && len(d.Reasons) > 0 {
		return policy.Decision{}, false
	}
	if !d.Allow {
		d.Grants = nil
		if len(d.Reasons) == 0 {
			d.Reasons = []policy.Reason{{Rule: "policy.deny", Message: "the policies denied the request without a reason"}}
		}
	}
	sort.Slice(d.Reasons, func(i, j int) bool {
		a, b := d.Reasons[i], d.Reasons[j]
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
	return d, true
}

func reason(v vm.Value) (policy.Reason, bool) {
	m, ok := v.(*vm.Object)
	if !ok || m.Len() != 2 {
		return policy.Reason{}, false
	}
	rule, ok1 := m.Get("rule").(string)
	msg, ok2 := m.Get("message").(string)
	if !ok1 || !ok2 || rule == "" {
		return policy.Reason{}, false
	}
	return policy.Reason{Rule: rule, Message: msg}, true
}

// evalErrorText says where and how an evaluation failed without OPA's
// message, which can quote the values evaluated (a built-in's operands).
func evalErrorText(err error) string {
	var ve *vm.EvalError
	if errors.As(err, &ve) {
		return ve.Error()
	}
	var te *topdown.Error
	if errors.As(err, &te) {
		what := te.Code
		// A built-in's message starts with its name.
		if name, _, ok := strings.Cut(te.Message, ":"); ok && ast.BuiltinMap[name] != nil {
			what += ": " + name
		}
		if te.Location != nil {
			return fmt.Sprintf("%s:%d: %s", te.Location.File, te.Location.Row, what)
		}
		return what
	}
	return "evaluation failed"
}
