package review

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// fakeCheck returns fixed findings or an error, or panics.
type fakeCheck struct {
	name     string
	findings []Finding
	err      error
	panics   bool
}

var _ Check = fakeCheck{}

func (f fakeCheck) Name() string    { return f.name }
func (f fakeCheck) Version() string { return "1" }
func (f fakeCheck) Run(context.Context, *Request) ([]Finding, error) {
	if f.panics {
		panic("boom")
	}
	return f.findings, f.err
}

func TestWorse(t *testing.T) {
	for _, tc := range []struct {
		a, b, want Verdict
	}{
		{VerdictPass, VerdictPass, VerdictPass},
		{VerdictPass, VerdictReview, VerdictReview},
		{VerdictReview, VerdictPass, VerdictReview},
		{VerdictReview, VerdictFail, VerdictFail},
		{VerdictFail, VerdictPass, VerdictFail},
		{VerdictPass, "maybe", VerdictFail},
		{"", VerdictPass, VerdictFail},
	} {
		if got := Worse(tc.a, tc.b); got != tc.want {
			t.Errorf("Worse(%q, %q): got %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestEffective(t *testing.T) {
	got := Params{MinCell: 5}.Effective()
	want := Default()
	want.MinCell = 5
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if d := (Params{}).Effective(); d != Default() {
		t.Errorf("zero params: got %+v, want defaults", d)
	}
}

func writeFile(t *testing.T, name, content string) File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	return File{Name: name, Path: p, SHA256: hex.EncodeToString(sum[:])}
}

func TestRun(t *testing.T) {
	pass := fakeCheck{name: "p", findings: []Finding{{Verdict: VerdictPass, Evidence: "ok"}}}
	review := fakeCheck{name: "r", findings: []Finding{{Verdict: VerdictReview, Evidence: "look"}}}
	odd := fakeCheck{name: "o", findings: []Finding{{Verdict: "odd", Evidence: "?"}}}
	for _, tc := range []struct {
		name   string
		checks []Check
		mutate func(*Request)
		want   Verdict
	}{
		{"all pass", []Check{pass, pass}, nil, VerdictPass},
		{"review", []Check{pass, review}, nil, VerdictReview},
		{"unknown verdict fails", []Check{odd}, nil, VerdictFail},
		{"error fails", []Check{pass, fakeCheck{name: "e", err: errors.New("x")}}, nil, VerdictFail},
		{"panic fails", []Check{fakeCheck{name: "x", panics: true}}, nil, VerdictFail},
		{"no checks fails", nil, nil, VerdictFail},
		{"changed file fails", []Check{pass}, func(r *Request) { r.Files[0].SHA256 = strings.Repeat("0", 64) }, VerdictFail},
		{"missing digest fails", []Check{pass}, func(r *Request) { r.Files[0].SHA256 = "" }, VerdictFail},
		{"missing file fails", []Check{pass}, func(r *Request) { r.Files[0].Path += ".gone" }, VerdictFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &Request{Files: []File{writeFile(t, "a.txt", "hello\n")}}
			if tc.mutate != nil {
				tc.mutate(req)
			}
			res := Run(t.Context(), req, tc.checks...)
			if res.Verdict != tc.want {
				t.Errorf("got %s, want %s; %+v", res.Verdict, tc.want, res.Findings)
			}
			if len(res.Checks) != len(tc.checks)+1 {
				t.Errorf("got %d check results, want %d", len(res.Checks), len(tc.checks)+1)
			}
		})
	}
	many := &Request{Params: Params{MaxFiles: 2}}
	for range 3 {
		many.Files = append(many.Files, writeFile(t, "a.txt", "x\n"))
	}
	if res := Run(t.Context(), many, pass); res.Verdict != VerdictFail || len(res.Findings) != 1 || res.Findings[0].Check != LimitsCheck {
		t.Errorf("too many files: got %s %+v, want one limits failure", res.Verdict, res.Findings)
	}
	if res := Run(t.Context(), nil, pass); res.Verdict != VerdictFail {
		t.Errorf("nil request: got %s, want fail", res.Verdict)
	}
}

func TestRunRedactsNames(t *testing.T) {
	key := make([]byte, fingerprint.KeySize)
	h, _ := fingerprint.NewHasher(key)
	b := fingerprint.NewBuilder()
	for _, x := range h.Value("13812345678") {
		b.AddValue(x)
	}
	set, _ := b.Build()
	secret := "out-13812345678.txt"
	req := &Request{
		Files:  []File{writeFile(t, secret, "x\n")},
		Inputs: []Input{{Dataset: "d", Level: "general-1", HasPI: true, Fingerprints: set}},
		Hasher: h,
	}
	c := fakeCheck{name: "c", findings: []Finding{{Verdict: VerdictFail, File: secret, Column: "13812345678", Evidence: "e"}}}
	res := Run(t.Context(), req, c)
	for _, f := range res.Findings {
		if strings.Contains(f.File+f.Column, "13812345678") {
			t.Errorf("finding %+v repeats the value", f)
		}
	}
	if f := res.Findings[len(res.Findings)-1]; f.File != WithheldName+" #0" || f.Column != WithheldName {
		t.Errorf("got file %q column %q, want withheld names", f.File, f.Column)
	}
}
