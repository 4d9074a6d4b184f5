package enclave_test

import data.enclave

test_held_dataset_refuses_job_naming_the_incident if {
	held := object.union(dataset, {"state": "held"})
	d := enclave.decision with input as object.union(job, {"resource": {"datasets": [held]}})
	not d.allow
	"incident.dataset_held" in rules(d)
}

test_held_dataset_refuses_application if {
	held := object.union(dataset, {"state": "held"})
	app := {"action": "application.file", "now": now, "subject": operator,
		"resource": {"kind": "application", "org": "acme", "owner": "p-op1", "datasets": [held],
			"from": "2026-06-01T00:00:00Z", "until": "2026-06-30T23:59:59Z"}}
	d := enclave.decision with input as app
	not d.allow
	"incident.dataset_held" in rules(d)
}

test_grant_not_approved_is_named if {
	some status in ["suspended", "revoked", "expired"]
	g := object.union(grant, {"status": status})
	d := enclave.decision with input as object.union(job, {"grants": [g]})
	not d.allow
	rules(d) == {"grant.dataset_not_granted", "grant.not_approved"}
	some r in d.reasons
	r.rule == "grant.not_approved"
	contains(r.message, "g-1")
	contains(r.message, "credit_penalties")
}

test_ended_grant_not_named_when_another_admits if {
	ended := object.union(grant, {"status": "revoked"})
	other := object.union(grant, {"id": "g-2"})
	d := enclave.decision with input as object.union(job, {"grants": [ended, other]})
	d.allow
	d.grants == {"credit_penalties": "g-2"}
}

test_incident_roles if {
	report := {"action": "incident.report", "now": now, "subject": operator, "resource": {"kind": "incident", "org": "acme"}}
	enclave.decision.allow with input as report
	other := object.union(report, {"resource": {"kind": "incident", "org": "other-co"}})
	not enclave.decision.allow with input as other
	close := {"action": "incident.close", "now": now, "subject": operator, "resource": {"kind": "incident", "org": "acme"}}
	not enclave.decision.allow with input as close
}
