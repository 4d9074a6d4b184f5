package ingest

import (
	"bytes"
	"sync"
	"testing"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// countingAllocator is a Go allocator that counts what it is asked for.
type countingAllocator struct {
	memory.GoAllocator
	mu            sync.Mutex
	allocs, frees int
	freed         [][]byte
}

func (c *countingAllocator) Allocate(n int) []byte {
	c.mu.Lock()
	c.allocs++
	c.mu.Unlock()
	return c.GoAllocator.Allocate(n)
}

func (c *countingAllocator) Free(b []byte) {
	c.mu.Lock()
	c.frees++
	c.freed = append(c.freed, b)
	c.mu.Unlock()
}

func same(a, b []byte) bool { return unsafe.SliceData(a) == unsafe.SliceData(b) }

// TestRecyclerReuses: a freed buffer is handed out again for a size of its
// class, cleared whatever was written in it, and not for another class.
func TestRecyclerReuses(t *testing.T) {
	under := &countingAllocator{}
	r := newRecycler(under)
	a := r.Allocate(5000)
	if len(a) != 5000 || cap(a) != 8192 {
		t.Fatalf("got len %d cap %d, want 5000 in a buffer of 8192", len(a), cap(a))
	}
	for i := range a[:cap(a)] {
		a[:cap(a)][i] = 0xAA
	}
	r.Free(a)
	if under.frees != 0 {
		t.Fatalf("a recycled buffer went to the allocator underneath")
	}
	if b := r.Allocate(3000); same(a, b) {
		t.Fatal("a buffer of 8 KiB was handed out for 3000 bytes (class 4 KiB)")
	} else {
		r.Free(b)
	}
	b := r.Allocate(8000)
	if !same(a, b) || under.allocs != 2 {
		t.Fatalf("the freed buffer was not reused (%d allocations underneath, want 2)", under.allocs)
	}
	if len(b) != 8000 || !bytes.Equal(b, make([]byte, 8000)) {
		t.Fatal("a reused buffer was not cleared")
	}
	// Grown within its capacity, it stays in place and the new bytes are
	// cleared too.
	b[0] = 1
	b[:cap(b)][8100] = 0xAA
	c := r.Reallocate(8192, b)
	if !same(b, c) || c[0] != 1 || c[8100] != 0 {
		t.Fatalf("Reallocate within the capacity: moved %v, kept %d, cleared %d", !same(b, c), c[0], c[8100])
	}
	// Grown beyond it, it is copied and the old buffer kept.
	d := r.Reallocate(9000, c)
	if same(c, d) || len(d) != 9000 || d[0] != 1 {
		t.Fatalf("Reallocate beyond the capacity: got len %d, first byte %d", len(d), d[0])
	}
	if e := r.Allocate(8192); !same(e, c) {
		t.Fatal("the buffer left by Reallocate was not reused")
	}
}

// TestRecyclerForeign: a buffer the recycler did not hand out (a mapping
// of the input, another allocator's) goes to the allocator underneath and
// is never handed out; sizes outside the classes are not kept.
func TestRecyclerForeign(t *testing.T) {
	under := &countingAllocator{}
	r := newRecycler(under)
	foreign := make([]byte, 4096)
	r.Free(foreign)
	if under.frees != 1 {
		t.Fatalf("a foreign buffer: %d frees underneath, want 1", under.frees)
	}
	if got := r.Allocate(4096); same(got, foreign) {
		t.Fatal("a foreign buffer was handed out")
	}
	huge := r.Allocate(1<<recycleMaxShift + 1)
	r.Free(huge)
	if under.frees != 2 {
		t.Fatalf("a buffer over the largest class: %d frees underneath, want 2", under.frees)
	}
	if got := r.Allocate(0); len(got) != 0 {
		t.Fatalf("Allocate(0): got %d bytes", len(got))
	}
}

// TestRecyclerBound: no more than recycleHeld bytes are kept; close gives
// them back, and a buffer freed after close is not kept.
func TestRecyclerBound(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	r := newRecycler(mem)
	var bufs [][]byte
	for range 2 * recycleHeld / (1 << 20) {
		bufs = append(bufs, r.Allocate(1<<20))
	}
	for _, b := range bufs {
		r.Free(b)
	}
	if r.held != recycleHeld {
		t.Fatalf("kept %d bytes, want %d", r.held, recycleHeld)
	}
	if got := mem.CurrentAlloc(); got != recycleHeld {
		t.Fatalf("held underneath: %d bytes, want the %d kept", got, recycleHeld)
	}
	late := r.Allocate(1 << 20)
	r.close()
	r.Free(late)
	mem.AssertSize(t, 0)
}

// TestRecyclerConcurrent allocates and frees from several goroutines, as
// the reader, the workers and the writer do (run with -race).
func TestRecyclerConcurrent(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	r := newRecycler(mem)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				b := r.Allocate(1000 + 100*g + i)
				for j := range b {
					if b[j] != 0 {
						t.Errorf("goroutine %d: a buffer handed out was not clear", g)
						return
					}
					b[j] = byte(g + 1)
				}
				r.Free(b)
			}
		})
	}
	wg.Wait()
	r.close()
	mem.AssertSize(t, 0)
}
