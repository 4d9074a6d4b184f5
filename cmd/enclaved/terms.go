package main

import (
	"context"

	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/sweeper"
)

// termShredder lets the term sweeper destroy, through the shredder of
// derived data, what an ended grant or a revoked organisation derived
// (issue 18): the sweeper calls it after a grant's grace period, or at
// once when its organisation was revoked or blacklisted.
type termShredder struct{ s *exports.Shredder }

var _ sweeper.Shredder = termShredder{}

func (t termShredder) ShredGrant(ctx context.Context, grant, reason string) (int, error) {
	ds, err := t.s.GrantEnded(ctx, grant, "system", reason)
	return len(ds), err
}

func (t termShredder) ShredOrg(ctx context.Context, org, reason string) (int, error) {
	ds, err := t.s.OrgRevoked(ctx, org, "system", reason)
	return len(ds), err
}
