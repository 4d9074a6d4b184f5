package server

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// TestRequestLog: each request gets a debug line (request, route, status,
// person) when debug is on, and none at info, where building it is skipped.
func TestRequestLog(t *testing.T) {
	for _, c := range []struct {
		level slog.Level
		want  bool
	}{{slog.LevelDebug, true}, {slog.LevelInfo, false}} {
		var buf sandboxtest.SyncBuffer
		h := newHarnessWith(t, nil, func(d *Deps) {
			d.Log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: c.level}))
		})
		if code, _ := h.do(h.admin, "GET", "/v1/whoami", nil); code != 200 {
			t.Fatalf("whoami: %d", code)
		}
		out := buf.String()
		got := strings.Contains(out, "msg=request ") && strings.Contains(out, "route=/v1/whoami") &&
			strings.Contains(out, "status=200") && strings.Contains(out, "person=p_admin")
		if got != c.want {
			t.Errorf("at %v: request line logged = %v, want %v; log:\n%s", c.level, got, c.want, out)
		}
		if !c.want && strings.Contains(out, "route=") {
			t.Errorf("at %v: a request line was logged:\n%s", c.level, out)
		}
	}
}
