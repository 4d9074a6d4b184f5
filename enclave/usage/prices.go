package usage

import (
	"bytes"
	"fmt"
	"math"
	"os"

	"github.com/containerd/errdefs"
	"gopkg.in/yaml.v3"
)

// PriceList turns use into charges. It is read from a YAML or JSON file
// (`enclaved run --price-list FILE`); fields left out are free. Example:
//
//	currency: CNY
//	cpu_hour: 0.50          # per CPU-hour
//	memory_gb_hour: 0.05    # per GB of peak memory held for an hour of wall time
//	input_gb: 0.10          # per GB of dataset input read
//	output_gb: 1.00         # per GB of collected output
//	job: 0.20               # per job
//	export: 5.00            # per export request
type PriceList struct {
	Currency     string  `json:"currency" yaml:"currency"`
	CPUHour      float64 `json:"cpu_hour" yaml:"cpu_hour"`
	MemoryGBHour float64 `json:"memory_gb_hour" yaml:"memory_gb_hour"`
	InputGB      float64 `json:"input_gb" yaml:"input_gb"`
	OutputGB     float64 `json:"output_gb" yaml:"output_gb"`
	Job          float64 `json:"job" yaml:"job"`
	Export       float64 `json:"export" yaml:"export"`
}

// DefaultPriceList is the price list used when none is configured: the
// figures of the example above.
func DefaultPriceList() PriceList {
	return PriceList{Currency: "CNY", CPUHour: 0.50, MemoryGBHour: 0.05, InputGB: 0.10, OutputGB: 1.00, Job: 0.20, Export: 5.00}
}

// Charge is what a row costs, by line and in total, rounded to cents.
type Charge struct {
	CPU     float64 `json:"cpu"`
	Memory  float64 `json:"memory"`
	Input   float64 `json:"input"`
	Output  float64 `json:"output"`
	Jobs    float64 `json:"jobs"`
	Exports float64 `json:"exports"`
	Total   float64 `json:"total"`
}

// Charge prices r.
func (p PriceList) Charge(r Row) Charge {
	c := Charge{
		CPU:     cents(r.CPUHours * p.CPUHour),
		Memory:  cents(r.MemoryGBHours * p.MemoryGBHour),
		Input:   cents(float64(r.InputBytes) / 1e9 * p.InputGB),
		Output:  cents(float64(r.OutputBytes) / 1e9 * p.OutputGB),
		Jobs:    cents(float64(r.Jobs) * p.Job),
		Exports: cents(float64(r.ExportsRequested) * p.Export),
	}
	c.Total = cents(c.CPU + c.Memory + c.Input + c.Output + c.Jobs + c.Exports)
	return c
}

// Validate checks that every price is finite and not negative and the
// currency is a three-letter code. Errors are of class
// errdefs.ErrInvalidArgument and name the field.
func (p PriceList) Validate() error {
	if len(p.Currency) != 3 {
		return fmt.Errorf("price list field %q must be a three-letter currency code: %w", "currency", errdefs.ErrInvalidArgument)
	}
	for _, c := range p.Currency {
		if c < 'A' || c > 'Z' {
			return fmt.Errorf("price list field %q must be a three-letter currency code: %w", "currency", errdefs.ErrInvalidArgument)
		}
	}
	for name, v := range map[string]float64{"cpu_hour": p.CPUHour, "memory_gb_hour": p.MemoryGBHour, "input_gb": p.InputGB,
		"output_gb": p.OutputGB, "job": p.Job, "export": p.Export} {
		if !(v >= 0) || math.IsInf(v, 1) || v > 1e9 {
			return fmt.Errorf("price list field %q must be a price between 0 and 1e9: %w", name, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// ParsePriceList reads a price list in YAML or JSON. Unknown fields are
// refused; a missing currency defaults to the default list's.
func ParsePriceList(data []byte) (PriceList, error) {
	var p PriceList
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return PriceList{}, fmt.Errorf("decode price list: %w", errdefs.ErrInvalidArgument)
	}
	if p.Currency == "" {
		p.Currency = DefaultPriceList().Currency
	}
	if err := p.Validate(); err != nil {
		return PriceList{}, err
	}
	return p, nil
}

// LoadPriceList reads a price list file; an empty path is the default list.
func LoadPriceList(path string) (PriceList, error) {
	if path == "" {
		return DefaultPriceList(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return PriceList{}, fmt.Errorf("read price list: %w", err)
	}
	return ParsePriceList(data)
}
