package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/enclave-dev/enclave/enclave/audit"
)

// edSigner stands in for keys.Keyring, which satisfies audit.Signer.
type edSigner ed25519.PrivateKey

func (s edSigner) Sign(_ context.Context, msg []byte) ([]byte, error) {
	return ed25519.Sign(ed25519.PrivateKey(s), msg), nil
}

// Example shows the daemon's use: open at start, append before every state
// change is committed, verify on demand.
func Example() {
	tmp, _ := os.MkdirTemp("", "audit-example-")
	defer os.RemoveAll(tmp)
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)

	log, err := audit.Open(filepath.Join(tmp, "audit"), edSigner(priv), pub)
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	defer log.Close()

	ctx := context.Background()
	idx, err := log.Append(ctx, audit.Event{
		Time:      time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
		Actor:     "p_admin",
		Action:    "person.add",
		Objects:   []string{"person:p_0001"},
		Outcome:   audit.OutcomeOK,
		RequestID: "req-1",
	})
	if err != nil {
		fmt.Println("append:", err) // the state change must not be committed
		return
	}
	rep, err := log.Verify(ctx)
	if err != nil {
		fmt.Println("verify:", err)
		return
	}
	found, _ := log.List(ctx, audit.Filter{Action: "person.add"})
	fmt.Println(idx, log.Size(), rep.OK, rep.FirstBad, len(found), found[0].Event.Objects[0])
	// Output: 0 1 true -1 1 person:p_0001
}
