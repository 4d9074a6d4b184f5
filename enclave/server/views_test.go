package server

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api/apitest"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/usage"
)

// TestViewsKeepTheWire: each mapping of a domain value to its api type
// encodes to the very JSON the domain value encodes to (the names the
// console and scripts read), with every field set and with none.
func TestViewsKeepTheWire(t *testing.T) {
	tests := []struct {
		name         string
		domain, view func(full bool) any
		// extra are the fields the view adds to the domain's encoding.
		extra map[string]any
	}{
		{"org", func(f bool) any { return org(f) }, func(f bool) any { return orgView(org(f)) }, map[string]any{"id": nil}},
		{"person", func(f bool) any { return person(f) }, func(f bool) any { return personView(person(f)) }, nil},
		{"token", func(f bool) any { return token(f) }, func(f bool) any { return tokenView(token(f)) }, nil},
		{"image", func(f bool) any { return image(f) }, func(f bool) any { return imageView(image(f)) }, nil},
		{"export", func(f bool) any { return export(f) }, func(f bool) any { return exportView(export(f)) }, nil},
		{"application", func(f bool) any { return application(f) }, func(f bool) any { return applicationView(application(f)) }, nil},
		{"grant", func(f bool) any { return grant(f) }, func(f bool) any { return grantView(grant(f)) }, nil},
		{"usage report", func(f bool) any { return report(f) }, func(f bool) any { return usageReportView(report(f)) }, nil},
	}
	for _, tc := range tests {
		for _, full := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/full=%v", tc.name, full), func(t *testing.T) {
				want := decoded(t, tc.domain(full))
				got := decoded(t, tc.view(full))
				for k := range tc.extra {
					if _, ok := got[k]; !ok {
						t.Errorf("view has no field %q", k)
					}
					delete(got, k)
				}
				if !reflect.DeepEqual(got, want) {
					g, _ := json.Marshal(got)
					w, _ := json.Marshal(want)
					t.Errorf("got  %s\nwant %s", g, w)
				}
			})
		}
	}
}

func decoded(t *testing.T, v any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func pick[T any](full bool) T {
	if full {
		return apitest.Filled[T]()
	}
	var zero T
	return zero
}

func org(f bool) people.Org                  { return pick[people.Org](f) }
func person(f bool) people.Person            { return pick[people.Person](f) }
func token(f bool) people.Token              { return pick[people.Token](f) }
func image(f bool) *jobs.Image               { v := pick[jobs.Image](f); return &v }
func export(f bool) *exports.Export          { v := pick[exports.Export](f); return &v }
func application(f bool) *grants.Application { v := pick[grants.Application](f); return &v }
func grant(f bool) *grants.Grant             { v := pick[grants.Grant](f); return &v }
func report(f bool) *usage.Report            { v := pick[usage.Report](f); return &v }

// TestEmptyListsAreLists: a list with nothing in it is [] on the wire, as
// it was before the api types, never null (the console maps over lists).
func TestEmptyListsAreLists(t *testing.T) {
	jw := newJobWorld(t)
	for _, path := range []string{"/v1/exports", "/v1/releases", "/v1/jobs", "/v1/orgs", "/v1/images"} {
		code, body := jw.do(jw.bureau.Token, "GET", path, nil)
		if path == "/v1/images" {
			code, body = jw.do(jw.officer.Token, "GET", path, nil)
		}
		if code != 200 || strings.TrimSpace(string(body)) == "null" {
			t.Errorf("GET %s: got %d %s, want a list", path, code, body)
		}
	}
}
