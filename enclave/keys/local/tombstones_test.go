package local

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/containerd/errdefs"
)

// TestTombstoneRefusesACopiedBackKEK: the KEK file of an object, copied
// away before its shred (a backup, a snapshot) and put back after it, is
// refused as shredded and destroyed again; a later KEK of the same object
// is not affected.
func TestTombstoneRefusesACopiedBackKEK(t *testing.T) {
	kr, dir := newTestKeyring(t)
	ctx := context.Background()
	const obj = "dataset/penalties@1/00ff"
	_, wrapped, err := kr.NewDataKey(ctx, obj)
	if err != nil {
		t.Fatal(err)
	}
	path := kr.kekPath(obj)
	saved, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	id, err := kr.Shred(ctx, obj)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := kr.Tombstones()
	if err != nil || len(ts) != 1 || ts[0].Object != obj || ts[0].KeyID != id || ts[0].Shredded.IsZero() {
		t.Fatalf("tombstones: got %+v, %v; want one for %s %s", ts, err, obj, id)
	}
	if err := os.WriteFile(path, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.UnwrapDataKey(ctx, obj, wrapped); !errdefs.IsNotFound(err) {
		t.Fatalf("unwrap under a KEK copied back after its shred: got %v, want not found", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the copied-back KEK file: %v, want it destroyed again", err)
	}
	reopened, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, saved, 0o600)
	if _, err := reopened.UnwrapDataKey(ctx, obj, wrapped); !errdefs.IsNotFound(err) {
		t.Fatalf("after a reopen: got %v, want not found", err)
	}
	plain, w2, err := kr.NewDataKey(ctx, obj)
	if err != nil {
		t.Fatalf("a new key of the same object: %v", err)
	}
	if got, err := kr.UnwrapDataKey(ctx, obj, w2); err != nil || string(got) != string(plain) {
		t.Fatalf("the new key after the tombstone: %v", err)
	}
}

// TestBury: a copy of a keyring taken before a shred (a backup) loses the
// KEK that a tombstone of the live keyring names once the tombstone is
// buried in it; the other objects keep theirs, and a second Bury changes
// nothing.
func TestBury(t *testing.T) {
	kr, dir := newTestKeyring(t)
	ctx := context.Background()
	_, wGone, _ := kr.NewDataKey(ctx, "dataset/gone@1/aa")
	_, wKept, _ := kr.NewDataKey(ctx, "dataset/kept@1/bb")
	backup := filepath.Join(t.TempDir(), "keys")
	copyDir(t, dir, backup)
	if _, err := kr.Shred(ctx, "dataset/gone@1/aa"); err != nil {
		t.Fatal(err)
	}
	ts, _ := kr.Tombstones()
	destroyed, err := Bury(backup, ts)
	if err != nil || !slices.Equal(destroyed, []string{"dataset/gone@1/aa"}) {
		t.Fatalf("Bury: got %v, %v", destroyed, err)
	}
	old, err := Open(backup)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.UnwrapDataKey(ctx, "dataset/gone@1/aa", wGone); !errdefs.IsNotFound(err) {
		t.Errorf("the buried object in the restored keyring: got %v, want not found", err)
	}
	if _, err := old.UnwrapDataKey(ctx, "dataset/kept@1/bb", wKept); err != nil {
		t.Errorf("the live object in the restored keyring: %v", err)
	}
	if got, _ := ReadTombstones(backup); len(got) != 1 || got[0] != ts[0] {
		t.Errorf("tombstones of the restored keyring: got %+v, want the live one's", got)
	}
	if again, err := Bury(backup, ts); err != nil || len(again) != 0 {
		t.Errorf("second Bury: got %v, %v; want nothing to do", again, err)
	}
}

// TestReadTombstonesRefusesForgeries: a tombstone filed under the name of
// another object or key, or malformed, is data loss.
func TestReadTombstonesRefusesForgeries(t *testing.T) {
	kr, dir := newTestKeyring(t)
	ctx := context.Background()
	kr.NewDataKey(ctx, "job/j-1")
	id, _ := kr.Shred(ctx, "job/j-1")
	tdir := filepath.Join(dir, tombstonesName)
	good := filepath.Join(tdir, tombName("job/j-1", id))
	data, _ := os.ReadFile(good)
	os.WriteFile(filepath.Join(tdir, tombName("job/j-2", id)), data, 0o600)
	if _, err := ReadTombstones(dir); !errdefs.IsDataLoss(err) {
		t.Fatalf("a tombstone under another object's name: got %v, want data loss", err)
	}
	os.Remove(filepath.Join(tdir, tombName("job/j-2", id)))
	os.WriteFile(good, []byte(`{"format":"x"}`), 0o600)
	if _, err := ReadTombstones(dir); !errdefs.IsDataLoss(err) {
		t.Fatalf("a malformed tombstone: got %v, want data loss", err)
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzParseTombstone: a tombstone file read from a keyring given to a
// restore parses to a valid tombstone filed under its own name, or is
// refused as data loss.
func FuzzParseTombstone(f *testing.F) {
	const obj, id = "job/j-1", "kek-0123456789abcdef0123456789abcdef"
	f.Add([]byte(`{"format":"enclave-local-tombstone-v1","object":"job/j-1","key_id":"kek-0123456789abcdef0123456789abcdef","shredded":"2026-12-01T00:00:00Z"}`), tombName(obj, id))
	f.Add([]byte(`{"format":"enclave-local-tombstone-v1","object":"job/j-1","key_id":"../x","shredded":"2026-12-01T00:00:00Z"}`), "x.tomb")
	f.Add([]byte(`{}`), "")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		ts, err := parseTombstone(data, name)
		if err != nil {
			if !errdefs.IsDataLoss(err) {
				t.Fatalf("error of another class: %v", err)
			}
			return
		}
		if tombName(ts.Object, ts.KeyID) != name || ts.Shredded.IsZero() {
			t.Fatalf("accepted %+v under %q", ts, name)
		}
	})
}
