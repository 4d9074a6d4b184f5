package server

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/pii"
	policy "github.com/enclave-dev/enclave/policies"
)

type dbtx = *sql.Tx

func (s *Server) peopleRoutes() []route {
	return []route{
		{Method: "GET", Path: "/v1/whoami", Action: "whoami", Summary: "The caller: person, organisation, token", Response: api.Whoami{},
			Handle: func(ctx context.Context, c *call) (any, error) {
				return api.Whoami{Person: personView(c.subject.Person), Org: orgView(c.subject.Org), TokenID: c.subject.TokenID}, nil
			}},
		{Method: "GET", Path: "/v1/keys/public", Action: "keys.public", Summary: "The enclave's signing public key", Response: api.PublicKey{},
			Handle: func(ctx context.Context, c *call) (any, error) {
				pub, err := s.Keyring.PublicKey(ctx)
				if err != nil {
					return nil, err
				}
				return api.PublicKey{Algorithm: "ed25519", Key: base64.StdEncoding.EncodeToString(pub), Keyring: s.Keyring.Name()}, nil
			}},
		planned(route{Method: "POST", Path: "/v1/orgs", Action: "org.add", Summary: "License an organisation", Request: api.OrgRequest{}, Created: true},
			s.orgAddResource, s.addOrg),
		{Method: "GET", Path: "/v1/orgs", Action: "org.list", Summary: "List organisations", Response: []api.Org{},
			Handle: func(ctx context.Context, c *call) (any, error) {
				os, err := people.ListOrgs(ctx, s.DB.SQL())
				if err != nil {
					return nil, err
				}
				return views(os, orgView), nil
			}},
		{Method: "GET", Path: "/v1/orgs/{name}", Action: "org.show", Summary: "Show an organisation, its licence application and the terms of its licence", Response: api.Org{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("org", c.path("name"), c.path("name")), nil
			},
			Handle: s.showOrg},
		planned(route{Method: "POST", Path: "/v1/orgs/{name}/renew", Action: "org.renew", Summary: "Renew an organisation's licence (in its last three months, for at most two years)", Request: api.RenewRequest{}},
			s.orgRenewResource, s.renewOrg),
		s.orgStatusRoute("suspend", people.Suspended),
		s.orgStatusRoute("reinstate", people.Active),
		s.orgStatusRoute("blacklist", people.Blacklisted),
		s.orgStatusRoute("revoke", people.Revoked),
		{Method: "POST", Path: "/v1/people", Action: "person.add", Summary: "Register a person and issue their first token", Request: api.PersonRequest{}, Response: api.PersonCreated{}, Created: true,
			Handle: s.addPerson},
		{Method: "GET", Path: "/v1/people", Action: "person.list", Summary: "List people", Response: []api.Person{},
			Handle: func(ctx context.Context, c *call) (any, error) {
				ps, err := people.ListPeople(ctx, s.DB.SQL(), c.query("org"))
				if err != nil {
					return nil, err
				}
				return views(ps, personView), nil
			}},
		{Method: "GET", Path: "/v1/people/{id}", Action: "person.show", Summary: "Show a person", Response: api.Person{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("person", c.path("id"), ""), nil
			},
			Handle: func(ctx context.Context, c *call) (any, error) {
				p, err := people.GetPerson(ctx, s.DB.SQL(), c.path("id"))
				if err != nil {
					return nil, err
				}
				return personView(p), nil
			}},
		{Method: "POST", Path: "/v1/people/{id}/agreement", Action: "person.agreement", Summary: "Record a renewed confidentiality agreement", Request: api.AgreementRequest{}, Response: api.Person{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("person", c.path("id"), ""), nil
			},
			Handle: s.renewAgreement},
		{Method: "GET", Path: "/v1/people/{id}/tokens", Action: "token.list", Summary: "List a person's tokens (never the tokens themselves)", Response: []api.Token{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("person", c.path("id"), ""), nil
			},
			Handle: func(ctx context.Context, c *call) (any, error) {
				if _, err := people.GetPerson(ctx, s.DB.SQL(), c.path("id")); err != nil {
					return nil, err
				}
				ts, err := people.ListTokens(ctx, s.DB.SQL(), c.path("id"))
				if err != nil {
					return nil, err
				}
				return views(ts, tokenView), nil
			}},
		{Method: "POST", Path: "/v1/people/{id}/tokens", Action: "token.issue", Summary: "Issue a new token for a person", Response: api.TokenIssued{}, Created: true,
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("person", c.path("id"), ""), nil
			},
			Handle: s.issueToken},
		{Method: "POST", Path: "/v1/tokens/{id}/revoke", Action: "token.revoke", Summary: "Revoke a token", Response: api.Token{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("token", c.path("id"), ""), nil
			},
			Handle: s.revokeToken},
	}
}

// orgAddResource validates a licence application and describes it to the
// policy: the organisation, its licence period and what the register knows
// of its unified social credit code.
func (s *Server) orgAddResource(ctx context.Context, c *call) (authz.Resource, api.OrgRequest, error) {
	var req api.OrgRequest
	if err := c.decode(&req); err != nil {
		return authz.Resource{}, api.OrgRequest{}, err
	}
	if err := people.ValidName("organisation", req.Name); err != nil {
		return authz.Resource{}, api.OrgRequest{}, err
	}
	if _, err := people.ParseOrgType(req.Type); err != nil {
		return authz.Resource{}, api.OrgRequest{}, err
	}
	uscc, err := people.CheckUSCC(req.USCC)
	if err != nil {
		return authz.Resource{}, api.OrgRequest{}, err
	}
	req.USCC = uscc
	if err := people.CheckApplication(licenceApplication(req)); err != nil {
		return authz.Resource{}, api.OrgRequest{}, err
	}
	if req.LicenceFrom == "" {
		req.LicenceFrom = s.Now().UTC().Format(people.DateLayout)
	}
	from, err := people.ParseDate("licence_from", req.LicenceFrom)
	if err != nil {
		return authz.Resource{}, api.OrgRequest{}, err
	}
	if req.LicenceUntil == "" {
		return authz.Resource{}, api.OrgRequest{}, fmt.Errorf("licence_until is required: %w", errdefs.ErrInvalidArgument)
	}
	until, err := people.ParseDate("licence_until", req.LicenceUntil)
	if err != nil {
		return authz.Resource{}, api.OrgRequest{}, err
	}
	if err := people.CheckLicence(from, until); err != nil {
		return authz.Resource{}, api.OrgRequest{}, err
	}
	lic, _, err := s.licensing(ctx, s.DB.SQL(), uscc)
	if err != nil {
		return authz.Resource{}, api.OrgRequest{}, err
	}
	res := resource("org", req.Name, req.Name)
	res.From, res.Until = authz.Day(req.LicenceFrom, false), authz.Day(req.LicenceUntil, true)
	res.Licensing = lic
	return res, req, nil
}

// licenceApplication is the licence application of an organisation request.
func licenceApplication(r api.OrgRequest) people.Application {
	return people.Application{BusinessScope: r.BusinessScope, SecurityLead: r.SecurityLead, Principal: r.Principal, DataDisposal: r.DataDisposal}
}

// licensing looks a unified social credit code up in the register: what
// the policy decides on (blacklisted or revoked under any name), and the
// organisation that holds it now, if any.
func (s *Server) licensing(ctx context.Context, q people.Querier, uscc string) (*policy.Licensing, string, error) {
	lic := &policy.Licensing{}
	if uscc == "" {
		return lic, "", nil
	}
	rec, err := people.LookupUSCC(ctx, q, uscc, s.Now().UTC().Format(people.DateLayout))
	if err != nil {
		return nil, "", err
	}
	lic.BlacklistedAs, lic.RevokedAs = rec.Blacklisted, rec.Revoked
	if !rec.RevokedAt.IsZero() {
		t := rec.RevokedAt.UTC()
		lic.RevokedAt = &t
	}
	return lic, rec.HeldBy, nil
}

// usccDigest names a unified social credit code in audit entries without
// the code: a keyed hash under the keyring's "id-number" secret.
func (s *Server) usccDigest(ctx context.Context, uscc string) (string, error) {
	key, err := s.Keyring.Secret(ctx, "id-number")
	if err != nil {
		return "", err
	}
	return people.HashIDNumber(key, uscc)[:16], nil
}

func (s *Server) addOrg(ctx context.Context, c *call, req api.OrgRequest, _ none) (api.Org, error) {
	typ, _ := people.ParseOrgType(req.Type)
	now := s.Now().UTC()
	o := people.Org{Name: req.Name, Type: typ, USCC: req.USCC, LicenceFrom: req.LicenceFrom, LicenceUntil: req.LicenceUntil,
		Application: licenceApplication(req), Status: people.Active, StatusReason: "licensed", StatusAt: now, CreatedAt: now, UpdatedAt: now}
	digest, err := s.usccDigest(ctx, o.USCC)
	if err != nil {
		return api.Org{}, err
	}
	ev := audit.Event{Action: "org.add", Objects: []string{"org:" + o.Name},
		Details: map[string]string{"type": string(typ), "licence_from": o.LicenceFrom, "licence_until": o.LicenceUntil, "uscc_digest": digest}}
	err = c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		// One organisation holds a code at a time; the policy has refused
		// codes that were blacklisted or revoked.
		_, held, err := s.licensing(ctx, tx, o.USCC)
		if err != nil {
			return err
		}
		if held != "" {
			return fmt.Errorf("organisation identity: the unified social credit code is already held by organisation %q: %w", held, errdefs.ErrAlreadyExists)
		}
		if err := people.CreateOrg(ctx, tx, o); err != nil {
			return err
		}
		o.Licences, err = people.ListLicences(ctx, tx, o.Name)
		return err
	})
	return orgView(o), err
}

func (s *Server) showOrg(ctx context.Context, c *call) (any, error) {
	o, err := people.GetOrg(ctx, s.DB.SQL(), c.path("name"))
	if err != nil {
		return nil, err
	}
	o.Licences, err = people.ListLicences(ctx, s.DB.SQL(), o.Name)
	return orgView(o), err
}

// orgRenewResource validates a renewal and describes it to the policy: the
// new term (from the day after the current licence ends), the current
// licence's end and the organisation's status.
func (s *Server) orgRenewResource(ctx context.Context, c *call) (authz.Resource, renewal, error) {
	var req api.RenewRequest
	if err := c.decode(&req); err != nil {
		return authz.Resource{}, renewal{}, err
	}
	if req.LicenceUntil == "" {
		return authz.Resource{}, renewal{}, fmt.Errorf("licence_until is required: %w", errdefs.ErrInvalidArgument)
	}
	until, err := people.ParseDate("licence_until", req.LicenceUntil)
	if err != nil {
		return authz.Resource{}, renewal{}, err
	}
	name := c.path("name")
	o, err := people.GetOrg(ctx, s.DB.SQL(), name)
	if err != nil {
		return authz.Resource{}, renewal{}, err
	}
	cur, err := people.ParseDate("licence_until", o.LicenceUntil)
	if err != nil {
		return authz.Resource{}, renewal{}, fmt.Errorf("organisation %q has no licence on record: %w", name, errdefs.ErrFailedPrecondition)
	}
	from := cur.AddDate(0, 0, 1)
	if err := people.CheckLicence(from, until); err != nil {
		return authz.Resource{}, renewal{}, err
	}
	lic, _, err := s.licensing(ctx, s.DB.SQL(), o.USCC)
	if err != nil {
		return authz.Resource{}, renewal{}, err
	}
	lic.LicenceUntil, lic.Status = authz.Day(o.LicenceUntil, true), string(o.Status)
	res := resource("org", name, name)
	res.From, res.Until = authz.Day(from.Format(people.DateLayout), false), authz.Day(req.LicenceUntil, true)
	res.Licensing = lic
	return res, renewal{term: people.LicenceTerm{From: from.Format(people.DateLayout), Until: req.LicenceUntil}, was: o.LicenceUntil}, nil
}

// renewal is a renewal as the policy decided on it: the new term and the
// end of the licence it follows.
type renewal struct {
	term people.LicenceTerm
	was  string
}

func (s *Server) renewOrg(ctx context.Context, c *call, r renewal, _ none) (api.Org, error) {
	term, was := r.term, r.was
	term.RecordedBy, term.RecordedAt = c.subject.Person.ID, s.Now().UTC()
	name := c.path("name")
	var out people.Org
	ev := audit.Event{Action: "org.renew", Objects: []string{"org:" + name},
		Details: map[string]string{"licence_until_was": was, "term_from": term.From, "term_until": term.Until}}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		o, err := people.GetOrg(ctx, tx, name)
		if err != nil {
			return err
		}
		if o.LicenceUntil != was || o.Status != people.Active {
			return fmt.Errorf("organisation %q changed while its renewal was decided: %w", name, errdefs.ErrFailedPrecondition)
		}
		if err := people.RenewLicence(ctx, tx, name, term); err != nil {
			return err
		}
		if out, err = people.GetOrg(ctx, tx, name); err != nil {
			return err
		}
		out.Licences, err = people.ListLicences(ctx, tx, name)
		return err
	})
	return orgView(out), err
}

func (s *Server) orgStatusRoute(verb string, to people.OrgStatus) route {
	action := "org." + verb
	return route{Method: "POST", Path: "/v1/orgs/{name}/" + verb, Action: action,
		Summary: "Set an organisation's status to " + string(to) + ", with a reason", Request: api.StatusRequest{}, Response: api.Org{},
		Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
			return resource("org", c.path("name"), c.path("name")), nil
		},
		Handle: func(ctx context.Context, c *call) (any, error) {
			var req api.StatusRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			req.Reason = strings.TrimSpace(req.Reason)
			if req.Reason == "" || len(req.Reason) > 1000 {
				return nil, fmt.Errorf("reason is required (at most 1000 bytes): %w", errdefs.ErrInvalidArgument)
			}
			name := c.path("name")
			var out people.Org
			ev := audit.Event{Action: action, Objects: []string{"org:" + name}, Reason: req.Reason,
				Details: map[string]string{"status": string(to)}}
			err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
				o, err := people.GetOrg(ctx, tx, name)
				if err != nil {
					return err
				}
				if err := people.Transition(o.Status, to); err != nil {
					return err
				}
				if err := people.SetOrgStatus(ctx, tx, name, to, req.Reason, s.Now()); err != nil {
					return err
				}
				if err := s.followOrg(ctx, c, tx, name, to, req.Reason, &ev); err != nil { // its grants (issue 18)
					return err
				}
				out, err = people.GetOrg(ctx, tx, name)
				return err
			})
			if err == nil && to != people.Active && s.Jobs != nil {
				// An organisation that may no longer act has its running
				// and queued jobs stopped at once.
				s.stopOrgJobs(ctx, c, name, fmt.Sprintf("organisation %s: %s", to, req.Reason))
			}
			if err == nil && (to == people.Revoked || to == people.Blacklisted) && s.Catalog != nil {
				// Its own uploads die with its licence (issue 20, R-13), after its jobs stopped.
				if derr := s.destroyOrgUploads(ctx, c, name, req.Reason); derr != nil {
					return orgView(out), fmt.Errorf("organisation %s is %s, but destroying its uploads failed: %w", name, to, derr)
				}
			}
			return orgView(out), err
		}}
}

func (s *Server) addPerson(ctx context.Context, c *call) (any, error) {
	var req api.PersonRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := people.ValidName("person", req.Name); err != nil {
		return nil, err
	}
	roles, err := people.ParseRoles(req.Roles)
	if err != nil {
		return nil, err
	}
	now := s.Now().UTC()
	if err := people.CheckIDNumber(req.IDNumber, now); err != nil {
		return nil, err
	}
	ag, err := people.CheckAgreement(roles, people.Agreement{AgreementFrom: req.AgreementFrom, AgreementUntil: req.AgreementUntil, AgreementLiability: req.AgreementLiability}, now)
	if err != nil {
		return nil, err
	}
	key, err := s.Keyring.Secret(ctx, "id-number")
	if err != nil {
		return nil, err
	}
	idHash := people.HashIDNumber(key, req.IDNumber)
	p := people.Person{ID: people.NewID("p_"), Name: req.Name, Org: req.Org, Roles: roles, IDNumberMasked: pii.MaskResidentID(req.IDNumber),
		Agreement: ag, CreatedAt: now, CreatedBy: c.subject.Person.ID}
	tok, hash, err := people.NewToken()
	if err != nil {
		return nil, err
	}
	t := people.Token{ID: people.NewID("t_"), Person: p.ID, CreatedAt: now, ExpiresAt: now.Add(s.TokenTTL)}
	rs := make([]string, len(roles))
	for i, r := range roles {
		rs[i] = string(r)
	}
	ev := audit.Event{Action: "person.add", Objects: []string{"person:" + p.ID, "org:" + p.Org, "token:" + t.ID},
		Details: map[string]string{"roles": strings.Join(rs, ","), "id_number_verified": "true",
			"agreement_from": ag.AgreementFrom, "agreement_until": ag.AgreementUntil}}
	err = c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		if _, err := people.GetOrg(ctx, tx, p.Org); err != nil {
			if errdefs.IsNotFound(err) {
				return fmt.Errorf("organisation %q does not exist: %w", p.Org, errdefs.ErrInvalidArgument)
			}
			return err
		}
		if err := people.CreatePerson(ctx, tx, p, idHash); err != nil {
			return err
		}
		return people.CreateToken(ctx, tx, t, hash)
	})
	if err != nil {
		return nil, err
	}
	return api.PersonCreated{Person: personView(p), Token: tok, TokenID: t.ID, TokenExpiresAt: t.ExpiresAt}, nil
}

// renewAgreement records a person's renewed confidentiality agreement; a
// person whose agreement lapsed may act again once it is recorded.
func (s *Server) renewAgreement(ctx context.Context, c *call) (any, error) {
	var req api.AgreementRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.Until == "" {
		return nil, fmt.Errorf("%s: until is required: %w", people.RuleAgreement, errdefs.ErrInvalidArgument)
	}
	id := c.path("id")
	var p people.Person
	ev := audit.Event{Action: "person.agreement", Objects: []string{"person:" + id}, Details: map[string]string{"until": req.Until}}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		cur, err := people.GetPerson(ctx, tx, id)
		if err != nil {
			return err
		}
		ag, err := people.CheckAgreement(cur.Roles, people.Agreement{AgreementFrom: req.From, AgreementUntil: req.Until, AgreementLiability: req.Liability}, s.Now())
		if err != nil {
			return err
		}
		ev.Details["from"] = ag.AgreementFrom
		if ev.Details["was_until"] = cur.AgreementUntil; cur.AgreementUntil == "" {
			ev.Details["was_until"] = "none"
		}
		if err := people.SetAgreement(ctx, tx, id, ag); err != nil {
			return err
		}
		p, err = people.GetPerson(ctx, tx, id)
		return err
	})
	return personView(p), err
}

func (s *Server) issueToken(ctx context.Context, c *call) (any, error) {
	id := c.path("id")
	now := s.Now().UTC()
	tok, hash, err := people.NewToken()
	if err != nil {
		return nil, err
	}
	t := people.Token{ID: people.NewID("t_"), Person: id, CreatedAt: now, ExpiresAt: now.Add(s.TokenTTL)}
	ev := audit.Event{Action: "token.issue", Objects: []string{"person:" + id, "token:" + t.ID}}
	err = c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		if _, err := people.GetPerson(ctx, tx, id); err != nil {
			return err
		}
		return people.CreateToken(ctx, tx, t, hash)
	})
	if err != nil {
		return nil, err
	}
	return api.TokenIssued{ID: t.ID, Person: id, Token: tok, ExpiresAt: t.ExpiresAt}, nil
}

func (s *Server) revokeToken(ctx context.Context, c *call) (any, error) {
	id := c.path("id")
	var t people.Token
	ev := audit.Event{Action: "token.revoke", Objects: []string{"token:" + id}}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		if err := people.RevokeToken(ctx, tx, id, c.subject.Person.ID, s.Now()); err != nil {
			return err
		}
		var err error
		t, err = people.GetToken(ctx, tx, id)
		return err
	})
	return tokenView(t), err
}
