// Package opa implements policy.Engine with an embedded Open Policy Agent.
//
// New loads the built-in Rego policies (policy.Builtin) and, optionally, a
// deployer's policy directory, compiles them with locked-down capabilities
// (no network, no I/O, no clock, no randomness, no runtime information),
// prepares the query data.enclave.decision once, and evaluates it per
// request: for an action of policy.Actions, the residual of the query
// specialized to that action by partial evaluation, on the fields of the
// input it reads (specialize.go), as OPA's planner plans it, in package vm
// (planned.go). Policies that do not compile make New fail with an error
// naming the file and line. The thresholds of the egress checks
// (data.enclave.egress_thresholds) are evaluated and validated once, at
// load (thresholds.go).
package opa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	policy "github.com/enclave-dev/enclave/policies"
)

// Query is the one query the engine evaluates.
const Query = "data.enclave.decision"

// builtinPrefix names the built-in files in errors and in Files.
const builtinPrefix = "policies/rego/"

// Engine is the OPA implementation of policy.Engine. It is safe for
// concurrent use.
type Engine struct {
	query   rego.PreparedEvalQuery // the whole policies
	modules []*ast.Module
	special map[string]*specialized  // by action; see specialize.go
	planned map[string]*planned      // by action; see planned.go
	wasm    map[string]*compiledWasm // by action; see wasm.go
	// evaluator is the Evaluator the engine was made with.
	evaluator string
	shadow    *shadow // the run-time check against topdown; see shadow.go
	revision  string
	files     []string
	// thresholds are data.enclave.egress_thresholds (thresholds.go).
	thresholds policy.EgressThresholds
}

var _ policy.Engine = (*Engine)(nil)

// Option configures New.
type Option func(*options)

type options struct {
	dir       string
	noBuiltin bool
	evaluator string
	shadow    *Shadow
}

// Evaluators of WithEvaluator.
const (
	// EvaluatorVM evaluates each action's plan in package vm.
	EvaluatorVM = "vm"
	// EvaluatorTopdown evaluates each action's residual in OPA's topdown
	// evaluator, the reference.
	EvaluatorTopdown = "topdown"
	// EvaluatorWasm evaluates each action's plan compiled to WebAssembly by
	// OPA, on wazero.
	EvaluatorWasm = "wasm"
)

// DefaultEvaluator is the evaluator of an engine made without
// WithEvaluator.
const DefaultEvaluator = EvaluatorVM

// Evaluators lists the evaluators WithEvaluator accepts.
var Evaluators = []string{EvaluatorVM, EvaluatorTopdown, EvaluatorWasm}

// WithEvaluator chooses what evaluates the residual of each action:
// EvaluatorVM, EvaluatorTopdown or EvaluatorWasm (see Evaluators). Every
// evaluator decides the same: an action whose residual it cannot
// evaluate, or that decides a probe request otherwise than topdown on the
// whole policies, keeps topdown. New refuses any other name with an
// errdefs.ErrInvalidArgument class error.
func WithEvaluator(name string) Option {
	return func(o *options) { o.evaluator = name }
}

// WithPolicyDir adds the Rego files (*.rego, recursively, except
// *_test.rego) of a deployer's directory. A file whose base name equals a
// built-in file's (for example roles.rego) replaces that file; every other
// file is added, and may contribute to `reasons` in package enclave.
func WithPolicyDir(dir string) Option {
	return func(o *options) { o.dir = dir }
}

// WithoutBuiltin leaves the built-in policies out, so that the policy
// directory alone decides; the egress thresholds are then optional
// (Engine.EgressThresholds). It exists for tests and benchmarks.
func WithoutBuiltin() Option {
	return func(o *options) { o.noBuiltin = true }
}

// New loads, compiles and prepares the policies. It returns an
// errdefs.ErrInvalidArgument class error naming file and line when a policy
// does not parse or compile, or uses a built-in function outside the
// allowed capabilities (for example http.send), or when the egress
// thresholds (data.enclave.egress_thresholds) are undefined or invalid,
// naming the key; an errdefs.ErrNotFound or other class error when the
// policy directory cannot be read.
func New(ctx context.Context, opts ...Option) (*Engine, error) {
	var o options
	o.evaluator = DefaultEvaluator
	for _, opt := range opts {
		opt(&o)
	}
	if !slices.Contains(Evaluators, o.evaluator) {
		return nil, fmt.Errorf("policy evaluator %q: not one of %s: %w", o.evaluator, strings.Join(Evaluators, ", "), errdefs.ErrInvalidArgument)
	}
	files := map[string]source{} // by base name
	if !o.noBuiltin {
		if err := readFS(policy.Builtin(), builtinPrefix, files); err != nil {
			return nil, err
		}
	}
	if o.dir != "" {
		st, err := os.Stat(o.dir)
		if err != nil {
			return nil, fmt.Errorf("policy directory %q: %w", o.dir, classify(err))
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("policy directory %q is not a directory: %w", o.dir, errdefs.ErrInvalidArgument)
		}
		if err := readFS(os.DirFS(o.dir), o.dir+string(filepath.Separator), files); err != nil {
			return nil, err
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no policy files: %w", errdefs.ErrInvalidArgument)
	}
	e, err := compile(ctx, files, o.evaluator, o.noBuiltin)
	if err != nil {
		return nil, err
	}
	if o.shadow != nil {
		e.startShadow(*o.shadow)
	}
	return e, nil
}

// withoutPlans keeps every action in topdown (the residuals of
// specialize.go without planned.go); tests of the residuals and benchmarks
// use it.
func withoutPlans() Option { return WithEvaluator(EvaluatorTopdown) }

// source is one policy file.
type source struct {
	name string // as shown in errors: a path
	text string
}

// readFS reads the *.rego files of fsys except tests into files, keyed by
// base name; a later file with the same base name replaces an earlier one.
func readFS(fsys fs.FS, prefix string, files map[string]source) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("read policy %q: %w", prefix+p, classify(err))
		}
		if d.IsDir() || !isPolicy(p) {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read policy %q: %w", prefix+p, classify(err))
		}
		base := path.Base(p)
		if _, dup := files[base]; dup && !strings.HasPrefix(files[base].name, builtinPrefix) {
			return fmt.Errorf("policy %q: another file of the policy directory has the same name: %w", prefix+p, errdefs.ErrInvalidArgument)
		}
		files[base] = source{name: prefix + filepath.FromSlash(p), text: string(b)}
		return nil
	})
}

func isPolicy(p string) bool {
	return strings.HasSuffix(p, ".rego") && !strings.HasSuffix(p, "_test.rego")
}

func classify(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errors.Join(err, errdefs.ErrNotFound)
	}
	if errors.Is(err, fs.ErrPermission) {
		return errors.Join(err, errdefs.ErrPermissionDenied)
	}
	return errors.Join(err, errdefs.ErrUnknown)
}

// compile parses and compiles files, prepares the query and evaluates the
// egress thresholds, which may be undefined only when optionalThresholds.
func compile(ctx context.Context, files map[string]source, evaluator string, optionalThresholds bool) (*Engine, error) {
	caps := Capabilities()
	srcs := make([]source, 0, len(files))
	for _, s := range files {
		srcs = append(srcs, s)
	}
	sort.Slice(srcs, func(i, j int) bool { return srcs[i].name < srcs[j].name })

	h := sha256.New()
	ropts := []func(*rego.Rego){
		rego.Query(Query),
		rego.Capabilities(caps),
		rego.SetRegoVersion(ast.RegoV1),
		rego.StrictBuiltinErrors(true),
	}
	names := make([]string, 0, len(srcs))
	modules := make([]*ast.Module, 0, len(srcs))
	for _, s := range srcs {
		m, err := ast.ParseModuleWithOpts(s.name, s.text, ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: caps})
		if err != nil {
			return nil, fmt.Errorf("parse policies: %s: %w", errorsText(err), errdefs.ErrInvalidArgument)
		}
		ropts = append(ropts, rego.ParsedModule(m))
		modules = append(modules, m)
		names = append(names, s.name)
		// Length-prefixed name and text, so that no two file sets collide.
		fmt.Fprintf(h, "%d:%s%d:%s", len(s.name), s.name, len(s.text), s.text)
	}
	pq, err := rego.New(ropts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("compile policies: %s: %w", errorsText(err), errdefs.ErrInvalidArgument)
	}
	thresholds, err := evalThresholds(ctx, caps, modules, optionalThresholds)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		query:      pq,
		modules:    modules,
		revision:   "sha256:" + hex.EncodeToString(h.Sum(nil)),
		files:      names,
		thresholds: thresholds,
		evaluator:  evaluator,
	}
	e.special = e.specialize(ctx, caps, evaluator)
	// A probe request finds conflicts that only evaluation reveals, such as
	// a deployer's file defining `decision` a second time.
	if _, err := pq.Eval(ctx, rego.EvalInput(probe)); err != nil {
		return nil, fmt.Errorf("evaluate policies on a probe request: %s: %w", errorsText(err), errdefs.ErrInvalidArgument)
	}
	return e, nil
}

// probe is a harmless request evaluated once at load.
var probe = map[string]any{
	"action":  "whoami",
	"now":     "2026-01-01T00:00:00Z",
	"subject": map[string]any{"id": "probe", "roles": []any{}},
}

// errorsText renders OPA errors as "file:line: message" lines joined by
// "; ". OPA's messages quote policy source, never input data.
func errorsText(err error) string {
	var te *topdown.Error
	if errors.As(err, &te) {
		if te.Location != nil {
			return fmt.Sprintf("%s:%d: %s: %s", te.Location.File, te.Location.Row, te.Code, te.Message)
		}
		return te.Code + ": " + te.Message
	}
	var errs ast.Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		return err.Error()
	}
	lines := make([]string, 0, len(errs))
	for _, e := range errs {
		if e.Location != nil {
			lines = append(lines, fmt.Sprintf("%s:%d: %s: %s", e.Location.File, e.Location.Row, e.Code, e.Message))
		} else {
			lines = append(lines, e.Code+": "+e.Message)
		}
	}
	return strings.Join(lines, "; ")
}

// Revision returns "sha256:" and the hex SHA-256 over the names and
// contents of the loaded policy files.
func (e *Engine) Revision() string { return e.revision }

// Evaluator returns the evaluator the engine was made with (see
// WithEvaluator).
func (e *Engine) Evaluator() string { return e.evaluator }

// Files returns the names of the loaded policy files, sorted: built-in
// files as "policies/rego/NAME", directory files as paths.
func (e *Engine) Files() []string { return slices.Clone(e.files) }

// Capabilities returns the capabilities policies are compiled with: the
// built-in functions of this OPA version minus every non-deterministic one
// (http.send, net.lookup_ip_addr, opa.runtime, time.now_ns, rand.intn,
// uuid.rfc4122, io.jwt.encode_sign...), every other net.*, http.*, io.*,
// providers.*, opa.*, rego.*, print and trace built-in, and no network hosts.
func Capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	kept := caps.Builtins[:0:0]
	for _, b := range caps.Builtins {
		if !allowedBuiltin(b) {
			continue
		}
		kept = append(kept, b)
	}
	caps.Builtins = kept
	caps.AllowNet = []string{}
	return caps
}

var deniedPrefixes = []string{"net.", "http.", "io.", "providers.", "opa.", "rego.", "time.now", "rand.", "uuid."}

var deniedNames = map[string]bool{"trace": true, "print": true, "internal.print": true}

func allowedBuiltin(b *ast.Builtin) bool {
	if b.Nondeterministic || deniedNames[b.Name] {
		return false
	}
	for _, p := range deniedPrefixes {
		if strings.HasPrefix(b.Name, p) {
			return false
		}
	}
	return true
}
