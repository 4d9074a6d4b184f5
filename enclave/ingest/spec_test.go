package ingest

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/pii"
)

const exampleSpec = `name: credit_penalties
category: credit/enterprise/penalty
market: authorized            # ordinary | authorized | withheld
columns:
  uscc:            {level: general-2, rule: keep}
  legal_rep_id:    {level: general-4, pi: identity, rule: {hash: {}}}
  legal_rep_phone: {level: general-4, pi: identity, rule: {mask: {keep_first: 3, keep_last: 4}}}
  amount:          {level: general-3, rule: {generalize: {bucket: 10000}}}
  decided_on:      {level: general-2, rule: {generalize: {date: month}}}
  district:        {level: general-1, rule: keep}
`

func TestParseSpecExample(t *testing.T) {
	s, err := ParseSpec(strings.NewReader(exampleSpec))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "credit_penalties" || s.Category != "credit/enterprise/penalty" || s.Market != MarketAuthorized {
		t.Fatalf("got %q %q %q, want the example's name, category and market", s.Name, s.Category, s.Market)
	}
	var names []string
	for _, c := range s.Columns {
		names = append(names, c.Name)
	}
	if got, want := strings.Join(names, ","), "uscc,legal_rep_id,legal_rep_phone,amount,decided_on,district"; got != want {
		t.Fatalf("got columns %s, want %s", got, want)
	}
	tests := []struct {
		col, rule string
		level     Level
		pi        PIType
		line      int
	}{
		{"uscc", "keep", General2, PINone, 5},
		{"legal_rep_id", "hash{hmac-sha256:pseudonym}", General4, PIIdentity, 6},
		{"legal_rep_phone", "mask{keep_first:3,keep_last:4,char:*}", General4, PIIdentity, 7},
		{"amount", "generalize{bucket:10000}", General3, PINone, 8},
		{"decided_on", "generalize{date:month}", General2, PINone, 9},
		{"district", "keep", General1, PINone, 10},
	}
	for _, tc := range tests {
		t.Run(tc.col, func(t *testing.T) {
			c := s.Column(tc.col)
			if c.Rule.String() != tc.rule || c.Level != tc.level || c.PI != tc.pi || c.Line != tc.line {
				t.Fatalf("got rule %s level %s pi %q line %d, want %s %s %q %d", c.Rule, c.Level, c.PI, c.Line, tc.rule, tc.level, tc.pi, tc.line)
			}
		})
	}
	if len(s.SHA256) != 64 {
		t.Fatalf("got spec hash %q, want 64 hex digits", s.SHA256)
	}
}

func TestParseSpecRules(t *testing.T) {
	tests := []struct {
		rule string
		want string
	}{
		{"drop", "drop"},
		{"suppress", "suppress"},
		{"{keep: {}}", "keep"},
		{"hash", "hash{hmac-sha256:pseudonym}"},
		{"{mask: {as: mobile}}", "mask{as:mobile}"},
		{"{mask: {as: resident-id}}", "mask{as:resident-id}"},
		{"{mask: {keep_first: 1, char: '#'}}", "mask{keep_first:1,keep_last:0,char:#}"},
		{"{truncate: {len: 3}}", "truncate{len:3}"},
		{"{generalize: {date: year}}", "generalize{date:year}"},
		{"{generalize: {bucket: 0.5}}", "generalize{bucket:0.5}"},
		{"{generalize: {age_band: 10, from: resident-id}}", "generalize{age_band:10,from:resident-id}"},
		{"{noise: {laplace: {epsilon: 0.5, sensitivity: 1000}}}", "noise{laplace:{epsilon:0.5,sensitivity:1000}}"},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			y := "name: x\nmarket: ordinary\ncolumns:\n  c: {level: general-1, pi: property, rule: " + tc.rule + "}\n"
			if tc.rule == "{keep: {}}" {
				y = strings.Replace(y, "pi: property, ", "", 1)
			}
			s, err := ParseSpec(strings.NewReader(y))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Columns[0].Rule.String(); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseSpecErrors(t *testing.T) {
	col := func(c string) string { return "name: x\nmarket: ordinary\ncolumns:\n  c: " + c + "\n" }
	tests := []struct {
		name, spec string
		want       []string // substrings of the error
	}{
		{"empty", "", []string{"empty"}},
		{"not yaml", "name: [", []string{"not valid yaml"}},
		{"two documents", col("{level: general-1, rule: keep}") + "---\na: 1\n", []string{"one yaml document"}},
		{"unknown top key", "name: x\nmarket: ordinary\nowner: me\ncolumns:\n  c: {level: general-1, rule: keep}\n", []string{"line 3", `unknown key "owner"`}},
		{"missing market", "name: x\ncolumns:\n  c: {level: general-1, rule: keep}\n", []string{`missing key "market"`}},
		{"bad market", "name: x\nmarket: open\ncolumns:\n  c: {level: general-1, rule: keep}\n", []string{"line 2", `market "open"`}},
		{"bad name", "name: X-1\nmarket: ordinary\ncolumns:\n  c: {level: general-1, rule: keep}\n", []string{"name"}},
		{"no columns", "name: x\nmarket: ordinary\ncolumns: {}\n", []string{"non-empty"}},
		{"duplicate column", "name: x\nmarket: ordinary\ncolumns:\n  c: {level: general-1, rule: keep}\n  c: {level: general-1, rule: keep}\n", []string{"line 5", `duplicate column "c"`}},
		{"core", col("{level: core, rule: keep}"), []string{"line 4", `"c"`, "core"}},
		{"unknown level", col("{level: secret, rule: keep}"), []string{`"c"`, `unknown level "secret"`}},
		{"missing level", col("{rule: keep}"), []string{`"c"`, "missing level"}},
		{"missing rule", col("{level: general-1}"), []string{`"c"`, "missing rule"}},
		{"unknown column key", col("{level: general-1, rule: keep, levle: x}"), []string{`"c"`, `unknown key "levle"`}},
		{"unknown pi", col("{level: general-1, pi: political, rule: drop}"), []string{`"c"`, `unknown pi type "political"`}},
		{"pi kept raw", col("{level: general-1, pi: identity, rule: keep}"), []string{`"c"`, "cannot be kept raw"}},
		{"unknown rule", col("{level: general-1, rule: encrypt}"), []string{`"c"`, `unknown rule "encrypt"`}},
		{"unknown rule param", col("{level: general-1, rule: {mask: {keep_frist: 3}}}"), []string{`"c"`, `unknown parameter "keep_frist"`}},
		{"two rules", col("{level: general-1, rule: {keep: {}, drop: {}}}"), []string{`"c"`, "one name"}},
		{"mask as and keep", col("{level: general-1, rule: {mask: {as: mobile, keep_first: 2}}}"), []string{"either as"}},
		{"mask as unknown", col("{level: general-1, rule: {mask: {as: passport}}}"), []string{`as "passport"`}},
		{"mask char long", col("{level: general-1, rule: {mask: {char: ab}}}"), []string{"one character"}},
		{"truncate no len", col("{level: general-1, rule: {truncate: {}}}"), []string{"needs len"}},
		{"truncate bad len", col("{level: general-1, rule: {truncate: {len: -1}}}"), []string{"len must be an integer"}},
		{"generalize two", col("{level: general-1, rule: {generalize: {bucket: 5, date: year}}}"), []string{"exactly one"}},
		{"generalize bad date", col("{level: general-1, rule: {generalize: {date: week}}}"), []string{"year or month"}},
		{"bucket zero", col("{level: general-1, rule: {generalize: {bucket: 0}}}"), []string{"positive"}},
		{"age band no from", col("{level: general-1, rule: {generalize: {age_band: 10}}}"), []string{"from"}},
		{"noise no laplace", col("{level: general-1, rule: {noise: {}}}"), []string{"laplace"}},
		{"noise bad epsilon", col("{level: general-1, rule: {noise: {laplace: {epsilon: 0, sensitivity: 1}}}}"), []string{"positive"}},
		{"noise extra", col("{level: general-1, rule: {noise: {laplace: {epsilon: 1, sensitivity: 1, delta: 0}}}}"), []string{`unknown parameter "delta"`}},
		{"bad type", col("{level: general-1, type: decimal, rule: keep}"), []string{`unknown type "decimal"`}},
		{"bad acknowledge", col("{level: general-1, rule: keep, acknowledge: [passport]}"), []string{`"passport"`}},
		{"acknowledge not list", col("{level: general-1, rule: keep, acknowledge: email}"), []string{"list"}},
		{"column not mapping", col("keep"), []string{`"c"`, "mapping"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec(strings.NewReader(tc.spec))
			if err == nil {
				t.Fatal("got no error, want one")
			}
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got error class of %v, want invalid argument", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("got error %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseSpecAcknowledge(t *testing.T) {
	s, err := ParseSpec(strings.NewReader("name: x\nmarket: withheld\ncolumns:\n  notes: {level: general-2, rule: keep, acknowledge: [email, mobile]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Columns[0].Acknowledge; len(got) != 2 || got[0] != pii.KindEmail || got[1] != pii.KindMobile {
		t.Fatalf("got %v, want [email mobile]", got)
	}
	if s.Market != MarketWithheld {
		t.Fatalf("got market %q, want withheld", s.Market)
	}
}

func FuzzParseSpec(f *testing.F) {
	f.Add(exampleSpec)
	f.Add("name: x\nmarket: ordinary\ncolumns:\n  c: {level: general-1, rule: {noise: {laplace: {epsilon: 1, sensitivity: 2}}}}\n")
	f.Add("name: x\nmarket: ordinary\ncolumns:\n  c: {level: general-1, rule: {generalize: {age_band: 10, from: birth-date}}}\n")
	f.Fuzz(func(t *testing.T, y string) {
		s, err := ParseSpec(strings.NewReader(y))
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got error class of %v, want invalid argument", err)
			}
			return
		}
		if s.Name == "" || s.Market == "" || len(s.Columns) == 0 {
			t.Fatalf("got an accepted spec without name, market or columns")
		}
		for _, c := range s.Columns {
			if c.Level < General1 || c.Level > Important {
				t.Fatalf("got column %q with level %d, want a valid one", c.Name, c.Level)
			}
			if c.PI != PINone && c.Rule.Kind == RuleKeep {
				t.Fatalf("got pi column %q kept raw", c.Name)
			}
		}
	})
}

func TestLevelText(t *testing.T) {
	for l := General1; l <= Important; l++ {
		b, err := l.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Level
		if err := back.UnmarshalText(b); err != nil || back != l {
			t.Fatalf("got %v, %v from %q, want %v", back, err, b, l)
		}
	}
	if General2 >= General3 || General4 >= Important {
		t.Fatal("got levels out of order")
	}
	var l Level
	if err := l.UnmarshalText([]byte("core")); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("got %v for core, want invalid argument", err)
	}
}
