package local

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/keys/keystest"
)

func newTestKeyring(t *testing.T) (*Keyring, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	kr, err := Create(dir)
	if err != nil {
		t.Fatalf("Create: got error %v, want nil", err)
	}
	return kr, dir
}

func TestContract(t *testing.T) {
	keystest.Run(t, func(t *testing.T) keys.Keyring {
		kr, _ := newTestKeyring(t)
		return kr
	})
	keystest.RunPersistence(t, func(t *testing.T) (keys.Keyring, func(t *testing.T) keys.Keyring) {
		kr, dir := newTestKeyring(t)
		return kr, func(t *testing.T) keys.Keyring {
			again, err := Open(dir)
			if err != nil {
				t.Fatalf("Open: got error %v, want nil", err)
			}
			return again
		}
	})
}

func TestCreateModes(t *testing.T) {
	_, dir := newTestKeyring(t)
	ctx := context.Background()
	kr, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	if _, _, err := kr.NewDataKey(ctx, "dataset/modes@1"); err != nil {
		t.Fatalf("NewDataKey: got error %v, want nil", err)
	}
	kekFiles, _ := filepath.Glob(filepath.Join(dir, objectsName, "*"+kekSuffix))
	if len(kekFiles) != 1 {
		t.Fatalf("KEK files: got %d, want 1", len(kekFiles))
	}
	tests := []struct {
		path string
		want os.FileMode
	}{
		{dir, os.ModeDir | 0o700},
		{filepath.Join(dir, rootName), 0o600},
		{filepath.Join(dir, objectsName), os.ModeDir | 0o700},
		{kekFiles[0], 0o600},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatalf("Stat: got error %v, want nil", err)
			}
			if got := fi.Mode() & (os.ModeDir | os.ModePerm); got != tc.want {
				t.Errorf("mode: got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCreateRefusesExisting(t *testing.T) {
	kr, dir := newTestKeyring(t)
	root := filepath.Join(dir, rootName)
	before, err := os.ReadFile(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("second Create: got %v, want an already-exists error", err)
	}
	after, err := os.ReadFile(root)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("keyring file after a refused Create: got changed content, want unchanged")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory entries after a refused Create: got %d, want 2", len(entries))
	}
	// The first keyring still works.
	if _, _, err := kr.NewDataKey(context.Background(), "dataset/x@1"); err != nil {
		t.Errorf("NewDataKey after a refused Create: got error %v, want nil", err)
	}
}

func TestCreateConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	const n = 8
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = Create(dir)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case !errdefs.IsAlreadyExists(err):
			t.Errorf("concurrent Create: got %v, want nil or an already-exists error", err)
		}
	}
	if ok != 1 {
		t.Errorf("concurrent Create: got %d successes, want 1", ok)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		is    func(error) bool
	}{
		{"missing", func(t *testing.T, dir string) { os.RemoveAll(dir) }, errdefs.IsNotFound},
		{"readable by others", func(t *testing.T, dir string) {
			os.Chmod(filepath.Join(dir, rootName), 0o644)
		}, errdefs.IsFailedPrecondition},
		{"corrupted key byte", func(t *testing.T, dir string) {
			path := filepath.Join(dir, rootName)
			data, _ := os.ReadFile(path)
			// Replace one base64 character of the master key.
			i := bytes.Index(data, []byte(`"master_key": "`)) + len(`"master_key": "`)
			if data[i] == 'A' {
				data[i] = 'B'
			} else {
				data[i] = 'A'
			}
			os.WriteFile(path, data, 0o600)
		}, errdefs.IsDataLoss},
		{"truncated", func(t *testing.T, dir string) {
			path := filepath.Join(dir, rootName)
			data, _ := os.ReadFile(path)
			os.WriteFile(path, data[:len(data)/2], 0o600)
		}, errdefs.IsDataLoss},
		{"future format", func(t *testing.T, dir string) {
			path := filepath.Join(dir, rootName)
			data, _ := os.ReadFile(path)
			os.WriteFile(path, bytes.Replace(data, []byte(rootFormat), []byte("enclave-local-keyring-v9"), 1), 0o600)
		}, errdefs.IsNotImplemented},
		{"objects directory missing", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, objectsName))
		}, errdefs.IsDataLoss},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, dir := newTestKeyring(t)
			tc.setup(t, dir)
			if _, err := Open(dir); !tc.is(err) {
				t.Errorf("Open: got %v, want a different error class", err)
			}
		})
	}
}

func TestShredRemovesFile(t *testing.T) {
	kr, dir := newTestKeyring(t)
	ctx := context.Background()
	for _, obj := range []string{"dataset/a@1", "dataset/b@1"} {
		if _, _, err := kr.NewDataKey(ctx, obj); err != nil {
			t.Fatalf("NewDataKey(%q): got error %v, want nil", obj, err)
		}
	}
	path := kr.kekPath("dataset/a@1")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A second link to the file shows what was on disk after Shred: the
	// content must have been overwritten in place, not only unlinked.
	witness := filepath.Join(t.TempDir(), "witness")
	if err := os.Link(path, witness); err != nil {
		t.Skipf("SKIP: hard link not possible here: %v", err)
	}
	id, err := kr.Shred(ctx, "dataset/a@1")
	if err != nil {
		t.Fatalf("Shred: got error %v, want nil", err)
	}
	left, err := os.ReadFile(witness)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != len(data) || bytes.Contains(left, []byte(kekFormat)) {
		t.Errorf("KEK file content after Shred: got %d bytes still holding the record, want %d random bytes", len(left), len(data))
	}
	if !validKEKID(id) || !bytes.Contains(data, []byte(id)) {
		t.Errorf("Shred: got id %q, want the id recorded in the KEK file", id)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("KEK file after Shred: got %v, want it removed", err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, objectsName))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != filepath.Base(kr.kekPath("dataset/b@1")) {
		t.Errorf("objects directory after Shred: got %v, want only the KEK of the other object", names)
	}
}

// A KEK file copied over another object's does not unwrap that object's
// data keys: the file names its object, and the KEK is bound to it.
func TestKEKFileSwapped(t *testing.T) {
	kr, _ := newTestKeyring(t)
	ctx := context.Background()
	_, wa, err := kr.NewDataKey(ctx, "dataset/a@1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := kr.NewDataKey(ctx, "dataset/b@1"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func([]byte) []byte
	}{
		{"file of another object", func(b []byte) []byte { return b }},
		{"object field rewritten", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"dataset/b@1"`), []byte(`"dataset/a@1"`), 1)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(kr.kekPath("dataset/b@1"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(kr.kekPath("dataset/a@1"), tc.edit(data), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := kr.UnwrapDataKey(ctx, "dataset/a@1", wa); !errdefs.IsDataLoss(err) {
				t.Errorf("UnwrapDataKey: got %v, want a data-loss error", err)
			}
		})
	}
}

// After Shred a new data key for the same object gets a new KEK; keys
// wrapped under the shredded one stay undecryptable.
func TestNewDataKeyAfterShred(t *testing.T) {
	kr, _ := newTestKeyring(t)
	ctx := context.Background()
	_, old, err := kr.NewDataKey(ctx, "dataset/a@1")
	if err != nil {
		t.Fatal(err)
	}
	id1, err := kr.Shred(ctx, "dataset/a@1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := kr.NewDataKey(ctx, "dataset/a@1"); err != nil {
		t.Fatalf("NewDataKey after Shred: got error %v, want nil", err)
	}
	if _, err := kr.UnwrapDataKey(ctx, "dataset/a@1", old); !errdefs.IsDataLoss(err) {
		t.Errorf("UnwrapDataKey of a key of the shredded KEK: got %v, want a data-loss error", err)
	}
	id2, err := kr.Shred(ctx, "dataset/a@1")
	if err != nil || id2 == id1 {
		t.Errorf("Shred of the new KEK: got (%q, %v), want a new id and nil", id2, err)
	}
}

func TestErrorsHoldNoKeyMaterial(t *testing.T) {
	_, dir := newTestKeyring(t)
	path := filepath.Join(dir, rootName)
	data, _ := os.ReadFile(path)
	// Break the JSON right after the signing seed so a decoder error
	// would be tempted to quote it.
	i := bytes.Index(data, []byte(`"signing_seed": "`)) + len(`"signing_seed": "`)
	seed := string(data[i : i+20])
	broken := append(bytes.Clone(data[:i+20]), []byte("\x00garbage")...)
	os.WriteFile(path, broken, 0o600)
	_, err := Open(dir)
	if err == nil {
		t.Fatal("Open of a broken file: got nil error, want an error")
	}
	if strings.Contains(err.Error(), seed) {
		t.Errorf("Open error: got a message quoting key material, want none")
	}
}

func TestSecretIsNotTheSeed(t *testing.T) {
	kr, _ := newTestKeyring(t)
	s, err := kr.Secret(context.Background(), "pseudonym")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(s, kr.secretSeed) {
		t.Errorf("Secret: got the raw seed, want a derived key")
	}
}

// The on-disk format is a compatibility promise: a file written by hand
// from the documented fields (the fixed test keys of the fuzz seed
// corpus) parses to the keys it names.
func TestParseRootFixedFile(t *testing.T) {
	data, err := os.ReadFile("testdata/fuzz/FuzzOpenKeyring/valid-fixed-test-keys")
	if err != nil {
		t.Fatal(err)
	}
	// Unquote the corpus file's []byte("…") line.
	line := strings.Split(string(data), "\n")[1]
	body, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(line, "[]byte("), ")"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseRoot([]byte(body))
	if err != nil {
		t.Fatalf("parseRoot: got error %v, want nil", err)
	}
	wantPub := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	if got := m.signing.Public().(ed25519.PublicKey); !got.Equal(wantPub) {
		t.Errorf("signing key: got public %x, want %x", got, wantPub)
	}
	if !bytes.Equal(m.master, bytes.Repeat([]byte{1}, 32)) || !bytes.Equal(m.secretSeed, bytes.Repeat([]byte{2}, 32)) {
		t.Errorf("master key or secrets seed: got other bytes than the file names")
	}
}

// TestHoldsKey: the keyring holds its own signing key, after a reopen too,
// and no other (the audit log verifies each checkpoint unless it does).
func TestHoldsKey(t *testing.T) {
	kr, dir := newTestKeyring(t)
	pub, err := kr.PublicKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !kr.HoldsKey(pub) {
		t.Fatal("HoldsKey(own public key) = false")
	}
	other, _ := newTestKeyring(t)
	otherPub, _ := other.PublicKey(context.Background())
	if kr.HoldsKey(otherPub) || kr.HoldsKey(pub[:16]) || kr.HoldsKey(nil) {
		t.Fatal("HoldsKey of another key, a short key or none = true")
	}
	again, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.HoldsKey(pub) {
		t.Fatal("reopened: HoldsKey(own public key) = false")
	}
	var _ audit.KeyHolder = kr
}
