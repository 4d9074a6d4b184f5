package people

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// TestStoredTimes: tokens keep their times to the nanosecond, a revocation
// reads as the RFC 3339 text it always showed, and a stored time the codec
// cannot read is an error naming the row: Authenticate admits no one with
// it and does not call it a mere bad token.
func TestStoredTimes(t *testing.T) {
	ctx := context.Background()
	db := testDB(t)
	if err := CreateOrg(ctx, db, testOrg("acme", "91990100P00000001J")); err != nil {
		t.Fatal(err)
	}
	p := Person{ID: "p_1", Name: "Wang Lei", Org: "acme", Roles: []Role{Admin}, IDNumberMasked: "990***********0035", CreatedAt: t0, CreatedBy: "p_admin"}
	if err := CreatePerson(ctx, db, p, "h1"); err != nil {
		t.Fatal(err)
	}
	tok, hash, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	created := t0.Add(123456789 * time.Nanosecond)
	if err := CreateToken(ctx, db, Token{ID: "t_1", Person: "p_1", CreatedAt: created, ExpiresAt: t0.AddDate(0, 0, 90)}, hash); err != nil {
		t.Fatal(err)
	}
	if s, err := Authenticate(ctx, db, tok, t0.Add(time.Hour)); err != nil || s.Person.ID != "p_1" || !s.Person.CreatedAt.Equal(t0) {
		t.Fatalf("Authenticate: got %+v, %v", s.Person, err)
	}
	if err := RevokeToken(ctx, db, "t_1", "p_admin", t0.Add(90*time.Minute+5*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	got, err := GetToken(ctx, db, "t_1")
	if err != nil || !got.CreatedAt.Equal(created) || got.RevokedAt != "2026-06-01T13:30:00.005Z" {
		t.Fatalf("GetToken: got created %v revoked %q, %v", got.CreatedAt, got.RevokedAt, err)
	}
	if _, err := Authenticate(ctx, db, tok, t0.Add(2*time.Hour)); !errors.Is(err, errdefs.ErrUnauthenticated) {
		t.Fatalf("a revoked token: got %v, want unauthenticated", err)
	}
	for _, tc := range []struct {
		name, query, want string
		check             func() error
	}{
		{"token expiry", `UPDATE tokens SET revoked_at = '', expires_at = '2026-09-01T12:00:00Z'`, `token "t_1" expires_at`, func() error {
			_, err := Authenticate(ctx, db, tok, t0.Add(time.Hour))
			return err
		}},
		{"token list", `UPDATE tokens SET created_at = 'yesterday'`, `token "t_1"`, func() error {
			_, err := ListTokens(ctx, db, "p_1")
			return err
		}},
		{"person", `UPDATE people SET created_at = '2026-06-01T12:00:00.5Z'`, `person "p_1" created_at`, func() error {
			_, err := GetPerson(ctx, db, "p_1")
			return err
		}},
		{"organisation", `UPDATE orgs SET status_at = '2026-06-01 12:00:00'`, `organisation "acme"`, func() error {
			_, err := ListOrgs(ctx, db)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := db.Exec(tc.query); err != nil {
				t.Fatal(err)
			}
			if err := tc.check(); !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a data-loss error naming %s", err, tc.want)
			}
		})
	}
}
