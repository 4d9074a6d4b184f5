package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"gopkg.in/yaml.v3"

	"github.com/enclave-dev/enclave/enclave/pii"
)

// MaxSpecBytes bounds the size of an import spec.
const MaxSpecBytes = 1 << 20

// Spec is a parsed import spec: what a dataset is and, for every column of
// the input, its level, personal-information type and desensitization rule.
type Spec struct {
	// Name is the dataset name ([a-z][a-z0-9_]*, at most 64 characters).
	Name string
	// Category is a free classification path such as
	// "credit/enterprise/penalty".
	Category string
	// Description is free text for the catalogue.
	Description string
	// Market is the market class of the dataset.
	Market Market
	// Sharing is the sharing class (optional in the spec; unconditional
	// when it names none).
	Sharing Sharing
	// Columns are the declared columns in spec order.
	Columns []ColumnSpec
	// SHA256 is the hex SHA-256 of the spec's bytes, recorded in the marks.
	SHA256 string
}

// ColumnSpec declares one input column.
type ColumnSpec struct {
	// Name is the column's name in the input.
	Name string
	// Level is the column's classification level.
	Level Level
	// PI is the personal-information type, or PINone.
	PI PIType
	// Rule is the desensitization rule applied on import.
	Rule Rule
	// Type is how CSV text of this column is parsed: string (the default),
	// int64, float64, bool, date (2006-01-02) or timestamp (RFC 3339). It is
	// ignored for typed inputs (Parquet, Arrow).
	Type string
	// Acknowledge lists identifier kinds that the custodian states may be
	// kept in this column as they are; the R-03 safety net does not refuse
	// the import for them.
	Acknowledge []pii.Kind
	// Line is the line of the column in the spec, for error messages.
	Line int
}

// Column returns the declared column named name, or nil.
func (s *Spec) Column(name string) *ColumnSpec {
	for i := range s.Columns {
		if s.Columns[i].Name == name {
			return &s.Columns[i]
		}
	}
	return nil
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// ValidName reports whether name can name a dataset.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("dataset name %q must match [a-z][a-z0-9_]{0,63}: %w", name, errdefs.ErrInvalidArgument)
	}
	return nil
}

var columnTypes = []string{"string", "int64", "float64", "bool", "date", "timestamp"}

// specError is an invalid-argument error located in the spec.
func specError(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return fmt.Errorf("spec line %d: %s: %w", line, fmt.Sprintf(format, args...), errdefs.ErrInvalidArgument)
}

// ParseSpec reads and validates an import spec (YAML). It is strict:
// unknown keys, unknown rules or rule parameters, unknown levels, the
// `core` level, unknown personal-information types, a personal-information
// column kept raw, duplicate columns and malformed YAML are all
// errdefs.ErrInvalidArgument class errors naming the key or column and the
// spec line.
//
// The shape:
//
//	name: credit_penalties
//	category: credit/enterprise/penalty
//	description: free text            # optional
//	market: authorized                # ordinary | authorized | withheld
//	columns:
//	  uscc:            {level: general-2, rule: keep}
//	  legal_rep_id:    {level: general-4, pi: identity, rule: {hash: {}}}
//	  legal_rep_phone: {level: general-4, pi: identity, rule: {mask: {as: mobile}}}
//	  amount:          {level: general-3, type: float64, rule: {generalize: {bucket: 10000}}}
//	  notes:           {level: general-2, rule: keep, acknowledge: [email]}
func ParseSpec(r io.Reader) (*Spec, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	if len(data) > MaxSpecBytes {
		return nil, fmt.Errorf("spec larger than %d bytes: %w", MaxSpecBytes, errdefs.ErrInvalidArgument)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("spec is empty: %w", errdefs.ErrInvalidArgument)
		}
		return nil, fmt.Errorf("spec is not valid yaml: %s: %w", yamlMessage(err), errdefs.ErrInvalidArgument)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("spec must hold exactly one yaml document: %w", errdefs.ErrInvalidArgument)
	}
	sum := sha256.Sum256(data)
	s := &Spec{SHA256: hex.EncodeToString(sum[:])}
	if err := s.parse(&doc); err != nil {
		return nil, err
	}
	return s, nil
}

// yamlMessage keeps the yaml package's location but not the quoted input
// it sometimes includes.
func yamlMessage(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	if i := strings.IndexAny(msg, "`\""); i >= 0 {
		msg = msg[:i] + "(input elided)"
	}
	return msg
}

func (s *Spec) parse(doc *yaml.Node) error {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return specError(doc, "expected a document")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return specError(root, "the spec must be a mapping")
	}
	seen := map[string]bool{}
	var columns *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return specError(k, "keys must be plain strings")
		}
		if seen[k.Value] {
			return specError(k, "duplicate key %q", k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "name":
			s.Name, err = scalar(v, "name")
			if err == nil && !nameRE.MatchString(s.Name) {
				err = specError(v, "name %q must match [a-z][a-z0-9_]{0,63}", s.Name)
			}
		case "category":
			s.Category, err = scalar(v, "category")
		case "description":
			s.Description, err = scalar(v, "description")
		case "market":
			var m string
			if m, err = scalar(v, "market"); err == nil {
				s.Market, err = ParseMarket(m)
				if err != nil {
					err = specError(v, "market %q must be ordinary, authorized or withheld", m)
				}
			}
		case "sharing":
			var m string
			if m, err = scalar(v, "sharing"); err == nil {
				s.Sharing, err = ParseSharing(m)
				if err != nil {
					err = specError(v, "sharing %q must be unconditional, conditional or none", m)
				}
			}
		case "columns":
			columns = v
		default:
			return specError(k, "unknown key %q", k.Value)
		}
		if err != nil {
			return err
		}
	}
	if s.Sharing == "" {
		s.Sharing = SharingUnconditional
	}
	for _, req := range []string{"name", "market", "columns"} {
		if !seen[req] {
			return specError(root, "missing key %q", req)
		}
	}
	if columns.Kind != yaml.MappingNode || len(columns.Content) == 0 {
		return specError(columns, "columns must be a non-empty mapping of column names")
	}
	names := map[string]bool{}
	for i := 0; i+1 < len(columns.Content); i += 2 {
		k, v := columns.Content[i], columns.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			return specError(k, "column names must be non-empty strings")
		}
		if names[k.Value] {
			return specError(k, "duplicate column %q", k.Value)
		}
		names[k.Value] = true
		c, err := parseColumn(k.Value, v)
		if err != nil {
			return err
		}
		c.Line = k.Line
		s.Columns = append(s.Columns, c)
	}
	return nil
}

func scalar(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", specError(n, "%q must be a string", key)
	}
	return n.Value, nil
}

func parseColumn(name string, n *yaml.Node) (ColumnSpec, error) {
	c := ColumnSpec{Name: name, Type: "string"}
	if n.Kind != yaml.MappingNode {
		return c, specError(n, "column %q must be a mapping with level and rule", name)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return c, specError(k, "column %q: duplicate key %q", name, k.Value)
		}
		seen[k.Value] = true
		switch k.Value {
		case "level":
			l, err := scalar(v, "level")
			if err != nil {
				return c, err
			}
			if l == "core" {
				return c, specError(v, "column %q: core data is refused at import", name)
			}
			if c.Level, err = ParseLevel(l); err != nil {
				return c, specError(v, "column %q: unknown level %q (general-1, general-2, general-3, general-4, important)", name, l)
			}
		case "pi":
			p, err := scalar(v, "pi")
			if err != nil {
				return c, err
			}
			if c.PI, err = ParsePIType(p); err != nil || c.PI == PINone {
				return c, specError(v, "column %q: unknown pi type %q (identity, property, health, biometric, network-identity)", name, p)
			}
		case "type":
			t, err := scalar(v, "type")
			if err != nil {
				return c, err
			}
			if !slices.Contains(columnTypes, t) {
				return c, specError(v, "column %q: unknown type %q (%s)", name, t, strings.Join(columnTypes, ", "))
			}
			c.Type = t
		case "rule":
			r, err := parseRule(name, v)
			if err != nil {
				return c, err
			}
			c.Rule = r
		case "acknowledge":
			if v.Kind != yaml.SequenceNode {
				return c, specError(v, "column %q: acknowledge must be a list of identifier kinds", name)
			}
			for _, e := range v.Content {
				kind, err := pii.ParseKind(e.Value)
				if e.Kind != yaml.ScalarNode || err != nil {
					return c, specError(e, "column %q: unknown identifier kind %q in acknowledge (resident-id, mobile, uscc, bank-card, email)", name, e.Value)
				}
				c.Acknowledge = append(c.Acknowledge, kind)
			}
		default:
			return c, specError(k, "column %q: unknown key %q", name, k.Value)
		}
	}
	if !seen["level"] {
		return c, specError(n, "column %q: missing level", name)
	}
	if !seen["rule"] {
		return c, specError(n, "column %q: missing rule", name)
	}
	if c.PI != PINone && c.Rule.Kind == RuleKeep {
		return c, specError(n, "column %q: pi %s is sensitive personal information and cannot be kept raw; choose a desensitizing rule", name, c.PI)
	}
	if c.Rule.Kind == RuleGeneralize && c.Rule.AgeBand > 0 && c.Rule.From == "resident-id" && c.Type != "string" {
		return c, specError(n, "column %q: age_band from resident-id needs type string", name)
	}
	return c, nil
}
