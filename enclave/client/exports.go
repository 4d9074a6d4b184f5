package client

import (
	"context"
	"io"
	"net/url"

	"github.com/enclave-dev/enclave/enclave/api"
)

// RequestExport asks to take outputs of a job out.
func (c *Client) RequestExport(ctx context.Context, req api.ExportRequest) (api.Export, error) {
	var out api.Export
	return out, c.Do(ctx, "POST", "/v1/exports", req, &out)
}

// ListExports lists export requests.
func (c *Client) ListExports(ctx context.Context) ([]api.Export, error) {
	var out []api.Export
	return out, c.Do(ctx, "GET", "/v1/exports", nil, &out)
}

// ListReleases lists the product register.
func (c *Client) ListReleases(ctx context.Context) ([]api.Export, error) {
	var out []api.Export
	return out, c.Do(ctx, "GET", "/v1/releases", nil, &out)
}

// ShowExport returns one export request.
func (c *Client) ShowExport(ctx context.Context, id string) (api.Export, error) {
	var out api.Export
	return out, c.Do(ctx, "GET", "/v1/exports/"+url.PathEscape(id), nil, &out)
}

// DecideExport approves, rejects or requests changes (verb).
func (c *Client) DecideExport(ctx context.Context, id, verb string, req api.ReviewRequest) (api.Export, error) {
	var out api.Export
	return out, c.Do(ctx, "POST", "/v1/exports/"+url.PathEscape(id)+"/"+verb, req, &out)
}

// DownloadRelease streams the release bundle of a released export.
func (c *Client) DownloadRelease(ctx context.Context, id string) (io.ReadCloser, error) {
	return c.Stream(ctx, "GET", "/v1/exports/"+url.PathEscape(id)+"/download", nil)
}
