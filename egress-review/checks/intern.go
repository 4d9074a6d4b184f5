package checks

import "math/bits"

// internTable maps the distinct values of a column to their codes. A
// value of at most 15 bytes (labels are short) is its own key, packed into
// two words, in an open-addressed table: no hashing of bytes and no
// comparison of strings. Longer values go to a Go map. An internTable is
// for one goroutine.
type internTable struct {
	slots []internSlot // a power of two; empty slots have w1 == 0
	shift uint         // 64 - log2(len(slots))
	used  int
	long  map[string]int32
	n     int
}

type internSlot struct {
	w0, w1 uint64
	code   int32
}

// maxPacked is the longest value that is packed into a slot.
const maxPacked = 15

// pack returns the key of a value of at most maxPacked bytes: its bytes,
// its length and a bit that no empty slot has.
func pack(s string) (w0, w1 uint64) {
	n := len(s)
	switch {
	case n >= 8:
		// the last 8 bytes hold bytes 8 to n-1 at their top
		w0 = le64(s)
		w1 = le64(s[n-8:]) >> (8 * (16 - n))
	case n >= 4:
		// the first and last 4 bytes, which overlap by 8-n
		w0 = uint64(le32(s)) | uint64(le32(s[n-4:]))<<(8*(n-4))
	default:
		for i := n - 1; i >= 0; i-- {
			w0 = w0<<8 | uint64(s[i])
		}
	}
	return w0, w1 | uint64(n)<<56 | 1<<63
}

// le32 reads the first 4 bytes of s, little-endian.
func le32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// le64 reads the first 8 bytes of s, little-endian.
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func (t *internTable) home(w0, w1 uint64) uint64 {
	h := (w0 ^ bits.RotateLeft64(w1, 29)) * 0x9E3779B97F4A7C15
	return h >> t.shift
}

// get returns the code of s.
func (t *internTable) get(s string) (int32, bool) {
	if t == nil {
		return 0, false
	}
	if len(s) > maxPacked {
		k, ok := t.long[s]
		return k, ok
	}
	return t.getPacked(pack(s))
}

// getPacked is get for a value of at most maxPacked bytes, by its key.
func (t *internTable) getPacked(w0, w1 uint64) (int32, bool) {
	if t == nil || len(t.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.home(w0, w1); ; i = (i + 1) & mask {
		sl := &t.slots[i]
		if sl.w1 == w1 && sl.w0 == w0 {
			return sl.code, true
		}
		if sl.w1 == 0 {
			return 0, false
		}
	}
}

// put records the code of s, which the table does not hold.
func (t *internTable) put(s string, code int32) {
	t.n++
	if len(s) > maxPacked {
		if t.long == nil {
			t.long = map[string]int32{}
		}
		t.long[s] = code
		return
	}
	if 2*(t.used+1) > len(t.slots) {
		t.grow()
	}
	t.used++
	w0, w1 := pack(s)
	t.insert(w0, w1, code)
}

func (t *internTable) insert(w0, w1 uint64, code int32) {
	mask := uint64(len(t.slots) - 1)
	i := t.home(w0, w1)
	for t.slots[i].w1 != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = internSlot{w0: w0, w1: w1, code: code}
}

func (t *internTable) grow() {
	old := t.slots
	t.slots = make([]internSlot, max(16, 2*len(old)))
	t.shift = uint(64 - bits.Len(uint(len(t.slots)-1)))
	for _, sl := range old {
		if sl.w1 != 0 {
			t.insert(sl.w0, sl.w1, sl.code)
		}
	}
}

// len returns how many values the table holds.
func (t *internTable) len() int {
	if t == nil {
		return 0
	}
	return t.n
}
