package usage

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestAnnualIncidents: the annual report lists the year's incidents on or
// affecting the organisation (who, what, when, why, what they stopped, the
// decision) and its grants that ended or are suspended; another
// organisation's are left out, and other years' too (issue 18).
func TestAnnualIncidents(t *testing.T) {
	db := fixture(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO incidents(id, kind, target, org, reason, reported_by, reporter_org, reported_at, affected, stopped, state, decision, closed_by, closed_at)
			VALUES ('inc_a', 'dataset', 'penalties', '', 'a column looks unmasked', 'p-op', 'acme', '2026-03-04T10:00:00.000000000Z',
			'{"orgs":["acme","globex"]}', '["j-1","j-2"]', 'closed', 'masking verified', 'p-auth', '2026-03-05T10:00:00.000000000Z')`,
		`INSERT INTO incidents(id, kind, target, org, reason, reported_by, reporter_org, reported_at, affected, state)
			VALUES ('inc_g', 'job', 'j-9', 'globex', 'globex only', 'p-x', 'globex', '2026-04-01T00:00:00.000000000Z', '{"orgs":["globex"]}', 'open')`,
		`INSERT INTO incidents(id, kind, target, org, reason, reported_by, reporter_org, reported_at, affected, state)
			VALUES ('inc_old', 'job', 'j-0', 'acme', 'last year', 'p-x', 'acme', '2025-04-01T00:00:00.000000000Z', '{"orgs":["acme"]}', 'open')`,
	} {
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Annual(ctx, db.SQL(), "acme", 2026, DefaultPriceList(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Incidents) != 1 || rep.Incidents[0].ID != "inc_a" || rep.Incidents[0].Stopped != 2 || rep.Incidents[0].Decision != "masking verified" {
		t.Fatalf("acme's incidents of 2026: got %+v, want inc_a alone", rep.Incidents)
	}
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	doc := buf.String()
	for _, want := range []string{`<table id="incidents">`, "inc_a", "dataset penalties", "p-op (acme)", "a column looks unmasked", "masking verified",
		`<table id="grant-ends">`} {
		if !strings.Contains(doc, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Contains(doc, "inc_g") || strings.Contains(doc, "inc_old") {
		t.Errorf("the report shows another organisation's or another year's incident")
	}
	all, err := Annual(ctx, db.SQL(), "", 2026, DefaultPriceList(), false)
	if err != nil || len(all.Incidents) != 2 {
		t.Fatalf("every organisation's incidents of 2026: got %+v, %v, want two", all.Incidents, err)
	}
}
