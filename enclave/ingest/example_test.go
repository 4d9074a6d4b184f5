package ingest_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/enclave-dev/enclave/enclave/ingest"
	"github.com/enclave-dev/enclave/enclave/synth"
)

// exampleKeyring is just enough of keys.Keyring for the example: one
// in-memory data key, no wrapping worth the name. Use enclave/keys/local.
type exampleKeyring struct{ key []byte }

func (k *exampleKeyring) NewDataKey(context.Context, string) ([]byte, []byte, error) {
	k.key = make([]byte, 32)
	rand.Read(k.key)
	return append([]byte(nil), k.key...), []byte("wrapped"), nil
}
func (k *exampleKeyring) UnwrapDataKey(context.Context, string, []byte) ([]byte, error) {
	return append([]byte(nil), k.key...), nil
}
func (k *exampleKeyring) Shred(context.Context, string) (string, error) { return "k1", nil }
func (k *exampleKeyring) Secret(_ context.Context, p string) ([]byte, error) {
	return []byte(strings.Repeat("s", 32)), nil
}
func (k *exampleKeyring) Sign(context.Context, []byte) ([]byte, error)         { return nil, nil }
func (k *exampleKeyring) PublicKey(context.Context) (ed25519.PublicKey, error) { return nil, nil }
func (k *exampleKeyring) Name() string                                         { return "example" }

// The daemon's import: parse the spec, import into a staging directory,
// record the result in the catalogue, rename the directory into place.
// A job's input area gets the plaintext with Decrypt.
func ExampleImport() {
	ctx := context.Background()
	root, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(root)
	in := filepath.Join(root, "penalties.csv")
	f, _ := os.Create(in)
	synth.WriteCSV(f, 1, 1000)
	f.Close()

	spec, err := ingest.ParseSpec(strings.NewReader(synth.Spec("credit_penalties")))
	if err != nil {
		fmt.Println(err)
		return
	}
	kr := &exampleKeyring{}
	stage := filepath.Join(root, "staging-credit_penalties@1")
	res, err := ingest.Import(ctx, ingest.Source{Path: in}, spec, ingest.ImportOptions{
		Version: 1, Dir: stage, Keyring: kr, KeyObject: "dataset/credit_penalties@1",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	final := filepath.Join(root, "credit_penalties@1")
	os.Rename(stage, final)
	fmt.Println(res.Rows, res.Level, res.Market, res.Marks()[ingest.MarkDataset])
	for _, c := range res.Columns[3:5] {
		fmt.Println(c.Name, c.Type, c.Level, c.PI, c.Rule)
	}

	os.Mkdir(filepath.Join(root, "in"), 0o700)
	dst := filepath.Join(root, "in", ingest.PlainDataFile)
	err = ingest.Decrypt(ctx, final, kr, "dataset/credit_penalties@1", res.WrappedKey, dst,
		ingest.DecryptOptions{DataSHA256: res.DataSHA256})
	fmt.Println(err)
	// Output:
	// 1000 general-4 authorized credit_penalties
	// legal_rep_id utf8 general-4 identity hash{hmac-sha256:pseudonym}
	// legal_rep_phone utf8 general-4 identity mask{keep_first:3,keep_last:4,char:*}
	// <nil>
}
