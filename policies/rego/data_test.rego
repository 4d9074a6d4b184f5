package enclave_test

import data.enclave

dataset := {"name": "credit_penalties", "version": 3, "owner": "credit-centre", "level": "general-2", "market": "ordinary", "state": "active", "columns": []}

grant := {
	"id": "g-1", "org": "acme", "datasets": [{"name": "credit_penalties", "columns": [], "owner": "credit-centre", "market": "ordinary", "level": "general-2", "version": 3}],
	"from": "2026-05-01T00:00:00Z", "until": "2026-07-01T00:00:00Z",
	"approvers": ["p-auth1"], "batches_left": null, "status": "approved", "public_interest": false,
}

job := {
	"action": "job.run", "now": now, "subject": operator,
	"resource": {"kind": "job", "org": "acme", "owner": "p-op1", "datasets": [dataset], "image": {"status": "approved"}},
	"grants": [grant], "usage": {"running_jobs": 0, "cpu_seconds_month": 0},
	"quota": {"concurrent_jobs": null, "cpu_seconds_month": null, "memory_bytes_per_job": null},
	"request": {"cpu": 1, "memory_bytes": 1073741824}, "config": {"authorized_org_types": ["company"]},
}

test_job_allowed if {
	d := enclave.decision with input as job
	d.allow
	d.grants == {"credit_penalties": "g-1"}
}

test_job_on_ungranted_dataset_denied if {
	other := object.union(dataset, {"name": "social_security"})
	d := enclave.decision with input as object.union(job, {"resource": {"datasets": [other]}})
	not d.allow
	rules(d) == {"grant.dataset_not_granted"}
	d.grants == {}
}

test_sealed_dataset_denied if {
	sealed := object.union(dataset, {"state": "sealed"})
	d := enclave.decision with input as object.union(job, {"resource": {"datasets": [sealed]}})
	"dataset.unavailable" in rules(d)
}

test_withheld_dataset_denied if {
	withheld := object.union(dataset, {"market": "withheld"})
	d := enclave.decision with input as object.union(job, {"resource": {"datasets": [withheld]}})
	"dataset.withheld" in rules(d)
}

pinned_important := object.union(grant, {"datasets": [object.union(grant.datasets[0], {"level": "important"})]})

test_important_needs_two_approvers if {
	important := object.union(dataset, {"level": "important"})
	d1 := enclave.decision with input as object.union(job, {"resource": {"datasets": [important]}, "grants": [pinned_important]})
	rules(d1) == {"grant.important_needs_two_approvers"}
	two := object.union(pinned_important, {"approvers": ["p-auth1", "p-auth2"]})
	d2 := enclave.decision with input as object.union(job, {"resource": {"datasets": [important]}, "grants": [two]})
	d2.allow
}

test_university_needs_public_interest if {
	uni := object.union(operator, {"org_type": "university"})
	d1 := enclave.decision with input as object.union(job, {"subject": uni})
	rules(d1) == {"grant.public_interest_required"}
	pi := object.union(grant, {"public_interest": true})
	d2 := enclave.decision with input as object.union(job, {"subject": uni, "grants": [pi]})
	d2.allow
}

test_batches if {
	none_left := object.union(grant, {"batches_left": 0})
	d1 := enclave.decision with input as object.union(job, {"grants": [none_left]})
	rules(d1) == {"grant.batches_exhausted"}
	one_left := object.union(grant, {"batches_left": 1})
	d2 := enclave.decision with input as object.union(job, {"grants": [one_left]})
	d2.allow
}

test_missing_usage_with_quota_denied if {
	d := enclave.decision with input as object.union(job, {"quota": {"concurrent_jobs": 4}, "usage": null})
	"quota.concurrent_jobs" in rules(d)
}

test_expired_licence_denied if {
	lapsed := object.union(operator, {"licence_until": "2026-05-31T00:00:00Z"})
	d := enclave.decision with input as object.union(job, {"subject": lapsed})
	"licence.not_valid" in rules(d)
}

test_licence_longer_than_two_years_refused if {
	authority := object.union(operator, {"id": "p-auth1", "org": "city", "org_type": "agency", "roles": ["authority"]})
	d := enclave.decision with input as {"action": "org.add", "now": now, "subject": authority, "resource": {"from": "2026-01-01T00:00:00Z", "until": "2028-01-02T00:00:00Z"}}
	rules(d) == {"licence.period"}
}

# Issue 15: a new version that changes the provider, the market class or
# raises the level does not flow to a grant approved before it.
test_new_version_outside_the_pins_denied if {
	every change in [{"owner": "rival-centre"}, {"market": "authorized"}, {"level": "general-3"}, {"owner": ""}] {
		d := enclave.decision with input as object.union(job, {"resource": {"datasets": [object.union(dataset, change)]}})
		not d.allow
		rules(d) == {"grant.version_not_approved"}
	}
}

test_lower_level_within_the_pins_allowed if {
	d := enclave.decision with input as object.union(job, {"resource": {"datasets": [object.union(dataset, {"version": 1, "level": "general-1"})]}})
	d.allow
}

test_grant_without_pins_admits_nothing if {
	bare := object.union(grant, {"datasets": [{"name": "credit_penalties", "columns": []}]})
	d := enclave.decision with input as object.union(job, {"grants": [bare]})
	rules(d) == {"grant.version_not_approved"}
}

# Operators' own data (issue 20).
upload := {"name": "acme_customers", "version": 1, "owner": "acme", "level": "general-2", "market": "ordinary", "state": "active", "columns": [], "upload": true}

test_own_upload_needs_no_grant if {
	d := enclave.decision with input as object.union(job, {"resource": {"datasets": [upload, dataset]}})
	d.allow
	d.grants == {"credit_penalties": "g-1"}
}

test_upload_of_another_org_denied if {
	theirs := object.union(upload, {"owner": "globex"})
	d := enclave.decision with input as object.union(job, {"resource": {"datasets": [theirs]}})
	not d.allow
	"upload.not_own" in rules(d)
}

test_pending_upload_denied if {
	pending := object.union(upload, {"state": "pending-review"})
	d := enclave.decision with input as object.union(job, {"resource": {"datasets": [pending]}})
	not d.allow
	"dataset.unavailable" in rules(d)
}

test_upload_never_in_an_application if {
	app := {"action": "application.file", "now": now, "subject": operator,
		"resource": {"kind": "application", "org": "acme", "owner": "p-op1", "datasets": [upload]}}
	d := enclave.decision with input as app
	not d.allow
	"upload.not_shared" in rules(d)
}

# Sharing classes (issue 20).
test_sharing_none_never_applied_for if {
	app := {"action": "application.file", "now": now, "subject": operator,
		"resource": {"kind": "application", "org": "acme", "owner": "p-op1", "datasets": [object.union(dataset, {"sharing": "none"})]}}
	d := enclave.decision with input as app
	not d.allow
	"sharing.none" in rules(d)
}

test_sharing_none_never_read_under_a_grant if {
	d := enclave.decision with input as object.union(job, {"resource": {"datasets": [object.union(dataset, {"sharing": "none"})]}})
	not d.allow
	"sharing.none" in rules(d)
}

test_sharing_unconditional_granted if {
	d := enclave.decision with input as object.union(job, {"resource": {"datasets": [object.union(dataset, {"sharing": "unconditional"})]}})
	d.allow
}
