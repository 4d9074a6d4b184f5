package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/exports"
)

// pendingExport runs a job and asks for its export, approved once (by an
// officer of another organisation): one more approval releases it.
func (jw *jobWorld) pendingExport() (api.Job, exports.Export) {
	jw.t.Helper()
	j := jw.runJob("ok", "counts.csv")
	var x exports.Export
	jw.mustDo(jw.operator.Token, "POST", "/v1/exports", api.ExportRequest{Job: j.ID, Files: []string{"counts.csv"}, Purpose: "dashboard"}, &x)
	jw.mustDo(jw.officer.Token, "POST", "/v1/exports/"+x.ID+"/approve", api.ReviewRequest{Justification: "aggregate counts reviewed by hand, no rows"}, nil)
	return j, x
}

func failure(t *testing.T, code int, body []byte, wantCode int, wantClass, wantText string) {
	t.Helper()
	var eb api.ErrorBody
	json.Unmarshal(body, &eb)
	if code != wantCode || eb.Error.Class != wantClass || !strings.Contains(string(body), wantText) {
		t.Fatalf("got %d %s, want %d %s saying %q", code, body, wantCode, wantClass, wantText)
	}
}

// TestApprovalAfterSuspensionRefused (issue 18 item 1): a second
// officer's approval after the organisation was suspended is refused,
// naming the suspension, and nothing is released; after the reinstatement
// there is still nothing to download until an officer approves again.
func TestApprovalAfterSuspensionRefused(t *testing.T) {
	jw := newJobWorld(t)
	_, x := jw.pendingExport()
	jw.mustDo(jw.authority.Token, "POST", "/v1/orgs/acme/suspend", api.StatusRequest{Reason: "late security report"}, nil)
	code, body := jw.do(jw.officer2.Token, "POST", "/v1/exports/"+x.ID+"/approve", api.ReviewRequest{Justification: "aggregate counts reviewed by hand, no rows"})
	failure(t, code, body, 412, "failed-precondition", `organisation \"acme\" is suspended`)
	if n := len(jw.entries("export.release")) + len(jw.entries("export.rollback")); n != 0 {
		t.Fatalf("the approval itself must be refused, not a release rolled back: %d release or rollback entries", n)
	}
	jw.mustDo(jw.authority.Token, "POST", "/v1/orgs/acme/reinstate", api.StatusRequest{Reason: "report filed"}, nil)
	jw.mustDo(jw.officer2.Token, "GET", "/v1/exports/"+x.ID, nil, &x)
	if x.State == exports.Released || x.Approvals() != 1 {
		t.Fatalf("after the refused approval: state %s with %d approvals, want unreleased with one", x.State, x.Approvals())
	}
	if code, _ := jw.do(jw.operator.Token, "GET", "/v1/exports/"+x.ID+"/download", nil); code == 200 {
		t.Fatalf("download after the reinstatement: got 200, want nothing released")
	}
	// The grant followed the organisation: held while suspended, approved again.
	var g api.Grant
	jw.mustDo(jw.authority.Token, "GET", "/v1/grants/"+jw.grantID(), nil, &g)
	if g.Status != "approved" {
		t.Fatalf("grant after the reinstatement: %s, want approved", g.Status)
	}
	if len(jw.entries("org.suspend")) != 1 || jw.entries("org.suspend")[0].Event.Details["grants_held"] != g.ID {
		t.Fatalf("the suspension's audit entry does not name the grant it held: %+v", jw.entries("org.suspend"))
	}
}

func (jw *jobWorld) grantID() string {
	jw.t.Helper()
	var apps []api.Application
	jw.mustDo(jw.operator.Token, "GET", "/v1/applications", nil, &apps)
	return apps[0].Grant
}

// TestRevokedGrantEndsUse: a revoked grant admits no job (policy explain
// names it), its pending export cannot be approved but can be rejected,
// and revoking it again is refused.
func TestRevokedGrantEndsUse(t *testing.T) {
	jw := newJobWorld(t)
	_, x := jw.pendingExport()
	g := jw.grantID()
	code, body := jw.do(jw.authority.Token, "POST", "/v1/applications/"+g+"/revoke", api.ReasonRequest{Reason: " "})
	failure(t, code, body, 400, "invalid-argument", "reason is required")
	var r api.GrantRevoked
	jw.mustDo(jw.authority.Token, "POST", "/v1/applications/"+g+"/revoke", api.ReasonRequest{Reason: "purpose exceeded"}, &r)
	if r.Grant != g || r.Status != "revoked" || r.EndedBy != jw.authority.ID {
		t.Fatalf("revocation: got %+v", r)
	}
	code, body = jw.do(jw.operator.Token, "POST", "/v1/jobs", api.JobRequest{Image: jw.image, Inputs: []string{"penalties"}, Args: []string{"ok"}})
	failure(t, code, body, 403, "permission-denied", "grant.not_approved")
	var ex api.Explanation
	jw.mustDo(jw.authority.Token, "GET", "/v1/policy/explain?as="+jw.operator.ID+"&action=job.run&dataset=penalties", nil, &ex)
	if ex.Decision.Allow || !strings.Contains(jw.reasons(ex), "grant.not_approved: grant \""+g+"\" naming dataset \"penalties\" was revoked") {
		t.Fatalf("policy explain: got %+v, want the revoked grant named", ex.Decision)
	}
	code, body = jw.do(jw.officer2.Token, "POST", "/v1/exports/"+x.ID+"/approve", api.ReviewRequest{Justification: "aggregate counts reviewed by hand, no rows"})
	failure(t, code, body, 412, "failed-precondition", "is revoked")
	jw.mustDo(jw.officer2.Token, "POST", "/v1/exports/"+x.ID+"/reject", api.ReviewRequest{Comment: "its grant was revoked"}, &x)
	if x.State != exports.Rejected {
		t.Fatalf("rejection: state %s", x.State)
	}
	code, body = jw.do(jw.authority.Token, "POST", "/v1/applications/"+g+"/revoke", api.ReasonRequest{Reason: "again"})
	failure(t, code, body, 412, "failed-precondition", "already ended")
	code, body = jw.do(jw.operator.Token, "POST", "/v1/exports", api.ExportRequest{Job: x.Job, Files: []string{"counts.csv"}, Purpose: "again"})
	failure(t, code, body, 412, "failed-precondition", "is revoked")
}

func (jw *jobWorld) reasons(ex api.Explanation) string {
	var s []string
	for _, r := range ex.Decision.Reasons {
		s = append(s, r.Rule+": "+r.Message)
	}
	return strings.Join(s, "; ")
}

// TestIncidentBlocksUntilClosed (issue 18 item 4): an incident on the
// dataset refuses new jobs (naming it) and holds the exports of a job that
// read it; an operator of another organisation cannot report on acme's
// work ("not found or not yours", like a job that does not exist); the
// authority's close releases.
func TestIncidentBlocksUntilClosed(t *testing.T) {
	jw := newJobWorld(t)
	j, x := jw.pendingExport()
	rival := jw.member("Rival Operator", "security", "operator")
	for _, req := range []api.IncidentRequest{{Job: j.ID, Reason: "x"}, {Job: "j-none", Reason: "x"}} {
		code, body := jw.do(rival.Token, "POST", "/v1/incidents", req)
		failure(t, code, body, 404, "not-found", "not found or not yours")
		if strings.Contains(string(body), "acme") {
			t.Fatalf("a report on another organisation's job names it: %s", body)
		}
	}
	var in api.Incident
	jw.mustDo(jw.operator.Token, "POST", "/v1/incidents", api.IncidentRequest{Dataset: "penalties", Reason: "a column looks unmasked"}, &in)
	if in.State != "open" || in.ReportedBy != jw.operator.ID || len(in.Affected.Jobs) == 0 {
		t.Fatalf("incident: got %+v", in)
	}
	code, body := jw.do(jw.operator.Token, "POST", "/v1/jobs", api.JobRequest{Image: jw.image, Inputs: []string{"penalties"}, Args: []string{"ok"}})
	failure(t, code, body, 403, "permission-denied", "incident.dataset_held")
	code, body = jw.do(jw.officer2.Token, "POST", "/v1/exports/"+x.ID+"/approve", api.ReviewRequest{Justification: "aggregate counts reviewed by hand, no rows"})
	failure(t, code, body, 412, "failed-precondition", in.ID)
	code, _ = jw.do(jw.operator.Token, "POST", "/v1/incidents/"+in.ID+"/close", api.DecisionRequest{Decision: "fine"})
	if code != 403 {
		t.Fatalf("an operator closing an incident: got %d, want 403", code)
	}
	var list []api.Incident
	jw.mustDo(jw.bureau.Token, "GET", "/v1/incidents?state=open", nil, &list)
	if len(list) != 1 || list[0].ID != in.ID {
		t.Fatalf("open incidents: got %+v", list)
	}
	jw.mustDo(jw.authority.Token, "POST", "/v1/incidents/"+in.ID+"/close", api.DecisionRequest{Decision: "masking verified; resume"}, &in)
	if in.State != "closed" || in.Decision != "masking verified; resume" || in.ClosedBy != jw.authority.ID {
		t.Fatalf("closed incident: got %+v", in)
	}
	jw.runJob("ok")
	jw.mustDo(jw.officer2.Token, "POST", "/v1/exports/"+x.ID+"/approve", api.ReviewRequest{Justification: "aggregate counts reviewed by hand, no rows"}, &x)
	if x.State != exports.Released {
		t.Fatalf("after the close: state %s, want released", x.State)
	}
	for _, action := range []string{"incident.report", "incident.close"} {
		if es := jw.entries(action); len(es) == 0 || es[len(es)-1].Event.Outcome != "ok" {
			t.Fatalf("%s not on the audit log: %+v", action, es)
		}
	}
}

// TestBureauHaltsAnOrganisation: the bureau halts every job of an
// organisation in one request, which opens an incident holding its grants
// (its jobs are refused naming the suspended grant) until the authority
// closes it; no one else may halt.
func TestBureauHaltsAnOrganisation(t *testing.T) {
	jw := newJobWorld(t)
	for _, tok := range []string{jw.operator.Token, jw.officer.Token, jw.authority.Token} {
		if code, _ := jw.do(tok, "POST", "/v1/jobs/halt", api.HaltAllRequest{Org: "acme", Reason: "x"}); code != 403 {
			t.Fatalf("a halt by another role than the bureau: got %d, want 403", code)
		}
	}
	code, body := jw.do(jw.bureau.Token, "POST", "/v1/jobs/halt", api.HaltAllRequest{Org: "acme", Dataset: "penalties", Reason: "x"})
	failure(t, code, body, 400, "invalid-argument", "exactly one")
	var in api.Incident
	jw.mustDo(jw.bureau.Token, "POST", "/v1/jobs/halt", api.HaltAllRequest{Org: "acme", Reason: "suspected exfiltration"}, &in)
	if in.Target.Kind != "org" || in.Target.ID != "acme" || in.State != "open" || len(in.Affected.Grants) != 1 {
		t.Fatalf("halt: got %+v, want an open incident on acme holding its grant", in)
	}
	code, body = jw.do(jw.operator.Token, "POST", "/v1/jobs", api.JobRequest{Image: jw.image, Inputs: []string{"penalties"}, Args: []string{"ok"}})
	failure(t, code, body, 403, "permission-denied", "is suspended")
	// Nor is a new grant applied for while the halt is open: every
	// dataset is held for the organisation.
	code, body = jw.do(jw.operator.Token, "POST", "/v1/applications", api.ApplicationRequest{Datasets: []string{"penalties"}, Purpose: "risk statistics",
		Scenario: "dashboard", Until: "2027-06-30"})
	failure(t, code, body, 403, "permission-denied", "incident.dataset_held")
	var st api.GrantStanding
	jw.mustDo(jw.authority.Token, "GET", "/v1/grants/"+in.Affected.Grants[0]+"/standing", nil, &st)
	if st.Status != "suspended" || len(st.Holds) != 1 || st.Holds[0].Cause != "incident:"+in.ID || st.Holds[0].By != jw.bureau.ID {
		t.Fatalf("standing of the held grant: got %+v, want suspended, held by the incident", st)
	}
	jw.mustDo(jw.authority.Token, "POST", "/v1/incidents/"+in.ID+"/close", api.DecisionRequest{Decision: "no exfiltration found"}, nil)
	jw.mustDo(jw.authority.Token, "GET", "/v1/grants/"+in.Affected.Grants[0]+"/standing", nil, &st)
	if st.Status != "approved" || len(st.Holds) != 0 {
		t.Fatalf("standing after the close: got %+v, want approved, no hold", st)
	}
	jw.runJob("ok")
}

// TestReleaseAtStartChecksTheBasis: an export that has all its approvals
// but no release when the daemon starts (it stopped in between) is not
// released when its organisation was suspended meanwhile: the release is
// refused at that moment and the last approval withdrawn.
func TestReleaseAtStartChecksTheBasis(t *testing.T) {
	jw := newJobWorld(t)
	_, x := jw.pendingExport()
	// The second approval was recorded before the suspension; the
	// release was not (the daemon stopped).
	if _, ready, err := exports.Decide(jw.ctx, jw.db.SQL(), x.ID, exports.Review{Person: jw.officer2.ID, Org: "security", Decision: exports.Approve,
		Justification: "aggregate counts reviewed by hand, no rows", Time: jw.now}); err != nil || !ready {
		t.Fatalf("second approval: ready %v, %v", ready, err)
	}
	jw.mustDo(jw.authority.Token, "POST", "/v1/orgs/acme/suspend", api.StatusRequest{Reason: "late security report"}, nil)
	released, rolledBack, err := jw.srv.FinishReleases(jw.ctx)
	if err != nil || released != 0 || rolledBack != 1 {
		t.Fatalf("releases at start: released %d, rolled back %d, %v; want none released and one rolled back", released, rolledBack, err)
	}
	jw.mustDo(jw.officer2.Token, "GET", "/v1/exports/"+x.ID, nil, &x)
	if x.State == exports.Released || x.Approvals() != 1 {
		t.Fatalf("export: %s with %d approvals, want unreleased with the last approval withdrawn", x.State, x.Approvals())
	}
}
