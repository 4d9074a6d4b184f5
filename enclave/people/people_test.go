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
	err := CreatePerson(context.Background(), nil, Person{ID: "p_x", Name: "X", Org: "acme", Roles: []Role{Operator, Officer}}, "")
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
