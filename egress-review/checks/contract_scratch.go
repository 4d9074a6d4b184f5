package checks

import "sync"

// slicePool keeps the large slices of judging a table (a code or number
// per row, a group per row) for the next table, so that judging one does
// not allocate and zero them again. A slice from get has length 0 and
// holds whatever the last user wrote beyond it: every user writes each
// element it reads.
type slicePool[T any] struct{ p sync.Pool }

// minPooled is the least capacity worth keeping.
const minPooled = 1 << 12

// get returns an empty slice with room for n elements.
func (sp *slicePool[T]) get(n int) []T {
	if n >= minPooled {
		if v, ok := sp.p.Get().(*[]T); ok && cap(*v) >= n {
			return (*v)[:0]
		}
	}
	return make([]T, 0, n)
}

// put keeps s for a later get; the caller keeps no reference to it.
func (sp *slicePool[T]) put(s []T) {
	if cap(s) >= minPooled {
		s = s[:0]
		sp.p.Put(&s)
	}
}

var (
	poolInt32   slicePool[int32]
	poolFloat64 slicePool[float64]
	poolUint64  slicePool[uint64]
	poolInt     slicePool[int]
	poolByte    slicePool[byte]
)
