package local_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/keys/local"
)

// A dataset version gets a data key at import; destroying the dataset
// shreds the key, after which the stored wrapped key is useless.
func Example() {
	dir, _ := os.MkdirTemp("", "keyring-example-")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	kr, err := local.Create(filepath.Join(dir, "keys")) // enclaved init
	if err != nil {
		fmt.Println(err)
		return
	}
	plain, wrapped, _ := kr.NewDataKey(ctx, "dataset/credit_penalties@1")

	kr, _ = local.Open(filepath.Join(dir, "keys")) // enclaved run
	again, _ := kr.UnwrapDataKey(ctx, "dataset/credit_penalties@1", wrapped)
	fmt.Println("unwrapped the same key:", bytes.Equal(plain, again))

	_, err = kr.Shred(ctx, "dataset/credit_penalties@1")
	fmt.Println("shredded:", err == nil)
	_, err = kr.UnwrapDataKey(ctx, "dataset/credit_penalties@1", wrapped)
	fmt.Println("unwrap after shred is not-found:", errdefs.IsNotFound(err))

	pub, _ := kr.PublicKey(ctx)
	sig, _ := kr.Sign(ctx, []byte("checkpoint"))
	fmt.Println("signature verifies:", keys.VerifySignature(pub, []byte("checkpoint"), sig))
	// Output:
	// unwrapped the same key: true
	// shredded: true
	// unwrap after shred is not-found: true
	// signature verifies: true
}
