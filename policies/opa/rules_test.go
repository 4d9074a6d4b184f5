package opa

import (
	"context"
	"strings"
	"testing"

	policy "github.com/enclave-dev/enclave/policies"
)

// TestJobRules changes one thing at a time in an allowed job.run and
// expects the named rule to refuse it.
func TestJobRules(t *testing.T) {
	e := builtinEngine(t)
	tests := []struct {
		name     string
		mutate   func(*policy.Input)
		wantRule string // "" means allowed
	}{
		{"baseline", func(*policy.Input) {}, ""},
		{"org suspended", func(in *policy.Input) { in.Subject.OrgStatus = "suspended" }, "org.not_active"},
		{"org blacklisted", func(in *policy.Input) { in.Subject.OrgStatus = "blacklisted" }, "org.not_active"},
		{"no licence", func(in *policy.Input) { in.Subject.LicenceFrom, in.Subject.LicenceUntil = nil, nil }, "licence.not_valid"},
		{"licence expired", func(in *policy.Input) { in.Subject.LicenceUntil = day(-1) }, "licence.not_valid"},
		{"licence not started", func(in *policy.Input) { in.Subject.LicenceFrom = day(1) }, "licence.not_valid"},
		{"no agreement", func(in *policy.Input) { in.Subject.AgreementUntil = nil }, "agreement.not_valid"},
		{"agreement expired", func(in *policy.Input) { in.Subject.AgreementUntil = day(-1) }, "agreement.not_valid"},
		{"agreement ends now", func(in *policy.Input) { in.Subject.AgreementUntil = &in.Now }, ""},
		{"id number not verified", func(in *policy.Input) { in.Subject.IDVerified = false }, "person.id_not_verified"},
		{"dataset sealed", func(in *policy.Input) { in.Resource.Datasets[0].State = "sealed" }, "dataset.unavailable"},
		{"dataset destroyed", func(in *policy.Input) { in.Resource.Datasets[0].State = "destroyed" }, "dataset.unavailable"},
		{"dataset state unset", func(in *policy.Input) { in.Resource.Datasets[0].State = "" }, "dataset.unavailable"},
		{"dataset withheld", func(in *policy.Input) { in.Resource.Datasets[0].Market = "withheld" }, "dataset.withheld"},
		{"dataset market unset", func(in *policy.Input) { in.Resource.Datasets[0].Market = "" }, "dataset.withheld"},
		{"authorized for company", func(in *policy.Input) {
			in.Resource.Datasets[0].Market = "authorized"
			in.Grants[0].Datasets[0].Market = "authorized"
		}, ""},
		{"authorized for non-authorized type", func(in *policy.Input) {
			in.Resource.Datasets[0].Market = "authorized"
			in.Config.AuthorizedOrgTypes = []string{"agency"}
		}, "dataset.authorization_required"},
		{"authorized with no config", func(in *policy.Input) {
			in.Resource.Datasets[0].Market = "authorized"
			in.Config.AuthorizedOrgTypes = nil
		}, "dataset.authorization_required"},
		{"dataset not granted", func(in *policy.Input) { in.Resource.Datasets[0].Name = "social_security" }, "grant.dataset_not_granted"},
		{"one of two not granted", func(in *policy.Input) {
			in.Resource.Datasets = append(in.Resource.Datasets, policy.Dataset{Name: "registrations", Level: "general-1", Market: "ordinary", State: "active"})
		}, "grant.dataset_not_granted"},
		{"grant of another org", func(in *policy.Input) { in.Grants[0].Org = "globex" }, "grant.dataset_not_granted"},
		{"grant not approved", func(in *policy.Input) { in.Grants[0].Status = "revoked" }, "grant.dataset_not_granted"},
		{"grant status unset", func(in *policy.Input) { in.Grants[0].Status = "" }, "grant.dataset_not_granted"},
		{"grant expired", func(in *policy.Input) { in.Grants[0].Until = *day(-1) }, "grant.dataset_not_granted"},
		{"grant not started", func(in *policy.Input) { in.Grants[0].From = *day(1) }, "grant.dataset_not_granted"},
		{"no grants", func(in *policy.Input) { in.Grants = nil }, "grant.dataset_not_granted"},
		{"columns granted, all read", func(in *policy.Input) {
			in.Grants[0].Datasets[0].Columns = []string{"a", "b"}
		}, "grant.columns_not_granted"},
		{"columns granted, subset read", func(in *policy.Input) {
			in.Grants[0].Datasets[0].Columns = []string{"a", "b"}
			in.Resource.Datasets[0].Columns = []string{"b"}
		}, ""},
		{"columns granted, other read", func(in *policy.Input) {
			in.Grants[0].Datasets[0].Columns = []string{"a", "b"}
			in.Resource.Datasets[0].Columns = []string{"b", "c"}
		}, "grant.columns_not_granted"},
		{"important, one approver", func(in *policy.Input) {
			in.Resource.Datasets[0].Level = "important"
			in.Grants[0].Datasets[0].Level = "important"
		}, "grant.important_needs_two_approvers"},
		{"important, same approver twice", func(in *policy.Input) {
			in.Resource.Datasets[0].Level = "important"
			in.Grants[0].Datasets[0].Level = "important"
			in.Grants[0].Approvers = []string{"p-auth1", "p-auth1"}
		}, "grant.important_needs_two_approvers"},
		{"important, two approvers", func(in *policy.Input) {
			in.Resource.Datasets[0].Level = "important"
			in.Grants[0].Datasets[0].Level = "important"
			in.Grants[0].Approvers = []string{"p-auth1", "p-auth2"}
		}, ""},
		// Issue 15: a grant admits the versions it was approved for.
		{"new version of another provider", func(in *policy.Input) { in.Resource.Datasets[0].Owner = "rival-centre" }, "grant.version_not_approved"},
		{"new version of no provider", func(in *policy.Input) { in.Resource.Datasets[0].Owner = "" }, "grant.version_not_approved"},
		{"new version authorization-required", func(in *policy.Input) { in.Resource.Datasets[0].Market = "authorized" }, "grant.version_not_approved"},
		{"new version ordinary, grant authorized", func(in *policy.Input) { in.Grants[0].Datasets[0].Market = "authorized" }, "grant.version_not_approved"},
		{"new version one level higher", func(in *policy.Input) { in.Resource.Datasets[0].Level = "general-3" }, "grant.version_not_approved"},
		{"new version important", func(in *policy.Input) {
			in.Resource.Datasets[0].Level = "important"
			in.Grants[0].Approvers = []string{"p-auth1", "p-auth2"}
		}, "grant.version_not_approved"},
		{"older version, lower level", func(in *policy.Input) {
			in.Resource.Datasets[0].Level, in.Resource.Datasets[0].Version = "general-1", 1
		}, ""},
		{"grant without pins", func(in *policy.Input) {
			in.Grants[0].Datasets[0] = policy.GrantDataset{Name: "credit_penalties"}
		}, "grant.version_not_approved"},
		{"grant pinned to another provider", func(in *policy.Input) { in.Grants[0].Datasets[0].Owner = "rival-centre" }, "grant.version_not_approved"},
		{"a second grant approved for the new version", func(in *policy.Input) {
			in.Resource.Datasets[0].Level = "general-3"
			g := in.Grants[0]
			g.ID, g.Datasets = "g-2", []policy.GrantDataset{{Name: "credit_penalties", Owner: "credit-centre", Market: "ordinary", Level: "general-3", Version: 4}}
			in.Grants = append(in.Grants, g)
		}, ""},
		{"university without public interest", func(in *policy.Input) { in.Subject.OrgType = "university" }, "grant.public_interest_required"},
		{"research institute without public interest", func(in *policy.Input) { in.Subject.OrgType = "research-institute" }, "grant.public_interest_required"},
		{"university with public interest", func(in *policy.Input) {
			in.Subject.OrgType = "university"
			in.Grants[0].PublicInterest = true
		}, ""},
		{"batches exhausted", func(in *policy.Input) { in.Grants[0].BatchesLeft = ptr(int64(0)) }, "grant.batches_exhausted"},
		{"batches left", func(in *policy.Input) { in.Grants[0].BatchesLeft = ptr(int64(1)) }, ""},
		{"image pending", func(in *policy.Input) { in.Resource.Image.Status = "pending" }, "image.not_approved"},
		{"no image", func(in *policy.Input) { in.Resource.Image = nil }, "image.not_approved"},
		{"concurrency at quota", func(in *policy.Input) {
			in.Quota.ConcurrentJobs = ptr(int64(2))
			in.Usage.RunningJobs = 2
		}, "quota.concurrent_jobs"},
		{"concurrency below quota", func(in *policy.Input) {
			in.Quota.ConcurrentJobs = ptr(int64(2))
			in.Usage.RunningJobs = 1
		}, ""},
		{"zero concurrency quota", func(in *policy.Input) { in.Quota.ConcurrentJobs = ptr(int64(0)) }, "quota.concurrent_jobs"},
		{"cpu used up", func(in *policy.Input) {
			in.Quota.CPUSecondsMonth = ptr(int64(3600))
			in.Usage.CPUSecondsMonth = 3600
		}, "quota.cpu_seconds_month"},
		{"cpu left", func(in *policy.Input) {
			in.Quota.CPUSecondsMonth = ptr(int64(3600))
			in.Usage.CPUSecondsMonth = 3599
		}, ""},
		{"memory above quota", func(in *policy.Input) { in.Quota.MemoryBytesPerJob = ptr(int64(1 << 29)) }, "quota.memory_per_job"},
		{"memory at quota", func(in *policy.Input) { in.Quota.MemoryBytesPerJob = ptr(int64(1 << 30)) }, ""},
		{"job of another org", func(in *policy.Input) { in.Resource.Org = "globex" }, "scope.own_org"},
		{"custodian runs a job", func(in *policy.Input) { in.Subject.Roles = []string{"custodian"} }, "role.not_permitted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := jobInput()
			tc.mutate(&in)
			d, err := e.Decide(context.Background(), in)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if tc.wantRule == "" {
				if !d.Allow {
					t.Errorf("got deny %v, want allow", d.Reasons)
				}
				return
			}
			if d.Allow || !hasRule(d, tc.wantRule) {
				t.Errorf("got allow %v reasons %v, want deny with rule %q", d.Allow, d.Reasons, tc.wantRule)
			}
			if d.Grants != nil {
				t.Errorf("got grants %v on a deny, want none", d.Grants)
			}
			for _, r := range d.Reasons {
				for _, value := range []string{jobInput().Grants[0].Purpose, jobInput().Grants[0].Scenario, "Test Person"} {
					if strings.Contains(r.Message, value) {
						t.Errorf("got message %q, want no data value %q in it", r.Message, value)
					}
				}
			}
		})
	}
}

// TestGrantsUsed: the decision names the grant each dataset uses, preferring
// an unlimited grant over a batch-limited one.
func TestGrantsUsed(t *testing.T) {
	e := builtinEngine(t)
	limited := func(id string, n int64) policy.Grant {
		g := jobInput().Grants[0]
		g.ID, g.BatchesLeft = id, ptr(n)
		return g
	}
	tests := []struct {
		name   string
		grants []policy.Grant
		want   string
	}{
		{"single unlimited", jobInput().Grants, "g-1"},
		{"unlimited preferred", append([]policy.Grant{limited("g-0", 3)}, jobInput().Grants...), "g-1"},
		{"smallest limited id", []policy.Grant{limited("g-7", 1), limited("g-5", 2)}, "g-5"},
		{"exhausted skipped", []policy.Grant{limited("g-5", 0), limited("g-7", 1)}, "g-7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := jobInput()
			in.Grants = tc.grants
			d, err := e.Decide(context.Background(), in)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if got := d.Grants["credit_penalties"]; !d.Allow || got != tc.want || len(d.Grants) != 1 {
				t.Errorf("got allow %v grants %v, want grant %q for %q", d.Allow, d.Grants, tc.want, "credit_penalties")
			}
		})
	}
}

// TestApplicationRules covers application.file, application.approve and
// org.add.
func TestApplicationRules(t *testing.T) {
	e := builtinEngine(t)
	file := func() policy.Input {
		in := jobInput()
		in.Action = "application.file"
		in.Resource = policy.Resource{
			Kind: "application", Org: "acme", Owner: "p-op1", Purpose: "credit scoring", Scenario: "loan-check",
			Datasets: in.Resource.Datasets, From: day(0), Until: day(90),
		}
		in.Grants = nil
		return in
	}
	approve := func() policy.Input {
		in := file()
		in.Action = "application.approve"
		in.Subject = person("p-auth1", "city-authority", "authority")
		in.Subject.OrgType = "agency"
		return in
	}
	orgAdd := func() policy.Input {
		in := approve()
		in.Action = "org.add"
		in.Resource = policy.Resource{Kind: "org", ID: "globex", From: day(0), Until: day(365), Licensing: &policy.Licensing{}}
		return in
	}
	orgRenew := func() policy.Input {
		in := orgAdd()
		in.Action = "org.renew"
		in.Resource = policy.Resource{Kind: "org", ID: "acme", From: day(31), Until: day(31 + 700),
			Licensing: &policy.Licensing{LicenceUntil: day(30), Status: "active"}}
		return in
	}
	tests := []struct {
		name     string
		in       func() policy.Input
		mutate   func(*policy.Input)
		wantRule string
	}{
		{"file", file, func(*policy.Input) {}, ""},
		{"file without datasets", file, func(in *policy.Input) { in.Resource.Datasets = nil }, "application.no_datasets"},
		{"file sealed dataset", file, func(in *policy.Input) { in.Resource.Datasets[0].State = "sealed" }, "dataset.unavailable"},
		{"file withheld dataset", file, func(in *policy.Input) { in.Resource.Datasets[0].Market = "withheld" }, "dataset.withheld"},
		{"file past licence", file, func(in *policy.Input) { in.Resource.Until = day(301) }, "application.period"},
		{"file before licence", file, func(in *policy.Input) { in.Resource.From = day(-101) }, "application.period"},
		{"file without period", file, func(in *policy.Input) { in.Resource.From, in.Resource.Until = nil, nil }, "application.period"},
		{"file backwards period", file, func(in *policy.Input) { in.Resource.From, in.Resource.Until = day(20), day(10) }, "application.period"},
		{"file by university", file, func(in *policy.Input) { in.Subject.OrgType = "university" }, "application.public_interest_required"},
		{"file by university public interest", file, func(in *policy.Input) {
			in.Subject.OrgType = "university"
			in.Resource.PublicInterest = true
		}, ""},
		{"file without agreement", file, func(in *policy.Input) { in.Subject.AgreementUntil = nil }, "agreement.not_valid"},
		{"file with licence expired", file, func(in *policy.Input) { in.Subject.LicenceUntil = day(-1) }, "licence.not_valid"},
		{"approve", approve, func(*policy.Input) {}, ""},
		{"approve twice", approve, func(in *policy.Input) { in.Resource.Approvers = []string{"p-auth1"} }, "application.already_approved"},
		{"second approver", approve, func(in *policy.Input) { in.Resource.Approvers = []string{"p-auth2"} }, ""},
		{"approve own org", approve, func(in *policy.Input) { in.Subject.Org = "acme" }, "scope.independent"},
		{"approve own application", approve, func(in *policy.Input) { in.Subject.ID = "p-op1" }, "scope.independent"},
		{"approve unknown applicant", approve, func(in *policy.Input) { in.Resource.Owner = "" }, "scope.independent"},
		{"org add", orgAdd, func(*policy.Input) {}, ""},
		{"org add two years", orgAdd, func(in *policy.Input) { in.Resource.Until = ptr(in.Resource.From.AddDate(2, 0, 0)) }, ""},
		{"org add too long", orgAdd, func(in *policy.Input) { in.Resource.Until = ptr(in.Resource.From.AddDate(2, 0, 1)) }, "licence.period"},
		{"org add backwards", orgAdd, func(in *policy.Input) { in.Resource.Until = day(-1) }, "licence.period"},
		{"org add without period", orgAdd, func(in *policy.Input) { in.Resource.Until = nil }, "licence.period"},
		{"org add blacklisted code", orgAdd, func(in *policy.Input) { in.Resource.Licensing.BlacklistedAs = "old-co" }, "licence.uscc_blacklisted"},
		{"org add code revoked a year ago", orgAdd, func(in *policy.Input) { in.Resource.Licensing.RevokedAt = ptr(t0.AddDate(-1, 0, 0)) }, "licence.uscc_revoked"},
		{"org add code revoked three years ago", orgAdd, func(in *policy.Input) { in.Resource.Licensing.RevokedAt = ptr(t0.AddDate(-3, 0, 0)) }, ""},
		{"org add without agreement", orgAdd, func(in *policy.Input) { in.Subject.AgreementUntil = day(-1) }, "agreement.not_valid"},
		{"org add by unverified person", orgAdd, func(in *policy.Input) { in.Subject.IDVerified = false }, "person.id_not_verified"},
		{"org renew", orgRenew, func(*policy.Input) {}, ""},
		{"org renew on the last day", orgRenew, func(in *policy.Input) { in.Resource.Licensing.LicenceUntil = ptr(t0) }, ""},
		{"org renew too early", orgRenew, func(in *policy.Input) { in.Resource.Licensing.LicenceUntil = day(100) }, "licence.renewal_window"},
		{"org renew after the end", orgRenew, func(in *policy.Input) { in.Resource.Licensing.LicenceUntil = day(-1) }, "licence.renewal_window"},
		{"org renew without licence", orgRenew, func(in *policy.Input) { in.Resource.Licensing.LicenceUntil = nil }, "licence.renewal_window"},
		{"org renew suspended", orgRenew, func(in *policy.Input) { in.Resource.Licensing.Status = "suspended" }, "licence.renewal_not_active"},
		{"org renew over two years", orgRenew, func(in *policy.Input) { in.Resource.Until = ptr(in.Resource.From.AddDate(2, 0, 1)) }, "licence.period"},
		{"org renew blacklisted code", orgRenew, func(in *policy.Input) { in.Resource.Licensing.BlacklistedAs = "old-co" }, "licence.uscc_blacklisted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in()
			tc.mutate(&in)
			d, err := e.Decide(context.Background(), in)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if tc.wantRule == "" {
				if !d.Allow {
					t.Errorf("got deny %v, want allow", d.Reasons)
				}
				return
			}
			if d.Allow || !hasRule(d, tc.wantRule) {
				t.Errorf("got allow %v reasons %v, want deny with rule %q", d.Allow, d.Reasons, tc.wantRule)
			}
		})
	}
}
