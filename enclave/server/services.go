package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/services"
)

// SystemRole is the role of an application system calling with a
// credential (issue 19): it may call the service its subscription is to
// and nothing else. No person holds it.
const SystemRole people.Role = "consumer-system"

// serviceRoutes are data products as services (issue 19): definition and
// review, subscriptions, credentials, calls, usage and the generated API
// document of each service. The domain is enclave/services.
func (s *Server) serviceRoutes() []route {
	return []route{
		planned(route{Method: "POST", Path: "/v1/services", Action: "service.create", Created: true,
			Summary: "Create a service over a dataset (custodians: their own; operators: under a grant covering it, for its scenario); pending until officers of another organisation approve",
			Request: api.ServiceRequest{}, Response: api.Service{}}, s.serviceCreateResource, s.createService),
		{Method: "GET", Path: "/v1/services", Action: "service.list", Summary: "Every service and its state",
			Response: []api.Service{}, Handle: func(ctx context.Context, c *call) (any, error) {
				ss, err := services.List(ctx, s.DB.SQL())
				if err != nil {
					return nil, err
				}
				out := make([]api.Service, len(ss))
				for i, sv := range ss {
					out[i] = s.serviceView(ctx, sv)
				}
				return out, nil
			}},
		{Method: "GET", Path: "/v1/services/{name}", Action: "service.show", Summary: "One service: definition, review, whether it runs",
			Response: api.Service{}, Resource: s.serviceResource, Handle: func(ctx context.Context, c *call) (any, error) {
				sv, err := services.Get(ctx, s.DB.SQL(), c.path("name"))
				if err != nil {
					return nil, err
				}
				return s.serviceView(ctx, sv), nil
			}},
		{Method: "POST", Path: "/v1/services/{name}/approve", Action: "service.approve", Op: "serviceApprove",
			Summary: "Approve a service (officers of another organisation; two for general-3 and above or authorization-required data)",
			Request: api.ServiceDecision{}, Response: api.Service{}, Resource: s.serviceResource, Handle: s.decideService(services.Approved)},
		{Method: "POST", Path: "/v1/services/{name}/reject", Action: "service.reject", Op: "serviceReject",
			Summary: "Reject a service", Request: api.ServiceDecision{}, Response: api.Service{}, Resource: s.serviceResource,
			Handle: s.decideService(services.Rejected)},
		{Method: "POST", Path: "/v1/services/{name}/stop", Action: "service.stop",
			Summary: "Stop a service for good (its organisation, the authority or the bureau)", Request: api.ServiceDecision{},
			Response: api.Service{}, Resource: s.serviceResource, Handle: s.stopService},
		{Method: "POST", Path: "/v1/services/{name}/subscriptions", Action: "service.subscribe", Created: true,
			Summary: "Subscribe a consumer organisation to an approved service for its scenario; pending until the authority approves",
			Request: api.SubscribeRequest{}, Response: api.Subscription{}, Resource: s.ownOrgResource("service"), Handle: s.subscribe},
		{Method: "GET", Path: "/v1/subscriptions", Action: "subscription.list", Summary: "Subscriptions (consumers: their organisation's)",
			Response: []api.Subscription{}, Resource: s.ownOrgResource("subscription"), Handle: s.listSubscriptions},
		{Method: "POST", Path: "/v1/subscriptions/{id}/approve", Action: "subscription.approve", Op: "subscriptionApprove",
			Summary: "Approve a subscription (the authority)", Response: api.Subscription{}, Resource: s.subscriptionResource,
			Handle: s.decideSubscription(services.Approved)},
		{Method: "POST", Path: "/v1/subscriptions/{id}/reject", Action: "subscription.reject", Op: "subscriptionReject",
			Summary: "Reject a subscription (the authority)", Response: api.Subscription{}, Resource: s.subscriptionResource,
			Handle: s.decideSubscription(services.Rejected)},
		{Method: "GET", Path: "/v1/subscriptions/{id}/statement", Action: "subscription.statement",
			Summary:  "The signed usage statement of a subscription for one day (query: day, YYYY-MM-DD): a DSSE envelope signed as releases are",
			Response: api.SignedStatement{}, Resource: s.subscriptionResource, Handle: s.usageStatement},
		{Method: "POST", Path: "/v1/credentials", Action: "credential.issue", Created: true,
			Summary: "Issue a credential for an application system under an approved subscription of the caller's organisation; the token is shown once",
			Request: api.CredentialRequest{}, Response: api.Credential{}, Resource: s.ownOrgResource("credential"), Handle: s.issueCredential},
		{Method: "GET", Path: "/v1/credentials", Action: "credential.list", Summary: "The credentials of the caller's organisation",
			Response: []api.Credential{}, Resource: s.ownOrgResource("credential"), Handle: func(ctx context.Context, c *call) (any, error) {
				cs, err := services.Credentials(ctx, s.DB.SQL(), c.subject.Org.Name)
				if err != nil {
					return nil, err
				}
				out := make([]api.Credential, len(cs))
				for i, cr := range cs {
					out[i] = credentialView(cr)
				}
				return out, nil
			}},
		{Method: "POST", Path: "/v1/credentials/{id}/revoke", Action: "credential.revoke", Summary: "Revoke a credential of the caller's organisation",
			Response: api.Credential{}, Resource: s.ownOrgResource("credential"), Handle: s.revokeCredential},
		planned(route{Method: "POST", Path: "/v1/services/{name}/verify", Action: "service.verify",
			Summary:  "Compare-verify (an application system's credential): one key, or at most 100; answers match true or false and nothing else",
			Response: api.VerifyAnswer{}}, s.callResource, s.verify),
		planned(route{Method: "POST", Path: "/v1/services/{name}/query", Action: "service.query",
			Summary:  "Query-reference (an application system's credential): one subject's key; answers the service's approved columns of that subject, personal information desensitized",
			Response: api.QueryAnswer{}}, s.callResource, s.query),
		s.bulkRoute(),
		{Method: "GET", Path: "/v1/services/{name}/usage", Action: "service.usage",
			Summary:  "Calls of a service per subscription and day (consumers: their own; custodians: on their datasets; the bureau: all); query: day",
			Response: []api.ServiceUsage{}, Resource: s.serviceResource, Handle: s.serviceUsage},
		{Method: "GET", Path: "/v1/services/{name}/openapi.json", Action: "service.openapi",
			Summary: "The OpenAPI document of one service, generated from its definition", Resource: s.serviceResource, Handle: s.serviceOpenAPI},
	}
}

// credentialSubject turns a credential token into the subject of an
// application system: role SystemRole in the credential's organisation.
func (s *Server) credentialSubject(ctx context.Context, tok string) (people.Subject, error) {
	if s.services == nil {
		return people.Subject{}, fmt.Errorf("token is unknown, expired or revoked: %w", errdefs.ErrUnauthenticated)
	}
	cl, err := s.services.Authenticate(ctx, tok)
	if err != nil {
		return people.Subject{}, err
	}
	return people.Subject{Person: people.Person{ID: cl.Credential, Name: cl.System, Org: cl.Org.Name, Roles: []people.Role{SystemRole}},
		Org: cl.Org, TokenID: cl.Credential}, nil
}

func (s *Server) ownOrgResource(kind string) func(ctx context.Context, c *call) (authz.Resource, error) {
	return func(ctx context.Context, c *call) (authz.Resource, error) {
		return resource(kind, c.path("name")+c.path("id"), c.subject.Org.Name), nil
	}
}

func (s *Server) serviceResource(ctx context.Context, c *call) (authz.Resource, error) {
	sv, err := services.Get(ctx, s.DB.SQL(), c.path("name"))
	if err != nil {
		return authz.Resource{}, err
	}
	res := resource("service", sv.Name, sv.Org)
	res.Owner = sv.CreatedBy
	if sv.Market == "authorized" || sv.Market == "withheld" {
		c.retention = "5y"
	}
	return res, nil
}

func (s *Server) subscriptionResource(ctx context.Context, c *call) (authz.Resource, error) {
	sub, err := services.GetSubscription(ctx, s.DB.SQL(), c.path("id"))
	if err != nil {
		return authz.Resource{}, err
	}
	res := resource("subscription", sub.ID, sub.Org)
	res.Owner = sub.Person
	return res, nil
}

func (s *Server) serviceCreateResource(ctx context.Context, c *call) (authz.Resource, api.ServiceRequest, error) {
	var req api.ServiceRequest
	if err := c.decode(&req); err != nil {
		return authz.Resource{}, req, err
	}
	return resource("service", req.Name, c.subject.Org.Name), req, nil
}

// newestReadable is the newest version of a dataset that may be read.
func (s *Server) newestReadable(ctx context.Context, name string) (*datasets.Version, error) {
	vs, err := s.Catalog.Versions(ctx, s.DB.SQL(), name)
	if err != nil {
		return nil, err
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Readable() == nil {
			return vs[i], nil
		}
	}
	return nil, vs[len(vs)-1].Readable()
}

func (s *Server) createService(ctx context.Context, c *call, req api.ServiceRequest, _ none) (any, error) {
	if req.Export != "" {
		return s.createOnExport(ctx, c, req)
	}
	rate, err := services.ParseRate(req.Rate)
	if err != nil {
		return nil, err
	}
	if req.Dataset == "" {
		return nil, fmt.Errorf("a service needs a dataset (--dataset): %w", errdefs.ErrInvalidArgument)
	}
	v, err := s.newestReadable(ctx, req.Dataset)
	if err != nil {
		return nil, err
	}
	sv := &services.Service{Name: req.Name, Mode: req.Mode, Key: req.Key, Match: req.Match, Columns: req.Columns, Scenario: req.Scenario,
		RatePerMin: rate, DailyMisses: req.DailyMisses}
	by := services.Creator{Person: c.subject.Person.ID, Org: c.subject.Org.Name,
		Custodian: c.subject.Person.HasRole(people.Custodian), Operator: c.subject.Person.HasRole(people.Operator)}
	ev := audit.Event{Action: c.route.Action, Objects: []string{"service:" + req.Name, "dataset:" + v.ID()}}
	err = c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		if err := services.Define(ctx, tx, sv, v, by, s.Now()); err != nil {
			return err
		}
		ev.Details = map[string]string{"mode": sv.Mode, "key": sv.Key, "match": strings.Join(sv.Match, ","), "columns": strings.Join(sv.Columns, ","), "grant": sv.Grant,
			"rate_per_min": strconv.Itoa(sv.RatePerMin)}
		return services.Create(ctx, tx, sv)
	})
	if err != nil {
		return nil, err
	}
	return s.serviceView(ctx, sv), nil
}

func (s *Server) decideService(decision string) func(ctx context.Context, c *call) (any, error) {
	return func(ctx context.Context, c *call) (any, error) {
		var req api.ServiceDecision
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		name := c.path("name")
		var sv *services.Service
		ev := audit.Event{Action: c.route.Action, Objects: []string{"service:" + name}, Reason: req.Comment}
		err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
			var err error
			sv, err = services.Decide(ctx, tx, name, c.subject.Person.ID, c.subject.Org.Name, decision, req.Comment, s.Now())
			if err != nil {
				return err
			}
			ev.Details = map[string]string{"state": sv.State, "approvals": strconv.Itoa(len(sv.Approvers)), "needed": strconv.Itoa(sv.Needed())}
			return nil
		})
		if err != nil {
			return nil, err
		}
		s.services.Forget(name)
		return s.serviceView(ctx, sv), nil
	}
}

func (s *Server) stopService(ctx context.Context, c *call) (any, error) {
	var req api.ServiceDecision
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	name := c.path("name")
	ev := audit.Event{Action: c.route.Action, Objects: []string{"service:" + name}, Reason: req.Comment}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE services SET state = 'stopped', comment = ? WHERE name = ? AND state != 'stopped'`, req.Comment, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("service %q is already stopped: %w", name, errdefs.ErrFailedPrecondition)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.services.Forget(name)
	sv, err := services.Get(ctx, s.DB.SQL(), name)
	if err != nil {
		return nil, err
	}
	return s.serviceView(ctx, sv), nil
}

func (s *Server) subscribe(ctx context.Context, c *call) (any, error) {
	var req api.SubscribeRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	name := c.path("name")
	var sub *services.Subscription
	ev := audit.Event{Action: c.route.Action, Objects: []string{"service:" + name}}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		if err := grants.CheckStanding(ctx, tx, c.subject.Org.Name, nil, s.Now()); err != nil {
			return err
		}
		var err error
		sub, err = services.Subscribe(ctx, tx, name, c.subject.Org.Name, c.subject.Person.ID, req.Scenario, req.Until, req.PublicInterest, s.Now())
		if err != nil {
			return err
		}
		ev.Objects = append(ev.Objects, "subscription:"+sub.ID)
		ev.Details = map[string]string{"until": sub.Until, "public_interest": fmt.Sprint(sub.PublicInterest)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return subscriptionView(sub), nil
}

func (s *Server) listSubscriptions(ctx context.Context, c *call) (any, error) {
	org := ""
	if !c.subject.Person.HasRole(people.Authority) && !c.subject.Person.HasRole(people.Bureau) {
		org = c.subject.Org.Name
	}
	subs, err := services.Subscriptions(ctx, s.DB.SQL(), org)
	if err != nil {
		return nil, err
	}
	out := make([]api.Subscription, len(subs))
	for i, sub := range subs {
		out[i] = subscriptionView(sub)
	}
	return out, nil
}

func (s *Server) decideSubscription(decision string) func(ctx context.Context, c *call) (any, error) {
	return func(ctx context.Context, c *call) (any, error) {
		id := c.path("id")
		var sub *services.Subscription
		ev := audit.Event{Action: c.route.Action, Objects: []string{"subscription:" + id}}
		err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
			var err error
			sub, err = services.DecideSubscription(ctx, tx, id, c.subject.Person.ID, decision)
			if err == nil {
				ev.Objects = append(ev.Objects, "service:"+sub.Service)
				ev.Details = map[string]string{"public_interest": fmt.Sprint(sub.PublicInterest), "class": sub.Class()}
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		s.services.Forget(sub.Service)
		return subscriptionView(sub), nil
	}
}

func (s *Server) issueCredential(ctx context.Context, c *call) (any, error) {
	var req api.CredentialRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	var cr *services.Credential
	ev := audit.Event{Action: c.route.Action, Objects: []string{"subscription:" + req.Subscription}}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		var err error
		if req.CSR != "" {
			cr, err = services.IssueCert(ctx, tx, s.ClientCA, req.Subscription, c.subject.Org.Name, req.System, c.subject.Person.ID, []byte(req.CSR), s.Now())
		} else {
			cr, err = services.Issue(ctx, tx, req.Subscription, c.subject.Org.Name, req.System, c.subject.Person.ID, s.Now())
		}
		if err == nil {
			ev.Objects = append(ev.Objects, "credential:"+cr.ID, "service:"+cr.Service)
			ev.Details = map[string]string{"system": cr.System, "until": cr.Until, "kind": cr.Kind}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return credentialView(cr), nil
}

func (s *Server) revokeCredential(ctx context.Context, c *call) (any, error) {
	id := c.path("id")
	var cr *services.Credential
	ev := audit.Event{Action: c.route.Action, Objects: []string{"credential:" + id}}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		var err error
		cr, err = services.Revoke(ctx, tx, id, c.subject.Org.Name, s.Now())
		return err
	})
	if err != nil {
		return nil, err
	}
	s.services.Forget(cr.Service)
	return credentialView(cr), nil
}

// callResource is the resource of a call: the service in the caller's
// organisation when the credential's subscription is to it, else in none
// (the policy then refuses).
func (s *Server) callResource(ctx context.Context, c *call) (authz.Resource, *services.Caller, error) {
	name := c.path("name")
	org := ""
	var caller *services.Caller
	if s.services != nil {
		if cl, err := s.callerOf(ctx, c.r); err == nil && cl.Service == name {
			org = cl.Org.Name
			caller = &cl
		}
	}
	return resource("service", name, org), caller, nil
}

func bearer(r *http.Request) string {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return tok
}

// verify answers a compare-verify call: the rate limit and the
// enumeration guard, then each key looked up, each on the audit log (by
// its keyed hash only) before the answer is sent.
func (s *Server) verify(ctx context.Context, c *call, caller *services.Caller, req api.VerifyRequest) (any, error) {
	if caller == nil {
		return nil, fmt.Errorf("the credential's subscription is not to this service: %w", errdefs.ErrPermissionDenied)
	}
	cl := *caller
	items := req.Keys
	batch := len(items) > 0
	if batch && (req.Key != "" || req.Claims != nil) {
		return nil, fmt.Errorf("a call carries key (one subject) or keys (a batch), not both: %w", errdefs.ErrInvalidArgument)
	}
	if !batch {
		items = []api.VerifyItem{{Key: req.Key, Claims: req.Claims}}
	}
	if len(items) > services.MaxBatch {
		return nil, fmt.Errorf("a batch verify carries at most %d keys, not %d: %w", services.MaxBatch, len(items), errdefs.ErrInvalidArgument)
	}
	name := c.path("name")
	sv, wait, err := s.services.Admit(ctx, cl, name, len(items))
	if err != nil {
		if wait > 0 {
			c.w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		}
		return nil, err
	}
	reqs := make([]services.Request, len(items))
	for i, it := range items {
		reqs[i] = services.Request{Key: it.Key, Claims: it.Claims}
		if err := sv.CheckRequest(reqs[i]); err != nil {
			if batch {
				return nil, fmt.Errorf("keys[%d]: %w", i, err)
			}
			return nil, err
		}
	}
	answers := make([]services.Answer, len(reqs))
	for i, r := range reqs {
		if answers[i], err = s.services.Verify(ctx, cl, sv, r); err != nil {
			return nil, err
		}
	}
	if err := s.auditCalls(ctx, c, cl, sv, answers); err != nil {
		return nil, err
	}
	out := make([]api.VerifyAnswer, len(answers))
	for i, a := range answers {
		out[i] = api.VerifyAnswer{Match: a.Match, Columns: a.Columns}
	}
	if !batch {
		return out[0], nil
	}
	return api.VerifyBatchAnswer{Results: out}, nil
}

// auditCalls appends one entry per key, all at once so that the audit
// log's group commit writes them with one sync, as consecutive entries;
// all are on disk before it returns.
func (s *Server) auditCalls(ctx context.Context, c *call, cl services.Caller, sv *services.Service, answers []services.Answer) error {
	ev := func(a services.Answer) audit.Event {
		result := "no-match"
		if a.Match {
			result = "match"
		}
		return audit.Event{Action: "service.verify", Outcome: "ok",
			Objects: []string{"service:" + sv.Name, "subscription:" + cl.Subscription, "credential:" + cl.Credential},
			Details: map[string]string{"system": cl.System, "key_hash": a.KeyHash, "result": result}}
	}
	if len(answers) == 1 {
		return c.record(ctx, ev(answers[0]))
	}
	evs := make([]audit.Event, len(answers))
	for i, a := range answers {
		e := ev(a)
		if e.Retention == "" {
			e.Retention = c.retention
		}
		evs[i] = s.event(c, e)
	}
	c.audited = true
	if all, ok := s.Audit.(interface {
		AppendAll(context.Context, []audit.Event) (uint64, error)
	}); ok {
		// One call's keys are consecutive entries of one group commit.
		if _, err := all.AppendAll(ctx, evs); err != nil {
			return fmt.Errorf("audit append: %w", err)
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(evs))
	for i, e := range evs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Audit.Append(ctx, e)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("audit append: %w", err)
		}
	}
	return nil
}

func (s *Server) serviceUsage(ctx context.Context, c *call) (any, error) {
	f := services.UsageFilter{Service: c.path("name"), Day: c.query("day")}
	p := c.subject.Person
	switch {
	case p.HasRole(people.Bureau):
	case p.HasRole(people.Custodian):
		f.Custodian = c.subject.Org.Name
	default:
		f.Org = c.subject.Org.Name
	}
	rows, err := s.services.Usage(ctx, f)
	if err != nil {
		return nil, err
	}
	if rows == nil {
		rows = []api.ServiceUsage{} // an empty list, not null
	}
	return rows, nil
}

func (s *Server) serviceView(ctx context.Context, sv *services.Service) api.Service {
	v := api.Service{Name: sv.Name, Mode: sv.Mode, Dataset: sv.Dataset, Version: sv.Version, Key: sv.Key, Match: sv.Match, Columns: sv.Columns,
		Export: sv.Export, File: sv.File, Scenario: sv.Scenario, RatePerMin: sv.RatePerMin, DailyMisses: sv.DailyMisses, Org: sv.Org, Grant: sv.Grant, Until: sv.Until,
		Level: sv.Level, Market: sv.Market, State: sv.State, Comment: sv.Comment, CreatedBy: sv.CreatedBy, CreatedAt: sv.CreatedAt,
		Approvers: sv.Approvers, Needed: sv.Needed()}
	if v.Match == nil {
		v.Match = []string{}
	}
	if sv.State == services.Approved {
		if err := services.Standing(ctx, s.DB.SQL(), s.Catalog, sv, s.Now()); err != nil {
			v.Stopped = err.Error()
		} else {
			v.Running = true
		}
	}
	return v
}

func subscriptionView(s *services.Subscription) api.Subscription {
	return api.Subscription{ID: s.ID, Service: s.Service, Org: s.Org, Person: s.Person, Scenario: s.Scenario, Until: s.Until,
		State: s.State, DecidedBy: s.DecidedBy, CreatedAt: s.CreatedAt, PublicInterest: s.PublicInterest}
}

func credentialView(c *services.Credential) api.Credential {
	return api.Credential{ID: c.ID, Subscription: c.Subscription, Service: c.Service, Org: c.Org, System: c.System, Until: c.Until,
		CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt, Revoked: c.Revoked, Kind: c.Kind, Token: c.Token,
		Certificate: c.Certificate}
}

func (s *Server) usageStatement(ctx context.Context, c *call) (any, error) {
	sub, err := services.GetSubscription(ctx, s.DB.SQL(), c.path("id"))
	if err != nil {
		return nil, err
	}
	pub, err := s.Keyring.PublicKey(ctx)
	if err != nil {
		return nil, err
	}
	env, err := s.services.Statement(ctx, sub, c.query("day"), s.prices().Currency, pub,
		func(msg []byte) ([]byte, error) { return s.Keyring.Sign(ctx, msg) })
	if err != nil {
		return nil, err
	}
	out := api.SignedStatement{PayloadType: env.PayloadType, Payload: env.Payload}
	for _, sg := range env.Signatures {
		out.Signatures = append(out.Signatures, api.StatementSigner{KeyID: sg.KeyID, Sig: sg.Sig})
	}
	return out, nil
}

// query answers a query-reference call: one subject, the rate limit and
// the enumeration guard, its audit entry (the key's keyed hash, whether it
// was found, how many rows) on the log before the answer is sent.
func (s *Server) query(ctx context.Context, c *call, caller *services.Caller, req api.QueryRequest) (any, error) {
	if caller == nil {
		return nil, fmt.Errorf("the credential's subscription is not to this service: %w", errdefs.ErrPermissionDenied)
	}
	cl := *caller
	sv, wait, err := s.services.Admit(ctx, cl, c.path("name"), 1)
	if err != nil {
		if wait > 0 {
			c.w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		}
		return nil, err
	}
	if err := sv.CheckRequest(services.Request{Key: req.Key}); err != nil {
		return nil, err
	}
	a, err := s.services.Query(ctx, cl, sv, req.Key)
	if err != nil {
		return nil, err
	}
	result := "not-found"
	if a.Found {
		result = "found"
	}
	ev := audit.Event{Action: "service.query", Outcome: "ok",
		Objects: []string{"service:" + sv.Name, "subscription:" + cl.Subscription, "credential:" + cl.Credential},
		Details: map[string]string{"system": cl.System, "key_hash": a.KeyHash, "result": result, "rows": strconv.Itoa(len(a.Rows)),
			"columns": strings.Join(sv.Columns, ",")}}
	if err := c.record(ctx, ev); err != nil {
		return nil, err
	}
	rows := a.Rows
	if rows == nil {
		rows = []map[string]string{}
	}
	return api.QueryAnswer{Found: a.Found, Rows: rows}, nil
}
