package server

import (
	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/usage"
)

// The server answers with the types of enclave/api only: these map the
// domain's values to them, field by field, so that a change of a domain
// type never changes the wire by accident.

// views maps each of xs with view; nil stays nil (JSON null, as the
// domain's value would encode).
func views[T, V any](xs []T, view func(T) V) []V {
	if xs == nil {
		return nil
	}
	out := make([]V, len(xs))
	for i, x := range xs {
		out[i] = view(x)
	}
	return out
}

func orgView(o people.Org) api.Org {
	return api.Org{ID: o.Name, Name: o.Name, Type: string(o.Type), USCC: o.USCC, LicenceFrom: o.LicenceFrom, LicenceUntil: o.LicenceUntil,
		BusinessScope: o.BusinessScope, SecurityLead: o.SecurityLead, Principal: o.Principal, DataDisposal: o.DataDisposal,
		Status: string(o.Status), StatusReason: o.StatusReason, StatusAt: o.StatusAt, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
		Licences: views(o.Licences, licenceView)}
}

func licenceView(t people.LicenceTerm) api.LicenceTerm {
	return api.LicenceTerm{Kind: t.Kind, From: t.From, Until: t.Until, RecordedAt: t.RecordedAt, RecordedBy: t.RecordedBy}
}

func personView(p people.Person) api.Person {
	return api.Person{ID: p.ID, Name: p.Name, Org: p.Org, Roles: views(p.Roles, func(r people.Role) string { return string(r) }), IDNumberMasked: p.IDNumberMasked,
		AgreementFrom: p.AgreementFrom, AgreementUntil: p.AgreementUntil, AgreementLiability: p.AgreementLiability,
		CreatedAt: p.CreatedAt, CreatedBy: p.CreatedBy}
}

func tokenView(t people.Token) api.Token {
	return api.Token{ID: t.ID, Person: t.Person, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt}
}

func imageView(im *jobs.Image) api.Image {
	return api.Image{Digest: im.Digest, ID: im.ID, Name: im.Name, Size: im.Size, Status: im.Status, Org: im.Org,
		ImportedBy: im.ImportedBy, ImportedAt: im.ImportedAt, DecidedBy: im.DecidedBy, DecidedAt: im.DecidedAt, Comment: im.Comment,
		Unpacked: im.Unpacked, Layers: im.Layers}
}

// exportView maps an export as a reader sees it (exports.Export.ForReader).
func exportView(e *exports.Export) api.Export {
	return api.Export{ID: e.ID, Job: e.Job, Org: e.Org, Requester: e.Requester, Purpose: e.Purpose, Scenario: e.Scenario,
		Files: views(e.Files, exportFileView), Declared: e.Declared, Level: e.Level, State: e.State,
		Checks: api.ExportChecks{Findings: views(e.Result.Findings, findingView), Checks: views(e.Result.Checks, checkRunView),
			Verdict: string(e.Result.Verdict)},
		ApprovalsNeeded: e.ApprovalsNeeded, Reviews: views(e.Reviews, exportReviewView), Previews: views(e.Previews, previewView),
		BundleSHA256: e.BundleSHA256, CreatedAt: e.CreatedAt, ReleasedAt: e.ReleasedAt, View: e.View}
}

func exportFileView(f exports.File) api.ExportFile {
	return api.ExportFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256}
}

func findingView(f review.Finding) api.Finding {
	return api.Finding{Check: f.Check, Verdict: string(f.Verdict), File: f.File, Column: f.Column, Count: f.Count, Evidence: f.Evidence}
}

func checkRunView(c review.CheckResult) api.CheckRun {
	return api.CheckRun{Name: c.Name, Version: c.Version, Verdict: string(c.Verdict)}
}

func exportReviewView(r exports.Review) api.ExportReview {
	return api.ExportReview{Person: r.Person, Org: r.Org, Decision: r.Decision, Comment: r.Comment, Justification: r.Justification, Time: r.Time}
}

func previewView(p exports.Preview) api.ExportPreview {
	return api.ExportPreview{File: p.File, Kind: p.Kind, Rows: p.Rows, Columns: views(p.Columns, previewColumnView), Sample: p.Sample, Note: p.Note}
}

func previewColumnView(c exports.PreviewColumn) api.PreviewColumn {
	return api.PreviewColumn{Name: c.Name, Type: c.Type, Level: c.Level, PI: c.PI, Nulls: c.Nulls}
}

func grantDatasetView(d grants.Dataset) api.GrantDataset {
	return api.GrantDataset{Name: d.Name, Columns: d.Columns, Owner: d.Owner, Market: d.Market, Level: d.Level, Version: d.Version}
}

func applicationView(a *grants.Application) api.Application {
	return api.Application{ID: a.ID, Org: a.Org, Applicant: a.Applicant, Datasets: views(a.Datasets, grantDatasetView), Purpose: a.Purpose,
		Scenario: a.Scenario, DataFlow: a.DataFlow, PublicInterest: a.PublicInterest, Conditions: a.Conditions, From: a.From, Until: a.Until, Batches: a.Batches,
		ApprovalsNeeded: a.ApprovalsNeeded, Status: a.Status, Grant: a.Grant, Decisions: views(a.Decisions, decisionView), CreatedAt: a.CreatedAt}
}

func decisionView(d grants.Decision) api.ApplicationDecision {
	return api.ApplicationDecision{Person: d.Person, Decision: d.Decision, Comment: d.Comment, Time: d.Time}
}

func grantView(g *grants.Grant) api.Grant {
	return api.Grant{ID: g.ID, Application: g.Application, Org: g.Org, Datasets: views(g.Datasets, grantDatasetView), Purpose: g.Purpose,
		Scenario: g.Scenario, PublicInterest: g.PublicInterest, Conditions: g.Conditions, From: g.From, Until: g.Until, Approvers: g.Approvers,
		BatchesLeft: g.BatchesLeft, Status: g.Status, CreatedAt: g.CreatedAt}
}

func usageRowView(r usage.Row) api.UsageRow {
	return api.UsageRow{Key: r.Key, Jobs: r.Jobs, CPUSeconds: r.CPUSeconds, CPUHours: r.CPUHours, PeakMemoryBytes: r.PeakMemoryBytes,
		MemoryGBHours: r.MemoryGBHours, InputBytes: r.InputBytes, OutputBytes: r.OutputBytes, WallSeconds: r.WallSeconds,
		ExportsRequested: r.ExportsRequested, ExportsApproved: r.ExportsApproved, ExportsRejected: r.ExportsRejected,
		Charge: api.UsageCharge(r.Charge), Classes: views(r.Classes, usageClassView)}
}

func usageClassView(c usage.ClassUse) api.UsageClass {
	return api.UsageClass{Class: c.Class, Jobs: c.Jobs, ExportsRequested: c.ExportsRequested, Why: c.Why, Charge: api.UsageCharge(c.Charge),
		Applications: views(c.Applications, func(b usage.Basis) api.UsageBasis { return api.UsageBasis(b) })}
}

func usageReportView(r *usage.Report) api.UsageReport {
	return api.UsageReport{Org: r.Org, From: r.From, Until: r.Until, By: string(r.By), Currency: r.Currency,
		Rows: views(r.Rows, usageRowView), Total: usageRowView(r.Total)}
}
