package client

import (
	"context"
	"net/url"

	"github.com/enclave-dev/enclave/enclave/api"
)

// Application is an application as the daemon returns it.
type Application struct {
	ID        string `json:"id"`
	Org       string `json:"org"`
	Applicant string `json:"applicant"`
	Datasets  []struct {
		Name    string   `json:"name"`
		Columns []string `json:"columns,omitempty"`
	} `json:"datasets"`
	Purpose         string `json:"purpose"`
	Scenario        string `json:"scenario"`
	DataFlow        string `json:"data_flow"`
	PublicInterest  bool   `json:"public_interest"`
	From            string `json:"from"`
	Until           string `json:"until"`
	Batches         *int64 `json:"batches,omitempty"`
	ApprovalsNeeded int    `json:"approvals_needed"`
	Status          string `json:"status"`
	Grant           string `json:"grant,omitempty"`
	Decisions       []struct {
		Person   string `json:"person"`
		Decision string `json:"decision"`
		Comment  string `json:"comment,omitempty"`
		Time     string `json:"time"`
	} `json:"decisions"`
	CreatedAt string `json:"created_at"`
}

// FileApplication files a data-use application.
func (c *Client) FileApplication(ctx context.Context, req api.ApplicationRequest) (Application, error) {
	var out Application
	return out, c.Do(ctx, "POST", "/v1/applications", req, &out)
}

// ListApplications lists the applications the caller may see.
func (c *Client) ListApplications(ctx context.Context) ([]Application, error) {
	var out []Application
	return out, c.Do(ctx, "GET", "/v1/applications", nil, &out)
}

// ShowApplication returns one application.
func (c *Client) ShowApplication(ctx context.Context, id string) (Application, error) {
	var out Application
	return out, c.Do(ctx, "GET", "/v1/applications/"+url.PathEscape(id), nil, &out)
}

// DecideApplication approves or rejects (verb) an application.
func (c *Client) DecideApplication(ctx context.Context, id, verb, comment string) (Application, error) {
	var out Application
	return out, c.Do(ctx, "POST", "/v1/applications/"+url.PathEscape(id)+"/"+url.PathEscape(verb), api.CommentRequest{Comment: comment}, &out)
}
