package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/url"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
)

// ImportDataset uploads spec and data and imports them as the next version
// of name (empty: the spec's name). upload is called as the data is sent;
// progress as the daemon imports it.
func (c *Client) ImportDataset(ctx context.Context, name string, spec []byte, data io.Reader, upload func(sent int64), progress func(api.ImportProgress)) (api.Dataset, error) {
	return c.importTo(ctx, "/v1/datasets", name, spec, data, upload, progress)
}

// importTo sends an import to path (/v1/datasets or /v1/uploads).
func (c *Client) importTo(ctx context.Context, path, name string, spec []byte, data io.Reader, upload func(sent int64), progress func(api.ImportProgress)) (api.Dataset, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			w, err := mw.CreateFormFile("spec", "spec.yaml")
			if err != nil {
				return err
			}
			if _, err := w.Write(spec); err != nil {
				return err
			}
			w, err = mw.CreateFormFile("data", "data")
			if err != nil {
				return err
			}
			buf := make([]byte, 1<<20)
			var sent int64
			for {
				n, rerr := data.Read(buf)
				if n > 0 {
					if _, err := w.Write(buf[:n]); err != nil {
						return err
					}
					sent += int64(n)
					if upload != nil {
						upload(sent)
					}
				}
				if rerr == io.EOF {
					break
				}
				if rerr != nil {
					return rerr
				}
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	resp, err := c.sendType(ctx, "POST", path+Query("name", name), pr, mw.FormDataContentType())
	if err != nil {
		return api.Dataset{}, err
	}
	defer resp.Body.Close()
	return readImportAnswer(resp.Body, progress)
}

// readImportAnswer reads the JSON lines of an import's answer: progress
// lines, then the published version or an error.
func readImportAnswer(r io.Reader, progress func(api.ImportProgress)) (api.Dataset, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var l api.ImportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return api.Dataset{}, fmt.Errorf("decode the daemon's import answer: %w", err)
		}
		switch {
		case l.Progress != nil:
			if progress != nil {
				progress(*l.Progress)
			}
		case l.Dataset != nil:
			if l.Dataset.ID == "" {
				return api.Dataset{}, fmt.Errorf("the daemon's import answer names no dataset version: %w", errdefs.ErrUnknown)
			}
			return *l.Dataset, nil
		case l.Error != nil:
			return api.Dataset{}, &Error{Status: 200, ErrorDetail: *l.Error}
		}
	}
	if err := sc.Err(); err != nil {
		return api.Dataset{}, fmt.Errorf("read the daemon's import answer: %w", err)
	}
	return api.Dataset{}, fmt.Errorf("the daemon ended the import answer without a result: %w", errdefs.ErrUnknown)
}

// ListDatasets returns the catalogue; all lists every version.
func (c *Client) ListDatasets(ctx context.Context, all bool) ([]api.Dataset, error) {
	var out []api.Dataset
	q := ""
	if all {
		q = "?all=1"
	}
	return out, c.Do(ctx, "GET", "/v1/datasets"+q, nil, &out)
}

// ShowDataset returns one version, "NAME" (the newest) or "NAME@V".
func (c *Client) ShowDataset(ctx context.Context, ref string) (api.Dataset, error) {
	var out api.Dataset
	return out, c.Do(ctx, "GET", "/v1/datasets/"+url.PathEscape(ref), nil, &out)
}

// SetDatasetState seals or unseals (verb) every version of a dataset.
func (c *Client) SetDatasetState(ctx context.Context, name, verb, reason string) ([]api.Dataset, error) {
	var out []api.Dataset
	return out, c.Do(ctx, "POST", "/v1/datasets/"+url.PathEscape(name)+"/"+url.PathEscape(verb), api.ReasonRequest{Reason: reason}, &out)
}

// DestroyDataset destroys a version ("NAME@V") or every version ("NAME").
func (c *Client) DestroyDataset(ctx context.Context, ref, reason string) (api.DestroyResult, error) {
	var out api.DestroyResult
	return out, c.Do(ctx, "POST", "/v1/datasets/"+url.PathEscape(ref)+"/destroy", api.ReasonRequest{Reason: reason}, &out)
}
