package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestCheckOutputs(t *testing.T) {
	hundred := make([]string, MaxOutputs)
	for i := range hundred {
		hundred[i] = fmt.Sprintf("f%03d.csv", i)
	}
	tests := []struct {
		name  string
		names []string
		want  string // "" for ok
	}{
		{"none", nil, ""},
		{"plain", []string{"counts.arrow", "MANIFEST.json", "_notes-1.txt", "9"}, ""},
		{"64 characters", []string{strings.Repeat("a", 64)}, ""},
		{"100 outputs", hundred, ""},
		{"65 characters", []string{strings.Repeat("a", 65)}, OutputNameRule},
		{"leading dot", []string{".env"}, OutputNameRule},
		{"dotdot", []string{".."}, OutputNameRule},
		{"leading dash", []string{"-rf"}, OutputNameRule},
		{"slash", []string{"a/b"}, OutputNameRule},
		{"space", []string{"a b"}, OutputNameRule},
		{"not ascii", []string{"表.csv"}, OutputNameRule},
		{"empty", []string{""}, OutputNameRule},
		{"twice", []string{"a", "b", "a"}, "declared twice"},
		{"101 outputs", append(hundred, "one-more"), "at most 100 outputs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckOutputs(tc.names)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want ok", err)
			case tc.want != "" && (!errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an invalid-argument error naming %q", err, tc.want)
			}
		})
	}
}
