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
	"github.com/enclave-dev/enclave/enclave/usage"
	policy "github.com/enclave-dev/enclave/policies"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/ociarchive"
)

func init() { registerRoutes("50-jobs", (*Server).jobRoutes) }

func (s *Server) jobRoutes() []route {
	if s.Jobs == nil || s.Catalog == nil {
		return nil
	}
	jobRes := func(ctx context.Context, c *call) (authz.Resource, error) {
		j, err := jobs.Get(ctx, s.DB.SQL(), c.path("id"))
		if err != nil {
			return authz.Resource{}, err
		}
		c.body = j
		res := resource("job", j.ID, j.Org)
		res.Owner = j.Owner
		for _, in := range j.Inputs {
			res.Datasets = append(res.Datasets, policy.Dataset{Name: in.Dataset, Version: int64(in.Version), Level: in.Level, Market: in.Market, State: "active"})
			if in.Market == "authorized" || in.Market == "withheld" {
				c.retention = audit.Retention5y
			}
		}
		return res, nil
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
		{Method: "POST", Path: "/v1/images", Action: "image.import",
			Summary:  "Import a job image: the body is an OCI image-layout tar archive; ?name= labels it. It stays pending until an officer approves it",
			Response: api.Image{}, Created: true,
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				res := resource("image", "", c.subject.Org.Name)
				res.Owner = c.subject.Person.ID
				return res, nil
			},
			Handle: s.importImage},
		{Method: "GET", Path: "/v1/images", Action: "image.list",
			Summary:  "List job images and their review state: officers and admins every image; operators their organisation's and the approved images of others (without who imported or decided them)",
			Response: []api.Image{},
			Handle: func(ctx context.Context, c *call) (any, error) {
				ims, err := jobs.ListImages(ctx, s.DB.SQL())
				if err != nil {
					return nil, err
				}
				return views(imagesFor(c, ims), imageView), nil
			}},
		s.imageDecideRoute("approve", jobs.ImageApproved, imageRes),
		s.imageDecideRoute("reject", jobs.ImageRejected, imageRes),
		{Method: "POST", Path: "/v1/jobs", Action: "job.run",
			Summary: "Run an approved image over granted dataset versions; only the declared outputs are collected", Request: api.JobRequest{},
			Response: api.Job{}, Created: true, Resource: s.jobRunResource, Handle: s.runJob},
		{Method: "GET", Path: "/v1/jobs", Action: "job.list",
			Summary:  "List jobs: an operator's own organisation's, every job for officers and the bureau (exact figures only for another organisation's jobs)",
			Response: []api.Job{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("job", "", c.subject.Org.Name), nil
			},
			Handle: func(ctx context.Context, c *call) (any, error) {
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
				for i, j := range js {
					if out[i], err = s.jobView(ctx, c, j); err != nil {
						return nil, err
					}
				}
				return out, nil
			}},
		{Method: "GET", Path: "/v1/jobs/{id}", Action: "job.show", Summary: "One job: state, how it ended, resource use, outputs", Response: api.Job{},
			Resource: jobRes, Handle: func(ctx context.Context, c *call) (any, error) { return s.jobView(ctx, c, c.body.(*jobs.Job)) }},
		{Method: "GET", Path: "/v1/jobs/{id}/wait", Action: "job.wait", Summary: "Wait until the job ends (?timeout=, default 60s) and return it", Response: api.Job{},
			Resource: jobRes, Handle: func(ctx context.Context, c *call) (any, error) {
				d := time.Minute
				if v := c.query("timeout"); v != "" {
					var err error
					if d, err = time.ParseDuration(v); err != nil || d < 0 || d > time.Hour {
						return nil, fmt.Errorf("timeout must be a duration up to 1h: %w", errdefs.ErrInvalidArgument)
					}
				}
				wctx, cancel := context.WithTimeout(ctx, d)
				defer cancel()
				j, err := s.Jobs.Wait(wctx, c.path("id"))
				if err != nil && wctx.Err() != nil && j != nil {
					return s.jobView(ctx, c, j) // not ended yet: the caller waits again
				}
				if err != nil {
					return nil, err
				}
				return s.endedView(wctx, c, j)
			}},
		{Method: "GET", Path: "/v1/jobs/{id}/outputs", Action: "job.outputs",
			Summary:  "The job's collected outputs, the declared files it wrote: names, sizes (rounded up for operators) and hashes (for operators only once released); contents leave only through exports",
			Response: []api.JobOutput{}, Resource: jobRes,
			Handle: func(ctx context.Context, c *call) (any, error) {
				v, err := s.jobView(ctx, c, c.body.(*jobs.Job))
				return v.Outputs, err
			}},
		{Method: "GET", Path: "/v1/jobs/{id}/logs", Action: "job.logs",
			Summary:  "The job's output stream: unfiltered for officers of another organisation; for everyone else line by line through the egress text rule and the input fingerprints",
			Resource: jobRes, Handle: s.jobLogs},
		s.jobStopRoute("cancel", "job.cancel", "Cancel a job of one's own organisation"),
		s.jobStopRoute("halt", "job.halt", "Halt a job that reveals a risk, with a reason; an incident is recorded (R-17)"),
	}
}

func (s *Server) importImage(ctx context.Context, c *call) (any, error) {
	name := c.query("name")
	if name != "" && !imageNameRE.MatchString(name) {
		return nil, fmt.Errorf("image name must match %s: %w", imageNameRE, errdefs.ErrInvalidArgument)
	}
	// Limits first: how many uploads, how slow, how much the
	// organisation keeps.
	up, err := s.beginUpload(c)
	if err != nil {
		return nil, err
	}
	defer up.end()
	body, done, err := s.quotaReader(ctx, c, c.r.Body)
	if err != nil {
		return nil, err
	}
	defer done()
	tmp, err := os.CreateTemp(s.TempDir, "image-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := io.Copy(tmp, io.LimitReader(body, s.MaxUploadBytes+1))
	if err != nil {
		if errdefs.IsResourceExhausted(err) || errors.Is(err, errSlowUpload) {
			return nil, err
		}
		return nil, fmt.Errorf("receive image: %w", errdefs.ErrInvalidArgument)
	}
	up.received()
	if n > s.MaxUploadBytes || n == 0 {
		return nil, fmt.Errorf("image archive is empty or larger than %d bytes: %w", s.MaxUploadBytes, errdefs.ErrInvalidArgument)
	}
	if err := body.recheck(ctx); err != nil {
		return nil, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	// The archive is outside input: checked, its layers too, before
	// containerd reads it and long before anything is unpacked.
	sum, err := ociarchive.CheckImage(tmp, s.MaxUploadBytes, s.Uploads.Image)
	if err != nil {
		return nil, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	digest, err := s.Jobs.Runtime().ImportImage(ctx, tmp)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = digest[7:19]
	}
	im := &jobs.Image{Digest: digest, ID: digest, Name: name, Size: n, Status: jobs.ImagePending, Org: c.subject.Org.Name,
		ImportedBy: c.subject.Person.ID, ImportedAt: s.Now().UTC(), Unpacked: sum.Unpacked, Layers: sum.Layers}
	ev := audit.Event{Action: "image.import", Objects: []string{"image:" + digest}, Details: map[string]string{"name": name, "bytes": fmt.Sprint(n),
		"unpacked_bytes": fmt.Sprint(sum.Unpacked), "layers": fmt.Sprint(sum.Layers)}}
	err = c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error { return jobs.CreateImage(ctx, tx, im) })
	if errdefs.IsAlreadyExists(err) {
		im, err = jobs.GetImage(ctx, s.DB.SQL(), digest)
	}
	if err != nil {
		return nil, err
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
	return route{Method: "POST", Path: "/v1/images/{digest}/" + verb, Action: action,
		Summary: strings.ToUpper(verb[:1]) + verb[1:] + " a pending image (an officer of another organisation than the importer's)",
		Request: api.CommentRequest{}, Response: api.Image{}, Resource: res,
		Handle: func(ctx context.Context, c *call) (any, error) {
			var req api.CommentRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			digest := c.path("digest")
			if status == jobs.ImageApproved {
				// Unpack and remap once, before the approval takes effect,
				// and only within the quota of unpacked images.
				s.uploads.approving.Lock()
				defer s.uploads.approving.Unlock()
				im, err := jobs.GetImage(ctx, s.DB.SQL(), digest)
				if err != nil {
					return nil, err
				}
				if im.Status == jobs.ImagePending {
					if err := s.checkSnapshotQuota(ctx, im); err != nil {
						return nil, err
					}
				}
				if err := s.Jobs.Runtime().PrepareImage(ctx, digest); err != nil {
					return nil, err
				}
			}
			var im *jobs.Image
			ev := audit.Event{Action: action, Objects: []string{"image:" + digest}, Reason: req.Comment}
			err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
				var err error
				im, err = jobs.DecideImage(ctx, tx, digest, status, c.subject.Person.ID, req.Comment, s.Now())
				return err
			})
			if err != nil {
				return nil, err
			}
			return imageView(im), nil
		}}
}

// jobRunResource resolves a job request into what the policy decides on:
// the image and its review state, each input version with its marks and
// state, the organisation's grants, usage and the requested resources.
func (s *Server) jobRunResource(ctx context.Context, c *call) (authz.Resource, error) {
	var req api.JobRequest
	if err := c.decode(&req); err != nil {
		return authz.Resource{}, err
	}
	if !sandbox.ValidDigest(req.Image) {
		return authz.Resource{}, fmt.Errorf("image must be a digest sha256:...: %w", errdefs.ErrInvalidArgument)
	}
	if len(req.Args) == 0 {
		return authz.Resource{}, fmt.Errorf("a job needs a command after --: %w", errdefs.ErrInvalidArgument)
	}
	if len(req.Inputs) == 0 {
		return authz.Resource{}, fmt.Errorf("a job reads at least one dataset (--input): %w", errdefs.ErrInvalidArgument)
	}
	if err := api.CheckOutputs(req.Outputs); err != nil {
		return authz.Resource{}, err
	}
	limits, err := jobLimits(req)
	if err != nil {
		return authz.Resource{}, err
	}
	res := resource("job", "", c.subject.Org.Name)
	res.Owner = c.subject.Person.ID
	im, err := jobs.GetImage(ctx, s.DB.SQL(), req.Image)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return authz.Resource{}, fmt.Errorf("image %q was never imported: %w", req.Image, errdefs.ErrInvalidArgument)
		}
		return authz.Resource{}, err
	}
	res.Image = &policy.Image{Digest: im.Digest, Status: im.Status}
	ins, err := grants.ParseDatasets(req.Inputs, req.Columns)
	if err != nil {
		return authz.Resource{}, err
	}
	pds, vs, err := s.policyDatasets(ctx, c, ins)
	if err != nil {
		return authz.Resource{}, err
	}
	seen := map[string]bool{}
	for i, v := range vs {
		if seen[v.Name] {
			return authz.Resource{}, fmt.Errorf("dataset %q is an input twice: %w", v.Name, errdefs.ErrInvalidArgument)
		}
		seen[v.Name] = true
		if len(pds[i].Columns) == 0 {
			for _, col := range v.Columns {
				pds[i].Columns = append(pds[i].Columns, col.Name) // the whole input file
			}
		}
	}
	res.Datasets = pds
	gs, err := grants.ForOrg(ctx, s.DB.SQL(), c.subject.Org.Name)
	if err != nil {
		return authz.Resource{}, err
	}
	for _, g := range gs {
		res.Grants = append(res.Grants, g.Policy())
	}
	running, cpu, err := jobs.OrgUsage(ctx, s.DB.SQL(), c.subject.Org.Name, s.Now())
	if err != nil {
		return authz.Resource{}, err
	}
	res.Usage = policy.Usage{RunningJobs: running, CPUSecondsMonth: cpu}
	if res.Quota, err = usage.GetQuota(ctx, s.DB.SQL(), c.subject.Org.Name); err != nil {
		return authz.Resource{}, err
	}
	res.Request = policy.Request{CPU: limits.CPUs, MemoryBytes: limits.MemoryBytes}
	c.body = jobPlan{req: req, limits: limits, versions: vs, columns: ins}
	return res, nil
}

type jobPlan struct {
	columns  []grants.Dataset
	req      api.JobRequest
	limits   sandbox.Limits
	versions []*datasets.Version
}

func jobLimits(req api.JobRequest) (sandbox.Limits, error) {
	l := sandbox.DefaultLimits()
	if req.CPUs != 0 {
		l.CPUs = req.CPUs
	}
	if req.Memory != "" {
		n, err := ParseSize(req.Memory)
		if err != nil {
			return l, err
		}
		l.MemoryBytes = n
	}
	if req.Timeout != "" {
		d, err := time.ParseDuration(req.Timeout)
		if err != nil {
			return l, fmt.Errorf("timeout %q is not a duration such as 10m: %w", req.Timeout, errdefs.ErrInvalidArgument)
		}
		l.Timeout = d
	}
	if err := l.Validate(); err != nil {
		return l, err
	}
	return l, nil
}

// ParseSize reads sizes such as 512Mi, 2Gi, 100M or 1048576.
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"K", 1000}, {"M", 1000 * 1000}, {"G", 1000 * 1000 * 1000}} {
		if strings.HasSuffix(s, u.suffix) {
			mult, num = u.m, strings.TrimSuffix(s, u.suffix)
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("size %q is not a size such as 512Mi or 2Gi: %w", s, errdefs.ErrInvalidArgument)
	}
	return n * mult, nil
}

func (s *Server) runJob(ctx context.Context, c *call) (any, error) {
	plan := c.body.(jobPlan)
	var inputs []jobs.Input
	for i, v := range plan.versions {
		inputs = append(inputs, jobs.Input{Dataset: v.Name, Version: v.Version, Level: v.Level, Market: v.Market, HasPI: v.HasPI(),
			Columns: plan.columns[i].Columns})
	}
	id := strings.ReplaceAll(people.NewID("j-"), "_", "-")
	j := s.Jobs.New(id, c.subject.Org.Name, c.subject.Person.ID, plan.req.Image, plan.req.Args, inputs, c.decision.Grants, plan.limits,
		plan.req.Outputs, c.revision)
	ev := audit.Event{Action: "job.run", Objects: append([]string{"job:" + id, "image:" + plan.req.Image}, objects(c.resource)...),
		Details: map[string]string{"cpus": fmt.Sprint(plan.limits.CPUs), "memory_bytes": fmt.Sprint(plan.limits.MemoryBytes),
			"timeout": plan.limits.Timeout.String(), "declared_outputs": fmt.Sprint(len(plan.req.Outputs))}}
	for ds, g := range c.decision.Grants {
		ev.Details["grant:"+ds] = g
	}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		used := map[string]bool{}
		for _, g := range c.decision.Grants {
			if used[g] {
				continue
			}
			used[g] = true
			if err := grants.UseBatch(ctx, tx, g); err != nil {
				return err
			}
		}
		return s.Jobs.Insert(ctx, tx, j)
	})
	if err != nil {
		return nil, err
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
	if j.State.Terminal() && !exactView(c, j.Org) {
		if d := j.RevealAt().Sub(s.Now()); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
	}
	return s.jobView(ctx, c, j)
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

// jobLogs serves a job's output stream. Officers of another organisation
// read it unfiltered, at any time. For anyone else, the job's own operators
// and officers of their organisation included, the log is a way out of the
// enclave like any other: it is shown only once the coarse view shows the
// job ended (lines read as they appear would time the job), and line by
// line: a line that holds a value of the
// job's inputs (the fingerprint scan) or that the egress text rule
// withholds (checks.LogFilter: identifier-like and unexplained tokens over
// a small budget per line and per log) is replaced by a notice. If the scan
// cannot run, everything is withheld.
func (s *Server) jobLogs(ctx context.Context, c *call) (any, error) {
	j := c.body.(*jobs.Job)
	exact := exactView(c, j.Org)
	if !exact && (!j.State.Terminal() || s.Now().Before(j.RevealAt())) {
		// Lines read as they appear would time the job to the moment.
		return nil, fmt.Errorf("job %q has not ended; its log is shown once it has: %w", j.ID, errdefs.ErrFailedPrecondition)
	}
	f, err := s.Jobs.Logs(j.ID)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return nil, err
	}
	var withheld map[int]bool
	var lines []string
	if !exact {
		if s.Exports == nil {
			return nil, fmt.Errorf("the log of job %q cannot be checked: no egress checks are configured: %w", j.ID, errdefs.ErrUnavailable)
		}
		// The scan and the text rule run in a check process: the log is
		// what the job wrote.
		withheld, err = s.Exports.WithheldLines(ctx, j, data)
		if err != nil {
			s.Log.Error("log scan failed; withholding the whole log", "request", c.reqID, "job", j.ID, "err", err)
			return nil, fmt.Errorf("the log of job %q cannot be checked now, so none of it is shown: %w", j.ID, errdefs.ErrUnavailable)
		}
		lines = strings.SplitAfter(string(data), "\n")
	}
	ev := audit.Event{Action: "job.logs.read", Outcome: "ok", Objects: []string{"job:" + j.ID},
		Details: map[string]string{"filtered": fmt.Sprint(!exact), "withheld_lines": fmt.Sprint(len(withheld)), "bytes": fmt.Sprint(len(data))}}
	if err := c.record(ctx, ev); err != nil {
		return nil, err
	}
	c.raw = true
	c.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	c.w.Header().Set("Cache-Control", "no-store")
	c.w.WriteHeader(http.StatusOK)
	if exact {
		c.w.Write(data)
		return nil, nil
	}
	for i, line := range lines {
		if line == "" {
			continue
		}
		if withheld[i] {
			fmt.Fprintf(c.w, "[line %d withheld: it may carry data of the job's inputs]\n", i+1)
			continue
		}
		io.WriteString(c.w, line)
	}
	return nil, nil
}

func (s *Server) jobStopRoute(verb, action, summary string) route {
	return route{Method: "POST", Path: "/v1/jobs/{id}/" + verb, Action: action, Summary: summary,
		Request: api.ReasonRequest{}, Response: api.Job{},
		Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
			j, err := jobs.Get(ctx, s.DB.SQL(), c.path("id"))
			if err != nil {
				return authz.Resource{}, err
			}
			res := resource("job", j.ID, j.Org)
			res.Owner = j.Owner
			return res, nil
		},
		Handle: func(ctx context.Context, c *call) (any, error) {
			var req api.ReasonRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			if verb == "halt" {
				if err := checkReason(req.Reason); err != nil {
					return nil, err
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
			err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
				j, err := jobs.Get(ctx, tx, id)
				if err != nil {
					return err
				}
				if j.State.Terminal() {
					return fmt.Errorf("job %q already ended (%s): %w", id, j.State, errdefs.ErrFailedPrecondition)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			if err := s.Jobs.Cancel(context.WithoutCancel(ctx), id, why); err != nil {
				return nil, err
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			j, err := s.Jobs.Wait(wctx, id)
			if err != nil {
				return nil, err
			}
			return s.endedView(wctx, c, j)
		}}
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
