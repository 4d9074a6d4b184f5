package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/metrics"
)

// Metrics is the Prometheus view (enclave/metrics.Metrics): the router
// counts every policy decision, and /metrics serves the exposition.
type Metrics interface {
	// ObserveDecision counts one decision on action with outcome "allow",
	// "deny" or "error".
	ObserveDecision(action, outcome string)
	// Handler serves the exposition; the server authenticates and
	// authorizes ("metrics.read") before calling it.
	Handler() http.Handler
}

var _ Metrics = (*metrics.Metrics)(nil)

func (s *Server) metricsRoutes() []route {
	return []route{
		{Method: "GET", Path: "/metrics", Action: "metrics.read", Summary: "Prometheus metrics (bearer token of the bureau or an admin)",
			Handle: func(ctx context.Context, c *call) (any, error) {
				if s.Metrics == nil {
					return nil, fmt.Errorf("metrics are not enabled: %w", errdefs.ErrNotFound)
				}
				c.raw = true
				c.w.Header().Set("Cache-Control", "no-store")
				s.Metrics.Handler().ServeHTTP(c.w, c.r)
				return nil, nil
			}},
	}
}

// observeDecision counts a decision when metrics are enabled.
func (s *Server) observeDecision(action string, allow bool, err error) {
	if s.Metrics == nil {
		return
	}
	switch {
	case err != nil:
		s.Metrics.ObserveDecision(action, metrics.Error)
	case allow:
		s.Metrics.ObserveDecision(action, metrics.Allow)
	default:
		s.Metrics.ObserveDecision(action, metrics.Deny)
	}
}
