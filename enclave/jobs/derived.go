package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// The "derived" part of the state: what the enclave made from datasets
// (R-13, DESIGN.md section 3 step 9). job_lineage names every dataset
// version each job read and the grant it read it under; derived_keys holds
// the data key of each job's work area and outputs and of each export's
// frozen files, wrapped by the keyring under an object of its own, and
// whether it was shredded; destructions is the register of what was
// destroyed with its basis (004 art. 47: object, process, technique).
// jobs.go registers it right after the "jobs" part, whose table its first
// migration reads.
var derivedSchema = store.Schema{Part: "derived", Requires: []string{"jobs"}, Migrations: []store.Migration{
	{Version: 1, Name: "lineage, derived keys and destructions", SQL: `
CREATE TABLE job_lineage (
	job      TEXT NOT NULL,
	dataset  TEXT NOT NULL,
	version  INTEGER NOT NULL,
	grant_id TEXT NOT NULL,
	org      TEXT NOT NULL,
	PRIMARY KEY (job, dataset, version)
);
CREATE INDEX job_lineage_version ON job_lineage(dataset, version);
CREATE INDEX job_lineage_grant ON job_lineage(grant_id);
INSERT OR IGNORE INTO job_lineage(job, dataset, version, grant_id, org)
	SELECT j.id, json_extract(i.value, '$.dataset'), json_extract(i.value, '$.version'),
		COALESCE((SELECT g.value FROM json_each(j.grants) g WHERE g.key = json_extract(i.value, '$.dataset')), ''), j.org
	FROM jobs j, json_each(j.inputs) i;
CREATE TABLE derived_keys (
	object      TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	owner       TEXT NOT NULL,
	job         TEXT NOT NULL,
	wrapped     BLOB NOT NULL,
	created_at  TEXT NOT NULL,
	shredded_at TEXT NOT NULL DEFAULT '',
	key_id      TEXT NOT NULL DEFAULT '',
	-- 1 once the keyring destroyed the key-encryption key (or had none)
	keyring_done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX derived_keys_job ON derived_keys(job);
CREATE TABLE destructions (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	object     TEXT NOT NULL,
	cause      TEXT NOT NULL,
	process    TEXT NOT NULL,
	technique  TEXT NOT NULL,
	keyring    TEXT NOT NULL,
	key_object TEXT NOT NULL,
	key_id     TEXT NOT NULL,
	files      INTEGER NOT NULL,
	bytes      INTEGER NOT NULL,
	actor      TEXT NOT NULL,
	reason     TEXT NOT NULL,
	at         TEXT NOT NULL
);
CREATE INDEX destructions_object ON destructions(object);`},
}}

// Kinds of derived objects.
const (
	KindJob    = "job"
	KindExport = "export"
)

// JobKeyObject is the keyring object of job id's data key.
func JobKeyObject(id string) string { return "job/" + id }

// ExportKeyObject is the keyring object of export id's data key.
func ExportKeyObject(id string) string { return "export/" + id }

// Lineage is one dataset version a job read.
type Lineage struct {
	Job     string `json:"job"`
	Dataset string `json:"dataset"`
	Version int    `json:"version"`
	Grant   string `json:"grant"`
	Org     string `json:"org"`
}

// insertLineage records in q the dataset versions job j reads, with the
// job itself.
func insertLineage(ctx context.Context, q Querier, j *Job) error {
	for _, in := range j.Inputs {
		if _, err := q.ExecContext(ctx, `INSERT OR IGNORE INTO job_lineage(job, dataset, version, grant_id, org) VALUES (?, ?, ?, ?, ?)`,
			j.ID, in.Dataset, in.Version, j.Grants[in.Dataset], j.Org); err != nil {
			return fmt.Errorf("record the lineage of job %q: %w", j.ID, err)
		}
	}
	return nil
}

// JobLineage returns the dataset versions job id read.
func JobLineage(ctx context.Context, q Querier, id string) ([]Lineage, error) {
	return lineageWhere(ctx, q, `job = ?`, id)
}

func lineageWhere(ctx context.Context, q Querier, where string, args ...any) ([]Lineage, error) {
	rows, err := q.QueryContext(ctx, `SELECT job, dataset, version, grant_id, org FROM job_lineage WHERE `+where+` ORDER BY job, dataset, version`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Lineage{}
	for rows.Next() {
		var l Lineage
		if err := rows.Scan(&l.Job, &l.Dataset, &l.Version, &l.Grant, &l.Org); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// DataKeys keeps the data keys of derived objects in the state database,
// each wrapped by the keyring under an object of its own (JobKeyObject,
// ExportKeyObject), so that one job's or one export's files can be
// crypto-shredded alone. It is safe for concurrent use.
type DataKeys struct {
	db  *sql.DB
	kr  keys.Keyring
	now func() time.Time
}

// NewDataKeys returns the derived data keys over db and kr.
func NewDataKeys(db *sql.DB, kr keys.Keyring) *DataKeys {
	return &DataKeys{db: db, kr: kr, now: time.Now}
}

// Keyring returns the keyring the keys are wrapped by.
func (k *DataKeys) Keyring() keys.Keyring { return k.kr }

// ErrShredded is the class of the error for a key that was shredded (or
// doomed before it was made): errdefs.ErrNotFound.
var ErrShredded = fmt.Errorf("the data key was shredded: %w", errdefs.ErrNotFound)

// Create makes the data key of object (of kind and owner, belonging to
// job) and returns its plaintext. An object whose key was shredded, or
// doomed before it existed, gets none: an error wrapping ErrShredded. An
// object that already has a key gets errdefs.ErrAlreadyExists.
func (k *DataKeys) Create(ctx context.Context, object, kind, owner, job string) ([]byte, error) {
	var shredded string
	err := k.db.QueryRowContext(ctx, `SELECT shredded_at FROM derived_keys WHERE object = ?`, object).Scan(&shredded)
	switch {
	case err == nil && shredded != "":
		return nil, fmt.Errorf("%s: %w", object, ErrShredded)
	case err == nil:
		return nil, fmt.Errorf("data key of %s: %w", object, errdefs.ErrAlreadyExists)
	case !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}
	plain, wrapped, err := k.kr.NewDataKey(ctx, object)
	if err != nil {
		return nil, fmt.Errorf("data key of %s: %w", object, err)
	}
	_, err = k.db.ExecContext(ctx, `INSERT INTO derived_keys(object, kind, owner, job, wrapped, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		object, kind, owner, job, wrapped, storetime.Format(k.now()))
	if store.IsUnique(err) {
		// A shred (or another sealer) came first: what it recorded wins.
		clear(plain)
		return nil, fmt.Errorf("%s: %w", object, ErrShredded)
	}
	if err != nil {
		clear(plain)
		return nil, err
	}
	return plain, nil
}

// Open returns the plaintext data key of object. A key that was shredded
// or never made is an error wrapping errdefs.ErrNotFound.
func (k *DataKeys) Open(ctx context.Context, object string) ([]byte, error) {
	var wrapped []byte
	var shredded string
	err := k.db.QueryRowContext(ctx, `SELECT wrapped, shredded_at FROM derived_keys WHERE object = ?`, object).Scan(&wrapped, &shredded)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s has no data key: %w", object, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if shredded != "" {
		return nil, fmt.Errorf("%s was destroyed at %s: %w", object, shredded, ErrShredded)
	}
	return k.kr.UnwrapDataKey(ctx, object, wrapped)
}

// Shredded reports whether object's key was shredded or doomed.
func (k *DataKeys) Shredded(ctx context.Context, object string) (bool, error) {
	var shredded string
	err := k.db.QueryRowContext(ctx, `SELECT shredded_at FROM derived_keys WHERE object = ?`, object).Scan(&shredded)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return shredded != "", err
}

// Shred destroys object's data key: it is marked shredded in the state
// (its wrapped form erased; an object without a key yet is doomed, so that
// none is ever made for it), then its key-encryption key is destroyed in
// the keyring. It returns the id of the destroyed key-encryption key
// (empty when the object had none). Shredding again finishes a shred the
// keyring did not complete and is otherwise a no-op.
func (k *DataKeys) Shred(ctx context.Context, object, kind, owner, job string) (string, error) {
	now := storetime.Format(k.now())
	if _, err := k.db.ExecContext(ctx, `INSERT INTO derived_keys(object, kind, owner, job, wrapped, created_at, shredded_at) VALUES (?, ?, ?, ?, X'', ?, ?)
		ON CONFLICT(object) DO UPDATE SET wrapped = X'', shredded_at = CASE WHEN shredded_at = '' THEN excluded.shredded_at ELSE shredded_at END`,
		object, kind, owner, job, now, now); err != nil {
		return "", fmt.Errorf("mark %s shredded: %w", object, err)
	}
	var done int
	var keyID string
	if err := k.db.QueryRowContext(ctx, `SELECT keyring_done, key_id FROM derived_keys WHERE object = ?`, object).Scan(&done, &keyID); err != nil {
		return "", err
	}
	if done == 1 {
		return keyID, nil
	}
	id, err := k.kr.Shred(ctx, object)
	if err != nil && !errdefs.IsNotFound(err) {
		return "", fmt.Errorf("shred the key of %s: %w", object, err)
	}
	if _, err := k.db.ExecContext(ctx, `UPDATE derived_keys SET keyring_done = 1, key_id = ? WHERE object = ?`, id, object); err != nil {
		return id, err
	}
	return id, nil
}

// Destruction is the record of one destroyed derived object (R-13; 004
// art. 47): what (Object, with the key and the files), why (Cause, Reason,
// Actor), how (Process, Technique) and when.
type Destruction struct {
	// Object is "job:ID" or "export:ID".
	Object string `json:"object"`
	// Cause is the basis that ended: "dataset:NAME@V", "grant:ID" or
	// "org:NAME" (or "restore" for a tombstone applied at a restore).
	Cause     string    `json:"cause"`
	Process   string    `json:"process"`
	Technique string    `json:"technique"`
	Keyring   string    `json:"keyring"`
	KeyObject string    `json:"key_object"`
	KeyID     string    `json:"key_id,omitempty"`
	Files     int       `json:"files"`
	Bytes     int64     `json:"bytes"`
	Actor     string    `json:"actor"`
	Reason    string    `json:"reason"`
	Time      time.Time `json:"time"`
}

// RecordDestruction adds d to the register of destructions.
func RecordDestruction(ctx context.Context, q Querier, d Destruction) error {
	_, err := q.ExecContext(ctx, `INSERT INTO destructions(object, cause, process, technique, keyring, key_object, key_id, files, bytes, actor, reason, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.Object, d.Cause, d.Process, d.Technique, d.Keyring, d.KeyObject, d.KeyID, d.Files, d.Bytes,
		d.Actor, d.Reason, storetime.Format(d.Time))
	return err
}

// Destructions returns the register of destructions, oldest first: of one
// object when object is not empty.
func Destructions(ctx context.Context, q Querier, object string) ([]Destruction, error) {
	rows, err := q.QueryContext(ctx, `SELECT object, cause, process, technique, keyring, key_object, key_id, files, bytes, actor, reason, at
		FROM destructions WHERE ? = '' OR object = ? ORDER BY seq`, object, object)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Destruction{}
	for rows.Next() {
		var d Destruction
		var at string
		if err := rows.Scan(&d.Object, &d.Cause, &d.Process, &d.Technique, &d.Keyring, &d.KeyObject, &d.KeyID, &d.Files, &d.Bytes,
			&d.Actor, &d.Reason, &at); err != nil {
			return nil, err
		}
		if d.Time, err = storetime.Parse(at); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// LineageOfVersion returns the jobs that read dataset version (every
// version when version is 0).
func LineageOfVersion(ctx context.Context, q Querier, dataset string, version int) ([]Lineage, error) {
	if version == 0 {
		return lineageWhere(ctx, q, `dataset = ?`, dataset)
	}
	return lineageWhere(ctx, q, `dataset = ? AND version = ?`, dataset, version)
}

// LineageOfGrant returns the jobs that read under grant.
func LineageOfGrant(ctx context.Context, q Querier, grant string) ([]Lineage, error) {
	return lineageWhere(ctx, q, `grant_id = ?`, grant)
}
