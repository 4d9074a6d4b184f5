package server

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/services"
)

// Services over a released export (bulk, and query over a released
// table) and client certificates on the TLS listener (issue 19 items 1
// and 3). The domain is enclave/services (exported.go, certs.go).

// bulkRoute is GET /v1/services/{name}/bulk/latest: an application
// system of a subscriber downloads the signed bundle of the service's
// product, its newest release.
func (s *Server) bulkRoute() route {
	return planned(route{Method: "GET", Path: "/v1/services/{name}/bulk/latest", Action: "service.bulk", RecordsOutcome: true,
		Summary: "Bulk copy (an application system's credential): the signed release bundle of the service's product, its newest release; each download audited and metered"},
		s.callResource, s.bulkLatest)
}

// bulkLatest sends the bundle of the newest release of a bulk service's
// product. The access was recorded as an intent before; the outcome
// (which export, bytes, the bundle's SHA-256) is recorded after.
func (s *Server) bulkLatest(ctx context.Context, c *call, caller *services.Caller, _ none) (none, error) {
	if caller == nil {
		return none{}, fmt.Errorf("the credential's subscription is not to this service: %w", errdefs.ErrPermissionDenied)
	}
	if s.Exports == nil {
		return none{}, fmt.Errorf("this daemon keeps no release bundles (it runs no jobs): %w", errdefs.ErrFailedPrecondition)
	}
	cl := *caller
	sv, wait, err := s.services.Admit(ctx, cl, c.path("name"), 1)
	if err != nil {
		if wait > 0 {
			c.w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		}
		return none{}, err
	}
	e, err := s.services.Bulk(ctx, cl, sv)
	if err != nil {
		return none{}, err
	}
	n, err := s.sendBundle(c, e)
	ev := audit.Event{Action: "service.bulk", Outcome: "ok",
		Objects: []string{"service:" + sv.Name, "subscription:" + cl.Subscription, "credential:" + cl.Credential, "export:" + e.ID},
		Details: map[string]string{"system": cl.System, "bytes": strconv.FormatInt(n, 10), "bundle_sha256": e.BundleSHA256}}
	if err != nil {
		_, class := status(err)
		ev.Outcome, ev.Reason = "failed", class
	}
	if aerr := c.record(context.WithoutCancel(ctx), ev); aerr != nil {
		s.Log.Error("audit append of a bulk download's outcome failed", "request", c.reqID, "err", aerr)
		if err == nil {
			err = aerr
		}
	}
	if err != nil && c.raw {
		s.Log.Warn("bulk download ended early", "request", c.reqID, "service", sv.Name, "export", e.ID, "bytes", n)
		return none{}, nil
	}
	return none{}, err
}

// createOnExport creates a bulk or query service over a released export
// of the caller's organisation.
func (s *Server) createOnExport(ctx context.Context, c *call, req api.ServiceRequest) (any, error) {
	if req.Dataset != "" {
		return nil, fmt.Errorf("a service is over a dataset (--dataset) or a released export (--export), not both: %w", errdefs.ErrInvalidArgument)
	}
	rate, err := services.ParseRate(req.Rate)
	if err != nil {
		return nil, err
	}
	if s.Exports == nil {
		return nil, fmt.Errorf("this daemon keeps no release bundles (it runs no jobs): %w", errdefs.ErrFailedPrecondition)
	}
	q := s.DB.SQL()
	e, err := exports.Get(ctx, q, req.Export)
	if err != nil || e.Org != c.subject.Org.Name {
		// Another organisation's export reads as one that does not exist.
		return nil, fmt.Errorf("export %q: not found or not yours: %w", clipName(req.Export), errdefs.ErrNotFound)
	}
	b := services.ExportBasis{Export: e}
	if b.Lineage, err = jobs.JobLineage(ctx, q, e.Job); err != nil {
		return nil, err
	}
	for _, l := range b.Lineage {
		v, err := s.Catalog.Get(ctx, q, l.Dataset, l.Version)
		if err != nil {
			return nil, err
		}
		b.Markets = append(b.Markets, v.Market)
	}
	if req.Mode == services.Query && e.State == exports.Released {
		f, err := s.Exports.OpenBundle(ctx, e.ID)
		if err != nil {
			return nil, fmt.Errorf("release bundle of %q: %w", e.ID, err)
		}
		pub, err := s.Keyring.PublicKey(ctx)
		if err == nil {
			b.Table, err = services.ReadTable(f, pub, req.File)
		}
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	sv := &services.Service{Name: req.Name, Mode: req.Mode, Key: req.Key, Match: req.Match, Columns: req.Columns, Scenario: req.Scenario,
		RatePerMin: rate, DailyMisses: req.DailyMisses, File: req.File}
	by := services.Creator{Person: c.subject.Person.ID, Org: c.subject.Org.Name,
		Custodian: c.subject.Person.HasRole(people.Custodian), Operator: c.subject.Person.HasRole(people.Operator)}
	ev := audit.Event{Action: c.route.Action, Objects: []string{"service:" + req.Name, "export:" + e.ID}}
	err = c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		if err := services.DefineOnExport(ctx, tx, sv, b, by, s.Now()); err != nil {
			return err
		}
		ev.Details = map[string]string{"mode": sv.Mode, "export": sv.Export, "file": sv.File, "key": sv.Key, "columns": strings.Join(sv.Columns, ","),
			"grant": sv.Grant, "rate_per_min": strconv.Itoa(sv.RatePerMin)}
		return services.Create(ctx, tx, sv)
	})
	if err != nil {
		return nil, err
	}
	return s.serviceView(ctx, sv), nil
}

func clipName(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// clientCert returns the DER of the client certificate of a request on
// the TLS listener that the handshake verified against the client CA, or
// nil.
func clientCert(r *http.Request) []byte {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
		return nil
	}
	return r.TLS.PeerCertificates[0].Raw
}

// certSubject turns a verified client certificate into the subject of an
// application system, as credentialSubject does for a token.
func (s *Server) certSubject(ctx context.Context, der []byte) (people.Subject, error) {
	if s.services == nil {
		return people.Subject{}, fmt.Errorf("client certificate is unknown, expired or revoked: %w", errdefs.ErrUnauthenticated)
	}
	cl, err := s.services.AuthenticateCert(ctx, der)
	if err != nil {
		return people.Subject{}, err
	}
	return people.Subject{Person: people.Person{ID: cl.Credential, Name: cl.System, Org: cl.Org.Name, Roles: []people.Role{SystemRole}},
		Org: cl.Org, TokenID: cl.Credential}, nil
}

// callerOf authenticates the application system of a call: its bearer
// token, or else its verified client certificate.
func (s *Server) callerOf(ctx context.Context, r *http.Request) (services.Caller, error) {
	if tok := bearer(r); tok != "" {
		return s.services.Authenticate(ctx, tok)
	}
	if der := clientCert(r); der != nil {
		return s.services.AuthenticateCert(ctx, der)
	}
	return services.Caller{}, fmt.Errorf("no credential: %w", errdefs.ErrUnauthenticated)
}

// openBundle opens a release bundle for the services runtime.
func (s *Server) openBundle(ctx context.Context, id string) (io.ReadSeekCloser, error) {
	if s.Exports == nil {
		return nil, fmt.Errorf("this daemon keeps no release bundles: %w", errdefs.ErrFailedPrecondition)
	}
	return s.Exports.OpenBundle(ctx, id)
}
