package server

import (
	"net/http"
	"testing"
)

// TestRouteGroups: the groups of routeGroups have names of their own and
// each serves something on a server with every part; a group whose parts
// the server lacks is neither served nor in the API document.
func TestRouteGroups(t *testing.T) {
	names := map[string]bool{}
	for _, g := range routeGroups {
		if names[g.name] {
			t.Errorf("route group %q is in the list twice", g.name)
		}
		names[g.name] = true
	}
	served := func(s *Server) map[string]bool {
		out := map[string]bool{}
		for _, rt := range s.routes {
			out[rt.Method+" "+rt.Path] = true
		}
		return out
	}
	jw := newJobWorld(t)
	all := served(jw.srv)
	for _, g := range routeGroups {
		rs := g.routes(jw.srv)
		if len(rs) == 0 {
			t.Errorf("route group %q serves nothing on a server with every part", g.name)
		}
		for _, rt := range rs {
			if !all[rt.Method+" "+rt.Path] {
				t.Errorf("route %s %s of group %q is not served", rt.Method, rt.Path, g.name)
			}
		}
	}
	// A server with a catalogue but no job manager nor export service.
	h := newHarness(t, nil)
	some := served(h.srv)
	for _, tc := range []struct {
		route string
		want  bool
	}{
		{"GET /v1/health", true}, {"GET /v1/datasets", true}, {"POST /v1/applications", true}, {"GET /v1/audit", true},
		{"POST /v1/jobs", false}, {"GET /v1/images", false}, {"POST /v1/exports", false}, {"GET /v1/releases", false},
	} {
		if some[tc.route] != tc.want || !all[tc.route] {
			t.Errorf("%s: served %v without jobs and exports, %v with every part; want %v and true", tc.route, some[tc.route], all[tc.route], tc.want)
		}
	}
	if code, body := h.do(h.admin, "GET", "/v1/jobs", nil); code != http.StatusNotFound {
		t.Errorf("GET /v1/jobs without a job manager: got %d %s, want 404", code, body)
	}
	doc := h.srv.OpenAPI()["paths"].(map[string]any)
	if _, ok := doc["/v1/jobs"]; ok {
		t.Error("the document of a server without a job manager names /v1/jobs")
	}
	if _, ok := doc["/v1/datasets"]; !ok {
		t.Error("the document of a server with a catalogue does not name /v1/datasets")
	}
}
