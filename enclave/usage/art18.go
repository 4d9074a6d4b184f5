package usage

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// Art18 holds the figures 001 art. 18 asks of the annual operation report
// beyond the usage ledger (issue 20 item 5): product development and
// storage, security management, market operations and objections. A nil
// figure means the register it comes from does not exist in this
// enclave (no services, no objection register yet).
type Art18 struct {
	// Product development and storage.
	DatasetsHeld     int64  `json:"datasets_held"`      // dataset names with a version alive at the year's end
	VersionsAdded    int64  `json:"versions_added"`     // dataset versions imported in the year
	ReleasesReleased int64  `json:"releases"`           // release bundles that left in the year
	Services         *int64 `json:"services,omitempty"` // interface services created by the year's end
	// Security management.
	Reviews       int64 `json:"reviews"`        // officers' export reviews in the year
	Overrides     int64 `json:"overrides"`      // reviews that overrode a failed check with a justification
	Incidents     int64 `json:"incidents"`      // incidents reported in the year
	ExportsDenied int64 `json:"exports_denied"` // exports rejected in the year
	// CallsRefused counts service calls refused in the year (nil: no services).
	CallsRefused *int64 `json:"calls_refused,omitempty"`
	// Destructions counts destruction records of the year, enclave-wide.
	Destructions int64 `json:"destructions"`
	// Market operations (nil: no services).
	Consumers *int64 `json:"consumers,omitempty"` // organisations that called a service in the year
	Calls     *int64 `json:"calls,omitempty"`     // service calls in the year
	// PublicCalls are those of Calls made under subscriptions the
	// authority approved for public-interest use (charged at the
	// public-interest call price).
	PublicCalls *int64 `json:"public_calls,omitempty"`
	// Objections filed in the year about the organisation's datasets or by
	// it, those of them answered, and those open past their due time at
	// the report's time or the year's end, whichever comes first (nil: no
	// objection register).
	Objections         *int64 `json:"objections,omitempty"`
	ObjectionsAnswered *int64 `json:"objections_answered,omitempty"`
	ObjectionsOverdue  *int64 `json:"objections_overdue,omitempty"`
}

// reportNow is the time the report is computed at (a variable for tests).
var reportNow = time.Now

// hasTable reports whether the database holds table name.
func hasTable(ctx context.Context, db Querier, name string) (bool, error) {
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n); err != nil {
		return false, fmt.Errorf("look for table %s: %w", name, err)
	}
	return n > 0, nil
}

func count(ctx context.Context, db Querier, what, q string, args ...any) (int64, error) {
	var n int64
	if err := db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", what, err)
	}
	return n, nil
}

// annualArt18 gathers the art. 18 figures of org ("" = all) for the year
// starting at from. Any error fails the report.
func annualArt18(ctx context.Context, db Querier, org string, from time.Time, incidents int64) (Art18, error) {
	until := from.AddDate(1, 0, 0)
	f, u := storetime.Format(from), storetime.Format(until)
	a := Art18{Incidents: incidents}
	var err error
	type figure struct {
		dst       *int64
		what, sql string
		args      []any
	}
	figs := []figure{
		{&a.DatasetsHeld, "datasets", `SELECT COUNT(DISTINCT name) FROM dataset_versions WHERE created_at < ? AND (destroyed_at = '' OR destroyed_at >= ?) AND (? = '' OR org = ?)`, []any{u, u, org, org}},
		{&a.VersionsAdded, "dataset versions", `SELECT COUNT(*) FROM dataset_versions WHERE created_at >= ? AND created_at < ? AND (? = '' OR org = ?)`, []any{f, u, org, org}},
		{&a.ReleasesReleased, "releases", `SELECT COUNT(*) FROM exports WHERE state = 'released' AND COALESCE(NULLIF(released_at, ''), created_at) >= ? AND COALESCE(NULLIF(released_at, ''), created_at) < ? AND (? = '' OR org = ?)`, []any{f, u, org, org}},
		{&a.Reviews, "reviews", `SELECT COUNT(*) FROM export_reviews r JOIN exports e ON e.id = r.export WHERE r.decided_at >= ? AND r.decided_at < ? AND (? = '' OR e.org = ?)`, []any{f, u, org, org}},
		{&a.Overrides, "overrides", `SELECT COUNT(*) FROM export_reviews r JOIN exports e ON e.id = r.export WHERE r.justification != '' AND r.decided_at >= ? AND r.decided_at < ? AND (? = '' OR e.org = ?)`, []any{f, u, org, org}},
		{&a.ExportsDenied, "denied exports", `SELECT COUNT(*) FROM exports WHERE state = 'rejected' AND created_at >= ? AND created_at < ? AND (? = '' OR org = ?)`, []any{f, u, org, org}},
		{&a.Destructions, "destructions", `SELECT COUNT(*) FROM destructions WHERE at >= ? AND at < ?`, []any{f, u}},
	}
	for _, fg := range figs {
		if *fg.dst, err = count(ctx, db, fg.what, fg.sql, fg.args...); err != nil {
			return a, err
		}
	}
	ok, err := hasTable(ctx, db, "services")
	if err != nil {
		return a, err
	}
	if ok {
		var services, refused, consumers, calls, public int64
		day0, day1 := from.Format("2006-01-02"), until.Format("2006-01-02")
		for _, fg := range []figure{
			{&services, "services", `SELECT COUNT(*) FROM services WHERE created_at < ? AND (? = '' OR org = ?)`, []any{u, org, org}},
			{&refused, "refused calls", `SELECT COALESCE(SUM(m.refused), 0) FROM service_meter m JOIN services s ON s.name = m.service WHERE m.day >= ? AND m.day < ? AND (? = '' OR s.org = ?)`, []any{day0, day1, org, org}},
			{&consumers, "consumers", `SELECT COUNT(DISTINCT m.org) FROM service_meter m JOIN services s ON s.name = m.service WHERE m.calls > 0 AND m.day >= ? AND m.day < ? AND (? = '' OR s.org = ?)`, []any{day0, day1, org, org}},
			{&calls, "calls", `SELECT COALESCE(SUM(m.calls), 0) FROM service_meter m JOIN services s ON s.name = m.service WHERE m.day >= ? AND m.day < ? AND (? = '' OR s.org = ?)`, []any{day0, day1, org, org}},
			{&public, "public-interest calls", `SELECT COALESCE(SUM(m.calls), 0) FROM service_meter m JOIN services s ON s.name = m.service
				JOIN subscriptions sub ON sub.id = m.subscription AND sub.public_interest AND sub.state = 'approved'
				WHERE m.day >= ? AND m.day < ? AND (? = '' OR s.org = ?)`, []any{day0, day1, org, org}},
		} {
			if *fg.dst, err = count(ctx, db, fg.what, fg.sql, fg.args...); err != nil {
				return a, err
			}
		}
		a.Services, a.CallsRefused, a.Consumers, a.Calls, a.PublicCalls = &services, &refused, &consumers, &calls, &public
	}
	if ok, err = hasTable(ctx, db, "objections"); err != nil {
		return a, err
	} else if ok {
		at := reportNow().UTC()
		if at.After(until) {
			at = until
		}
		var filed, answered, overdue int64
		for _, fg := range []figure{
			{&filed, "objections", `SELECT COUNT(*) FROM objections WHERE filed_at >= ? AND filed_at < ? AND (? = '' OR org = ? OR filer_org = ?)`, []any{f, u, org, org, org}},
			{&answered, "answered objections", `SELECT COUNT(*) FROM objections WHERE state = 'answered' AND filed_at >= ? AND filed_at < ? AND (? = '' OR org = ? OR filer_org = ?)`, []any{f, u, org, org, org}},
			{&overdue, "overdue objections", `SELECT COUNT(*) FROM objections WHERE state = 'open' AND due_at <= ? AND filed_at >= ? AND filed_at < ? AND (? = '' OR org = ? OR filer_org = ?)`, []any{storetime.Format(at), f, u, org, org, org}},
		} {
			if *fg.dst, err = count(ctx, db, fg.what, fg.sql, fg.args...); err != nil {
				return a, err
			}
		}
		a.Objections, a.ObjectionsAnswered, a.ObjectionsOverdue = &filed, &answered, &overdue
	}
	return a, nil
}

// Figure is one labelled figure of a section of the report.
type Figure struct{ Label, Value string }

// Section is one section of the report as 001 art. 18 lists them.
type Section struct {
	Title   string
	Figures []Figure
	// Note stands for the figures when there are none.
	Note string
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func opt(v *int64) string {
	if v == nil {
		return "none recorded"
	}
	return itoa(*v)
}

// Sections are the art. 18 sections with their figures, the one source
// of the figures for both the HTML and the PDF document.
func (r *AnnualReport) Sections() []Section {
	a := r.Art18
	storage := []Figure{{"Datasets held", itoa(a.DatasetsHeld)}, {"Dataset versions added", itoa(a.VersionsAdded)}, {"Releases", itoa(a.ReleasesReleased)}}
	if a.Services != nil {
		storage = append(storage, Figure{"Services", itoa(*a.Services)})
	}
	security := []Figure{{"Reviews", itoa(a.Reviews)}, {"Overrides", itoa(a.Overrides)}, {"Incidents", itoa(a.Incidents)},
		{"Exports denied", itoa(a.ExportsDenied)}}
	if a.CallsRefused != nil {
		security = append(security, Figure{"Service calls refused", itoa(*a.CallsRefused)})
	}
	security = append(security, Figure{"Destructions (enclave-wide)", itoa(a.Destructions)})
	market := []Figure{{"Consumers", opt0(a.Consumers)}, {"Calls", opt0(a.Calls)},
		{"Charges (" + r.Currency + ")", strconv.FormatFloat(r.Total.Charge.Total, 'f', 2, 64)}}
	// Prices by purpose (001 art. 23): which class applied, to how many
	// jobs, on which approved applications.
	for _, class := range Classes {
		cu := ClassUse{Class: class}
		for _, c := range r.Total.Classes {
			if c.Class == class {
				cu = c
			}
		}
		market = append(market, Figure{"Jobs at " + class + " prices", itoa(cu.Jobs)},
			Figure{"Charges, " + class + " use (" + r.Currency + ")", strconv.FormatFloat(cu.Charge.Total, 'f', 2, 64)})
		if class == PublicInterest {
			ids := "none"
			for i, b := range cu.Applications {
				if i == 0 {
					ids = b.Application
				} else {
					ids += ", " + b.Application
				}
			}
			market = append(market, Figure{"Approved public-interest applications", ids})
		}
	}
	market = append(market, Figure{"Service calls at public-interest prices", opt0(a.PublicCalls)},
		Figure{"Service call charges (" + r.Currency + ")", strconv.FormatFloat(r.CallCharge, 'f', 2, 64)})
	resources := []Figure{{"Jobs", itoa(r.Total.Jobs)}, {"CPU-hours", strconv.FormatFloat(r.Total.CPUHours, 'f', 2, 64)},
		{"Data read (GB)", strconv.FormatFloat(float64(r.Total.InputBytes)/1e9, 'f', 3, 64)},
		{"Outputs (GB)", strconv.FormatFloat(float64(r.Total.OutputBytes)/1e9, 'f', 3, 64)}}
	obj := Section{Title: "Objections"}
	if a.Objections == nil {
		obj.Note = "none recorded (no objection register yet)"
	} else {
		obj.Figures = []Figure{{"Objections filed", itoa(*a.Objections)}, {"Objections answered", opt(a.ObjectionsAnswered)},
			{"Objections overdue", opt(a.ObjectionsOverdue)}}
		if *a.Objections == 0 {
			obj.Note = "none recorded"
		}
	}
	return []Section{
		{Title: "Product development and storage", Figures: storage},
		{Title: "Security management", Figures: security},
		{Title: "Market operations", Figures: market},
		{Title: "Resource use", Figures: resources},
		obj,
	}
}

// opt0 is a market figure: zero when the enclave has no services.
func opt0(v *int64) string {
	if v == nil {
		return "0"
	}
	return itoa(*v)
}
