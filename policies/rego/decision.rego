# The one decision point. The engine queries data.enclave.decision and
# nothing else. A request is allowed only when no rule adds a reason;
# every check is written as a positive rule and refuses with `not`, so a
# missing or malformed input field denies rather than allows.
#
# Deployers add rules by adding files in package enclave that contribute
# to `reasons` (each {"rule": ..., "message": ...}); they replace a built-in
# file by giving theirs the same name.
package enclave

decision := {
	"allow": allow,
	"reasons": reasons,
	"grants": grants_used,
}

default allow := false


# allow needs no reasons and, as a second line of defence should a reason
# fail to build, the positive gates too.
allow if {
	count(reasons) == 0
	authenticated
	now
	permitted
	job_gate
}

job_gate if not input.action == "job.run"

job_gate if {
	input.action == "job.run"
	every d in list(input.resource.datasets) {
		dataset_active(d)
		market_known(d)
		admitted(d)
	}
}

# admitted: a dataset of a job is admitted by a grant, or is an upload of
# the job's own organisation (issue 20), which needs none.
admitted(d) if usable[d.name]

admitted(d) if own_upload(d)

# Identifiers for messages, defined even when the input lacks them.
# (Written without passing input as a whole, so that the engine can tell
# which fields of the input an action's rules read.)
action := x if {
	x := input.action
} else := ""

subject_id := x if {
	x := input.subject.id
} else := ""

subject_org := x if {
	x := input.subject.org
} else := ""

resource_id := x if {
	x := input.resource.id
} else := ""

resource_org := x if {
	x := input.resource.org
} else := ""

dname(d) := object.get(d, "name", "")

# A time in input (RFC 3339) as nanoseconds since the epoch.
ns(t) := time.parse_rfc3339_ns(t) if is_string(t)

now := ns(input.now)

# list(x) is x when it is an array and [] otherwise (JSON null).
list(x) := x if is_array(x)

else := []

# authenticated: the person is known.
authenticated if {
	is_string(input.subject.id)
	input.subject.id != ""
}

reasons contains {"rule": "subject.unauthenticated", "message": "the request carries no authenticated person"} if {
	not authenticated
}

reasons contains {"rule": "input.now_missing", "message": "the request carries no valid time"} if {
	not now
}

known_action if action_roles[input.action]

reasons contains r if {
	not known_action
	r := {"rule": "action.unknown", "message": sprintf("action %q is not known to the policies", [action])}
}

in_scope("any")

in_scope("own_org") if {
	input.subject.org != ""
	input.resource.org == input.subject.org
}

in_scope("independent") if {
	input.resource.org != ""
	input.resource.owner != ""
	input.resource.org != input.subject.org
	input.resource.owner != input.subject.id
}

# permitted: some role of the person (or "*") allows the action in scope.
permitted if {
	some role, scope in action_roles[input.action]
	held(role)
	in_scope(scope)
}

held("*") if authenticated

held(role) if {
	role != "*"
	role in input.subject.roles
}

# holds_listed: the person holds a role listed for the action, whatever the scope.
holds_listed if {
	some role, _ in action_roles[input.action]
	held(role)
}

reasons contains r if {
	known_action
	authenticated
	not holds_listed
	r := {"rule": "role.not_permitted", "message": sprintf("no role of person %q permits action %q", [subject_id, action])}
}

reasons contains r if {
	known_action
	holds_listed
	not permitted
	not input.action in dataset_owner_actions
	some role, scope in action_roles[input.action]
	held(role)
	r := scope_reason(scope)
}

scope_reason("own_org") := {"rule": "scope.own_org", "message": sprintf("person %q may take action %q only on resources of organisation %q", [subject_id, action, subject_org])}

scope_reason("independent") := {"rule": "scope.independent", "message": sprintf("person %q may not decide %q on a request of their own or of organisation %q", [subject_id, action, subject_org])}

# A dataset belongs to the organisation that first imported its name (the
# role table scopes these actions own_org); another organisation's
# custodian is refused by this rule.
reasons contains r if {
	input.action in dataset_owner_actions
	holds_listed
	not permitted
	r := {"rule": "dataset.not_owner", "message": sprintf("dataset %q belongs to organisation %q: only its custodians may import versions of it, seal, unseal or destroy it", [resource_id, resource_org])}
}

# Organisation status: operators of an organisation that is not active get
# nothing but whoami and health; so does anyone whose organisation has a
# status other than active.
org_active if input.subject.org_status == "active"

org_status_applies if "operator" in input.subject.roles

org_status_applies if {
	is_string(input.subject.org_status)
	input.subject.org_status != ""
}

reasons contains r if {
	org_status_applies
	not org_active
	not input.action in inactive_org_actions
	r := {"rule": "org.not_active", "message": sprintf("organisation %q is not active", [subject_org])}
}
