package synth

import (
	"bytes"
	"encoding/csv"
	"slices"
	"testing"

	"github.com/enclave-dev/enclave/enclave/pii"
)

func TestRecordsValidate(t *testing.T) {
	g := New(7, 400)
	districts := map[string]bool{}
	for _, d := range Districts {
		districts[d.Name] = true
	}
	for i := 0; i < 400; i++ {
		r := g.Next()
		if err := pii.ValidUSCC(r.USCC); err != nil {
			t.Fatalf("record %d: uscc: %v", i, err)
		}
		if pii.ValidResidentID(r.USCC) == nil {
			t.Fatalf("record %d: got a credit code that reads as a resident id, want none", i)
		}
		if err := pii.ValidResidentID(r.LegalRepID); err != nil {
			t.Fatalf("record %d: resident id: %v", i, err)
		}
		if r.LegalRepID[:2] != "99" {
			t.Fatalf("record %d: got division %q, want the fictional 99", i, r.LegalRepID[:6])
		}
		if err := pii.ValidMobile(r.LegalRepPhone); err != nil {
			t.Fatalf("record %d: mobile: %v", i, err)
		}
		if !districts[r.District] || !slices.Contains(PenaltyTypes, r.PenaltyType) {
			t.Fatalf("record %d: got district %q type %q, want known ones", i, r.District, r.PenaltyType)
		}
		if r.Amount < 0 || r.Amount > 5_000_000 {
			t.Fatalf("record %d: got amount %d, want 0..5000000", i, r.Amount)
		}
	}
}

func TestDeterministic(t *testing.T) {
	var a, b, c bytes.Buffer
	if err := WriteCSV(&a, 1, 100); err != nil {
		t.Fatal(err)
	}
	WriteCSV(&b, 1, 100)
	WriteCSV(&c, 2, 100)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("got different output for the same seed, want the same")
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("got the same output for different seeds, want different")
	}
	rows, err := csv.NewReader(&a).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 101 || !slices.Equal(rows[0], Columns) {
		t.Fatalf("got %d rows with header %v, want 101 with %v", len(rows), rows[0], Columns)
	}
}
