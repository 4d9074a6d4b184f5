package people

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

func TestCheckLicence(t *testing.T) {
	d := func(s string) time.Time { t, _ := time.Parse(DateLayout, s); return t }
	for _, tc := range []struct {
		from, until string
		ok          bool
	}{
		{"2026-01-01", "2027-12-31", true},
		{"2026-01-01", "2028-01-01", true},
		{"2026-01-01", "2028-01-02", false},
		{"2026-01-01", "2026-01-01", false},
		{"2026-02-01", "2026-01-01", false},
	} {
		err := CheckLicence(d(tc.from), d(tc.until))
		if (err == nil) != tc.ok {
			t.Errorf("licence %s..%s: got %v, want ok=%v", tc.from, tc.until, err, tc.ok)
		}
		if err != nil && !errdefs.IsInvalidArgument(err) {
			t.Errorf("licence %s..%s: got error class %v, want invalid argument", tc.from, tc.until, err)
		}
	}
}

func TestTransition(t *testing.T) {
	allowed := map[[2]OrgStatus]bool{
		{Active, Suspended}: true, {Active, Blacklisted}: true, {Active, Revoked}: true,
		{Suspended, Active}: true, {Suspended, Blacklisted}: true, {Suspended, Revoked}: true,
	}
	all := []OrgStatus{Active, Suspended, Blacklisted, Revoked}
	for _, from := range all {
		for _, to := range all {
			err := Transition(from, to)
			if got, want := err == nil, allowed[[2]OrgStatus{from, to}]; got != want {
				t.Errorf("%s -> %s: got allowed=%v, want %v", from, to, got, want)
			}
		}
	}
}

func TestParseRoles(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string // "" for ok, else a part of the error
	}{
		{[]string{"admin"}, ""},
		{[]string{"operator"}, ""},
		{[]string{"officer", "bureau"}, ""},
		{[]string{"authority", "custodian", "officer", "bureau"}, ""},
		{[]string{"operator", "bureau"}, ""},
		{[]string{"operator", "officer"}, RuleOperatorAlone},
		{[]string{"officer", "operator"}, RuleOperatorAlone},
		{[]string{"operator", "authority"}, RuleOperatorAlone},
		{[]string{"custodian", "operator"}, RuleOperatorAlone},
		{[]string{"admin", "bureau"}, RuleAdminAlone},
		{[]string{"officer", "admin"}, RuleAdminAlone},
		{[]string{"admin", "operator", "officer"}, RuleAdminAlone},
		{nil, "at least one role"},
		{[]string{"root"}, "not one of"},
		{[]string{"officer", "officer"}, "given twice"},
	} {
		_, err := ParseRoles(tc.in)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("roles %v: got %v, want ok", tc.in, err)
		case tc.want != "" && (!errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("roles %v: got %v, want an invalid-argument error naming %q", tc.in, err, tc.want)
		}
	}
}

func TestCreatePersonChecksDuties(t *testing.T) {
	err := CreatePerson(context.Background(), nil, Person{ID: "p_x", Name: "X", Org: "acme", Roles: []Role{Operator, Officer}}, "h")
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), RuleOperatorAlone) {
		t.Errorf("got %v, want the separation of duties refused before the store is touched", err)
	}
}

func TestTokens(t *testing.T) {
	a, ha, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, hb, _ := NewToken()
	if a == b || ha == hb {
		t.Fatal("two tokens are equal")
	}
	if HashToken(a) != ha || ha == a {
		t.Fatal("hash does not match or is the token itself")
	}
	if err := WellFormedToken(a); err != nil {
		t.Fatalf("fresh token is not well formed: %v", err)
	}
	for _, bad := range []string{"", "enc_", a[:len(a)-1], "xyz_" + a[4:], a + "A"} {
		if WellFormedToken(bad) == nil {
			t.Errorf("token %q accepted as well formed", bad)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"acme-analytics", true}, {"厦门市信用中心", true}, {"Zhou Min", true},
		{"", false}, {" lead", false}, {"a/b", false}, {"<x>", false}, {string(make([]byte, 200)), false},
	} {
		if err := ValidName("test", tc.in); (err == nil) != tc.ok {
			t.Errorf("name %q: got %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestCheckIDNumber(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string // want "" for valid, else a part of the error
	}{
		{"valid", "32058319900101007X", ""},
		{"lower-case x", "32058319900101007x", ""},
		{"born today", "99010020260601001X", ""},
		{"empty", "", "required"},
		{"wrong check digit", "320583199001010071", "check digit"},
		{"no such day", "32058319900230007X", "birth date"},
		{"born tomorrow", "990100202606020015", "future"},
		{"born 1899", "990100189912310017", "before 1900"},
		{"short", "3205831990010100", "18 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckIDNumber(tc.in, t0)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tc.want != "" && (!errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), RuleIDNumber)):
				t.Fatalf("got %v, want an invalid-argument error naming the rule and %q", err, tc.want)
			case err != nil && tc.in != "" && strings.Contains(err.Error(), tc.in):
				t.Fatalf("got %v, want an error that does not repeat the number", err)
			}
		})
	}
}

func TestCheckUSCC(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"91990104A6N74W818W", "91990104A6N74W818W", ""},
		{"91990104a6n74w818w", "91990104A6N74W818W", ""},
		{"", "", "required"},
		{"91990104A6N74W818X", "", "check character"},
		{"91990104A6N74W818", "", "18 characters"},
	} {
		got, err := CheckUSCC(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%q: got %q %v, want %q", tc.in, got, err, tc.want)
		case tc.err != "" && (!errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), RuleUSCC)):
			t.Errorf("%q: got %v, want an invalid-argument error naming the rule and %q", tc.in, err, tc.err)
		}
	}
}

func TestCheckAgreement(t *testing.T) {
	ok := Agreement{AgreementFrom: "2026-06-01", AgreementUntil: "2027-05-31", AgreementLiability: "liability per NDA-7 art. 5"}
	with := func(f func(*Agreement)) Agreement { a := ok; f(&a); return a }
	for _, tc := range []struct {
		name  string
		roles []Role
		in    Agreement
		want  string // "" for valid, else a part of the error
		from  string // the from returned when valid
	}{
		{"operator", []Role{Operator}, ok, "", "2026-06-01"},
		{"from defaults to today", []Role{Officer}, with(func(a *Agreement) { a.AgreementFrom = "" }), "", "2026-06-01"},
		{"ends today", []Role{Custodian}, with(func(a *Agreement) { a.AgreementUntil = "2026-06-01" }), "", "2026-06-01"},
		{"admin without one", []Role{Admin}, Agreement{}, "", ""},
		{"admin with one", []Role{Admin}, ok, "", "2026-06-01"},
		{"operator without one", []Role{Operator}, Agreement{}, RuleAgreement, ""},
		{"authority without one", []Role{Authority}, Agreement{}, RuleAgreement, ""},
		{"bureau without one", []Role{Bureau}, Agreement{}, RuleAgreement, ""},
		{"officer without one", []Role{Officer}, Agreement{}, RuleAgreement, ""},
		{"custodian without one", []Role{Custodian}, Agreement{}, RuleAgreement, ""},
		{"no until", []Role{Operator}, with(func(a *Agreement) { a.AgreementUntil = "" }), "agreement_until is required", ""},
		{"no liability", []Role{Operator}, with(func(a *Agreement) { a.AgreementLiability = "" }), "agreement_liability is required", ""},
		{"blank liability", []Role{Operator}, with(func(a *Agreement) { a.AgreementLiability = "  " }), "agreement_liability is required", ""},
		{"control character", []Role{Operator}, with(func(a *Agreement) { a.AgreementLiability = "a\x1bb" }), "control character", ""},
		{"too long", []Role{Operator}, with(func(a *Agreement) { a.AgreementLiability = strings.Repeat("x", MaxText+1) }), "at most", ""},
		{"ended", []Role{Operator}, with(func(a *Agreement) { a.AgreementFrom, a.AgreementUntil = "2026-01-01", "2026-05-31" }), "has passed", ""},
		{"backwards", []Role{Operator}, with(func(a *Agreement) { a.AgreementFrom = "2027-06-01" }), "before agreement_from", ""},
		{"bad date", []Role{Operator}, with(func(a *Agreement) { a.AgreementUntil = "next year" }), "agreement_until", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckAgreement(tc.roles, tc.in, t0)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tc.want == "" && got.AgreementFrom != tc.from:
				t.Fatalf("got from %q, want %q", got.AgreementFrom, tc.from)
			case tc.want != "" && (!errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an invalid-argument error naming %q", err, tc.want)
			}
		})
	}
}

func TestCheckApplication(t *testing.T) {
	ok := Application{BusinessScope: "credit risk models for lenders", SecurityLead: "Qian Yi", Principal: "Zhao Er", DataDisposal: "destroy every copy within 30 days"}
	with := func(f func(*Application)) Application { a := ok; f(&a); return a }
	for _, tc := range []struct {
		name string
		in   Application
		want string
	}{
		{"complete", ok, ""},
		{"no scope", with(func(a *Application) { a.BusinessScope = "" }), "business_scope"},
		{"no security lead", with(func(a *Application) { a.SecurityLead = "" }), "security_lead"},
		{"bad security lead", with(func(a *Application) { a.SecurityLead = "<b>" }), "security_lead"},
		{"no principal", with(func(a *Application) { a.Principal = "" }), "principal"},
		{"no disposal", with(func(a *Application) { a.DataDisposal = "" }), "data_disposal"},
	} {
		err := CheckApplication(tc.in)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: got %v, want valid", tc.name, err)
		case tc.want != "" && (!errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an invalid-argument error naming %q", tc.name, err, tc.want)
		}
	}
}
