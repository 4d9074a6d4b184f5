package kubernetes

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOOMKills reads the oom_kill count of memory.oom_control as the
// kernel writes it, and 0 from a file without one or no file.
func TestOOMKills(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		text string
		want uint64
	}{
		{"oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", 3},
		{"oom_kill_disable 0\nunder_oom 1\noom_kill 0\n", 0},
		{"oom_kill_disable 1\nunder_oom 0\n", 0}, // kernels before 4.13
		{"", 0},
	} {
		f := filepath.Join(dir, "memory.oom_control")
		if err := os.WriteFile(f, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := oomKills(f); got != tc.want {
			t.Errorf("oomKills(%q) = %d, want %d", tc.text, got, tc.want)
		}
	}
	if got := oomKills(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("oomKills of no file = %d, want 0", got)
	}
}
