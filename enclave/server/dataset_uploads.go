package server

// Operators' own data (issue 20, R-16, 001 art. 16.3): an operator uploads
// a file through the same import as a custodian's; the version stays
// pending review until an officer of another organisation approves it,
// seeing its schema, marks, row count and the safety net's findings (the
// catalogue's view: never rows). It belongs to the uploader's
// organisation: only its jobs read it, and other organisations cannot
// tell it from a name never imported.

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/people"
)

// DefaultUploadQuota is what one organisation may keep of uploads (their
// encrypted size), pending and approved, when Deps.UploadQuota is 0.
const DefaultUploadQuota int64 = 4 << 30

func (s *Server) uploadRoutes() []route {
	return []route{
		{Method: "POST", Path: "/v1/uploads", Action: "dataset.upload",
			Summary:  "Upload an operator's own data (issue 20): as an import (multipart \"spec\" then \"data\", ?name=), published pending review and private to the organisation",
			Response: api.ImportLine{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return s.importResource(ctx, c, c.query("name"))
			},
			Handle: func(ctx context.Context, c *call) (any, error) { return s.importAs(ctx, c, "dataset.upload") }},
		s.uploadReviewRoute("approve"),
		s.uploadReviewRoute("reject"),
	}
}

// uploadReviewRoute decides a pending upload: an officer of another
// organisation than the uploader's (the policy's "independent" scope).
func (s *Server) uploadReviewRoute(verb string) route {
	action := "dataset." + verb
	return route{Method: "POST", Path: "/v1/datasets/{ref}/" + verb, Action: action,
		Summary: "Decide an operator's upload pending review (" + verb + "); an officer of another organisation", Request: api.ReasonRequest{}, Response: api.Dataset{},
		Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
			res, err := s.datasetResource(ctx, c)
			if err != nil {
				return res, err
			}
			name, ver, _ := datasets.ParseRef(c.path("ref"))
			v, err := s.Catalog.Get(ctx, nil, name, ver)
			if err != nil {
				return res, err
			}
			res.Org, res.Owner = v.Org, v.CreatedBy
			return res, nil
		},
		Handle: func(ctx context.Context, c *call) (any, error) {
			var req api.ReasonRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			if verb == "reject" {
				if err := checkReason(req.Reason); err != nil {
					return nil, err
				}
			} else if len(req.Reason) > 1000 {
				return nil, fmt.Errorf("reason is at most 1000 bytes: %w", errdefs.ErrInvalidArgument)
			}
			name, ver, _ := datasets.ParseRef(c.path("ref"))
			var v *datasets.Version
			ev := audit.Event{Action: action, Objects: []string{"dataset:" + c.path("ref")}, Reason: req.Reason}
			err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
				var err error
				v, err = s.Catalog.Review(ctx, tx, name, ver, verb == "approve", c.subject.Person.ID, req.Reason)
				if err == nil {
					ev.Objects = []string{"dataset:" + v.ID()}
					ev.Details = map[string]string{"org": v.Org, "rows": fmt.Sprint(v.Rows), "level": v.Level, "state": v.State}
				}
				return err
			})
			if err != nil {
				return nil, err
			}
			return datasetView(v), nil
		}}
}

// visible reports whether the caller sees v in the catalogue: an upload
// only by its own organisation, and by officers while it waits for review.
func (s *Server) visible(c *call, v *datasets.Version) bool {
	return v.VisibleTo(c.subject.Org.Name, c.subject.Person.HasRole(people.Officer))
}

// checkUploadQuota refuses an upload of size bytes that would take org
// past its quota, counting what it keeps in tx (uploads recorded
// meanwhile count).
func (s *Server) checkUploadQuota(ctx context.Context, tx dbtx, org string, size int64) error {
	quota := s.UploadQuota
	if quota <= 0 {
		quota = DefaultUploadQuota
	}
	kept, err := s.Catalog.UploadBytes(ctx, tx, org)
	if err != nil {
		return err
	}
	if kept+size > quota {
		return fmt.Errorf("organisation %q keeps %d bytes of uploads; this one of %d bytes would pass its quota of %d bytes: %w",
			org, kept, size, quota, errdefs.ErrResourceExhausted)
	}
	return nil
}

// destroyOrgUploads destroys every upload of organisation org that is not
// destroyed yet, because its licence ended (revoked or blacklisted): each
// version is marked destroyed on the record, then its key is shredded and
// its files removed, with the destruction record, as a destroy on
// request is.
func (s *Server) destroyOrgUploads(ctx context.Context, c *call, org, reason string) error {
	vs, err := s.Catalog.OrgUploads(ctx, s.DB.SQL(), org)
	if err != nil {
		return err
	}
	why := "the licence of organisation " + org + " ended: " + reason
	for _, v := range vs {
		var marked []*datasets.Version
		ev := audit.Event{Action: "dataset.destroy", Objects: []string{"dataset:" + v.ID()}, Reason: why, Outcome: "ok",
			Details: map[string]string{"process": "an upload destroyed with its organisation's licence: marked destroyed, then key shredded and files removed"}}
		if err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
			var err error
			marked, err = s.Catalog.MarkDestroyed(ctx, tx, v.Name, v.Version, why)
			return err
		}); err != nil {
			return err
		}
		for _, m := range marked {
			d, err := s.Catalog.Shred(context.WithoutCancel(ctx), m)
			rec := audit.Event{Action: "dataset.destruction", Objects: []string{"dataset:" + m.ID()}, Reason: why, Outcome: "ok",
				Retention: audit.Retention5y,
				Details: map[string]string{"technique": d.Technique, "key_id": d.KeyID, "files_removed": fmt.Sprint(d.Files),
					"key_object": m.KeyObject(), "requested_by": c.subject.Person.ID}}
			if err != nil {
				rec.Outcome, rec.Details["error"] = "failed", classOf(err)
			}
			if aerr := c.record(context.WithoutCancel(ctx), rec); aerr != nil {
				return aerr
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
