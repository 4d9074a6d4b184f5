package release

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// TestNamesInTheAttestation (issue 21): the attestation names the
// requester and each approving officer beside their ids, under the
// signature: a bundle with names verifies and gives them back, a name
// changed after signing fails, and a bundle released before names (no
// name fields in its payload) still verifies.
func TestNamesInTheAttestation(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	build := func(pred Predicate) []byte {
		t.Helper()
		content := []byte("district,count\nDonglin,120\n")
		p := filepath.Join(t.TempDir(), "table.csv")
		os.WriteFile(p, content, 0o600)
		sum := sha256.Sum256(content)
		pred.Release, pred.Export, pred.Org, pred.ReleasedAt = "r_1", "x_1", "acme", time.Unix(1700000000, 0)
		pred.Files = []File{{Name: "table.csv", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(content))}}
		var b bytes.Buffer
		if err := Write(&b, pred, []Source{{Name: "table.csv", Path: p}}, pub, func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil }); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	payloadOf := func(b []byte) []byte {
		var out []byte
		rewrite(t, b, func(n string, d []byte) []byte {
			if n == AttestationName {
				var env Envelope
				json.Unmarshal(d, &env)
				out, _ = base64.StdEncoding.DecodeString(env.Payload)
			}
			return d
		}, nil)
		return out
	}

	named := build(Predicate{Requester: "p_4c52", RequesterName: "Wang Lei",
		Approvals: []Approval{{Person: "p_9e01", PersonName: "Zhao Min", Org: "bank"}}})
	v, err := Verify(bytes.NewReader(named), pub)
	if err != nil {
		t.Fatalf("verify a bundle with names: %v", err)
	}
	p := v.Predicate
	if p.Requester != "p_4c52" || p.RequesterName != "Wang Lei" || len(p.Approvals) != 1 || p.Approvals[0].Person != "p_9e01" || p.Approvals[0].PersonName != "Zhao Min" {
		t.Fatalf("verified predicate: got requester %q %q, approvals %+v", p.Requester, p.RequesterName, p.Approvals)
	}
	if pl := string(payloadOf(named)); !strings.Contains(pl, `"requester_name":"Wang Lei"`) || !strings.Contains(pl, `"person_name":"Zhao Min"`) {
		t.Fatalf("the signed payload does not carry the names: %s", pl)
	}

	// A name changed after signing: the signature no longer verifies.
	renamed := rewrite(t, named, func(n string, d []byte) []byte {
		if n != AttestationName {
			return d
		}
		var env Envelope
		json.Unmarshal(d, &env)
		pl, _ := base64.StdEncoding.DecodeString(env.Payload)
		env.Payload = base64.StdEncoding.EncodeToString(bytes.Replace(pl, []byte("Zhao Min"), []byte("Zhao Mia"), 1))
		out, _ := json.Marshal(env)
		return out
	}, nil)
	if _, err := Verify(bytes.NewReader(renamed), pub); err == nil || !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), "no signature verifies") {
		t.Fatalf("a name changed after signing: got %v, want the signature refused", err)
	}

	// A bundle from before names: its payload has no name fields at all.
	old := build(Predicate{Requester: "p_4c52", Approvals: []Approval{{Person: "p_9e01", Org: "bank"}}})
	if pl := string(payloadOf(old)); strings.Contains(pl, "_name") {
		t.Fatalf("an older bundle's payload names people: %s", pl)
	}
	v, err = Verify(bytes.NewReader(old), pub)
	if err != nil || v.Predicate.Requester != "p_4c52" || v.Predicate.RequesterName != "" || v.Predicate.Approvals[0].PersonName != "" {
		t.Fatalf("an older bundle without names: got %+v, %v; want it verified with ids alone", v, err)
	}
}
