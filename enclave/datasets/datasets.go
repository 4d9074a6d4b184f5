// Package datasets is the catalogue's state: every dataset version that an
// import published, with its schema, marks, row count, wrapped data key and
// state (active, sealed, destroyed), and the files of each version under
// the data directory. The import itself (desensitize, mark, encrypt,
// fingerprint) is enclave/ingest; this package records and serves what it
// made, and seals and destroys it.
package datasets

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/enclave/ingest"
	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// States of a dataset version.
const (
	Active    = "active"
	Sealed    = "sealed"
	Destroyed = "destroyed"
	// PendingReview is an operator's upload (issue 20) that waits for an
	// officer of another organisation; Rejected is one the officer
	// refused. Neither is readable by any job.
	PendingReview = "pending-review"
	Rejected      = "rejected"
)

func init() {
	store.Register(store.Schema{Part: "datasets", Migrations: []store.Migration{
		{Version: 1, Name: "dataset versions", SQL: `
CREATE TABLE dataset_versions (
	name          TEXT NOT NULL,
	version       INTEGER NOT NULL,
	category      TEXT NOT NULL,
	level         TEXT NOT NULL,
	market        TEXT NOT NULL,
	state         TEXT NOT NULL,
	state_reason  TEXT NOT NULL DEFAULT '',
	rows          INTEGER NOT NULL,
	bytes         INTEGER NOT NULL,
	columns       TEXT NOT NULL,
	marks         TEXT NOT NULL,
	spec_sha256   TEXT NOT NULL,
	data_sha256   TEXT NOT NULL,
	key_object    TEXT NOT NULL,
	wrapped_key   BLOB NOT NULL,
	fp_values     INTEGER NOT NULL,
	fp_rows       INTEGER NOT NULL,
	created_at    TEXT NOT NULL,
	created_by    TEXT NOT NULL,
	org           TEXT NOT NULL,
	destroyed_at  TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (name, version)
);`},
		// Issue 15: a dataset name belongs to the organisation that first
		// imported it; existing names go to their first version's importer.
		{Version: 2, Name: "dataset owners", SQL: `
CREATE TABLE dataset_owners (
	name  TEXT PRIMARY KEY,
	org   TEXT NOT NULL,
	since TEXT NOT NULL
);
INSERT INTO dataset_owners(name, org, since)
	SELECT d.name, d.org, d.created_at FROM dataset_versions d
	WHERE d.version = (SELECT MIN(version) FROM dataset_versions WHERE name = d.name);`},
		// Issue 17 item 4: every stored time in the fixed-width codec.
		{Version: 3, Name: "stored times in the fixed-width codec", Func: store.RewriteTimesOf(map[string][]string{
			"dataset_versions": {"created_at", "destroyed_at"},
			"dataset_owners":   {"since"},
		})},
		// Issue 20: operators' own data. A version is an upload when an
		// operator brought it in; its review is who decided and why.
		{Version: 4, Name: "operator uploads and their review", SQL: `
ALTER TABLE dataset_versions ADD COLUMN upload INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dataset_versions ADD COLUMN reviewed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE dataset_versions ADD COLUMN reviewed_at TEXT NOT NULL DEFAULT '';`},
		// Issue 20 item 2: a version imported before sharing classes has
		// none; it is taken restrictively, as conditional (its grants then
		// need conditions named in the application), never as
		// unconditional.
		{Version: 5, Name: "legacy versions without a sharing class are conditional", SQL: `
UPDATE dataset_versions SET marks = json_set(marks, '$."enclave.sharing"', 'conditional')
	WHERE json_valid(marks) AND COALESCE(json_extract(marks, '$."enclave.sharing"'), '') = '';`},
	}})
}

// Version is one published dataset version, as the catalogue shows it:
// schema and marks, never rows.
type Version struct {
	Name        string              `json:"name"`
	Version     int                 `json:"version"`
	Category    string              `json:"category"`
	Level       string              `json:"level"`
	Market      string              `json:"market"`
	State       string              `json:"state"`
	StateReason string              `json:"state_reason,omitempty"`
	Rows        int64               `json:"rows"`
	Bytes       int64               `json:"bytes"`
	Columns     []ingest.ColumnInfo `json:"columns"`
	Marks       map[string]string   `json:"marks"`
	SpecSHA256  string              `json:"spec_sha256"`
	DataSHA256  string              `json:"data_sha256"`
	// Fingerprints counts the keyed hashes in the version's fingerprint
	// index (values and whole rows).
	FingerprintValues int       `json:"fingerprint_values"`
	FingerprintRows   int       `json:"fingerprint_rows"`
	CreatedAt         time.Time `json:"created_at"`
	CreatedBy         string    `json:"created_by"`
	// Org is the organisation that imported this version; Owner is the
	// one that owns the name (the first to import it). They differ only
	// for versions imported before names had owners.
	Org   string `json:"org"`
	Owner string `json:"owner"`
	// DestroyedAt is when the version was destroyed, RFC 3339 to the
	// second ("" while it is not).
	DestroyedAt string `json:"destroyed_at,omitempty"`
	// Upload is true for an operator's own data (issue 20): private to
	// its organisation, usable only once an officer of another
	// organisation approved it (ReviewedBy, ReviewedAt).
	Upload     bool   `json:"upload,omitempty"`
	ReviewedBy string `json:"reviewed_by,omitempty"`
	ReviewedAt string `json:"reviewed_at,omitempty"`

	keyObject  string
	wrappedKey []byte
}

// ID names the version: "NAME@V".
func (v *Version) ID() string { return fmt.Sprintf("%s@%d", v.Name, v.Version) }

// HasPI reports whether any column carries a personal-information type.
func (v *Version) HasPI() bool {
	for _, c := range v.Columns {
		if c.PI != "" {
			return true
		}
	}
	return false
}

// Catalog is the catalogue over the state database and the files under
// its directory. It is safe for concurrent use.
type Catalog struct {
	db      *store.DB
	dir     string
	keyring keys.Keyring
	now     func() time.Time
}

// New returns the catalogue keeping its files under dir.
func New(db *store.DB, dir string, kr keys.Keyring, now func() time.Time) (*Catalog, error) {
	if err := os.MkdirAll(filepath.Join(dir, ".staging"), 0o700); err != nil {
		return nil, fmt.Errorf("create dataset directory: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Catalog{db: db, dir: dir, keyring: kr, now: now}, nil
}

// ParseRef splits "NAME" or "NAME@V"; version 0 means the newest.
func ParseRef(ref string) (string, int, error) {
	name, v, found := strings.Cut(ref, "@")
	if err := ingest.ValidName(name); err != nil {
		return "", 0, err
	}
	if !found {
		return name, 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return "", 0, fmt.Errorf("dataset reference %q: the version after @ must be a positive number: %w", ref, errdefs.ErrInvalidArgument)
	}
	return name, n, nil
}

// Staged is an import that succeeded into a staging directory and waits
// to be published.
type Staged struct {
	Version *Version
	dir     string
}

// Stage imports src under spec as the next version of name into a staging
// directory. Nothing is visible until Publish.
func (c *Catalog) Stage(ctx context.Context, src ingest.Source, spec *ingest.Spec, name, org, by string, progress func(bytes, rows int64)) (*Staged, error) {
	if name == "" {
		name = spec.Name
	}
	if err := ingest.ValidName(name); err != nil {
		return nil, err
	}
	if spec.Sharing == "" {
		// A spec built without a sharing class would import as
		// unconditional (issue 20 item 2): refused instead.
		return nil, fmt.Errorf("spec must name its sharing class (unconditional, conditional or none): %w", errdefs.ErrInvalidArgument)
	}
	var newest int
	if err := c.db.SQL().QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM dataset_versions WHERE name = ?`, name).Scan(&newest); err != nil {
		return nil, err
	}
	ver := newest + 1
	var rb [8]byte
	rand.Read(rb[:])
	dir := filepath.Join(c.dir, ".staging", hex.EncodeToString(rb[:]))
	// Each staging has a key object of its own: an import that loses a
	// race for the same version (and is discarded) shreds only its own
	// key, never the winner's.
	keyObject := fmt.Sprintf("dataset/%s@%d/%s", name, ver, hex.EncodeToString(rb[:]))
	now := c.now().UTC()
	res, err := ingest.Import(ctx, src, spec, ingest.ImportOptions{
		Dataset: name, Version: ver, Dir: dir, Keyring: c.keyring, KeyObject: keyObject, Now: now, Progress: progress,
	})
	if err != nil {
		os.RemoveAll(dir)
		// The data key made for a failed import is shredded, so no
		// orphaned key remains.
		c.keyring.Shred(context.WithoutCancel(ctx), keyObject)
		return nil, err
	}
	v := &Version{Name: name, Version: ver, Category: res.Category, Level: res.Level.String(), Market: string(res.Market),
		State: Active, Rows: res.Rows, Bytes: res.Bytes, Columns: res.Columns, Marks: res.Marks(), SpecSHA256: res.SpecSHA256,
		DataSHA256: res.DataSHA256, FingerprintValues: res.FingerprintValues, FingerprintRows: res.FingerprintRows,
		CreatedAt: now, CreatedBy: by, Org: org, keyObject: keyObject, wrappedKey: res.WrappedKey}
	if v.Market == "withheld" {
		// Withheld data is sealed from the start.
		v.State, v.StateReason = Sealed, "market class withheld"
	}
	return &Staged{Version: v, dir: dir}, nil
}

// Discard removes a staged import that will not be published and shreds
// its data key.
func (c *Catalog) Discard(ctx context.Context, s *Staged) {
	os.RemoveAll(s.dir)
	c.keyring.Shred(context.WithoutCancel(ctx), s.Version.keyObject)
}

// Publish moves a staged import into place and records it in tx. The
// first version of a name makes its importer the name's owner; a version
// of a name that another organisation owns is ErrPermissionDenied (the
// policies refuse such an import before it starts; this holds when two
// organisations race for a new name). The caller commits tx after
// appending its audit event; if it does not, it must call Unpublish.
func (c *Catalog) Publish(ctx context.Context, tx *sql.Tx, s *Staged) error {
	v := s.Version
	if _, err := tx.ExecContext(ctx, `INSERT INTO dataset_owners(name, org, since) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING`,
		v.Name, v.Org, storetime.Format(v.CreatedAt)); err != nil {
		return err
	}
	owner, err := c.Owner(ctx, tx, v.Name)
	if err != nil {
		return err
	}
	if owner != v.Org {
		return fmt.Errorf("dataset %q belongs to organisation %q: %w", v.Name, owner, errdefs.ErrPermissionDenied)
	}
	v.Owner = owner
	cols, _ := json.Marshal(v.Columns)
	marks, _ := json.Marshal(v.Marks)
	_, err = tx.ExecContext(ctx, `INSERT INTO dataset_versions(name, version, category, level, market, state, state_reason, rows, bytes,
		columns, marks, spec_sha256, data_sha256, key_object, wrapped_key, fp_values, fp_rows, created_at, created_by, org, upload)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.Name, v.Version, v.Category, v.Level, v.Market, v.State, v.StateReason, v.Rows, v.Bytes, string(cols), string(marks),
		v.SpecSHA256, v.DataSHA256, v.keyObject, v.wrappedKey, v.FingerprintValues, v.FingerprintRows,
		storetime.Format(v.CreatedAt), v.CreatedBy, v.Org, v.Upload)
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return fmt.Errorf("dataset %q version %d was published meanwhile; import again: %w", v.Name, v.Version, errdefs.ErrConflict)
		}
		return err
	}
	dst := c.versionDir(v.Name, v.Version)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if err := os.Rename(s.dir, dst); err != nil {
		return fmt.Errorf("publish dataset %q version %d: %w", v.Name, v.Version, err)
	}
	syncDir(filepath.Dir(dst))
	return nil
}

// Unpublish undoes the file move of a Publish whose transaction did not
// commit, and shreds the key.
func (c *Catalog) Unpublish(ctx context.Context, s *Staged) {
	os.RemoveAll(c.versionDir(s.Version.Name, s.Version.Version))
	c.Discard(ctx, s)
}

func (c *Catalog) versionDir(name string, v int) string {
	return filepath.Join(c.dir, name, strconv.Itoa(v))
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// cols are the columns scan reads, from dataset_versions d joined with
// dataset_owners o (see from).
const cols = `d.name, d.version, d.category, d.level, d.market, d.state, d.state_reason, d.rows, d.bytes, d.columns, d.marks,
	d.spec_sha256, d.data_sha256, d.key_object, d.wrapped_key, d.fp_values, d.fp_rows, d.created_at, d.created_by, d.org,
	COALESCE(o.org, ''), d.destroyed_at, d.upload, d.reviewed_by, d.reviewed_at`

// from is what cols are selected from.
const from = ` FROM dataset_versions d LEFT JOIN dataset_owners o ON o.name = d.name`

// Owner returns the organisation that owns name: the first to import it.
// A name never imported is ErrNotFound.
func (c *Catalog) Owner(ctx context.Context, q Querier, name string) (string, error) {
	if q == nil {
		q = c.db.SQL()
	}
	var org string
	err := q.QueryRowContext(ctx, `SELECT org FROM dataset_owners WHERE name = ?`, name).Scan(&org)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("dataset %q: %w", name, errdefs.ErrNotFound)
	}
	return org, err
}

func scan(sc interface{ Scan(...any) error }) (*Version, error) {
	var v Version
	var columns, marks, created, destroyed, reviewed string
	err := sc.Scan(&v.Name, &v.Version, &v.Category, &v.Level, &v.Market, &v.State, &v.StateReason, &v.Rows, &v.Bytes,
		&columns, &marks, &v.SpecSHA256, &v.DataSHA256, &v.keyObject, &v.wrappedKey, &v.FingerprintValues, &v.FingerprintRows,
		&created, &v.CreatedBy, &v.Org, &v.Owner, &destroyed, &v.Upload, &v.ReviewedBy, &reviewed)
	if err != nil {
		return nil, err
	}
	if json.Unmarshal([]byte(columns), &v.Columns) != nil || json.Unmarshal([]byte(marks), &v.Marks) != nil {
		return nil, fmt.Errorf("dataset %q version %d columns or marks: stored JSON unreadable: %w", v.Name, v.Version, errdefs.ErrDataLoss)
	}
	if v.CreatedAt, err = storetime.Column("dataset version", v.ID(), "created_at", created); err != nil {
		return nil, err
	}
	d, err := storetime.OptionalColumn("dataset version", v.ID(), "destroyed_at", destroyed)
	if err != nil {
		return nil, err
	}
	if d != nil {
		v.DestroyedAt = d.Format(time.RFC3339)
	}
	r, err := storetime.OptionalColumn("dataset version", v.ID(), "reviewed_at", reviewed)
	if err != nil {
		return nil, err
	}
	if r != nil {
		v.ReviewedAt = r.Format(time.RFC3339)
	}
	return &v, nil
}

// Querier is a *sql.DB or a *sql.Tx.
type Querier = store.Querier

// Get returns a version; version 0 is the newest version of name.
func (c *Catalog) Get(ctx context.Context, q Querier, name string, version int) (*Version, error) {
	if q == nil {
		q = c.db.SQL()
	}
	var row *sql.Row
	if version == 0 {
		row = q.QueryRowContext(ctx, `SELECT `+cols+from+` WHERE d.name = ? ORDER BY d.version DESC LIMIT 1`, name)
	} else {
		row = q.QueryRowContext(ctx, `SELECT `+cols+from+` WHERE d.name = ? AND d.version = ?`, name, version)
	}
	v, err := scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		if version == 0 {
			return nil, fmt.Errorf("dataset %q: %w", name, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("dataset %q version %d: %w", name, version, errdefs.ErrNotFound)
	}
	return v, err
}

// List returns the newest version of every dataset, or with all every
// version.
func (c *Catalog) List(ctx context.Context, all bool) ([]*Version, error) {
	q := `SELECT ` + cols + from + ` WHERE d.version = (SELECT MAX(version) FROM dataset_versions WHERE name = d.name) ORDER BY d.name`
	if all {
		q = `SELECT ` + cols + from + ` ORDER BY d.name, d.version`
	}
	rows, err := c.db.SQL().QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Version{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Versions returns every version of name.
func (c *Catalog) Versions(ctx context.Context, q Querier, name string) ([]*Version, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+cols+from+` WHERE d.name = ? ORDER BY d.version`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Version
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("dataset %q: %w", name, errdefs.ErrNotFound)
	}
	return out, nil
}

// SetState seals or unseals every version of name that is not destroyed.
// Withheld data cannot be unsealed.
func (c *Catalog) SetState(ctx context.Context, tx *sql.Tx, name, state, reason string) ([]*Version, error) {
	vs, err := c.Versions(ctx, tx, name)
	if err != nil {
		return nil, err
	}
	var changed []*Version
	for _, v := range vs {
		if v.State == Destroyed || v.State == state || v.State == PendingReview || v.State == Rejected {
			continue
		}
		if state == Active && v.Market == "withheld" {
			return nil, fmt.Errorf("dataset %q version %d is withheld data and stays sealed: %w", name, v.Version, errdefs.ErrFailedPrecondition)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dataset_versions SET state = ?, state_reason = ? WHERE name = ? AND version = ?`, state, reason, name, v.Version); err != nil {
			return nil, err
		}
		v.State, v.StateReason = state, reason
		changed = append(changed, v)
	}
	if len(changed) == 0 {
		return nil, fmt.Errorf("dataset %q has no version that is not already %s or destroyed: %w", name, state, errdefs.ErrFailedPrecondition)
	}
	return changed, nil
}

// Destruction is the record of one destroyed version: object,
// process and technique.
type Destruction struct {
	Dataset   string `json:"dataset"`
	Version   int    `json:"version"`
	KeyID     string `json:"key_id"`
	Technique string `json:"technique"`
	Files     int    `json:"files_removed"`
}

// MarkDestroyed records in tx that versions are destroyed. The caller
// appends the destruction record to the audit log, commits, and only then
// calls Shred: a crash in between leaves a version that no one can read
// and whose key Shred finishes off on the next destroy.
func (c *Catalog) MarkDestroyed(ctx context.Context, tx *sql.Tx, name string, version int, reason string) ([]*Version, error) {
	vs, err := c.Versions(ctx, tx, name)
	if err != nil {
		return nil, err
	}
	var out []*Version
	now := storetime.Format(c.now())
	for _, v := range vs {
		if version != 0 && v.Version != version {
			continue
		}
		if v.State == Destroyed {
			if version != 0 {
				return nil, fmt.Errorf("dataset %q version %d is already destroyed: %w", name, version, errdefs.ErrFailedPrecondition)
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dataset_versions SET state = ?, state_reason = ?, destroyed_at = ?, wrapped_key = X'' WHERE name = ? AND version = ?`,
			Destroyed, reason, now, name, v.Version); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		if version != 0 {
			return nil, fmt.Errorf("dataset %q version %d: %w", name, version, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("dataset %q has no version left to destroy: %w", name, errdefs.ErrFailedPrecondition)
	}
	return out, nil
}

// Shred destroys a version irreversibly: the key-encryption key of its
// data key is destroyed in the keyring (so the ciphertext can never be
// read again, wherever a copy of it went) and its files are removed.
func (c *Catalog) Shred(ctx context.Context, v *Version) (Destruction, error) {
	d := Destruction{Dataset: v.Name, Version: v.Version,
		Technique: "crypto-shred: the version's key-encryption key was destroyed in the " + c.keyring.Name() + " keyring; the AES-256-GCM ciphertext and fingerprint files were removed"}
	keyID, err := c.keyring.Shred(ctx, v.keyObject)
	if err != nil && !errdefs.IsNotFound(err) {
		return d, fmt.Errorf("shred the key of dataset %q version %d: %w", v.Name, v.Version, err)
	}
	d.KeyID = keyID
	dir := c.versionDir(v.Name, v.Version)
	ents, _ := os.ReadDir(dir)
	d.Files = len(ents)
	if err := os.RemoveAll(dir); err != nil {
		return d, fmt.Errorf("remove files of dataset %q version %d: %w", v.Name, v.Version, err)
	}
	syncDir(filepath.Dir(dir))
	return d, nil
}

// Unfinished returns the versions marked destroyed before cutoff whose
// files are still on disk: their Shred failed (a keyring that did not
// answer, a file that would not go) or never ran (a crash between the
// destruction record and the shred), so their key may live too. Shred
// removes the files only after the key, so files left say the destruction
// may be unfinished; calling Shred again finishes it (a key already gone
// is no error). The cutoff leaves alone a destruction in progress.
func (c *Catalog) Unfinished(ctx context.Context, q Querier, cutoff time.Time) ([]*Version, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+cols+from+` WHERE d.state = ? AND d.destroyed_at != '' AND d.destroyed_at < ? ORDER BY d.name, d.version`,
		Destroyed, storetime.Format(cutoff))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Version
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		if _, err := os.Lstat(c.versionDir(v.Name, v.Version)); err == nil {
			out = append(out, v)
		} else if !os.IsNotExist(err) {
			return nil, fmt.Errorf("look for the files of destroyed dataset %q version %d: %w", v.Name, v.Version, err)
		}
	}
	return out, rows.Err()
}

// KeyObject returns the keyring object that holds the version's data key.
func (v *Version) KeyObject() string { return v.keyObject }

// Readable fails unless the version may be read by a job: not sealed, not
// destroyed.
func (v *Version) Readable() error {
	switch v.State {
	case Sealed:
		return fmt.Errorf("dataset %q version %d is sealed: %w", v.Name, v.Version, errdefs.ErrFailedPrecondition)
	case Destroyed:
		return fmt.Errorf("dataset %q version %d was destroyed on %s: %w", v.Name, v.Version, v.DestroyedAt, errdefs.ErrNotFound)
	case PendingReview:
		return fmt.Errorf("dataset %q version %d is an upload waiting for review: %w", v.Name, v.Version, errdefs.ErrFailedPrecondition)
	case Rejected:
		return fmt.Errorf("dataset %q version %d is an upload its review rejected: %w", v.Name, v.Version, errdefs.ErrFailedPrecondition)
	}
	return nil
}

// Decrypt writes the plaintext of a readable version to dst, for a job's
// private read-only input area.
func (c *Catalog) Decrypt(ctx context.Context, v *Version, dst string) error {
	if err := v.Readable(); err != nil {
		return err
	}
	return ingest.Decrypt(ctx, c.versionDir(v.Name, v.Version), c.keyring, v.keyObject, v.wrappedKey, dst,
		ingest.DecryptOptions{DataSHA256: v.DataSHA256})
}

// Fingerprints opens the fingerprint index of a version, for the egress
// checks. A destroyed version has none.
func (c *Catalog) Fingerprints(ctx context.Context, v *Version) (*fingerprint.Set, error) {
	if v.State == Destroyed {
		return nil, fmt.Errorf("dataset %q version %d was destroyed: %w", v.Name, v.Version, errdefs.ErrNotFound)
	}
	return ingest.OpenFingerprints(ctx, c.versionDir(v.Name, v.Version), c.keyring, v.keyObject, v.wrappedKey)
}
