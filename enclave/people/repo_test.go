package people

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/store"
)

func testDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.SQL()
}

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func testOrg(name, uscc string) Org {
	return Org{Name: name, Type: Company, USCC: uscc, LicenceFrom: "2026-01-01", LicenceUntil: "2027-06-30",
		Application: Application{BusinessScope: "credit scoring", SecurityLead: "Qian Yi", Principal: "Zhao Er", DataDisposal: "destroy all copies"},
		Status:      Active, StatusReason: "licensed", CreatedAt: t0, UpdatedAt: t0}
}

func TestOrgRoundTripAndRenewal(t *testing.T) {
	ctx := context.Background()
	db := testDB(t)
	o := testOrg("acme", "91990100P00000001J")
	if err := CreateOrg(ctx, db, o); err != nil {
		t.Fatal(err)
	}
	got, err := GetOrg(ctx, db, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got.USCC != o.USCC || got.Application != o.Application || !got.StatusAt.Equal(t0) || got.LicenceUntil != "2027-06-30" {
		t.Fatalf("got %+v, want %+v with status_at %s", got, o, t0)
	}
	later := t0.AddDate(1, 0, 0)
	if err := RenewLicence(ctx, db, "acme", LicenceTerm{From: "2027-07-01", Until: "2029-06-30", RecordedAt: later, RecordedBy: "p_auth"}); err != nil {
		t.Fatal(err)
	}
	got, _ = GetOrg(ctx, db, "acme")
	if got.LicenceFrom != "2026-01-01" || got.LicenceUntil != "2029-06-30" {
		t.Errorf("got licence %s..%s after renewal, want 2026-01-01..2029-06-30", got.LicenceFrom, got.LicenceUntil)
	}
	terms, err := ListLicences(ctx, db, "acme")
	if err != nil {
		t.Fatal(err)
	}
	want := []LicenceTerm{
		{Kind: "licence", From: "2026-01-01", Until: "2027-06-30", RecordedAt: t0},
		{Kind: "renewal", From: "2027-07-01", Until: "2029-06-30", RecordedAt: later, RecordedBy: "p_auth"},
	}
	if len(terms) != len(want) {
		t.Fatalf("got %d terms, want %d", len(terms), len(want))
	}
	for i := range want {
		if terms[i].Kind != want[i].Kind || terms[i].From != want[i].From || terms[i].Until != want[i].Until ||
			!terms[i].RecordedAt.Equal(want[i].RecordedAt) || terms[i].RecordedBy != want[i].RecordedBy {
			t.Errorf("term %d: got %+v, want %+v", i, terms[i], want[i])
		}
	}
	if err := RenewLicence(ctx, db, "nobody", LicenceTerm{From: "2027-07-01", Until: "2029-06-30", RecordedAt: later}); !errdefs.IsNotFound(err) {
		t.Errorf("renewal of an unknown organisation: got %v, want not found", err)
	}
}

func TestLookupUSCC(t *testing.T) {
	ctx := context.Background()
	db := testDB(t)
	const a, b, c, d = "91990100P00000001J", "91990100P00000002M", "91990100P00000003Q", "91990100P00000004U"
	for _, o := range []Org{testOrg("held", a), testOrg("lapsed", b), testOrg("gone", c), testOrg("gone-again", c), testOrg("banned", d)} {
		if o.Name == "lapsed" {
			o.LicenceUntil = "2026-05-31"
		}
		if err := CreateOrg(ctx, db, o); err != nil {
			t.Fatal(err)
		}
	}
	SetOrgStatus(ctx, db, "gone", Revoked, "breach", t0.AddDate(-2, 0, 0))
	SetOrgStatus(ctx, db, "gone-again", Revoked, "breach", t0.AddDate(0, -1, 0))
	SetOrgStatus(ctx, db, "banned", Blacklisted, "fraud", t0)
	for _, tc := range []struct {
		uscc string
		want USCCRecord
	}{
		{a, USCCRecord{HeldBy: "held"}},
		{b, USCCRecord{}},
		{c, USCCRecord{Revoked: "gone-again", RevokedAt: t0.AddDate(0, -1, 0)}},
		{d, USCCRecord{Blacklisted: "banned"}},
		{"91990100P00000005Y", USCCRecord{}},
	} {
		got, err := LookupUSCC(ctx, db, tc.uscc, "2026-06-01")
		if err != nil {
			t.Fatal(err)
		}
		if got.HeldBy != tc.want.HeldBy || got.Blacklisted != tc.want.Blacklisted || got.Revoked != tc.want.Revoked || !got.RevokedAt.Equal(tc.want.RevokedAt) {
			t.Errorf("%s: got %+v, want %+v", tc.uscc, got, tc.want)
		}
	}
}

func TestCreatePersonRequiresIDAndAgreement(t *testing.T) {
	ctx := context.Background()
	db := testDB(t)
	if err := CreateOrg(ctx, db, testOrg("acme", "91990100P00000001J")); err != nil {
		t.Fatal(err)
	}
	ag := Agreement{AgreementFrom: "2026-06-01", AgreementUntil: "2027-05-31", AgreementLiability: "NDA-7 art. 5"}
	for _, tc := range []struct {
		name  string
		p     Person
		hash  string
		class func(error) bool
		rule  string
	}{
		{"operator with everything", Person{ID: "p_1", Roles: []Role{Operator}, IDNumberMasked: "990***********0035", Agreement: ag}, "h1", nil, ""},
		{"admin without agreement", Person{ID: "p_2", Roles: []Role{Admin}, IDNumberMasked: "990***********0035"}, "h2", nil, ""},
		{"no id number", Person{ID: "p_3", Roles: []Role{Admin}}, "", errdefs.IsInvalidArgument, RuleIDNumber},
		{"officer without agreement", Person{ID: "p_4", Roles: []Role{Officer}, IDNumberMasked: "m"}, "h4", errdefs.IsInvalidArgument, RuleAgreement},
		{"bureau without liability", Person{ID: "p_5", Roles: []Role{Bureau}, IDNumberMasked: "m", Agreement: Agreement{AgreementUntil: "2027-01-01"}}, "h5", errdefs.IsInvalidArgument, RuleAgreement},
		{"same id number", Person{ID: "p_6", Roles: []Role{Operator}, IDNumberMasked: "m", Agreement: ag}, "h1", errdefs.IsAlreadyExists, "already registered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.p.Name, tc.p.Org, tc.p.CreatedAt, tc.p.CreatedBy = "Wang Lei", "acme", t0, "p_admin"
			err := CreatePerson(ctx, db, tc.p, tc.hash)
			if tc.class == nil {
				if err != nil {
					t.Fatalf("got %v, want created", err)
				}
				got, err := GetPerson(ctx, db, tc.p.ID)
				if err != nil || got.Agreement != tc.p.Agreement || got.IDNumberMasked != tc.p.IDNumberMasked {
					t.Fatalf("got %+v %v, want %+v", got, err, tc.p)
				}
				return
			}
			if !tc.class(err) || !strings.Contains(err.Error(), tc.rule) {
				t.Fatalf("got %v, want an error naming %q", err, tc.rule)
			}
		})
	}
	renewed := Agreement{AgreementFrom: "2027-05-01", AgreementUntil: "2028-04-30", AgreementLiability: "NDA-8"}
	if err := SetAgreement(ctx, db, "p_1", renewed); err != nil {
		t.Fatal(err)
	}
	if got, _ := GetPerson(ctx, db, "p_1"); got.Agreement != renewed {
		t.Errorf("got agreement %+v after renewal, want %+v", got.Agreement, renewed)
	}
	if err := SetAgreement(ctx, db, "p_none", renewed); !errdefs.IsNotFound(err) {
		t.Errorf("renewal for an unknown person: got %v, want not found", err)
	}
}
