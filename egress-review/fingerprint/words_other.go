//go:build !linux

package fingerprint

// words is a slice of fingerprints; on Linux it is mapped outside the Go
// heap (words_linux.go).
type words struct{ s []uint64 }

func newWords(owner *Builder, n int) *words { return &words{s: make([]uint64, n)} }

func (w *words) free() {
	if w != nil {
		w.s = nil
	}
}
