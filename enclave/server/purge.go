package server

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
)

type purger interface {
	Purgeable(ctx context.Context, now time.Time) (audit.PurgeReport, []uint64, error)
	Purge(ctx context.Context, firsts []uint64) error
}

func (s *Server) purgeRoutes() []route {
	return []route{{Method: "POST", Path: "/v1/audit/purge", Action: "audit.purge",
		Summary: "Purge the oldest audit entries that are past their retention (3 years; 5 for authorization-required or withheld data); their leaf hashes stay so audit verify still passes",
		Request: api.PurgeRequest{}, Response: api.PurgeResult{},
		Handle: func(ctx context.Context, c *call) (any, error) {
			var req api.PurgeRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			p, ok := s.Audit.(purger)
			if !ok {
				return nil, fmt.Errorf("this audit log cannot purge: %w", errdefs.ErrNotImplemented)
			}
			rep, firsts, err := p.Purgeable(ctx, s.Now())
			if err != nil {
				return nil, err
			}
			out := api.PurgeResult{DryRun: req.DryRun, Segments: rep.Segments, Entries: rep.Entries, First: rep.First, Last: rep.Last}
			details := map[string]string{"segments": fmt.Sprint(rep.Segments), "entries": fmt.Sprint(rep.Entries), "dry_run": fmt.Sprint(req.DryRun)}
			if rep.Entries > 0 {
				details["first"], details["last"] = fmt.Sprint(rep.First), fmt.Sprint(rep.Last)
			}
			// The purge is on the record before it takes effect.
			if err := c.record(ctx, audit.Event{Action: "audit.purge", Outcome: "ok", Details: details, Retention: audit.Retention5y}); err != nil {
				return nil, err
			}
			if req.DryRun || len(firsts) == 0 {
				return out, nil
			}
			return out, p.Purge(ctx, firsts)
		}}}
}
