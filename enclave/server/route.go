package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/services"
	"github.com/enclave-dev/enclave/enclave/store"
	policy "github.com/enclave-dev/enclave/policies"
)

// route is one endpoint. The router authenticates the caller, builds the
// resource, authorizes Action on it through the authz seam, and only then
// calls Handle: no handler runs unauthorized.
type route struct {
	Method  string
	Path    string
	Action  string // the policy action; empty only for Public routes
	Summary string
	// Op is the operation id in the API document when Action does not
	// name the route alone (several routes asking the policy the same
	// question); operation ids are unique (checkRoutes).
	Op     string
	Public bool // health, version and the API document: no token needed
	// Request and Response are zero values of the body types, for the API
	// document; nil means none.
	Request  any
	Response any
	// Created says the success status is 201.
	Created bool
	// Resource builds what Action is aimed at; nil means the bare noun.
	Resource func(ctx context.Context, c *call) (authz.Resource, error)
	Handle   func(ctx context.Context, c *call) (any, error)
	// RecordsOutcome says the handler of a GET records the outcome of the
	// read itself (a download: whether the whole of it went out); the
	// router records the allowed access before it as an intent, not "ok".
	RecordsOutcome bool
}

// none is the request of a route that reads no JSON body, or the answer
// of one that writes its own (c.raw) or nothing.
type none struct{}

// typed makes rt's handler from fn, which receives the request body
// decoded strictly into a Req (none: no body is read) once the policy has
// allowed the call, and answers a Resp. The API document names both
// types unless rt names them itself.
func typed[Req, Resp any](rt route, fn func(ctx context.Context, c *call, req Req) (Resp, error)) route {
	return planned(rt, nil, func(ctx context.Context, c *call, _ none, req Req) (Resp, error) { return fn(ctx, c, req) })
}

// planned is typed for a route whose resource builder also returns what
// it read or worked out (the job, the export, an admission plan) as a P:
// the handler receives that P, typed, with the body decoded into a Req.
// A nil resource leaves the handler the zero P.
func planned[P, Req, Resp any](rt route, resource func(ctx context.Context, c *call) (authz.Resource, P, error),
	fn func(ctx context.Context, c *call, p P, req Req) (Resp, error)) route {
	reads := reflect.TypeFor[Req]() != reflect.TypeFor[none]()
	if reads && rt.Request == nil {
		rt.Request = *new(Req)
	}
	if reflect.TypeFor[Resp]() != reflect.TypeFor[none]() && rt.Response == nil {
		rt.Response = *new(Resp)
	}
	if resource != nil {
		rt.Resource = func(ctx context.Context, c *call) (authz.Resource, error) {
			res, p, err := resource(ctx, c)
			if err == nil {
				c.body = p
			}
			return res, err
		}
	}
	rt.Handle = func(ctx context.Context, c *call) (any, error) {
		var req Req
		if reads {
			if err := c.decode(&req); err != nil {
				return nil, err
			}
		}
		p, _ := c.body.(P) // set by resource, which ran before
		return fn(ctx, c, p, req)
	}
	return rt
}

// call is one request in flight.
type call struct {
	s       *Server
	w       http.ResponseWriter
	r       *http.Request
	reqID   string
	route   *route
	subject people.Subject
	// raw is set when the handler wrote the response itself.
	raw bool
	// The authorization of this call: the resource asked about, the
	// decision and the policy revision that made it.
	resource authz.Resource
	decision authz.Decision
	revision string
	// retention is the audit retention class of this call's events: "5y"
	// when it touches authorization-required or withheld data.
	retention string
	// audited is set once the call's outcome is on the record.
	audited bool
	// body is what the resource builder of a planned route made, for
	// its handler.
	body any
}

// resource returns a bare resource of a kind.
func resource(kind, id, org string) authz.Resource {
	return authz.Resource{Resource: policy.Resource{Kind: kind, ID: id, Org: org}}
}

// objects names a resource in audit entries: "kind:id", and each dataset
// version it touches.
func objects(res authz.Resource) []string {
	var out []string
	if res.Kind != "" && res.ID != "" {
		out = append(out, res.Kind+":"+res.ID)
	}
	for _, d := range res.Datasets {
		if d.Version > 0 {
			out = append(out, fmt.Sprintf("dataset:%s@%d", d.Name, d.Version))
		} else {
			out = append(out, "dataset:"+d.Name)
		}
	}
	return out
}

// record appends one event of this call to the audit log.
func (c *call) record(ctx context.Context, ev audit.Event) error {
	if ev.Retention == "" {
		ev.Retention = c.retention
	}
	if _, err := c.s.Audit.Append(ctx, c.s.event(c, ev)); err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	c.audited = true
	return nil
}

func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && isToken(id) {
		return id
	}
	var b [8]byte
	rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

func isToken(s string) bool {
	for _, c := range s {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.Now()
		c := &call{s: s, w: w, r: r, reqID: requestID(r), route: &rt}
		w.Header().Set("X-Request-Id", c.reqID)
		ctx := r.Context()
		code, err := s.dispatch(ctx, c)
		level := slog.LevelDebug
		if code >= 500 {
			level = slog.LevelError
		}
		if !s.Log.Enabled(ctx, level) {
			return // no request line to build (a service call's allocations count)
		}
		log := s.Log.With("request", c.reqID, "method", rt.Method, "route", rt.Path, "status", code,
			"ms", time.Since(start).Milliseconds())
		if c.subject.Person.ID != "" {
			log = log.With("person", c.subject.Person.ID)
		}
		if code >= 500 {
			log.Error("request failed", "err", err)
		} else {
			log.Debug("request")
		}
	})
}

func (s *Server) dispatch(ctx context.Context, c *call) (int, error) {
	rt := c.route
	if !rt.Public {
		subj, err := s.authenticate(ctx, c.r)
		if err != nil {
			if errdefs.IsUnauthorized(err) {
				s.auditDenial(ctx, c, rt.Action, authz.Resource{}, []string{"unauthenticated"})
			}
			return writeError(c.w, c.reqID, err, nil), err
		}
		c.subject = subj
		res := resource(strings.SplitN(rt.Action, ".", 2)[0], "", "")
		if rt.Resource != nil {
			r, rerr := rt.Resource(ctx, c)
			if rerr != nil {
				// A request that cannot be decided (malformed) is refused
				// as it is. For a resource that does not exist the policy is
				// still asked, so that a caller who may not act learns
				// nothing about what exists.
				if !errdefs.IsNotFound(rerr) {
					return writeError(c.w, c.reqID, rerr, nil), rerr
				}
				if err := c.authorize(ctx, rt.Action, res); err != nil {
					return writeError(c.w, c.reqID, err, nil), err
				}
				if rt.Method != "GET" {
					_, class := status(rerr)
					ev := audit.Event{Action: rt.Action, Outcome: "failed", Reason: class, Objects: objects(res), Retention: c.retention}
					if aerr := c.record(context.WithoutCancel(ctx), ev); aerr != nil {
						c.s.Log.Error("audit append of a failure failed", "request", c.reqID, "err", aerr)
					}
				}
				return writeError(c.w, c.reqID, rerr, nil), rerr
			}
			res = r
		}
		if err := c.authorize(ctx, rt.Action, res); err != nil {
			return writeError(c.w, c.reqID, err, nil), err
		}
		if rt.Method == "GET" {
			// A read takes effect when it is answered: record the allowed
			// access first (promise 5).
			ev := audit.Event{Action: rt.Action, Outcome: "ok", Objects: objects(res), Retention: c.retention}
			if rt.RecordsOutcome {
				ev.Outcome = audit.OutcomeIntent
			}
			if err := c.record(ctx, ev); err != nil {
				return writeError(c.w, c.reqID, err, nil), err
			}
		}
	}
	out, err := rt.Handle(ctx, c)
	if err != nil {
		if !rt.Public && rt.Method != "GET" && !c.audited {
			// A refused change is on the record too, with its error class.
			_, class := status(err)
			ev := audit.Event{Action: rt.Action, Outcome: "failed", Reason: class, Objects: objects(c.resource), Retention: c.retention}
			if aerr := c.record(context.WithoutCancel(ctx), ev); aerr != nil {
				c.s.Log.Error("audit append of a failure failed", "request", c.reqID, "err", aerr)
			}
		}
		return writeError(c.w, c.reqID, err, nil), err
	}
	if c.raw {
		return http.StatusOK, nil
	}
	code := http.StatusOK
	if rt.Created {
		code = http.StatusCreated
	}
	writeJSON(c.w, code, out)
	return code, nil
}

func (s *Server) authenticate(ctx context.Context, r *http.Request) (people.Subject, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		if der := clientCert(r); der != nil {
			return s.certSubject(ctx, der) // an application system's client certificate (issue 19)
		}
		return people.Subject{}, fmt.Errorf("a bearer token is required (set ENCLAVE_TOKEN): %w", errdefs.ErrUnauthenticated)
	}
	if services.IsCredentialToken(tok) {
		return s.credentialSubject(ctx, tok) // an application system (issue 19)
	}
	return people.Authenticate(ctx, s.DB.SQL(), tok, s.Now())
}

// authorize asks the authz seam. A deny, or an error deciding (which fails
// closed), is audited and returned as a permission error carrying the
// reasons.
func (c *call) authorize(ctx context.Context, action string, res authz.Resource) error {
	d, err := c.s.Authz.Authorize(ctx, c.subject, action, res)
	c.s.observeDecision(action, d.Allow, err)
	if err != nil {
		c.s.Log.Error("authorization failed; denying", "request", c.reqID, "action", action, "err", err)
		d = authz.Decision{Reasons: []authz.Reason{{Rule: "policy.error", Message: "the policy could not decide; denied"}}}
	}
	c.revision = d.Revision
	c.resource = res
	c.decision = d
	if d.Allow {
		return nil
	}
	var reasons []string
	for _, r := range d.Reasons {
		reasons = append(reasons, r.Rule+": "+r.Message)
	}
	if len(reasons) == 0 {
		reasons = []string{"policy: no rule allows this"}
	}
	c.s.auditDenial(ctx, c, action, res, reasons)
	c.audited = true
	if c.route != nil && strings.Contains(c.route.Path, "{") && onlyOwnOrg(d.Reasons) {
		// One object of another organisation, or none at all: the same
		// answer for both, naming neither (issue 21). The audit entry keeps
		// the policy's reasons.
		return &deniedError{action: action, reasons: []string{"scope.own_org: not found or not yours"}, message: res.Kind + " not found or not yours"}
	}
	return &deniedError{action: action, reasons: reasons}
}

// onlyOwnOrg reports whether a deny's only reasons are that the object is
// not of the caller's organisation.
func onlyOwnOrg(rs []authz.Reason) bool {
	for _, r := range rs {
		if r.Rule != "scope.own_org" {
			return false
		}
	}
	return len(rs) > 0
}

func (s *Server) auditDenial(ctx context.Context, c *call, action string, res authz.Resource, reasons []string) {
	ev := audit.Event{
		Action:    action,
		Outcome:   "denied",
		Reason:    strings.Join(reasons, "; "),
		Retention: c.retention,
	}
	ev.Objects = objects(res)
	if c.subject.Person.ID == "" {
		ev.Actor = "anonymous"
	}
	if _, err := s.Audit.Append(context.WithoutCancel(ctx), s.event(c, ev)); err != nil {
		s.Log.Error("audit append of a denial failed", "request", c.reqID, "err", err)
	}
}

// event fills the caller's identity, the request id and the time.
func (s *Server) event(c *call, ev audit.Event) audit.Event {
	if ev.Actor == "" {
		ev.Actor = c.subject.Person.ID
		ev.Org = c.subject.Person.Org
	}
	ev.RequestID = c.reqID
	ev.Time = s.Now().UTC()
	if c.revision != "" {
		if ev.Details == nil {
			ev.Details = map[string]string{}
		}
		ev.Details["policy_revision"] = c.revision
	}
	if ev.Retention == "" {
		ev.Retention = "3y"
	}
	return ev
}

// change runs fn in a transaction and appends ev to the audit log before
// the transaction commits, so that nothing takes effect unrecorded. When fn
// fails, the failed attempt is recorded instead.
//
// fn may amend *ev (ids it made, counts) before it is appended.
func (c *call) change(ctx context.Context, ev *audit.Event, fn func(ctx context.Context, q dbtx) error) error {
	ev.Outcome = "ok"
	if ev.Retention == "" {
		ev.Retention = c.retention
	}
	c.audited = true
	err := c.s.DB.Tx(ctx, func(tx dbtx) error { return fn(ctx, tx) }, func(tx dbtx) error {
		idx, err := c.s.Audit.Append(ctx, c.s.event(c, *ev))
		if err != nil {
			return fmt.Errorf("audit append: %w", err)
		}
		return store.RecordAuditIndex(ctx, tx, idx)
	})
	if err != nil {
		failed := *ev
		failed.Outcome = "failed"
		_, class := status(err)
		failed.Reason = class
		if _, aerr := c.s.Audit.Append(context.WithoutCancel(ctx), c.s.event(c, failed)); aerr != nil {
			return errors.Join(err, fmt.Errorf("audit append: %w", aerr))
		}
	}
	return err
}

func (c *call) decode(v any) error { return decodeJSON(c.r.Body, v) }

func (c *call) path(name string) string { return c.r.PathValue(name) }

func (c *call) query(name string) string { return c.r.URL.Query().Get(name) }
