package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/jobs"
)

// TestImagesOfAnotherOrganisation: an operator lists their organisation's
// images and the approved images of others, without who imported or
// decided them, never another organisation's pending image; an approved
// image of another organisation runs on a grant of the operator's own,
// a pending one does not. Officers see every image.
func TestImagesOfAnotherOrganisation(t *testing.T) {
	jw := newJobWorld(t)
	w := jw.world
	pending := "sha256:" + strings.Repeat("0", 63) + "2"
	if err := jobs.CreateImage(jw.ctx, w.db.SQL(), &jobs.Image{Digest: pending, Name: "acme-model", Size: 1, Status: jobs.ImagePending,
		Org: "acme", ImportedBy: w.operator.ID, ImportedAt: w.now}); err != nil {
		t.Fatal(err)
	}
	w.mustDo(w.authority.Token, "POST", "/v1/orgs", licensed(api.OrgRequest{Name: "rival", Type: "company", LicenceFrom: "2026-01-01",
		LicenceUntil: "2027-12-31"}), nil)
	rival := w.member("Rival Operator", "rival", "operator")
	var a struct{ ID string }
	w.mustDo(rival.Token, "POST", "/v1/applications", api.ApplicationRequest{Datasets: []string{"penalties"}, Purpose: "risk statistics",
		Scenario: "dashboard", Until: "2027-06-30"}, &a)
	w.mustDo(w.authority.Token, "POST", "/v1/applications/"+a.ID+"/approve", api.CommentRequest{}, nil)

	tests := []struct {
		name  string
		token string
		want  map[string]string // digest -> imported_by shown
	}{
		{"operator of the importing organisation", w.operator.Token, map[string]string{jw.image: w.operator.ID, pending: w.operator.ID}},
		{"operator of another organisation", rival.Token, map[string]string{jw.image: ""}},
		{"officer", jw.officer.Token, map[string]string{jw.image: w.operator.ID, pending: w.operator.ID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ims []jobs.Image
			w.mustDo(tc.token, "GET", "/v1/images", nil, &ims)
			got := map[string]string{}
			for _, im := range ims {
				got[im.Digest] = im.ImportedBy
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for d, by := range tc.want {
				if b, ok := got[d]; !ok || b != by {
					t.Errorf("image %s: got imported_by %q (listed %v), want %q", d, b, ok, by)
				}
			}
		})
	}
	run := func(image string) (int, []byte) {
		return w.do(rival.Token, "POST", "/v1/jobs", api.JobRequest{Image: image, Inputs: []string{"penalties"}, Args: []string{"ok"}})
	}
	if code, body := run(jw.image); code != 201 {
		t.Fatalf("another organisation's approved image on one's own grant: got %d %s, want 201", code, body)
	}
	code, body := run(pending)
	var eb api.ErrorBody
	json.Unmarshal(body, &eb)
	if code != 403 || len(eb.Error.Reasons) != 1 || !strings.HasPrefix(eb.Error.Reasons[0], "image.not_approved") {
		t.Fatalf("another organisation's pending image: got %d %s, want a denial by image.not_approved", code, body)
	}
}
