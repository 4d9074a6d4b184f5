package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/people"
	policy "github.com/enclave-dev/enclave/policies"
)

func (s *Server) exportRoutes() []route {
	exportRes := func(ctx context.Context, c *call) (authz.Resource, *exports.Export, error) {
		e, err := exports.Get(ctx, s.DB.SQL(), c.path("id"))
		if err != nil {
			return authz.Resource{}, nil, err
		}
		res := resource("export", e.ID, e.Org)
		res.Owner = e.Requester
		if j, err := jobs.Get(ctx, s.DB.SQL(), e.Job); err == nil {
			s.jobDatasets(c, &res, j)
		}
		return res, e, nil
	}
	listRes := func(ctx context.Context, c *call) (authz.Resource, error) {
		return resource("export", "", c.subject.Org.Name), nil
	}
	seesAll := func(c *call) string {
		if c.subject.Person.HasRole(people.Officer) || c.subject.Person.HasRole(people.Bureau) || c.subject.Person.HasRole(people.Authority) {
			return ""
		}
		return c.subject.Org.Name
	}
	return []route{
		planned(route{Method: "POST", Path: "/v1/exports", Action: "export.request",
			Summary: "Ask to take outputs of a finished job out: the files are frozen by hash and the egress checks run", Request: api.ExportRequest{},
			Created: true}, s.exportRequestResource, s.requestExport),
		{Method: "GET", Path: "/v1/exports", Action: "export.show", Op: "export.list", Summary: "List export requests: an operator's own organisation's, every one for officers and the bureau",
			Response: []api.Export{}, Resource: listRes,
			Handle: func(ctx context.Context, c *call) (any, error) {
				es, err := exports.List(ctx, s.DB.SQL(), seesAll(c), false)
				if err != nil {
					return nil, err
				}
				return exportViews(c, es), nil
			}},
		planned(route{Method: "GET", Path: "/v1/exports/{id}", Action: "export.show", Summary: "One export request: every check with its verdict and evidence, the reviews"},
			exportRes, func(ctx context.Context, c *call, e *exports.Export, _ none) (api.Export, error) {
				v := named(c, exportView(e.ForReader(exactView(c, e.Org))))
				if s.Exports != nil {
					t, err := thresholdsOf(s.Exports.Params.Effective())
					if err != nil {
						return api.Export{}, err
					}
					v.Thresholds = t
				}
				return v, nil
			}),
		s.exportDecideRoute("approve", "export.approve", exports.Approve, exportRes),
		s.exportDecideRoute("reject", "export.reject", exports.Reject, exportRes),
		s.exportDecideRoute("request-changes", "export.reject", exports.RequestChanges, exportRes),
		planned(route{Method: "GET", Path: "/v1/exports/{id}/download", Action: "export.download", Summary: "Download the signed release bundle of a released export (the requesting organisation only)",
			RecordsOutcome: true}, exportRes, s.downloadRelease),
		{Method: "GET", Path: "/v1/releases", Action: "release.list", Summary: "The product register: every release (R-15)", Response: []api.Export{}, Resource: listRes,
			Handle: func(ctx context.Context, c *call) (any, error) {
				es, err := exports.List(ctx, s.DB.SQL(), seesAll(c), true)
				if err != nil {
					return nil, err
				}
				return exportViews(c, es), nil
			}},
	}
}

// exportViews maps exports to what the caller may see of each; none is
// an empty list, never null.
func exportViews(c *call, es []*exports.Export) []api.Export {
	out := make([]api.Export, len(es))
	names := personNames{}
	for i, e := range es {
		out[i] = names.export(c, exportView(e.ForReader(exactView(c, e.Org))))
	}
	return out
}

// jobDatasets describes a job's inputs for the policy and sets the call's
// retention class.
func (s *Server) jobDatasets(c *call, res *authz.Resource, j *jobs.Job) {
	for _, in := range j.Inputs {
		res.Datasets = append(res.Datasets, policy.Dataset{Name: in.Dataset, Version: int64(in.Version), Level: in.Level, Market: in.Market, State: "active"})
		if in.Market == "authorized" || in.Market == "withheld" {
			c.retention = audit.Retention5y
		}
	}
}

type exportPlan struct {
	req api.ExportRequest
	job *jobs.Job
}

func (s *Server) exportRequestResource(ctx context.Context, c *call) (authz.Resource, exportPlan, error) {
	var req api.ExportRequest
	if err := c.decode(&req); err != nil {
		return authz.Resource{}, exportPlan{}, err
	}
	if strings.TrimSpace(req.Purpose) == "" || len(req.Purpose) > 2000 {
		return authz.Resource{}, exportPlan{}, fmt.Errorf("purpose is required (at most 2000 bytes): %w", errdefs.ErrInvalidArgument)
	}
	j, err := jobs.Get(ctx, s.DB.SQL(), req.Job)
	if err != nil {
		return authz.Resource{}, exportPlan{}, err
	}
	res := resource("export", "", j.Org)
	res.Owner = c.subject.Person.ID
	s.jobDatasets(c, &res, j)
	res.Purpose, res.Scenario = req.Purpose, req.Scenario
	return res, exportPlan{req: req, job: j}, nil
}

func (s *Server) requestExport(ctx context.Context, c *call, plan exportPlan, _ none) (api.Export, error) {
	req, j := plan.req, plan.job
	state := j.State
	if j.State.Terminal() && !exactView(c, j.Org) && s.Now().Before(j.RevealAt()) {
		state = jobs.Running // as the requester's view shows it: a request must not time the end
	}
	if state != jobs.Complete {
		return api.Export{}, fmt.Errorf("job %q is %s; only the outputs of a complete job can be exported: %w", j.ID, state, errdefs.ErrFailedPrecondition)
	}
	if err := s.jobStands(ctx, s.DB.SQL(), j.Org, j); err != nil { // issue 18
		return api.Export{}, fmt.Errorf("the outputs of job %q cannot be exported: %w", j.ID, err)
	}
	// The scenario must be the one the data was granted for.
	scenario := ""
	for _, gid := range j.Grants {
		g, err := grants.GetGrant(ctx, s.DB.SQL(), gid)
		if err != nil {
			return api.Export{}, err
		}
		if scenario != "" && g.Scenario != scenario {
			return api.Export{}, fmt.Errorf("the job's grants name different scenarios; export per scenario is not possible: %w", errdefs.ErrFailedPrecondition)
		}
		scenario = g.Scenario
	}
	if req.Scenario == "" {
		req.Scenario = scenario
	}
	if req.Scenario != scenario {
		return api.Export{}, fmt.Errorf("scenario %q does not match the scenario the data was granted for: %w", req.Scenario, errdefs.ErrInvalidArgument)
	}
	id := people.NewID("x_")
	checking := time.Now()
	e, err := s.Exports.Prepare(ctx, id, j, j.Org, c.subject.Person.ID,
		exports.Request{Files: req.Files, Purpose: req.Purpose, Scenario: req.Scenario, Declared: req.Declare}, s.Now())
	if err != nil {
		return api.Export{}, err
	}
	// How long the checks took depends on the files' content, which the
	// job chose: the request is recorded (and so listed) and answered only
	// at its start plus that time rounded up by jobs.Coarse.
	time.Sleep(time.Until(coarseDeadline(checking, time.Now(), checkTimeUnit)))
	ev := audit.Event{Action: "export.request", Objects: append([]string{"export:" + id, "job:" + j.ID}, objects(c.resource)...),
		Details: map[string]string{"verdict": string(e.Result.Verdict), "state": e.State, "files": fmt.Sprint(len(e.Files)),
			"approvals_needed": fmt.Sprint(e.ApprovalsNeeded)}}
	for i, f := range e.Files {
		ev.Details[fmt.Sprintf("file%d_sha256", i)] = f.SHA256
	}
	for _, cr := range e.Result.Checks {
		ev.Details["check:"+cr.Name] = cr.Version + " " + string(cr.Verdict)
	}
	err = c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error { return exports.Insert(ctx, tx, e) })
	if err != nil {
		s.Exports.Discard(id)
		return api.Export{}, err
	}
	return exportView(e.ForReader(exactView(c, e.Org))), nil
}

func (s *Server) exportDecideRoute(verb, action, decision string, res func(context.Context, *call) (authz.Resource, *exports.Export, error)) route {
	return planned(route{Method: "POST", Path: "/v1/exports/{id}/" + verb, Action: action, Op: "export." + verb,
		Summary: "An officer of another organisation than the requester's decides: " + verb},
		res, func(ctx context.Context, c *call, asked *exports.Export, req api.ReviewRequest) (api.Export, error) {
			if len(req.Comment) > 2000 || len(req.Justification) > 4000 {
				return api.Export{}, fmt.Errorf("comment or justification too long: %w", errdefs.ErrInvalidArgument)
			}
			id := c.path("id")
			var e *exports.Export
			var ready bool
			ev := audit.Event{Action: action, Objects: []string{"export:" + id}, Reason: req.Comment,
				Details: map[string]string{"decision": decision}}
			if req.Justification != "" {
				ev.Details["justification_given"] = "true"
			}
			err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
				var err error
				if decision == exports.Approve { // at this moment (issue 18)
					if err := s.exportStands(ctx, tx, asked); err != nil {
						return err
					}
				}
				e, ready, err = exports.Decide(ctx, tx, id, exports.Review{Person: c.subject.Person.ID, Org: c.subject.Org.Name,
					Decision: decision, Comment: req.Comment, Justification: req.Justification, Time: s.Now().UTC()})
				if err == nil {
					ev.Details["state"] = e.State
					ev.Details["approvals"] = fmt.Sprint(e.Approvals())
				}
				return err
			})
			if err != nil {
				return api.Export{}, err
			}
			if ready {
				released, err := s.releaseExport(ctx, c, e, nil)
				if err != nil {
					s.Log.Error("release cannot be built; withdrawing the approval that made it ready", "request", c.reqID, "export", id, "err", err)
					if rerr := s.rollBackRelease(ctx, c, e, err, nil); rerr != nil {
						return api.Export{}, errors.Join(err, rerr)
					}
					return api.Export{}, fmt.Errorf("the release of export %q could not be built, and this approval was withdrawn: %w", id, err)
				}
				e = released
			}
			return exportView(e.ForReader(exactView(c, e.Org))), nil
		})
}

// releaseExport builds the signed bundle of an approved export and records
// the release. details are added to the release's audit entry.
func (s *Server) releaseExport(ctx context.Context, c *call, e *exports.Export, details map[string]string) (*exports.Export, error) {
	if err := s.exportStands(ctx, s.DB.SQL(), e); err != nil { // at this moment (issue 18)
		return nil, err
	}
	pred, sum, err := s.Exports.BuildRelease(ctx, e, s.Now().UTC())
	if err != nil {
		return nil, err
	}
	ev := audit.Event{Action: "export.release", Objects: []string{"export:" + e.ID, "release:" + pred.Release, "job:" + e.Job},
		Details: map[string]string{"bundle_sha256": sum, "approvals": fmt.Sprint(len(pred.Approvals)), "overridden": fmt.Sprint(pred.Overridden)}}
	for k, v := range details {
		ev.Details[k] = v
	}
	err = c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		if err := s.exportStands(ctx, tx, e); err != nil {
			return err
		}
		return exports.MarkReleased(ctx, tx, e.ID, sum, pred.ReleasedAt)
	})
	if err != nil {
		return nil, err
	}
	return exports.Get(ctx, s.DB.SQL(), e.ID)
}

// rollBackRelease is what follows a release of e that could not be built
// (cause): the failed release is on the record, and the approval that made
// e ready is withdrawn, so that the export takes decisions again and its
// officer may approve it again instead of being refused as having reviewed
// it. The approval itself stays on the audit log.
func (s *Server) rollBackRelease(ctx context.Context, c *call, e *exports.Export, cause error, details map[string]string) error {
	ctx = context.WithoutCancel(ctx)
	_, class := status(cause)
	failed := audit.Event{Action: "export.release", Outcome: "failed", Reason: class, Objects: []string{"export:" + e.ID, "job:" + e.Job}, Details: map[string]string{}}
	for k, v := range details {
		failed.Details[k] = v
	}
	if err := c.record(ctx, failed); err != nil {
		return err
	}
	last, ok := e.LastApproval()
	if !ok {
		return nil
	}
	ev := audit.Event{Action: "export.rollback", Objects: []string{"export:" + e.ID}, Reason: "the release could not be built (" + class + ")",
		Details: map[string]string{"withdrawn_approval": last.Person, "approvals": fmt.Sprint(e.Approvals() - 1)}}
	for k, v := range details {
		ev.Details[k] = v
	}
	return c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error { return exports.Withdraw(ctx, tx, e.ID, last.Person) })
}

// FinishReleases runs once at start, before the server serves. It first
// removes what a stopped daemon left half done in the exports directory
// (exports.Service.Tidy: a partial bundle, decrypted inputs); then an
// export that has all its approvals but no release (the daemon stopped
// between the last approval and the release being recorded) is released
// now, by the system, or, when its bundle cannot be built, rolled back
// (its last approval withdrawn). Each is on the audit log with "recovered"
// set. It returns how many it released and rolled back; an error means the
// state could not be read or the audit log refused an entry.
func (s *Server) FinishReleases(ctx context.Context) (released, rolledBack int, err error) {
	if s.Exports == nil {
		return 0, 0, nil
	}
	removed, err := s.Exports.Tidy(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("tidy the exports directory: %w", err)
	}
	if len(removed) > 0 {
		s.Log.Info("removed what a stopped daemon left half done in the exports directory", "paths", strings.Join(removed, ","))
	}
	es, err := exports.Unreleased(ctx, s.DB.SQL())
	if err != nil {
		return 0, 0, err
	}
	for _, e := range es {
		c := s.systemCall()
		details := map[string]string{"recovered": "true"}
		if _, err := s.releaseExport(ctx, c, e, details); err != nil {
			s.Log.Error("release left unfinished by a stop cannot be built; rolling it back", "export", e.ID, "err", err)
			if rerr := s.rollBackRelease(ctx, c, e, err, details); rerr != nil {
				return released, rolledBack, fmt.Errorf("roll back the release of export %q: %w", e.ID, rerr)
			}
			rolledBack++
			continue
		}
		s.Log.Info("release left unfinished by a stop finished", "export", e.ID)
		released++
	}
	return released, rolledBack, nil
}

// systemCall is a call made by the daemon itself, at start: its audit
// entries name the actor "system".
func (s *Server) systemCall() *call {
	c := &call{s: s, reqID: requestID(&http.Request{Header: http.Header{}})}
	c.subject.Person.ID = "system"
	return c
}

// downloadRelease streams the bundle of a released export. Its access was
// recorded as an intent before the handler ran; the outcome is recorded
// after: ok when the whole bundle, matching the hash recorded at release,
// was written, failed (with the error class) otherwise.
func (s *Server) downloadRelease(ctx context.Context, c *call, e *exports.Export, _ none) (none, error) {
	n, err := s.sendBundle(c, e)
	ev := audit.Event{Action: "export.download", Outcome: "ok", Objects: objects(c.resource), Details: map[string]string{"bytes": fmt.Sprint(n)}}
	if err != nil {
		_, class := status(err)
		ev.Outcome, ev.Reason = "failed", class
	}
	if aerr := c.record(context.WithoutCancel(ctx), ev); aerr != nil {
		s.Log.Error("audit append of a download's outcome failed", "request", c.reqID, "err", aerr)
		if err == nil {
			err = aerr
		}
	}
	if err != nil && c.raw {
		// The status went out with the first bytes: the client sees a
		// short body, which the bundle's hash and signature refuse.
		s.Log.Warn("download ended early", "request", c.reqID, "export", e.ID, "bytes", n, "err", err)
		return none{}, nil
	}
	return none{}, err
}

// sendBundle checks and writes the bundle of e; it returns the bytes
// written.
func (s *Server) sendBundle(c *call, e *exports.Export) (int64, error) {
	if e.State != exports.Released {
		return 0, fmt.Errorf("export %q is %s, not released: %w", e.ID, e.State, errdefs.ErrFailedPrecondition)
	}
	// The bundle rests sealed under the export's key; it is read from an
	// unnamed decrypted copy that lives only while it is sent.
	f, err := s.Exports.OpenBundle(c.r.Context(), e.ID)
	if errdefs.IsNotFound(err) {
		return 0, fmt.Errorf("release bundle of %q: %w", e.ID, errdefs.ErrNotFound)
	}
	if err != nil {
		// A bundle that does not open (altered: errdefs.ErrDataLoss)
		// keeps its class.
		return 0, fmt.Errorf("release bundle of %q: %w", e.ID, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	// The bundle must be the one released: hash it before any byte goes.
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return 0, err
	}
	if hex.EncodeToString(h.Sum(nil)) != e.BundleSHA256 {
		return 0, fmt.Errorf("release bundle of %q does not match the hash recorded at its release: %w", e.ID, errdefs.ErrDataLoss)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	c.raw = true
	c.w.Header().Set("Content-Type", "application/x-tar")
	c.w.Header().Set("Content-Length", fmt.Sprint(st.Size()))
	c.w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", e.ID+".tar"))
	c.w.Header().Set("X-Bundle-Sha256", e.BundleSHA256)
	c.w.WriteHeader(http.StatusOK)
	n, err := io.Copy(c.w, f)
	if err == nil && n != st.Size() {
		err = fmt.Errorf("wrote %d of %d bytes: %w", n, st.Size(), io.ErrShortWrite)
	}
	if err != nil {
		return n, fmt.Errorf("send the release bundle of %q: %w", e.ID, errors.Join(context.Canceled, err))
	}
	return n, nil
}

// checkTimeUnit is the unit an export request's check time is rounded up
// to before it is answered (coarseDeadline).
const checkTimeUnit = 100 * time.Millisecond

// coarseDeadline is when work that started at start and ended at end may
// be seen to end: start plus its time rounded up by jobs.Coarse in units of
// unit (100 ms to 200 ms, 400 ms, ...). Whoever times the answer learns one
// of a few values, not the time the work took, which files chosen by a job
// could set: against the daemon, requests of two 1 MiB text files came back
// in 0.30-0.63 s and 0.51-0.80 s. A request can thus carry at most
// log2 of the number of steps (about 10 up to two minutes) in its timing.
func coarseDeadline(start, end time.Time, unit time.Duration) time.Time {
	took := end.Sub(start)
	return start.Add(time.Duration(jobs.Coarse(float64(took), float64(unit))))
}
