package enclave_test

import data.enclave

# Issue 15: people who see data or decide need a valid agreement and a
# verified ID number for everything but whoami.
test_expired_agreement_denies_all_but_whoami if {
	every role in ["operator", "officer", "custodian", "authority", "bureau"] {
		p := object.union(operator, {"org": "city", "roles": [role], "agreement_until": "2026-05-31T23:59:59Z"})
		every action in ["dataset.list", "org.list", "audit.list", "job.list", "export.approve", "policy.explain", "keys.public"] {
			d := enclave.decision with input as {"action": action, "now": now, "subject": p, "resource": {"org": "acme", "owner": "p-op1"}}
			not d.allow
			"agreement.not_valid" in rules(d)
		}
		w := enclave.decision with input as {"action": "whoami", "now": now, "subject": p}
		w.allow
	}
}

test_missing_agreement_denied if {
	officer := object.union(operator, {"id": "p-off1", "org": "security", "roles": ["officer"]})
	no_agreement := object.remove(officer, ["agreement_until"])
	d := enclave.decision with input as {"action": "export.approve", "now": now, "subject": no_agreement, "resource": {"org": "acme", "owner": "p-op1"}}
	rules(d) == {"agreement.not_valid"}
	d2 := enclave.decision with input as {"action": "export.approve", "now": now, "subject": officer, "resource": {"org": "acme", "owner": "p-op1"}}
	d2.allow
}

test_admin_needs_no_agreement if {
	admin := object.remove(object.union(operator, {"roles": ["admin"], "org_status": "", "id_verified": false}), ["agreement_until"])
	d := enclave.decision with input as {"action": "person.agreement", "now": now, "subject": admin}
	d.allow
}

test_unverified_id_denied if {
	unverified := object.union(operator, {"id_verified": false})
	d := enclave.decision with input as {"action": "image.import", "now": now, "subject": unverified}
	rules(d) == {"person.id_not_verified"}
	w := enclave.decision with input as {"action": "whoami", "now": now, "subject": unverified}
	w.allow
}

authority := object.union(operator, {"id": "p-auth1", "org": "city", "org_type": "agency", "roles": ["authority"]})

org_add(licensing) := {"action": "org.add", "now": now, "subject": authority, "resource": {
	"kind": "org", "id": "new-co", "org": "new-co",
	"from": "2026-06-01T00:00:00Z", "until": "2027-05-31T23:59:59Z", "licensing": licensing,
}}

test_uscc_blacklisted_never_licensed if {
	d := enclave.decision with input as org_add({"blacklisted_as": "old-co"})
	rules(d) == {"licence.uscc_blacklisted"}
	d.reasons[_].message == `the unified social credit code of organisation "new-co" was blacklisted (as "old-co"): it is never licensed again`
}

test_uscc_revoked_three_years if {
	recent := enclave.decision with input as org_add({"revoked_as": "old-co", "revoked_at": "2023-06-01T12:00:01Z"})
	rules(recent) == {"licence.uscc_revoked"}
	old := enclave.decision with input as org_add({"revoked_as": "old-co", "revoked_at": "2023-06-01T12:00:00Z"})
	old.allow
	clean := enclave.decision with input as org_add({"blacklisted_as": "", "revoked_at": null})
	clean.allow
}

org_renew(licensing, until) := {"action": "org.renew", "now": now, "subject": authority, "resource": {
	"kind": "org", "id": "acme", "org": "acme",
	"from": "2026-08-01T00:00:00Z", "until": until, "licensing": licensing,
}}

test_renewal_only_in_the_last_three_months if {
	# now is 2026-06-01T12:00Z
	ok := enclave.decision with input as org_renew({"licence_until": "2026-07-31T23:59:59Z", "status": "active"}, "2028-07-31T23:59:59Z")
	ok.allow
	edge := enclave.decision with input as org_renew({"licence_until": "2026-09-01T12:00:00Z", "status": "active"}, "2028-07-31T23:59:59Z")
	edge.allow
	early := enclave.decision with input as org_renew({"licence_until": "2026-09-01T12:00:01Z", "status": "active"}, "2028-07-31T23:59:59Z")
	rules(early) == {"licence.renewal_window"}
	ended := enclave.decision with input as org_renew({"licence_until": "2026-05-31T23:59:59Z", "status": "active"}, "2028-07-31T23:59:59Z")
	rules(ended) == {"licence.renewal_window"}
	long := enclave.decision with input as org_renew({"licence_until": "2026-07-31T23:59:59Z", "status": "active"}, "2028-08-01T00:00:01Z")
	rules(long) == {"licence.period"}
	suspended := enclave.decision with input as org_renew({"licence_until": "2026-07-31T23:59:59Z", "status": "suspended"}, "2028-07-31T23:59:59Z")
	rules(suspended) == {"licence.renewal_not_active"}
	missing := enclave.decision with input as org_renew(null, "2028-07-31T23:59:59Z")
	rules(missing) == {"licence.renewal_window", "licence.renewal_not_active"}
}

test_licensing_facts_only_for_the_permitted if {
	op := enclave.decision with input as object.union(org_add({"blacklisted_as": "old-co", "revoked_as": "older-co", "revoked_at": "2026-01-01T00:00:00Z"}), {"subject": operator})
	rules(op) == {"role.not_permitted"}
	renew := enclave.decision with input as object.union(org_renew({"licence_until": "2027-12-31T23:59:59Z", "status": "suspended"}, "2028-07-31T23:59:59Z"), {"subject": operator})
	rules(renew) == {"role.not_permitted"}
}
