package fingerprint

import (
	"runtime"
	"syscall"
	"unsafe"
)

// words is a slice of fingerprints outside the Go heap: anonymous memory
// mapped for the spill buffer and its scratch space, so that they do not
// raise the garbage collector's goal (with GOGC=100 a slice on the heap
// costs up to twice its size in resident memory). Pages become resident
// as they are touched.
type words struct {
	s       []uint64
	mem     []byte
	cleanup runtime.Cleanup
}

// newWords maps n fingerprints. Unless freed first, they are unmapped once
// owner is unreachable; the slice must not be used beyond owner's life.
func newWords(owner *Builder, n int) *words {
	mem, err := syscall.Mmap(-1, 0, 8*n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		// No address space or mapping left: the heap will do.
		return &words{s: make([]uint64, n)}
	}
	w := &words{s: unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(mem))), n), mem: mem}
	w.cleanup = runtime.AddCleanup(owner, func(mem []byte) { syscall.Munmap(mem) }, mem)
	return w
}

// free unmaps the memory; w.s must not be used afterwards.
func (w *words) free() {
	if w == nil || w.mem == nil {
		return
	}
	w.cleanup.Stop()
	syscall.Munmap(w.mem)
	w.s, w.mem = nil, nil
}
