package usage

import (
	"bytes"
	"fmt"
	"math"
	"os"

	"github.com/containerd/errdefs"
	"gopkg.in/yaml.v3"
)

// The price classes of 001 art. 23: public data used for public
// governance or public welfare is used free of charge on conditions (here:
// at most at cost, free by default), data used for industry or sector
// development is paid for. A job is of class public-interest only when
// every grant it read under comes from an application that was filed and
// approved as public-interest; anything else (a grant approved for
// industry use, an operator's own upload read without a grant, a service
// call) is of class industry. Nobody claims public-interest pricing by
// saying so: only the approved application's purpose counts.
const (
	PublicInterest = "public-interest"
	Industry       = "industry"
)

// Classes lists the price classes in the order reports show them.
var Classes = []string{PublicInterest, Industry}

// Prices are the prices of one class of use, in the price list's
// currency.
type Prices struct {
	CPUHour      float64 `json:"cpu_hour" yaml:"cpu_hour"`             // per CPU-hour
	MemoryGBHour float64 `json:"memory_gb_hour" yaml:"memory_gb_hour"` // per GB of peak memory held for an hour of wall time
	InputGB      float64 `json:"input_gb" yaml:"input_gb"`             // per GB of dataset input read
	OutputGB     float64 `json:"output_gb" yaml:"output_gb"`           // per GB of collected output
	Job          float64 `json:"job" yaml:"job"`                       // per job
	Export       float64 `json:"export" yaml:"export"`                 // per export request
	Call         float64 `json:"call" yaml:"call"`                     // per answered service call (matched or not)
}

// PriceList turns use into charges by the class of the use (001 art.
// 22-23). It is read from a YAML or JSON file (`enclaved run --price-list
// FILE`); the top-level prices are those of industry and commercial use,
// public_interest holds those of public-interest use (at cost at most;
// left out, it is free), and fields left out are free. Example:
//
//	currency: CNY
//	cpu_hour: 0.50          # industry and commercial use: per CPU-hour
//	memory_gb_hour: 0.05    # per GB of peak memory held for an hour of wall time
//	input_gb: 0.10          # per GB of dataset input read
//	output_gb: 1.00         # per GB of collected output
//	job: 0.20               # per job
//	export: 5.00            # per export request
//	call: 0.01              # per answered service call
//	public_interest:        # an approved public-interest application: at cost
//	  cpu_hour: 0.10
type PriceList struct {
	Currency string `json:"currency" yaml:"currency"`
	Prices   `yaml:",inline"`
	// PublicInterest are the prices of public-interest use. They may not
	// exceed the industry prices (at cost at most); zero is free.
	PublicInterest Prices `json:"public_interest" yaml:"public_interest"`
}

// DefaultPriceList is the price list used when none is configured: the
// industry figures of the example above, and public-interest use free.
func DefaultPriceList() PriceList {
	return PriceList{Currency: "CNY", Prices: Prices{CPUHour: 0.50, MemoryGBHour: 0.05, InputGB: 0.10, OutputGB: 1.00, Job: 0.20, Export: 5.00, Call: 0.01}}
}

// Of returns the prices of a class; an unknown class is charged as
// industry use (the higher prices), never as public-interest use.
func (p PriceList) Of(class string) Prices {
	if class == PublicInterest {
		return p.PublicInterest
	}
	return p.Prices
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

// Charge prices r at the industry prices.
func (p PriceList) Charge(r Row) Charge { return p.Prices.Charge(r) }

// Charge prices r at these prices.
func (p Prices) Charge(r Row) Charge {
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

// CallCharge is what n answered service calls cost at these prices,
// rounded to cents.
func (p Prices) CallCharge(n int64) float64 { return cents(float64(n) * p.Call) }

// add sums two charges line by line.
func (c Charge) add(d Charge) Charge {
	return Charge{CPU: cents(c.CPU + d.CPU), Memory: cents(c.Memory + d.Memory), Input: cents(c.Input + d.Input),
		Output: cents(c.Output + d.Output), Jobs: cents(c.Jobs + d.Jobs), Exports: cents(c.Exports + d.Exports), Total: cents(c.Total + d.Total)}
}

func (p Prices) fields() []struct {
	name string
	v    float64
} {
	return []struct {
		name string
		v    float64
	}{{"cpu_hour", p.CPUHour}, {"memory_gb_hour", p.MemoryGBHour}, {"input_gb", p.InputGB}, {"output_gb", p.OutputGB},
		{"job", p.Job}, {"export", p.Export}, {"call", p.Call}}
}

// Validate checks that every price is finite and not negative, that no
// public-interest price exceeds the industry price of the same line (at
// cost at most, 001 art. 23) and that the currency is a three-letter
// code. Errors are of class errdefs.ErrInvalidArgument and name the field.
func (p PriceList) Validate() error {
	if len(p.Currency) != 3 {
		return fmt.Errorf("price list field %q must be a three-letter currency code: %w", "currency", errdefs.ErrInvalidArgument)
	}
	for _, c := range p.Currency {
		if c < 'A' || c > 'Z' {
			return fmt.Errorf("price list field %q must be a three-letter currency code: %w", "currency", errdefs.ErrInvalidArgument)
		}
	}
	ind, pub := p.Prices.fields(), p.PublicInterest.fields()
	for i, f := range ind {
		for _, g := range []struct {
			name string
			v    float64
		}{f, {"public_interest." + pub[i].name, pub[i].v}} {
			if !(g.v >= 0) || math.IsInf(g.v, 1) || g.v > 1e9 {
				return fmt.Errorf("price list field %q must be a price between 0 and 1e9: %w", g.name, errdefs.ErrInvalidArgument)
			}
		}
		if pub[i].v > f.v {
			return fmt.Errorf("price list field %q exceeds %q: public-interest use is free or at cost (001 art. 23): %w",
				"public_interest."+pub[i].name, f.name, errdefs.ErrInvalidArgument)
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
