package client

import (
	"context"
	"io"
	"net/url"

	"github.com/enclave-dev/enclave/enclave/api"
)

// UploadDataset uploads an operator's own data (issue 20): the same import
// as ImportDataset, published pending review.
func (c *Client) UploadDataset(ctx context.Context, name string, spec []byte, data io.Reader, upload func(sent int64), progress func(api.ImportProgress)) (api.Dataset, error) {
	return c.importTo(ctx, "/v1/uploads", name, spec, data, upload, progress)
}

// ReviewUpload approves (verb "approve") or rejects ("reject") a pending upload.
func (c *Client) ReviewUpload(ctx context.Context, ref, verb, reason string) (api.Dataset, error) {
	var out api.Dataset
	return out, c.Do(ctx, "POST", "/v1/datasets/"+url.PathEscape(ref)+"/"+url.PathEscape(verb), api.ReasonRequest{Reason: reason}, &out)
}
