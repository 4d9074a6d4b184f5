// Package console is the enclave's web console: static pages (HTML, CSS and
// plain JavaScript, embedded in the binary, no outside origin) served under
// /console/ with a strict content security policy, and the browser sessions
// behind them.
//
// A person signs in by posting their token in a form body to
// /console/session. The token is checked exactly as the API checks it
// (people.Authenticate); the browser then holds only an HttpOnly, Secure,
// SameSite=Strict session cookie and a CSRF token. The pages call the same
// /v1 API as the CLI: the server asks Vouch to turn a request carrying a
// live session cookie into a bearer request, so every action goes through
// the same routes, the same policy and the same audit. A state change
// (any method but GET and HEAD) is vouched for only with the session's CSRF
// token in the X-CSRF-Token header; without it the request is left
// unauthenticated and the API refuses it.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/people"
)

//go:embed assets
var assets embed.FS

// Names the browser sees.
const (
	// CookieName is the session cookie. The __Host- prefix makes the
	// browser refuse it unless it is Secure, host-only and for path /.
	CookieName = "__Host-enclave-session"
	// CSRFHeader carries the session's CSRF token on every state change.
	CSRFHeader = "X-CSRF-Token"
	// Prefix is where the console is served.
	Prefix = "/console/"
)

// ContentSecurityPolicy is sent with every console response: nothing from
// outside, no inline script or style, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

var errFull = fmt.Errorf("too many console sessions: %w", errdefs.ErrUnavailable)

// Auditor records sign-ins and sign-outs; *audit.Log implements it.
type Auditor interface {
	Append(ctx context.Context, ev audit.Event) (uint64, error)
}

var _ Auditor = (*audit.Log)(nil)

// Options tune a Console. The zero value is usable.
type Options struct {
	// IdleTimeout ends a session unused this long (default 30 minutes).
	IdleTimeout time.Duration
	// MaxAge ends a session this long after sign-in (default 8 hours).
	MaxAge time.Duration
	// MaxSessions bounds the live sessions (default 10000).
	MaxSessions int
	// Audit, when set, records every sign-in, refused sign-in and sign-out.
	Audit Auditor
	// Log receives failures; nil discards.
	Log *slog.Logger
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// Console serves the console's pages and sessions. It is an http.Handler
// for the paths under Prefix and is safe for concurrent use.
type Console struct {
	db       people.Querier
	opts     Options
	sessions *sessions
	files    fs.FS
}

// New returns a console that authenticates sign-ins against db (the state
// database, as the API does).
func New(db people.Querier, opts Options) *Console {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 8 * time.Hour
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 10000
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	sub, _ := fs.Sub(assets, "assets")
	return &Console{db: db, opts: opts, sessions: newSessions(opts.IdleTimeout, opts.MaxAge, opts.MaxSessions), files: sub}
}

// Vouch returns r as a bearer request when it carries no Authorization
// header and a live session cookie, and, unless its method is GET or HEAD,
// the session's CSRF token in the X-CSRF-Token header. Otherwise it returns
// r unchanged, and the API authenticates it as it would any request. The
// returned request is a copy; r is not modified.
func (c *Console) Vouch(r *http.Request) *http.Request {
	if r.Header.Get("Authorization") != "" {
		return r
	}
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return r
	}
	s, ok := c.sessions.get(ck.Value, c.opts.Now())
	if !ok {
		return r
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameSecret(r.Header.Get(CSRFHeader), s.csrf) {
		return r
	}
	r2 := r.Clone(r.Context())
	r2.Header.Set("Authorization", "Bearer "+s.token)
	return r2
}

// SessionInfo is the answer of the session endpoints: who is signed in,
// the CSRF token to send with every state change, and when the session
// ends at the latest.
type SessionInfo struct {
	Person    string    `json:"person"`
	Org       string    `json:"org"`
	CSRFToken string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"`
}

type errorBody struct {
	Error struct {
		Class   string `json:"class"`
		Message string `json:"message"`
	} `json:"error"`
}

// ServeHTTP serves the pages under Prefix and the session endpoint
// Prefix+"session" (POST signs in, GET answers the current session,
// DELETE signs out).
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
			http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
			return
		}
		c.fail(w, http.StatusNotFound, "not-found", "no such page")
		return
	}
	if name == "session" {
		h.Set("Cache-Control", "no-store")
		switch r.Method {
		case http.MethodPost:
			c.signIn(w, r)
		case http.MethodGet:
			c.current(w, r)
		case http.MethodDelete:
			c.signOut(w, r)
		default:
			h.Set("Allow", "GET, POST, DELETE")
			c.fail(w, http.StatusMethodNotAllowed, "invalid-argument", "method not allowed")
		}
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		c.fail(w, http.StatusMethodNotAllowed, "invalid-argument", "method not allowed")
		return
	}
	c.serveFile(w, r, name)
}

func (c *Console) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	if name == "" {
		name = "index.html"
	}
	if name != path.Clean(name) || strings.HasPrefix(name, ".") || strings.Contains(name, "/") {
		c.fail(w, http.StatusNotFound, "not-found", "no such page")
		return
	}
	data, err := fs.ReadFile(c.files, name)
	if err != nil {
		c.fail(w, http.StatusNotFound, "not-found", "no such page")
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}

// sameOrigin refuses requests a browser marks as coming from another site:
// a sign-in or sign-out must come from the console's own pages.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := c.opts.Now()
	if !sameOrigin(r) {
		c.fail(w, http.StatusForbidden, "permission-denied", "sign-in must come from the console's own page")
		return
	}
	// The token travels in the body only: a URL ends up in logs and history.
	if r.URL.RawQuery != "" {
		c.fail(w, http.StatusBadRequest, "invalid-argument", "sign-in takes no query string; send the token in the form body")
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		c.fail(w, http.StatusUnsupportedMediaType, "invalid-argument", "sign-in takes a form body")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		c.fail(w, http.StatusBadRequest, "invalid-argument", "malformed form body")
		return
	}
	subj, err := people.Authenticate(ctx, c.db, strings.TrimSpace(r.PostForm.Get("token")), now)
	if err != nil {
		if errdefs.IsUnauthorized(err) {
			c.record(ctx, audit.Event{Actor: "anonymous", Action: "console.signin", Outcome: audit.OutcomeDenied, Reason: "unauthenticated"})
			c.fail(w, http.StatusUnauthorized, "unauthenticated", "token is unknown, expired or revoked")
			return
		}
		c.opts.Log.Error("console sign-in failed", "err", err)
		c.fail(w, http.StatusInternalServerError, "internal", "sign-in failed")
		return
	}
	s := &session{person: subj.Person.ID, org: subj.Org.Name, tokenID: subj.TokenID, token: r.PostForm.Get("token")}
	s.token = strings.TrimSpace(s.token)
	id, err := c.sessions.open(s, now)
	if err != nil {
		c.opts.Log.Error("console session", "err", err)
		c.fail(w, http.StatusServiceUnavailable, "unavailable", "no session could be opened")
		return
	}
	if err := c.record(ctx, audit.Event{Actor: s.person, Org: s.org, Action: "console.signin", Outcome: audit.OutcomeOK,
		Objects: []string{"token:" + s.tokenID}}); err != nil {
		// Nothing takes effect unrecorded.
		c.sessions.close(id)
		c.fail(w, http.StatusInternalServerError, "internal", "sign-in could not be recorded")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: id, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(c.opts.MaxAge / time.Second)})
	c.json(w, http.StatusOK, c.info(s))
}

func (c *Console) info(s *session) SessionInfo {
	return SessionInfo{Person: s.person, Org: s.org, CSRFToken: s.csrf, ExpiresAt: s.created.Add(c.opts.MaxAge).UTC()}
}

func (c *Console) current(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		c.fail(w, http.StatusUnauthorized, "unauthenticated", "not signed in")
		return
	}
	now := c.opts.Now()
	s, ok := c.sessions.get(ck.Value, now)
	if !ok {
		c.fail(w, http.StatusUnauthorized, "unauthenticated", "not signed in")
		return
	}
	c.json(w, http.StatusOK, c.info(&s))
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		c.fail(w, http.StatusUnauthorized, "unauthenticated", "not signed in")
		return
	}
	s, ok := c.sessions.get(ck.Value, c.opts.Now())
	if !ok || !sameOrigin(r) || !sameSecret(r.Header.Get(CSRFHeader), s.csrf) {
		c.fail(w, http.StatusUnauthorized, "unauthenticated", "not signed in, or no CSRF token")
		return
	}
	c.sessions.close(ck.Value)
	if err := c.record(r.Context(), audit.Event{Actor: s.person, Org: s.org, Action: "console.signout", Outcome: audit.OutcomeOK,
		Objects: []string{"token:" + s.tokenID}}); err != nil {
		c.opts.Log.Error("console sign-out could not be recorded", "err", err)
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

func (c *Console) record(ctx context.Context, ev audit.Event) error {
	if c.opts.Audit == nil {
		return nil
	}
	ev.Time = c.opts.Now().UTC()
	ev.Retention = audit.Retention3y
	_, err := c.opts.Audit.Append(context.WithoutCancel(ctx), ev)
	if err != nil {
		err = fmt.Errorf("audit append: %w", err)
		c.opts.Log.Error("console audit", "err", err)
	}
	return err
}

func (c *Console) json(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (c *Console) fail(w http.ResponseWriter, code int, class, msg string) {
	var b errorBody
	b.Error.Class, b.Error.Message = class, msg
	c.json(w, code, b)
}

// Sessions returns the number of sessions held, for tests and metrics.
func (c *Console) Sessions() int { return c.sessions.len() }

var _ http.Handler = (*Console)(nil)
