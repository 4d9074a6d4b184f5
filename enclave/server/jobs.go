package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/people"
	policy "github.com/enclave-dev/enclave/policies"
)

func (s *Server) jobRoutes() []route {
	jobRes := func(ctx context.Context, c *call) (authz.Resource, *jobs.Job, error) {
		j, err := jobs.Get(ctx, s.DB.SQL(), c.path("id"))
		if err != nil {
			return authz.Resource{}, nil, err
		}
		res := resource("job", j.ID, j.Org)
		res.Owner = j.Owner
		for _, in := range j.Inputs {
			res.Datasets = append(res.Datasets, policy.Dataset{Name: in.Dataset, Version: int64(in.Version), Level: in.Level, Market: in.Market, State: "active"})
			if in.Market == "authorized" || in.Market == "withheld" {
				c.retention = audit.Retention5y
			}
		}
		return res, j, nil
	}
	imageRes := func(ctx context.Context, c *call) (authz.Resource, error) {
		im, err := jobs.GetImage(ctx, s.DB.SQL(), c.path("digest"))
		if err != nil {
			return authz.Resource{}, err
		}
		res := resource("image", im.Digest, im.Org)
		res.Owner = im.ImportedBy
		res.Image = &policy.Image{Digest: im.Digest, Status: im.Status}
		return res, nil
	}
	return []route{
		typed(route{Method: "POST", Path: "/v1/images", Action: "image.import",
			Summary: "Import a job image: the body is an OCI image-layout tar archive; ?name= labels it. It stays pending until an officer approves it",
			Created: true,
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				res := resource("image", "", c.subject.Org.Name)
				res.Owner = c.subject.Person.ID
				return res, nil
			}}, s.importImage),
		typed(route{Method: "GET", Path: "/v1/images", Action: "image.list",
			Summary: "List job images and their review state: officers and admins every image; operators their organisation's and the approved images of others (without who imported or decided them)"},
			func(ctx context.Context, c *call, _ none) ([]api.Image, error) {
				ims, err := jobs.ListImages(ctx, s.DB.SQL())
				if err != nil {
					return nil, err
				}
				out := views(imagesFor(c, ims), imageView)
				names := personNames{}
				for i := range out {
					out[i].ImportedByName, out[i].DecidedByName = names.name(c, out[i].ImportedBy), names.name(c, out[i].DecidedBy)
				}
				return out, nil
			}),
		s.imageDecideRoute("approve", jobs.ImageApproved, imageRes),
		s.imageDecideRoute("reject", jobs.ImageRejected, imageRes),
		planned(route{Method: "POST", Path: "/v1/jobs", Action: "job.run",
			Summary: "Run an approved image over granted dataset versions; only the declared outputs are collected", Request: api.JobRequest{},
			Created: true}, s.jobRunResource, s.runJob),
		typed(route{Method: "GET", Path: "/v1/jobs", Action: "job.list",
			Summary: "List jobs: an operator's own organisation's, every job for officers and the bureau (exact figures only for another organisation's jobs)",
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("job", "", c.subject.Org.Name), nil
			}},
			func(ctx context.Context, c *call, _ none) ([]api.Job, error) {
				org := c.subject.Org.Name
				if c.subject.Person.HasRole(people.Officer) || c.subject.Person.HasRole(people.Bureau) {
					org = ""
				}
				n, _ := strconv.Atoi(c.query("limit"))
				js, err := jobs.List(ctx, s.DB.SQL(), org, n)
				if err != nil {
					return nil, err
				}
				out := make([]api.Job, len(js))
				names := personNames{}
				for i, j := range js {
					if out[i], err = s.jobView(ctx, c, j); err != nil {
						return nil, err
					}
					out[i].OwnerName = names.name(c, out[i].Owner)
				}
				return out, nil
			}),
		planned(route{Method: "GET", Path: "/v1/jobs/{id}", Action: "job.show", Summary: "One job: state, how it ended, resource use, outputs"},
			jobRes, func(ctx context.Context, c *call, j *jobs.Job, _ none) (api.Job, error) {
				v, err := s.jobView(ctx, c, j)
				v.OwnerName = personNames{}.name(c, v.Owner)
				return v, err
			}),
		planned(route{Method: "GET", Path: "/v1/jobs/{id}/wait", Action: "job.wait", Summary: "Wait until the job ends (?timeout=, default 60s) and return it"},
			jobRes, func(ctx context.Context, c *call, j *jobs.Job, _ none) (api.Job, error) {
				d := time.Minute
				if v := c.query("timeout"); v != "" {
					var err error
					if d, err = time.ParseDuration(v); err != nil || d < 0 || d > time.Hour {
						return api.Job{}, fmt.Errorf("timeout must be a duration up to 1h: %w", errdefs.ErrInvalidArgument)
					}
				}
				wctx, cancel := context.WithTimeout(ctx, d)
				defer cancel()
				ended, err := s.Jobs.Wait(wctx, j.ID)
				if err != nil && wctx.Err() != nil && ctx.Err() == nil {
					// The wait's own deadline, not the caller's: the job is
					// read again under the request's context (the wait may
					// have expired inside its read) and returned as it is;
					// the caller waits again while it is not ended.
					if ended, err = jobs.Get(ctx, s.DB.SQL(), j.ID); err != nil {
						return api.Job{}, err
					}
					if !ended.State.Terminal() {
						return s.jobView(ctx, c, ended)
					}
				}
				if err != nil {
					return api.Job{}, err
				}
				return s.endedView(ctx, c, ended)
			}),
		planned(route{Method: "GET", Path: "/v1/jobs/{id}/outputs", Action: "job.outputs",
			Summary: "The job's collected outputs, the declared files it wrote: names, sizes (rounded up for operators) and hashes (for operators only once released); contents leave only through exports"},
			jobRes, func(ctx context.Context, c *call, j *jobs.Job, _ none) ([]api.JobOutput, error) {
				v, err := s.jobView(ctx, c, j)
				return v.Outputs, err
			}),
		planned(route{Method: "GET", Path: "/v1/jobs/{id}/logs", Action: "job.logs",
			Summary: "The job's output stream: unfiltered for officers of another organisation; for everyone else line by line through the egress text rule and the input fingerprints"},
			jobRes, s.jobLogs),
		s.jobStopRoute("cancel", "job.cancel", "Cancel a job of one's own organisation"),
		s.jobStopRoute("halt", "job.halt", "Halt a job that reveals a risk, with a reason; an incident is recorded (R-17)"),
	}
}

func (s *Server) importImage(ctx context.Context, c *call, _ none) (api.Image, error) {
	name := c.query("name")
	if name != "" && !imageNameRE.MatchString(name) {
		return api.Image{}, fmt.Errorf("image name must match %s: %w", imageNameRE, errdefs.ErrInvalidArgument)
	}
	// Limits first: how many uploads, how slow, how much the
	// organisation keeps.
	up, err := s.beginUpload(c)
	if err != nil {
		return api.Image{}, err
	}
	defer up.end()
	body, done, err := s.quotaReader(ctx, c, c.r.Body)
	if err != nil {
		return api.Image{}, err
	}
	defer done()
	tmp, err := os.CreateTemp(s.TempDir, "image-*")
	if err != nil {
		return api.Image{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := io.Copy(tmp, io.LimitReader(body, s.MaxUploadBytes+1))
	if err != nil {
		if errdefs.IsResourceExhausted(err) || errors.Is(err, errSlowUpload) {
			return api.Image{}, err
		}
		return api.Image{}, fmt.Errorf("receive image: %w", errdefs.ErrInvalidArgument)
	}
	up.received()
	if n > s.MaxUploadBytes || n == 0 {
		return api.Image{}, fmt.Errorf("image archive is empty or larger than %d bytes: %w", s.MaxUploadBytes, errdefs.ErrInvalidArgument)
	}
	if err := body.recheck(ctx); err != nil {
		return api.Image{}, err
	}
	im, err := s.images.Import(ctx, tmp, n, name, c.subject.Org.Name, c.subject.Person.ID)
	if err != nil {
		return api.Image{}, err
	}
	ev := audit.Event{Action: "image.import", Objects: []string{"image:" + im.Digest}, Details: map[string]string{"name": im.Name, "bytes": fmt.Sprint(n),
		"unpacked_bytes": fmt.Sprint(im.Unpacked), "layers": fmt.Sprint(im.Layers)}}
	err = c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error { return jobs.CreateImage(ctx, tx, im) })
	if errdefs.IsAlreadyExists(err) {
		im, err = jobs.GetImage(ctx, s.DB.SQL(), im.Digest)
	}
	if err != nil {
		return api.Image{}, err
	}
	return imageView(im), nil
}

// imagesFor is what the caller may see of ims. Officers (who review every
// image) and admins see them all. An operator sees their organisation's
// images, and of other organisations' only the approved ones, which any
// licensed operator may run (an approved image is reviewed code named by
// its digest; a second import of the same digest is refused), without the
// people who imported or decided them; another organisation's pending or
// rejected image is none of theirs.
func imagesFor(c *call, ims []*jobs.Image) []*jobs.Image {
	p := c.subject.Person
	if p.HasRole(people.Officer) || p.HasRole(people.Admin) {
		return ims
	}
	out := []*jobs.Image{}
	for _, im := range ims {
		switch {
		case im.Org == c.subject.Org.Name:
			out = append(out, im)
		case im.Status == jobs.ImageApproved:
			shown := *im
			shown.ImportedBy, shown.DecidedBy, shown.Comment = "", "", ""
			out = append(out, &shown)
		}
	}
	return out
}

var imageNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

func (s *Server) imageDecideRoute(verb, status string, res func(context.Context, *call) (authz.Resource, error)) route {
	action := "image." + verb
	return typed(route{Method: "POST", Path: "/v1/images/{digest}/" + verb, Action: action,
		Summary:  strings.ToUpper(verb[:1]) + verb[1:] + " a pending image (an officer of another organisation than the importer's)",
		Resource: res},
		func(ctx context.Context, c *call, req api.CommentRequest) (api.Image, error) {
			digest := c.path("digest")
			if status == jobs.ImageApproved {
				// Unpacked and remapped once, before the approval takes
				// effect, and only within the quota of unpacked images.
				done, err := s.images.PrepareApproval(ctx, digest)
				if err != nil {
					return api.Image{}, err
				}
				defer done()
			}
			var im *jobs.Image
			ev := audit.Event{Action: action, Objects: []string{"image:" + digest}, Reason: req.Comment}
			err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
				var err error
				im, err = s.images.Decide(ctx, tx, digest, status, c.subject.Person.ID, req.Comment)
				return err
			})
			if err != nil {
				return api.Image{}, err
			}
			return imageView(im), nil
		})
}

// jobRunResource resolves a job request (jobs.Admission.Plan) into what
// the policy decides on: the image and its review state, each input
// version with its marks and state, the organisation's grants, usage and
// quota, and the requested resources.
func (s *Server) jobRunResource(ctx context.Context, c *call) (authz.Resource, *jobs.Plan, error) {
	var req api.JobRequest
	if err := c.decode(&req); err != nil {
		return authz.Resource{}, nil, err
	}
	r, err := jobs.ParseRequest(req)
	if err != nil {
		return authz.Resource{}, nil, err
	}
	plan, err := s.admission.Plan(ctx, s.DB.SQL(), c.subject.Org.Name, c.subject.Person.ID, r,
		func(ctx context.Context, ins []grants.Dataset) ([]policy.Dataset, []*datasets.Version, error) {
			return s.policyDatasets(ctx, c, ins)
		})
	if err != nil {
		return authz.Resource{}, nil, err
	}
	res := resource("job", "", plan.Org)
	res.Owner = plan.Owner
	res.Image = &policy.Image{Digest: plan.Image.Digest, Status: plan.Image.Status}
	res.Datasets, res.Grants, res.Usage, res.Quota = plan.Datasets, plan.Grants, plan.Usage, plan.Quota
	res.Request = policy.Request{CPU: plan.Limits.CPUs, MemoryBytes: plan.Limits.MemoryBytes}
	return res, plan, nil
}

func (s *Server) runJob(ctx context.Context, c *call, plan *jobs.Plan, _ none) (api.Job, error) {
	id := strings.ReplaceAll(people.NewID("j-"), "_", "-")
	ev := audit.Event{Action: "job.run", Objects: append([]string{"job:" + id, "image:" + plan.Image.Digest}, objects(c.resource)...),
		Details: map[string]string{"cpus": fmt.Sprint(plan.Limits.CPUs), "memory_bytes": fmt.Sprint(plan.Limits.MemoryBytes),
			"timeout": plan.Limits.Timeout.String(), "declared_outputs": fmt.Sprint(len(plan.Outputs))}}
	for ds, g := range c.decision.Grants {
		ev.Details["grant:"+ds] = g
	}
	var j *jobs.Job
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		var err error
		j, err = s.admission.Admit(ctx, tx, plan, id, c.decision.Grants, c.revision)
		return err
	})
	if err != nil {
		return api.Job{}, err
	}
	s.Jobs.Enqueue(id)
	return s.jobView(ctx, c, j)
}

// exactView reports whether the caller sees what they read of a job or an
// export of organisation org unfiltered: exact figures, sizes, hashes,
// exit statuses and logs. Only officers of another organisation and the
// bureau do (DESIGN.md section 5, promise 4); everyone else, the job's own
// operators and officers of their organisation included, gets the coarse
// view, because whatever they read of a job is a way out.
func exactView(c *call, org string) bool {
	p := c.subject.Person
	return (p.HasRole(people.Officer) || p.HasRole(people.Bureau)) && c.subject.Org.Name != org
}

// jobView is job j as the caller may see it (jobs.Job.View).
func (s *Server) jobView(ctx context.Context, c *call, j *jobs.Job) (api.Job, error) {
	if exactView(c, j.Org) {
		return j.View(true, nil, s.Now()), nil
	}
	released, err := s.releasedOutputs(ctx, j)
	if err != nil {
		return api.Job{}, err
	}
	return j.View(false, released, s.Now()), nil
}

// endedView is jobView of a job that was just seen ending: a caller of the
// coarse view waits (until ctx is done) for the moment the view reveals
// the end (jobs.Job.RevealAt), so that a wait returns no sooner than the
// coarse wall time says.
func (s *Server) endedView(ctx context.Context, c *call, j *jobs.Job) (api.Job, error) {
	s.waitReveal(ctx, c, j)
	return s.jobView(ctx, c, j)
}

// waitReveal waits (until ctx is done) for the moment the caller's view
// shows the end of job j, which has ended: at once for the exact view.
func (s *Server) waitReveal(ctx context.Context, c *call, j *jobs.Job) {
	if !j.State.Terminal() || exactView(c, j.Org) {
		return
	}
	if d := j.RevealAt().Sub(s.Now()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// releasedOutputs names the outputs of job j that left in a released
// export: their exact size and hash are in the bundle the organisation
// holds, so its operators may see them.
func (s *Server) releasedOutputs(ctx context.Context, j *jobs.Job) (map[string]bool, error) {
	if len(j.Outputs) == 0 {
		return nil, nil
	}
	es, err := exports.List(ctx, s.DB.SQL(), j.Org, true)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, e := range es {
		if e.Job != j.ID {
			continue
		}
		for _, f := range e.Files {
			for _, o := range j.Outputs {
				if o.Name == f.Name && o.SHA256 == f.SHA256 {
					out[f.Name] = true
				}
			}
		}
	}
	return out, nil
}

// jobLogs serves a job's output stream as the caller may read it
// (jobs.Logs): unfiltered for officers of another organisation; for
// everyone else once the job has ended, line by line through the egress
// scan. The read is on the audit log before the first byte goes out.
func (s *Server) jobLogs(ctx context.Context, c *call, j *jobs.Job, _ none) (none, error) {
	exact := exactView(c, j.Org)
	l, err := s.logs.Read(ctx, j, exact)
	if err != nil {
		return none{}, err
	}
	ev := audit.Event{Action: "job.logs.read", Outcome: "ok", Objects: []string{"job:" + j.ID},
		Details: map[string]string{"filtered": fmt.Sprint(!exact), "withheld_lines": fmt.Sprint(l.Withheld), "bytes": fmt.Sprint(l.Bytes)}}
	if err := c.record(ctx, ev); err != nil {
		return none{}, err
	}
	c.raw = true
	c.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	c.w.Header().Set("Cache-Control", "no-store")
	c.w.WriteHeader(http.StatusOK)
	l.WriteTo(c.w) // the client went away: nothing more to say
	return none{}, nil
}

func (s *Server) jobStopRoute(verb, action, summary string) route {
	return typed(route{Method: "POST", Path: "/v1/jobs/{id}/" + verb, Action: action, Summary: summary,
		Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
			j, err := jobs.Get(ctx, s.DB.SQL(), c.path("id"))
			if err != nil {
				return authz.Resource{}, err
			}
			res := resource("job", j.ID, j.Org)
			res.Owner = j.Owner
			return res, nil
		}},
		func(ctx context.Context, c *call, req api.ReasonRequest) (api.Job, error) {
			if verb == "halt" {
				if err := checkReason(req.Reason); err != nil {
					return api.Job{}, err
				}
			}
			id := c.path("id")
			why := req.Reason
			if why == "" {
				why = "canceled by " + c.subject.Person.ID
			}
			ev := audit.Event{Action: action, Objects: []string{"job:" + id}, Reason: req.Reason}
			if verb == "halt" {
				ev.Details = map[string]string{"incident": people.NewID("inc_"), "reported_by": c.subject.Person.ID}
				why = "halted: " + req.Reason
			}
			var ended *jobs.Job
			err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
				j, err := jobs.Get(ctx, tx, id)
				if err != nil {
					return err
				}
				if j.State.Terminal() {
					ended = j
					return fmt.Errorf("job %q already ended: %w", id, errdefs.ErrFailedPrecondition)
				}
				return nil
			})
			if ended != nil {
				// A stop that finds the job ended is answered when the
				// caller's view shows the end, not before: a refusal at
				// once would time the end more finely than the view does.
				s.waitReveal(ctx, c, ended)
			}
			if err != nil {
				return api.Job{}, err
			}
			if err := s.Jobs.Cancel(context.WithoutCancel(ctx), id, why); err != nil {
				return api.Job{}, err
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			j, err := s.Jobs.Wait(wctx, id)
			if err != nil {
				return api.Job{}, err
			}
			return s.endedView(wctx, c, j)
		})
}

// stopOrgJobs cancels every job of an organisation that has not ended.
func (s *Server) stopOrgJobs(ctx context.Context, c *call, org, why string) {
	js, err := jobs.List(ctx, s.DB.SQL(), org, 0)
	if err != nil {
		s.Log.Error("list jobs to stop", "org", org, "err", err)
		return
	}
	for _, j := range js {
		if j.State.Terminal() {
			continue
		}
		ev := audit.Event{Action: "job.stop", Outcome: "ok", Objects: []string{"job:" + j.ID, "org:" + org}, Reason: why}
		if err := c.record(context.WithoutCancel(ctx), ev); err != nil {
			s.Log.Error("audit a job stop", "job", j.ID, "err", err)
			continue
		}
		if err := s.Jobs.Cancel(context.WithoutCancel(ctx), j.ID, why); err != nil && !errdefs.IsFailedPrecondition(err) {
			s.Log.Error("stop job", "job", j.ID, "err", err)
		}
	}
}
