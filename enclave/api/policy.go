package api

// Explanation is the answer of /v1/policy/explain: what the policies would
// decide for a person, without acting, and the thresholds the egress
// checks apply.
type Explanation struct {
	As       string   `json:"as"`
	Action   string   `json:"action"`
	Datasets []string `json:"datasets,omitempty"`
	Decision Decision `json:"decision"`
	// EgressThresholds are the parameters the export checks and the job
	// log filter run with, by their names in the policies
	// (data.enclave.egress_thresholds): "min_cell", "dominance_k", ...
	// They are absent when the daemon reviews no exports (enclaved run
	// --sandbox=false).
	EgressThresholds map[string]float64 `json:"egress_thresholds,omitempty"`
}

// Decision is a policy decision as the API shows it.
type Decision struct {
	Allow    bool              `json:"allow"`
	Reasons  []Reason          `json:"reasons"`
	Grants   map[string]string `json:"grants,omitempty"`
	Revision string            `json:"revision"`
}

// Reason is one rule's refusal.
type Reason struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
}
