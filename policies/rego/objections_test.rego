package enclave_test

import data.enclave

# Objections (issue 20 item 4): anyone with a token files, lists and reads
# (the server scopes what each sees); only the dataset's custodian
# organisation answers.
test_objection_roles if {
	custodian := object.union(operator, {"id": "p-cu1", "org": "credit-centre", "roles": ["custodian"]})
	file := {"action": "objection.file", "now": now, "subject": operator, "resource": {"kind": "objection", "org": "credit-centre"}}
	enclave.decision.allow with input as file
	answer := {"action": "objection.answer", "now": now, "subject": custodian, "resource": {"kind": "objection", "id": "obj_1", "org": custodian.org}}
	enclave.decision.allow with input as answer
	other := object.union(answer, {"resource": {"kind": "objection", "id": "obj_1", "org": "other-co"}})
	not enclave.decision.allow with input as other
	by_operator := object.union(answer, {"subject": operator})
	not enclave.decision.allow with input as by_operator
}
