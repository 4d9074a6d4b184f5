package checker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/containerd/errdefs"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// ReviewOp is the name of the operation that runs review.Run.
const ReviewOp = "review"

// CheckSets are the sets of checks a child knows, by name ("default":
// checks.Default). The parent names a set and, optionally, some of its
// checks; code never crosses the pipe.
type CheckSets map[string]func() []review.Check

// reviewPayload is a review.Request on the wire. The inputs' fingerprint
// sets go as frames (Set is the index of an input's set, -1 for none); the
// hasher's key is the request's secret.
type reviewPayload struct {
	Set      string                   `json:"set"`
	Checks   []string                 `json:"checks"`
	Files    []review.File            `json:"files"`
	Manifest *review.File             `json:"manifest,omitempty"`
	Inputs   []wireInput              `json:"inputs"`
	Declared map[string]string        `json:"declared,omitempty"`
	Params   review.Params            `json:"params"`
	Previous []review.PreviousRelease `json:"previous,omitempty"`
}

type wireInput struct {
	review.Input
	Path string `json:"path,omitempty"`
	Set  int    `json:"set"`
}

// Review judges req with the checks of the child's check set named set:
// one child runs them all. When that child fails (a crash, a limit), each
// check runs again in a child of its own, so that the check that could
// not answer fails closed with the reason as its evidence and the others
// keep their verdicts. checks are the parent's instances of the same set,
// for the names and versions the result records. key is the key of
// req.Hasher (the keyring's fingerprint secret), which goes to the child
// over its standard input; the child rebuilds the hasher from it. Like
// review.Run, Review never returns an error: whatever keeps a check from
// answering is a fail finding.
func (r *Runner) Review(ctx context.Context, set string, checks []review.Check, req *review.Request, key []byte) review.Result {
	if req == nil {
		return review.Run(ctx, nil, checks...)
	}
	names := make([]string, len(checks))
	for i, c := range checks {
		names[i] = c.Name()
	}
	res, err := r.reviewIn(ctx, set, names, req, key)
	if err == nil && complete(res, checks) {
		return res
	}
	var f *Failure
	if len(checks) <= 1 || errors.As(err, &f) && (f.Reason == ReasonStart || f.Reason == ReasonCanceled) {
		// Nothing to isolate: one check, or no child can run at all.
		return failAll(checks, reviewFailure(err))
	}
	// Isolate: every check in its own child.
	var integrity []review.Finding
	integrityKnown := false
	out := review.Result{}
	per := make([][]review.Finding, len(checks))
	results := make([]review.CheckResult, len(checks))
	for i, c := range checks {
		name, version := c.Name(), c.Version()
		one, err := r.reviewIn(ctx, set, []string{name}, req, key)
		if err == nil && !complete(one, checks[i:i+1]) {
			err = failure(ReasonMalformed, errdefs.ErrInternal, "the check process answered without the check's verdict")
		}
		if err != nil {
			per[i] = []review.Finding{{Check: name, Verdict: review.VerdictFail, Evidence: reviewFailure(err) + "; failing closed"}}
			results[i] = review.CheckResult{Name: name, Version: version, Verdict: review.VerdictFail}
			continue
		}
		for _, f := range one.Findings {
			switch f.Check {
			case review.IntegrityCheck:
				if !integrityKnown {
					integrity = append(integrity, f)
				}
			default:
				f.Check = name
				per[i] = append(per[i], f)
			}
		}
		integrityKnown = true
		results[i] = review.CheckResult{Name: name, Version: version, Verdict: fold(per[i])}
	}
	if !integrityKnown {
		integrity = []review.Finding{{Check: review.IntegrityCheck, Verdict: review.VerdictFail,
			Evidence: "the files could not be verified: no check process answered (" + reviewFailure(err) + "); failing closed"}}
	}
	out.Findings = append(out.Findings, integrity...)
	out.Checks = append(out.Checks, review.CheckResult{Name: review.IntegrityCheck, Version: "1", Verdict: fold(integrity)})
	for i := range checks {
		out.Findings = append(out.Findings, per[i]...)
		out.Checks = append(out.Checks, results[i])
	}
	out.Verdict = fold(out.Findings)
	return out
}

// reviewIn runs one review in a child: the checks of the set named.
func (r *Runner) reviewIn(ctx context.Context, set string, names []string, req *review.Request, key []byte) (review.Result, error) {
	p := reviewPayload{Set: set, Checks: names, Files: req.Files, Manifest: req.Manifest, Declared: req.DeclaredLevels, Params: req.Params, Previous: req.Previous}
	var sets []*fingerprint.Set
	for _, in := range req.Inputs {
		wi := wireInput{Input: in, Path: in.Path, Set: -1}
		if in.Fingerprints != nil {
			wi.Set = len(sets)
			sets = append(sets, in.Fingerprints)
		}
		p.Inputs = append(p.Inputs, wi)
	}
	var res review.Result
	err := r.Call(ctx, Request{Op: ReviewOp, Payload: p, Secret: key, Sets: sets}, &res)
	return res, err
}

// complete says whether res holds a verdict of every check of checks and
// of the integrity check, with no verdict out of the vocabulary; a result
// that lacks one is not trusted.
func complete(res review.Result, checks []review.Check) bool {
	got := map[string]bool{}
	for _, c := range res.Checks {
		got[c.Name] = true
	}
	if !got[review.IntegrityCheck] && !got[review.LimitsCheck] {
		return false
	}
	if got[review.LimitsCheck] {
		// A request over the file limit is refused before any check.
		return res.Verdict == review.VerdictFail
	}
	for _, c := range checks {
		if !got[c.Name()] {
			return false
		}
	}
	for _, f := range res.Findings {
		if !slices.Contains([]review.Verdict{review.VerdictPass, review.VerdictReview, review.VerdictFail}, f.Verdict) {
			return false
		}
	}
	return res.Verdict == fold(res.Findings) || res.Verdict == review.VerdictFail
}

// failAll is a result in which every check failed for why.
func failAll(checks []review.Check, why string) review.Result {
	out := review.Result{Verdict: review.VerdictFail}
	out.Findings = append(out.Findings, review.Finding{Check: review.IntegrityCheck, Verdict: review.VerdictFail, Evidence: why + "; failing closed"})
	out.Checks = append(out.Checks, review.CheckResult{Name: review.IntegrityCheck, Version: "1", Verdict: review.VerdictFail})
	for _, c := range checks {
		out.Findings = append(out.Findings, review.Finding{Check: c.Name(), Verdict: review.VerdictFail, Evidence: why + "; failing closed"})
		out.Checks = append(out.Checks, review.CheckResult{Name: c.Name(), Version: c.Version(), Verdict: review.VerdictFail})
	}
	return out
}

func reviewFailure(err error) string {
	if err == nil {
		return "the check process answered an incomplete result"
	}
	var f *Failure
	if errors.As(err, &f) {
		return f.Error()
	}
	return "the check process failed"
}

func fold(fs []review.Finding) review.Verdict {
	v := review.VerdictPass
	for _, f := range fs {
		v = review.Worse(v, f.Verdict)
	}
	return v
}

// reviewOp is the child's side of ReviewOp.
func reviewOp(sets CheckSets) Op {
	return func(ctx context.Context, in *Input) (any, error) {
		var p reviewPayload
		if err := json.Unmarshal(in.Payload, &p); err != nil {
			return nil, fmt.Errorf("review request: %w", errdefs.ErrInvalidArgument)
		}
		mk, ok := sets[p.Set]
		if !ok {
			return nil, fmt.Errorf("check set %q is unknown: %w", p.Set, errdefs.ErrNotImplemented)
		}
		all := mk()
		var checks []review.Check
		for _, name := range p.Checks {
			i := slices.IndexFunc(all, func(c review.Check) bool { return c.Name() == name })
			if i < 0 {
				return nil, fmt.Errorf("check %q is not in set %q: %w", name, p.Set, errdefs.ErrNotImplemented)
			}
			checks = append(checks, all[i])
		}
		req := &review.Request{Files: p.Files, Manifest: p.Manifest, DeclaredLevels: p.Declared, Params: p.Params, Previous: p.Previous}
		if in.Secret != nil {
			h, err := fingerprint.NewHasher(in.Secret)
			if err != nil {
				return nil, err
			}
			req.Hasher = h
		}
		for _, wi := range p.Inputs {
			ri := wi.Input
			ri.Path = wi.Path
			if wi.Set >= 0 {
				if wi.Set >= len(in.Sets) {
					return nil, fmt.Errorf("input %q names fingerprint set %d of %d: %w", ri.Dataset, wi.Set, len(in.Sets), errdefs.ErrInvalidArgument)
				}
				ri.Fingerprints = in.Sets[wi.Set]
			}
			req.Inputs = append(req.Inputs, ri)
		}
		return review.Run(ctx, req, checks...), nil
	}
}

// ReviewOps returns the child's operations that serve Review over sets;
// add them to the Ops a child serves.
func ReviewOps(sets CheckSets) Ops { return Ops{ReviewOp: reviewOp(sets)} }
