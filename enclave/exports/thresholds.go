package exports

import (
	review "github.com/enclave-dev/enclave/egress-review"
	policy "github.com/enclave-dev/enclave/policies"
)

// ParamsFromPolicy returns the parameters of the egress checks that the
// policies hold (data.enclave.egress_thresholds, policy.Engine.
// EgressThresholds). The daemon sets Service.Params to it, so that the
// export checks and the job log filter apply the deployer's thresholds.
// Thresholds that loaded are valid and never zero where review.Params
// reads zero as "the default", so Effective leaves the result unchanged.
func ParamsFromPolicy(t policy.EgressThresholds) review.Params {
	return review.Params{
		MinCell:            t.MinCell,
		DominanceN:         t.DominanceN,
		DominanceK:         t.DominanceK,
		PRatio:             t.PRatio,
		MinDoF:             t.MinDoF,
		RowCopyPIThreshold: t.RowCopyPIThreshold,
		RowCopyFraction:    t.RowCopyFraction,
		MaxFileBytes:       t.MaxFileBytes,
		MaxTotalBytes:      t.MaxTotalBytes,
		MaxFiles:           t.MaxFiles,
		DiffMaxCellDelta:   t.DiffMaxCellDelta,
		MaxLabels:          t.MaxLabels,
		MagnitudeTolerance: t.MagnitudeTolerance,
		TextBudgetBits:     t.TextBudgetBits,
		TextFreeNumbers:    t.TextFreeNumbers,
		LogLineBudgetBits:  t.LogLineBudgetBits,
	}
}
