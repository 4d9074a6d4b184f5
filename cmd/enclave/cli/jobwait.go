package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
)

// resolveImage turns an image reference into its digest: a digest
// (sha256:...) as it is, a name through the image list. A name that is
// nobody's, that several images carry, or (for a job, approved) whose image
// is not approved is an error naming what to do instead.
func resolveImage(ctx context.Context, e *env, ref string, approved bool) (string, error) {
	if strings.HasPrefix(ref, "sha256:") {
		return ref, nil
	}
	ims, err := e.client.ListImages(ctx)
	if err != nil {
		return "", err
	}
	var found []api.Image
	for _, im := range ims {
		if im.Name == ref {
			found = append(found, im)
		}
	}
	if approved && len(found) > 1 {
		// Only approved images run: a name with one approved image
		// among pending or rejected ones is not ambiguous for a job.
		var ok []api.Image
		for _, im := range found {
			if im.Status == "approved" {
				ok = append(ok, im)
			}
		}
		if len(ok) == 1 {
			found = ok
		}
	}
	switch {
	case len(found) == 0:
		return "", fmt.Errorf("no image named %q: give its digest (sha256:...) or a name from enclave image list: %w", ref, errdefs.ErrNotFound)
	case len(found) > 1:
		return "", fmt.Errorf("%d images are named %q: give the digest of the one you mean (enclave image list): %w", len(found), ref, errdefs.ErrInvalidArgument)
	case approved && found[0].Status != "approved":
		return "", fmt.Errorf("image %q (%s) is %s, not approved: an officer of another organisation approves it first: %w", ref, found[0].Digest, found[0].Status, errdefs.ErrFailedPrecondition)
	}
	return found[0].Digest, nil
}

// waitJob waits until j ends. On a terminal it keeps a status line on
// stderr (erased at the end); with follow it prints the log as it grows
// (the caller's view of it, filtered as job logs filters it).
func (e *env) waitJob(ctx context.Context, j api.Job, follow bool) (api.Job, error) {
	status := isTerminal(e.stderr)
	if !status && !follow {
		return e.client.WaitJob(ctx, j.ID)
	}
	logs := e.stdout
	if e.output == "json" || e.output == "yaml" || e.json {
		logs = e.stderr // stdout holds the job, machine-readable
	}
	start := time.Now()
	var printed int64
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		var err error
		if j, err = e.client.ShowJob(ctx, j.ID); err != nil {
			return j, err
		}
		if follow {
			if printed, err = e.logsFrom(ctx, j.ID, printed, logs, status); err != nil {
				return j, err
			}
		}
		if j.Terminal() {
			if status {
				fmt.Fprint(e.stderr, eraseLine)
			}
			return j, nil
		}
		if status {
			fmt.Fprintf(e.stderr, "%sjob %s %s  %s", eraseLine, j.ID, paint(e.colourTo(e.stderr), stateColour(j.State), j.State), time.Since(start).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			if status {
				fmt.Fprint(e.stderr, eraseLine)
			}
			return j, ctx.Err()
		case <-tick.C:
		}
	}
}

// logsFrom prints what the job's log holds past the first n bytes and
// returns how much has been printed.
func (e *env) logsFrom(ctx context.Context, id string, n int64, w io.Writer, status bool) (int64, error) {
	rc, err := e.client.JobLogs(ctx, id)
	if err != nil {
		return n, err
	}
	defer rc.Close()
	if _, err := io.CopyN(io.Discard, rc, n); err != nil {
		return n, nil // nothing new (or the log is shorter than before)
	}
	if status {
		fmt.Fprint(e.stderr, eraseLine)
	}
	m, err := io.Copy(w, rc)
	return n + m, err
}
