package checks

import (
	"context"
	"io"

	"github.com/apache/arrow-go/v18/arrow/memory"
	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/egress-review/scan"
)

// Default returns every check in its default configuration, for export
// requests: the output contract, then marks, raw values, row copying,
// disclosure control, file types and differencing.
func Default() []review.Check {
	return WithAllocator(nil)
}

// WithAllocator is Default with Arrow buffers allocated from mem (nil: the
// Go allocator). Tests pass a memory.CheckedAllocator.
func WithAllocator(mem memory.Allocator) []review.Check {
	t := table{Mem: mem}
	return []review.Check{
		Contract{table: t},
		Marks{table: t},
		RawValues{table: t},
		RowCopy{table: t},
		Disclosure{table: t},
		FileTypes{},
		Differencing{table: t},
	}
}

// PreviewChecks returns the checks that guard output previews an operator
// asks for (issue 6 item 5: checks b to e): raw values, row copying,
// disclosure control and file types. Marks are not required of a preview.
func PreviewChecks() []review.Check {
	return []review.Check{RawValues{}, RowCopy{}, Disclosure{}, FileTypes{}}
}

// ScanText reads r (a job log, a text preview) line by line and returns the
// 0-based numbers of the lines to withhold: lines holding a value of the
// sets (canonicalized, decoded, joined as the raw-values check does) and
// lines longer than scan.MaxLine. On an error the caller withholds
// everything. With no sets nothing is withheld.
func ScanText(ctx context.Context, r io.Reader, sets []*fingerprint.Set, h *fingerprint.Hasher) (withheld []int, err error) {
	sc, err := scan.New(h, sets)
	if err != nil {
		return nil, err
	}
	return sc.ScanText(ctx, r)
}
