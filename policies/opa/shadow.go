package opa

import (
	"context"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	policy "github.com/enclave-dev/enclave/policies"
)

// Shadow checks. The plans of package vm (and the compiled residuals of
// the wasm evaluator) are checked against topdown on probe requests when
// the engine loads, and package vm's tests run OPA's conformance suite and
// random requests both ways; but a divergence on a request that no test
// or probe made would decide the guard of every request silently. So the
// engine keeps topdown on the whole policies as the reference at run time
// too: a sample of live decisions, and every denied job admission, are
// decided again by topdown in the background, on a copy of the input
// made before the decision returns, taking at most a quarter of one
// processor (shadowPace). A decision that topdown makes
// otherwise is a mismatch: the action switches to topdown on the whole
// policies for the rest of the engine's life, and the engine reports it
// (Shadow.Diverged), once per action. The background never delays or
// changes the decision that was returned.

// DefaultSampleEvery is the share of live decisions an engine with
// WithShadow checks by default: one in DefaultSampleEvery of each action.
const DefaultSampleEvery = 32

// DefaultShadowQueue is the default bound of the checks waiting.
const DefaultShadowQueue = 256

// shadowTimeout bounds one check in topdown.
const shadowTimeout = 10 * time.Second

// shadowPace is how many times as long as a check took the checks then
// rest, so that they take at most a quarter of one processor: topdown
// takes 5 to 50 times as long as the VM, and a flood of requests that are
// checked (denied job admissions) must not make the daemon do that much
// more work; what finds the queue full is skipped and counted.
const shadowPace = 3

// Shadow configures the run-time checks of WithShadow.
type Shadow struct {
	// SampleEvery makes one decision in SampleEvery (at random) of each
	// action checked; 1 checks every decision. Zero means
	// DefaultSampleEvery. Every denied or failed job.run is checked too,
	// as long as the checks keep up (see shadowPace).
	SampleEvery int
	// Queue bounds the checks waiting; a decision to check that finds the
	// queue full is not checked (ShadowSkipped). Zero means
	// DefaultShadowQueue.
	Queue int
	// Checked, when set, is called after every check (and for every
	// skipped one) with the action and one of ShadowAgree,
	// ShadowMismatch, ShadowSkipped. It runs on the engine's background
	// goroutine (or, for ShadowSkipped, in Decide) and must not block.
	Checked func(action, result string)
	// Diverged, when set, is called once per action, on the background
	// goroutine, after the action switched to topdown because of a
	// mismatch.
	Diverged func(Divergence)
}

// Results of a shadow check, as Shadow.Checked receives them.
const (
	ShadowAgree    = "agree"
	ShadowMismatch = "mismatch"
	ShadowSkipped  = "skipped"
)

// Divergence describes a decision of the engine's evaluator that topdown
// on the whole policies made otherwise. It holds outcomes and rule names,
// never the request's values or the reasons' messages.
type Divergence struct {
	Action    string
	Evaluator string  // the evaluator that diverged: EvaluatorVM or EvaluatorWasm
	Got       Outcome // the evaluator's decision (the one that was returned)
	Want      Outcome // topdown's on the whole policies
	Revision  string
}

// Outcome is a decision reduced to what may be logged and audited.
type Outcome struct {
	Allow bool
	Error bool     // the evaluation failed (a deny)
	Rules []string // the rules of the reasons, sorted
}

func outcome(d policy.Decision, err error) Outcome {
	o := Outcome{Allow: d.Allow && err == nil, Error: err != nil}
	for _, r := range d.Reasons {
		o.Rules = append(o.Rules, r.Rule)
	}
	return o
}

// WithShadow checks live decisions against topdown in the background (see
// Shadow). Engines made with it run a goroutine until Close. It has no
// effect with EvaluatorTopdown, which is the reference.
func WithShadow(s Shadow) Option {
	return func(o *options) { o.shadow = &s }
}

// shadow is the engine's run-time check.
type shadow struct {
	cfg      Shadow
	queue    chan shadowCheck
	switched map[string]*atomic.Bool // by action: decided by topdown since a mismatch
	stop     context.CancelFunc
	done     chan struct{}
	closing  sync.Once
}

// shadowCheck is one decision to check: the input as topdown takes it,
// made before Decide returned, and what the evaluator decided.
type shadowCheck struct {
	action string
	input  ast.Value
	got    policy.Decision
	gotErr bool
}

// startShadow starts the check of e's evaluated actions (those with a plan
// or compiled residual), or does nothing when e has none.
func (e *Engine) startShadow(cfg Shadow) {
	if len(e.planned) == 0 && len(e.wasm) == 0 {
		return
	}
	if cfg.SampleEvery <= 0 {
		cfg.SampleEvery = DefaultSampleEvery
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultShadowQueue
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &shadow{cfg: cfg, queue: make(chan shadowCheck, cfg.Queue), switched: map[string]*atomic.Bool{},
		stop: cancel, done: make(chan struct{})}
	for action := range e.planned {
		s.switched[action] = new(atomic.Bool)
	}
	for action := range e.wasm {
		s.switched[action] = new(atomic.Bool)
	}
	e.shadow = s
	go e.runShadow(ctx)
}

// Close stops the engine's shadow checks (WithShadow), dropping those
// still waiting. Decide keeps working. Close may be called more than once.
func (e *Engine) Close() {
	if e.shadow == nil {
		return
	}
	e.shadow.closing.Do(func() {
		e.shadow.stop()
		<-e.shadow.done
	})
}

// Switched reports whether action is decided by topdown on the whole
// policies because its evaluation diverged from it (WithShadow).
func (e *Engine) Switched(action string) bool {
	if e.shadow == nil {
		return false
	}
	b := e.shadow.switched[action]
	return b != nil && b.Load()
}

// shadowed reports whether decisions of action go through the shadow check.
func (e *Engine) shadowed(action string) bool {
	if e.shadow == nil {
		return false
	}
	b := e.shadow.switched[action]
	return b != nil && !b.Load()
}

// sample queues a check of a decision of the evaluator, when it is
// sampled or a denied job admission. ctx is the request's: a decision
// that failed because it ended is not checked.
func (e *Engine) sample(ctx context.Context, in *policy.Input, d policy.Decision, err error) {
	s := e.shadow
	if err != nil && ctx.Err() != nil {
		return
	}
	always := in.Action == "job.run" && (err != nil || !d.Allow)
	if !always && rand.IntN(s.cfg.SampleEvery) != 0 {
		return
	}
	if len(s.queue) == cap(s.queue) { // behind: spare the copy
		if s.cfg.Checked != nil {
			s.cfg.Checked(in.Action, ShadowSkipped)
		}
		return
	}
	c := shadowCheck{action: in.Action, input: inputValue(in), got: d, gotErr: err != nil}
	c.got.Reasons = slices.Clone(d.Reasons) // nil stays nil, empty empty
	c.got.Grants = maps.Clone(d.Grants)
	select {
	case s.queue <- c:
	default:
		if s.cfg.Checked != nil {
			s.cfg.Checked(in.Action, ShadowSkipped)
		}
	}
}

// runShadow decides the queued checks in topdown until ctx ends.
func (e *Engine) runShadow(ctx context.Context) {
	s := e.shadow
	defer close(s.done)
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-s.queue:
			start := time.Now()
			e.check(ctx, c)
			select {
			case <-ctx.Done():
				return
			case <-time.After(shadowPace * time.Since(start)):
			}
		}
	}
}

// check decides c again in topdown on the whole policies and, on a
// mismatch, switches the action to topdown and reports it.
func (e *Engine) check(ctx context.Context, c shadowCheck) {
	s := e.shadow
	cctx, cancel := context.WithTimeout(ctx, shadowTimeout)
	defer cancel()
	v, err := e.evalWholeValue(cctx, c.input)
	want, werr := e.finish(cctx, v, err)
	if ctx.Err() != nil {
		return // closing: no verdict
	}
	if cctx.Err() != nil { // topdown ran out of time: no verdict
		if s.cfg.Checked != nil {
			s.cfg.Checked(c.action, ShadowSkipped)
		}
		return
	}
	agree := (werr != nil) == c.gotErr && (werr != nil || reflect.DeepEqual(want, c.got))
	result := ShadowAgree
	if !agree {
		result = ShadowMismatch
	}
	if s.cfg.Checked != nil {
		s.cfg.Checked(c.action, result)
	}
	if agree {
		return
	}
	if s.switched[c.action].CompareAndSwap(false, true) && s.cfg.Diverged != nil {
		s.cfg.Diverged(Divergence{Action: c.action, Evaluator: e.evaluator,
			Got:  outcome(c.got, boolErr(c.gotErr)),
			Want: outcome(want, werr), Revision: e.revision})
	}
}

// evalWholeValue evaluates the whole policies on an input value.
func (e *Engine) evalWholeValue(ctx context.Context, input ast.Value) (any, error) {
	rs, err := e.query.Eval(ctx, rego.EvalParsedInput(input), rego.EvalMetrics(noMetrics))
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	return rs[0].Expressions[0].Value, nil
}

type errFailed struct{}

func (errFailed) Error() string { return "the evaluation failed" }

func boolErr(failed bool) error {
	if failed {
		return errFailed{}
	}
	return nil
}
