package client

import (
	"context"
	"io"
	"net/url"

	"github.com/enclave-dev/enclave/enclave/api"
)

// Export is an export request as the daemon returns it. Checks holds the
// findings of every check.
type Export struct {
	ID        string `json:"id"`
	Job       string `json:"job"`
	Org       string `json:"org"`
	Requester string `json:"requester"`
	Purpose   string `json:"purpose"`
	Scenario  string `json:"scenario"`
	Files     []struct {
		Name   string `json:"name"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	} `json:"files"`
	Declared map[string]string `json:"declared_levels,omitempty"`
	Level    string            `json:"level"`
	State    string            `json:"state"`
	Checks   struct {
		Findings []Finding `json:"findings"`
		Checks   []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Verdict string `json:"verdict"`
		} `json:"checks"`
		Verdict string `json:"verdict"`
	} `json:"checks"`
	ApprovalsNeeded int `json:"approvals_needed"`
	Reviews         []struct {
		Person        string `json:"person"`
		Org           string `json:"org"`
		Decision      string `json:"decision"`
		Comment       string `json:"comment,omitempty"`
		Justification string `json:"justification,omitempty"`
		Time          string `json:"time"`
	} `json:"reviews"`
	Previews []struct {
		File    string `json:"file"`
		Kind    string `json:"kind"`
		Rows    int64  `json:"rows"`
		Columns []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Level string `json:"level,omitempty"`
			PI    string `json:"pi,omitempty"`
			Nulls int64  `json:"nulls"`
		} `json:"columns,omitempty"`
		Sample [][]string `json:"sample,omitempty"`
		Note   string     `json:"note,omitempty"`
	} `json:"previews"`
	BundleSHA256 string `json:"bundle_sha256,omitempty"`
	CreatedAt    string `json:"created_at"`
	ReleasedAt   string `json:"released_at,omitempty"`
	// View is api.ViewCoarse when sizes are rounded up and hashes withheld
	// until the release, api.ViewExact otherwise.
	View string `json:"view,omitempty"`
}

// Finding is one check's finding.
type Finding struct {
	Check    string `json:"check"`
	Verdict  string `json:"verdict"`
	File     string `json:"file,omitempty"`
	Column   string `json:"column,omitempty"`
	Count    int    `json:"count,omitempty"`
	Evidence string `json:"evidence"`
}

// RequestExport asks to take outputs of a job out.
func (c *Client) RequestExport(ctx context.Context, req api.ExportRequest) (Export, error) {
	var out Export
	return out, c.Do(ctx, "POST", "/v1/exports", req, &out)
}

// ListExports lists export requests.
func (c *Client) ListExports(ctx context.Context) ([]Export, error) {
	var out []Export
	return out, c.Do(ctx, "GET", "/v1/exports", nil, &out)
}

// ListReleases lists the product register.
func (c *Client) ListReleases(ctx context.Context) ([]Export, error) {
	var out []Export
	return out, c.Do(ctx, "GET", "/v1/releases", nil, &out)
}

// ShowExport returns one export request.
func (c *Client) ShowExport(ctx context.Context, id string) (Export, error) {
	var out Export
	return out, c.Do(ctx, "GET", "/v1/exports/"+url.PathEscape(id), nil, &out)
}

// DecideExport approves, rejects or requests changes (verb).
func (c *Client) DecideExport(ctx context.Context, id, verb string, req api.ReviewRequest) (Export, error) {
	var out Export
	return out, c.Do(ctx, "POST", "/v1/exports/"+url.PathEscape(id)+"/"+verb, req, &out)
}

// DownloadRelease streams the release bundle of a released export.
func (c *Client) DownloadRelease(ctx context.Context, id string) (io.ReadCloser, error) {
	return c.Stream(ctx, "GET", "/v1/exports/"+url.PathEscape(id)+"/download", nil)
}
