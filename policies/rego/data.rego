# Data rules (R-02, R-04, R-05, R-06, R-07, R-08): licences, agreements,
# dataset marks and states, grants, and quotas at job admission.
package enclave

# --- Licence (actions in licensed_actions) -------------------------------

licence_ok if {
	from := ns(input.subject.licence_from)
	until := ns(input.subject.licence_until)
	from <= now
	now <= until
}

# One rule per request checks the licence, so that the other actions pay
# for a single membership test. (Agreements are checked for every action:
# people.rego.)
reasons contains r if {
	input.action in licensed_actions
	not licence_ok
	r := {"rule": "licence.not_valid", "message": sprintf("organisation %q holds no licence valid now", [subject_org])}
}

# --- Licence length (org.add, R-04) --------------------------------------

licence_period_ok if {
	from := ns(input.resource.from)
	until := ns(input.resource.until)
	from < until
	until <= time.add_date(from, 2, 0, 0)
}

reasons contains {"rule": "licence.period", "message": "a licence must end after it starts and last at most two years"} if {
	input.action == "org.add"
	not licence_period_ok
}

# --- Datasets (application.file and job.run) -----------------------------

# Actions on a dataset that only custodians of the organisation owning its
# name may take (the role table scopes them own_org; decision.rego names
# the refusal dataset.not_owner).
dataset_owner_actions := {"dataset.import", "dataset.seal", "dataset.unseal", "dataset.destroy"}

data_actions := {"application.file", "job.run"}

restricted_org_types := {"university", "research-institute"}

# Every rule of the policies starts with `input.action == "..."` where it
# can, so that OPA's rule index skips the rules of other actions.
reasons contains r if {
	input.action == "application.file"
	some r in dataset_reasons
}

reasons contains r if {
	input.action == "job.run"
	some r in dataset_reasons
}

dataset_reasons contains r if {
	some d in input.resource.datasets
	r := unavailable(d)
}

dataset_reasons contains r if {
	some d in input.resource.datasets
	r := withheld(d)
}

# The reasons of a dataset are functions so that partial evaluation keeps
# each check before its message (see notInlined in policies/opa).
unavailable(d) := {"rule": "dataset.unavailable", "message": sprintf("dataset %q is sealed, destroyed or not active", [dname(d)])} if {
	not dataset_active(d)
}

withheld(d) := {"rule": "dataset.withheld", "message": sprintf("dataset %q is withheld or carries no market class", [dname(d)])} if {
	not market_known(d)
}

dataset_active(d) if d.state == "active"

market_known(d) if d.market in {"ordinary", "authorized"}

dataset_reasons contains r if {
	some d in input.resource.datasets
	d.market == "authorized"
	not input.subject.org_type in {t | some t in input.config.authorized_org_types}
	r := {"rule": "dataset.authorization_required", "message": sprintf("dataset %q needs authorization that organisation %q is not of a type to hold", [dname(d), subject_org])}
}

# --- Applications (application.file, application.approve) ----------------

reasons contains {"rule": "application.no_datasets", "message": "an application names at least one dataset"} if {
	input.action == "application.file"
	count(list(input.resource.datasets)) == 0
}

reasons contains r if {
	input.action == "application.file"
	input.subject.org_type in restricted_org_types
	not input.resource.public_interest == true
	r := {"rule": "application.public_interest_required", "message": sprintf("organisation %q may only apply for public-interest use", [subject_org])}
}

application_period_ok if {
	from := ns(input.resource.from)
	until := ns(input.resource.until)
	from < until
	ns(input.subject.licence_from) <= from
	until <= ns(input.subject.licence_until)
}

reasons contains r if {
	input.action == "application.file"
	not application_period_ok
	r := {"rule": "application.period", "message": sprintf("the application period must lie within the licence of organisation %q", [subject_org])}
}

reasons contains r if {
	input.action == "application.approve"
	input.subject.id in {a | some a in input.resource.approvers}
	r := {"rule": "application.already_approved", "message": sprintf("person %q already approved this application", [subject_id])}
}

# --- Job admission (job.run) ---------------------------------------------

image_ok if input.resource.image.status == "approved"

reasons contains {"rule": "image.not_approved", "message": "the job image is not approved"} if {
	input.action == "job.run"
	not image_ok
}

# valid_grants: grants of the person's organisation, approved and valid now.
valid_grants := [g |
	some g in input.grants
	g.org == input.subject.org
	g.status == "approved"
	ns(g.from) <= now
	now <= ns(g.until)
]

job_datasets := {d.name: d | some d in input.resource.datasets}

# levels[name], for each dataset `name` of the job that no grant admits
# (see usable), pairs every valid grant naming it with how far it gets
# through the checks, in order: 1 the version is one the grant was
# approved for (its pins: same owner and market class, a level no higher),
# 2 its columns cover the job's, 3 it has enough approvers for the
# dataset's level, 4 its purpose suits the organisation's type, 5 it has
# batches left (a level-5 grant would admit the dataset). The best level
# names the refusing rule. Each entry is [level, rank, id], rank 0 for an
# unlimited grant and 1 for a batch-limited one.
default levels := {}

levels := {name: ls |
	some name, d in job_datasets
	not usable[name]
	not own_upload(d)
	ls := {[level(g, gd, d), rank(object.get(g, "batches_left", null)), g.id] |
		some g in valid_grants
		some gd in g.datasets
		gd.name == name
	}
} if input.action == "job.run"

# The checks of a grant take scalars (a field of the grant, null when
# absent), not whole grants: OPA copies and hashes a function's arguments
# on every call to look up its cache.
rank(batches_left) := 0 if batches_left == null

else := 1

level(g, gd, d) := 5 if {
	pins_hold(gd, d)
	covered(gd, d)
	approved_enough(g, d)
	purpose_ok(g)
	batches_ok(g)
} else := 4 if {
	pins_hold(gd, d)
	covered(gd, d)
	approved_enough(g, d)
	purpose_ok(g)
} else := 3 if {
	pins_hold(gd, d)
	covered(gd, d)
	approved_enough(g, d)
} else := 2 if {
	pins_hold(gd, d)
	covered(gd, d)
} else := 1 if {
	pins_hold(gd, d)
} else := 0

pins_hold(gd, d) if pinned(object.get(gd, "owner", null), object.get(gd, "market", null), object.get(gd, "level", null), object.get(d, "owner", null), d.market, d.level)

covered(gd, d) if columns_covered(object.get(gd, "columns", null), object.get(d, "columns", null))

approved_enough(g, d) if enough_approvers(object.get(g, "approvers", null), d.level)

purpose_ok(g) if purpose_allowed(object.get(g, "public_interest", null))

batches_ok(g) if batches_available(object.get(g, "batches_left", null))

# pinned: a dataset version flows to a grant only when it comes from the
# organisation, carries the market class, and has at most the level the
# grant was approved for (issue 15). A grant without pins admits nothing.
pinned(owner, market, level, d_owner, d_market, d_level) if {
	is_string(owner)
	owner != ""
	owner == d_owner
	market == d_market
	level_rank[d_level] <= level_rank[level]
}

level_rank := {"general-1": 1, "general-2": 2, "general-3": 3, "general-4": 4, "important": 5}

# columns_covered: the grant names no columns, or the job reads named
# columns that are all granted.
columns_covered(granted, _) if not non_empty(granted)

columns_covered(granted, read) if {
	non_empty(read)
	every c in read {
		c in granted
	}
}

non_empty(x) if x[_]

enough_approvers(_, level) if level != "important"

enough_approvers(approvers, level) if {
	level == "important"
	count({a | some a in approvers}) >= 2
}

purpose_allowed(_) if org_unrestricted

# org_unrestricted: the organisation's type is not limited to public-interest use.
org_unrestricted if not input.subject.org_type in restricted_org_types

purpose_allowed(public_interest) if public_interest == true

batches_available(batches_left) if batches_left == null

batches_available(batches_left) if batches_left > 0

# usable[name] are [rank, id] of the valid grants that admit dataset
# `name` of the job (level 5), when there are any. It is computed without
# levels, so that an admitted job never ranks the grants that refuse it.
usable := {name: ok |
	some name, d in job_datasets
	ok := {[rank(b), g.id] |
		some g in valid_grants
		some gd in g.datasets
		gd.name == name
		b := object.get(g, "batches_left", null)
		pinned(object.get(gd, "owner", null), object.get(gd, "market", null), object.get(gd, "level", null), object.get(d, "owner", null), d.market, d.level)
		columns_covered(object.get(gd, "columns", null), object.get(d, "columns", null))
		enough_approvers(object.get(g, "approvers", null), d.level)
		purpose_allowed(object.get(g, "public_interest", null))
		batches_available(b)
	}
	count(ok) > 0
}

# best[name] is the best level any grant reaches for dataset `name`.
best := {name: max({e[0] | some e in ls}) | some name, ls in levels}

job_reason(name) := {"rule": "grant.dataset_not_granted", "message": sprintf("dataset %q is not named in any valid grant of organisation %q", [name, subject_org])} if {
	count(levels[name]) == 0
} else := {"rule": "grant.version_not_approved", "message": sprintf("version %d of dataset %q differs from what every grant of organisation %q naming it was approved for (owner, market class, or a higher level): it needs a new approval", [object.get(job_datasets[name], "version", 0), name, subject_org])} if {
	best[name] < 1
} else := {"rule": "grant.columns_not_granted", "message": sprintf("the columns read from dataset %q are not all named in a grant of organisation %q", [name, subject_org])} if {
	best[name] < 2
} else := {"rule": "grant.important_needs_two_approvers", "message": sprintf("dataset %q is important and needs a grant approved by two authorities", [name])} if {
	best[name] < 3
} else := {"rule": "grant.public_interest_required", "message": sprintf("dataset %q is granted to organisation %q only for public-interest use, and no such grant is valid", [name, subject_org])} if {
	best[name] < 4
} else := {"rule": "grant.batches_exhausted", "message": sprintf("every grant of dataset %q has used all its batches", [name])} if {
	best[name] < 5
}

reasons contains r if {
	input.action == "job.run"
	some r in job_refusals
}

# job_refusals are the reasons of the job's datasets that no grant admits.
# (A comprehension, so that partial evaluation keeps the references to
# usable that job_gate and grants_used share.)
job_refusals := {r |
	some name, d in job_datasets
	not usable[name]
	not own_upload(d)
	r := job_reason(name)
}

# --- Operators' own data (issue 20) ---------------------------------------

# own_upload: an operator's upload read by its own organisation's job; it
# needs no grant (the dataset's state still has to be active).
own_upload(d) if {
	d.upload == true
	d.owner == input.subject.org
	input.subject.org != ""
}

# An upload of another organisation is never read, whatever grant names it.
reasons contains r if {
	input.action == "job.run"
	some d in input.resource.datasets
	d.upload == true
	not own_upload(d)
	r := {"rule": "upload.not_own", "message": sprintf("dataset %q is not in the catalogue", [dname(d)])}
}

# No application names an upload: it is its organisation's alone.
reasons contains r if {
	input.action == "application.file"
	some d in input.resource.datasets
	d.upload == true
	r := {"rule": "upload.not_shared", "message": sprintf("dataset %q is an operator's upload and is never granted", [dname(d)])}
}

# grants_used names, per dataset, the grant that admits it: an unlimited
# grant if there is one, else a batch-limited one; the smallest id wins.
default grants_used := {}

grants_used := {name: min(ok)[1] | some name, ok in usable} if input.action == "job.run"

# --- Quotas (job.run); an unset quota is not limited ----------------------

concurrency_ok if object.get(input.quota, "concurrent_jobs", null) == null

concurrency_ok if input.usage.running_jobs < input.quota.concurrent_jobs

cpu_ok if object.get(input.quota, "cpu_seconds_month", null) == null

cpu_ok if input.usage.cpu_seconds_month < input.quota.cpu_seconds_month

memory_ok if object.get(input.quota, "memory_bytes_per_job", null) == null

memory_ok if input.request.memory_bytes <= input.quota.memory_bytes_per_job

reasons contains r if {
	input.action == "job.run"
	not concurrency_ok
	r := {"rule": "quota.concurrent_jobs", "message": sprintf("organisation %q runs as many jobs as its quota allows", [subject_org])}
}

reasons contains r if {
	input.action == "job.run"
	not cpu_ok
	r := {"rule": "quota.cpu_seconds_month", "message": sprintf("organisation %q has used its CPU-seconds for this month", [subject_org])}
}

reasons contains r if {
	input.action == "job.run"
	not memory_ok
	r := {"rule": "quota.memory_per_job", "message": sprintf("the job asks for more memory than organisation %q may use per job", [subject_org])}
}

# --- Sharing classes (issue 20, R-02) --------------------------------------

# A dataset of sharing class "none" is never granted, nor read by a job of
# another organisation than its owner's.
reasons contains r if {
	input.action in {"application.file", "application.approve"}
	some d in input.resource.datasets
	d.sharing == "none"
	r := {"rule": "sharing.none", "message": sprintf("dataset %q is of sharing class none and is never granted", [dname(d)])}
}

reasons contains r if {
	input.action == "job.run"
	some d in input.resource.datasets
	d.sharing == "none"
	not own_upload(d)
	r := {"rule": "sharing.none", "message": sprintf("dataset %q is of sharing class none and is never granted", [dname(d)])}
}
