package fingerprint

import (
	"runtime"
	"testing"
)

// TestSpillBufferOffHeap fills a spilling Builder's 8 MiB buffer and sorts
// it (a spill), and checks that neither the buffer nor the scratch space
// is on the Go heap, and that Close unmaps them.
func TestSpillBufferOffHeap(t *testing.T) {
	const budget = 8 << 20
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	b := NewBuilder(WithSpill(t.TempDir(), budget))
	for i := range budget/8 + 1 { // one more than fits: a spill
		b.AddValue(uint64(i) * 0x9e3779b97f4a7c15)
	}
	if b.bufMem == nil || b.bufMem.mem == nil || b.scratchMem == nil || b.scratchMem.mem == nil {
		t.Fatal("got spill memory on the heap, want it mapped")
	}
	if grown := int64(heap()) - int64(before); grown > budget/2 {
		t.Errorf("got the heap %d KiB larger with a %d KiB buffer, want the buffer off the heap", grown>>10, budget>>10)
	}
	if _, _, err := b.WriteSet(discard{}); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(b)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if b.bufMem != nil || b.buf != nil || b.scratch != nil {
		t.Error("Close left the spill memory referenced")
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
