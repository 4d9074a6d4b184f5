package release

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

func bundle(t testing.TB, priv ed25519.PrivateKey) []byte {
	dir := t.TempDir()
	content := []byte("district,count\nDonglin,120\n")
	p := filepath.Join(dir, "table.csv")
	os.WriteFile(p, content, 0o600)
	sum := sha256.Sum256(content)
	pred := Predicate{Release: "r_1", Export: "e_1", Org: "acme", Scenario: "dashboard", ReleasedAt: time.Unix(1700000000, 0),
		Files: []File{{Name: "table.csv", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(content)), Level: "general-2"}},
		Job:   Job{ID: "j-1", Image: "sha256:" + strings.Repeat("a", 64)}, Approvals: []Approval{{Person: "p_o"}}}
	var b bytes.Buffer
	pub := priv.Public().(ed25519.PublicKey)
	if err := Write(&b, pred, []Source{{Name: "table.csv", Path: p}}, pub, func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil }); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rewrite copies a bundle through edit, which may change or drop entries
// (return nil to drop) and append new ones.
func rewrite(t *testing.T, b []byte, edit func(name string, data []byte) []byte, extra map[string][]byte) []byte {
	tr := tar.NewReader(bytes.NewReader(b))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		data, _ := io.ReadAll(tr)
		data = edit(h.Name, data)
		if data == nil {
			continue
		}
		tw.WriteHeader(&tar.Header{Name: h.Name, Mode: 0o644, Size: int64(len(data))})
		tw.Write(data)
	}
	for n, d := range extra {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(d))})
		tw.Write(d)
	}
	tw.Close()
	return out.Bytes()
}

func TestVerify(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	b := bundle(t, priv)
	v, err := Verify(bytes.NewReader(b), pub)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if len(v.Files) != 1 || v.Files[0].Name != "table.csv" || v.Predicate.Scenario != "dashboard" {
		t.Fatalf("verified: got %+v", v)
	}
	same := func(name string, d []byte) []byte { return d }
	for _, tc := range []struct {
		name string
		b    []byte
		key  ed25519.PublicKey
		want string
	}{
		{"other key", b, otherPub, "no signature verifies"},
		{"changed file", rewrite(t, b, func(n string, d []byte) []byte {
			if n == "files/table.csv" {
				return bytes.Replace(d, []byte("120"), []byte("121"), 1)
			}
			return d
		}, nil), pub, "does not match its signed SHA-256"},
		{"missing file", rewrite(t, b, func(n string, d []byte) []byte {
			if n == "files/table.csv" {
				return nil
			}
			return d
		}, nil), pub, "missing"},
		{"extra file", rewrite(t, b, same, map[string][]byte{"files/raw.csv": []byte("x")}), pub, "not named by the attestation"},
		{"unsafe name", rewrite(t, b, same, map[string][]byte{"../etc/passwd": []byte("x")}), pub, "unsafe name"},
		{"changed attestation", rewrite(t, b, func(n string, d []byte) []byte {
			if n == AttestationName {
				return bytes.Replace(d, []byte(`"payload": "`), []byte(`"payload": "AA`), 1)
			}
			return d
		}, nil), pub, "bundle"},
		{"no attestation", rewrite(t, b, func(n string, d []byte) []byte {
			if n == AttestationName {
				return nil
			}
			return d
		}, nil), pub, "no attestation"},
		{"not a tar", []byte("hello"), pub, "tar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(bytes.NewReader(tc.b), tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errdefs.IsDataLoss(err) {
				t.Fatalf("got %v, want a data-loss error containing %q", err, tc.want)
			}
		})
	}
}

func TestWriteRefusesChangedFile(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	dir := t.TempDir()
	p := filepath.Join(dir, "t.csv")
	os.WriteFile(p, []byte("now different"), 0o600)
	pred := Predicate{Files: []File{{Name: "t.csv", SHA256: strings.Repeat("0", 64)}}}
	err := Write(io.Discard, pred, []Source{{Name: "t.csv", Path: p}}, priv.Public().(ed25519.PublicKey), func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil })
	if !errdefs.IsDataLoss(err) {
		t.Fatalf("got %v, want data loss", err)
	}
}

func FuzzVerify(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(zeroReader{})
	f.Add(bundle(f, priv))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Verify(bytes.NewReader(data), pub)
		if err == nil && v == nil {
			t.Fatal("nil result without error")
		}
		if err != nil && !errdefs.IsDataLoss(err) {
			t.Fatalf("error of another class: %v", err)
		}
	})
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 1
	}
	return len(p), nil
}
