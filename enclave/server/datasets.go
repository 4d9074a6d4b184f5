package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/ingest"
	"github.com/enclave-dev/enclave/enclave/jobs"
	policy "github.com/enclave-dev/enclave/policies"
)

// maxSpecBytes bounds an import spec.
const maxSpecBytes = 1 << 20

func (s *Server) datasetRoutes() []route {
	return []route{
		{Method: "POST", Path: "/v1/datasets", Action: "dataset.import",
			Summary:  "Import a dataset: multipart/form-data with a part \"spec\" (YAML) and then a part \"data\" (CSV, Parquet or Arrow); ?name= names it. The answer is JSON lines: progress, then the published version or an error.",
			Response: api.ImportLine{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return s.importResource(ctx, c, c.query("name"))
			},
			Handle: s.importDataset},
		{Method: "GET", Path: "/v1/datasets", Action: "dataset.list", Summary: "The catalogue: the newest version of each dataset (?all=1: every version); schemas and marks, never rows", Response: []api.Dataset{},
			Handle: func(ctx context.Context, c *call) (any, error) {
				vs, err := s.Catalog.List(ctx, c.query("all") == "1" || c.query("all") == "true")
				if err != nil {
					return nil, err
				}
				out := make([]api.Dataset, 0, len(vs))
				names := personNames{}
				for _, v := range vs {
					if s.visible(c, v) {
						out = append(out, names.dataset(c, datasetView(v)))
					}
				}
				return out, nil
			}},
		{Method: "GET", Path: "/v1/datasets/{ref}", Action: "dataset.show", Summary: "One dataset version (NAME or NAME@V): schema, marks, row count, state", Response: api.Dataset{},
			Resource: s.datasetResource,
			Handle: func(ctx context.Context, c *call) (any, error) {
				name, ver, _ := datasets.ParseRef(c.path("ref"))
				v, err := s.Catalog.Get(ctx, nil, name, ver)
				if err != nil {
					return nil, err
				}
				return personNames{}.dataset(c, datasetView(v)), nil
			}},
		s.datasetStateRoute("seal", datasets.Sealed),
		s.datasetStateRoute("unseal", datasets.Active),
		{Method: "POST", Path: "/v1/datasets/{ref}/destroy", Action: "dataset.destroy",
			Summary: "Destroy a dataset version (NAME@V) or every version (NAME) irreversibly: key shredded, files removed, destruction recorded",
			Request: api.ReasonRequest{}, Response: api.DestroyResult{},
			Resource: s.datasetResource, Handle: s.destroyDataset},
	}
}

// importResource is the dataset an import publishes a version of, owned
// by the organisation that first imported the name; a new name (or none
// yet: the spec names it) is the importer's own.
func (s *Server) importResource(ctx context.Context, c *call, name string) (authz.Resource, error) {
	res := resource("dataset", name, c.subject.Org.Name)
	if name == "" || ingest.ValidName(name) != nil {
		return res, nil // refused as invalid once the import reads it
	}
	owner, err := s.Catalog.Owner(ctx, nil, name)
	switch {
	case errdefs.IsNotFound(err):
	case err != nil:
		return authz.Resource{}, err
	default:
		res.Org = owner
		if owner != c.subject.Org.Name {
			// Another organisation's upload tells nothing of itself,
			// not even whose it is (issue 20): the name is only taken.
			if v, err := s.Catalog.Get(ctx, nil, name, 0); err == nil && v.Upload {
				return authz.Resource{}, fmt.Errorf("dataset name %q is taken; choose another: %w", name, errdefs.ErrAlreadyExists)
			}
		}
	}
	return res, nil
}

// datasetResource describes the dataset a route is about for the policy:
// its owner and its versions' marks and states. An unknown dataset is not
// found before any policy is asked, which tells nothing: the catalogue is
// visible to every role that may act on datasets.
func (s *Server) datasetResource(ctx context.Context, c *call) (authz.Resource, error) {
	name, ver, err := datasets.ParseRef(c.path("ref"))
	if err != nil {
		return authz.Resource{}, err
	}
	res := resource("dataset", c.path("ref"), "")
	vs, err := s.Catalog.Versions(ctx, s.DB.SQL(), name)
	if err != nil {
		return authz.Resource{}, err
	}
	if !s.visible(c, vs[len(vs)-1]) {
		// Another organisation's upload reads as a name never imported.
		return authz.Resource{}, fmt.Errorf("dataset %q: %w", name, errdefs.ErrNotFound)
	}
	res.Org = vs[0].Owner
	// The policies see the version named, or the newest: a dataset appears
	// once in a policy input. The retention follows every version the
	// action touches.
	var shown *datasets.Version
	for _, v := range vs {
		if ver != 0 && v.Version != ver {
			continue
		}
		shown = v
		if v.Market == "authorized" || v.Market == "withheld" {
			c.retention = audit.Retention5y
		}
	}
	if shown == nil {
		return authz.Resource{}, fmt.Errorf("dataset %q version %d: %w", name, ver, errdefs.ErrNotFound)
	}
	res.Datasets = []policy.Dataset{{Name: shown.Name, Version: int64(shown.Version), Owner: shown.Org, Level: shown.Level, Market: shown.Market,
		State: shown.State, Upload: shown.Upload, Sharing: shown.Sharing()}}
	return res, nil
}

func datasetView(v *datasets.Version) api.Dataset {
	cols := make([]api.Column, len(v.Columns))
	for i, c := range v.Columns {
		var ack []string
		for _, k := range c.Acknowledged {
			ack = append(ack, string(k))
		}
		cols[i] = api.Column{Name: c.Name, Type: c.Type, Level: c.Level.String(), PI: string(c.PI), Rule: c.Rule, Acknowledged: ack}
	}
	return api.Dataset{ID: v.ID(), Name: v.Name, Version: v.Version, Category: v.Category, Level: v.Level, Market: v.Market,
		State: v.State, StateReason: v.StateReason, Rows: v.Rows, Bytes: v.Bytes, Columns: cols, Marks: v.Marks,
		SpecSHA256: v.SpecSHA256, DataSHA256: v.DataSHA256, FingerprintValues: v.FingerprintValues, FingerprintRows: v.FingerprintRows,
		CreatedAt: v.CreatedAt, CreatedBy: v.CreatedBy, Org: v.Org, Owner: v.Owner, DestroyedAt: v.DestroyedAt,
		Upload: v.Upload, ReviewedBy: v.ReviewedBy, ReviewedAt: v.ReviewedAt}
}

// importDataset reads the spec and the data, imports into a staging
// directory while streaming progress, and publishes the version with its
// audit entry. Bad input publishes nothing. The raw upload is removed as
// soon as the import ends.
func (s *Server) importDataset(ctx context.Context, c *call) (any, error) {
	return s.importAs(ctx, c, "dataset.import")
}

// importAs is the import of action "dataset.import" (a custodian's) or
// "dataset.upload" (an operator's own data, issue 20: published pending
// review, within the organisation's upload quota).
func (s *Server) importAs(ctx context.Context, c *call, action string) (any, error) {
	upload := action == "dataset.upload"
	mt, _, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, fmt.Errorf("an import is multipart/form-data with parts \"spec\" and \"data\": %w", errdefs.ErrInvalidArgument)
	}
	up, err := s.beginUpload(c)
	if err != nil {
		return nil, err
	}
	defer up.end()
	mr, err := c.r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("read multipart body: %w", errdefs.ErrInvalidArgument)
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "spec" {
		return nil, fmt.Errorf("the first part of an import must be \"spec\": %w", errdefs.ErrInvalidArgument)
	}
	specBytes, err := io.ReadAll(io.LimitReader(part, maxSpecBytes+1))
	if err != nil || len(specBytes) > maxSpecBytes {
		return nil, fmt.Errorf("spec is larger than %d bytes or unreadable: %w", maxSpecBytes, errdefs.ErrInvalidArgument)
	}
	spec, err := ingest.ParseSpec(strings.NewReader(string(specBytes)))
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	if err := datasets.RequireSharing(specBytes); err != nil { // issue 20 item 2: no permissive default
		return nil, err
	}
	name := c.query("name")
	if name == "" {
		name = spec.Name
	}
	if spec.Name != "" && spec.Name != name {
		return nil, fmt.Errorf("--name %q differs from the spec's name %q: %w", name, spec.Name, errdefs.ErrInvalidArgument)
	}
	if name != c.resource.ID {
		// The name came from the spec: ask again about the dataset it names.
		res, err := s.importResource(ctx, c, name)
		if err != nil {
			return nil, err
		}
		if err := c.authorize(ctx, action, res); err != nil {
			return nil, err
		}
	}
	if spec.Market == "authorized" || spec.Market == "withheld" {
		c.retention = audit.Retention5y
	}
	part, err = mr.NextPart()
	if err != nil || part.FormName() != "data" {
		return nil, fmt.Errorf("the second part of an import must be \"data\": %w", errdefs.ErrInvalidArgument)
	}
	tmp, err := os.CreateTemp(s.TempDir, "upload-*")
	if err != nil {
		return nil, fmt.Errorf("create upload file: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := io.Copy(tmp, io.LimitReader(part, s.MaxUploadBytes+1))
	if err != nil {
		if errors.Is(err, errSlowUpload) {
			return nil, err
		}
		return nil, fmt.Errorf("receive data: %w", errdefs.ErrInvalidArgument)
	}
	up.received()
	if n > s.MaxUploadBytes {
		return nil, fmt.Errorf("data is larger than %d bytes: %w", s.MaxUploadBytes, errdefs.ErrInvalidArgument)
	}
	if n == 0 {
		return nil, fmt.Errorf("data is empty: %w", errdefs.ErrInvalidArgument)
	}

	// From here on the answer is a stream of JSON lines.
	c.raw = true
	c.w.Header().Set("Content-Type", "application/x-ndjson")
	c.w.Header().Set("Cache-Control", "no-store")
	c.w.WriteHeader(http.StatusOK)
	var mu sync.Mutex
	enc := json.NewEncoder(c.w)
	flusher, _ := c.w.(http.Flusher)
	send := func(l api.ImportLine) {
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(l)
		if flusher != nil {
			flusher.Flush()
		}
	}
	var last time.Time
	progress := func(bytes, rows int64) {
		if time.Since(last) < 250*time.Millisecond {
			return
		}
		last = time.Now()
		send(api.ImportLine{Progress: &api.ImportProgress{Bytes: bytes, Total: n, Rows: rows}})
	}
	fail := func(err error) (any, error) {
		code, class := status(err)
		msg := err.Error()
		if code >= 500 {
			s.Log.Error("dataset import failed", "request", c.reqID, "err", err)
			msg = "the daemon failed to import; the request id names it in the daemon's log"
		}
		ev := audit.Event{Action: action, Outcome: "failed", Reason: class, Objects: []string{"dataset:" + name}}
		if aerr := c.record(context.WithoutCancel(ctx), ev); aerr != nil {
			s.Log.Error("audit append failed", "request", c.reqID, "err", aerr)
		}
		send(api.ImportLine{Error: &api.ErrorDetail{Class: class, Message: msg, RequestID: c.reqID}})
		return nil, nil
	}
	staged, err := s.Catalog.Stage(ctx, ingest.Source{Path: tmp.Name()}, spec, name, c.subject.Org.Name, c.subject.Person.ID, progress)
	tmp.Close()
	os.Remove(tmp.Name())
	if err != nil {
		return fail(err)
	}
	v := staged.Version
	if upload {
		staged.AsUpload()
	}
	ev := audit.Event{Action: action, Objects: []string{"dataset:" + v.ID()}, Details: map[string]string{
		"rows": fmt.Sprint(v.Rows), "level": v.Level, "market": v.Market, "state": v.State,
		"spec_sha256": v.SpecSHA256, "data_sha256": v.DataSHA256, "key_object": v.KeyObject(),
	}}
	published := false
	err = c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		if upload {
			if err := s.checkUploadQuota(ctx, tx, v.Org, v.Bytes); err != nil {
				return err
			}
		}
		if err := s.Catalog.Publish(ctx, tx, staged); err != nil {
			return err
		}
		published = true
		return nil
	})
	if err != nil {
		if published {
			s.Catalog.Unpublish(ctx, staged)
		} else {
			s.Catalog.Discard(ctx, staged)
		}
		send(api.ImportLine{Error: &api.ErrorDetail{Class: classOf(err), Message: messageOf(err), RequestID: c.reqID}})
		return nil, nil
	}
	view := datasetView(v)
	send(api.ImportLine{Dataset: &view})
	return nil, nil
}

func classOf(err error) string { _, c := status(err); return c }

func messageOf(err error) string {
	if code, _ := status(err); code >= 500 {
		return "the daemon failed; the request id names it in the daemon's log"
	}
	return err.Error()
}

func (s *Server) datasetStateRoute(verb, state string) route {
	action := "dataset." + verb
	return route{Method: "POST", Path: "/v1/datasets/{ref}/" + verb, Action: action,
		Summary: "Set every version of a dataset " + state + ", with a reason", Request: api.ReasonRequest{}, Response: []api.Dataset{},
		Resource: s.datasetResource,
		Handle: func(ctx context.Context, c *call) (any, error) {
			var req api.ReasonRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			if err := checkReason(req.Reason); err != nil {
				return nil, err
			}
			name, ver, _ := datasets.ParseRef(c.path("ref"))
			if ver != 0 {
				return nil, fmt.Errorf("%s applies to a whole dataset; give its name without @version: %w", verb, errdefs.ErrInvalidArgument)
			}
			var changed []*datasets.Version
			ev := audit.Event{Action: action, Objects: []string{"dataset:" + name}, Reason: req.Reason}
			err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
				var err error
				changed, err = s.Catalog.SetState(ctx, tx, name, state, req.Reason)
				return err
			})
			if err != nil {
				return nil, err
			}
			out := make([]api.Dataset, len(changed))
			for i, v := range changed {
				out[i] = datasetView(v)
			}
			return out, nil
		}}
}

func checkReason(r string) error {
	if strings.TrimSpace(r) == "" || len(r) > 1000 {
		return fmt.Errorf("reason is required (at most 1000 bytes): %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

// destroyDataset marks the versions destroyed and records the destruction
// before it takes effect, then shreds each version's key and removes its
// files, and records what was done (object, process, technique, key id).
func (s *Server) destroyDataset(ctx context.Context, c *call) (any, error) {
	var req api.ReasonRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := checkReason(req.Reason); err != nil {
		return nil, err
	}
	name, ver, _ := datasets.ParseRef(c.path("ref"))
	var vs []*datasets.Version
	ev := audit.Event{Action: "dataset.destroy", Objects: []string{"dataset:" + c.path("ref")}, Reason: req.Reason, Outcome: "ok",
		Details: map[string]string{"process": "marked destroyed, then key shredded and files removed"}}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		var err error
		vs, err = s.Catalog.MarkDestroyed(ctx, tx, name, ver, req.Reason)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := api.DestroyResult{ID: c.path("ref")}
	for _, v := range vs {
		d, err := s.Catalog.Shred(context.WithoutCancel(ctx), v)
		rec := audit.Event{Action: "dataset.destruction", Objects: []string{"dataset:" + v.ID()}, Reason: req.Reason, Outcome: "ok",
			Retention: audit.Retention5y,
			Details: map[string]string{"technique": d.Technique, "key_id": d.KeyID, "files_removed": fmt.Sprint(d.Files),
				"key_object": v.KeyObject(), "requested_by": c.subject.Person.ID}}
		if err != nil {
			rec.Outcome, rec.Details["error"] = "failed", classOf(err)
		}
		if aerr := c.record(context.WithoutCancel(ctx), rec); aerr != nil {
			return nil, aerr
		}
		if err != nil {
			return nil, err
		}
		out.Destructions = append(out.Destructions, api.Destruction{Dataset: v.Name, Version: v.Version, KeyID: d.KeyID,
			Technique: d.Technique, Files: d.Files, Reason: req.Reason, Actor: c.subject.Person.ID, Time: s.Now().UTC()})
	}
	// What jobs derived from the versions dies with them: each
	// job's outputs and unreleased exports, shredded and recorded.
	out.Derived = []api.DerivedDestruction{}
	if s.Shredder != nil {
		for _, v := range vs {
			ds, err := s.Shredder.DatasetDestroyed(context.WithoutCancel(ctx), v.Name, v.Version, c.subject.Person.ID, req.Reason)
			for _, d := range ds {
				out.Derived = append(out.Derived, derivedView(d, exactAudit(c)))
			}
			if err != nil {
				return nil, fmt.Errorf("destroy what was derived from dataset %q version %d: %w", v.Name, v.Version, err)
			}
		}
	}
	return out, nil
}

// derivedView is the record of a derived destruction as the caller reads
// it. How many files a job's work area held is a figure the job chose (it
// wrote them), so whoever else reads it, the custodian who destroyed the
// dataset and the job's own operators included, reads it rounded as the
// coarse view rounds a job's figures (jobs.Coarse, as the derived.*
// audit entries are): only the bureau reads it exact (exactAudit).
func derivedView(d jobs.Destruction, exact bool) api.DerivedDestruction {
	files := d.Files
	if !exact {
		files = int(jobs.Coarse(float64(d.Files), 1))
	}
	return api.DerivedDestruction{Object: d.Object, Cause: d.Cause, Process: d.Process,
		Technique: d.Technique, KeyID: d.KeyID, Files: files, Actor: d.Actor, Reason: d.Reason, Time: d.Time}
}
