package api

import "time"

// UsageCharge is what a usage row costs under the daemon's price list, by
// line and in total, rounded to cents.
type UsageCharge struct {
	CPU     float64 `json:"cpu"`
	Memory  float64 `json:"memory"`
	Input   float64 `json:"input"`
	Output  float64 `json:"output"`
	Jobs    float64 `json:"jobs"`
	Exports float64 `json:"exports"`
	Total   float64 `json:"total"`
}

// UsageRow is the use of one key of a usage report (an organisation, a
// person, a dataset, a day or a month).
type UsageRow struct {
	Key string `json:"key"`
	// Name is the person's name when the report is by person (added
	// beside the id in Key, issue 21).
	Name             string      `json:"name,omitempty"`
	Jobs             int64       `json:"jobs"`
	CPUSeconds       float64     `json:"cpu_seconds"`
	CPUHours         float64     `json:"cpu_hours"`
	PeakMemoryBytes  uint64      `json:"peak_memory_bytes"`
	MemoryGBHours    float64     `json:"memory_gb_hours"`
	InputBytes       int64       `json:"input_bytes"`
	OutputBytes      int64       `json:"output_bytes"`
	WallSeconds      float64     `json:"wall_seconds"`
	ExportsRequested int64       `json:"exports_requested"`
	ExportsApproved  int64       `json:"exports_approved"`
	ExportsRejected  int64       `json:"exports_rejected"`
	Charge           UsageCharge `json:"charge"`
	// Classes split the row by price class (001 art. 23, issue 20 item 3):
	// which prices applied to which jobs, and why.
	Classes []UsageClass `json:"classes,omitempty"`
}

// UsageClass is the part of a usage row priced in one class:
// "public-interest" (every grant read under comes from an application the
// authority approved as public-interest: free or at cost) or "industry"
// (industry and commercial use, paid).
type UsageClass struct {
	Class            string       `json:"class"`
	Jobs             int64        `json:"jobs"`
	ExportsRequested int64        `json:"exports_requested"`
	Applications     []UsageBasis `json:"applications,omitempty"`
	Why              string       `json:"why"`
	Charge           UsageCharge  `json:"charge"`
}

// UsageBasis is an application a class of use rests on, with the purpose
// it was approved for.
type UsageBasis struct {
	Application string `json:"application"`
	Purpose     string `json:"purpose"`
}

// UsageReport is the answer of GET /v1/usage (query: org, from, to as
// DATE or RFC 3339, by = org|person|dataset|day|month).
type UsageReport struct {
	Org      string     `json:"org"`
	From     time.Time  `json:"from,omitzero"`
	Until    time.Time  `json:"until,omitzero"`
	By       string     `json:"by"`
	Currency string     `json:"currency"`
	Rows     []UsageRow `json:"rows"`
	Total    UsageRow   `json:"total"`
}

// Quota is an organisation's quota, read by the policies when a job is
// admitted; a nil field is not limited.
type Quota struct {
	Org               string `json:"org"`
	ConcurrentJobs    *int64 `json:"concurrent_jobs"`
	CPUSecondsMonth   *int64 `json:"cpu_seconds_month"`
	MemoryBytesPerJob *int64 `json:"memory_bytes_per_job"`
}
