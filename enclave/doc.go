// Package enclave is the domain of the enclave: people, the catalogue,
// applications, jobs, exports, audit, usage, the store, keys and the HTTP
// API live in its subpackages, which own all state. It orchestrates the
// sandbox runtime (sandbox-runtime/), the policy engine (policies/) and the
// egress checks (egress-review/), which never import it.
package enclave
