package backup

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/keys/local"
)

// TestRestoreDoesNotResurrect: a backup taken before a shred holds the
// shredded object's key; a restore shown the live keyring's tombstones
// (from the data directory, the keyring, a newer backup or a file) leaves
// that key unusable and tombstoned, and the other keys usable; a restore
// shown nothing is refused and leaves nothing; "none", said explicitly,
// restores the key (the documented risk of having no tombstones).
func TestRestoreDoesNotResurrect(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	const gone = "dataset/credit@1/after"
	kr, err := local.Open(filepath.Join(w.dir, "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	_, wrappedGone, err := kr.NewDataKey(ctx, gone)
	if err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(t.TempDir(), "old")
	if _, err := Backup(ctx, w.dir, old, passphrase); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Shred(ctx, gone); err != nil { // after the backup
		t.Fatal(err)
	}
	newer := filepath.Join(t.TempDir(), "newer")
	if _, err := Backup(ctx, w.dir, newer, passphrase); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "tombstones.json")
	live, _ := kr.Tombstones()
	data, _ := json.Marshal(live)
	os.WriteFile(file, data, 0o600)

	refused := filepath.Join(t.TempDir(), "refused")
	if err := Restore(ctx, old, refused, passphrase, Tombstones{}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("a restore shown no tombstones: got %v, want invalid argument", err)
	}
	if _, err := os.Stat(refused); !os.IsNotExist(err) {
		t.Fatalf("a refused restore left %s", refused)
	}
	for name, from := range map[string]string{"data directory": w.dir, "keyring": filepath.Join(w.dir, "keyring"), "newer backup": newer, "file": file} {
		t.Run(name, func(t *testing.T) {
			ts, err := LoadTombstones(from)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "restored")
			if err := Restore(ctx, old, dst, passphrase, Tombstones{List: ts}); err != nil {
				t.Fatal(err)
			}
			rk, err := local.Open(filepath.Join(dst, "keyring"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rk.UnwrapDataKey(ctx, gone, wrappedGone); !errdefs.IsNotFound(err) {
				t.Errorf("the key shredded after the backup, restored: got %v, want not found", err)
			}
			if got, err := rk.UnwrapDataKey(ctx, w.live, w.wrapped); err != nil || string(got) != string(w.plain) {
				t.Errorf("the live key, restored: %v", err)
			}
			if got, _ := rk.Tombstones(); len(MergeTombstones(got, live)) != len(got) {
				t.Errorf("the restored keyring's tombstones %+v miss the live ones %+v", got, live)
			}
		})
	}
	dst := filepath.Join(t.TempDir(), "none")
	if err := Restore(ctx, old, dst, passphrase, Tombstones{None: true}); err != nil {
		t.Fatal(err)
	}
	rk, _ := local.Open(filepath.Join(dst, "keyring"))
	if _, err := rk.UnwrapDataKey(ctx, gone, wrappedGone); err != nil {
		t.Errorf("with --tombstones none the old backup's key comes back (the documented risk): got %v", err)
	}
}

func TestLoadTombstonesRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadTombstones(dir); !errdefs.IsInvalidArgument(err) {
		t.Errorf("an empty directory: got %v, want invalid argument", err)
	}
	if _, err := LoadTombstones(filepath.Join(dir, "missing")); !errdefs.IsNotFound(err) {
		t.Errorf("a missing path: got %v, want not found", err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`[{"object":"job/j-1","key_id":"kek-00","shredded":"2026-01-01T00:00:00Z"}]`), 0o600)
	if _, err := LoadTombstones(bad); !errdefs.IsInvalidArgument(err) {
		t.Errorf("a bad key id: got %v, want invalid argument", err)
	}
}

func TestParseTombstones(t *testing.T) {
	good := keys.Tombstone{Object: "dataset/a@1/ff", KeyID: "kek-0123456789abcdef0123456789abcdef", Shredded: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	data, _ := json.Marshal([]keys.Tombstone{good})
	if ts, err := ParseTombstones(data); err != nil || len(ts) != 1 || ts[0] != good {
		t.Fatalf("a good file: got %+v, %v", ts, err)
	}
	if ts, err := ParseTombstones([]byte(`[]`)); err != nil || ts == nil || len(ts) != 0 {
		t.Fatalf("an empty list: got %#v, %v; want an empty, non-nil list", ts, err)
	}
	for name, in := range map[string]string{
		"not json":      `tomb`,
		"object":        `{"object":"a"}`,
		"unknown field": `[{"object":"a","key_id":"kek-unreadable","shredded":"2026-01-01T00:00:00Z","x":1}]`,
		"trailing":      string(data) + `[]`,
		"space in name": `[{"object":"a b","key_id":"kek-unreadable","shredded":"2026-01-01T00:00:00Z"}]`,
		"no time":       `[{"object":"a","key_id":"kek-unreadable"}]`,
		"no key id":     `[{"object":"a","shredded":"2026-01-01T00:00:00Z"}]`,
	} {
		if _, err := ParseTombstones([]byte(in)); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: got %v, want invalid argument", name, err)
		}
	}
}

// FuzzParseTombstones: any input parses to valid tombstones or is refused
// as invalid argument, never quoting it.
func FuzzParseTombstones(f *testing.F) {
	f.Add([]byte(`[{"object":"job/j-1","key_id":"kek-0123456789abcdef0123456789abcdef","shredded":"2026-01-01T00:00:00Z"}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"object":"\u0000","key_id":"kek-unreadable","shredded":"2026-01-01T00:00:00Z"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := ParseTombstones(data)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("error of class other than invalid argument: %v", err)
			}
			return
		}
		for _, x := range ts {
			if keys.ValidObject(x.Object) != nil || !keyIDRE.MatchString(x.KeyID) || x.Shredded.IsZero() {
				t.Fatalf("accepted an invalid tombstone %+v", x)
			}
		}
	})
}
