package sweeper

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/keys/local"
)

// TestUploadsDieWithTheLicence: an operator's upload is destroyed with its
// organisation's licence (issue 20 item 1): at once when the organisation
// is revoked, after the grace period when its licence merely expires, with
// a destroy entry before the effect and a destruction record (technique,
// key) after it; datasets that are not uploads, and uploads of an
// organisation still licensed, are kept.
func TestUploadsDieWithTheLicence(t *testing.T) {
	e := newEnv(t) // acme licensed to 2027-12-31, globex to 2026-03-31
	ctx := context.Background()
	exec(t, e.db, `INSERT INTO orgs(name, type, licence_from, licence_until, status, status_reason, created_at, updated_at)
		VALUES ('initech', 'company', '2026-01-01', '2027-12-31', 'revoked', 'x', '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z')`)
	for _, d := range [][3]any{{"acme_own", "acme", 1}, {"globex_own", "globex", 1}, {"globex_public", "globex", 0}, {"initech_own", "initech", 1}} {
		exec(t, e.db, `INSERT INTO dataset_versions(name, version, category, level, market, state, rows, bytes, columns, marks, spec_sha256, data_sha256,
			key_object, wrapped_key, fp_values, fp_rows, created_at, created_by, org, upload)
			VALUES (?, 1, 'c', 'general-2', 'ordinary', 'active', 10, 100, '[]', '{}', '', '', ?, X'00', 0, 0, '2026-01-01T00:00:00.000000000Z', 'p', ?, ?)`,
			d[0], "key-"+d[0].(string), d[1], d[2])
	}
	kr, err := local.Create(filepath.Join(e.data, "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := datasets.New(e.db, filepath.Join(e.data, "datasets"), kr, e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	sw := New(e.db.SQL(), nil, e.log, Config{Grace: 72 * time.Hour, Now: e.clock.Now, Uploads: cat})
	state := func(name string) string {
		var s string
		if err := e.db.SQL().QueryRow(`SELECT state FROM dataset_versions WHERE name = ?`, name).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	steps := []struct {
		name      string
		at        time.Time
		destroyed []string
	}{
		{"a revoked organisation's upload goes at once", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), []string{"initech_own@1"}},
		{"the last licensed day keeps globex's", time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC), nil},
		{"within the grace period it is kept", time.Date(2026, 4, 3, 12, 0, 0, 0, time.UTC), nil},
		{"after the grace period the expired licence takes it", time.Date(2026, 4, 4, 0, 0, 0, 0, time.UTC), []string{"globex_own@1"}},
		{"nothing twice", time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), nil},
	}
	for _, st := range steps {
		e.clock.set(st.at)
		before := len(e.log.events)
		res, err := sw.Sweep(ctx)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if !slices.Equal(res.Uploads, st.destroyed) {
			t.Fatalf("%s: destroyed %v, want %v", st.name, res.Uploads, st.destroyed)
		}
		// Each destroyed upload: a destroy entry, then its destruction record.
		var acts []string
		for _, ev := range e.log.events[before:] {
			if ev.Action == "dataset.destroy" || ev.Action == "dataset.destruction" {
				acts = append(acts, ev.Action+" "+ev.Objects[0])
				if ev.Action == "dataset.destruction" && (ev.Details["technique"] == "" || ev.Outcome != "ok" || ev.Retention != "5y") {
					t.Errorf("%s: destruction record %+v lacks its technique, outcome or 5-year retention", st.name, ev)
				}
			}
		}
		var want []string
		for _, d := range st.destroyed {
			want = append(want, "dataset.destroy dataset:"+d, "dataset.destruction dataset:"+d)
		}
		if !slices.Equal(acts, want) {
			t.Fatalf("%s: audit entries %v, want %v", st.name, acts, want)
		}
	}
	for name, want := range map[string]string{"acme_own": "active", "globex_public": "active", "globex_own": "destroyed", "initech_own": "destroyed"} {
		if got := state(name); got != want {
			t.Errorf("%s: state %q, want %q", name, got, want)
		}
	}
}

// flakyShred is a keyring whose Shred fails while fail is set, as a Vault
// that does not answer would.
type flakyShred struct {
	keys.Keyring
	fail bool
}

func (k *flakyShred) Shred(ctx context.Context, object string) (string, error) {
	if k.fail {
		return "", errors.New("keyring unavailable")
	}
	return k.Keyring.Shred(ctx, object)
}

// TestUnfinishedDestructionIsFinished: a version marked destroyed whose
// shredding failed (its key and files outlived the destruction record) is
// shredded again by a later pass once the keyring answers, with a record
// of the attempt each time; until then every pass tries again, and
// the other work of the pass is done all the same.
func TestUnfinishedDestructionIsFinished(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	exec(t, e.db, `INSERT INTO orgs(name, type, licence_from, licence_until, status, status_reason, created_at, updated_at)
		VALUES ('initech', 'company', '2026-01-01', '2027-12-31', 'revoked', 'x', '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z')`)
	lk, err := local.Create(filepath.Join(e.data, "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	kr := &flakyShred{Keyring: lk, fail: true}
	if _, _, err := kr.NewDataKey(ctx, "dataset/initech_own@1"); err != nil {
		t.Fatal(err)
	}
	exec(t, e.db, `INSERT INTO dataset_versions(name, version, category, level, market, state, rows, bytes, columns, marks, spec_sha256, data_sha256,
		key_object, wrapped_key, fp_values, fp_rows, created_at, created_by, org, upload)
		VALUES ('initech_own', 1, 'c', 'general-2', 'ordinary', 'active', 10, 100, '[]', '{}', '', '', 'dataset/initech_own@1', X'00', 0, 0,
		'2026-01-01T00:00:00.000000000Z', 'p', 'initech', 1)`)
	dir := filepath.Join(e.data, "datasets", "initech_own", "1")
	write(t, filepath.Join(dir, "data.enc"), "ciphertext")
	cat, err := datasets.New(e.db, filepath.Join(e.data, "datasets"), kr, e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	sw := New(e.db.SQL(), nil, e.log, Config{Grace: 72 * time.Hour, Now: e.clock.Now, Uploads: cat})
	has := func() bool {
		ok, err := lk.HasKey(ctx, "dataset/initech_own@1")
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	records := func() (ok, failed int) {
		for _, ev := range e.log.events {
			if ev.Action == "dataset.destruction" && ev.Objects[0] == "dataset:initech_own@1" {
				if ev.Outcome == "ok" {
					ok++
				} else {
					failed++
				}
			}
		}
		return
	}

	// The revoked organisation's upload is marked destroyed; its shred fails.
	if _, err := sw.Sweep(ctx); err == nil || !strings.Contains(err.Error(), "keyring unavailable") {
		t.Fatalf("first pass: got %v, want the shred's failure", err)
	}
	if _, err := os.Stat(dir); err != nil || !has() {
		t.Fatalf("after a failed shred: files %v, key %v; want both still there", err, has())
	}
	// Within finishAfter the destruction counts as in progress.
	e.clock.set(e.clock.Now().Add(time.Minute))
	if res, err := sw.Sweep(ctx); err != nil || len(res.Finished) != 0 {
		t.Fatalf("a minute later: finished %v, %v; want nothing tried yet", res.Finished, err)
	}
	// Later, with the keyring still down: tried, recorded, left.
	e.clock.set(e.clock.Now().Add(finishAfter))
	if _, err := sw.Sweep(ctx); err == nil || !has() {
		t.Fatalf("with the keyring down: got %v, key %v; want the failure and the key left", err, has())
	}
	// The keyring answers again: the next pass finishes the destruction.
	kr.fail = false
	res, err := sw.Sweep(ctx)
	if err != nil || !slices.Equal(res.Finished, []string{"initech_own@1"}) {
		t.Fatalf("with the keyring back: finished %v, %v; want initech_own@1", res.Finished, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) || has() {
		t.Fatalf("after the finished destruction: files %v, key %v; want both gone", err, has())
	}
	if ok, failed := records(); ok != 1 || failed != 2 {
		t.Fatalf("destruction records: %d ok and %d failed, want 1 and 2 (the first shred and the retry with the keyring down)", ok, failed)
	}
	if res, err := sw.Sweep(ctx); err != nil || len(res.Finished) != 0 {
		t.Fatalf("nothing twice: finished %v, %v", res.Finished, err)
	}
}
