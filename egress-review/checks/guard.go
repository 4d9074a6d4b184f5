package checks

import (
	"fmt"

	"github.com/containerd/errdefs"
)

// GuardArrowFile checks the flatbuffers of the Arrow IPC file at path
// before anything hands it to arrow-go, whose readers trust vector lengths
// and can be made to allocate without bound by a crafted file. Callers
// outside the checks that read an output's schema (for an attestation, a
// preview) call it first and refuse the file when it fails.
func GuardArrowFile(path string) error {
	kind, _, err := Sniff(path, "")
	if err != nil {
		return err
	}
	if kind != KindArrowFile {
		return fmt.Errorf("not an Arrow IPC file: %w", errdefs.ErrInvalidArgument)
	}
	return guardArrow(path, kind)
}
