package checker

import "testing"

// TestOutOfMemoryClassifies holds the ways the Go runtime dies for want of
// memory under RLIMIT_DATA to the memory reason, and other deaths to none:
// a check that allocates without end must be named as memory whichever
// allocation met the limit first.
func TestOutOfMemoryClassifies(t *testing.T) {
	for _, tc := range []struct {
		stderr string
		want   bool
	}{
		{"fatal error: runtime: out of memory\n\ngoroutine 1 [running]:", true},
		{"runtime: cannot allocate memory\nfatal error: mmap failed", true},
		{"runtime: mmap(0xc000400000, 67108864) returned 0, errno=12\nfatal error: runtime: mmap failed", true},
		{"runtime: failed to create new OS thread (have 7 already; errno=11)\nruntime: may need to increase max user processes (ulimit -u)\nfatal error: newosproc", true},
		{"runtime/cgo: pthread_create failed: Resource temporarily unavailable\nSIGABRT: abort", true},
		{"panic: runtime error: index out of range [3] with length 3", false},
		{"fatal error: all goroutines are asleep - deadlock!", false},
		{"", false},
	} {
		if got := outOfMemory([]byte(tc.stderr)); got != tc.want {
			t.Errorf("outOfMemory(%q) = %v, want %v", tc.stderr, got, tc.want)
		}
	}
}
