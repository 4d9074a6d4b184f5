package cli

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/release"
)

// TestReleaseVerifyNamesPeople (issue 21): release verify prints the
// requester and the approving officers by name with their ids, from the
// signed attestation; a bundle from before names prints the ids alone.
func TestReleaseVerifyNamesPeople(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	dir := t.TempDir()
	key := filepath.Join(dir, "enclave.pub")
	os.WriteFile(key, []byte(base64.StdEncoding.EncodeToString(pub)), 0o600)
	build := func(name string, pred release.Predicate) string {
		content := []byte("district,count\nDonglin,120\n")
		src := filepath.Join(dir, name+".csv")
		os.WriteFile(src, content, 0o600)
		sum := sha256.Sum256(content)
		pred.Release, pred.Export, pred.Org, pred.ReleasedAt = "r_1", "x_1", "acme", time.Unix(1700000000, 0)
		pred.Files = []release.File{{Name: "table.csv", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(content))}}
		var b bytes.Buffer
		if err := release.Write(&b, pred, []release.Source{{Name: "table.csv", Path: src}}, pub,
			func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil }); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name+".tar")
		os.WriteFile(p, b.Bytes(), 0o600)
		return p
	}
	for _, tc := range []struct {
		name string
		pred release.Predicate
		want []string
	}{
		{"with names", release.Predicate{Requester: "p_4c52", RequesterName: "Wang Lei",
			Approvals: []release.Approval{{Person: "p_9e01", PersonName: "Zhao Min", Org: "bank"}, {Person: "p_1aa2", PersonName: "Chen Jing", Org: "security-office"}}},
			[]string{"acme (requested by Wang Lei (p_4c52))", "approved by Zhao Min (p_9e01) of bank", "approved by Chen Jing (p_1aa2) of security-office"}},
		{"from before names", release.Predicate{Requester: "p_4c52", Approvals: []release.Approval{{Person: "p_9e01", Org: "bank"}}},
			[]string{"acme (requested by p_4c52)", "approved by p_9e01 of bank"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errb := run(t, "release", "verify", build(strings.ReplaceAll(tc.name, " ", "-"), tc.pred), "--key", key)
			if code != ExitOK {
				t.Fatalf("exit %d, stderr %q", code, errb)
			}
			got := strings.Join(strings.Fields(out), " ")
			for _, w := range append(tc.want, "VERIFIED") {
				if !strings.Contains(got, w) {
					t.Errorf("want %q in\n%s", w, out)
				}
			}
		})
	}
}
