package release

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
)

// signedUsage makes a usage statement envelope as the daemon does
// (services.Runtime.Statement), signed by key.
func signedUsage(t testing.TB, key ed25519.PrivateKey, st api.UsageStatement) []byte {
	t.Helper()
	body, _ := json.Marshal(st)
	sum := sha256.Sum256(body)
	payload, _ := json.Marshal(map[string]any{"_type": StatementType, "predicateType": api.UsageStatementType, "predicate": st,
		"subject": []Subject{{Name: "usage/" + st.Subscription + "/" + st.Day + ".json", Digest: Digest{SHA256: hex.EncodeToString(sum[:])}}}})
	env := Envelope{PayloadType: PayloadType, Payload: base64.StdEncoding.EncodeToString(payload), Signatures: []Signature{
		{KeyID: KeyID(key.Public().(ed25519.PublicKey)), Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(key, PAE(PayloadType, payload)))}}}
	data, _ := json.Marshal(env)
	return data
}

func TestOpenUsageStatement(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	st := api.UsageStatement{Subscription: "sub_1", Service: "firms", Org: "bank", Day: "2026-12-06", Calls: 5, Matches: 4, Misses: 1, Charge: 0.05, Currency: "CNY"}
	good := signedUsage(t, key, st)
	env, err := ParseEnvelope(good)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenUsageStatement(env, pub)
	if err != nil || *got != st {
		t.Fatalf("got %+v %v, want %+v", got, err, st)
	}
	if _, err := OpenUsageStatement(env, otherPub); !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), "no signature verifies") {
		t.Fatalf("another key: got %v, want data loss", err)
	}

	// The payload changed after signing (one more call): refused.
	var e2 Envelope
	json.Unmarshal(good, &e2)
	raw, _ := base64.StdEncoding.DecodeString(e2.Payload)
	e2.Payload = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(raw), `"calls":5`, `"calls":6`, 1)))
	if _, err := OpenUsageStatement(&e2, pub); !errdefs.IsDataLoss(err) {
		t.Fatalf("changed payload: got %v, want data loss", err)
	}
	// Signed, but the subject's digest is not the predicate's.
	payload, _ := json.Marshal(map[string]any{"_type": StatementType, "predicateType": api.UsageStatementType, "predicate": st,
		"subject": []Subject{{Name: "x", Digest: Digest{SHA256: strings.Repeat("0", 64)}}}})
	e3 := Envelope{PayloadType: PayloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []Signature{{Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(key, PAE(PayloadType, payload)))}}}
	if _, err := OpenUsageStatement(&e3, pub); !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), "subject") {
		t.Fatalf("subject digest: got %v, want data loss naming the subject", err)
	}
	// A release attestation is not a usage statement.
	payload, _ = json.Marshal(map[string]any{"_type": StatementType, "predicateType": PredicateType, "predicate": map[string]string{}, "subject": []Subject{}})
	e4 := Envelope{PayloadType: PayloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []Signature{{Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(key, PAE(PayloadType, payload)))}}}
	if _, err := OpenUsageStatement(&e4, pub); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("a release attestation: got %v, want invalid argument", err)
	}
	for _, bad := range []string{"", "{}{}", `{"payloadType":1}`, `{"extra":true}`, "[]"} {
		if _, err := ParseEnvelope([]byte(bad)); !errdefs.IsInvalidArgument(err) {
			t.Errorf("ParseEnvelope(%q): got %v, want invalid argument", bad, err)
		}
	}
}

// FuzzOpenUsageStatement: whatever bytes come in, a statement opens only
// when the key signed it; nothing panics.
func FuzzOpenUsageStatement(f *testing.F) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	good := signedUsage(f, key, api.UsageStatement{Subscription: "sub_1", Day: "2026-12-06", Calls: 1})
	f.Add(good)
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := ParseEnvelope(data)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("parse: got %v, want invalid argument", err)
			}
			return
		}
		st, err := OpenUsageStatement(env, pub)
		if err != nil {
			return
		}
		// It opened: the envelope carries a signature by key over its payload.
		payload, _ := base64.StdEncoding.DecodeString(env.Payload)
		signed := false
		for _, s := range env.Signatures {
			sig, _ := base64.StdEncoding.DecodeString(s.Sig)
			signed = signed || ed25519.Verify(pub, PAE(env.PayloadType, payload), sig)
		}
		if !signed || st == nil {
			t.Fatal("an envelope opened without a signature by the key")
		}
	})
}
