package opa

import (
	"context"
	"maps"
	"reflect"
	"sync"
	"testing"
	"time"

	policy "github.com/enclave-dev/enclave/policies"
)

var (
	t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

	engineOnce sync.Once
	sharedEng  *Engine
	engineErr  error

	topdownOnce sync.Once
	topdownEng  *Engine
	topdownErr  error
)

func day(n int) *time.Time { t := t0.AddDate(0, 0, n); return &t }

func ptr[T any](v T) *T { return &v }

// builtinEngine returns one engine with the built-in policies per test binary.
func builtinEngine(t testing.TB) *Engine {
	t.Helper()
	engineOnce.Do(func() { sharedEng, engineErr = New(context.Background()) })
	if engineErr != nil {
		t.Fatalf("New: %v", engineErr)
	}
	return sharedEng
}

// topdownEngine returns one engine with the built-in policies and no plans
// (every action's residual in topdown) per test binary.
func topdownEngine(t testing.TB) *Engine {
	t.Helper()
	topdownOnce.Do(func() { topdownEng, topdownErr = New(context.Background(), withoutPlans()) })
	if topdownErr != nil {
		t.Fatalf("New: %v", topdownErr)
	}
	return topdownEng
}

// person returns a subject of an active, licensed company with a valid
// agreement and the given roles.
func person(id, org string, roles ...string) policy.Subject {
	return policy.Subject{
		ID: id, Name: "Test Person " + id, Org: org, OrgType: "company", OrgStatus: "active",
		LicenceFrom: day(-100), LicenceUntil: day(300), AgreementUntil: day(200), IDVerified: true, Roles: roles,
	}
}

// jobInput is a job.run that the built-in policies allow: one dataset,
// covered by one unlimited grant, an approved image, no quotas.
func jobInput() policy.Input {
	return policy.Input{
		Action:  "job.run",
		Now:     t0,
		Subject: person("p-op1", "acme", "operator"),
		Resource: policy.Resource{
			Kind: "job", Org: "acme", Owner: "p-op1",
			Datasets: []policy.Dataset{{Name: "credit_penalties", Version: 3, Owner: "credit-centre", Level: "general-2", Market: "ordinary", State: "active"}},
			Image:    &policy.Image{Digest: "sha256:abc", Status: "approved"},
		},
		Grants: []policy.Grant{{
			ID: "g-1", Org: "acme", Datasets: []policy.GrantDataset{{Name: "credit_penalties", Owner: "credit-centre", Market: "ordinary", Level: "general-2", Version: 3}},
			Purpose: "scoring", Scenario: "loan-check", From: *day(-10), Until: *day(10),
			Approvers: []string{"p-auth1"}, Status: "approved",
		}},
		Request: policy.Request{CPU: 1, MemoryBytes: 1 << 30},
		Config:  policy.Config{AuthorizedOrgTypes: []string{"company"}},
	}
}

// copyEngine returns an engine made of base's compiled policies without a
// load (which costs about a second of CPU): maps of its own, and every
// residual and compiled residual with a check of its own, so that a test
// may swap or break them without changing base, which other tests share.
// With sh set, the copy runs shadow checks as New(..., WithShadow(*sh))
// starts them; the test closes it. Plans have no state of their own after
// the load (New checked them), so the copy shares them.
func copyEngine(t testing.TB, base *Engine, sh *Shadow) *Engine {
	t.Helper()
	e := &Engine{
		query: base.query, modules: base.modules, evaluator: base.evaluator,
		revision: base.revision, files: base.files, thresholds: base.thresholds,
		planned: maps.Clone(base.planned),
	}
	if base.special != nil {
		e.special = make(map[string]*specialized, len(base.special))
		for action, s := range base.special {
			e.special[action] = &specialized{query: s.query, fields: s.fields}
		}
	}
	if base.wasm != nil {
		e.wasm = make(map[string]*compiledWasm, len(base.wasm))
		for action, w := range base.wasm {
			e.wasm[action] = &compiledWasm{prepare: w.prepare, fields: w.fields}
		}
	}
	if sh != nil {
		e.startShadow(*sh)
		t.Cleanup(e.Close)
	}
	return e
}

// TestCopyEngineCopiesEveryField keeps copyEngine whole: a field added to
// Engine that the copy leaves zero fails here, not as a test that passes
// on a copy missing what it tests.
func TestCopyEngineCopiesEveryField(t *testing.T) {
	for _, base := range []*Engine{builtinEngine(t), wasmEngine(t)} {
		sh := Shadow{}
		c := reflect.ValueOf(copyEngine(t, base, &sh)).Elem()
		b := reflect.ValueOf(base).Elem()
		for i := range b.NumField() {
			name := b.Type().Field(i).Name
			if name != "shadow" && !b.Field(i).IsZero() && c.Field(i).IsZero() {
				t.Errorf("%s evaluator: copyEngine leaves Engine.%s zero", base.Evaluator(), name)
			}
		}
		if c.FieldByName("shadow").IsZero() {
			t.Errorf("%s evaluator: the copy runs no shadow checks", base.Evaluator())
		}
	}
}
