package enclave_test

import data.enclave

test_egress_thresholds_default if {
	t := enclave.egress_thresholds
	t.min_cell == 10
	t.dominance_n == 2
	t.dominance_k == 0.9
	t.p_ratio == 0.1
	t.text_budget_bits == 512
	count(t) == 16
}

test_egress_overrides_change_only_their_keys if {
	t := enclave.egress_thresholds with enclave.egress_overrides as {"min_cell": 20, "text_budget_bits": 256}
	t.min_cell == 20
	t.text_budget_bits == 256
	t.dominance_k == 0.9
	object.remove(t, ["min_cell", "text_budget_bits"]) == object.remove(enclave.egress_defaults, ["min_cell", "text_budget_bits"])
}

test_egress_thresholds_read_no_input if {
	enclave.egress_thresholds == enclave.egress_defaults with input as {"action": "job.run"}
}
