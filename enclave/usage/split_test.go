package usage

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/jobs"
)

// splitGrant is a grant of the split fixture: its application and whether
// it was approved as public-interest; a grant without an application does
// not exist.
type splitGrant struct{ app, purpose string }

var splitGrants = map[string]splitGrant{"g_pub": {"a_pub", "flood relief planning"}, "g_pub2": {"a_pub2", "school places forecast"},
	"g_ind": {"a_ind", "credit scoring product"}, "g_gone": {}}

var splitPublic = map[string]bool{"g_pub": true, "g_pub2": true}

// splitJobGrants are the grants each job reads under, by job number mod 6.
var splitJobGrants = []map[string]string{{}, {"census": "g_pub"}, {"census": "g_pub", "trade": "g_ind"}, {"census": "g_gone"},
	{"trade": "g_pub2"}, {"census": "g_pub", "trade": "g_pub2"}}

// TestClassSplitMatchesIndependentSum: under every key, each row's split
// by price class (jobs, exports, charge, applications) is what a plain Go
// roll-up of the seeded jobs finds, classing each job from its grants by
// the rule of 001 art. 23 (public-interest only when every grant it read
// under comes from a public-interest application), and so is the total.
// The jobs mix the classes within keys, some keys have only
// public-interest jobs and one only exports.
func TestClassSplitMatchesIndependentSum(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO applications(id, org, applicant, datasets, purpose, scenario, data_flow, public_interest, period_from, period_until,
			approvals_needed, status, created_at) VALUES
			('a_pub', 'acme', 'p-1', '[]', 'flood relief planning', 's', '', 1, '2026-01-01', '2026-12-31', 1, 'approved', '2026-01-01T00:00:00.000000000Z'),
			('a_pub2', 'globex', 'p-2', '[]', 'school places forecast', 's', '', 1, '2026-01-01', '2026-12-31', 1, 'approved', '2026-01-01T00:00:00.000000000Z'),
			('a_ind', 'acme', 'p-1', '[]', 'credit scoring product', 's', '', 0, '2026-01-01', '2026-12-31', 1, 'approved', '2026-01-01T00:00:00.000000000Z')`,
		`INSERT INTO grants(id, application, org, datasets, purpose, scenario, public_interest, period_from, period_until, approvers, status, created_at) VALUES
			('g_pub', 'a_pub', 'acme', '[]', 'flood relief planning', 's', 1, '2026-01-01', '2026-12-31', '[]', 'approved', '2026-01-01T00:00:00.000000000Z'),
			('g_pub2', 'a_pub2', 'globex', '[]', 'school places forecast', 's', 1, '2026-01-01', '2026-12-31', '[]', 'approved', '2026-01-01T00:00:00.000000000Z'),
			('g_ind', 'a_ind', 'acme', '[]', 'credit scoring product', 's', 0, '2026-01-01', '2026-12-31', '[]', 'approved', '2026-01-01T00:00:00.000000000Z')`,
	} {
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Figures whose sums are exact in floating point (quarters of a
	// second, whole GB and hours), so that the charges compare exactly.
	var js []testJob
	var es []testExport
	datasets := [][]string{{"census"}, {"census", "trade"}, {"trade"}, {"own"}}
	for i := range 48 {
		org := []string{"acme", "globex", "initech"}[i%3]
		js = append(js, testJob{id: fmt.Sprintf("j%02d", len(js)), org: org, owner: fmt.Sprintf("p-%d", i%4),
			created: day(time.Month(1+len(js)%3), 1+i%5), datasets: datasets[i%4],
			use: jobs.Usage{CPUSeconds: float64(i*37%1000) + 0.25*float64(i%4), PeakMemoryBytes: uint64(1+i%3) * 1e9,
				InputBytes: int64(i%7) << 20, OutputBytes: uint64(i%5) * 4096, WallSeconds: float64(3600 * (1 + i%2))}})
	}
	for n, j := range js {
		if n%4 == 0 || n%7 == 1 {
			es = append(es, testExport{id: fmt.Sprintf("x%02d", n), job: j.id, org: j.org, requester: j.owner,
				state: []string{"released", "rejected", "pending-review"}[n%3], created: j.created.Add(time.Hour)})
		}
	}
	jobGrants := map[string]map[string]string{}
	for n, j := range js {
		g := splitJobGrants[n/3%6]
		if j.org == "initech" && j.created.Month() == 3 {
			g = map[string]string{"census": "g_pub"} // days with public-interest jobs only
		}
		jobGrants[j.id] = g
	}
	// Exports requested in April, a month without jobs: of a
	// public-interest job and of an industry job read under grants.
	es = append(es, testExport{id: "x_april1", job: "j02", org: js[2].org, requester: js[2].owner, state: "released", created: day(4, 2)},
		testExport{id: "x_april2", job: "j06", org: js[6].org, requester: js[6].owner, state: "rejected", created: day(4, 3)})
	seed(t, db, js, es)
	for _, j := range js {
		g := jobGrants[j.id]
		if _, err := db.SQL().Exec(`UPDATE jobs SET grants = ? WHERE id = ?`, jsonOf(t, g), j.id); err != nil {
			t.Fatal(err)
		}
	}

	// The independent roll-up: each job's class from its grants.
	classOf := func(id string) (string, []string) {
		g := jobGrants[id]
		public := len(g) > 0
		var apps []string
		for _, gid := range g {
			public = public && splitPublic[gid]
			if a := splitGrants[gid].app; a != "" && !slices.Contains(apps, a) {
				apps = append(apps, a)
			}
		}
		if public {
			return PublicInterest, apps
		}
		return Industry, apps
	}
	if c, _ := classOf("j02"); c != PublicInterest {
		t.Fatalf("fixture: j02 is of class %s, want public-interest", c)
	}
	if c, apps := classOf("j06"); c != Industry || len(apps) == 0 {
		t.Fatalf("fixture: j06 is of class %s under %v, want industry under applications", c, apps)
	}
	type part struct {
		row  Row
		apps map[string]bool
	}
	prices := DefaultPriceList()
	prices.PublicInterest = Prices{CPUHour: 0.10, Job: 0.05, Export: 1.00, OutputGB: 0.5}
	jobByID := map[string]testJob{}
	for _, j := range js {
		jobByID[j.id] = j
	}
	keysOf := func(by By, j testJob, person string, at time.Time) []string {
		switch by {
		case ByPerson:
			return []string{person}
		case ByDataset:
			return j.datasets
		case ByDay:
			return []string{at.Format("2006-01-02")}
		case ByMonth:
			return []string{at.Format("2006-01")}
		case "total":
			return []string{"total"}
		}
		return []string{j.org}
	}
	want := func(by By) map[string]map[string]*part {
		out := map[string]map[string]*part{}
		get := func(key, class string) *part {
			if out[key] == nil {
				out[key] = map[string]*part{}
			}
			if out[key][class] == nil {
				out[key][class] = &part{apps: map[string]bool{}}
			}
			return out[key][class]
		}
		for _, j := range js {
			class, apps := classOf(j.id)
			for _, k := range keysOf(by, j, j.owner, j.created) {
				p := get(k, class)
				p.row.Jobs++
				p.row.CPUSeconds += j.use.CPUSeconds
				p.row.MemoryGBHours += float64(j.use.PeakMemoryBytes) / 1e9 * j.use.WallSeconds / 3600
				p.row.InputBytes += j.use.InputBytes
				p.row.OutputBytes += int64(j.use.OutputBytes)
				p.row.WallSeconds += j.use.WallSeconds
				for _, a := range apps {
					p.apps[a] = true
				}
			}
		}
		for _, e := range es {
			j := jobByID[e.job]
			class, apps := classOf(j.id)
			for _, k := range keysOf(by, j, e.requester, e.created) {
				p := get(k, class)
				p.row.ExportsRequested++
				for _, a := range apps {
					p.apps[a] = true
				}
			}
		}
		return out
	}
	check := func(t *testing.T, r Row, wantClasses map[string]*part) {
		t.Helper()
		var gotClasses []string
		var jobs int64
		var charge Charge
		for _, c := range r.Classes {
			gotClasses = append(gotClasses, c.Class)
			w := wantClasses[c.Class]
			if w == nil {
				t.Errorf("%s: got class %s, want none", r.Key, c.Class)
				continue
			}
			w.row.CPUHours = w.row.CPUSeconds / 3600
			if c.Jobs != w.row.Jobs || c.ExportsRequested != w.row.ExportsRequested {
				t.Errorf("%s %s: got %d jobs %d exports, want %d, %d", r.Key, c.Class, c.Jobs, c.ExportsRequested, w.row.Jobs, w.row.ExportsRequested)
			}
			if wc := prices.Of(c.Class).Charge(w.row); c.Charge != wc {
				t.Errorf("%s %s: got charge %+v, want %+v", r.Key, c.Class, c.Charge, wc)
			}
			var apps []string
			for _, b := range c.Applications {
				apps = append(apps, b.Application)
				if b.Purpose != splitPurpose(b.Application) {
					t.Errorf("%s %s: application %s purpose %q, want %q", r.Key, c.Class, b.Application, b.Purpose, splitPurpose(b.Application))
				}
			}
			if wa := slices.Sorted(maps.Keys(w.apps)); !slices.Equal(apps, wa) {
				t.Errorf("%s %s: got applications %v, want %v", r.Key, c.Class, apps, wa)
			}
			jobs += c.Jobs
			charge = charge.add(c.Charge)
		}
		var wantNames []string
		for _, c := range Classes {
			if wantClasses[c] != nil {
				wantNames = append(wantNames, c)
			}
		}
		if !slices.Equal(gotClasses, wantNames) {
			t.Errorf("%s: got classes %v, want %v", r.Key, gotClasses, wantNames)
		}
		if r.Jobs != jobs || r.Charge != charge {
			t.Errorf("%s: row %d jobs charge %+v, want the sum of its classes: %d, %+v", r.Key, r.Jobs, r.Charge, jobs, charge)
		}
	}

	mixed := 0
	for _, by := range Bys {
		t.Run(string(by), func(t *testing.T) {
			rep, err := Compute(ctx, db.SQL(), Query{By: by}, prices)
			if err != nil {
				t.Fatal(err)
			}
			w := want(by)
			var keys []string
			for _, r := range rep.Rows {
				keys = append(keys, r.Key)
				check(t, r, w[r.Key])
				if len(r.Classes) == 2 {
					mixed++
				}
			}
			if wk := slices.Sorted(maps.Keys(w)); !slices.Equal(keys, wk) {
				t.Errorf("got keys %v, want %v", keys, wk)
			}
			check(t, rep.Total, want("total")["total"])
		})
	}
	if mixed == 0 {
		t.Error("no row mixes the classes: the fixture does not test the split")
	}
}

func splitPurpose(app string) string {
	for _, g := range splitGrants {
		if g.app == app {
			return g.purpose
		}
	}
	return ""
}

func jsonOf(t *testing.T, v map[string]string) string {
	t.Helper()
	s := "{"
	for _, k := range slices.Sorted(maps.Keys(v)) {
		if len(s) > 1 {
			s += ","
		}
		s += fmt.Sprintf("%q:%q", k, v[k])
	}
	return s + "}"
}
