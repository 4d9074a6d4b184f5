package opa

import (
	"context"
	"slices"
	"strings"
	"testing"

	policy "github.com/enclave-dev/enclave/policies"
)

// Scopes in the expected table, written from the role table and
// independent of roles.rego.
const (
	anyRes = "any"         // allowed on any resource
	ownOrg = "own_org"     // only on resources of the person's organisation
	indep  = "independent" // only on another organisation's and person's requests
)

// wantRoles is the authorization matrix: for every action, the roles that
// may take it and in which scope. "*" is any authenticated person.
var wantRoles = map[string]map[string]string{
	"whoami":      {"*": anyRes},
	"health":      {"*": anyRes},
	"keys.public": {"*": anyRes},

	"person.add":       {"admin": anyRes},
	"person.list":      {"admin": anyRes},
	"person.show":      {"admin": anyRes},
	"token.revoke":     {"admin": anyRes},
	"token.issue":      {"admin": anyRes},
	"token.list":       {"admin": anyRes},
	"person.agreement": {"admin": anyRes},

	"org.add":       {"authority": anyRes},
	"org.suspend":   {"authority": anyRes},
	"org.reinstate": {"authority": anyRes},
	"org.blacklist": {"authority": anyRes},
	"org.revoke":    {"authority": anyRes},
	"org.renew":     {"authority": anyRes},
	"org.show":      {"admin": anyRes, "authority": anyRes, "bureau": anyRes, "officer": anyRes},
	"org.list":      {"admin": anyRes, "authority": anyRes, "bureau": anyRes, "officer": anyRes},

	"image.import":  {"operator": anyRes},
	"image.approve": {"officer": indep},
	"image.reject":  {"officer": indep},
	"image.list":    {"operator": anyRes, "officer": anyRes, "admin": anyRes},

	"dataset.import":  {"custodian": ownOrg},
	"dataset.seal":    {"custodian": ownOrg},
	"dataset.unseal":  {"custodian": ownOrg},
	"dataset.destroy": {"custodian": ownOrg, "operator": ownOrg},
	"dataset.upload":  {"operator": ownOrg},
	"dataset.approve": {"officer": indep},
	"dataset.reject":  {"officer": indep},
	"dataset.list":    {"authority": anyRes, "custodian": anyRes, "operator": anyRes, "officer": anyRes, "bureau": anyRes},
	"dataset.show":    {"authority": anyRes, "custodian": anyRes, "operator": anyRes, "officer": anyRes, "bureau": anyRes},

	"application.file":    {"operator": anyRes},
	"application.approve": {"authority": indep},
	"application.reject":  {"authority": indep},
	"application.list":    {"operator": ownOrg, "authority": anyRes, "bureau": anyRes},
	"application.revoke":  {"authority": anyRes},

	"job.run":     {"operator": ownOrg},
	"job.list":    {"operator": ownOrg, "officer": anyRes, "bureau": anyRes},
	"job.show":    {"operator": ownOrg, "officer": anyRes, "bureau": anyRes},
	"job.wait":    {"operator": ownOrg},
	"job.outputs": {"operator": ownOrg},
	"job.cancel":  {"operator": ownOrg},
	"job.logs":    {"officer": anyRes, "operator": ownOrg},
	"job.halt":    {"officer": anyRes, "bureau": anyRes},

	"export.request":  {"operator": ownOrg},
	"export.show":     {"operator": ownOrg, "officer": anyRes, "bureau": anyRes},
	"export.approve":  {"officer": indep},
	"export.reject":   {"officer": indep},
	"export.download": {"operator": ownOrg},
	"release.list":    {"operator": ownOrg, "officer": anyRes, "bureau": anyRes, "authority": anyRes},

	"usage.report": {"operator": ownOrg, "bureau": anyRes, "admin": anyRes},
	"audit.list":   {"bureau": anyRes, "admin": anyRes, "custodian": ownOrg},
	"audit.verify": {"bureau": anyRes, "admin": anyRes},
	"audit.export": {"bureau": anyRes, "admin": anyRes},
	"audit.purge":  {"admin": anyRes},

	"org.quota":     {"authority": anyRes},
	"report.annual": {"operator": ownOrg, "bureau": anyRes, "admin": anyRes},
	"metrics.read":  {"bureau": anyRes, "admin": anyRes},

	"policy.explain": {"authority": anyRes, "officer": anyRes, "bureau": anyRes, "admin": anyRes},

	"incident.report": {"operator": ownOrg, "officer": anyRes, "bureau": anyRes},
	"incident.list":   {"officer": anyRes, "bureau": anyRes, "authority": anyRes},
	"incident.show":   {"officer": anyRes, "bureau": anyRes, "authority": anyRes},
	"incident.close":  {"authority": anyRes},
	"job.halt_all":    {"bureau": anyRes},

	"objection.file":   {"*": anyRes},
	"objection.list":   {"*": anyRes},
	"objection.show":   {"*": anyRes},
	"objection.answer": {"custodian": ownOrg},

	"service.verify": {"consumer-system": ownOrg},
	"service.query":  {"consumer-system": ownOrg},
	"service.bulk":   {"consumer-system": ownOrg},
}

// matrixInput builds a request for action by a person holding roles, on a
// resource of the person's own organisation (own true: filed by the person)
// or of another organisation and person. Every data rule is satisfied, so
// that only roles and scope decide.
func matrixInput(action string, own bool, roles ...string) policy.Input {
	in := jobInput()
	in.Action = action
	in.Subject = person("p-1", "acme", roles...)
	in.Resource.From, in.Resource.Until = day(0), day(30)
	if action == "org.add" {
		in.Resource.From, in.Resource.Until = day(0), day(700)
	}
	if action == "org.renew" {
		in.Resource.From, in.Resource.Until = day(20), day(700)
		in.Resource.Licensing = &policy.Licensing{LicenceUntil: day(19), Status: "active"}
	}
	in.Resource.PublicInterest = true
	if own {
		in.Resource.Org, in.Resource.Owner = "acme", "p-1"
	} else {
		in.Resource.Org, in.Resource.Owner = "globex", "p-9"
	}
	return in
}

// wantAllow reads the expected table.
func wantAllow(action string, own bool, roles []string) bool {
	table := wantRoles[action]
	scopeOK := func(scope string) bool {
		switch scope {
		case anyRes:
			return true
		case ownOrg:
			return own
		case indep:
			return !own
		}
		return false
	}
	if s, ok := table["*"]; ok && scopeOK(s) {
		return true
	}
	for _, r := range roles {
		if s, ok := table[r]; ok && scopeOK(s) {
			return true
		}
	}
	return false
}

func TestAuthorizationMatrix(t *testing.T) {
	e := builtinEngine(t)
	if got, want := len(wantRoles), len(policy.Actions); got != want {
		t.Fatalf("matrix has %d actions, policy.Actions has %d", got, want)
	}
	roleSets := [][]string{{}}
	for _, r := range policy.Roles {
		roleSets = append(roleSets, []string{r})
	}
	// Two roles at once never widen a role's scope beyond its own.
	roleSets = append(roleSets, []string{"operator", "officer"}, []string{"authority", "operator"}, []string{"admin", "bureau"})
	// The roles of issue 19 (a consumer, and an application system calling
	// with a credential), which are not in policy.Roles.
	roleSets = append(roleSets, []string{"consumer"}, []string{"consumer-system"})
	for _, action := range policy.Actions {
		if _, ok := wantRoles[action]; !ok {
			t.Fatalf("action %q missing from the expected matrix", action)
		}
		for _, roles := range roleSets {
			for _, own := range []bool{true, false} {
				name := action + "/" + strings.Join(roles, "+")
				if own {
					name += "/own"
				} else {
					name += "/foreign"
				}
				t.Run(name, func(t *testing.T) {
					d, err := e.Decide(context.Background(), matrixInput(action, own, roles...))
					if err != nil {
						t.Fatalf("Decide: %v", err)
					}
					want := wantAllow(action, own, roles)
					if d.Allow != want {
						t.Errorf("got allow %v, want %v (reasons %v)", d.Allow, want, d.Reasons)
					}
					if !d.Allow && len(d.Reasons) == 0 {
						t.Errorf("got a deny without reasons")
					}
				})
			}
		}
	}
}

// TestInactiveOrg: any status other than active denies everything but
// whoami and health to the organisation's people.
func TestInactiveOrg(t *testing.T) {
	e := builtinEngine(t)
	for _, status := range []string{"suspended", "blacklisted", "revoked", ""} {
		for _, action := range policy.Actions {
			for _, role := range policy.Roles {
				if status == "" && role != "operator" {
					continue // an unset status only binds operators
				}
				t.Run(status+"/"+action+"/"+role, func(t *testing.T) {
					for _, own := range []bool{true, false} {
						in := matrixInput(action, own, role)
						in.Subject.OrgStatus = status
						d, err := e.Decide(context.Background(), in)
						if err != nil {
							t.Fatalf("Decide: %v", err)
						}
						want := wantAllow(action, own, []string{role}) && (action == "whoami" || action == "health")
						if d.Allow != want {
							t.Errorf("own %v: got allow %v, want %v (reasons %v)", own, d.Allow, want, d.Reasons)
						}
						if !want && wantAllow(action, own, []string{role}) && !hasRule(d, "org.not_active") {
							t.Errorf("own %v: got reasons %v, want rule %q", own, d.Reasons, "org.not_active")
						}
					}
				})
			}
		}
	}
}

func TestUnauthenticatedAndUnknown(t *testing.T) {
	e := builtinEngine(t)
	tests := []struct {
		name     string
		mutate   func(*policy.Input)
		wantRule string
	}{
		{"no subject id", func(in *policy.Input) { in.Action = "whoami"; in.Subject.ID = "" }, "subject.unauthenticated"},
		{"unknown action", func(in *policy.Input) { in.Action = "dataset.read_rows" }, "action.unknown"},
		{"unknown role", func(in *policy.Input) { in.Action = "person.add"; in.Subject.Roles = []string{"root"} }, "role.not_permitted"},
		{"own application", func(in *policy.Input) {
			in.Action = "application.approve"
			in.Subject.Roles = []string{"authority"}
			in.Resource.Org, in.Resource.Owner = "globex", in.Subject.ID
		}, "scope.independent"},
		{"application of own org", func(in *policy.Input) {
			in.Action = "export.approve"
			in.Subject.Roles = []string{"officer"}
			in.Resource.Org, in.Resource.Owner = in.Subject.Org, "p-9"
		}, "scope.independent"},
		{"other org's job", func(in *policy.Input) { in.Action = "job.cancel"; in.Resource.Org = "globex" }, "scope.own_org"},
		{"other org's dataset", func(in *policy.Input) {
			in.Action = "dataset.destroy"
			in.Subject.Roles = []string{"custodian"}
			in.Resource = policy.Resource{Kind: "dataset", ID: "credit_penalties", Org: "credit-centre"}
		}, "dataset.not_owner"},
		{"version under another org's name", func(in *policy.Input) {
			in.Action = "dataset.import"
			in.Subject.Roles = []string{"custodian"}
			in.Resource = policy.Resource{Kind: "dataset", ID: "credit_penalties", Org: "credit-centre"}
		}, "dataset.not_owner"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := jobInput()
			tc.mutate(&in)
			d, err := e.Decide(context.Background(), in)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if d.Allow || !hasRule(d, tc.wantRule) {
				t.Errorf("got allow %v reasons %v, want deny with rule %q", d.Allow, d.Reasons, tc.wantRule)
			}
		})
	}
}

func hasRule(d policy.Decision, rule string) bool {
	return slices.ContainsFunc(d.Reasons, func(r policy.Reason) bool { return r.Rule == rule })
}
