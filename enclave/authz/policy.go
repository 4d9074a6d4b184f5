package authz

import (
	"context"
	"fmt"
	"time"

	"github.com/enclave-dev/enclave/enclave/people"
	policy "github.com/enclave-dev/enclave/policies"
)

// Policy asks a policy engine: it turns the subject, the action and the
// resource into the policies' input document.
type Policy struct {
	Engine policy.Engine
	Config policy.Config
	// Now returns the time of the request; the policies never read a clock.
	Now func() time.Time
}

var _ Authorizer = (*Policy)(nil)

// Authorize implements Authorizer.
func (p *Policy) Authorize(ctx context.Context, s people.Subject, action string, res Resource) (Decision, error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	in := policy.Input{
		Action:   action,
		Now:      now().UTC(),
		Subject:  Subject(s),
		Resource: res.Resource,
		Grants:   res.Grants,
		Usage:    res.Usage,
		Quota:    res.Quota,
		Request:  res.Request,
		Config:   p.Config,
	}
	d, err := p.Engine.Decide(ctx, in)
	if err != nil {
		return Decision{}, fmt.Errorf("policy decision for %q: %w", action, err)
	}
	return d, nil
}

// Revision is the revision of the loaded policies.
func (p *Policy) Revision() string { return p.Engine.Revision() }

// Subject converts an authenticated person into the policies' subject.
// Dates are inclusive: a licence or agreement "until" a day lasts to the
// end of that day (UTC).
func Subject(s people.Subject) policy.Subject {
	roles := make([]string, len(s.Person.Roles))
	for i, r := range s.Person.Roles {
		roles[i] = string(r)
	}
	return policy.Subject{
		ID:             s.Person.ID,
		Name:           s.Person.Name,
		Org:            s.Org.Name,
		OrgType:        string(s.Org.Type),
		OrgStatus:      string(s.Org.Status),
		LicenceFrom:    Day(s.Org.LicenceFrom, false),
		LicenceUntil:   Day(s.Org.LicenceUntil, true),
		Roles:          roles,
		AgreementUntil: Day(s.Person.AgreementUntil, true),
		IDVerified:     s.Person.IDNumberMasked != "",
	}
}

// Day turns a YYYY-MM-DD date into its first instant, or with end its last
// instant; an empty or malformed date is nil (nothing on record).
func Day(date string, end bool) *time.Time {
	t, err := time.Parse(people.DateLayout, date)
	if err != nil {
		return nil
	}
	if end {
		t = t.Add(24*time.Hour - time.Nanosecond)
	}
	return &t
}
