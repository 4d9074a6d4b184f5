package services

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/incidents"
	"github.com/enclave-dev/enclave/enclave/ingest"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/release"
	"github.com/enclave-dev/enclave/enclave/store"
)

// Services over a released export (issue 19 item 1): a bulk service hands
// its subscribers the signed bundle of the export and of the later
// releases of the same product; a query service answers one subject's row
// of a table the export released. The export passed the egress checks and
// the officers' review when it was released; the service passes a review
// of its own before it runs, and stops with the basis of the export's job
// (its dataset versions readable, its grants standing, no open incident).

// ExportBasis is what defining a service over an export needs: the
// export, the dataset versions its job read (each with its stored market
// class) and, for a query service, the table of the file it reads.
type ExportBasis struct {
	Export  *exports.Export
	Lineage []jobs.Lineage
	// Markets are the market classes of the lineage's versions.
	Markets []string
	Table   *Table
}

// DefineOnExport checks a new bulk or query service over a released export
// and fills what it derives. Only the export's organisation (an operator
// of it) creates one, for the export's scenario, while every grant the job
// read under stands; the service ends with the first of them. A query
// service names its key column and 1-32 returned columns of the table,
// which the table must have; a column marked as personal information and
// stored as it is is refused, as is a key under a lossy rule.
func DefineOnExport(ctx context.Context, q store.Querier, s *Service, b ExportBasis, by Creator, now time.Time) error {
	if err := CheckName(s.Name); err != nil {
		return err
	}
	e := b.Export
	switch s.Mode {
	case Bulk:
		if s.Key != "" || len(s.Match) > 0 || len(s.Columns) > 0 || s.File != "" {
			return fmt.Errorf("a bulk service hands out the whole bundle: it takes no --key, --match, --columns or --file: %w", errdefs.ErrInvalidArgument)
		}
	case Query:
		if err := s.checkQueryShape(); err != nil {
			return err
		}
	case Verify:
		return fmt.Errorf("a verify service runs over a dataset (--dataset), not an export: %w", errdefs.ErrInvalidArgument)
	default:
		return fmt.Errorf("service mode %q must be verify, query or bulk: %w", clip(s.Mode), errdefs.ErrInvalidArgument)
	}
	if err := s.checkTerms(); err != nil {
		return err
	}
	if !by.Operator || e.Org != by.Org {
		return fmt.Errorf("export %q is not of organisation %q: only its operators offer it as a service: %w", e.ID, by.Org, errdefs.ErrPermissionDenied)
	}
	if e.State != exports.Released {
		return fmt.Errorf("export %q is %s: only a released export is offered as a service: %w", e.ID, e.State, errdefs.ErrFailedPrecondition)
	}
	if s.Scenario != e.Scenario {
		return fmt.Errorf("export %q was released for another scenario: a service over it serves that scenario only: %w", e.ID, errdefs.ErrInvalidArgument)
	}
	if len(b.Lineage) == 0 {
		return fmt.Errorf("export %q: its job's lineage is unknown: %w", e.ID, errdefs.ErrFailedPrecondition)
	}
	if s.Mode == Query {
		if err := s.checkTable(b.Table); err != nil {
			return err
		}
	}
	gs := lineageGrants(b.Lineage)
	if err := grants.CheckStanding(ctx, q, by.Org, gs, now); err != nil {
		return err
	}
	for _, id := range gs {
		g, err := grants.GetGrant(ctx, q, id)
		if err != nil {
			return err
		}
		if s.Until == "" || g.Until < s.Until {
			s.Grant, s.Until = g.ID, g.Until
		}
	}
	s.Export = e.ID
	s.Dataset, s.Version, s.Level, s.Market = b.Lineage[0].Dataset, b.Lineage[0].Version, e.Level, "ordinary"
	for _, m := range b.Markets {
		if m == "authorized" || m == "withheld" {
			s.Market = "authorized"
		}
	}
	s.Org, s.CreatedBy, s.CreatedAt, s.State = by.Org, by.Person, now.UTC().Truncate(time.Second), Pending
	return nil
}

// checkTable checks a query service's key and columns against the table
// of its file.
func (s *Service) checkTable(t *Table) error {
	if t == nil {
		return fmt.Errorf("a query service over an export needs a table of it (--file): %w", errdefs.ErrInvalidArgument)
	}
	if s.Key == "" {
		return fmt.Errorf("a query service needs a key column (--key): %w", errdefs.ErrInvalidArgument)
	}
	col := func(name string) (TableColumn, error) {
		for _, c := range t.Columns {
			if c.Name == name {
				return c, nil
			}
		}
		return TableColumn{}, fmt.Errorf("file %q of the export has no column %q: %w", t.File, clip(name), errdefs.ErrInvalidArgument)
	}
	k, err := col(s.Key)
	if err != nil {
		return err
	}
	if k.Rule != "" && !OneToOne(k.Rule) {
		return fmt.Errorf("key column %q is stored under the lossy rule %s: a key must be kept or a keyed pseudonym: %w", k.Name, k.Rule, errdefs.ErrInvalidArgument)
	}
	seen := map[string]bool{s.Key: true}
	for _, name := range s.Columns {
		if seen[name] {
			return fmt.Errorf("column %q is named twice: %w", clip(name), errdefs.ErrInvalidArgument)
		}
		seen[name] = true
		c, err := col(name)
		if err != nil {
			return err
		}
		if c.PI != "" && !desensitized(c.Rule) {
			return fmt.Errorf("column %q holds personal information (%s) stored as it is: a query returns personal information only desensitized: %w",
				c.Name, c.PI, errdefs.ErrInvalidArgument)
		}
	}
	s.File = t.File
	return nil
}

func lineageGrants(lin []jobs.Lineage) []string {
	var gs []string
	for _, l := range lin {
		if l.Grant != "" && !slices.Contains(gs, l.Grant) {
			gs = append(gs, l.Grant)
		}
	}
	return gs
}

// exportStanding says whether the basis of export id stands now: every
// dataset version its job read readable, every grant it read under
// standing, no open incident on them, on the job or on the organisation.
func exportStanding(ctx context.Context, q store.Querier, cat *datasets.Catalog, s *Service, id string, now time.Time) error {
	e, err := exports.Get(ctx, q, id)
	if err != nil {
		return fmt.Errorf("service %q: %w", s.Name, err)
	}
	if e.State != exports.Released {
		return fmt.Errorf("service %q stopped: export %q is %s: %w", s.Name, e.ID, e.State, errdefs.ErrFailedPrecondition)
	}
	lin, err := jobs.JobLineage(ctx, q, e.Job)
	if err != nil {
		return err
	}
	if len(lin) == 0 {
		return fmt.Errorf("service %q stopped: the lineage of export %q is unknown: %w", s.Name, e.ID, errdefs.ErrFailedPrecondition)
	}
	var names []string
	for _, l := range lin {
		v, err := cat.Get(ctx, q, l.Dataset, l.Version)
		if err != nil {
			return fmt.Errorf("service %q stopped: dataset %q version %d: %w", s.Name, l.Dataset, l.Version, errdefs.ErrFailedPrecondition)
		}
		if err := v.Readable(); err != nil {
			return fmt.Errorf("service %q stopped: dataset %q version %d is %s: %w", s.Name, l.Dataset, l.Version, v.State, errdefs.ErrFailedPrecondition)
		}
		names = append(names, l.Dataset)
	}
	gs := lineageGrants(lin)
	if err := grants.CheckStanding(ctx, q, s.Org, gs, now); err != nil {
		return fmt.Errorf("service %q stopped: %w", s.Name, err)
	}
	if err := incidents.CheckClear(ctx, q, e.Job, s.Org, gs, names); err != nil {
		return fmt.Errorf("service %q stopped: %w", s.Name, err)
	}
	return nil
}

// Latest is the release a bulk service hands out now: the newest released
// export of the service's product (the organisation, purpose, scenario and
// file names of the service's export) at a level no higher than the one
// the service was reviewed at, whose basis stands.
func Latest(ctx context.Context, q store.Querier, cat *datasets.Catalog, s *Service, now time.Time) (*exports.Export, error) {
	first, err := exports.Get(ctx, q, s.Export)
	if err != nil {
		return nil, err
	}
	max, err := ingest.ParseLevel(s.Level)
	if err != nil {
		return nil, fmt.Errorf("service %q level: %w", s.Name, errdefs.ErrDataLoss)
	}
	es, err := exports.List(ctx, q, s.Org, true)
	if err != nil {
		return nil, err
	}
	best := first
	for _, e := range es { // newest request first: it wins a tie
		if e.Purpose != first.Purpose || e.Scenario != first.Scenario || !sameNames(e.Files, first.Files) {
			continue
		}
		if l, err := ingest.ParseLevel(e.Level); err != nil || l > max {
			continue
		}
		if best == first || releasedAt(e).After(releasedAt(best)) {
			best = e
		}
	}
	if err := exportStanding(ctx, q, cat, s, best.ID, now); err != nil {
		return nil, err
	}
	return best, nil
}

func releasedAt(e *exports.Export) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, e.ReleasedAt)
	return t
}

func sameNames(a, b []exports.File) bool {
	if len(a) != len(b) {
		return false
	}
	names := func(fs []exports.File) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Name)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(names(a), names(b))
}

// Table is a table of a release bundle: a CSV file with a header line or
// an Arrow IPC file. Arrow fields carry the enclave's marks (personal
// information type, rule); CSV columns carry none (the egress checks that
// released the file found no raw sensitive value in it).
type Table struct {
	File    string
	Columns []TableColumn
	Rows    [][]string
}

// TableColumn is one column of a Table and its marks.
type TableColumn struct {
	Name, PI, Rule string
}

// Limits on a table read for a query service.
const (
	MaxTableBytes = 256 << 20
	MaxTableRows  = 2_000_000
)

// ReadTable reads the file named file (every file when it is "" and the
// bundle holds one) of a release bundle as a table. The bundle must
// verify with pub first: a bundle that does not verify is never read.
func ReadTable(bundle io.ReadSeeker, pub []byte, file string) (*Table, error) {
	v, err := release.Verify(bundle, pub)
	if err != nil {
		return nil, err
	}
	if file == "" {
		if len(v.Files) != 1 {
			return nil, fmt.Errorf("the export released %d files: name the table (--file): %w", len(v.Files), errdefs.ErrInvalidArgument)
		}
		file = v.Files[0].Name
	}
	found := false
	for _, f := range v.Files {
		found = found || f.Name == file
	}
	if !found {
		return nil, fmt.Errorf("the export released no file %q: %w", clip(file), errdefs.ErrInvalidArgument)
	}
	if _, err := bundle.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	tr := tar.NewReader(bundle)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("the bundle holds no file %q: %w", clip(file), errdefs.ErrDataLoss)
		}
		if err != nil {
			return nil, fmt.Errorf("bundle: not a readable tar archive: %w", errdefs.ErrDataLoss)
		}
		if hdr.Name != release.FilesDir+file {
			continue
		}
		if hdr.Size > MaxTableBytes {
			return nil, fmt.Errorf("file %q is larger than %d bytes: %w", clip(file), MaxTableBytes, errdefs.ErrInvalidArgument)
		}
		data, err := io.ReadAll(io.LimitReader(tr, MaxTableBytes+1))
		if err != nil {
			return nil, fmt.Errorf("bundle: file %q unreadable: %w", clip(file), errdefs.ErrDataLoss)
		}
		t, err := ParseTable(file, data)
		if err != nil {
			return nil, err
		}
		return t, nil
	}
}

// ParseTable reads data, the content of a released file named name, as a
// table: Arrow IPC file format when it starts with Arrow's magic, CSV with
// a header line when the name ends in .csv. Anything else is refused.
// Errors name the file and the line or batch, never a value.
func ParseTable(name string, data []byte) (*Table, error) {
	switch {
	case bytes.HasPrefix(data, []byte("ARROW1")):
		return parseArrow(name, data)
	case strings.EqualFold(path.Ext(name), ".csv"):
		return parseCSV(name, data)
	}
	return nil, fmt.Errorf("file %q is neither an Arrow IPC file nor a .csv file: a query service reads a table: %w", clip(name), errdefs.ErrInvalidArgument)
}

func parseCSV(name string, data []byte) (*Table, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = false
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("file %q: no CSV header line: %w", clip(name), errdefs.ErrInvalidArgument)
	}
	t := &Table{File: name}
	seen := map[string]bool{}
	for _, h := range head {
		if h == "" || seen[h] {
			return nil, fmt.Errorf("file %q: its header has an empty or repeated column name: %w", clip(name), errdefs.ErrInvalidArgument)
		}
		seen[h] = true
		t.Columns = append(t.Columns, TableColumn{Name: h})
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			return nil, fmt.Errorf("file %q line %d: not CSV with %d fields: %w", clip(name), line, len(head), errdefs.ErrInvalidArgument)
		}
		if len(t.Rows) >= MaxTableRows {
			return nil, fmt.Errorf("file %q has more than %d rows: %w", clip(name), MaxTableRows, errdefs.ErrInvalidArgument)
		}
		t.Rows = append(t.Rows, rec)
	}
}

func parseArrow(name string, data []byte) (t *Table, err error) {
	defer func() {
		if p := recover(); p != nil { // a reader that panics on a malformed file fails closed
			t, err = nil, fmt.Errorf("file %q: not a readable Arrow IPC file: %w", clip(name), errdefs.ErrInvalidArgument)
		}
	}()
	rd, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(memory.NewGoAllocator()))
	if err != nil {
		return nil, fmt.Errorf("file %q: not a readable Arrow IPC file: %w", clip(name), errdefs.ErrInvalidArgument)
	}
	defer rd.Close()
	t = &Table{File: name}
	seen := map[string]bool{}
	for _, f := range rd.Schema().Fields() {
		if f.Name == "" || seen[f.Name] {
			return nil, fmt.Errorf("file %q: an empty or repeated field name: %w", clip(name), errdefs.ErrInvalidArgument)
		}
		seen[f.Name] = true
		c := TableColumn{Name: f.Name}
		if i := f.Metadata.FindKey(ingest.MarkPI); i >= 0 {
			c.PI = f.Metadata.Values()[i]
		}
		if i := f.Metadata.FindKey(ingest.MarkRule); i >= 0 {
			c.Rule = f.Metadata.Values()[i]
		}
		t.Columns = append(t.Columns, c)
	}
	for i := 0; i < rd.NumRecords(); i++ {
		rec, err := rd.RecordBatch(i)
		if err != nil {
			return nil, fmt.Errorf("file %q batch %d: unreadable: %w", clip(name), i, errdefs.ErrInvalidArgument)
		}
		for row := 0; row < int(rec.NumRows()); row++ {
			if len(t.Rows) >= MaxTableRows {
				return nil, fmt.Errorf("file %q has more than %d rows: %w", clip(name), MaxTableRows, errdefs.ErrInvalidArgument)
			}
			vals := make([]string, len(t.Columns))
			for j := range t.Columns {
				vals[j], _ = fingerprint.CellString(rec.Column(j), row)
			}
			t.Rows = append(t.Rows, vals)
		}
	}
	return t, nil
}

// index builds a query service's rows per keyed hash of the key from its
// table.
func (r *Runtime) indexTable(s *Service, t *Table) (map[string][]string, map[string]string, map[string][][]string, error) {
	pos := map[string]int{}
	rules := map[string]string{}
	for i, c := range t.Columns {
		pos[c.Name] = i
		rules[c.Name] = c.Rule
	}
	ki, ok := pos[s.Key]
	if !ok {
		return nil, nil, nil, fmt.Errorf("file %q of export %q has no column %q: %w", s.File, s.Export, s.Key, errdefs.ErrFailedPrecondition)
	}
	if rules[s.Key] == "" {
		rules[s.Key] = string(ingest.RuleKeep)
	}
	var idx []int
	for _, c := range s.Columns {
		i, ok := pos[c]
		if !ok {
			return nil, nil, nil, fmt.Errorf("file %q of export %q has no column %q: %w", s.File, s.Export, c, errdefs.ErrFailedPrecondition)
		}
		idx = append(idx, i)
	}
	out, rows := map[string][]string{}, map[string][][]string{}
	for _, row := range t.Rows {
		if row[ki] == "" {
			continue
		}
		kh := r.keyed(row[ki])
		vals := make([]string, len(idx))
		for j, i := range idx {
			vals[j] = row[i]
		}
		if len(rows[kh]) < MaxRowsPerSubject {
			rows[kh] = append(rows[kh], vals)
		}
		out[kh] = nil
	}
	return out, rules, rows, nil
}

// buildExport reads the table of a query service over an export from its
// bundle (verified first); a bulk service keeps no index.
func (r *Runtime) buildExport(ctx context.Context, s *Service) (map[string][]string, map[string]string, map[string][][]string, error) {
	if s.Mode != Query {
		return map[string][]string{}, map[string]string{}, nil, nil
	}
	if r.Bundles == nil {
		return nil, nil, nil, fmt.Errorf("service %q: this daemon keeps no release bundles: %w", s.Name, errdefs.ErrFailedPrecondition)
	}
	f, err := r.Bundles(ctx, s.Export)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	pub, err := r.Keyring.PublicKey(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	t, err := ReadTable(f, pub, s.File)
	if err != nil {
		return nil, nil, nil, err
	}
	return r.indexTable(s, t)
}

// Bulk answers a call of an admitted bulk service: the export whose
// bundle is sent (the newest release of the product whose basis stands).
// The download is counted in the meter as an answered call.
func (r *Runtime) Bulk(ctx context.Context, c Caller, s *Service) (*exports.Export, error) {
	if s.Mode != Bulk {
		return nil, fmt.Errorf("service %q is a %s service: %w", s.Name, s.Mode, errdefs.ErrInvalidArgument)
	}
	e, err := Latest(ctx, r.DB.SQL(), r.Catalog, s, r.now())
	if err != nil {
		return nil, err
	}
	r.count(c, s.Name, true)
	return e, nil
}
