// Package procmem reads a process's own peak resident memory.
package procmem

import (
	"fmt"
	"os"
	"strings"
)

// PeakRSS is the calling process's peak resident memory in bytes: VmHWM of
// /proc/self/status, the high-water mark of the memory map exec made.
//
// A parent does not read it from the child's rusage: Go starts a child by
// vfork, sharing the parent's memory map until exec, and Linux carries
// that map's high-water mark into the child's ru_maxrss, so a large
// parent (a test binary under -race, a bench that ran its references)
// reads as the child's peak.
func PeakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	return parseHWM(string(b))
}

func parseHWM(status string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kib); err != nil || kib <= 0 {
				return 0, fmt.Errorf("read VmHWM %q of /proc/self/status: not a size in kB", strings.TrimSpace(v))
			}
			return kib << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}
