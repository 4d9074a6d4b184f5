package exports

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/release"
)

// Needed is how many approvals release e: ApprovalsNeeded, and at least two
// to override failed checks.
func (e *Export) Needed() int {
	if e.State == ChecksFailed && e.ApprovalsNeeded < 2 {
		return 2
	}
	return e.ApprovalsNeeded
}

// Ready says whether e has all its approvals but no release: the moment
// between the last approval and the release being recorded, which a
// crash or a release that could not be built can make last.
func (e *Export) Ready() bool {
	return (e.State == PendingReview || e.State == ChecksFailed) && e.Approvals() >= e.Needed()
}

// Unreleased returns the exports that have all their approvals and no
// release, oldest first.
func Unreleased(ctx context.Context, q Querier) ([]*Export, error) {
	all, err := List(ctx, q, "", false)
	if err != nil {
		return nil, err
	}
	var out []*Export
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Ready() {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// Withdraw removes person's approval of export id, when the release it
// made ready could not be built: the export takes decisions again and the
// person may approve it again. The approval stays on the audit log.
func Withdraw(ctx context.Context, q Querier, id, person string) error {
	res, err := q.ExecContext(ctx, `DELETE FROM export_reviews WHERE export = ? AND person = ? AND decision = ?`, id, person, Approve)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("export %q has no approval by %q: %w", id, person, errdefs.ErrNotFound)
	}
	return nil
}

// LastApproval returns the person whose approval came last.
func (e *Export) LastApproval() (Review, bool) {
	for i := len(e.Reviews) - 1; i >= 0; i-- {
		if e.Reviews[i].Decision == Approve {
			return e.Reviews[i], true
		}
	}
	return Review{}, false
}

// BuildRelease writes the signed bundle of export e, which has all its
// approvals, with its provenance (the job, its inputs and their marks, the
// checks, the approvals) released at now. It returns the predicate and the
// bundle's SHA-256; the caller records the release.
func (s *Service) BuildRelease(ctx context.Context, e *Export, now time.Time) (release.Predicate, string, error) {
	j, err := jobs.Get(ctx, s.Jobs.DB(), e.Job)
	if err != nil {
		return release.Predicate{}, "", err
	}
	pred := release.Predicate{Release: "r_" + strings.TrimPrefix(e.ID, "x_"), Export: e.ID, Org: e.Org, Requester: e.Requester,
		Purpose: e.Purpose, Scenario: e.Scenario, Grants: j.Grants, PolicyRevision: j.Revision, Verdict: string(e.Result.Verdict),
		Overridden: e.State == ChecksFailed, RequestedAt: e.CreatedAt, ReleasedAt: now.UTC(), Keyring: s.Keyring.Name(),
		Job: release.Job{ID: j.ID, Image: j.Image, Command: j.Args, ExitCode: j.ExitCode}}
	// The attestation names people beside their ids (issue 21): the
	// signature covers the names as they were at the release.
	name := func(id string) string {
		if p, err := people.GetPerson(ctx, s.Jobs.DB(), id); err == nil {
			return p.Name
		}
		return ""
	}
	pred.RequesterName = name(e.Requester)
	if j.EndedAt != nil {
		pred.Job.Ended = j.EndedAt.UTC().Format("2006-01-02T15:04:05Z")
	}
	for _, in := range j.Inputs {
		ri := release.Input{Dataset: in.Dataset, Version: in.Version, Level: in.Level, Market: in.Market}
		if v, err := s.Catalog.Get(ctx, nil, in.Dataset, in.Version); err == nil {
			ri.Marks = v.Marks
		}
		pred.Inputs = append(pred.Inputs, ri)
	}
	for _, cr := range e.Result.Checks {
		pred.Checks = append(pred.Checks, release.Check{Name: cr.Name, Version: cr.Version, Verdict: string(cr.Verdict)})
	}
	for _, r := range e.Reviews {
		if r.Decision == Approve {
			pred.Approvals = append(pred.Approvals, release.Approval{Person: r.Person, PersonName: name(r.Person), Org: r.Org, Time: r.Time, Comment: r.Comment, Justification: r.Justification})
		}
	}
	sum, err := s.Release(ctx, e, j, pred)
	if err != nil {
		return release.Predicate{}, "", err
	}
	return pred, sum, nil
}

// Tidy runs at start, before anything else uses the exports directory, and
// removes what a daemon that stopped in the middle left behind: partial
// bundles (release.tar.tmp), the plaintext of a review or a release that
// was under way (review/), and the
// directories of export requests that were never recorded. It returns
// what it removed, relative to the directory.
func (s *Service) Tidy(ctx context.Context) ([]string, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	remove := func(rel string) error {
		p := filepath.Join(s.Dir, rel)
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		removed = append(removed, rel)
		return nil
	}
	for _, ent := range ents {
		id := ent.Name()
		if !ent.IsDir() || !strings.HasPrefix(id, "x_") {
			continue
		}
		e, err := Get(ctx, s.Jobs.DB(), id)
		switch {
		case errdefs.IsNotFound(err):
			if err := remove(id); err != nil {
				return removed, err
			}
			continue
		case err != nil:
			return removed, err
		}
		// review/ is plaintext kept only while a review or a release
		// reads it; inputs/ and canonical/ are where daemons before
		// sealed staging kept the same.
		for _, rel := range []string{"release.tar.tmp", reviewDir, "inputs", "canonical"} {
			if err := remove(filepath.Join(id, rel)); err != nil {
				return removed, err
			}
		}
		if ents, err := os.ReadDir(filepath.Join(s.Dir, id)); err == nil {
			for _, ent := range ents {
				if strings.HasPrefix(ent.Name(), reviewDir+"-") { // a download's decrypted bundle
					if err := remove(filepath.Join(id, ent.Name())); err != nil {
						return removed, err
					}
				}
			}
		}
		// Frozen files and bundles an earlier daemon kept as plaintext
		// are sealed under the export's key (made now).
		if err := jobs.SealInPlace(ctx, s.Jobs.DataKeys(), filepath.Join(s.Dir, id), jobs.ExportKeyObject(id), jobs.KindExport, id, e.Job); err != nil {
			return removed, fmt.Errorf("seal the plaintext an earlier daemon left of export %q: %w", id, err)
		}
	}
	return removed, nil
}
