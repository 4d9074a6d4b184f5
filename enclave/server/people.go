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
)

type dbtx = *sql.Tx

func (s *Server) peopleRoutes() []route {
	return []route{
		{Method: "GET", Path: "/v1/whoami", Action: "whoami", Summary: "The caller: person, organisation, token", Response: api.Whoami{},
			Handle: func(ctx context.Context, c *call) (any, error) {
				return api.Whoami{Person: c.subject.Person, Org: api.Org{ID: c.subject.Org.Name, Org: c.subject.Org}, TokenID: c.subject.TokenID}, nil
			}},
		{Method: "GET", Path: "/v1/keys/public", Action: "keys.public", Summary: "The enclave's signing public key", Response: api.PublicKey{},
			Handle: func(ctx context.Context, c *call) (any, error) {
				pub, err := s.Keyring.PublicKey(ctx)
				if err != nil {
					return nil, err
				}
				return api.PublicKey{Algorithm: "ed25519", Key: base64.StdEncoding.EncodeToString(pub), Keyring: s.Keyring.Name()}, nil
			}},
		{Method: "POST", Path: "/v1/orgs", Action: "org.add", Summary: "License an organisation", Request: api.OrgRequest{}, Response: api.Org{}, Created: true,
			Resource: s.orgAddResource, Handle: s.addOrg},
		{Method: "GET", Path: "/v1/orgs", Action: "org.list", Summary: "List organisations", Response: []api.Org{},
			Handle: func(ctx context.Context, c *call) (any, error) {
				os, err := people.ListOrgs(ctx, s.DB.SQL())
				out := make([]api.Org, len(os))
				for i, o := range os {
					out[i] = api.Org{ID: o.Name, Org: o}
				}
				return out, err
			}},
		s.orgStatusRoute("suspend", people.Suspended),
		s.orgStatusRoute("reinstate", people.Active),
		s.orgStatusRoute("blacklist", people.Blacklisted),
		s.orgStatusRoute("revoke", people.Revoked),
		{Method: "POST", Path: "/v1/people", Action: "person.add", Summary: "Register a person and issue their first token", Request: api.PersonRequest{}, Response: api.PersonCreated{}, Created: true,
			Handle: s.addPerson},
		{Method: "GET", Path: "/v1/people", Action: "person.list", Summary: "List people", Response: []people.Person{},
			Handle: func(ctx context.Context, c *call) (any, error) {
				return people.ListPeople(ctx, s.DB.SQL(), c.query("org"))
			}},
		{Method: "GET", Path: "/v1/people/{id}", Action: "person.show", Summary: "Show a person", Response: people.Person{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("person", c.path("id"), ""), nil
			},
			Handle: func(ctx context.Context, c *call) (any, error) {
				return people.GetPerson(ctx, s.DB.SQL(), c.path("id"))
			}},
		{Method: "POST", Path: "/v1/people/{id}/agreement", Action: "person.agreement", Summary: "Record a renewed confidentiality agreement", Request: api.AgreementRequest{}, Response: people.Person{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("person", c.path("id"), ""), nil
			},
			Handle: s.renewAgreement},
		{Method: "GET", Path: "/v1/people/{id}/tokens", Action: "token.list", Summary: "List a person's tokens (never the tokens themselves)", Response: []people.Token{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("person", c.path("id"), ""), nil
			},
			Handle: func(ctx context.Context, c *call) (any, error) {
				if _, err := people.GetPerson(ctx, s.DB.SQL(), c.path("id")); err != nil {
					return nil, err
				}
				return people.ListTokens(ctx, s.DB.SQL(), c.path("id"))
			}},
		{Method: "POST", Path: "/v1/people/{id}/tokens", Action: "token.issue", Summary: "Issue a new token for a person", Response: api.TokenIssued{}, Created: true,
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("person", c.path("id"), ""), nil
			},
			Handle: s.issueToken},
		{Method: "POST", Path: "/v1/tokens/{id}/revoke", Action: "token.revoke", Summary: "Revoke a token", Response: people.Token{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("token", c.path("id"), ""), nil
			},
			Handle: s.revokeToken},
	}
}

// orgAddResource validates a licence request and describes it to the
// policy: the organisation and its licence period.
func (s *Server) orgAddResource(ctx context.Context, c *call) (authz.Resource, error) {
	var req api.OrgRequest
	if err := c.decode(&req); err != nil {
		return authz.Resource{}, err
	}
	if err := people.ValidName("organisation", req.Name); err != nil {
		return authz.Resource{}, err
	}
	if _, err := people.ParseOrgType(req.Type); err != nil {
		return authz.Resource{}, err
	}
	if req.LicenceFrom == "" {
		req.LicenceFrom = s.Now().UTC().Format(people.DateLayout)
	}
	from, err := people.ParseDate("licence_from", req.LicenceFrom)
	if err != nil {
		return authz.Resource{}, err
	}
	if req.LicenceUntil == "" {
		return authz.Resource{}, fmt.Errorf("licence_until is required: %w", errdefs.ErrInvalidArgument)
	}
	until, err := people.ParseDate("licence_until", req.LicenceUntil)
	if err != nil {
		return authz.Resource{}, err
	}
	if err := people.CheckLicence(from, until); err != nil {
		return authz.Resource{}, err
	}
	c.body = req
	res := resource("org", req.Name, req.Name)
	res.From, res.Until = authz.Day(req.LicenceFrom, false), authz.Day(req.LicenceUntil, true)
	return res, nil
}

func (s *Server) addOrg(ctx context.Context, c *call) (any, error) {
	req := c.body.(api.OrgRequest)
	typ, _ := people.ParseOrgType(req.Type)
	now := s.Now().UTC()
	o := people.Org{Name: req.Name, Type: typ, LicenceFrom: req.LicenceFrom, LicenceUntil: req.LicenceUntil,
		Status: people.Active, StatusReason: "licensed", CreatedAt: now, UpdatedAt: now}
	ev := audit.Event{Action: "org.add", Objects: []string{"org:" + o.Name},
		Details: map[string]string{"type": string(typ), "licence_from": o.LicenceFrom, "licence_until": o.LicenceUntil}}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error { return people.CreateOrg(ctx, tx, o) })
	return api.Org{ID: o.Name, Org: o}, err
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
				out, err = people.GetOrg(ctx, tx, name)
				return err
			})
			if err == nil && to != people.Active && s.Jobs != nil {
				// An organisation that may no longer act has its running
				// and queued jobs stopped at once.
				s.stopOrgJobs(ctx, c, name, fmt.Sprintf("organisation %s: %s", to, req.Reason))
			}
			return api.Org{ID: out.Name, Org: out}, err
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
	if req.AgreementUntil != "" {
		if _, err := people.ParseDate("agreement_until", req.AgreementUntil); err != nil {
			return nil, err
		}
	}
	var idHash, idMask string
	if req.IDNumber != "" {
		if err := pii.ValidResidentID(req.IDNumber); err != nil {
			return nil, fmt.Errorf("id_number: %w", err)
		}
		key, err := s.Keyring.Secret(ctx, "id-number")
		if err != nil {
			return nil, err
		}
		idHash = people.HashIDNumber(key, req.IDNumber)
		idMask = pii.MaskResidentID(req.IDNumber)
	}
	now := s.Now().UTC()
	p := people.Person{ID: people.NewID("p_"), Name: req.Name, Org: req.Org, Roles: roles, IDNumberMasked: idMask,
		AgreementUntil: req.AgreementUntil, CreatedAt: now, CreatedBy: c.subject.Person.ID}
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
		Details: map[string]string{"roles": strings.Join(rs, ","), "id_number_given": fmt.Sprint(idHash != "")}}
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
	return api.PersonCreated{Person: p, Token: tok, TokenID: t.ID, TokenExpiresAt: t.ExpiresAt}, nil
}

func (s *Server) renewAgreement(ctx context.Context, c *call) (any, error) {
	var req api.AgreementRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if _, err := people.ParseDate("until", req.Until); err != nil {
		return nil, err
	}
	id := c.path("id")
	var p people.Person
	ev := audit.Event{Action: "person.agreement", Objects: []string{"person:" + id}, Details: map[string]string{"until": req.Until}}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		if err := people.SetAgreement(ctx, tx, id, req.Until); err != nil {
			return err
		}
		var err error
		p, err = people.GetPerson(ctx, tx, id)
		return err
	})
	return p, err
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
	return t, err
}
