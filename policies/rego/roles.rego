# The role table: which roles may take which action, and within which scope.
#
# action_roles[action][role] is a scope:
#   "any"          the role may take the action on any resource;
#   "own_org"      only on resources of the person's own organisation
#                  (input.resource.org == input.subject.org); a dataset's
#                  organisation is the one that first imported its name;
#   "independent"  only on requests of another organisation and another
#                  person (input.resource.org and input.resource.owner are
#                  set and differ from the person's): approvals and reviews.
# The role "*" stands for any authenticated person. An action missing here
# is denied with rule "action.unknown". A deployer replaces this table by
# putting a file named roles.rego in the policy directory.
package enclave

action_roles := {
	"whoami": {"*": "any"},
	"health": {"*": "any"},
	"keys.public": {"*": "any"},
	"person.add": {"admin": "any"},
	"person.list": {"admin": "any"},
	"person.show": {"admin": "any"},
	"token.revoke": {"admin": "any"},
	"token.issue": {"admin": "any"},
	"token.list": {"admin": "any"},
	"person.agreement": {"admin": "any"},
	"org.add": {"authority": "any"},
	"org.suspend": {"authority": "any"},
	"org.reinstate": {"authority": "any"},
	"org.blacklist": {"authority": "any"},
	"org.revoke": {"authority": "any"},
	"org.renew": {"authority": "any"},
	"org.show": {"admin": "any", "authority": "any", "bureau": "any", "officer": "any"},
	"org.list": {"admin": "any", "authority": "any", "bureau": "any", "officer": "any"},
	"image.import": {"operator": "any"},
	"image.approve": {"officer": "independent"},
	"image.reject": {"officer": "independent"},
	"image.list": {"operator": "any", "officer": "any", "admin": "any"},
	"dataset.import": {"custodian": "own_org"},
	"dataset.seal": {"custodian": "own_org"},
	"dataset.unseal": {"custodian": "own_org"},
	"dataset.destroy": {"custodian": "own_org", "operator": "own_org"},
	# Operators' own data (issue 20): an operator uploads, an officer of
	# another organisation decides; an operator destroys its organisation's
	# uploads (the catalogue holds no other dataset of an operator's).
	"dataset.upload": {"operator": "own_org"},
	"dataset.approve": {"officer": "independent"},
	"dataset.reject": {"officer": "independent"},
	"dataset.list": {"authority": "any", "custodian": "any", "operator": "any", "officer": "any", "bureau": "any"},
	"dataset.show": {"authority": "any", "custodian": "any", "operator": "any", "officer": "any", "bureau": "any"},
	"application.file": {"operator": "any"},
	"application.approve": {"authority": "independent"},
	"application.reject": {"authority": "independent"},
	"application.list": {"operator": "own_org", "authority": "any", "bureau": "any"},
	"application.revoke": {"authority": "any"},
	"job.run": {"operator": "own_org"},
	"job.list": {"operator": "own_org", "officer": "any", "bureau": "any"},
	"job.show": {"operator": "own_org", "officer": "any", "bureau": "any"},
	"job.wait": {"operator": "own_org"},
	"job.outputs": {"operator": "own_org"},
	"job.cancel": {"operator": "own_org"},
	"job.logs": {"officer": "any", "operator": "own_org"},
	"job.halt": {"officer": "any", "bureau": "any"},
	"export.request": {"operator": "own_org"},
	"export.show": {"operator": "own_org", "officer": "any", "bureau": "any"},
	"export.approve": {"officer": "independent"},
	"export.reject": {"officer": "independent"},
	"export.download": {"operator": "own_org"},
	"release.list": {"operator": "own_org", "officer": "any", "bureau": "any", "authority": "any"},
	"usage.report": {"operator": "own_org", "bureau": "any", "admin": "any"},
	"audit.list": {"bureau": "any", "admin": "any", "custodian": "own_org"},
	"audit.verify": {"bureau": "any", "admin": "any"},
	"audit.export": {"bureau": "any", "admin": "any"},
	"audit.purge": {"admin": "any"},
	"org.quota": {"authority": "any"},
	"report.annual": {"operator": "own_org", "bureau": "any", "admin": "any"},
	"metrics.read": {"bureau": "any", "admin": "any"},
	"policy.explain": {"authority": "any", "officer": "any", "bureau": "any", "admin": "any"},
	# Incidents (issue 18): operators report on their own organisation's
	# work, officers and the bureau on anything; the authority closes them;
	# the bureau halts every job of an organisation or a dataset at once.
	"incident.report": {"operator": "own_org", "officer": "any", "bureau": "any"},
	"incident.list": {"officer": "any", "bureau": "any", "authority": "any"},
	"incident.show": {"officer": "any", "bureau": "any", "authority": "any"},
	"incident.close": {"authority": "any"},
	"job.halt_all": {"bureau": "any"},
	# Services (issue 19): custodians and operators create them (the
	# domain checks the dataset is theirs or under their grant), officers
	# of another organisation review them, consumers subscribe and manage
	# their systems' credentials, the authority approves subscriptions; a
	# "consumer-system" is an application system calling with a credential
	# (no person holds that role) and may call its subscription's service
	# and nothing else.
	"service.create": {"custodian": "own_org", "operator": "own_org"},
	"service.list": {"custodian": "any", "operator": "any", "officer": "any", "authority": "any", "bureau": "any", "consumer": "any"},
	"service.show": {"custodian": "any", "operator": "any", "officer": "any", "authority": "any", "bureau": "any", "consumer": "any"},
	"service.approve": {"officer": "independent"},
	"service.reject": {"officer": "independent"},
	"service.stop": {"custodian": "own_org", "operator": "own_org", "authority": "any", "bureau": "any"},
	"service.subscribe": {"consumer": "own_org"},
	"service.verify": {"consumer-system": "own_org"},
	"service.query": {"consumer-system": "own_org"},
	"service.bulk": {"consumer-system": "own_org"},
	"service.usage": {"consumer": "any", "custodian": "any", "bureau": "any"},
	"service.openapi": {"consumer": "any", "consumer-system": "any", "custodian": "any", "operator": "any", "officer": "any", "authority": "any", "bureau": "any"},
	"subscription.list": {"consumer": "own_org", "authority": "any", "bureau": "any"},
	"subscription.approve": {"authority": "any"},
	"subscription.reject": {"authority": "any"},
	"subscription.statement": {"consumer": "own_org", "authority": "any", "bureau": "any"},
	"credential.issue": {"consumer": "own_org"},
	"credential.list": {"consumer": "own_org"},
	"credential.revoke": {"consumer": "own_org"},
	# Objections (issue 20 item 4; 001 art. 13, 002 art. 20): anyone with a
	# token files one about a dataset they can see in the catalogue (the
	# server answers an invisible one "not found or not yours"), lists and
	# reads those of their organisation (filed or to answer; the bureau and
	# the authority every one); the dataset's custodian organisation answers.
	"objection.file": {"*": "any"},
	"objection.list": {"*": "any"},
	"objection.show": {"*": "any"},
	"objection.answer": {"custodian": "own_org"},
}

# Actions still allowed to people of an organisation that is not active.
inactive_org_actions := {"whoami", "health"}

# Actions that need a valid licence and a confidentiality agreement on record.
licensed_actions := {"application.file", "job.run", "export.request", "export.download"}
