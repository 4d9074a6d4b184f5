package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
)

// EgressThresholds are the parameters of the egress checks as the policies
// hold them: the object data.enclave.egress_thresholds (policies/rego/
// egress.rego), beside the rules that decide who may export. The daemon
// gives them to the checks; `enclave policy explain` shows them. The JSON
// names are the policy object's keys and the egress checks' parameter
// names; the comments give the accepted range (the built-in values are in
// egress.rego and equal the checks' defaults).
type EgressThresholds struct {
	// MinCell is the smallest allowed non-zero count in a table (3 to
	// 1,000,000: a threshold below 3 lets two members of a cell learn each
	// other's values).
	MinCell int `json:"min_cell"`
	// DominanceN and DominanceK: a cell fails when its N largest
	// contributions make up more than K of its total (N 1 to 10, K above
	// 0 and below 1).
	DominanceN int     `json:"dominance_n"`
	DominanceK float64 `json:"dominance_k"`
	// PRatio: a cell fails when its total less its two largest
	// contributions is below PRatio times the largest (above 0, at most
	// 1).
	PRatio float64 `json:"p_ratio"`
	// MinDoF is the smallest residual degrees of freedom of a model (1
	// to 1,000,000).
	MinDoF int `json:"min_dof"`
	// RowCopyPIThreshold is how many copied rows of an input with
	// personal-information columns are tolerated (at most 100).
	RowCopyPIThreshold int `json:"row_copy_pi_threshold"`
	// RowCopyFraction is the fraction of copied rows tolerated otherwise
	// (above 0, at most 0.5).
	RowCopyFraction float64 `json:"row_copy_fraction"`
	// MaxFileBytes is the largest file accepted (1 byte to 1 TiB).
	MaxFileBytes int64 `json:"max_file_bytes"`
	// MaxTotalBytes is the largest total accepted (at least
	// MaxFileBytes, at most 4 TiB).
	MaxTotalBytes int64 `json:"max_total_bytes"`
	// MaxFiles is the most files in one request (1 to 100,000).
	MaxFiles int `json:"max_files"`
	// DiffMaxCellDelta: a table equal in shape to a released one whose
	// counts differ by at most this much in every cell is flagged (above
	// 0, at most 1,000,000).
	DiffMaxCellDelta float64 `json:"diff_max_cell_delta"`
	// MaxLabels is the most distinct labels one column of an output table
	// may hold (1 to 1,000,000).
	MaxLabels int `json:"max_labels"`
	// MagnitudeTolerance is how far, relative to the value, a sum or mean
	// cell may be from the aggregate recomputed from the inputs (above 0,
	// at most 0.5).
	MagnitudeTolerance float64 `json:"magnitude_tolerance"`
	// TextBudgetBits is the information a text file may carry in tokens
	// nothing explains (above 0, at most 65,536).
	TextBudgetBits float64 `json:"text_budget_bits"`
	// TextFreeNumbers is how many statistics-like numbers a text file may
	// hold before each further one counts against its budget (1 to
	// 1,000,000).
	TextFreeNumbers int `json:"text_free_numbers"`
	// LogLineBudgetBits is the budget of one job log line an operator
	// reads (above 0, at most 1,024).
	LogLineBudgetBits float64 `json:"log_line_budget_bits"`
}

// threshold is one key of the policy object: its kind, its range and
// where it goes. Zero is excluded wherever the egress checks read zero as
// "the default", so that no value is silently replaced.
type threshold struct {
	key      string
	integer  bool
	min, max float64
	minOpen  bool // min itself is refused
	set      func(*EgressThresholds, float64)
}

// thresholds lists every key of data.enclave.egress_thresholds, in the
// order of EgressThresholds.
var thresholds = []threshold{
	{key: "min_cell", integer: true, min: 3, max: 1e6, set: func(t *EgressThresholds, v float64) { t.MinCell = int(v) }},
	{key: "dominance_n", integer: true, min: 1, max: 10, set: func(t *EgressThresholds, v float64) { t.DominanceN = int(v) }},
	{key: "dominance_k", min: 0, minOpen: true, max: math.Nextafter(1, 0), set: func(t *EgressThresholds, v float64) { t.DominanceK = v }},
	{key: "p_ratio", min: 0, minOpen: true, max: 1, set: func(t *EgressThresholds, v float64) { t.PRatio = v }},
	{key: "min_dof", integer: true, min: 1, max: 1e6, set: func(t *EgressThresholds, v float64) { t.MinDoF = int(v) }},
	{key: "row_copy_pi_threshold", integer: true, min: 0, max: 100, set: func(t *EgressThresholds, v float64) { t.RowCopyPIThreshold = int(v) }},
	{key: "row_copy_fraction", min: 0, minOpen: true, max: 0.5, set: func(t *EgressThresholds, v float64) { t.RowCopyFraction = v }},
	{key: "max_file_bytes", integer: true, min: 1, max: 1 << 40, set: func(t *EgressThresholds, v float64) { t.MaxFileBytes = int64(v) }},
	{key: "max_total_bytes", integer: true, min: 1, max: 4 << 40, set: func(t *EgressThresholds, v float64) { t.MaxTotalBytes = int64(v) }},
	{key: "max_files", integer: true, min: 1, max: 1e5, set: func(t *EgressThresholds, v float64) { t.MaxFiles = int(v) }},
	{key: "diff_max_cell_delta", min: 0, minOpen: true, max: 1e6, set: func(t *EgressThresholds, v float64) { t.DiffMaxCellDelta = v }},
	{key: "max_labels", integer: true, min: 1, max: 1e6, set: func(t *EgressThresholds, v float64) { t.MaxLabels = int(v) }},
	{key: "magnitude_tolerance", min: 0, minOpen: true, max: 0.5, set: func(t *EgressThresholds, v float64) { t.MagnitudeTolerance = v }},
	{key: "text_budget_bits", min: 0, minOpen: true, max: 65536, set: func(t *EgressThresholds, v float64) { t.TextBudgetBits = v }},
	{key: "text_free_numbers", integer: true, min: 1, max: 1e6, set: func(t *EgressThresholds, v float64) { t.TextFreeNumbers = int(v) }},
	{key: "log_line_budget_bits", min: 0, minOpen: true, max: 1024, set: func(t *EgressThresholds, v float64) { t.LogLineBudgetBits = v }},
}

// EgressThresholdKeys returns the keys of the policy object, in the order
// of EgressThresholds.
func EgressThresholdKeys() []string {
	keys := make([]string, len(thresholds))
	for i, th := range thresholds {
		keys[i] = th.key
	}
	return keys
}

// ParseEgressThresholds turns the value of data.enclave.egress_thresholds
// (an object of numbers, as encoding/json or OPA's rego package decode it:
// json.Number or float64) into EgressThresholds. It is strict: a value
// that is not an object, a missing or unknown key, a number of the wrong
// kind (a fraction where an integer belongs), a number outside its range,
// or a total size limit below the file size limit is an
// errdefs.ErrInvalidArgument class error naming the key.
func ParseEgressThresholds(v any) (EgressThresholds, error) {
	var t EgressThresholds
	obj, ok := v.(map[string]any)
	if !ok {
		return t, fmt.Errorf("egress thresholds are %s, want an object: %w", kindOf(v), errdefs.ErrInvalidArgument)
	}
	known := make(map[string]bool, len(thresholds))
	var missing []string
	for _, th := range thresholds {
		known[th.key] = true
		raw, ok := obj[th.key]
		if !ok {
			missing = append(missing, strconv.Quote(th.key))
			continue
		}
		f, err := th.parse(raw)
		if err != nil {
			return EgressThresholds{}, err
		}
		th.set(&t, f)
	}
	var unknown []string
	for k := range obj {
		if !known[k] {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return EgressThresholds{}, fmt.Errorf("egress thresholds: unknown key %s: %w", strings.Join(unknown, ", "), errdefs.ErrInvalidArgument)
	}
	if len(missing) > 0 {
		return EgressThresholds{}, fmt.Errorf("egress thresholds: missing key %s: %w", strings.Join(missing, ", "), errdefs.ErrInvalidArgument)
	}
	if t.MaxTotalBytes < t.MaxFileBytes {
		return EgressThresholds{}, fmt.Errorf("egress threshold \"max_total_bytes\" is %d, below \"max_file_bytes\" %d: %w", t.MaxTotalBytes, t.MaxFileBytes, errdefs.ErrInvalidArgument)
	}
	return t, nil
}

// parse checks one value against th.
func (th threshold) parse(raw any) (float64, error) {
	var f float64
	switch n := raw.(type) {
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(n), 64); err != nil {
			return 0, fmt.Errorf("egress threshold %q is not a finite number: %w", th.key, errdefs.ErrInvalidArgument)
		}
	case float64:
		f = n
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	default:
		return 0, fmt.Errorf("egress threshold %q is %s, want %s: %w", th.key, kindOf(raw), th.kind(), errdefs.ErrInvalidArgument)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("egress threshold %q is not a finite number: %w", th.key, errdefs.ErrInvalidArgument)
	}
	if th.integer && f != math.Trunc(f) {
		return 0, fmt.Errorf("egress threshold %q is %s, want %s: %w", th.key, num(f), th.kind(), errdefs.ErrInvalidArgument)
	}
	if f < th.min || (th.minOpen && f == th.min) || f > th.max {
		return 0, fmt.Errorf("egress threshold %q is %s, want %s %s: %w", th.key, num(f), th.kind(), th.span(), errdefs.ErrInvalidArgument)
	}
	return f, nil
}

func (th threshold) kind() string {
	if th.integer {
		return "an integer"
	}
	return "a number"
}

// span describes the accepted range.
func (th threshold) span() string {
	if th.minOpen {
		if th.max == math.Nextafter(1, 0) {
			return "above " + num(th.min) + " and below 1"
		}
		return "above " + num(th.min) + " and at most " + num(th.max)
	}
	return "from " + num(th.min) + " to " + num(th.max)
}

// num writes a number without an exponent below 1e21.
func num(f float64) string {
	if math.Abs(f) >= 1e21 {
		return strconv.FormatFloat(f, 'g', 6, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// kindOf names the JSON kind of a decoded value, never the value.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case json.Number, float64, int, int64:
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}
