# Grants that end with their basis and incidents that stop use (issue 18;
# R-04, R-13, R-17, R-20). The daemon tells the policies a grant's status
# (approved; suspended while its organisation is suspended or an open
# incident names it; revoked; expired) and shows a dataset under an open
# incident in the state "held". These rules name why a job is refused, so
# that `enclave policy explain` says it; the admission itself already
# fails, since only approved grants and active datasets admit a job.
package enclave

# --- Datasets held by an open incident (application.file, job.run) --------

dataset_held(d) if d.state == "held"

held_reason(d) := {"rule": "incident.dataset_held", "message": sprintf("dataset %q is held by an open incident until the authority closes it", [dname(d)])} if {
	dataset_held(d)
}

dataset_reasons contains r if {
	some d in input.resource.datasets
	r := held_reason(d)
}

# --- Grants that no longer stand (job.run) --------------------------------

grant_status_message("suspended") := "is suspended (its organisation is suspended or an open incident names it)"

grant_status_message("revoked") := "was revoked"

grant_status_message("expired") := "expired"

# For every dataset of the job that no grant admits, each grant of the
# organisation naming it that is not approved, with its status.
grant_end_refusals := {r |
	some name, _ in job_datasets
	not usable[name]
	some g in input.grants
	g.org == input.subject.org
	g.status != "approved"
	some gd in g.datasets
	gd.name == name
	r := {"rule": "grant.not_approved", "message": sprintf("grant %q naming dataset %q %s", [g.id, name, grant_status_message(g.status)])}
}

reasons contains r if {
	input.action == "job.run"
	some r in grant_end_refusals
}
