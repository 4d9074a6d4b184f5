package ingest

import (
	"math/bits"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// recycler is the Arrow allocator of one import: it keeps the buffers of
// the batches it is through with and hands them to the next ones, so that
// an import of gigabytes allocates a few dozen megabytes once instead of
// twice its input's size batch by batch (which kept the garbage collector
// running, with its write barriers on, most of the time).
//
// A buffer comes back cleared, as from the allocator underneath, and is
// kept only when the recycler handed it out (it remembers the address of
// each buffer it has out), so a buffer of anyone else's (a mapping of the
// input, say) is never written. Sizes are rounded up to a power of two
// from recycleMin up to recycleMax; other sizes, and buffers beyond
// recycleHeld bytes kept, go to the allocator underneath.
type recycler struct {
	under memory.Allocator

	mu     sync.Mutex
	out    map[*byte]int // buffers handed out: their size class
	free   [recycleClasses][][]byte
	held   int  // bytes in free
	closed bool // after close: nothing more is kept
}

const (
	recycleMinShift = 12 // 4 KiB
	recycleMaxShift = 24 // 16 MiB
	recycleClasses  = recycleMaxShift - recycleMinShift + 1
	recycleHeld     = 48 << 20
)

func newRecycler(under memory.Allocator) *recycler {
	return &recycler{under: under, out: make(map[*byte]int)}
}

// sizeClass is the class of a buffer of n bytes, or -1 for one not
// recycled.
func sizeClass(n int) int {
	if n <= 0 || n > 1<<recycleMaxShift {
		return -1
	}
	shift := max(bits.Len(uint(n-1)), recycleMinShift)
	return shift - recycleMinShift
}

func (r *recycler) Allocate(n int) []byte {
	c := sizeClass(n)
	if c < 0 {
		return r.under.Allocate(n)
	}
	r.mu.Lock()
	var b []byte
	if l := r.free[c]; len(l) > 0 {
		b = l[len(l)-1]
		r.free[c] = l[:len(l)-1]
		r.held -= cap(b)
	}
	r.mu.Unlock()
	if b != nil {
		b = b[:n]
		clear(b)
	} else {
		b = r.under.Allocate(1 << (c + recycleMinShift))[:n]
	}
	r.mu.Lock()
	r.out[unsafe.SliceData(b)] = c
	r.mu.Unlock()
	return b
}

func (r *recycler) Reallocate(n int, b []byte) []byte {
	if n <= cap(b) {
		r.mu.Lock()
		_, ours := r.out[unsafe.SliceData(b)]
		r.mu.Unlock()
		if ours {
			old := len(b)
			b = b[:n]
			if n > old {
				clear(b[old:])
			}
			return b
		}
	}
	nb := r.Allocate(n)
	copy(nb, b)
	r.Free(b)
	return nb
}

func (r *recycler) Free(b []byte) {
	p := unsafe.SliceData(b)
	r.mu.Lock()
	c, ours := r.out[p]
	if ours {
		delete(r.out, p)
		b = b[:cap(b)] // as the allocator underneath gave it
		if !r.closed && r.held+cap(b) <= recycleHeld {
			r.free[c] = append(r.free[c], b)
			r.held += cap(b)
			r.mu.Unlock()
			return
		}
	}
	r.mu.Unlock()
	r.under.Free(b)
}

// close gives the buffers kept back to the allocator underneath, so that
// its accounting balances when the import is over; a buffer freed later
// goes straight to it.
func (r *recycler) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c, l := range r.free {
		for _, b := range l {
			r.under.Free(b)
		}
		r.free[c] = nil
	}
	r.held, r.closed = 0, true
}
