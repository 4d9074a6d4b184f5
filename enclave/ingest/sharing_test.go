package ingest

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// TestSpecSharing: the spec's sharing class (issue 20) is parsed, absent
// means unconditional, and a class not known is refused naming it.
func TestSpecSharing(t *testing.T) {
	base := "name: d\nmarket: ordinary\ncolumns:\n  a: {level: general-1, rule: keep}\n"
	for _, tc := range []struct{ line, want string }{
		{"", "unconditional"}, {"sharing: unconditional\n", "unconditional"},
		{"sharing: conditional\n", "conditional"}, {"sharing: none\n", "none"},
	} {
		s, err := ParseSpec(strings.NewReader(tc.line + base))
		if err != nil || string(s.Sharing) != tc.want {
			t.Fatalf("spec with %q: got %v %v, want sharing %s", tc.line, s, err, tc.want)
		}
	}
	_, err := ParseSpec(strings.NewReader("sharing: sometimes\n" + base))
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `sharing "sometimes"`) {
		t.Fatalf("unknown sharing class: got %v, want an invalid argument naming it", err)
	}
}
