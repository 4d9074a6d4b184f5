package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/jobs"
	policy "github.com/enclave-dev/enclave/policies"
)

// The ownership matrix (issue 15 item 2). For every route of the server,
// taken from its route table so that a new route cannot skip it, on a
// resource of each type it serves, a person holding each role in another
// organisation is refused: a policy denial naming its rule and on the
// audit log, or for a listing, an answer that holds none of the other
// organisation's items. The actions that are not organisation-scoped for
// a role are listed below, each with the reason.

// matrixCase is one route on one resource of another organisation.
type matrixCase struct {
	route string // "METHOD PATH" as in the route table
	typ   string // the resource type
	url   string // the request's path and query
	body  any    // the JSON body, if any
	// send replaces the JSON request (an upload).
	send func(h *harness, token string) (int, []byte)
	// list marks a listing: a foreign caller may be answered with their
	// own organisation's items, never one whose id is among markers.
	list    bool
	markers []string
	// exempt names the roles for which this case is not
	// organisation-scoped, with the reason.
	exempt map[string]string
}

// exempt are the (action or route, role) pairs that are not
// organisation-scoped, with the reason. A key is "ACTION/ROLE" or
// "METHOD PATH/ROLE"; public routes are exempt for everyone.
var exempt = map[string]string{}

func exemptFor(reason string, keys ...string) {
	for _, k := range keys {
		if _, dup := exempt[k]; dup {
			panic("exempt twice: " + k)
		}
		exempt[k] = reason
	}
}

func init() {
	all := func(action string) []string {
		var ks []string
		for _, r := range policy.Roles {
			ks = append(ks, action+"/"+r)
		}
		return ks
	}
	exemptFor("the caller's own identity, of no other organisation", all("whoami")...)
	exemptFor("the enclave's public signing key, the same for everyone (releases verify offline)", all("keys.public")...)
	exemptFor("the data authority licenses and supervises every organisation (DESIGN.md 1)",
		"org.add/authority", "org.suspend/authority", "org.reinstate/authority", "org.blacklist/authority", "org.revoke/authority",
		"org.renew/authority", "org.quota/authority")
	for _, r := range []string{"admin", "authority", "bureau", "officer"} {
		exemptFor("the register of licensed organisations (and their quotas) is open to the platform's supervising roles",
			"org.list/"+r, "org.show/"+r)
	}
	exemptFor("platform operations register every organisation's people and tokens; admin holds no other role and reads no data",
		"person.add/admin", "person.list/admin", "person.show/admin", "person.agreement/admin",
		"token.issue/admin", "token.list/admin", "token.revoke/admin")
	exemptFor("an import makes an image of the caller's own organisation", "image.import/operator")
	exemptFor("officers review every organisation's images; platform operations see what is installed", "image.list/officer", "image.list/admin")
	exemptFor("independent review: an officer of another organisation is the one who decides (scope independent)",
		"image.approve/officer", "image.reject/officer", "export.approve/officer", "export.reject/officer",
		"dataset.approve/officer", "dataset.reject/officer")
	exemptFor("independent decision: an authority of another organisation decides (scope independent)",
		"application.approve/authority", "application.reject/authority")
	for _, r := range []string{"authority", "custodian", "operator", "officer", "bureau"} {
		exemptFor("the catalogue (schemas and marks, never rows) is open to every role that works with data (DESIGN.md 1)",
			"dataset.list/"+r, "dataset.show/"+r)
	}
	exemptFor("filing makes an application of the caller's own organisation; any provider's dataset may be applied for",
		"application.file/operator")
	exemptFor("authorities decide and the bureau supervises every organisation's applications and grants",
		"application.list/authority", "application.list/bureau")
	exemptFor("officers review and the bureau supervises every organisation's jobs (exactly: promise 4)",
		"job.list/officer", "job.list/bureau", "job.show/officer", "job.show/bureau", "job.logs/officer")
	exemptFor("stopping a job that reveals a risk falls to officers and the bureau across organisations (R-17)",
		"job.halt/officer", "job.halt/bureau")
	exemptFor("officers review and the bureau supervises every organisation's exports", "export.show/officer", "export.show/bureau")
	exemptFor("the register of products (R-15) is open to the roles that review, supervise or authorize them",
		"release.list/officer", "release.list/bureau", "release.list/authority")
	exemptFor("the bureau monitors every organisation's use (R-14), and platform operations with it",
		"usage.report/bureau", "usage.report/admin", "report.annual/bureau", "report.annual/admin", "metrics.read/bureau", "metrics.read/admin")
	exemptFor("the bureau audits everyone and platform operations keep the log (R-12)",
		"audit.list/bureau", "audit.list/admin", "audit.verify/bureau", "audit.verify/admin", "audit.export/bureau", "audit.export/admin",
		"audit.purge/admin")
	exemptFor("officers and the bureau report incidents on any organisation's work, and stop it (R-17, R-20)",
		"incident.report/officer", "incident.report/bureau", "job.halt_all/bureau")
	exemptFor("the incident register is open to the roles that review, supervise and decide across organisations; the authority closes incidents",
		"incident.list/officer", "incident.list/bureau", "incident.list/authority", "incident.show/officer", "incident.show/bureau",
		"incident.show/authority", "incident.close/authority")
	exemptFor("the data authority ends the grants it made, of any organisation (R-13)", "application.revoke/authority")
	exemptFor("an operator reports on its own organisation's work only: another's is answered \"not found or not yours\" (404) "+
		"like a target that does not exist, never a denial naming it (TestIncidentBlocksUntilClosed)", "incident.report/operator")
	exemptFor("explaining a decision is oversight by the roles that decide or supervise across organisations; it shows rules, never data",
		"policy.explain/authority", "policy.explain/officer", "policy.explain/bureau", "policy.explain/admin")
	for _, r := range []string{"authority", "custodian", "operator", "officer", "bureau"} {
		exemptFor("the register of services and each service's generated API document (definitions, never data) are open to every role that works with data",
			"service.list/"+r, "service.show/"+r, "service.openapi/"+r)
	}
	exemptFor("creating makes a service of the caller's own organisation; the domain refuses a dataset neither its own nor under its grant (TestServiceLifecycle)",
		"service.create/custodian", "service.create/operator")
	exemptFor("independent review: an officer of another organisation decides a service (scope independent)", "service.approve/officer", "service.reject/officer")
	exemptFor("the authority approves and the bureau supervises every organisation's subscriptions and services", "subscription.list/authority",
		"subscription.list/bureau", "subscription.statement/authority", "subscription.statement/bureau", "subscription.approve/authority", "subscription.reject/authority", "service.stop/authority", "service.stop/bureau")
	exemptFor("anyone with a token may object to a dataset they see in the catalogue (001 art. 13, 002 art. 20; TestObjections)",
		all("objection.file")...)
	exemptFor("an objection is shown to its filer's and its custodian's organisations, to another answered \"not found or not yours\" (404) "+
		"like one that does not exist (TestObjections); the bureau and the authority supervise every objection's answer",
		all("objection.show")...)
	exemptFor("the bureau supervises and the authority oversees every organisation's objections and their deadlines (001 art. 13)",
		"objection.list/bureau", "objection.list/authority")
	exemptFor("usage is filtered to the caller: custodians see the calls on their datasets, the bureau all (R-12, R-14; TestServiceLifecycle)",
		"service.usage/custodian", "service.usage/bureau")
}

// misconfigured are rules that deny for the caller rather than for the
// resource: a matrix denial by one of them proves nothing.
var misconfigured = []string{"agreement.not_valid", "person.id_not_verified", "org.not_active", "licence.not_valid", "policy.error",
	"policy.undefined", "subject.unauthenticated", "action.unknown", "input.invalid"}

// matrixWorld is a jobWorld whose organisation (acme, with credit-centre's
// dataset) has one of every resource, and an organisation "rival" with a
// person of every role.
type matrixWorld struct {
	*jobWorld
	foreign           map[string]api.PersonCreated
	app, grant        string
	job               api.Job
	pending, released string // exports
	pendingImage      string
	incident          string
	objection         string
}

func newMatrixWorld(t *testing.T) *matrixWorld {
	jw := newJobWorld(t)
	w := jw.world
	m := &matrixWorld{jobWorld: jw, foreign: map[string]api.PersonCreated{}}
	var apps []struct{ ID, Grant string }
	w.mustDo(w.operator.Token, "GET", "/v1/applications", nil, &apps)
	m.app, m.grant = apps[0].ID, apps[0].Grant
	m.job = jw.runJob("ok", "counts.csv")
	var x exports.Export
	w.mustDo(w.operator.Token, "POST", "/v1/exports", api.ExportRequest{Job: m.job.ID, Files: []string{"counts.csv"}, Purpose: "dashboard"}, &x)
	just := api.ReviewRequest{Justification: "aggregate counts reviewed by hand, no rows"}
	w.mustDo(jw.officer.Token, "POST", "/v1/exports/"+x.ID+"/approve", just, nil)
	w.mustDo(jw.officer2.Token, "POST", "/v1/exports/"+x.ID+"/approve", just, &x)
	if x.State != exports.Released {
		t.Fatalf("release: state %s", x.State)
	}
	m.released = x.ID
	w.mustDo(w.operator.Token, "POST", "/v1/exports", api.ExportRequest{Job: m.job.ID, Files: []string{"counts.csv"}, Purpose: "second"}, &x)
	m.pending = x.ID
	var inc api.Incident
	w.mustDo(w.operator.Token, "POST", "/v1/incidents", api.IncidentRequest{Job: m.job.ID, Reason: "matrix"}, &inc)
	m.incident = inc.ID
	var obj api.Objection
	w.mustDo(w.operator.Token, "POST", "/v1/objections", api.ObjectionRequest{Dataset: "penalties", Text: "matrix"}, &obj)
	m.objection = obj.ID
	m.pendingImage = "sha256:" + strings.Repeat("0", 63) + "2"
	if err := jobs.CreateImage(jw.ctx, w.db.SQL(), &jobs.Image{Digest: m.pendingImage, Name: "acme-model", Size: 1, Status: jobs.ImagePending,
		Org: "acme", ImportedBy: w.operator.ID, ImportedAt: w.now}); err != nil {
		t.Fatal(err)
	}
	w.mustDo(w.authority.Token, "POST", "/v1/orgs", licensed(api.OrgRequest{Name: "rival", Type: "company", LicenceFrom: "2026-01-01",
		LicenceUntil: "2027-12-31"}), nil)
	for i, r := range policy.Roles {
		m.foreign[r] = w.member(fmt.Sprintf("Rival Person %d", i), "rival", r)
	}
	return m
}

// cases are every route on every resource type it serves, of acme (or of
// credit-centre, for datasets).
func (m *matrixWorld) cases() []matrixCase {
	w := m.world
	j, op := m.job.ID, w.operator.ID
	importAs := func(name string) func(h *harness, token string) (int, []byte) {
		return func(h *harness, token string) (int, []byte) {
			l := h.importDatasetNamed(token, name, testSpec, testCSV)
			return l.code, l.body
		}
	}
	reason := api.ReasonRequest{Reason: "matrix"}
	return []matrixCase{
		{route: "GET /v1/health", typ: "public", url: "/v1/health"},
		{route: "GET /v1/version", typ: "public", url: "/v1/version"},
		{route: "GET /v1/openapi.json", typ: "public", url: "/v1/openapi.json"},
		{route: "GET /v1/whoami", typ: "people", url: "/v1/whoami"},
		{route: "GET /v1/keys/public", typ: "keys", url: "/v1/keys/public"},

		{route: "POST /v1/orgs", typ: "organisations", url: "/v1/orgs",
			body: licensed(api.OrgRequest{Name: "acme-two", Type: "company", LicenceFrom: "2026-01-01", LicenceUntil: "2027-06-30"})},
		{route: "GET /v1/orgs", typ: "organisations", url: "/v1/orgs"},
		{route: "GET /v1/orgs/{name}", typ: "organisations", url: "/v1/orgs/acme"},
		{route: "POST /v1/orgs/{name}/renew", typ: "organisations", url: "/v1/orgs/acme/renew", body: api.RenewRequest{LicenceUntil: "2029-06-30"}},
		{route: "POST /v1/orgs/{name}/suspend", typ: "organisations", url: "/v1/orgs/acme/suspend", body: api.StatusRequest{Reason: "matrix"}},
		{route: "POST /v1/orgs/{name}/reinstate", typ: "organisations", url: "/v1/orgs/acme/reinstate", body: api.StatusRequest{Reason: "matrix"}},
		{route: "POST /v1/orgs/{name}/blacklist", typ: "organisations", url: "/v1/orgs/acme/blacklist", body: api.StatusRequest{Reason: "matrix"}},
		{route: "POST /v1/orgs/{name}/revoke", typ: "organisations", url: "/v1/orgs/acme/revoke", body: api.StatusRequest{Reason: "matrix"}},
		{route: "GET /v1/orgs/{name}/quota", typ: "quotas", url: "/v1/orgs/acme/quota"},
		{route: "PUT /v1/orgs/{name}/quota", typ: "quotas", url: "/v1/orgs/acme/quota", body: api.Quota{}},

		{route: "POST /v1/people", typ: "people", url: "/v1/people",
			body: registered(api.PersonRequest{Name: "Acme Person", Org: "acme", Roles: []string{"operator"}})},
		{route: "GET /v1/people", typ: "people", url: "/v1/people?org=acme"},
		{route: "GET /v1/people/{id}", typ: "people", url: "/v1/people/" + op},
		{route: "POST /v1/people/{id}/agreement", typ: "people", url: "/v1/people/" + op + "/agreement",
			body: api.AgreementRequest{Until: "2027-06-30", Liability: "NDA-TEST article 5"}},
		{route: "GET /v1/people/{id}/tokens", typ: "tokens", url: "/v1/people/" + op + "/tokens"},
		{route: "POST /v1/people/{id}/tokens", typ: "tokens", url: "/v1/people/" + op + "/tokens"},
		{route: "POST /v1/tokens/{id}/revoke", typ: "tokens", url: "/v1/tokens/t_admin/revoke"},

		{route: "POST /v1/datasets", typ: "versions", send: importAs("penalties")},
		{route: "POST /v1/datasets", typ: "versions (named by the spec)", send: importAs("")},
		{route: "GET /v1/datasets", typ: "datasets", url: "/v1/datasets"},
		{route: "GET /v1/datasets/{ref}", typ: "datasets", url: "/v1/datasets/penalties"},
		{route: "GET /v1/datasets/{ref}", typ: "versions", url: "/v1/datasets/penalties@1"},
		{route: "POST /v1/datasets/{ref}/seal", typ: "datasets", url: "/v1/datasets/penalties/seal", body: reason},
		{route: "POST /v1/datasets/{ref}/unseal", typ: "datasets", url: "/v1/datasets/penalties/unseal", body: reason},
		{route: "POST /v1/datasets/{ref}/destroy", typ: "datasets", url: "/v1/datasets/penalties/destroy", body: reason},
		{route: "POST /v1/datasets/{ref}/destroy", typ: "versions", url: "/v1/datasets/penalties@1/destroy", body: reason},
		{route: "POST /v1/uploads", typ: "uploads", send: func(h *harness, token string) (int, []byte) {
			l := h.postImport("/v1/uploads", token, "penalties", testSpec, testCSV)
			return l.code, l.body
		}},
		{route: "POST /v1/datasets/{ref}/approve", typ: "datasets", url: "/v1/datasets/penalties/approve", body: reason},
		{route: "POST /v1/datasets/{ref}/reject", typ: "datasets", url: "/v1/datasets/penalties/reject", body: reason},

		{route: "POST /v1/applications", typ: "applications", url: "/v1/applications",
			body: api.ApplicationRequest{Datasets: []string{"penalties"}, Purpose: "risk statistics", Scenario: "dashboard", Until: "2027-06-30"}},
		{route: "GET /v1/applications", typ: "applications", url: "/v1/applications", list: true, markers: []string{m.app, m.grant}},
		{route: "GET /v1/applications/{id}", typ: "applications", url: "/v1/applications/" + m.app},
		{route: "POST /v1/applications/{id}/approve", typ: "applications", url: "/v1/applications/" + m.app + "/approve", body: api.CommentRequest{}},
		{route: "POST /v1/applications/{id}/reject", typ: "applications", url: "/v1/applications/" + m.app + "/reject", body: api.CommentRequest{}},
		{route: "GET /v1/grants/{id}", typ: "grants", url: "/v1/grants/" + m.grant},

		{route: "POST /v1/images", typ: "images", url: "/v1/images"},
		{route: "GET /v1/images", typ: "images", url: "/v1/images", list: true, markers: []string{m.pendingImage}},
		{route: "POST /v1/images/{digest}/approve", typ: "images", url: "/v1/images/" + m.pendingImage + "/approve", body: api.CommentRequest{}},
		{route: "POST /v1/images/{digest}/reject", typ: "images", url: "/v1/images/" + m.pendingImage + "/reject", body: api.CommentRequest{}},

		{route: "POST /v1/jobs", typ: "jobs (another organisation's image and granted dataset)", url: "/v1/jobs",
			body: api.JobRequest{Image: m.image, Inputs: []string{"penalties"}, Args: []string{"ok"}}},
		{route: "POST /v1/jobs", typ: "images (another organisation's approved image, with a grant of one's own)", url: "/v1/jobs",
			body: api.JobRequest{Image: m.image, Inputs: []string{"penalties"}, Args: []string{"ok"}},
			exempt: map[string]string{"operator": "an approved image is reviewed code named by its digest, which any licensed operator may run " +
				"(a second import of it is refused); what the job reads is its own organisation's grants' (TestImagesOfAnotherOrganisation)"}},
		{route: "GET /v1/jobs", typ: "jobs", url: "/v1/jobs", list: true, markers: []string{j}},
		{route: "GET /v1/jobs/{id}", typ: "jobs", url: "/v1/jobs/" + j},
		{route: "GET /v1/jobs/{id}/wait", typ: "jobs", url: "/v1/jobs/" + j + "/wait?timeout=1s"},
		{route: "GET /v1/jobs/{id}/outputs", typ: "outputs", url: "/v1/jobs/" + j + "/outputs"},
		{route: "GET /v1/jobs/{id}/logs", typ: "jobs", url: "/v1/jobs/" + j + "/logs"},
		{route: "POST /v1/jobs/{id}/cancel", typ: "jobs", url: "/v1/jobs/" + j + "/cancel", body: reason},
		{route: "POST /v1/jobs/{id}/halt", typ: "jobs", url: "/v1/jobs/" + j + "/halt", body: reason},

		{route: "POST /v1/exports", typ: "outputs", url: "/v1/exports", body: api.ExportRequest{Job: j, Files: []string{"counts.csv"}, Purpose: "ours"}},
		{route: "GET /v1/exports", typ: "exports", url: "/v1/exports", list: true, markers: []string{m.pending, m.released}},
		{route: "GET /v1/exports/{id}", typ: "exports", url: "/v1/exports/" + m.pending},
		{route: "POST /v1/exports/{id}/approve", typ: "exports", url: "/v1/exports/" + m.pending + "/approve", body: api.ReviewRequest{}},
		{route: "POST /v1/exports/{id}/reject", typ: "exports", url: "/v1/exports/" + m.pending + "/reject", body: api.ReviewRequest{}},
		{route: "POST /v1/exports/{id}/request-changes", typ: "exports", url: "/v1/exports/" + m.pending + "/request-changes", body: api.ReviewRequest{}},
		{route: "GET /v1/exports/{id}/download", typ: "releases", url: "/v1/exports/" + m.released + "/download"},
		{route: "GET /v1/releases", typ: "releases", url: "/v1/releases", list: true, markers: []string{m.released}},

		{route: "GET /v1/usage", typ: "usage reports", url: "/v1/usage?org=acme"},
		{route: "GET /v1/reports/annual", typ: "usage reports", url: "/v1/reports/annual?org=acme&year=2026"},
		{route: "GET /metrics", typ: "metrics", url: "/metrics"},
		{route: "GET /v1/policy/explain", typ: "decisions", url: "/v1/policy/explain?as=" + op + "&action=job.run&dataset=penalties"},

		{route: "GET /v1/audit", typ: "audit queries (a dataset)", url: "/v1/audit?dataset=penalties"},
		{route: "GET /v1/audit", typ: "audit queries (an organisation)", url: "/v1/audit?org=acme"},
		{route: "GET /v1/audit/verify", typ: "audit queries", url: "/v1/audit/verify"},
		{route: "GET /v1/audit/export", typ: "audit queries (a dataset)", url: "/v1/audit/export?dataset=penalties"},
		{route: "POST /v1/audit/purge", typ: "audit queries", url: "/v1/audit/purge", body: api.PurgeRequest{DryRun: true}},

		{route: "POST /v1/incidents", typ: "jobs", url: "/v1/incidents", body: api.IncidentRequest{Job: j, Reason: "matrix"}},
		{route: "POST /v1/incidents", typ: "grants", url: "/v1/incidents", body: api.IncidentRequest{Grant: m.grant, Reason: "matrix"}},
		{route: "GET /v1/incidents", typ: "incidents", url: "/v1/incidents?org=acme"},
		{route: "GET /v1/incidents/{id}", typ: "incidents", url: "/v1/incidents/" + m.incident},
		{route: "POST /v1/incidents/{id}/close", typ: "incidents", url: "/v1/incidents/" + m.incident + "/close", body: api.DecisionRequest{Decision: "matrix"}},
		{route: "POST /v1/jobs/halt", typ: "organisations", url: "/v1/jobs/halt", body: api.HaltAllRequest{Org: "acme", Reason: "matrix"}},
		{route: "GET /v1/grants/{id}/standing", typ: "grants", url: "/v1/grants/" + m.grant + "/standing"},
		{route: "POST /v1/applications/{id}/revoke", typ: "grants", url: "/v1/applications/" + m.app + "/revoke", body: reason},

		{route: "POST /v1/services", typ: "services", url: "/v1/services",
			body: api.ServiceRequest{Name: "matrix", Mode: "verify", Dataset: "penalties", Key: "id", Scenario: "dashboard"}},
		{route: "GET /v1/services", typ: "services", url: "/v1/services"},
		{route: "GET /v1/services/{name}", typ: "services", url: "/v1/services/none-such"},
		{route: "POST /v1/services/{name}/approve", typ: "services", url: "/v1/services/none-such/approve", body: api.ServiceDecision{}},
		{route: "POST /v1/services/{name}/reject", typ: "services", url: "/v1/services/none-such/reject", body: api.ServiceDecision{}},
		{route: "POST /v1/services/{name}/stop", typ: "services", url: "/v1/services/none-such/stop", body: api.ServiceDecision{}},
		{route: "POST /v1/services/{name}/subscriptions", typ: "services", url: "/v1/services/none-such/subscriptions",
			body: api.SubscribeRequest{Scenario: "dashboard", Until: "2027-01-01"}},
		{route: "GET /v1/subscriptions", typ: "subscriptions", url: "/v1/subscriptions"},
		{route: "GET /v1/subscriptions/{id}/statement", typ: "subscriptions", url: "/v1/subscriptions/sub_none/statement?day=2026-11-23"},
		{route: "POST /v1/subscriptions/{id}/approve", typ: "subscriptions", url: "/v1/subscriptions/sub_none/approve"},
		{route: "POST /v1/subscriptions/{id}/reject", typ: "subscriptions", url: "/v1/subscriptions/sub_none/reject"},
		{route: "POST /v1/credentials", typ: "credentials", url: "/v1/credentials", body: api.CredentialRequest{Subscription: "sub_none", System: "x"}},
		{route: "GET /v1/credentials", typ: "credentials", url: "/v1/credentials"},
		{route: "POST /v1/credentials/{id}/revoke", typ: "credentials", url: "/v1/credentials/cred_none/revoke"},
		{route: "POST /v1/services/{name}/verify", typ: "services", url: "/v1/services/none-such/verify", body: api.VerifyRequest{Key: "k"}},
		{route: "POST /v1/services/{name}/query", typ: "services", url: "/v1/services/none-such/query", body: api.QueryRequest{Key: "k"}},
		{route: "GET /v1/services/{name}/bulk/latest", typ: "services", url: "/v1/services/none-such/bulk/latest"},
		{route: "GET /v1/services/{name}/usage", typ: "services", url: "/v1/services/none-such/usage"},
		{route: "GET /v1/services/{name}/openapi.json", typ: "services", url: "/v1/services/none-such/openapi.json"},

		{route: "POST /v1/objections", typ: "objections", url: "/v1/objections", body: api.ObjectionRequest{Dataset: "penalties", Text: "matrix"}},
		{route: "GET /v1/objections", typ: "objections", url: "/v1/objections", list: true, markers: []string{m.objection}},
		{route: "GET /v1/objections/{id}", typ: "objections", url: "/v1/objections/" + m.objection},
		{route: "POST /v1/objections/{id}/answer", typ: "objections", url: "/v1/objections/" + m.objection + "/answer",
			body: api.ObjectionAnswerRequest{Text: "matrix"}},
	}
}

func TestOwnershipMatrix(t *testing.T) {
	m := newMatrixWorld(t)
	cases := m.cases()

	// Every route is in the matrix, and the matrix names no other.
	routes := map[string]*route{}
	for i := range m.srv.routes {
		rt := &m.srv.routes[i]
		routes[rt.Method+" "+rt.Path] = rt
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		if routes[tc.route] == nil {
			t.Errorf("matrix case %q: no such route", tc.route)
		}
		covered[tc.route] = true
	}
	for key := range routes {
		if !covered[key] {
			t.Errorf("route %q has no case in the ownership matrix: add one (and an exemption with its reason if it is not organisation-scoped)", key)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	var denied, filtered, byRole int
	rules, reasons := map[string]int{}, map[string]int{}
	types, actions := map[string]bool{}, map[string]bool{}
	for _, tc := range cases {
		rt := routes[tc.route]
		types[strings.SplitN(tc.typ, " (", 2)[0]] = true
		actions[rt.Action] = true
		for _, role := range policy.Roles {
			name := tc.route + " " + tc.typ + "/" + role
			why, ok := tc.exempt[role]
			if !ok {
				why, ok = exempt[tc.route+"/"+role]
			}
			if !ok {
				why, ok = exempt[rt.Action+"/"+role]
			}
			if rt.Public {
				why, ok = "public: no token, no organisation's data", true
			}
			if ok {
				reasons[why]++
				continue
			}
			t.Run(name, func(t *testing.T) {
				tok := m.foreign[role].Token
				var code int
				var body []byte
				if tc.send != nil {
					code, body = tc.send(m.harness, tok)
				} else {
					code, body = m.do(tok, rt.Method, tc.url, tc.body)
				}
				if tc.list && code == 200 {
					for _, id := range tc.markers {
						if strings.Contains(string(body), id) {
							t.Errorf("a %s of organisation rival lists %s of another organisation", role, id)
						}
					}
					filtered++
					return
				}
				var eb api.ErrorBody
				json.Unmarshal(body, &eb)
				if code != 403 || eb.Error.Class != "permission-denied" || len(eb.Error.Reasons) == 0 {
					t.Fatalf("a %s of organisation rival: got %d %.300s, want a policy denial", role, code, body)
				}
				for _, r := range eb.Error.Reasons {
					rule, _, _ := strings.Cut(r, ":")
					if rule == "role.not_permitted" {
						byRole++
					}
					if slices.Contains(misconfigured, rule) {
						t.Errorf("denied by %q, a rule about the caller: the case proves nothing", rule)
					}
					rules[rule]++
				}
				if !m.deniedOnRecord(rt.Action, eb.Error.RequestID, "") {
					t.Errorf("the denial (request %s) is not on the audit log", eb.Error.RequestID)
				}
				denied++
			})
		}
	}
	var tally []string
	for r, n := range rules {
		tally = append(tally, fmt.Sprintf("%s %d", r, n))
	}
	sort.Strings(tally)
	exempted := 0
	for why, n := range reasons {
		exempted += n
		t.Logf("exempt %3d: %s", n, why)
	}
	t.Logf("ownership matrix: %d routes, %d actions, %d cases over %d resource types, x %d roles = %d checks: %d denied "+
		"(%d to a role that may never take the action, %d to a role that may in its own organisation; rules: %s), "+
		"%d listings without the other organisation's items, %d exempt",
		len(routes), len(actions), len(cases), len(types), len(policy.Roles), len(cases)*len(policy.Roles), denied, byRole, denied-byRole,
		strings.Join(tally, ", "), filtered, exempted)
}
