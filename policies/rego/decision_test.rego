package enclave_test

import data.enclave

now := "2026-06-01T12:00:00Z"

operator := {
	"id": "p-op1", "org": "acme", "org_type": "company", "org_status": "active",
	"licence_from": "2026-01-01T00:00:00Z", "licence_until": "2027-01-01T00:00:00Z",
	"agreement_until": "2026-12-31T23:59:59Z", "id_verified": true, "roles": ["operator"],
}

rules(d) := {r.rule | some r in d.reasons}

test_whoami_any_person if {
	d := enclave.decision with input as {"action": "whoami", "now": now, "subject": {"id": "p-x", "roles": []}}
	d.allow
	count(d.reasons) == 0
}

test_unauthenticated_denied if {
	d := enclave.decision with input as {"action": "whoami", "now": now, "subject": {"id": "", "roles": []}}
	not d.allow
	"subject.unauthenticated" in rules(d)
}

test_empty_input_denied if {
	d := enclave.decision with input as {}
	not d.allow
	"subject.unauthenticated" in rules(d)
	"input.now_missing" in rules(d)
	"action.unknown" in rules(d)
}

test_unknown_action_denied if {
	d := enclave.decision with input as {"action": "rows.read", "now": now, "subject": operator}
	not d.allow
	rules(d) == {"action.unknown"}
}

test_admin_cannot_read_catalogue if {
	admin := object.union(operator, {"roles": ["admin"], "org_status": ""})
	d := enclave.decision with input as {"action": "dataset.show", "now": now, "subject": admin}
	not d.allow
	rules(d) == {"role.not_permitted"}
}

test_operator_of_suspended_org_only_whoami if {
	op := object.union(operator, {"org_status": "suspended"})
	d1 := enclave.decision with input as {"action": "image.import", "now": now, "subject": op}
	not d1.allow
	rules(d1) == {"org.not_active"}
	d2 := enclave.decision with input as {"action": "whoami", "now": now, "subject": op}
	d2.allow
}

test_export_approver_independent if {
	officer := object.union(operator, {"id": "p-off1", "org": "platform", "roles": ["officer"]})
	d1 := enclave.decision with input as {"action": "export.approve", "now": now, "subject": officer, "resource": {"org": "acme", "owner": "p-op1"}}
	d1.allow
	d2 := enclave.decision with input as {"action": "export.approve", "now": now, "subject": officer, "resource": {"org": "platform", "owner": "p-op1"}}
	not d2.allow
	rules(d2) == {"scope.independent"}
	d3 := enclave.decision with input as {"action": "export.approve", "now": now, "subject": officer, "resource": {"org": "acme", "owner": "p-off1"}}
	not d3.allow
}

test_reason_messages_quote_identifiers if {
	d := enclave.decision with input as {"action": "person.add", "now": now, "subject": operator}
	some r in d.reasons
	r.rule == "role.not_permitted"
	r.message == `no role of person "p-op1" permits action "person.add"`
}

# Issue 15: a dataset belongs to the organisation that first imported it.
test_foreign_custodian_refused_by_dataset_owner_rule if {
	custodian := object.union(operator, {"id": "p-cu2", "org": "rival-centre", "roles": ["custodian"]})
	every action in ["dataset.import", "dataset.seal", "dataset.unseal", "dataset.destroy"] {
		d := enclave.decision with input as {"action": action, "now": now, "subject": custodian, "resource": {"kind": "dataset", "id": "credit_penalties", "org": "credit-centre"}}
		not d.allow
		rules(d) == {"dataset.not_owner"}
		d.reasons[_].message == `dataset "credit_penalties" belongs to organisation "credit-centre": only its custodians may import versions of it, seal, unseal or destroy it`
	}
}

test_owning_custodian_allowed if {
	custodian := object.union(operator, {"id": "p-cu1", "org": "credit-centre", "roles": ["custodian"]})
	every action in ["dataset.import", "dataset.seal", "dataset.unseal", "dataset.destroy"] {
		d := enclave.decision with input as {"action": action, "now": now, "subject": custodian, "resource": {"kind": "dataset", "id": "credit_penalties", "org": "credit-centre"}}
		d.allow
	}
}
