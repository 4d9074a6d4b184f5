package ingest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/enclave-dev/enclave/enclave/pii"
)

// RuleKind names a desensitization rule.
type RuleKind string

// The rules.
const (
	RuleKeep       RuleKind = "keep"       // the value as it is
	RuleDrop       RuleKind = "drop"       // the column is not imported
	RuleMask       RuleKind = "mask"       // characters replaced, some kept
	RuleHash       RuleKind = "hash"       // keyed HMAC pseudonym, stable across datasets
	RuleTruncate   RuleKind = "truncate"   // the first Len characters
	RuleGeneralize RuleKind = "generalize" // buckets, year or month, age bands
	RuleNoise      RuleKind = "noise"      // Laplace noise
	RuleSuppress   RuleKind = "suppress"   // null
)

// Rule is a desensitization rule with its parameters. Only the fields of
// its Kind are set.
type Rule struct {
	Kind RuleKind

	// mask
	KeepFirst, KeepLast int
	Char                rune     // mask character, '*' by default
	As                  pii.Kind // identifier-aware masking instead of KeepFirst/KeepLast

	// truncate
	Len int

	// generalize: exactly one of Bucket, Date, AgeBand
	Bucket  float64 // numeric bucket width; values become floor(v/Bucket)*Bucket
	Date    string  // "year" or "month"
	AgeBand int     // band width in years
	From    string  // for AgeBand: "birth-date" or "resident-id"

	// noise: Laplace with scale Sensitivity/Epsilon
	Epsilon, Sensitivity float64
}

// String is the canonical form of the rule recorded in the enclave.rule
// mark, for example `mask{keep_first:3,keep_last:4,char:*}`.
func (r Rule) String() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	switch r.Kind {
	case RuleMask:
		if r.As != "" {
			return fmt.Sprintf("mask{as:%s}", r.As)
		}
		return fmt.Sprintf("mask{keep_first:%d,keep_last:%d,char:%c}", r.KeepFirst, r.KeepLast, r.Char)
	case RuleHash:
		return "hash{hmac-sha256:pseudonym}"
	case RuleTruncate:
		return fmt.Sprintf("truncate{len:%d}", r.Len)
	case RuleGeneralize:
		switch {
		case r.Bucket > 0:
			return fmt.Sprintf("generalize{bucket:%s}", f(r.Bucket))
		case r.Date != "":
			return fmt.Sprintf("generalize{date:%s}", r.Date)
		default:
			return fmt.Sprintf("generalize{age_band:%d,from:%s}", r.AgeBand, r.From)
		}
	case RuleNoise:
		return fmt.Sprintf("noise{laplace:{epsilon:%s,sensitivity:%s}}", f(r.Epsilon), f(r.Sensitivity))
	}
	return string(r.Kind)
}

// parseRule reads `keep`, `{hash: {}}`, `{mask: {keep_first: 3}}` and the
// like.
func parseRule(col string, n *yaml.Node) (Rule, error) {
	var name string
	var args *yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		name = n.Value
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			return Rule{}, specError(n, "column %q: a rule is one name with its parameters, got %d keys", col, len(n.Content)/2)
		}
		name, args = n.Content[0].Value, n.Content[1]
		if args.Tag == "!!null" {
			args = nil
		} else if args.Kind != yaml.MappingNode {
			return Rule{}, specError(args, "column %q: parameters of rule %q must be a mapping", col, name)
		}
	default:
		return Rule{}, specError(n, "column %q: a rule must be a name or a mapping", col)
	}
	p := &params{col: col, rule: name, node: n, vals: map[string]*yaml.Node{}}
	if args != nil {
		for i := 0; i+1 < len(args.Content); i += 2 {
			k := args.Content[i]
			if _, dup := p.vals[k.Value]; dup {
				return Rule{}, specError(k, "column %q: rule %q: duplicate parameter %q", col, name, k.Value)
			}
			p.vals[k.Value] = args.Content[i+1]
		}
	}
	r := Rule{Kind: RuleKind(name)}
	switch r.Kind {
	case RuleKeep, RuleDrop, RuleHash, RuleSuppress:
	case RuleMask:
		r.Char = '*'
		if v, ok := p.take("as"); ok {
			k, err := pii.ParseKind(v.Value)
			if err != nil || v.Kind != yaml.ScalarNode {
				return r, specError(v, "column %q: mask as %q: want resident-id, mobile, uscc, bank-card or email", col, v.Value)
			}
			r.As = k
			if p.has("keep_first") || p.has("keep_last") {
				return r, specError(v, "column %q: mask takes either as or keep_first/keep_last", col)
			}
		}
		var err error
		if r.KeepFirst, err = p.int("keep_first", 0, 0, 1000); err != nil {
			return r, err
		}
		if r.KeepLast, err = p.int("keep_last", 0, 0, 1000); err != nil {
			return r, err
		}
		if v, ok := p.take("char"); ok {
			c, size := utf8.DecodeRuneInString(v.Value)
			if v.Kind != yaml.ScalarNode || size == 0 || size != len(v.Value) || c == utf8.RuneError {
				return r, specError(v, "column %q: mask char must be one character", col)
			}
			r.Char = c
		}
	case RuleTruncate:
		var err error
		if !p.has("len") {
			return r, specError(n, "column %q: truncate needs len", col)
		}
		if r.Len, err = p.int("len", 0, 1, 1<<20); err != nil {
			return r, err
		}
	case RuleGeneralize:
		set := 0
		if p.has("bucket") {
			set++
			v, err := p.float("bucket")
			if err != nil {
				return r, err
			}
			if !(v > 0) || math.IsInf(v, 0) {
				return r, specError(p.vals["bucket"], "column %q: bucket must be a positive number", col)
			}
			r.Bucket = v
		}
		if v, ok := p.take("date"); ok {
			set++
			if v.Value != "year" && v.Value != "month" {
				return r, specError(v, "column %q: generalize date must be year or month", col)
			}
			r.Date = v.Value
		}
		if p.has("age_band") {
			set++
			var err error
			if r.AgeBand, err = p.int("age_band", 0, 1, 200); err != nil {
				return r, err
			}
			v, ok := p.take("from")
			if !ok || (v.Value != "birth-date" && v.Value != "resident-id") {
				return r, specError(n, "column %q: age_band needs from: birth-date or from: resident-id", col)
			}
			r.From = v.Value
		}
		if set != 1 {
			return r, specError(n, "column %q: generalize takes exactly one of bucket, date, age_band", col)
		}
	case RuleNoise:
		lap, ok := p.take("laplace")
		if !ok || lap.Kind != yaml.MappingNode {
			return r, specError(n, "column %q: noise needs laplace: {epsilon, sensitivity}", col)
		}
		q := &params{col: col, rule: "noise.laplace", node: lap, vals: map[string]*yaml.Node{}}
		for i := 0; i+1 < len(lap.Content); i += 2 {
			q.vals[lap.Content[i].Value] = lap.Content[i+1]
		}
		var err error
		if r.Epsilon, err = q.float("epsilon"); err != nil {
			return r, err
		}
		if r.Sensitivity, err = q.float("sensitivity"); err != nil {
			return r, err
		}
		if !(r.Epsilon > 0) || !(r.Sensitivity > 0) || math.IsInf(r.Epsilon, 0) || math.IsInf(r.Sensitivity, 0) {
			return r, specError(lap, "column %q: laplace epsilon and sensitivity must be positive numbers", col)
		}
		if err := q.done(); err != nil {
			return r, err
		}
	default:
		return r, specError(n, "column %q: unknown rule %q (keep, drop, mask, hash, truncate, generalize, noise, suppress)", col, name)
	}
	return r, p.done()
}

type params struct {
	col, rule string
	node      *yaml.Node
	vals      map[string]*yaml.Node
}

func (p *params) has(k string) bool { _, ok := p.vals[k]; return ok }

func (p *params) take(k string) (*yaml.Node, bool) {
	v, ok := p.vals[k]
	delete(p.vals, k)
	return v, ok
}

func (p *params) int(k string, def, lo, hi int) (int, error) {
	v, ok := p.take(k)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v.Value)
	if v.Kind != yaml.ScalarNode || err != nil || n < lo || n > hi {
		return 0, specError(v, "column %q: rule %q: %s must be an integer from %d to %d", p.col, p.rule, k, lo, hi)
	}
	return n, nil
}

func (p *params) float(k string) (float64, error) {
	v, ok := p.take(k)
	if !ok {
		return 0, specError(p.node, "column %q: rule %q: missing %s", p.col, p.rule, k)
	}
	f, err := strconv.ParseFloat(v.Value, 64)
	if v.Kind != yaml.ScalarNode || err != nil || math.IsNaN(f) {
		return 0, specError(v, "column %q: rule %q: %s must be a number", p.col, p.rule, k)
	}
	return f, nil
}

func (p *params) done() error {
	for k, v := range p.vals {
		return specError(v, "column %q: rule %q: unknown parameter %q", p.col, p.rule, strings.TrimSpace(k))
	}
	return nil
}
