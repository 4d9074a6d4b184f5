package sandboxtest

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// SyncBuffer is a bytes.Buffer safe for concurrent use, for job logs
// and for what a runtime logs while jobs run.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// NoJobFigures fails when a line a runtime logged about job id (JSON
// lines, at any level) carries a figure the job sets: its exit status or
// how many bytes of its log were dropped. The daemon's log is read
// outside the review, so a figure there is a way out; both backends are
// held to it.
func NoJobFigures(t testing.TB, log, id string) {
	t.Helper()
	var seen bool
	for _, line := range strings.Split(log, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["job"] != id {
			continue
		}
		seen = true
		for _, k := range []string{"code", "exit_code", "dropped_bytes", "bytes"} {
			if _, ok := rec[k]; ok {
				t.Errorf("the runtime logged %q of job %s: %s", k, id, line)
			}
		}
	}
	if !seen {
		t.Errorf("the runtime logged no line about job %s at any level: the check would pass on anything", id)
	}
}
