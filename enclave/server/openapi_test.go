package server

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// TestCheckRoutes: the server refuses to start with a route table whose
// routes share an operation id (generated clients name their methods by
// it) or that serves one method and path twice. The document itself is
// validated in enclave/api.
func TestCheckRoutes(t *testing.T) {
	show := route{Method: "GET", Path: "/v1/things/{id}", Action: "thing.list"}
	list := route{Method: "GET", Path: "/v1/things", Action: "thing.list"}
	for _, tc := range []struct {
		name   string
		routes []route
		want   string
	}{
		{"shared action", []route{list, show}, `share the operation id "thing.list"`},
		{"same path twice", []route{list, list}, "served twice"},
		{"told apart by Op", []route{list, func() route { r := show; r.Op = "thing.show"; return r }()}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRoutes(tc.routes)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want ok", err)
			case tc.want != "" && (!errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an invalid-argument error naming %q", err, tc.want)
			}
		})
	}
}
