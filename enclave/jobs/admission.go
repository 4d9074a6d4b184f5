package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/grants"
	policy "github.com/enclave-dev/enclave/policies"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

// Admission admits jobs, the domain service behind POST /v1/jobs (as
// exports.Service is behind exports): ParseRequest checks a request,
// Plan gathers what the policy decides on (the image and its review, the
// input versions and the columns each is read with, the organisation's
// grants, its running jobs and CPU this month, its quota), and Admit
// records an allowed job in the caller's transaction, with the batch it
// uses of each grant. It is safe for concurrent use.
type Admission struct {
	Jobs *Manager
	// Quota reads an organisation's quota (usage.GetQuota: that package
	// reads the jobs table, so it is handed in rather than imported).
	Quota func(ctx context.Context, org string) (policy.Quota, error)
	// Now returns the current time; nil is time.Now.
	Now func() time.Time
}

// Request is a job request that passed ParseRequest.
type Request struct {
	Image string
	Args  []string
	// Inputs name the dataset versions (NAME or NAME@V); Columns
	// (DATASET.COLUMN) the only columns read of those inputs.
	Inputs, Columns []string
	Outputs         []string
	Limits          sandbox.Limits
}

// ParseRequest checks a job request: an image digest, a command, at least
// one input, valid declared outputs (api.CheckOutputs) and limits within
// the sandbox's bounds. Its errors are of class
// errdefs.ErrInvalidArgument and name what is wrong.
func ParseRequest(req api.JobRequest) (Request, error) {
	if !sandbox.ValidDigest(req.Image) {
		return Request{}, fmt.Errorf("image must be a digest sha256:...: %w", errdefs.ErrInvalidArgument)
	}
	if len(req.Args) == 0 {
		return Request{}, fmt.Errorf("a job needs a command after --: %w", errdefs.ErrInvalidArgument)
	}
	if len(req.Inputs) == 0 {
		return Request{}, fmt.Errorf("a job reads at least one dataset (--input): %w", errdefs.ErrInvalidArgument)
	}
	if err := api.CheckOutputs(req.Outputs); err != nil {
		return Request{}, err
	}
	limits, err := parseLimits(req)
	if err != nil {
		return Request{}, err
	}
	return Request{Image: req.Image, Args: req.Args, Inputs: req.Inputs, Columns: req.Columns, Outputs: req.Outputs, Limits: limits}, nil
}

func parseLimits(req api.JobRequest) (sandbox.Limits, error) {
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

// ParseSize reads sizes such as 512Mi, 2Gi, 100M or 1048576. Its errors
// are of class errdefs.ErrInvalidArgument.
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

// Plan is what the policy decides a job request on, gathered by
// Admission.Plan, and what Admit records once it is allowed.
type Plan struct {
	Request
	// Org and Owner are the organisation and the person who run the job.
	Org, Owner string
	Image      *Image
	// Reads are the inputs with the columns the job reads of each (none:
	// every column); Versions are their versions, in the same order, and
	// Datasets the same as the policy sees them, each with the columns
	// the job reads (all of them when the request named none).
	Reads    []grants.Dataset
	Versions []*datasets.Version
	Datasets []policy.Dataset
	Grants   []policy.Grant
	Usage    policy.Usage
	Quota    policy.Quota
}

// Resolver finds the versions named by a job's inputs and how the policy
// sees each (its marks and state; the server's, which also marks the
// datasets an open incident holds), in their order.
type Resolver func(ctx context.Context, ins []grants.Dataset) ([]policy.Dataset, []*datasets.Version, error)

// Plan gathers what the policy decides r on for person owner of
// organisation org; resolve finds the input versions. An image never
// imported, a column syntax error and an input named twice are
// errdefs.ErrInvalidArgument.
func (a *Admission) Plan(ctx context.Context, q Querier, org, owner string, r Request, resolve Resolver) (*Plan, error) {
	im, err := GetImage(ctx, q, r.Image)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("image %q was never imported: %w", r.Image, errdefs.ErrInvalidArgument)
		}
		return nil, err
	}
	reads, err := grants.ParseDatasets(r.Inputs, r.Columns)
	if err != nil {
		return nil, err
	}
	pds, vs, err := resolve(ctx, reads)
	if err != nil {
		return nil, err
	}
	if len(pds) != len(reads) || len(vs) != len(reads) {
		return nil, fmt.Errorf("job plan: %d inputs resolved to %d datasets and %d versions: %w", len(reads), len(pds), len(vs), errdefs.ErrInternal)
	}
	p := &Plan{Request: r, Org: org, Owner: owner, Image: im, Reads: reads, Versions: vs, Datasets: make([]policy.Dataset, len(pds))}
	seen := map[string]bool{}
	for i, v := range vs {
		if seen[v.Name] {
			return nil, fmt.Errorf("dataset %q is an input twice: %w", v.Name, errdefs.ErrInvalidArgument)
		}
		seen[v.Name] = true
		p.Datasets[i] = pds[i]
		if len(pds[i].Columns) == 0 {
			p.Datasets[i].Columns = make([]string, 0, len(v.Columns))
			for _, col := range v.Columns {
				p.Datasets[i].Columns = append(p.Datasets[i].Columns, col.Name) // the whole input file
			}
		}
	}
	gs, err := grants.ForOrg(ctx, q, org)
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		p.Grants = append(p.Grants, g.Policy())
	}
	running, cpu, err := OrgUsage(ctx, q, org, a.now())
	if err != nil {
		return nil, err
	}
	p.Usage = policy.Usage{RunningJobs: running, CPUSecondsMonth: cpu}
	if a.Quota != nil {
		if p.Quota, err = a.Quota(ctx, org); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Admit records the job of a plan the policy allowed, in tx: one batch of
// each grant the decision used (grantOf: dataset -> grant id) is spent
// and the job is inserted queued, under the policy revision that decided.
// The caller commits tx (with its audit entry) and then calls
// Manager.Enqueue with the job's id. A grant without batches left and a
// full queue are refused (errdefs.ErrResourceExhausted) and, tx rolled
// back, nothing is recorded.
func (a *Admission) Admit(ctx context.Context, tx *sql.Tx, p *Plan, id string, grantOf map[string]string, revision string) (*Job, error) {
	inputs := make([]Input, len(p.Versions))
	for i, v := range p.Versions {
		inputs[i] = Input{Dataset: v.Name, Version: v.Version, Level: v.Level, Market: v.Market, HasPI: v.HasPI(), Columns: p.Reads[i].Columns}
	}
	j := a.Jobs.New(NewJob{ID: id, Org: p.Org, Owner: p.Owner, Image: p.Image.Digest, Args: p.Args, Inputs: inputs, Grants: grantOf,
		Limits: p.Limits, Outputs: p.Outputs, Revision: revision})
	used := map[string]bool{}
	for _, g := range grantOf {
		if used[g] {
			continue
		}
		used[g] = true
		if err := grants.UseBatch(ctx, tx, g); err != nil {
			return nil, err
		}
	}
	if err := a.Jobs.Insert(ctx, tx, j); err != nil {
		return nil, err
	}
	return j, nil
}

func (a *Admission) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}
