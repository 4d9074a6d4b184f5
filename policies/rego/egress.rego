# The thresholds of the egress checks (issue 14): disclosure control, row
# copy, file limits, differencing and the output contract. They live here,
# beside the rules that decide who may export, so that a deployer tunes
# them with the policies and `enclave policy explain` shows them. The
# engine evaluates egress_thresholds once when the policies load and
# refuses to start on a missing, unknown, mistyped or out-of-range key
# (policies/egress.go lists the ranges).
#
# A deployer changes some of them by defining egress_overrides in a file of
# the policy directory (any name but egress.rego), for example
#
#   package enclave
#
#   egress_overrides := {"min_cell": 20, "text_budget_bits": 256}
#
# or replaces them all with a file named egress.rego that defines
# egress_thresholds with every key.
package enclave

# egress_defaults are the built-in values (after ACRO's defaults); they
# equal the egress checks' own defaults (review.Default).
egress_defaults := {
	# disclosure control
	"min_cell": 10, # smallest non-zero count of a cell
	"dominance_n": 2, # N-K dominance: the N largest contributions ...
	"dominance_k": 0.9, # ... may make up at most K of a cell's total
	"p_ratio": 0.1, # the p-ratio rule
	"min_dof": 10, # smallest residual degrees of freedom of a model
	# row copy
	"row_copy_pi_threshold": 0, # copied rows tolerated of an input with personal information
	"row_copy_fraction": 0.01, # fraction of copied rows tolerated otherwise
	# limits of one export request
	"max_file_bytes": 1073741824, # 1 GiB
	"max_total_bytes": 4294967296, # 4 GiB
	"max_files": 1000,
	# differencing against released tables
	"diff_max_cell_delta": 5,
	# the output contract
	"max_labels": 200, # distinct labels of one column of an output table
	"magnitude_tolerance": 1e-9, # relative distance of a sum or mean from its recomputed value, rounded as its column
	"text_budget_bits": 512, # information of unexplained tokens in one text file
	"text_free_numbers": 64, # statistics-like numbers a text file holds free
	"log_line_budget_bits": 20, # budget of one job log line an operator reads
}

# egress_overrides holds a deployer's changes to the defaults.
default egress_overrides := {}

egress_thresholds := object.union(egress_defaults, egress_overrides)
