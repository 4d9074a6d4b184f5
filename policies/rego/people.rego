# People and organisations (R-04, R-05; issue 15): real-name identity and
# confidentiality agreements of the people who see data or decide, and the
# rules of licensing an organisation by its unified social credit code.
package enclave

# --- Identity and agreements (every action) ------------------------------

# The roles that see data or decide (001 art. 16.1): whoever holds one needs
# a verified resident ID number and a confidentiality agreement valid now.
agreement_roles := {"operator", "officer", "custodian", "authority", "bureau"}

# What a person without a valid agreement may still do: ask who they are;
# an admin renews the agreement (person.agreement is an admin's action).
agreement_exempt_actions := {"whoami", "health", "person.agreement"}

# What a person without a verified ID number may still do.
identity_exempt_actions := {"whoami", "health"}

agreement_required if {
	some role in input.subject.roles
	role in agreement_roles
}

# Licensed actions need an agreement whoever takes them.
agreement_required if input.action in licensed_actions

agreement_ok if now <= ns(input.subject.agreement_until)

reasons contains r if {
	not input.action in agreement_exempt_actions
	agreement_required
	not agreement_ok
	r := {"rule": "agreement.not_valid", "message": sprintf("person %q has no confidentiality agreement on record that is valid now", [subject_id])}
}

reasons contains r if {
	not input.action in identity_exempt_actions
	agreement_required
	not input.subject.id_verified == true
	r := {"rule": "person.id_not_verified", "message": sprintf("person %q has no verified resident ID number on record", [subject_id])}
}

# --- Licensing by unified social credit code (org.add, org.renew) --------

# The organisation being licensed or renewed, for messages.
licensed_org := x if {
	x := input.resource.id
	is_string(x)
} else := ""

# A code blacklisted under any name is never licensed again (000 art. 62);
# one whose licence was revoked is not licensed again for three years.
blacklisted_as := x if {
	x := input.resource.licensing.blacklisted_as
	is_string(x)
	x != ""
}

revoked_as := x if {
	x := input.resource.licensing.revoked_as
	is_string(x)
} else := ""

revoked_recently if now < time.add_date(ns(input.resource.licensing.revoked_at), 3, 0, 0)

licensing_action if input.action == "org.add"

licensing_action if input.action == "org.renew"

# The register's facts are told only to whom the role table permits the
# action: anyone else learns nothing of them (role.not_permitted).
reasons contains r if {
	licensing_action
	permitted
	r := {"rule": "licence.uscc_blacklisted", "message": sprintf("the unified social credit code of organisation %q was blacklisted (as %q): it is never licensed again", [licensed_org, blacklisted_as])}
}

reasons contains r if {
	licensing_action
	permitted
	revoked_recently
	r := {"rule": "licence.uscc_revoked", "message": sprintf("a licence under the unified social credit code of organisation %q was revoked (as %q) less than three years ago", [licensed_org, revoked_as])}
}

# --- Renewal (org.renew, R-04: at most two years a term) ------------------

# A licence is renewed only in its last three months, while it is valid,
# by an active organisation; the new term lasts at most two years.
renewal_window_open if {
	until := ns(input.resource.licensing.licence_until)
	time.add_date(until, 0, -3, 0) <= now
	now <= until
}

reasons contains r if {
	input.action == "org.renew"
	permitted
	not renewal_window_open
	r := {"rule": "licence.renewal_window", "message": sprintf("organisation %q may renew its licence only in the last three months of it", [licensed_org])}
}

reasons contains r if {
	input.action == "org.renew"
	permitted
	not input.resource.licensing.status == "active"
	r := {"rule": "licence.renewal_not_active", "message": sprintf("organisation %q is not active: only an active organisation renews its licence", [licensed_org])}
}

reasons contains {"rule": "licence.period", "message": "a licence must end after it starts and last at most two years"} if {
	input.action == "org.renew"
	not licence_period_ok
}
