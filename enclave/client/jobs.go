package client

import (
	"context"
	"io"
	"net/url"

	"github.com/enclave-dev/enclave/enclave/api"
)

// ImportImage uploads an OCI archive; it stays pending until approved.
func (c *Client) ImportImage(ctx context.Context, name string, archive io.Reader) (api.Image, error) {
	var out api.Image
	resp, err := c.sendType(ctx, "POST", "/v1/images"+Query("name", name), archive, "application/x-tar")
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	return out, decodeBody(resp.Body, &out)
}

// ListImages lists job images.
func (c *Client) ListImages(ctx context.Context) ([]api.Image, error) {
	var out []api.Image
	return out, c.Do(ctx, "GET", "/v1/images", nil, &out)
}

// DecideImage approves or rejects (verb) an image.
func (c *Client) DecideImage(ctx context.Context, digest, verb, comment string) (api.Image, error) {
	var out api.Image
	return out, c.Do(ctx, "POST", "/v1/images/"+url.PathEscape(digest)+"/"+verb, api.CommentRequest{Comment: comment}, &out)
}

// RunJob submits a job.
func (c *Client) RunJob(ctx context.Context, req api.JobRequest) (api.Job, error) {
	var out api.Job
	return out, c.Do(ctx, "POST", "/v1/jobs", req, &out)
}

// ListJobs lists jobs.
func (c *Client) ListJobs(ctx context.Context) ([]api.Job, error) {
	var out []api.Job
	return out, c.Do(ctx, "GET", "/v1/jobs", nil, &out)
}

// ShowJob returns one job.
func (c *Client) ShowJob(ctx context.Context, id string) (api.Job, error) {
	var out api.Job
	return out, c.Do(ctx, "GET", "/v1/jobs/"+url.PathEscape(id), nil, &out)
}

// WaitJob blocks until the job ends or ctx is done.
func (c *Client) WaitJob(ctx context.Context, id string) (api.Job, error) {
	for {
		var j api.Job
		if err := c.Do(ctx, "GET", "/v1/jobs/"+url.PathEscape(id)+"/wait?timeout=50s", nil, &j); err != nil {
			return j, err
		}
		if j.Terminal() {
			return j, nil
		}
		if err := ctx.Err(); err != nil {
			return j, err
		}
	}
}

// JobOutputs lists a job's outputs.
func (c *Client) JobOutputs(ctx context.Context, id string) ([]api.JobOutput, error) {
	var out []api.JobOutput
	return out, c.Do(ctx, "GET", "/v1/jobs/"+url.PathEscape(id)+"/outputs", nil, &out)
}

// JobLogs streams a job's log.
func (c *Client) JobLogs(ctx context.Context, id string) (io.ReadCloser, error) {
	return c.Stream(ctx, "GET", "/v1/jobs/"+url.PathEscape(id)+"/logs", nil)
}

// StopJob cancels or halts (verb) a job with a reason.
func (c *Client) StopJob(ctx context.Context, id, verb, reason string) (api.Job, error) {
	var out api.Job
	return out, c.Do(ctx, "POST", "/v1/jobs/"+url.PathEscape(id)+"/"+verb, api.ReasonRequest{Reason: reason}, &out)
}
