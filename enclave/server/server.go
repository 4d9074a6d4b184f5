// Package server is the enclave's HTTP API under /v1/: it authenticates
// every request by bearer token, authorizes every endpoint through the one
// authz seam, records every state change and every denial in the audit log
// before the change takes effect, and maps errors to statuses in one place.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/services"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/usage"
	policy "github.com/enclave-dev/enclave/policies"
)

// AuditLog is what the server needs of the audit log.
type AuditLog interface {
	Append(ctx context.Context, ev audit.Event) (uint64, error)
	Verify(ctx context.Context) (audit.Report, error)
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
}

// Deps are the parts the server works with. All are required.
type Deps struct {
	DB      *store.DB
	Audit   AuditLog
	Keyring keys.Keyring
	Authz   authz.Authorizer
	Log     *slog.Logger
	// Version is the program's version, shown by /v1/version.
	Version string
	// TokenTTL is how long a newly issued token is valid.
	TokenTTL time.Duration
	// Now returns the current time; tests replace it.
	Now func() time.Time
	// TempDir holds uploads while they are processed (under the data
	// directory, mode 0700); they are removed afterwards.
	TempDir string
	// Catalog is the dataset catalogue; nil serves no dataset routes.
	Catalog *datasets.Catalog
	// MaxUploadBytes bounds one uploaded file (dataset or image).
	MaxUploadBytes int64
	// Uploads bounds uploads: how many at once, how slow, the quotas of
	// images; the zero value is DefaultUploadLimits.
	Uploads UploadLimits
	// UploadQuota bounds the bytes of operators' uploads (issue 20) that
	// one organisation keeps, pending and approved; 0 is DefaultUploadQuota.
	UploadQuota int64
	// Jobs runs jobs; nil serves no image or job routes.
	Jobs *jobs.Manager
	// Exports reviews and releases outputs; nil serves no export routes.
	Exports *exports.Service
	// Shredder destroys what jobs derived from a dataset version when it
	// is destroyed (their lineage names them); nil when no jobs ever ran.
	Shredder *exports.Shredder
	// Prices turn usage into charges (enclaved run --price-list); the zero
	// value is usage.DefaultPriceList.
	Prices usage.PriceList
	// Metrics counts policy decisions and serves /metrics (enclave/metrics);
	// nil serves 404 there.
	Metrics Metrics
	// Console is the web console (enclave/console), served under
	// /console/; nil serves none.
	Console Console
	// ClientCA issues the client certificates of application systems
	// (issue 19), accepted on the TLS listener; nil issues none.
	ClientCA *services.CA
}

// Console is the web console. It serves its pages under /console/, and
// Vouch turns a request its pages make (a session cookie, plus the CSRF
// token for a state change) into a bearer request, or returns r unchanged;
// the router then authenticates and authorizes it like any other.
type Console interface {
	http.Handler
	Vouch(r *http.Request) *http.Request
}

// Server serves the API. Create it with New.
type Server struct {
	Deps
	routes  []route
	handler http.Handler

	mu      sync.Mutex
	servers []*http.Server
	uploads uploads

	// The domain services of jobs (nil without Jobs).
	admission *jobs.Admission
	logs      *jobs.Logs
	images    *jobs.ImageReview
	// services answers service calls (nil without Catalog).
	services *services.Runtime
}

// New returns a server over deps.
func New(deps Deps) (*Server, error) {
	if deps.DB == nil || deps.Audit == nil || deps.Keyring == nil || deps.Authz == nil {
		return nil, fmt.Errorf("server needs a database, an audit log, a keyring and an authorizer: %w", errdefs.ErrInvalidArgument)
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.MaxUploadBytes == 0 {
		deps.MaxUploadBytes = 64 << 30
	}
	if deps.TempDir == "" {
		deps.TempDir = os.TempDir()
	}
	deps.Uploads = deps.Uploads.effective()
	if deps.TokenTTL == 0 {
		deps.TokenTTL = 90 * 24 * time.Hour
	}
	s := &Server{Deps: deps}
	s.uploads.perPerson, s.uploads.imageBytes = map[string]int{}, map[string]int64{}
	if deps.Jobs != nil {
		s.admission = &jobs.Admission{Jobs: deps.Jobs, Now: deps.Now,
			Quota: func(ctx context.Context, org string) (policy.Quota, error) {
				return usage.GetQuota(ctx, deps.DB.SQL(), org)
			}}
		s.logs = &jobs.Logs{Jobs: deps.Jobs, Log: deps.Log, Now: deps.Now}
		if deps.Exports != nil {
			s.logs.Scan = deps.Exports
		}
		s.images = &jobs.ImageReview{Jobs: deps.Jobs, MaxBytes: deps.MaxUploadBytes, Limits: deps.Uploads.Image,
			SnapshotQuota: deps.Uploads.SnapshotQuota, Now: deps.Now}
	}
	if deps.Catalog != nil {
		s.services = &services.Runtime{DB: deps.DB, Catalog: deps.Catalog, Keyring: deps.Keyring, Now: deps.Now, TempDir: deps.TempDir,
			CallPrice: s.prices().Of(usage.Industry).Call, PublicCallPrice: s.prices().Of(usage.PublicInterest).Call}
		s.services.Bundles = s.openBundle
	}
	s.routes = s.allRoutes()
	if err := checkRoutes(s.routes); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, requestID(r), fmt.Errorf("no endpoint %s %s: %w", r.Method, r.URL.Path, errdefs.ErrNotFound), nil)
	})
	var h http.Handler = mux
	if deps.Console != nil {
		mux.Handle("/console/", deps.Console)
		mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { mux.ServeHTTP(w, deps.Console.Vouch(r)) })
	}
	s.handler = securityHeaders(h)
	return s, nil
}

// Handler returns the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// ServeUnix listens on a unix socket at path (mode 0660) and serves until
// Shutdown. A stale socket file is replaced.
func (s *Server) ServeUnix(path string) error {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("socket path %q exists and is not a socket: %w", path, errdefs.ErrFailedPrecondition)
		}
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return fmt.Errorf("set socket mode: %w", err)
	}
	return s.serve(ln, nil)
}

// ServeTLS listens on a TCP address with TLS and serves until Shutdown.
func (s *Server) ServeTLS(addr string, cfg *tls.Config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", addr, err)
	}
	return s.serve(tls.NewListener(ln, cfg), cfg)
}

func (s *Server) serve(ln net.Listener, cfg *tls.Config) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		TLSConfig:         cfg,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	s.servers = append(s.servers, hs)
	s.mu.Unlock()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops every listener and waits for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, hs := range s.servers {
		errs = append(errs, hs.Shutdown(ctx))
	}
	if s.services != nil {
		errs = append(errs, s.services.Flush(ctx)) // the service meter's last counts
	}
	return errors.Join(errs...)
}
