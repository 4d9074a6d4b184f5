package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/keys/local"
	"github.com/enclave-dev/enclave/enclave/store"
)

const passphrase = "correct horse battery staple"

// world is a data directory as a daemon leaves it: a state database with a
// row, a local keyring with a live and a shredded data key, and files in
// the trees a backup copies, with a lock, a staging directory and a
// temporary file that it must leave.
type world struct {
	dir            string
	live, shredded string // keyring objects
	wrapped        []byte // the live object's wrapped data key
	plain          []byte
	secret         []byte
	files          map[string]string // relative path -> content, copied
	left           []string          // relative paths that are not copied
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{dir: filepath.Join(t.TempDir(), "data"), live: "dataset/penalties@1/live", shredded: "dataset/penalties@2/shredded"}
	if err := os.MkdirAll(w.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(w.dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().Exec(`INSERT INTO audit_watermark(id, idx) VALUES (1, 41) ON CONFLICT(id) DO UPDATE SET idx = 41`); err != nil {
		t.Fatal(err)
	}
	// The daemon is serving: the database stays open during the backup.
	t.Cleanup(func() { db.Close() })
	kr, err := local.Create(filepath.Join(w.dir, "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	if w.plain, w.wrapped, err = kr.NewDataKey(ctx, w.live); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kr.NewDataKey(ctx, w.shredded); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Shred(ctx, w.shredded); err != nil {
		t.Fatal(err)
	}
	if w.secret, err = kr.Secret(ctx, "fingerprint"); err != nil {
		t.Fatal(err)
	}
	w.files = map[string]string{
		"audit/segment-000001.log":      "entries",
		"datasets/penalties/1/data.enc": "ciphertext",
		"jobs/j-1/log":                  "log",
		"exports/x_1/files/0.sealed":    "sealed",
		"keyring.json":                  `{"keyring":"local"}`,
	}
	w.left = []string{"datasets/.staging/import-1/data.enc", "audit/LOCK", "exports/x_1/release.tar.tmp"}
	for _, p := range append(keysOf(w.files), w.left...) {
		full := filepath.Join(w.dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(w.files[p]+"|"+p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestBackupAndRestore(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	bk := filepath.Join(t.TempDir(), "backup")
	m, err := Backup(ctx, w.dir, bk, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	// The backup holds no usable key: the keyring is only sealed.
	if _, err := os.Stat(filepath.Join(bk, "keyring")); !os.IsNotExist(err) {
		t.Fatalf("the backup holds the keyring directory: %v", err)
	}
	if _, ok := m.Files["keyring.sealed"]; !ok {
		t.Fatalf("manifest: no sealed keyring in %v", keysOf(m.Files))
	}
	for _, p := range w.left {
		if _, ok := m.Files[p]; ok {
			t.Errorf("the backup copied %s", p)
		}
	}
	restored := filepath.Join(t.TempDir(), "restored")
	if err := Restore(ctx, bk, restored, passphrase, Tombstones{None: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range keysOf(w.files) {
		got, err := os.ReadFile(filepath.Join(restored, filepath.FromSlash(p)))
		if err != nil || string(got) != w.files[p]+"|"+p {
			t.Errorf("restored %s: got %q, %v", p, got, err)
		}
	}
	for _, p := range w.left {
		if _, err := os.Stat(filepath.Join(restored, filepath.FromSlash(p))); !os.IsNotExist(err) {
			t.Errorf("restored %s, which is not part of a backup: %v", p, err)
		}
	}
	if fi, err := os.Stat(restored); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("restored directory: got %v, %v; want mode 0700", fi.Mode(), err)
	}
	db, err := store.Open(ctx, filepath.Join(restored, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if idx, err := db.AuditWatermark(ctx); err != nil || idx != 41 {
		t.Errorf("restored state: got watermark %d, %v; want 41", idx, err)
	}
	kr, err := local.Open(filepath.Join(restored, "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := kr.UnwrapDataKey(ctx, w.live, w.wrapped); err != nil || !bytes.Equal(plain, w.plain) {
		t.Errorf("the live data key after the restore: %v", err)
	}
	if s, err := kr.Secret(ctx, "fingerprint"); err != nil || !bytes.Equal(s, w.secret) {
		t.Errorf("the keyring's secrets after the restore differ: %v", err)
	}
	// A key shredded before the backup stays shredded (DESIGN.md section 5,
	// promise 9).
	if _, err := kr.Shred(ctx, w.shredded); !errdefs.IsNotFound(err) {
		t.Errorf("the shredded key after the restore: got %v, want not found", err)
	}
}

// TestRestoreRefuses: a restore of a backup that was tampered with, under
// a wrong passphrase or onto a used directory is refused with its class
// and leaves nothing.
func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	clean := filepath.Join(t.TempDir(), "backup")
	if _, err := Backup(ctx, w.dir, clean, passphrase); err != nil {
		t.Fatal(err)
	}
	rewriteManifest := func(t *testing.T, bk string) {
		m := &Manifest{Version: 1, Files: map[string]string{}}
		if err := hashTree(bk, m.Files); err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(bk, "MANIFEST.json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name       string
		spoil      func(t *testing.T, bk, dst string)
		passphrase string
		want       func(error) bool
		keepDst    bool // the destination held something before
	}{
		{"a wrong passphrase", nil, "a wrong passphrase!", errdefs.IsPermissionDenied, false},
		{"a changed file", func(t *testing.T, bk, _ string) {
			os.WriteFile(filepath.Join(bk, "jobs/j-1/log"), []byte("forged"), 0o600)
		}, passphrase, errdefs.IsDataLoss, false},
		{"a removed file", func(t *testing.T, bk, _ string) { os.Remove(filepath.Join(bk, "audit/segment-000001.log")) }, passphrase, errdefs.IsDataLoss, false},
		{"a file the manifest does not list", func(t *testing.T, bk, _ string) {
			os.WriteFile(filepath.Join(bk, "datasets/extra"), []byte("x"), 0o600)
		}, passphrase, errdefs.IsDataLoss, false},
		{"no manifest", func(t *testing.T, bk, _ string) { os.Remove(filepath.Join(bk, "MANIFEST.json")) }, passphrase, errdefs.IsNotFound, false},
		{"a malformed manifest", func(t *testing.T, bk, _ string) {
			os.WriteFile(filepath.Join(bk, "MANIFEST.json"), []byte(`{"version": 2}`), 0o600)
		}, passphrase, errdefs.IsDataLoss, false},
		{"a truncated sealed keyring", func(t *testing.T, bk, _ string) {
			os.WriteFile(filepath.Join(bk, "keyring.sealed"), []byte("enclave-keyring-backup-v1\nshort"), 0o600)
			rewriteManifest(t, bk)
		}, passphrase, errdefs.IsDataLoss, false},
		{"a sealed keyring that escapes its directory", func(t *testing.T, bk, _ string) {
			var tb bytes.Buffer
			tw := tar.NewWriter(&tb)
			tw.WriteHeader(&tar.Header{Name: "../../escaped", Mode: 0o600, Size: 1})
			tw.Write([]byte("x"))
			tw.Close()
			sealed, err := seal(tb.Bytes(), passphrase)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(bk, "keyring.sealed"), sealed, 0o600)
			rewriteManifest(t, bk)
		}, passphrase, errdefs.IsDataLoss, false},
		{"a destination in use", func(t *testing.T, _, dst string) {
			os.MkdirAll(dst, 0o700)
			os.WriteFile(filepath.Join(dst, "state.db"), []byte("live"), 0o600)
		}, passphrase, errdefs.IsAlreadyExists, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bk := filepath.Join(t.TempDir(), "backup")
			if err := copyTree(clean, bk); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "restored")
			if tc.spoil != nil {
				tc.spoil(t, bk, dst)
			}
			err := Restore(ctx, bk, dst, tc.passphrase, Tombstones{None: true})
			if !tc.want(err) {
				t.Fatalf("got %v, want a refusal of its class", err)
			}
			if strings.Contains(err.Error(), passphrase) || strings.Contains(err.Error(), tc.passphrase) {
				t.Errorf("the error names the passphrase: %v", err)
			}
			ents, _ := os.ReadDir(dst)
			if tc.keepDst {
				if got, _ := os.ReadFile(filepath.Join(dst, "state.db")); len(ents) != 1 || string(got) != "live" {
					t.Errorf("the destination in use was changed: %d entries", len(ents))
				}
			} else if len(ents) != 0 {
				t.Errorf("a refused restore left %d entries in the destination", len(ents))
			}
			if _, err := os.Stat(dst + ".restore"); !os.IsNotExist(err) {
				t.Errorf("a refused restore left its staging directory: %v", err)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(dst), "escaped")); !os.IsNotExist(err) {
				t.Errorf("a keyring entry escaped the restore: %v", err)
			}
		})
	}
}

func TestBackupRefuses(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	used := filepath.Join(t.TempDir(), "used")
	os.MkdirAll(used, 0o700)
	os.WriteFile(filepath.Join(used, "x"), []byte("x"), 0o600)
	for _, tc := range []struct {
		name, dst, passphrase string
		want                  func(error) bool
	}{
		{"a short passphrase", filepath.Join(t.TempDir(), "b"), "short", errdefs.IsInvalidArgument},
		{"a destination in use", used, passphrase, errdefs.IsAlreadyExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Backup(ctx, w.dir, tc.dst, tc.passphrase); !tc.want(err) {
				t.Fatalf("got %v, want a refusal of its class", err)
			}
			if ents, _ := os.ReadDir(tc.dst); tc.dst != used && len(ents) != 0 {
				t.Errorf("a refused backup wrote %d entries", len(ents))
			}
		})
	}
}

// FuzzUntar: whatever a sealed keyring holds once opened, untar writes
// only regular files below its destination, or fails.
func FuzzUntar(f *testing.F) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "root.json", Mode: 0o600, Size: 2})
	tw.Write([]byte("{}"))
	tw.WriteHeader(&tar.Header{Name: "kek/a", Mode: 0o644, Size: 1})
	tw.Write([]byte("k"))
	tw.Close()
	f.Add(tb.Bytes())
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		dst := filepath.Join(root, "keyring")
		untar(bytes.NewReader(data), dst)
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || p == root {
				return err
			}
			if p != dst && !strings.HasPrefix(p, dst+string(filepath.Separator)) {
				t.Fatalf("untar wrote %s outside %s", p, dst)
			}
			if !d.IsDir() {
				fi, err := d.Info()
				if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 {
					t.Fatalf("untar wrote %s with mode %v", p, fi.Mode())
				}
			}
			return nil
		})
	})
}
