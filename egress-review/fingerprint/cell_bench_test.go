package fingerprint

import "testing"

// BenchmarkCell hashes cells like an import's output: names and addresses
// that need canonicalizing (upper case, spaces), codes, dates, digits.
func BenchmarkCell(b *testing.B) {
	h, _ := NewHasher(testKey())
	cells := []string{"Ruixiang Logistics Co., Ltd. No. 65", "JH-PEN-2021-0000001", "2021-03", "Pudong New Area",
		"91310115MA1K3YJ12X", "138****5678", "12500", "Shanghai", "A 12", "fined for late filing"}
	n := 0
	for _, c := range cells {
		n += len(c)
	}
	b.SetBytes(int64(n))
	var x uint64
	for b.Loop() {
		for _, c := range cells {
			x ^= h.Cell(c)
		}
	}
	if x == 0 {
		b.Log(x)
	}
}
